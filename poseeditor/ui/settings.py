"""What the editor remembers between runs, in QSettings: recent photos and the last folder of each kind of file.

Dialogs start in the folder last used for that kind of file (else the photo's folder) with a suggested name made
from the photo's. The settings live under the organisation "poseeditor", application "editor", in
QSettings.defaultFormat() (tests point it at a temporary folder with QSettings.setPath).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6 import QtCore

MAX_RECENT = 8


def app_settings() -> QtCore.QSettings:
    return QtCore.QSettings(QtCore.QSettings.defaultFormat(), QtCore.QSettings.Scope.UserScope, "poseeditor", "editor")


def _read_list(key: str) -> list[str]:
    raw = app_settings().value(key, "[]")
    try:
        items = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return []
    return [p for p in items if isinstance(p, str)] if isinstance(items, list) else []


def recent_files() -> list[str]:
    return _read_list("recent/files")[:MAX_RECENT]


def add_recent_file(path: str | os.PathLike[str]) -> list[str]:
    """Put `path` (absolute) first in the recent files; returns the new list."""
    item = os.path.abspath(path)
    items = [item] + [p for p in recent_files() if p != item]
    settings = app_settings()
    settings.setValue("recent/files", json.dumps(items[:MAX_RECENT]))
    settings.sync()
    remember_folder("photo", Path(item).parent)
    return items[:MAX_RECENT]


def last_folder(kind: str) -> str:
    """The folder last used for `kind` ("photo", "export", "session", "pose", "animation"...), if it still exists."""
    folder = app_settings().value(f"folders/{kind}", "")
    return folder if isinstance(folder, str) and folder and Path(folder).is_dir() else ""


def remember_folder(kind: str, folder: str | os.PathLike[str]) -> None:
    settings = app_settings()
    settings.setValue(f"folders/{kind}", os.path.abspath(folder))
    settings.sync()


def start_path(kind: str, suggested_name: str = "", photo_path: str | os.PathLike[str] | None = None) -> str:
    """Where a file dialog for `kind` starts: the last folder used for it, else the photo's folder, else the
    last photo folder; with `suggested_name` in it."""
    folder = last_folder(kind)
    if not folder and photo_path is not None:
        folder = str(Path(photo_path).parent)
    folder = folder or last_folder("photo")
    if not folder:
        return suggested_name
    return os.path.join(folder, suggested_name) if suggested_name else folder
