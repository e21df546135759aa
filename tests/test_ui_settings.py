"""Export and save dialogs start where the user last put that kind of file, with a name from the photo's; recent
photos and folders live in QSettings (isolated per test in tmp_path). Issue 12 item 15."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtWidgets  # noqa: E402

from poseeditor.image_io import save_image  # noqa: E402
from poseeditor.ui import settings  # noqa: E402
from poseeditor.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    # Autosaves, QSettings and the close question are isolated by tests/conftest.py; no model is installed here.
    monkeypatch.setenv("POSEEDITOR_MODEL", str(tmp_path / "no-model-here"))
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical", lambda *a, **k: None)
    yield
    gc.collect()


class SaveDialog:
    """QFileDialog.getSaveFileName, patched: records where it started and answers with `answer`."""

    def __init__(self) -> None:
        self.started_at: list[str] = []
        self.answer = ""

    def __call__(self, _parent, _title, start, _filter="", *a, **k):
        self.started_at.append(start)
        return self.answer, ""


def test_dialogs_start_in_the_last_folder_with_a_suggested_name(qtbot, tmp_path, person_photo, standing_pose,
                                                               monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = photos / "beach.png"
    save_image(photo, person_photo)
    dialog = SaveDialog()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", dialog)
    window = MainWindow(None)
    qtbot.addWidget(window)
    assert window.open_photo(photo, source_pose=standing_pose)

    exports = tmp_path / "exports"
    exports.mkdir()
    dialog.answer = str(exports / "mine.json")
    window.save_pose_dialog(openpose=False)
    assert dialog.started_at[-1] == str(photos / "beach_pose.json"), "first time: the photo's folder"
    assert (exports / "mine.json").is_file()
    window.save_pose_dialog(openpose=True)
    assert dialog.started_at[-1] == str(exports / "beach_openpose.json"), "then the folder last used"

    dialog.answer = ""
    assert window._ask_image_path("Export result", "_reposed.png") is None
    assert dialog.started_at[-1] == str(photos / "beach_reposed.png")
    window.save_session_as()
    assert dialog.started_at[-1] == str(photos / "beach.posesession")
    window.close()

    # the next run remembers the recent photo and the folders (in QSettings, here inside tmp_path)
    again = MainWindow(None)
    qtbot.addWidget(again)
    assert again.recent_files() == [str(photo)]
    assert [a.text() for a in again.recent_menu.actions()] == [str(photo)]
    assert again.open_photo(photo, source_pose=standing_pose)
    again.save_pose_dialog(openpose=False)
    assert dialog.started_at[-1] == str(exports / "beach_pose.json")
    assert settings.app_settings().fileName().startswith(str(tmp_path / "settings")), "isolated per test"
    assert Path(settings.app_settings().fileName()).is_file()
    again.close()


def test_start_path_without_history_or_photo(tmp_path):
    assert settings.start_path("export", "x.png") == "x.png"
    settings.remember_folder("export", tmp_path)
    assert settings.start_path("export", "x.png") == str(tmp_path / "x.png")
    settings.remember_folder("export", tmp_path / "gone")
    assert settings.start_path("export", "x.png", Path("/photos/p.png")) == str(Path("/photos") / "x.png")
