"""Two-stage inference: `load_engine()`, `Engine.prepare_source()` once per photo, `Engine.render()` per pose;
`photo_result()` builds the re-posed photo at its own resolution (docs/photo_composite.md)."""

from poseeditor.engine.engine import (
    Engine,
    RenderResult,
    SourceState,
    full_resolution_layers,
    load_engine,
    paste_back,
    photo_result,
)
from poseeditor.engine.model_files import ModelFiles, find_model, read_model_json
from poseeditor.engine.photo_composite import PhotoComposite, PhotoLayers

__all__ = [
    "Engine",
    "ModelFiles",
    "PhotoComposite",
    "PhotoLayers",
    "RenderResult",
    "SourceState",
    "find_model",
    "full_resolution_layers",
    "load_engine",
    "paste_back",
    "photo_result",
    "read_model_json",
]
