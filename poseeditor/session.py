"""An editing session without Qt: the undo history of target poses and the small JSON session file.

A session file holds what is needed to come back to work: the photo's path (not its pixels), the source pose,
the history of target poses (so undo survives a reopen), the animation keyframes and the model folder.
The same file format is the crash-recovery autosave.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poseeditor.errors import PoseFileError
from poseeditor.image_io import atomic_write_text
from poseeditor.pose_io import pose_from_dict, pose_to_dict
from poseeditor.skeleton import Pose

SESSION_FORMAT = "poseeditor-session"
SESSION_VERSION = 1
HISTORY_LIMIT = 500  # undo steps kept; the issue asks for at least 100
RECOVERY_ENV = "POSEEDITOR_RECOVERY_DIR"
RECOVERY_NAME = "recovery.posesession"


@dataclass
class HistoryEntry:
    pose: Pose
    label: str  # what the step did, for the Edit menu ("Undo Move r_wrist")
    merge_key: object = None  # consecutive pushes with the same key (one drag) become one step


class PoseHistory:
    """Linear undo/redo over target poses. A drag pushes many poses with one merge key; they coalesce into a
    single step until `seal()` (mouse release) or a push with another key."""

    def __init__(self, initial: Pose, limit: int = HISTORY_LIMIT) -> None:
        if limit < 1:
            raise ValueError("history limit must be at least 1")
        self.limit = limit
        self._entries: list[HistoryEntry] = [HistoryEntry(initial, "Start")]
        self._index = 0

    @property
    def current(self) -> Pose:
        return self._entries[self._index].pose

    @property
    def index(self) -> int:
        return self._index

    @property
    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def push(self, pose: Pose, label: str, merge_key: object = None) -> None:
        top = self._entries[self._index]
        del self._entries[self._index + 1 :]  # a new edit forgets the redo branch
        if merge_key is not None and top.merge_key == merge_key and self._index > 0:
            top.pose = pose
            return
        self._entries.append(HistoryEntry(pose, label, merge_key))
        if len(self._entries) > self.limit + 1:
            del self._entries[0]
        self._index = len(self._entries) - 1

    def seal(self) -> None:
        """End the current coalescing run: the next push starts a new step even with the same key."""
        self._entries[self._index].merge_key = None

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._entries) - 1

    def undo_label(self) -> str | None:
        return self._entries[self._index].label if self.can_undo() else None

    def redo_label(self) -> str | None:
        return self._entries[self._index + 1].label if self.can_redo() else None

    def undo(self) -> Pose | None:
        if not self.can_undo():
            return None
        self.seal()
        self._index -= 1
        return self.current

    def redo(self) -> Pose | None:
        if not self.can_redo():
            return None
        self._index += 1
        return self.current

    @classmethod
    def restore(cls, entries: list[HistoryEntry], index: int, limit: int = HISTORY_LIMIT) -> "PoseHistory":
        if not entries:
            raise PoseFileError("a session history needs at least one pose")
        history = cls(entries[0].pose, limit)
        history._entries = [HistoryEntry(e.pose, e.label) for e in entries]
        history._index = min(max(int(index), 0), len(entries) - 1)
        return history


@dataclass
class SessionData:
    photo_path: Path | None
    source_pose: Pose | None
    history: list[HistoryEntry]
    history_index: int
    keyframes: list[Pose] = field(default_factory=list)
    model_dir: str | None = None

    @property
    def target_pose(self) -> Pose | None:
        return self.history[self.history_index].pose if self.history else None


def session_to_dict(data: SessionData) -> dict[str, Any]:
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "photo": str(data.photo_path) if data.photo_path else None,
        "source_pose": pose_to_dict(data.source_pose) if data.source_pose else None,
        "history": [{"label": e.label, "pose": pose_to_dict(e.pose)} for e in data.history],
        "history_index": data.history_index,
        "keyframes": [pose_to_dict(p) for p in data.keyframes],
        "model": data.model_dir,
    }


def session_from_dict(raw: Any, where: str = "session") -> SessionData:
    if not isinstance(raw, dict) or raw.get("format") != SESSION_FORMAT:
        raise PoseFileError(f"{where}: not a poseeditor session file")
    if int(raw.get("version", 0)) > SESSION_VERSION:
        raise PoseFileError(f"{where}: made by a newer poseeditor (session version {raw.get('version')})")
    try:
        history = [HistoryEntry(pose_from_dict(e["pose"]), str(e.get("label", ""))) for e in raw.get("history", [])]
        source = pose_from_dict(raw["source_pose"]) if raw.get("source_pose") else None
        keyframes = [pose_from_dict(p) for p in raw.get("keyframes", [])]
        index = int(raw.get("history_index", len(history) - 1))
    except PoseFileError as exc:
        raise PoseFileError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PoseFileError(f"{where}: damaged session file ({exc})") from None
    if history and not 0 <= index < len(history):
        raise PoseFileError(f"{where}: history position {index} is outside its {len(history)} steps")
    photo = raw.get("photo")
    return SessionData(
        photo_path=Path(photo) if photo else None,
        source_pose=source,
        history=history,
        history_index=index if history else 0,
        keyframes=keyframes,
        model_dir=raw.get("model"),
    )


def save_session(path: str | os.PathLike[str], data: SessionData) -> None:
    atomic_write_text(path, json.dumps(session_to_dict(data), indent=1) + "\n")


def load_session(path: str | os.PathLike[str]) -> SessionData:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PoseFileError(f"{path}: no such session file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoseFileError(f"{path}: not a readable session file ({exc})") from None
    return session_from_dict(raw, str(path))


def recovery_file(default_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the autosave goes: $POSEEDITOR_RECOVERY_DIR, else `default_dir` (the GUI passes Qt's
    AppDataLocation), else ~/.local/share/poseeditor."""
    folder = os.environ.get(RECOVERY_ENV) or default_dir or Path.home() / ".local" / "share" / "poseeditor"
    return Path(folder) / RECOVERY_NAME
