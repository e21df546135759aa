"""`posetrain synth`: render synthetic humans (anny) into a dataset folder (docs/synthetic.md)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from poseeditor.errors import PoseEditorError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "synth",
        help="render synthetic people (anny body model) into a dataset folder",
        description="Render N synthetic videos of M frames each (one person, camera, background and motion per "
        "video) in the dataset format of docs/dataset_format.md. Same seed -> identical files. Videos already "
        "written are skipped, so an interrupted run resumes.",
    )
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    p.add_argument("--videos", type=int, required=True, help="number of videos")
    p.add_argument("--frames", type=int, required=True, help="frames per video")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="frame side in pixels (default 256)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (each loads anny once, ~1 GB)")
    p.add_argument("--motion-mix", default="v1", choices=("v1", "arms"),
                   help="motion types drawn: v1 (the mix synth_v1 was made with) or arms (a third of the videos "
                   "arms in front of the body and out of it; docs/synthetic.md)")
    p.add_argument("--contact-sheet", type=Path, default=None,
                   help="also write a contact sheet (2 frames of up to 16 videos) to this image file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.videos < 1 or args.frames < 1:
        raise PoseEditorError("--videos and --frames must be at least 1")
    if not 32 <= args.size <= 2048:
        raise PoseEditorError(f"--size must be between 32 and 2048 pixels, got {args.size}")
    if args.workers < 1:
        raise PoseEditorError("--workers must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        raise PoseEditorError(f"{args.out}: exists and is not a folder")
    from tqdm import tqdm

    from trainer.synth.writer import synthesize

    start = time.perf_counter()
    with tqdm(total=args.videos, unit="video", desc="synth") as bar:
        rendered = synthesize(args.out, args.videos, args.frames, args.seed, args.size, args.workers,
                              progress=bar.update, motion_mix=args.motion_mix)
    elapsed = time.perf_counter() - start
    frames = rendered * args.frames
    print(f"wrote {rendered} videos ({frames} frames) to {args.out} in {elapsed:.1f} s "
          f"({frames / max(elapsed, 1e-9):.1f} frames/s, {args.workers} worker(s))")
    if args.contact_sheet:
        from trainer.synth.contact_sheet import contact_sheet_from_dataset

        contact_sheet_from_dataset(args.out, args.contact_sheet, n_videos=16, seed=args.seed)
        print(f"contact sheet: {args.contact_sheet}")
    return 0
