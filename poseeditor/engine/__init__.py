"""Two-stage inference: `load_engine()`, `Engine.prepare_source()` once per photo, `Engine.render()` per pose."""

from poseeditor.engine.engine import Engine, RenderResult, SourceState, load_engine, paste_back
from poseeditor.engine.model_files import ModelFiles, find_model, read_model_json

__all__ = [
    "Engine",
    "ModelFiles",
    "RenderResult",
    "SourceState",
    "find_model",
    "load_engine",
    "paste_back",
    "read_model_json",
]
