"""Nothing lost: per-window autosaves, orphans offered with their photo named, kept until reopened or discarded,
absolute photo paths, and a prompt before closing with unsaved edits. No model is needed: these never render."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets  # noqa: E402

from poseeditor.image_io import save_image  # noqa: E402
from poseeditor.recovery import find_orphans  # noqa: E402
from poseeditor.ui.main_window import MainWindow  # noqa: E402

Button = QtWidgets.QMessageBox.StandardButton


def isolate_settings(tmp_path: Path) -> None:
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                             str(tmp_path / "settings"))


class Answers:
    """QMessageBox.question, patched: answers from a queue (default Discard) and records every question."""

    def __init__(self) -> None:
        self.queue: list[Button] = []
        self.asked: list[str] = []

    def __call__(self, _parent, title, text, *args, **kwargs):
        self.asked.append(f"{title}: {text}")
        return self.queue.pop(0) if self.queue else Button.Discard


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEEDITOR_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("POSEEDITOR_MODEL", str(tmp_path / "no-model-here"))
    isolate_settings(tmp_path)
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical",
                        lambda _p, title, text, *a, **k: errors.append((title, text)))
    answers = Answers()
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", answers)
    yield answers, errors
    gc.collect()


@pytest.fixture
def answers(isolated) -> Answers:
    return isolated[0]


@pytest.fixture
def photos(tmp_path, person_photo) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    first, second = folder / "first.png", folder / "second.png"
    save_image(first, person_photo)
    save_image(second, person_photo[:, ::-1].copy())
    return first, second


def new_window(qtbot) -> MainWindow:
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    window.spawn_window = lambda: _spawned(qtbot, window)  # type: ignore[method-assign]
    return window


def _spawned(qtbot, parent: MainWindow) -> MainWindow:
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    parent.spawned_windows.append(window)
    return window


def edit(window: MainWindow, photo: Path, pose, dx: float = 30.0) -> None:
    assert window.open_photo(photo, source_pose=pose)
    window.document.move_joint(4, pose.xy[4, 0] + dx, pose.xy[4, 1] - 40)
    window.autosave(wait=True)
    assert window.recovery_path.is_file()


def crash(window: MainWindow) -> Path:
    """What kill -9 leaves behind: the autosave on disk and its lock released; no clean shutdown."""
    path = window.recovery_path
    window.autosave_slot.release()
    window.autosave_slot = None
    window.recovery_enabled = False
    window.modified = False
    window.close()
    return path


def test_recovery_is_kept_when_the_photo_cannot_be_found(qtbot, tmp_path, photos, standing_pose, answers,
                                                         monkeypatch):
    """Issue 12 item 1: photo opened by a relative path, kill -9, restart elsewhere, accept recovery, photo
    missing, Cancel on the locate dialog: the autosave must survive and be offered again."""
    first, _ = photos
    monkeypatch.chdir(first.parent)
    crashed = new_window(qtbot)
    edit(crashed, Path(first.name), standing_pose)  # a relative path, as typed on a command line
    autosave = crash(crashed)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    hidden = first.with_name("hidden.png")
    first.rename(hidden)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    answers.queue = [Button.Yes]
    window = new_window(qtbot)
    assert not window.offer_recovery()
    assert autosave.is_file(), "cancelling the locate dialog must not delete the only copy of the work"
    assert "first.png" in answers.asked[0]

    hidden.rename(first)  # the photo is back: the same autosave is offered again and reopens
    answers.queue = [Button.Yes]
    again = new_window(qtbot)
    assert again.offer_recovery()
    assert again.document.photo_path == first
    assert again.document.target_pose.xy[4, 0] == standing_pose.xy[4, 0] + 30.0
    assert not autosave.exists()


def test_each_window_has_its_own_autosave(qtbot, photos, standing_pose, answers):
    """Item 2: two editors at once: a clean exit of one leaves the other's autosave; kill -9 of the other
    leaves exactly its work to recover."""
    first, second = photos
    a, b = new_window(qtbot), new_window(qtbot)
    edit(a, first, standing_pose, dx=10)
    edit(b, second, standing_pose, dx=20)
    assert a.recovery_path != b.recovery_path
    assert find_orphans(a.recovery_dir, claim=False) == [], "live windows' autosaves are not orphans"
    a_path = a.recovery_path
    a.close()  # clean exit, edits discarded by the user (answers default to Discard)
    assert not a_path.exists()
    b_path = crash(b)
    assert b_path.is_file()

    orphans = find_orphans(b_path.parent, claim=False)
    assert [o.path for o in orphans] == [b_path]
    assert orphans[0].photo_name == "second.png"
    answers.queue = [Button.Yes]
    c = new_window(qtbot)
    assert c.offer_recovery()
    assert c.document.photo_path == second
    assert c.document.target_pose.xy[4, 0] == standing_pose.xy[4, 0] + 20


def test_every_orphan_is_offered_with_its_photo_named(qtbot, photos, standing_pose, answers):
    """Items 2 and 4: two crashed windows: each orphan is offered, naming its photo; the second accepted one
    opens in a window of its own; one kept for later stays on disk; a discarded one is deleted."""
    first, second = photos
    a, b = new_window(qtbot), new_window(qtbot)
    edit(a, first, standing_pose, dx=10)
    edit(b, second, standing_pose, dx=20)
    a_path, b_path = crash(a), crash(b)

    answers.queue = [Button.Yes, Button.Yes]
    window = new_window(qtbot)
    assert window.offer_recovery()
    assert len(answers.asked) == 2
    assert {"first.png", "second.png"} == {n for n in ("first.png", "second.png") if any(n in q for q in answers.asked)}
    assert len(window.spawned_windows) == 1
    opened = {window.document.photo_path, window.spawned_windows[0].document.photo_path}
    assert opened == {first, second}
    assert not a_path.exists() and not b_path.exists()

    # kept for later, then discarded explicitly
    for w in (window, window.spawned_windows[0]):
        crash(w)
    answers.queue, answers.asked = [Button.No, Button.No], []
    later = new_window(qtbot)
    assert not later.offer_recovery()
    orphans = find_orphans(later.recovery_dir, claim=False)
    assert len(orphans) == 2, "No keeps them for the next start"
    answers.queue = [Button.Discard, Button.Discard]
    assert not new_window(qtbot).offer_recovery()
    assert find_orphans(later.recovery_dir, claim=False) == []
    stale = later.recovery_dir / "autosave-999999-dead.lock"  # a window that died before its first autosave
    stale.write_text("999999")
    find_orphans(later.recovery_dir, claim=False)
    assert not stale.exists() and later.autosave_slot.lock_path.exists()


def test_closing_with_unsaved_edits_asks(qtbot, tmp_path, photos, standing_pose, answers, monkeypatch):
    """Item 4: Cancel keeps the window open, Save writes a session, Discard closes and drops the autosave;
    no edits, no question."""
    first, _ = photos
    window = new_window(qtbot)
    assert window.open_photo(first, source_pose=standing_pose)
    window.close()
    assert answers.asked == [], "nothing edited: nothing to ask"

    window = new_window(qtbot)
    edit(window, first, standing_pose)
    answers.queue = [Button.Cancel]
    assert not window.close()
    assert window.isVisible() and window.worker.isRunning()
    assert "first.png" in answers.asked[-1]

    session = tmp_path / "saved.posesession"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(session), ""))
    answers.queue = [Button.Save]
    autosave = window.recovery_path
    assert window.close()
    assert session.is_file()
    assert not autosave.exists()

    window = new_window(qtbot)
    edit(window, first, standing_pose)
    autosave = window.recovery_path
    answers.queue = [Button.Cancel]  # File → Open recent with unsaved edits asks too; Cancel keeps the edits
    window.recent_menu.actions()[0].trigger()
    assert "before opening another photo" in answers.asked[-1] and window.modified
    answers.queue = [Button.Discard]
    assert window.close()
    assert not autosave.exists()


def test_sessions_store_absolute_photo_paths(qtbot, tmp_path, photos, standing_pose, monkeypatch):
    """Item 3: a photo opened as `first.png` is saved as its absolute path, so the session reopens from any
    folder; moved together with its photo, it is found by the relative path."""
    first, _ = photos
    monkeypatch.chdir(first.parent)
    window = new_window(qtbot)
    edit(window, Path("first.png"), standing_pose)
    session = first.parent / "work.posesession"
    assert window._write_session(session)
    window.close()
    import json

    raw = json.loads(session.read_text())
    assert raw["photo"] == str(first) and raw["photo_relative"] == "first.png"

    monkeypatch.chdir(tmp_path)
    again = new_window(qtbot)
    assert again.open_session(session)
    assert again.document.photo_path == first
    again.close()

    moved = tmp_path / "moved"
    first.parent.rename(moved)
    third = new_window(qtbot)
    assert third.open_session(moved / "work.posesession")
    assert third.document.photo_path == moved / "first.png"


def test_autosave_is_written_off_the_gui_thread(qtbot, photos, standing_pose, monkeypatch):
    """Item 6: serialising and writing the session happens on the autosave thread."""
    from poseeditor import recovery

    threads: list[str] = []
    real = recovery.save_session

    def recording(path, data):
        threads.append(threading.current_thread().name)
        real(path, data)

    monkeypatch.setattr(recovery, "save_session", recording)
    window = new_window(qtbot)
    edit(window, photos[0], standing_pose)
    assert threads and all(name != threading.main_thread().name for name in threads)
    assert os.path.getsize(window.recovery_path) > 0


def test_a_failing_autosave_is_reported_in_the_gui_thread(qtbot, photos, standing_pose, monkeypatch):
    """The autosave thread reports a failure by a queued signal: the status bar is touched in the GUI thread."""
    from poseeditor import recovery
    from poseeditor.errors import ExportError

    def disk_full(path, data):
        raise ExportError(f"{path}: could not write (No space left on device)")

    monkeypatch.setattr(recovery, "save_session", disk_full)
    shown_in: list[str] = []
    real = MainWindow._on_autosave_failed

    def recording(self, message):
        shown_in.append(threading.current_thread().name)
        real(self, message)

    monkeypatch.setattr(MainWindow, "_on_autosave_failed", recording)
    window = new_window(qtbot)
    assert window.open_photo(photos[0], source_pose=standing_pose)
    window.document.move_joint(4, 10, 10)
    window.autosave(wait=True)
    qtbot.waitUntil(lambda: "Autosave failed" in window.statusBar().currentMessage(), timeout=5000)
    assert "No space left" in window.statusBar().currentMessage()
    assert shown_in == [threading.main_thread().name]
