"""`posetrain export CKPT --out DIR`: write the folder the editor loads, with a model card."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from poseeditor.errors import PoseEditorError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="checkpoint -> model folder (ONNX stages, safetensors, model.json, MODEL_CARD.md)",
        description=(
            "Export a checkpoint (file, or a run folder's newest) to DIR: model.json, generator.safetensors, "
            "source.onnx, target.onnx, MODEL_CARD.md. The ONNX stages are checked against torch through the "
            "editor's engine before DIR appears. With --eval DIR the card gets held-out tables (and a picture "
            "for datasets whose dataset.json licence allows shipping frames)."
        ),
    )
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--eval", dest="eval_data", action="append", default=[], metavar="DATA",
                   help="evaluate on this dataset for the model card (repeatable)")
    p.add_argument("--pairs", type=int, default=None, metavar="N", help="pairs per --eval dataset")
    p.add_argument("--unet", metavar="M", help="single-U-Net baseline for the card's tables")
    p.add_argument("--paper", metavar="M", help="paper-size model for the card's tables")
    p.add_argument("--only-videos", metavar="FILE",
                   help="for --eval datasets holding any of these video names (one per line), evaluate only those")
    p.add_argument("--cv2-background", action="store_true",
                   help="add the row: the model's foreground and mask over a cv2-inpainted background")
    p.add_argument("--background", choices=("network", "inpaint"), default=None,
                   help="record in model.json which background the editor should use (default: the network's)")
    p.add_argument("--background-why", default="", metavar="TEXT", help="the measurement behind --background")
    p.add_argument("--assignment", default=None, metavar="NAME",
                   help="record in model.json how the editor's photo-true composite splits the person into parts: "
                   "nearest, nearest_reach, network or hybrid (docs/photo_composite.md; default: the editor's "
                   "default)")
    p.add_argument("--failures", metavar="TEXT_OR_FILE", default="",
                   help="known failure cases for the card (text, or a file holding it)")
    p.set_defaults(func=run)


def _may_ship_pictures(data: Path) -> bool:
    """Only frames of datasets declared licence-clean may appear in a card that could ship (never research sets)."""
    import json

    manifest = data / "dataset.json"
    if not manifest.is_file():
        return False
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    licence = str(info.get("licence", "")).lower()
    return bool(licence) and "research" not in licence and "non-commercial" not in licence


def _video_names(data: Path) -> set[str]:
    from trainer.data import read_dataset

    return {v.name for v in read_dataset(data)}


def run(args: argparse.Namespace) -> int:
    # Checked here, not as argparse choices: naming them at registration would import the engine for every
    # posetrain command.
    from poseeditor.engine.photo_composite import ASSIGNMENTS

    if args.assignment is not None and args.assignment not in ASSIGNMENTS:
        raise PoseEditorError(f"--assignment must be one of {', '.join(ASSIGNMENTS)}, not {args.assignment!r}")
    import torch

    from trainer.evaluate import evaluate, load_model, read_video_names
    from trainer.export import export_checkpoint

    torch.set_num_threads(2)
    evaluations = []
    if args.eval_data:
        models = {"model": load_model(args.checkpoint)}
        if args.unet:
            models["unet"] = load_model(args.unet)
        if args.paper:
            models["paper"] = load_model(args.paper)
        listed = read_video_names(args.only_videos) if args.only_videos else set()
        tmp = Path(tempfile.mkdtemp(prefix="posetrain-export-"))
        for data in args.eval_data:
            data_path = Path(data).expanduser()
            picture = tmp / f"{len(evaluations)}.png" if _may_ship_pictures(data_path) else None
            only = listed if listed & _video_names(data_path) else None
            result = evaluate(data_path, models, pairs=args.pairs, sheet_path=picture, progress=False,
                              cv2_background=args.cv2_background, only_videos=only)
            evaluations.append((f"{data_path.name} ({result.pairs} pairs)", result, str(picture) if picture else None))
    failures = args.failures
    if failures and Path(failures).is_file():
        failures = Path(failures).read_text(encoding="utf-8")
    inference: dict[str, str] = {}
    if args.background:
        inference["background"] = args.background
        if args.background_why:
            inference["why"] = args.background_why
    if args.assignment:
        inference["assignment"] = args.assignment
    out = export_checkpoint(args.checkpoint, args.out, evaluations, failures, force=args.force,
                            inference=inference or None)
    print(f"posetrain: exported {args.checkpoint} -> {out}")
    return 0
