"""The generator artifact's description, `model.json`, read and written without torch (the editor runs without it).

A generator artifact is a folder:
    model.json             {"format": "poseeditor-generator", "format_version": 1, "architecture": ...,
                            "config": {...}, "training": {...}}
    generator.safetensors  the weights (torch state_dict names), no pickles
    source.onnx            stage *source*, weights embedded
    target.onnx            stage *target*, weights embedded
    MODEL_CARD.md          what it was trained on, how long, held-out numbers
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from models.config import GeneratorConfig
from poseeditor.errors import ModelError

FORMAT = "poseeditor-generator"
FORMAT_VERSION = 1
MODEL_JSON = "model.json"
WEIGHTS_FILE = "generator.safetensors"
SOURCE_ONNX = "source.onnx"
TARGET_ONNX = "target.onnx"
MODEL_CARD = "MODEL_CARD.md"

# The two ONNX stages' input and output names (DESIGN §3): written by models.onnx_export, checked and fed by the
# engine's backends. Spelled only here, in a torch-free module, so the engine need not import torch and the
# models package need not import the engine.
SOURCE_INPUTS = ("image", "source_heatmaps", "prior")
SOURCE_OUTPUTS = ("part_masks", "background")
TARGET_INPUTS = ("warped_layers", "target_heatmaps", "background")
# a "select" model's target stage (models.generator.SelectTargetStage) also takes the warped masks
SELECT_TARGET_INPUTS = ("warped_layers", "warped_masks", "target_heatmaps", "background")
TARGET_OUTPUTS = ("foreground", "mask", "output")
ARCHITECTURES = ("posewarp", "unet")  # the four-module generator; the single-U-Net baseline
MAX_MODEL_JSON_BYTES = 1_000_000  # a model.json is a few kB; anything huge is not ours
# Working-crop sizes a generator may have: the contract's crop is 256²; 512² is the largest anyone has reason to
# train (cost grows with the square), 32² the smallest the U-Nets' downsampling leaves meaningful.
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 512


def read_model_json(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated contents of `folder/model.json`; raises ModelError for anything that is not our model."""
    folder = Path(folder)
    if not folder.exists():
        raise ModelError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise ModelError(f"{folder}: a model is a folder (with {MODEL_JSON}), not a file")
    path = folder / MODEL_JSON
    if not path.is_file():
        raise ModelError(f"{folder}: not a model folder (no {MODEL_JSON})")
    try:
        if path.stat().st_size > MAX_MODEL_JSON_BYTES:
            raise ModelError(f"{path}: too large to be a model description")
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{path}: not a poseeditor generator (format is not '{FORMAT}')")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelError(f"{path}: missing or invalid format_version")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path}: format_version {version} is newer than this program reads ({FORMAT_VERSION}); update poseeditor"
        )
    training = meta.setdefault("training", {})
    if not isinstance(training, dict):
        raise ModelError(f"{path}: 'training' must be an object")
    # older artifacts recorded the architecture only under "training"
    architecture = meta.setdefault("architecture", training.get("architecture", "posewarp"))
    if architecture not in ARCHITECTURES:
        raise ModelError(f"{path}: unknown architecture {architecture!r} (known: {', '.join(ARCHITECTURES)})")
    if not isinstance(meta.get("config"), dict):
        raise ModelError(f"{path}: missing 'config' object")
    size = meta["config"].get("image_size")
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        # Checked here, once, for every backend: the ONNX graphs fix their size, but the torch backend would
        # build whatever it is told (4096² ran for minutes and took 9.6 GB before this check).
        raise ModelError(
            f"{path}: config.image_size {size!r} is not a crop size this program runs "
            f"(a whole number from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE})"
        )
    generator_config(meta, path)  # validates the config now, not at first use
    return meta


def generator_config(meta: dict[str, Any], where: str | os.PathLike[str] = MODEL_JSON) -> GeneratorConfig:
    """The GeneratorConfig of a model.json (torch-free: the engine reads image_size etc. from it)."""
    try:
        return GeneratorConfig.from_dict(meta["config"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"{where}: invalid generator config ({exc})") from None


def model_json_text(
    architecture: str, config: dict[str, Any], training: dict[str, Any], inference: dict[str, Any] | None = None
) -> str:
    """`inference`: how the editor should run the model (e.g. {"background": "inpaint", "why": "..."})."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}")
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "config": config,
        "training": training,
    }
    if inference:
        meta["inference"] = inference
    try:
        return json.dumps(meta, indent=2, sort_keys=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"training info must be plain JSON (str, numbers, lists, dicts): {exc}") from None
