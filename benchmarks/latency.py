"""Inference latency of the two stages, per config, size and backend, measured side by side in one run.

    python benchmarks/latency.py [--sizes 256 128] [--repeats 30] [--threads N] [--json OUT]
    python benchmarks/latency.py --model A [--compare-model B] [--compare-checkout DIR]
                                 [--ort-options L] [--compare-ort-options L] [--rounds 10] [--chunk 5] [--json OUT]
                                 [--target-only] [--drag-preview]

The second form compares two variants of one real model folder in one interleaved run: variant A is this
checkout's code with `--model` (and $POSEEDITOR_ORT_OPTIONS=`--ort-options`); variant B is `--compare-checkout`'s
code (first on sys.path; default this checkout) with `--compare-model` (default A's model) and
`--compare-ort-options` (unset = the default levers, "none" = the plain session). Each variant lives in its own
worker process; every round opens a fresh engine in each (open → first render: model load + source stage + one
target render) and then times `--chunk` renders, A, B, A, B, … (`--target-only`: the target stage alone). Prints medians, p95, fps (1000 / target-stage median) and B/A per stage, the SIMD level and the load.

The first form uses random-weight models (speed does not depend on the weights). Stages, as the engine runs them:
  source  = crop + heatmaps + prior + source network (once per photo)
  target  = limb transforms + warp + target heatmaps + target network + composite (per drag event)
  render  = source + target + paste-back into a 1280×720 photo (what `poseeditor render` does, minus file I/O)
Rounds are interleaved (every variant once per round) so machine noise hits all variants alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cpu import code_first_on_path, machine_line, simd_level, summary  # noqa: E402

if __name__ == "__main__" and "--worker" in sys.argv and "--code" in sys.argv:  # before any project import
    code_first_on_path(sys.argv[sys.argv.index("--code") + 1])

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


STAGES = ("target_network", "warp", "target", "source", "render")


def worker(model: str, threads: int | None) -> int:
    """Serve the driver over stdin/stdout: "open PATH" opens a fresh engine, renders once, saves the crop output
    to PATH (.npy) and answers {"open_ms": …}; "run N [target]" answers N timed renders (with "target": the
    target stage only, no source stage or paste-back, so source and render are then ~0); end of input ends it."""
    photo, source, target = test_photo_and_poses()
    engine = state = None
    out = sys.stdout
    sys.stdout = sys.stderr  # only the protocol on the real stdout
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "open":
            t0 = time.perf_counter()
            engine = load_engine(model, threads=threads)
            state = engine.prepare_source(photo, source)
            result = engine.render(state, target)
            open_ms = (time.perf_counter() - t0) * 1000
            np.save(arg, result.output)
            for _ in range(2):  # warm-up
                engine.render(state, target)
            reply = {"open_ms": open_ms, "backend": engine.info["backend"], "code": str(Path(
                sys.modules["poseeditor"].__file__).parents[1])}
        elif command == "run":
            rows = []
            count, *flags = arg.split()
            only = "target" if "target" in flags else ""
            # "preview": the drag-time render (Engine.render(..., preview=True), this checkout's code only)
            extra = {"preview": True} if "preview" in flags else {}
            for _ in range(int(count)):
                t0 = time.perf_counter()
                s = state if only == "target" else engine.prepare_source(photo, source)
                t1 = time.perf_counter()
                r = engine.render(state, target, **extra)
                t2 = time.perf_counter()
                if only != "target":
                    engine.paste_back(photo, s, r)
                t3 = time.perf_counter()
                rows.append({"source": (t1 - t0) * 1000, "target": (t2 - t1) * 1000, "render": (t3 - t0) * 1000,
                             "target_network": r.timings.get("target_network_ms", float("nan")),
                             "warp": r.timings.get("warp_ms", float("nan"))})
            reply = {"rows": rows}
        else:
            break
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


def compare(args: argparse.Namespace) -> int:
    here = Path(__file__).resolve()
    a_code, b_code = str(here.parents[1]), str(Path(args.compare_checkout or here.parents[1]).resolve())
    variants = {
        "A": {"code": a_code, "model": str(Path(args.model).resolve()), "ort": args.ort_options or ""},
        "B": {"code": b_code, "model": str(Path(args.compare_model or args.model).resolve()),
              "ort": args.compare_ort_options or ""},
    }
    print(machine_line())
    for name, v in variants.items():
        levers = v["ort"] or "(unset: the default levers)"
        print(f"  {name}: code {v['code']} · model {v['model']} · POSEEDITOR_ORT_OPTIONS={levers}")
    procs = {}
    for name, v in variants.items():
        env = dict(os.environ, POSEEDITOR_ORT_OPTIONS=v["ort"])
        command = [sys.executable, str(here), "--worker", "--code", v["code"], "--model", v["model"]]
        if args.threads:
            command += ["--threads", str(args.threads)]
        procs[name] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                       cwd=v["code"])

    def ask(name: str, line: str) -> dict:
        proc = procs[name]
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        reply = proc.stdout.readline()
        if not reply:
            raise SystemExit(f"worker {name} died (see its messages above)")
        return json.loads(reply)

    times = {name: {stage: [] for stage in (*STAGES, "open")} for name in variants}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {}
        for k in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for name in variants:
                path = str(Path(tmp) / f"{name}-{k}.npy")
                reply = ask(name, f"open {path}")
                times[name]["open"].append(reply["open_ms"])
                variants[name]["backend"] = reply["backend"]
                variants[name]["imported_from"] = reply["code"]
                outputs.setdefault(name, np.load(path))
                flags = (" target" if args.target_only else "") + (" preview" if name == "A" and args.drag_preview
                                                                    else "")
                for row in ask(name, f"run {args.chunk}{flags}")["rows"]:
                    for stage in STAGES:
                        times[name][stage].append(row[stage])
        for proc in procs.values():
            proc.stdin.close()  # the worker's loop ends
            proc.wait(timeout=60)
    l1 = float(np.abs(outputs["A"].astype(np.float32) - outputs["B"].astype(np.float32)).mean())
    if outputs["A"].dtype == np.uint8:
        l1 /= 255.0
    stats = {name: {stage: summary(values) for stage, values in stages.items()} for name, stages in times.items()}
    print(f"\n{args.rounds} rounds × {args.chunk} renders per variant, interleaved A, B, A, B, …; "
          f"load average during the run {min(loads):.2f}–{max(loads):.2f}")
    print(f"{'stage (ms)':16} {'A median':>9} {'A p95':>8} {'B median':>9} {'B p95':>8} {'B/A':>6}")
    for stage in (*STAGES, "open"):
        if args.target_only and stage in ("source", "render"):
            continue
        a, b = stats["A"][stage], stats["B"][stage]
        label = "open→1st render" if stage == "open" else stage
        print(f"{label:16} {a['median']:9.1f} {a['p95']:8.1f} {b['median']:9.1f} {b['p95']:8.1f} "
              f"{b['median'] / a['median']:6.2f}")
    paired = [b / a for a, b in zip(times["A"]["target_network"], times["B"]["target_network"])]
    print(f"{'network B/A':16} median of the {len(paired)} paired renders (same round, same position): "
          f"{statistics.median(paired):.2f}")
    fps = {name: round(1000.0 / stats[name]["target"]["median"], 1) for name in variants}
    print(f"{'fps (target)':16} {fps['A']:9.1f} {'':8} {fps['B']:9.1f} {'':8} {fps['B'] / fps['A']:6.2f}")
    for name, v in variants.items():
        print(f"{name}: poseeditor imported from {v['imported_from']} · {v['backend']}")
    print(f"crop output, mean |A - B| (0–1 scale, first open): {l1:.5f}")
    print(machine_line())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        report = {"simd": simd_level(), "load_average_during_run": loads, "rounds": args.rounds, "chunk": args.chunk,
                  "variants": variants, "stats": stats, "fps": fps, "output_l1_a_vs_b": l1, "raw_ms": times}
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model folder: compare two variants of it (see above)")
    parser.add_argument("--compare-model", help="variant B's model folder (default: --model)")
    parser.add_argument("--compare-checkout", help="variant B's code: an older checkout's root (default: this one)")
    parser.add_argument("--ort-options", default="", help="variant A's POSEEDITOR_ORT_OPTIONS (default: unset, the "
                        "default levers; 'none' for the plain session)")
    parser.add_argument("--compare-ort-options", default="", help="variant B's POSEEDITOR_ORT_OPTIONS")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=5, help="renders per variant per round")
    parser.add_argument("--target-only", action="store_true",
                        help="time only the target stage per render (the drag path; source and render not timed)")
    parser.add_argument("--drag-preview", action="store_true",
                        help="variant A's timed renders are drag-time renders (the editor's while a drag goes on: "
                             "target stage at Engine.preview_size, docs/drag_speed.md); B's as its code renders")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--configs", nargs="+", default=["compact", "paper"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 128])
    parser.add_argument("--backends", nargs="+", default=["onnx", "torch"])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.worker:
        return worker(args.model, args.threads)
    if args.model:
        return compare(args)

    print(machine_line())
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
            rows.append({"config": config, "size": size, "backend": backend, "stage": stage,
                         "median_ms": round(value, 3)})
    print()
    for size in args.sizes:
        for backend in sorted({k[2] for k in times}):
            c, p = times.get(("compact", size, backend)), times.get(("paper", size, backend))
            if c and p:
                ratio = statistics.median(p["target"]) / statistics.median(c["target"])
                print(f"target stage paper/compact at {size}² on {backend}: {ratio:.1f}×")
    print(machine_line())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"simd": simd_level(), "load_average": os.getloadavg()[0],
                                               "repeats": args.repeats, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
