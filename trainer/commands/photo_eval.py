"""`posetrain photo-eval --data DIR [--model M]`: the editor's full-resolution result against the baselines."""

from __future__ import annotations

import argparse

from poseeditor.errors import PoseEditorError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "photo-eval",
        help="score the editor's full-resolution result (and the baselines) in the edit region of real frames",
        description=(
            "Every ordered pair of frames of each video (or --pairs drawn with --seed), rendered through the "
            "editor's own path at the photo's resolution. Rows: identity, release (256² crop pasted back), "
            "warp_only_crop, warp_fullres (no learning, full resolution), photo_true (the editor). Metrics: "
            "shift-tolerant LPIPS (alex, the edit region's box at half resolution), L1/SSIM over the edit region "
            "(source person ∪ target person, grown 3%% of the height), L1 over the vacated region, sharpness "
            "(std of the Laplacian inside the target person, output / truth). Person regions are the data's masks, "
            "else drawn from the joints."
        ),
    )
    p.add_argument("--data", required=True, metavar="DIR", help="dataset folder (docs/dataset_format.md or the paper's)")
    p.add_argument("--model", default=None, metavar="M", help="exported model folder (default: the installed one)")
    p.add_argument("--pairs", type=int, default=None, metavar="N", help="draw N pairs (default: all ordered pairs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only-videos", metavar="FILE", help="evaluate only these videos (names, one per line)")
    p.add_argument("--no-lpips", action="store_true", help="skip the perceptual distance (no stlpips-pytorch)")
    p.add_argument("--json", metavar="OUT", help="write the per-row means and every pair's scores here")
    p.add_argument("--sheet", metavar="IMAGE", help="save a picture of the first pairs: each row's edit region")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--drag-preview", action="store_true",
                   help="add rows release_drag and photo_true_drag: the model as the editor renders it while a drag "
                        "is going on (target stage at half the side; docs/drag_speed.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from poseeditor.engine import load_engine
    from trainer.evaluate import read_video_names
    from trainer.photo_eval import all_pairs, evaluate_photos, format_photo_table, load_frames, write_json, write_sheet

    if args.pairs is not None and args.pairs <= 0:
        raise PoseEditorError("--pairs must be positive")
    engine = load_engine(args.model, "onnx", threads=max(1, args.threads))
    perceptual = None
    if not args.no_lpips:
        from trainer.perceptual import PerceptualDistance

        perceptual = PerceptualDistance().distance
    only = read_video_names(args.only_videos) if args.only_videos else None
    frames, names = load_frames(args.data, only)
    pairs = all_pairs(frames, args.pairs, args.seed)
    with tqdm(total=len(pairs), unit="pair", desc="photo-eval") as bar:
        result = evaluate_photos(engine, frames, pairs, perceptual, progress=lambda n: bar.update(1),
                                  drag_preview=args.drag_preview)
    result.notes = {"data": str(args.data), "videos": names, "model": engine.info["model"], "seed": args.seed}
    print(format_photo_table(result, str(args.data)))
    if args.json:
        write_json(args.json, result)
    if args.sheet:
        write_sheet(args.sheet, engine, frames, pairs[:: max(1, len(pairs) // 6)][:6])
    return 0
