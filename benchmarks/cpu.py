"""What every benchmark table prints beside it: the CPU's SIMD level and the machine's load; and the small
statistics the interleaved comparisons share (median, p95, ratio of two variants).

Imported by the benchmark scripts as `from benchmarks.cpu import ...` before any project code, so a comparison
worker that puts an older checkout first on sys.path still finds it (the older checkout has no benchmarks/cpu.py).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from pathlib import Path


def simd_level(cpuinfo: str | None = None) -> str:
    """"AVX-512 + VNNI", "AVX2", "AVX2 + VNNI" (AVX-VNNI), "SSE" or "unknown", from /proc/cpuinfo's flags."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "unknown"
    flags = set(cpuinfo.split())
    if not flags:
        return "unknown"
    level = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    extras = []
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        extras.append("VNNI")
    if "avx512_bf16" in flags:
        extras.append("BF16")
    return " + ".join([level, *extras])


def machine_line() -> str:
    """One line for beside a table: SIMD level, cores, 1/5/15-minute load averages."""
    try:
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return f"CPU SIMD: {simd_level()} · {os.cpu_count()} cores · load average {load} (1/5/15 min)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    """median, p95 and the interquartile spread (p75 - p25) of a list of times; NaN when empty."""
    if not values:
        return {"median": float("nan"), "p95": float("nan"), "iqr": float("nan"), "n": 0}
    return {
        "median": round(statistics.median(values), 2),
        "p95": round(percentile(values, 0.95), 2),
        "iqr": round(percentile(values, 0.75) - percentile(values, 0.25), 2),
        "n": len(values),
    }


def code_first_on_path(code: str | None) -> None:
    """For a comparison worker: put `code` (a checkout's root) first on sys.path, so `poseeditor` and `models`
    are imported from it. Call before importing any project module."""
    if code:
        root = str(Path(code).resolve())
        sys.path[:] = [root] + [p for p in sys.path if Path(p or ".").resolve() != Path(root)]
