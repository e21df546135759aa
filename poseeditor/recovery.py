"""Crash recovery without Qt: one autosave file per editor window, and the orphans a crash leaves behind.

Each window writes its autosave to its own `autosave-<pid>-<token>.posesession` in the recovery folder and holds
an exclusive lock on the `.lock` file beside it for as long as it lives. The kernel drops that lock when the
process ends, however it ends (kill -9 included), so an autosave whose lock can be taken is an orphan: its
window is gone without a clean exit. Two editors never touch each other's autosave, and the one still running is
never offered as an orphan by another.

An orphan is deleted only once its content is safely open in a window (and autosaved there) or the user says to
discard it; otherwise it stays, and is offered again at the next start.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from poseeditor.errors import PoseEditorError
from poseeditor.session import RECOVERY_ENV, SessionData, save_session

try:  # POSIX advisory locks; elsewhere an autosave's owner is recognised by its process id alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

AUTOSAVE_PREFIX = "autosave-"
SESSION_SUFFIX = ".posesession"
LOCK_SUFFIX = ".lock"
PEEK_BYTES = 4096  # the photo's path is near the top of a session file; no need to parse the whole file


def recovery_dir(default_dir: str | os.PathLike[str] | None = None) -> Path:
    """$POSEEDITOR_RECOVERY_DIR, else `default_dir` (the GUI passes Qt's AppDataLocation), else
    ~/.local/share/poseeditor."""
    folder = os.environ.get(RECOVERY_ENV) or default_dir or Path.home() / ".local" / "share" / "poseeditor"
    return Path(folder)


def _try_lock(path: Path) -> IO[bytes] | None:
    """An open handle holding an exclusive lock on `path` (created if need be), or None if another holds it."""
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - kept open: the lock lives as long as the handle
    except OSError:
        return None
    if fcntl is None:  # pragma: no cover - Windows
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


_CLEAR = object()  # queued instead of data: delete the autosave (the edits were saved or discarded)


class AutosaveSlot:
    """One window's autosave file, locked while the window lives. Writes happen on a background thread (a
    session is serialised and written there, not in the GUI thread); only the newest pending state is written."""

    def __init__(self, folder: str | os.PathLike[str], on_error: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{AUTOSAVE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.path = self.folder / (stem + SESSION_SUFFIX)
        self.lock_path = self.folder / (stem + LOCK_SUFFIX)
        self.on_error = on_error
        self.last_error: str | None = None
        self._lock = _try_lock(self.lock_path)
        if self._lock is not None:
            self._lock.seek(0)
            self._lock.truncate()
            self._lock.write(str(os.getpid()).encode())
            self._lock.flush()
        self._mutex = threading.Lock()
        self._pending: object = None
        self._draining = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")

    def write(self, data: SessionData) -> None:
        """Atomically replace the autosave with `data` now, in this thread (raises PoseEditorError)."""
        save_session(self.path, data)

    def write_later(self, data: SessionData) -> None:
        """Write `data` on the background thread; a newer call before it started replaces it."""
        self._queue(data)

    def clear_later(self) -> None:
        """Delete the autosave on the background thread, after any write queued before."""
        self._queue(_CLEAR)

    def wait(self) -> None:
        """Until every queued write is done."""
        self._pool.submit(lambda: None).result()

    def _queue(self, item: object) -> None:
        with self._mutex:
            self._pending = item
            if self._draining:
                return
            self._draining = True
        self._pool.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._mutex:
                item, self._pending = self._pending, None
                if item is None:
                    self._draining = False
                    return
            if item is _CLEAR:
                self.path.unlink(missing_ok=True)
                continue
            assert isinstance(item, SessionData)
            self.last_error = write_quietly(self, item)
            if self.last_error and self.on_error is not None:
                self.on_error(self.last_error)

    def discard(self) -> None:
        """Forget the autosave (a clean exit, or the user chose to throw the edits away)."""
        self._pool.shutdown(wait=True)
        self.path.unlink(missing_ok=True)
        self.release()
        self.lock_path.unlink(missing_ok=True)

    def release(self) -> None:
        """Let go of the lock without deleting the autosave: what a crash does (tests use it to simulate one)."""
        self._pool.shutdown(wait=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


@dataclass
class Orphan:
    """An autosave whose window is gone."""

    path: Path
    photo: str | None  # the photo it edits, as stored (None when the file does not say)
    saved_at: float  # modification time (seconds since the epoch)
    _lock: IO[bytes] | None = None

    @property
    def photo_name(self) -> str:
        return Path(self.photo).name if self.photo else "an unknown photo"

    def describe(self) -> str:
        """"beach.png (in /photos), autosaved 2026-11-30 20:25"."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        where = f" (in {Path(self.photo).parent})" if self.photo and Path(self.photo).parent != Path(".") else ""
        return f"{self.photo_name}{where}, autosaved {when}"

    def discard(self) -> None:
        """Delete the autosave (only after the user chose to, or after its content was reopened elsewhere)."""
        self.path.unlink(missing_ok=True)
        self.release()
        self.path.with_suffix(LOCK_SUFFIX).unlink(missing_ok=True)

    def release(self) -> None:
        """Stop holding it (it stays on disk and is offered again next time)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _peek_photo(path: Path) -> str | None:
    """The "photo" a session file names, read from its first few kB (the editor writes it near the top)."""
    try:
        with path.open("rb") as f:
            head = f.read(PEEK_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    key = head.find('"photo"')
    if key < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(head[head.index(":", key) + 1 :].lstrip())
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, str) else None


def find_orphans(folder: str | os.PathLike[str], claim: bool = True) -> list[Orphan]:
    """Autosaves in `folder` whose window is gone, oldest first. With `claim`, each is returned locked (so two
    editors starting at once do not both offer it); `Orphan.release`/`discard` let go."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    orphans: list[Orphan] = []
    for path in sorted(folder.glob(f"*{SESSION_SUFFIX}")):
        if not path.is_file():
            continue
        lock: IO[bytes] | None = None
        if fcntl is not None:
            lock = _try_lock(path.with_suffix(LOCK_SUFFIX))
            if lock is None:
                continue  # its window is alive (in this process or another)
        elif path.name.startswith(AUTOSAVE_PREFIX):  # pragma: no cover - Windows: by process id
            pid_text = path.name[len(AUTOSAVE_PREFIX) :].split("-")[0]
            if pid_text.isdigit() and _pid_alive(int(pid_text)):
                continue
        try:
            saved_at = path.stat().st_mtime
        except OSError:
            if lock is not None:
                lock.close()
            continue
        orphan = Orphan(path, _peek_photo(path), saved_at, lock)
        if not claim:
            orphan.release()
        orphans.append(orphan)
    _remove_stale_locks(folder)
    return sorted(orphans, key=lambda o: o.saved_at)


def _remove_stale_locks(folder: Path) -> None:
    """Lock files of windows that ended before their first autosave (nothing to recover): deleted once free."""
    if fcntl is None:  # pragma: no cover - Windows
        return
    for lock_path in folder.glob(f"{AUTOSAVE_PREFIX}*{LOCK_SUFFIX}"):
        if lock_path.with_suffix(SESSION_SUFFIX).exists():
            continue
        handle = _try_lock(lock_path)
        if handle is not None:
            lock_path.unlink(missing_ok=True)
            handle.close()


def write_quietly(slot: AutosaveSlot, data: SessionData) -> str | None:
    """Write an autosave; None when written, else the one-line reason (for a status bar)."""
    try:
        slot.write(data)
    except (OSError, PoseEditorError) as exc:
        return str(exc)
    return None

