"""`posetrain eval --model M --data DIR [--pairs N] [--json OUT]`: the model against the baselines, one table."""

from __future__ import annotations

import argparse
import json

from poseeditor.image_io import atomic_write_text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="compare a model with identity, warp-only, single U-Net and paper-size baselines on held-out pairs",
        description=(
            "Evaluate on DIR (the dataset format, or the paper's frames/ + info/*.mat): when the model trained on "
            "DIR, only its held-out videos; otherwise all of them. Rows: identity, warp_only (no learning), unet "
            "and paper (when given), model. L1 on [0,1] and SSIM over the whole crop and the target person's "
            "region (silhouette where known, else the joints' box padded 10%%), per pair, then averaged."
        ),
    )
    p.add_argument("--model", required=True, metavar="M", help="exported model folder, checkpoint file or run folder")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset folder")
    p.add_argument("--pairs", type=int, default=None, metavar="N",
                   help="number of pairs (fixed seed); default: all ordered pairs of small sets, else 500")
    p.add_argument("--unet", metavar="M", help="single-U-Net baseline trained by posetrain (checkpoint or run folder)")
    p.add_argument("--paper", metavar="M", help="paper-size model trained by posetrain (checkpoint, run or model folder)")
    p.add_argument("--size", type=int, default=256, help="crop size every row is measured at (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cv2-background", action="store_true",
                   help="add a row: the model's foreground and mask over a cv2-inpainted background")
    p.add_argument("--drag-preview", action="store_true",
                   help="add a row: the model as the editor renders it while a drag is going on (target stage at "
                        "half the side, upsampled; docs/drag_speed.md)")
    p.add_argument("--only-videos", metavar="FILE",
                   help="evaluate only these videos (names, one per line), within the held-out ones")
    p.add_argument("--json", metavar="OUT", help='write {"pairs": N, "rows": [...]} here')
    p.add_argument("--sheet", metavar="PNG", help="save a picture: source | target | each row's output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from trainer.config import TrainerError
    from trainer.evaluate import evaluate, format_table, load_model, read_video_names

    if args.pairs is not None and args.pairs <= 0:
        raise TrainerError("--pairs must be positive")
    torch.set_num_threads(max(1, args.threads))
    models = {"model": load_model(args.model)}
    if args.unet:
        models["unet"] = load_model(args.unet)
    if args.paper:
        models["paper"] = load_model(args.paper)
    only = read_video_names(args.only_videos) if args.only_videos else None
    result = evaluate(args.data, models, pairs=args.pairs, seed=args.seed, size=args.size, batch_size=args.batch,
                      cv2_background=args.cv2_background, sheet_path=args.sheet, progress=not args.quiet,
                      only_videos=only, drag_preview=args.drag_preview)
    print(format_table(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result.to_json(), indent=2) + "\n")
    return 0
