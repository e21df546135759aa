"""Finding and checking a generator artifact folder without torch (the editor runs on onnxruntime alone).

An artifact folder holds `model.json`, `source.onnx`, `target.onnx`, `generator.safetensors`, `MODEL_CARD.md`
(written by `posetrain export`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# torch-free; the one reader of model.json and the one place the folder's file names are spelled
from models.artifact_meta import MODEL_JSON, SOURCE_ONNX, TARGET_ONNX, WEIGHTS_FILE, read_model_json
from poseeditor.errors import ModelError, NoModelInstalledError
from poseeditor.resources import default_model_dir


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
        return self.folder / SOURCE_ONNX

    @property
    def target_onnx(self) -> Path:
        return self.folder / TARGET_ONNX

    @property
    def safetensors(self) -> Path:
        return self.folder / WEIGHTS_FILE


def find_model(model: str | os.PathLike[str] | None = None) -> ModelFiles:
    """The artifact at `model` (a folder or its model.json), or the installed default."""
    if model is None:
        folder = default_model_dir()
        if not (folder / MODEL_JSON).is_file():
            raise NoModelInstalledError(
                "no trained generator is installed (expected one in "
                f"{folder}); pass --model DIR with a folder made by `posetrain export`"
            )
    else:
        folder = Path(model)
        if folder.is_file() and folder.name == MODEL_JSON:
            folder = folder.parent
        if folder.is_file():
            raise ModelError(f"{model}: is a file; a model is a folder made by `posetrain export`")
    meta = read_model_json(folder)
    if meta.get("architecture", "posewarp") != "posewarp":
        raise ModelError(
            f"{folder}: is a '{meta.get('architecture')}' model (a training baseline); the editor needs the "
            "four-module posewarp generator"
        )
    return ModelFiles(folder=folder, meta=meta)
