"""`poseeditor detect PHOTO -o POSE.json`: find the person and write their 14-joint pose (and optionally the
person mask and an overlay picture).

No person -> one line on stderr, exit 3, nothing written. Bad image or region -> exit 2.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from poseeditor.errors import PoseEditorError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("detect", help="find the person in PHOTO and write their 14-joint pose")
    p.add_argument("photo", help="the photo (JPEG, PNG, ...)")
    p.add_argument("-o", "--output", required=True, help="pose file to write (our JSON)")
    p.add_argument(
        "--region", default=None,
        help="where the person is: a box x,y,w,h or a point x,y (photo pixels; write --region=-5,10,... when the "
        "first number is negative); default: the largest person",
    )
    p.add_argument("--mask", default=None, help="also write the person mask (8-bit PNG, 255 = person)")
    p.add_argument("--overlay", default=None, help="also write the photo with the skeleton and mask drawn on it")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for inference (default: onnxruntime's)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def parse_region(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise PoseEditorError(f"--region must be x,y,w,h or x,y (numbers); got '{text}'") from None
    if len(values) not in (2, 4):
        raise PoseEditorError(f"--region must be x,y,w,h or x,y; got {len(values)} numbers in '{text}'")
    return values


def run(args: argparse.Namespace) -> int:
    from poseeditor.detector import PoseDetector
    from poseeditor.image_io import check_writable, load_image, save_image
    from poseeditor.pose_io import save_pose

    region = parse_region(args.region)
    if args.threads is not None and args.threads < 1:
        raise PoseEditorError(f"--threads must be at least 1; got {args.threads}")
    outputs = [(Path(args.output), "pose file", False)]
    if args.mask:
        outputs.append((Path(args.mask), "mask", True))
    if args.overlay:
        outputs.append((Path(args.overlay), "overlay", True))
    for path, what, image in outputs:
        check_writable(path, what, image)
    photo = load_image(args.photo)
    started = time.perf_counter()
    found = PoseDetector(threads=args.threads).detect(photo, region=region, with_mask=bool(args.mask or args.overlay))
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    # Everything is computed before the first file is written, so a failure leaves no partial output.
    save_pose(args.output, found.pose)
    if args.mask:
        save_image(args.mask, np.clip(found.mask * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if args.overlay:
        from poseeditor.detector.overlay import draw_detection

        save_image(args.overlay, draw_detection(photo, found))
    if not args.quiet:
        x0, y0, x1, y1 = found.box
        print(
            f"{args.photo}: person score {found.score:.2f}, {int(found.pose.visible.sum())}/14 joints visible, "
            f"box ({x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f}), {elapsed_ms:.0f} ms (incl. model load) -> {args.output}"
        )
    return 0
