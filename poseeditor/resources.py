"""Where the shipped artifacts live, for a source checkout, an editable install and a wheel alike.

The repository's top-level `resources/` folder is installed as the package `poseeditor.resources`
(see pyproject.toml `package-dir`), so `importlib.resources` finds it in every install mode.
"""

from __future__ import annotations

import os
from importlib import resources as importlib_resources
from pathlib import Path


def resources_dir() -> Path:
    override = os.environ.get("POSEEDITOR_RESOURCES")
    if override:
        return Path(override)
    return Path(str(importlib_resources.files("poseeditor.resources")))


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def default_model_dir() -> Path:
    """The installed default generator (a folder written by `posetrain export`)."""
    env = os.environ.get("POSEEDITOR_MODEL")
    return Path(env) if env else resource_path("models", "default")


def sample_photo() -> Path:
    return resource_path("samples", "sample.jpg")
