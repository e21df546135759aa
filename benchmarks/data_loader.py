"""Training-pair loader throughput: samples/s of PosePairDataset + DataLoader alone, per crop size and workers.

    python benchmarks/data_loader.py [--data DIR] [--sizes 128 256] [--workers 0 1 2] [--batch 8] [--seconds 20]

DIR is a dataset folder (our format or the paper's .mat layout); default: the tennis fixture. Each cell runs the
loader for about --seconds after a warm-up batch (workers starting and caches filling are not counted). "cpu" is
the CPU time per sample of this process and its workers (with workers it includes the prefetched batches and the
inter-process copies): on a machine shared with other jobs it estimates what a sample costs on an idle core; the
load average is printed for that reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import torch

from trainer.data.dataset_format import read_dataset
from trainer.data.pairs import InfinitePairSampler, PosePairDataset, make_loader

TENNIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "posewarp-tennis"


def _proc_stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user+system CPU seconds) of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return out


def tree_cpu_seconds() -> dict[int, float]:
    """CPU seconds of this process and all its live descendants (DataLoader workers are grandchildren via the
    forkserver, so getrusage(RUSAGE_CHILDREN) would not see them)."""
    stats = _proc_stats()
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def measure(videos, size: int, workers: int, batch: int, seconds: float) -> tuple[float, float]:
    dataset = PosePairDataset(videos, size=size, augment=True, seed=0, pairs_per_video=1000)
    loader = make_loader(dataset, batch_size=batch, workers=workers, sampler=InfinitePairSampler(len(dataset), seed=0))
    it = iter(loader)
    next(it)  # warm-up: workers start, imports, first decodes
    samples, start, cpu0 = 0, time.perf_counter(), tree_cpu_seconds()
    while time.perf_counter() - start < seconds:
        next(it)
        samples += batch
    wall = time.perf_counter() - start
    cpu1 = tree_cpu_seconds()  # before the workers exit
    cpu = sum(t - cpu0.get(pid, 0.0) for pid, t in cpu1.items())
    del it, loader
    return samples / wall, cpu / samples * 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=TENNIS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    videos = read_dataset(args.data)
    frames = sum(len(v) for v in videos)
    print(
        f"data: {args.data} ({len(videos)} videos, {frames} frames, {videos[0].width}×{videos[0].height}); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'size':>5} {'workers':>7} {'samples/s':>10} {'cpu ms/sample':>14}")
    for size in args.sizes:
        for workers in args.workers:
            rate, cpu_ms = measure(videos, size, workers, args.batch, args.seconds)
            print(f"{size:>5} {workers:>7} {rate:>10.1f} {cpu_ms:>14.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
