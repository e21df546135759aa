"""Pose detector speed: median ms per photo (person detector + landmarks + mask) at 720p and 4K.

    python benchmarks/detect.py [--repeat 15] [--threads N] [--json OUT]

The photo is the shipped sample (a walking person, 16:9) scaled to each size. Rows: the default detector
(two landmark passes), one landmark pass, and one onnxruntime thread; columns: median total and per stage
(stages are the ONNX runs; "other" is pre/post-processing in numpy/cv2: crops, decoding, mask paste-back).
"cpu" is the process CPU time per photo: on a machine shared with other jobs it is the better estimate of what
the 1-thread configuration costs on an idle core (wall times then include waiting for a core). The load average
is printed with the table for that reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseeditor.detector import PoseDetector
from poseeditor.image_io import atomic_write_text, load_image
from poseeditor.resources import sample_photo

SIZES = {"720p": (1280, 720), "4K": (3840, 2160)}
STAGES = ("detector", "landmarks", "mask", "other", "total", "cpu")


def measure(detector: PoseDetector, photo: np.ndarray, repeat: int) -> dict[str, float]:
    detector.detect(photo)  # warm-up: session creation and first-run allocations
    runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(repeat):
        cpu_started = time.process_time()
        detector.detect(photo)
        t = dict(detector.timings)
        t["cpu"] = (time.process_time() - cpu_started) * 1000.0
        t["other"] = t["total"] - t.get("detector", 0.0) - t.get("landmarks", 0.0) - t.get("mask", 0.0)
        for stage in STAGES:
            runs[stage].append(t.get(stage, 0.0))
    return {stage: statistics.median(values) for stage, values in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads for the default rows")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)

    base = load_image(sample_photo())
    configs = {
        "default (2 landmark passes)": PoseDetector(threads=args.threads),
        "1 landmark pass": PoseDetector(threads=args.threads, second_pass=False),
        "default, 1 thread": PoseDetector(threads=1),
        "1 landmark pass, 1 thread": PoseDetector(threads=1, second_pass=False),
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    load = os.getloadavg()[0]
    print(f"load average (1 min) before: {load:.2f} on {os.cpu_count()} CPUs; ms, median of {args.repeat}")
    print(f"| photo | configuration | {' | '.join(STAGES)} |")
    print("|---|---|" + "---:|" * len(STAGES))
    for size_name, (w, h) in SIZES.items():
        photo = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR if w > base.shape[1] else cv2.INTER_AREA)
        for config_name, detector in configs.items():
            medians = measure(detector, photo, args.repeat)
            results.setdefault(size_name, {})[config_name] = medians
            cells = " | ".join(f"{medians[s]:.1f}" for s in STAGES)
            print(f"| {size_name} {w}×{h} | {config_name} | {cells} |", flush=True)
    if args.json:
        report = {"unit": "ms (median)", "repeat": args.repeat, "load_average": load, "results": results}
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
