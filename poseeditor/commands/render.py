"""`poseeditor render`: re-pose the person in a photo headlessly.

Bad input of any kind prints one line and exits 2 without leaving a partial output file: every input is read and
checked, and the model run, before anything is written; every file is written atomically.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from poseeditor.errors import ExportError, PoseEditorError
from poseeditor.image_io import check_writable, load_image, save_image, to_uint8

if TYPE_CHECKING:
    import numpy as np

    from poseeditor.skeleton import Pose


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("render", help="re-pose the person in PHOTO from a source pose to a target pose")
    p.add_argument("photo", help="the photo (JPEG, PNG, ...)")
    p.add_argument("--source-pose", required=True, help="pose of the person in the photo (our JSON, OpenPose, COCO, .mat)")
    p.add_argument("--target-pose", required=True, help="the pose to render (same formats; photo pixel coordinates)")
    p.add_argument("-o", "--output", required=True, help="output image (.png or .jpg)")
    p.add_argument("--model", default=None, help="model folder (default: the installed model)")
    p.add_argument("--backend", default="auto", help="auto, onnx (= onnxruntime), onnx-cuda, torch, torch-cpu, torch-cuda")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for inference (default: all, up to 4)")
    p.add_argument(
        "--background",
        choices=("network", "inpaint"),
        default=None,
        help="fill behind the person with the model's background module or with classical inpainting "
        "(default: what the model's card recommends)",
    )
    p.add_argument("--intermediates", metavar="DIR", default=None, help="also write every intermediate here")
    p.add_argument("--crop-only", action="store_true", help="write the 256² working crop instead of the full photo")
    p.add_argument("--paste", choices=("photo", "release"), default="photo",
                   help="photo (default): the person rebuilt from the photo's own pixels at its resolution; release: "
                   "the first release's 256² crop upscaled into the photo (for comparison)")
    p.add_argument("--no-person-mask", dest="person_mask", action="store_false",
                   help="split person and background by the network alone (no detector run)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from poseeditor.engine import load_engine, photo_result
    from poseeditor.engine.intermediates import write_intermediates
    from poseeditor.pose_io import load_pose

    output = Path(args.output)
    check_writable(output, "output image", image=True)
    if args.intermediates:
        inter = Path(args.intermediates)
        if inter.exists() and not inter.is_dir():
            raise ExportError(f"{inter}: --intermediates must be a folder")
        check_writable(inter, "intermediates folder")

    t0 = time.perf_counter()
    photo = load_image(args.photo)
    size = (photo.shape[1], photo.shape[0])
    source = load_pose(args.source_pose, image_size=size)
    target = load_pose(args.target_pose, image_size=size)
    for name, pose in (("source", source), ("target", target)):
        if (pose.width, pose.height) != size:
            raise PoseEditorError(
                f"the {name} pose is for a {pose.width}×{pose.height} image but {args.photo} is {size[0]}×{size[1]}"
            )
    load_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    engine = load_engine(args.model, backend=args.backend, threads=args.threads, background=args.background)
    model_ms = (time.perf_counter() - t0) * 1000
    state = engine.prepare_source(photo, source)
    result = engine.render(state, target)
    t0 = time.perf_counter()
    if args.crop_only:
        final = to_uint8(result.output)
    elif args.paste == "release":
        final = engine.paste_back(photo, state, result)
    else:
        final = photo_result(photo, source, result, _person_mask(photo, source) if args.person_mask else None)
    paste_ms = (time.perf_counter() - t0) * 1000
    save_image(output, final)
    if args.intermediates:
        timings = {"load_inputs_ms": load_ms, "load_model_ms": model_ms, "photo_ms": paste_ms, **state.timings}
        write_intermediates(Path(args.intermediates), result, timings)
    return 0


def _person_mask(photo: "np.ndarray", pose: "Pose") -> "np.ndarray | None":
    """The detector's person mask (None without a detector or when it finds nobody at the pose)."""
    try:
        from poseeditor.detector import person_mask
    except ImportError:
        return None
    return person_mask(photo, pose)
