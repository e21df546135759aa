"""Size and speed of generator configs: parameters, multiply-accumulates and onnxruntime median latency per stage.

    python -m benchmarks.generator_cost --config compact paper --size 256 128 --threads 1 2 [--repeats 30] [--json OUT]

This is the tool behind the numbers in docs/models.md (random weights: speed does not depend on them). The
application-level benchmark with the warp and both backends is benchmarks/latency.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.config import GeneratorConfig, get_config
from models.generator import PoseWarpGenerator, SourceStage, target_stage
from models.onnx_export import export_onnx, stage_example_inputs
from poseeditor.onnx_session import onnx_session


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def stage_parameters(generator: PoseWarpGenerator, stage: str) -> int:
    """Parameters a stage runs: source = segmentation + background modules, target = foreground module."""
    if stage == "source":
        parts = [generator.segmentation_net, generator.segmentation_head, generator.background_net,
                 generator.background_head]  # fmt: skip
    else:
        parts = [generator.foreground_net, generator.foreground_head]
    return sum(count_parameters(p) for p in parts)


def count_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """Multiply-accumulates of the convolutions for one forward pass (the rest is a rounding error)."""
    total = 0

    def hook(conv: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(conv, nn.Conv2d)
        kh, kw = conv.kernel_size
        per_output = kh * kw * conv.in_channels // conv.groups
        total += int(out.numel() // out.shape[0]) * per_output

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            module(*[t[:1] for t in inputs])
    finally:
        for h in handles:
            h.remove()
    return total


def ort_session(path: str | Path, threads: int, spinning: bool = True):  # -> onnxruntime.InferenceSession
    """A CPU session as the editor opens it, except that `spinning=True` (onnxruntime's default, which the editor
    turns off) lets idle worker threads busy-wait: measuring it is what the flag is for."""
    return onnx_session(path, threads, spinning=spinning)


def median_ms(run, repeats: int, warmup: int = 3) -> tuple[float, float]:
    """(median wall ms, median process-CPU ms) of `run()`.

    On a shared machine the wall time of a run includes waiting for a core; its CPU time does not. With one
    thread the CPU time is what the wall time would be on an idle machine (this machine's 2 cores are shared by
    several people, so docs/models.md reports both).
    """
    for _ in range(warmup):
        run()
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        run()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(wall), statistics.median(cpu)


def measure_config(config: GeneratorConfig, threads: list[int], repeats: int, spinning: bool = True) -> list[dict]:
    torch.manual_seed(0)
    generator = PoseWarpGenerator(config).eval()
    rows = []
    stages = {"source": SourceStage(generator), "target": target_stage(generator)}
    with tempfile.TemporaryDirectory() as folder:
        paths = export_onnx(generator, folder)
        for stage, module in stages.items():
            inputs = stage_example_inputs(generator, stage)
            params = stage_parameters(generator, stage)
            macs = count_macs(module, inputs)
            for n in threads:
                session = ort_session(paths[stage], n, spinning)
                feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
                ms, cpu_ms = median_ms(lambda s=session, f=feed: s.run(None, f), repeats)
                rows.append(
                    {
                        "config": config.name,
                        "size": config.image_size,
                        "stage": stage,
                        "threads": n,
                        "spinning": spinning,
                        "params": params,
                        "gmacs": round(macs / 1e9, 3),
                        "median_ms": round(ms, 2),
                        "median_cpu_ms": round(cpu_ms, 2),
                        "load_average": round(os.getloadavg()[0], 2),
                    }
                )
                print(
                    f"{config.name:>10} {config.image_size:4d} {stage:>6}  threads={n}  params={params / 1e6:6.2f}M  "
                    f"GMACs={macs / 1e9:6.2f}  median={ms:7.1f} ms  cpu={cpu_ms:7.1f} ms  "
                    f"load={os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generator_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", default=["compact", "paper"])
    parser.add_argument("--size", nargs="+", type=int, default=[256, 128])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-spinning", action="store_true", help="idle onnxruntime threads sleep, not spin")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    np.set_printoptions(precision=3)
    rows = []
    for name in args.config:
        for size in args.size:
            rows += measure_config(get_config(name, size), args.threads, args.repeats, not args.no_spinning)
    if args.json:
        from poseeditor.image_io import atomic_write_text

        atomic_write_text(args.json, json.dumps({"rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
