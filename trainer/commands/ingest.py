"""`posetrain ingest VIDEO_OR_FOLDER... --out DIR`: real videos -> training data in the dataset format."""

from __future__ import annotations

import argparse
import sys

from trainer.data.ingest import IngestOptions, ingest


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="decode videos, find the person, write the dataset format",
        description=(
            "Decode each video (or folder of videos / of image frames), find the person in every K-th frame with "
            "the project's detector (or take poses from a VIDEO.poses.json sidecar), drop frames where the person "
            "is unsure, downscale, and write frames/, info/ and masks/ of the dataset format to --out."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="dataset folder (created; videos of the same name are replaced)"
    )
    p.add_argument("--stride", type=int, default=1, metavar="K", help="use every K-th frame (default 1)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="keep at most N frames per video")
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        metavar="C",
        help="drop a frame unless the detector score and head/neck/shoulder/hip confidences reach C (0.5)",
    )
    p.add_argument(
        "--min-joint-confidence",
        type=float,
        default=0.3,
        metavar="C",
        help="joints below this confidence are written as not visible (0.3)",
    )
    p.add_argument("--long-side", type=int, default=720, metavar="L", help="downscale frames to this long side (720)")
    p.add_argument(
        "--min-segment",
        type=int,
        default=8,
        metavar="N",
        help="a video is cut where the detected person changes; pieces with fewer kept frames are dropped (8)",
    )
    p.add_argument(
        "--group", default="", help="person/scene group of these videos (held-out splits keep a group together)"
    )
    p.add_argument("--name-prefix", default="", help="prefix for the video names (default: the file names)")
    p.add_argument(
        "--poses",
        choices=("auto", "sidecar", "detector"),
        default="auto",
        help="auto: a VIDEO.poses.json sidecar when present, else the detector",
    )
    p.add_argument("--skip-bad", action="store_true", help="report undecodable/empty videos and go on")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = IngestOptions(
        stride=args.stride,
        max_frames=args.max_frames,
        min_confidence=args.min_confidence,
        min_joint_confidence=args.min_joint_confidence,
        long_side=args.long_side,
        min_segment=args.min_segment,
        group=args.group,
        name_prefix=args.name_prefix,
        poses=args.poses,
        skip_bad=args.skip_bad,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    results = ingest(args.inputs, args.out, options)
    for result in results:
        print(result.line())
    print(
        f"{sum(r.kept for r in results)} frames of {sum(1 for r in results if r.kept)} video(s) written to {args.out}"
    )
    return 1 if any(r.error for r in results) else 0
