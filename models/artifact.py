"""Saving and loading generator weights: `model.json` + `generator.safetensors` (never pickles).

`save_generator` writes both files atomically (weights first, so a model.json on disk always has its weights
beside it); `load_generator` turns every way a folder can fail to be a usable model into a ModelError.
See models/artifact_meta.py for the folder layout and the torch-free reader of model.json.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from models.artifact_meta import (
    FORMAT,
    MODEL_JSON,
    WEIGHTS_FILE,
    generator_config,
    model_json_text,
    read_model_json,
)
from models.baselines import SingleUNet
from models.config import GeneratorConfig
from models.generator import PoseWarpGenerator
from poseeditor.errors import ExportError, ModelError
from poseeditor.image_io import atomic_write_bytes, atomic_write_text


def _architecture(model: nn.Module) -> str:
    if isinstance(model, PoseWarpGenerator):
        return "posewarp"
    if isinstance(model, SingleUNet):
        return "unet"
    raise TypeError(f"cannot save a {type(model).__name__}: not a PoseWarpGenerator or SingleUNet")


def save_generator(
    model: nn.Module,
    folder: str | os.PathLike[str],
    training_info: dict[str, Any],
    inference: dict[str, Any] | None = None,
) -> Path:
    """Write `folder/generator.safetensors` and `folder/model.json` (the folder is created if its parent exists);
    `inference` becomes model.json's recommendation to the engine (`{"background": "inpaint"|"network", ...}`)."""
    folder = Path(folder)
    architecture = _architecture(model)
    config: GeneratorConfig = model.config  # type: ignore[assignment]  # both model classes keep theirs here
    text = model_json_text(architecture, config.to_dict(), dict(training_info), inference)  # fails before any write
    if not folder.exists():
        if not folder.parent.is_dir():
            raise ExportError(f"{folder}: the folder {folder.parent} does not exist")
        folder.mkdir()
    # contiguous CPU copies: safetensors refuses shared or strided storage
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "architecture": architecture, "config_name": config.name}
    atomic_write_bytes(folder / WEIGHTS_FILE, save_safetensors_bytes(state, metadata=metadata))
    atomic_write_text(folder / MODEL_JSON, text)
    return folder


def load_model(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """The model saved in `folder` (PoseWarpGenerator or SingleUNet), in eval mode."""
    folder = Path(folder)
    meta = read_model_json(folder)
    config = generator_config(meta, folder / MODEL_JSON)
    model: nn.Module = PoseWarpGenerator(config) if meta["architecture"] == "posewarp" else SingleUNet(config)
    model.load_state_dict(_read_weights(folder, model), strict=True)
    return model.to(device).eval()


def load_generator(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> PoseWarpGenerator:
    """The four-module generator saved in `folder`, in eval mode; ModelError for anything else."""
    model = load_model(folder, device)
    if not isinstance(model, PoseWarpGenerator):
        raise ModelError(f"{folder}: holds a {type(model).__name__} baseline, not the four-module generator")
    return model


def _read_weights(folder: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no {WEIGHTS_FILE} beside {MODEL_JSON}")
    try:
        state = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a readable safetensors file (truncated or corrupt?): {exc}") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{path}: weights do not match {MODEL_JSON}'s architecture "
            f"(missing {len(missing)}: {missing[:3]}; unexpected {len(unexpected)}: {unexpected[:3]})"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise ModelError(
                f"{path}: weight {name} has shape {tuple(tensor.shape)}, "
                f"{MODEL_JSON}'s config needs {tuple(expected[name].shape)}"
            )
        if tensor.dtype != expected[name].dtype:
            state[name] = tensor.to(expected[name].dtype)
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelError(f"{path}: weight {name} holds NaN or infinite values")
    return state
