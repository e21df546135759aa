"""Where the shipped artifacts live, for a source checkout, an editable install and a wheel alike.

The repository's top-level `resources/` folder is installed as the package `poseeditor.assets` (setup.py
`package_dir`), so `importlib.resources` finds it in a wheel and an editable install alike; a bare source checkout
(no install) falls back to the folder next to the package.
"""

from __future__ import annotations

import os
from importlib import resources as importlib_resources
from pathlib import Path


def resources_dir() -> Path:
    override = os.environ.get("POSEEDITOR_RESOURCES")
    if override:
        return Path(override)
    try:
        return Path(str(importlib_resources.files("poseeditor.assets")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def default_model_dir() -> Path:
    """The installed default generator (a folder written by `posetrain export`)."""
    env = os.environ.get("POSEEDITOR_MODEL")
    return Path(env) if env else resource_path("models", "default")


def sample_photo() -> Path:
    return resource_path("samples", "sample.jpg")
