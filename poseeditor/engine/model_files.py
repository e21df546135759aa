"""Finding and checking a generator artifact folder without torch (the editor runs on onnxruntime alone).

An artifact folder holds `model.json`, `source.onnx`, `target.onnx`, `generator.safetensors`, `MODEL_CARD.md`
(written by `posetrain export`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poseeditor.errors import ModelError, NoModelInstalledError
from poseeditor.resources import default_model_dir

ARTIFACT_FORMAT = "poseeditor-generator"
SUPPORTED_FORMAT_VERSIONS = (1,)


@dataclass(frozen=True)
class ModelFiles:
    folder: Path
    meta: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta.get("config", {}))

    @property
    def image_size(self) -> int:
        return int(self.config["image_size"])

    @property
    def name(self) -> str:
        return str(self.config.get("name", "unnamed"))

    @property
    def source_onnx(self) -> Path:
        return self.folder / "source.onnx"

    @property
    def target_onnx(self) -> Path:
        return self.folder / "target.onnx"

    @property
    def safetensors(self) -> Path:
        return self.folder / "generator.safetensors"


def read_model_json(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / "model.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{folder}: not a model folder (no model.json)") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path}: not a model description (not valid JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != ARTIFACT_FORMAT:
        raise ModelError(f"{path}: not a poseeditor generator (format is not '{ARTIFACT_FORMAT}')")
    if meta.get("format_version") not in SUPPORTED_FORMAT_VERSIONS:
        raise ModelError(
            f"{path}: model format version {meta.get('format_version')} is not supported by this poseeditor "
            f"(supports {SUPPORTED_FORMAT_VERSIONS}); update poseeditor or re-export the model"
        )
    config = meta.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("image_size"), int):
        raise ModelError(f"{path}: model description lacks config.image_size")
    return meta


def find_model(model: str | os.PathLike[str] | None = None) -> ModelFiles:
    """The artifact at `model` (a folder or its model.json), or the installed default."""
    if model is None:
        folder = default_model_dir()
        if not (folder / "model.json").is_file():
            raise NoModelInstalledError(
                "no trained generator is installed (expected one in "
                f"{folder}); pass --model DIR with a folder made by `posetrain export`"
            )
    else:
        folder = Path(model)
        if folder.is_file() and folder.name == "model.json":
            folder = folder.parent
        if not folder.exists():
            raise ModelError(f"{model}: no such model folder")
        if folder.is_file():
            raise ModelError(f"{model}: is a file; a model is a folder made by `posetrain export`")
    return ModelFiles(folder=folder, meta=read_model_json(folder))
