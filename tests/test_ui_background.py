"""Heavy work stays off the GUI thread: finding the person and parsing pose files run on background jobs while
the window keeps handling events (issue 12 item 6)."""

from __future__ import annotations

import gc
import threading

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtWidgets  # noqa: E402

import poseeditor.ui.main_window as main_window_module  # noqa: E402
from poseeditor.image_io import save_image  # noqa: E402
from poseeditor.pose_io import save_pose  # noqa: E402
from poseeditor.ui.main_window import MainWindow  # noqa: E402

GATE_TIMEOUT_S = 20  # only a guard: if the work ran on the GUI thread, the gate is never opened and this expires


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    # Autosaves, QSettings and the close question are isolated by tests/conftest.py; no model is installed here.
    monkeypatch.setenv("POSEEDITOR_MODEL", str(tmp_path / "no-model-here"))
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical",
                        lambda _p, title, text, *a, **k: errors.append((title, text)))
    yield errors
    gc.collect()


def gated(real, threads: list[str], gate: threading.Event):
    def work(*args, **kwargs):
        threads.append(threading.current_thread().name)
        assert gate.wait(GATE_TIMEOUT_S), "the GUI thread never got to open the gate: it was blocked"
        return real(*args, **kwargs)

    return work


def test_finding_the_person_runs_off_the_gui_thread(qtbot, tmp_path, person_photo, monkeypatch):
    threads: list[str] = []
    gate = threading.Event()
    monkeypatch.setattr(main_window_module, "find_person", gated(main_window_module.find_person, threads, gate))
    photo = tmp_path / "person.png"
    save_image(photo, person_photo)
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    assert window.open_photo(photo)  # returns at once: the detector has not answered yet
    assert window.busy and not window.document.has_photo
    qtbot.wait(20)  # the event loop runs meanwhile
    gate.set()
    qtbot.waitUntil(lambda: not window.busy, timeout=GATE_TIMEOUT_S * 1000)
    assert window.document.has_photo and window.document.photo_path == photo
    assert threads and threads[0] != threading.main_thread().name

    # re-detection (Pose → Re-detect, pointing at the person) too
    gate.clear()
    window.redetect_in_region(None)
    assert window.busy
    gate.set()
    qtbot.waitUntil(lambda: not window.busy, timeout=GATE_TIMEOUT_S * 1000)
    assert len(threads) == 2 and window.person_message
    assert all(name != threading.main_thread().name for name in threads)


def test_pose_files_are_parsed_off_the_gui_thread(qtbot, tmp_path, person_photo, standing_pose, arm_up_pose,
                                                  monkeypatch):
    threads: list[str] = []
    gate = threading.Event()
    monkeypatch.setattr(main_window_module, "load_pose", gated(main_window_module.load_pose, threads, gate))
    photo = tmp_path / "person.png"
    save_image(photo, person_photo)
    save_pose(tmp_path / "target.json", arm_up_pose)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    assert window.open_photo(photo, source_pose=standing_pose)
    assert window.load_target_pose(tmp_path / "target.json")
    assert window.busy and window.document.target_pose == standing_pose
    gate.set()
    qtbot.waitUntil(lambda: not window.busy, timeout=GATE_TIMEOUT_S * 1000)
    assert window.document.target_pose == arm_up_pose
    assert threads[0] != threading.main_thread().name


def test_a_bad_pose_file_is_one_message_in_the_window(qtbot, tmp_path, person_photo, standing_pose, isolated):
    photo = tmp_path / "person.png"
    save_image(photo, person_photo)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    assert window.open_photo(photo, source_pose=standing_pose)
    window.load_target_pose(tmp_path / "deep.json")
    qtbot.waitUntil(lambda: not window.busy, timeout=GATE_TIMEOUT_S * 1000)
    assert isolated[-1][0] == "Cannot open the pose" and "nested too deeply" in isolated[-1][1]
    assert "deep.json" in window.statusBar().currentMessage()
    assert window.document.target_pose == standing_pose


def test_hostile_files_opened_in_the_window_are_one_message_each(qtbot, tmp_path, isolated, person_photo):
    """Item 5: a photo under 16 px opened through File → Open did nothing visible; damaged sessions raised
    ValueError/TypeError/OverflowError that only reached stderr."""
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "abc.posesession").write_text('{"format": "poseeditor-session", "version": "abc"}')
    (tmp_path / "huge.posesession").write_text('{"format": "poseeditor-session", "version": 1, "history_index": 1e400}')
    (tmp_path / "photo.posesession").write_text('{"format": "poseeditor-session", "version": 1, "photo": 5}')
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    assert not window.open_photo(tmp_path / "tiny.png")
    assert isolated[-1][0] == "Cannot open the photo" and "too small" in isolated[-1][1]
    for name in ("abc", "huge", "photo"):
        assert not window.open_session(tmp_path / f"{name}.posesession")
        title, message = isolated[-1]
        assert title == "Cannot open the session" and f"{name}.posesession" in message and "\n" not in message
        assert window.statusBar().currentMessage() == message
    assert not window.document.has_photo


def test_sessions_opened_from_the_menu_are_parsed_off_the_gui_thread(qtbot, tmp_path, person_photo, standing_pose,
                                                                    arm_up_pose, monkeypatch):
    from poseeditor.session import HistoryEntry, SessionData, save_session

    threads: list[str] = []
    gate = threading.Event()
    monkeypatch.setattr(main_window_module, "load_session", gated(main_window_module.load_session, threads, gate))
    photo = tmp_path / "person.png"
    save_image(photo, person_photo)
    session = tmp_path / "work.posesession"
    save_session(session, SessionData(photo, standing_pose, [HistoryEntry(standing_pose, "Start"),
                                                             HistoryEntry(arm_up_pose, "raise")], 1))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(session), ""))
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    window.open_session_dialog()
    assert window.busy and not window.document.has_photo
    gate.set()
    qtbot.waitUntil(lambda: not window.busy, timeout=GATE_TIMEOUT_S * 1000)
    assert window.document.target_pose == arm_up_pose and window.session_path == session
    assert threads[0] != threading.main_thread().name
