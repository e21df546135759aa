"""The editor window, headless (QT_QPA_PLATFORM=offscreen) with real mouse events and a real (random) model.

POSEEDITOR_TEST_MODEL=DIR runs these against a given model folder instead of a freshly built random one.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")
from PIL import Image  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from poseeditor.image_io import save_image  # noqa: E402
from poseeditor.pose_io import save_pose  # noqa: E402
from poseeditor.engine import read_model_json  # noqa: E402
from poseeditor.presets import bone_lengths  # noqa: E402
from poseeditor.ui.main_window import MainWindow  # noqa: E402
from poseeditor.ui.panels import EnlargedView  # noqa: E402

RENDER_TIMEOUT_MS = 60_000


def isolate_settings(tmp_path: Path) -> None:
    """QSettings (recent files, last folders) in this test's own folder, never the user's."""
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                             str(tmp_path / "settings"))


@pytest.fixture(scope="session")
def model_dir(request) -> Path:
    given = os.environ.get("POSEEDITOR_TEST_MODEL")
    if given:
        return Path(given)
    return request.getfixturevalue("random_model_dir")  # skips, saying why, while models/ cannot build one


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    pg.setConfigOptions(mouseRateLimit=-1)  # pyqtgraph would drop our quick synthetic moves
    monkeypatch.setenv("POSEEDITOR_RECOVERY_DIR", str(tmp_path / "appdata"))
    isolate_settings(tmp_path)
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical", lambda _p, title, text, *a, **k: errors.append((title, text)))
    # A close with unsaved edits asks Save/Discard/Cancel: these tests throw their edits away.
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Discard)
    yield errors
    # Destroy this test's Qt objects now, at a safe point. Left to a later automatic collection they can be freed
    # from inside a Qt signal connect/disconnect of the next test, whose destructor then waits for the mutex that
    # call holds: the suite hung so once (py-spy: QObject::disconnect -> gc -> ~QObject -> QBasicMutex::lock).
    gc.collect()


@pytest.fixture
def dialogs(_isolated):
    return _isolated


@pytest.fixture
def photo_file(tmp_path, person_photo) -> Path:
    path = tmp_path / "person.png"
    save_image(path, person_photo)
    return path


def open_window(qtbot, model, photo_file=None, pose=None, recovery=True) -> MainWindow:
    window = MainWindow(str(model), recovery=recovery)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    if photo_file is not None:
        assert window.open_photo(photo_file, source_pose=pose)
    return window


def wait_for_render_of(qtbot, window: MainWindow, pose) -> None:
    def rendered() -> None:
        if window.engine_problem:
            pytest.fail(f"the model did not load: {window.engine_problem}")
        assert window.last_outcome is not None and window.last_outcome.pose == pose
        # the settled render: a drag's drag-time renders are followed by one at full size (docs/drag_speed.md)
        assert window.last_outcome.result.preview_size is None

    qtbot.waitUntil(rendered, timeout=RENDER_TIMEOUT_MS)


def wait_until_idle(qtbot, window: MainWindow) -> None:
    """Until the background work (finding the person, reading a pose file) is back."""
    qtbot.waitUntil(lambda: not window.busy, timeout=RENDER_TIMEOUT_MS)


def mouse_drag(qtbot, widget: QtWidgets.QWidget, start: QtCore.QPoint, end: QtCore.QPoint, steps: int = 12,
               modifiers=QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    """Press, move in steps with the button held, release: real QMouseEvents on the view's viewport."""
    qtbot.mousePress(widget, QtCore.Qt.MouseButton.LeftButton, modifiers, start)
    for k in range(1, steps + 1):
        p = QtCore.QPointF(start + (end - start) * (k / steps))
        event = QtGui.QMouseEvent(
            QtCore.QEvent.Type.MouseMove, p, QtCore.QPointF(widget.mapToGlobal(p)),
            QtCore.Qt.MouseButton.NoButton, QtCore.Qt.MouseButton.LeftButton, modifiers,
        )
        QtWidgets.QApplication.sendEvent(widget, event)
        qtbot.wait(5)
    qtbot.mouseRelease(widget, QtCore.Qt.MouseButton.LeftButton, modifiers, end)


def test_drag_a_wrist_renders_and_undo_restores(qtbot, model_dir, photo_file, standing_pose):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    wait_for_render_of(qtbot, window, standing_pose)
    before = window.last_outcome.result
    before_output, before_layers = before.output.copy(), before.warped_layers.copy()
    qtbot.waitUntil(lambda: window.intermediates.montage is not None, timeout=RENDER_TIMEOUT_MS)
    # the status bar names the loaded engine and says "untrained" exactly when the model's own record says so
    info, label = window.engine_info, window.backend_label.text()
    assert info is not None and str(info["backend"]) in label and f"@ {info['size']}²" in label
    training = read_model_json(model_dir)["training"]
    assert ("untrained" in label) == bool(training.get("random_weights") or training.get("steps", 1) == 0)

    view = window.photo_view
    start = view.joint_view_position(4)
    end = start + QtCore.QPoint(-40, -60)
    mouse_drag(qtbot, view.viewport(), start, end)

    dragged = window.document.target_pose
    assert not np.allclose(dragged.xy[4], standing_pose.xy[4]), "the drag did not move the wrist"
    np.testing.assert_allclose(dragged.xy[:4], standing_pose.xy[:4])  # only the wrist moved
    assert window.document.history.index == 1, "one drag must be one undo step"
    wait_for_render_of(qtbot, window, dragged)
    after = window.last_outcome.result
    assert not np.allclose(after.output, before_output)
    assert not np.allclose(after.warped_layers[2], before_layers[2])  # the R forearm layer moved
    np.testing.assert_allclose(after.warped_layers[9], before_layers[9], atol=1e-6)  # the torso did not

    window.act_undo.trigger()
    assert window.document.target_pose == standing_pose
    wait_for_render_of(qtbot, window, standing_pose)
    np.testing.assert_allclose(window.last_outcome.result.output, before_output, atol=1e-5)

    window.close()
    assert window.worker.isFinished(), "the render worker must stop when the window closes"


def test_drag_a_limb_swings_the_chain(qtbot, model_dir, photo_file, standing_pose):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    view = window.photo_view
    elbow, wrist = view.joint_view_position(3), view.joint_view_position(4)
    middle = (elbow + wrist) / 2
    mouse_drag(qtbot, view.viewport(), middle, middle + QtCore.QPoint(40, 0))
    pose = window.document.target_pose
    np.testing.assert_allclose(pose.xy[3], standing_pose.xy[3])  # the elbow is the pivot
    assert not np.allclose(pose.xy[4], standing_pose.xy[4])
    assert bone_lengths(pose)[4] == pytest.approx(bone_lengths(standing_pose)[4])
    # Shift+drag moves everything
    window.document.reset_to_source()
    head = view.joint_view_position(0)
    mouse_drag(qtbot, view.viewport(), head, head + QtCore.QPoint(30, 0),
               modifiers=QtCore.Qt.KeyboardModifier.ShiftModifier)
    shift = window.document.target_pose.xy - standing_pose.xy
    assert np.allclose(shift, shift[0]) and shift[0, 0] > 5
    window.close()


def test_keyboard_nudges_the_selected_joint(qtbot, model_dir, photo_file, standing_pose):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    window.document.select(7)
    window.activateWindow()
    window.photo_view.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is not None)
    qtbot.keyClick(window.photo_view, QtCore.Qt.Key.Key_Left)
    qtbot.keyClick(window.photo_view, QtCore.Qt.Key.Key_Left, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert window.document.target_pose.xy[7, 0] == pytest.approx(standing_pose.xy[7, 0] - 11)
    qtbot.keyClick(window.photo_view, QtCore.Qt.Key.Key_H)
    assert not window.document.target_pose.visible[7]
    window.close()


def test_exports_write_files(qtbot, model_dir, photo_file, standing_pose, arm_up_pose, tmp_path, person_photo):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    window.document.set_target(arm_up_pose, "test")
    wait_for_render_of(qtbot, window, arm_up_pose)

    assert window.export_result(tmp_path / "result.png")
    with Image.open(tmp_path / "result.png") as im:
        assert im.size == (person_photo.shape[1], person_photo.shape[0])  # the photo's own resolution
    assert window.export_result(tmp_path / "result.jpg")
    assert window.export_crop(tmp_path / "crop.png")
    size = window.engine_info["size"]
    with Image.open(tmp_path / "crop.png") as im:
        assert im.size == (size, size)
    folder = tmp_path / "inter"
    folder.mkdir()
    assert window.export_intermediates(folder)
    names = {p.name for p in folder.iterdir()}
    assert {"output.png", "warped_r_forearm.png", "source_mask_background.png", "target_pose.json"} <= names
    assert window.export_animation(tmp_path / "anim.gif", frames_per_segment=3)
    with Image.open(tmp_path / "anim.gif") as im:
        assert im.n_frames == 4
    window.document.add_keyframe()
    window.document.reset_to_source()
    assert window.export_animation(tmp_path / "anim.mp4", frames_per_segment=2)
    assert (tmp_path / "anim.mp4").stat().st_size > 0
    assert not window.export_result(tmp_path / "missing-folder" / "r.png")  # an error dialog, no crash
    window.close()


def test_corrupt_photo_shows_an_error_and_the_editor_survives(qtbot, model_dir, tmp_path, dialogs, photo_file,
                                                              standing_pose):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    window = open_window(qtbot, model_dir)
    assert not window.open_photo(bad)
    assert dialogs and dialogs[-1][0] == "Cannot open the photo"
    assert "broken.jpg" in dialogs[-1][1]
    assert window.open_photo(photo_file, source_pose=standing_pose)  # still works afterwards
    wait_for_render_of(qtbot, window, standing_pose)
    window.close()


def test_without_a_model_the_editor_still_edits(qtbot, tmp_path, photo_file, standing_pose, monkeypatch):
    monkeypatch.setenv("POSEEDITOR_MODEL", str(tmp_path / "no-model-here"))
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.resultShown, timeout=RENDER_TIMEOUT_MS):
        window.open_photo(photo_file, source_pose=standing_pose)
    qtbot.waitUntil(lambda: window.result_panel.banner.isVisible(), timeout=RENDER_TIMEOUT_MS)
    assert "No generator" in window.result_panel.banner.text()
    assert window.backend_label.text() == "model: none"
    window.document.move_joint(4, 50, 50)
    assert window.document.target_pose.xy[4].tolist() == [50, 50]
    window.close()
    assert window.worker.isFinished()


def test_intermediate_tile_enlarges(qtbot, model_dir, photo_file, standing_pose):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    wait_for_render_of(qtbot, window, standing_pose)
    qtbot.waitUntil(lambda: window.intermediates.montage is not None, timeout=RENDER_TIMEOUT_MS)
    tile = next(t for t in window.intermediates.montage.tiles if t.name == "warped_torso")
    scene = window.intermediates.view.mapViewToScene(QtCore.QPointF(tile.x + 10, tile.y + 10))
    qtbot.mouseClick(window.intermediates.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=window.intermediates.mapFromScene(scene))
    # the grid's tiles are the engine's intermediates, shrunk
    import cv2

    from poseeditor.montage import tile_images

    result = window.last_outcome.result
    small = tile_images(result, 32)
    for name, full in result.intermediates().items():
        expected = cv2.resize(np.ascontiguousarray(full), (32, 32), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(small[name], expected, atol=0.03, err_msg=name)
    views = window.findChildren(EnlargedView)
    assert len(views) == 1
    assert views[0].image_view.currentIndex == 9  # the torso is the 10th warped layer
    assert "torso" in views[0].caption.text()
    window.close()


def test_session_save_reopen_and_missing_photo(qtbot, model_dir, photo_file, standing_pose, arm_up_pose, tmp_path,
                                               dialogs, monkeypatch):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    window.document.set_target(arm_up_pose, "raise arm")
    session = tmp_path / "work.posesession"
    assert window._write_session(session)
    window.close()

    again = open_window(qtbot, model_dir)
    assert again.open_session(session)
    assert again.document.target_pose == arm_up_pose
    assert again.document.undo() and again.document.target_pose == standing_pose
    again.close()

    photo_file.rename(tmp_path / "moved.png")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    third = open_window(qtbot, model_dir)
    assert not third.open_session(session)
    assert dialogs[-1][0] == "The session's photo is missing"
    third.close()


def test_crash_recovery(qtbot, model_dir, photo_file, standing_pose, arm_up_pose, monkeypatch):
    crashed = open_window(qtbot, model_dir, photo_file, standing_pose)
    crashed.document.set_target(arm_up_pose, "raise arm")
    crashed.autosave(wait=True)
    autosave = crashed.recovery_path
    assert autosave.is_file()
    simulate_crash(crashed)

    asked: list[str] = []

    def recover(_parent, _title, text, *a, **k):
        asked.append(text)
        return QtWidgets.QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", recover)
    window = open_window(qtbot, model_dir)
    assert window.offer_recovery()
    assert "person.png" in asked[0], "the offer names the photo"
    assert window.document.target_pose == arm_up_pose
    assert not autosave.exists(), "reopened and autosaved again: the orphan is gone"
    assert window.recovery_path.is_file(), "the recovered work is in this window's own autosave at once"
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Discard)
    own = window.recovery_path
    window.close()
    assert not own.exists(), "a clean exit removes the window's autosave"


def simulate_crash(window: MainWindow) -> None:
    """What kill -9 leaves: the autosave on disk, its lock released, no clean shutdown."""
    slot = window.autosave_slot
    slot.release()
    window.autosave_slot = None
    window.recovery_enabled = False
    window.modified = False
    window.close()


def test_screenshot_hook(qtbot, model_dir, photo_file, standing_pose, arm_up_pose, tmp_path, monkeypatch):
    import poseeditor.ui.main_window as main_window_module
    from poseeditor.ui.app import main

    created: list[MainWindow] = []

    class RecordedWindow(MainWindow):
        # qtbot must own every window it did not create, or PySide6 may crash tearing them down at exit.
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)
            qtbot.addWidget(self)

    monkeypatch.setattr(main_window_module, "MainWindow", RecordedWindow)
    save_pose(tmp_path / "s.json", standing_pose)
    save_pose(tmp_path / "t.json", arm_up_pose)
    out = tmp_path / "shot.png"
    code = main([str(photo_file), "--source-pose", str(tmp_path / "s.json"), "--target-pose",
                 str(tmp_path / "t.json"), "--model", str(model_dir), "--screenshot", str(out), "--size", "900x600"])
    assert code == 0
    with Image.open(out) as im:
        assert im.size[0] >= 900 and im.size[1] >= 600
        assert len(set(np.asarray(im.convert("L")).ravel().tolist())) > 20  # not a blank window
    assert len(created) == 1
    assert created[0].last_outcome is not None and created[0].last_outcome.pose == arm_up_pose
    assert not created[0].worker.isRunning()


def test_full_photo_tab_gets_the_pasted_result(qtbot, model_dir, photo_file, standing_pose, person_photo):
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    wait_for_render_of(qtbot, window, standing_pose)
    window.result_panel.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: window.last_pasted is not None, timeout=RENDER_TIMEOUT_MS)
    assert window.last_pasted.shape == person_photo.shape
    window.close()


def test_pose_from_another_photo_and_pointing_at_the_person(qtbot, model_dir, standing_pose):
    from poseeditor.resources import sample_photo

    pytest.importorskip("poseeditor.detector")
    sample = sample_photo()
    if not sample.is_file():
        pytest.skip("no bundled sample photo")
    window = open_window(qtbot, model_dir)
    assert window.open_photo(sample)
    wait_until_idle(qtbot, window)  # detection runs off the GUI thread
    source = window.document.source_pose
    x0, y0, x1, y1 = source.box()
    assert window.pose_from_photo(sample)  # the same person's pose, retargeted: lengths stay the person's
    wait_until_idle(qtbot, window)
    np.testing.assert_allclose(bone_lengths(window.document.target_pose), bone_lengths(source), atol=1e-6)
    window.redetect_in_region(((x0 + x1) / 2, (y0 + y1) / 2, (x0 + x1) / 2, (y0 + y1) / 2))  # a click on them
    wait_until_idle(qtbot, window)
    assert window.person_message.startswith("Person detected")
    window.close()


def test_dropping_a_photo_opens_it(qtbot, model_dir, photo_file):
    window = open_window(qtbot, model_dir)
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(photo_file))])
    position = QtCore.QPointF(100, 100)
    enter = QtGui.QDragEnterEvent(position.toPoint(), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(position, QtCore.Qt.DropAction.CopyAction, mime, QtCore.Qt.MouseButton.LeftButton,
                            QtCore.Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    wait_until_idle(qtbot, window)
    assert window.document.photo_path == photo_file
    assert window.recent_files()[0] == str(photo_file.resolve())
    window.close()


def test_cancelled_animation_writes_nothing(qtbot, model_dir, photo_file, standing_pose, arm_up_pose, tmp_path):
    from poseeditor.ui.exports import AnimationJob, run_animation_job

    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    wait_for_render_of(qtbot, window, standing_pose)
    job = AnimationJob(window.worker.engine, window.document.photo, standing_pose, [standing_pose, arm_up_pose],
                       tmp_path / "a.gif", 20, 12.0, False)
    rendered_frames = job.frames

    def frames_then_cancel():  # the user presses Cancel while the third frame renders
        for k, frame in enumerate(rendered_frames()):
            if k == 2:
                job.cancel_requested = True
            yield frame

    job.frames = frames_then_cancel
    assert not run_animation_job(window, job)
    assert job.cancelled and job.error is None
    assert not (tmp_path / "a.gif").exists()
    window.close()


def test_ctrl_drag_rotates_and_scales_the_skeleton(qtbot, model_dir, photo_file, standing_pose):
    from poseeditor.joint_tree import anchor_point

    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    view = window.photo_view
    head = view.joint_view_position(0)
    centre = view.view.mapViewToScene(QtCore.QPointF(*anchor_point(standing_pose)))
    centre = view.mapFromScene(centre)
    mouse_drag(qtbot, view.viewport(), head, centre + (head - centre) * 1.5,
               modifiers=QtCore.Qt.KeyboardModifier.ControlModifier)
    pose = window.document.target_pose
    np.testing.assert_allclose(anchor_point(pose), anchor_point(standing_pose), atol=1e-6)
    ratio = bone_lengths(pose)[4] / bone_lengths(standing_pose)[4]
    assert 1.3 < ratio < 1.7  # dragged half as far again from the hips: about 1.5× bigger
    assert window.document.history.index == 1
    window.close()


def test_pointing_at_the_person_by_click(qtbot, model_dir, photo_file, standing_pose):
    pytest.importorskip("poseeditor.detector")
    window = open_window(qtbot, model_dir, photo_file, standing_pose)
    window.act_point.trigger()
    assert window.photo_view.view.picking
    qtbot.mouseClick(window.photo_view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=window.photo_view.joint_view_position(1))
    assert not window.photo_view.view.picking
    wait_until_idle(qtbot, window)
    # the drawn test figure is no real person: the detector finds nobody there and a default skeleton is placed
    assert window.person_message.startswith(("Person detected", "No person found in that region"))
    assert window.document.history.undo_label() == "Re-detect person"
    window.close()
