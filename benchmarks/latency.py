"""Inference latency of the two stages, per config, size and backend, measured side by side in one run.

    python benchmarks/latency.py [--sizes 256 128] [--repeats 30] [--threads N] [--json OUT]

Random-weight models (speed does not depend on the weights). Stages, as the engine runs them:
  source  = crop + heatmaps + prior + source network (once per photo)
  target  = limb transforms + warp + target heatmaps + target network + composite (per drag event)
  render  = source + target + paste-back into a 1280×720 photo (what `poseeditor render` does, minus file I/O)
Rounds are interleaved (every variant once per round) so machine noise hits all variants alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseeditor.engine import load_engine  # noqa: E402
from poseeditor.skeleton import Pose  # noqa: E402


def make_model(config_name: str, size: int, folder: Path) -> Path:
    import torch

    from models.artifact import save_generator
    from models.config import get_config
    from models.generator import PoseWarpGenerator
    from models.onnx_export import export_onnx

    torch.manual_seed(0)
    config = get_config(config_name, size)
    model = PoseWarpGenerator(config).eval()
    save_generator(model, folder, {"note": "random weights for benchmarking"})
    export_onnx(model, folder)
    return folder


def test_photo_and_poses() -> tuple[np.ndarray, Pose, Pose]:
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    xy = np.array(
        [[640, 150], [640, 230], [590, 240], [570, 330], [560, 420], [690, 240], [710, 330], [720, 420],
         [610, 420], [605, 540], [600, 650], [670, 420], [675, 540], [680, 650]], dtype=float)
    source = Pose(xy, np.ones(14, bool), 1280, 720)
    moved = xy.copy()
    moved[3:5] = [[560, 200], [550, 130]]  # right arm up
    return photo, source, Pose(moved, np.ones(14, bool), 1280, 720)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["compact", "paper"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 128])
    parser.add_argument("--backends", nargs="+", default=["onnx", "torch"])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    photo, source, target = test_photo_and_poses()
    tmp = Path(tempfile.mkdtemp(prefix="poseeditor-latency-"))
    variants = []
    for config in args.configs:
        for size in args.sizes:
            folder = make_model(config, size, tmp / f"{config}-{size}")
            for backend in args.backends:
                engine = load_engine(str(folder), backend=backend, threads=args.threads)
                state = engine.prepare_source(photo, source)
                for _ in range(3):  # warm-up
                    engine.render(state, target)
                variants.append(((config, size, engine.info["backend"]), engine, state))

    times: dict[tuple, dict[str, list[float]]] = {v[0]: {"source": [], "target": [], "render": []} for v in variants}
    for _ in range(args.repeats):
        for key, engine, state in variants:
            t0 = time.perf_counter()
            s = engine.prepare_source(photo, source)
            t1 = time.perf_counter()
            r = engine.render(state, target)
            t2 = time.perf_counter()
            engine.paste_back(photo, s, r)
            t3 = time.perf_counter()
            times[key]["source"].append((t1 - t0) * 1000)
            times[key]["target"].append((t2 - t1) * 1000)
            times[key]["render"].append((t3 - t0) * 1000)

    rows = []
    print(f"{'config':8} {'size':>4} {'backend':18} {'source ms':>10} {'target ms':>10} {'render ms':>10}")
    for (config, size, backend), stages in times.items():
        med = {k: statistics.median(v) for k, v in stages.items()}
        print(f"{config:8} {size:4d} {backend:18} {med['source']:10.1f} {med['target']:10.1f} {med['render']:10.1f}")
        for stage, value in med.items():
            rows.append({"config": config, "size": size, "backend": backend, "stage": stage, "median_ms": round(value, 3)})
    print()
    for size in args.sizes:
        for backend in sorted({k[2] for k in times}):
            c, p = times.get(("compact", size, backend)), times.get(("paper", size, backend))
            if c and p:
                ratio = statistics.median(p["target"]) / statistics.median(c["target"])
                print(f"target stage paper/compact at {size}² on {backend}: {ratio:.1f}×")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
