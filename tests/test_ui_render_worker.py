"""The render worker's drag-time scheduling: the intermediates grid is left out while poses keep coming and is
rebuilt for the last pose once the drag settles."""

from __future__ import annotations

import gc

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")

from poseeditor.image_io import save_image
from poseeditor.ui import render_worker
from poseeditor.montage import TILE, tile_images
from poseeditor.ui.render_worker import grid_due_while_busy
from tests.test_ui import RENDER_TIMEOUT_MS, mouse_drag, open_window, wait_for_render_of


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    pg.setConfigOptions(mouseRateLimit=-1)  # pyqtgraph would drop our quick synthetic moves
    monkeypatch.setenv("POSEEDITOR_RECOVERY_DIR", str(tmp_path / "appdata"))
    yield
    gc.collect()  # this test's Qt objects go now, not inside a later test's Qt call (see test_ui.py)


@pytest.fixture(scope="session")
def model_dir(request):
    return request.getfixturevalue("random_model_dir")


@pytest.fixture
def photo_file(tmp_path, person_photo):
    path = tmp_path / "person.png"
    save_image(path, person_photo)
    return path


def test_grid_waits_for_the_interval_since_the_drag_began_and_since_the_last_grid():
    # a drag that began 0.3 s ago builds no grid, however old the last one is
    assert not grid_due_while_busy(now=10.3, last_grid_at=0.0, busy_since=10.0, interval=1.0)
    # one second into the drag it does
    assert grid_due_while_busy(now=11.0, last_grid_at=0.0, busy_since=10.0, interval=1.0)
    # and then not again until a second after that grid
    assert not grid_due_while_busy(now=11.5, last_grid_at=11.0, busy_since=10.0, interval=1.0)
    assert grid_due_while_busy(now=12.01, last_grid_at=11.0, busy_since=10.0, interval=1.0)


def test_grid_is_rebuilt_for_the_last_pose_once_the_drag_settles(qtbot, model_dir, photo_file, standing_pose,
                                                                 monkeypatch):
    monkeypatch.setattr(render_worker, "GRID_DRAG_INTERVAL_S", 1e9)  # no grid at all while poses keep coming
    window = open_window(qtbot, model_dir, photo_file, standing_pose, recovery=False)
    wait_for_render_of(qtbot, window, standing_pose)
    qtbot.waitUntil(lambda: window.montage_request_id == window.last_outcome.request_id, timeout=RENDER_TIMEOUT_MS)
    first_grid = window.intermediates.montage.image.copy()

    view = window.photo_view
    start = view.joint_view_position(4)
    mouse_drag(qtbot, view.viewport(), start, start + type(start)(-40, -60), steps=20)
    dragged = window.document.target_pose
    assert dragged != standing_pose
    wait_for_render_of(qtbot, window, dragged)
    # the grid follows the last render once the poses stop, whatever was skipped during the drag
    qtbot.waitUntil(lambda: window.montage_request_id == window.last_outcome.request_id, timeout=RENDER_TIMEOUT_MS)
    montage = window.intermediates.montage
    assert not np.array_equal(montage.image, first_grid)
    tile = next(t for t in montage.tiles if t.name == "output")
    expected = tile_images(window.last_outcome.result)["output"]
    shown = montage.image[tile.y: tile.y + TILE, tile.x: tile.x + TILE].astype(np.float32) / 255.0
    np.testing.assert_allclose(shown, expected, atol=1 / 255 + 1e-6)
    window.close()


def test_exemplar_fill_runs_off_the_gui_and_worker_threads_and_is_cached(qtbot, model_dir, photo_file, standing_pose,
                                                                          arm_up_pose, monkeypatch):
    import threading

    from poseeditor.engine import photo_fill

    threads: list[str] = []

    def recording_fill(photo, hole, seed=0):
        threads.append(threading.current_thread().name)
        return photo_fill.fast_fill(photo, hole)

    monkeypatch.setattr(photo_fill, "exemplar_fill", recording_fill)
    monkeypatch.setattr(render_worker, "FILL_CACHE", photo_fill.FillCache())
    monkeypatch.setattr(photo_fill, "FILL_CACHE", render_worker.FILL_CACHE)
    window = open_window(qtbot, model_dir, photo_file, standing_pose, recovery=False)
    window.result_panel.tabs.setCurrentIndex(1)  # the full-photo tab: composites follow every render
    with qtbot.waitSignal(window.worker.fillReady, timeout=RENDER_TIMEOUT_MS):
        window.document.set_target(arm_up_pose, "raise arm")
    assert threads and all(name.startswith("poseeditor-fill") for name in threads)
    qtbot.waitUntil(lambda: window.last_pasted is not None, timeout=RENDER_TIMEOUT_MS)
    # the grid shows the photo side: person mask, hole, fill
    qtbot.waitUntil(lambda: window.last_outcome.result.photo_intermediates is not None, timeout=RENDER_TIMEOUT_MS)
    assert {"person_mask", "hole", "fill", "photo_result"} <= set(window.last_outcome.result.intermediates())
    # The same photo and source again: the fill comes from the cache, no second computation.
    calls = len(threads)
    window._send_source()
    qtbot.waitUntil(lambda: window.worker._layers is not None and window.worker._layers.fill_kind == "exemplar",
                    timeout=RENDER_TIMEOUT_MS)
    assert len(threads) == calls


def test_a_photo_larger_than_the_preview_gets_its_full_resolution_side_made_in_the_background(
        qtbot, model_dir, photo_file, standing_pose, arm_up_pose, monkeypatch, tmp_path):
    from poseeditor.engine import photo_fill
    from poseeditor.image_io import load_image

    monkeypatch.setattr(render_worker, "PREVIEW_MAX_SIDE", 150)  # the 200×300 photo is "large"
    monkeypatch.setattr(photo_fill, "exemplar_fill", lambda photo, hole, seed=0: photo_fill.fast_fill(photo, hole))
    window = open_window(qtbot, model_dir, photo_file, standing_pose, recovery=False)
    window.result_panel.tabs.setCurrentIndex(1)
    window.document.set_target(arm_up_pose, "raise arm")
    qtbot.waitUntil(lambda: window.last_pasted is not None and window.last_pasted.shape == (150, 100, 3),
                    timeout=RENDER_TIMEOUT_MS)  # the live view: the preview copy
    result = window.last_outcome.result
    qtbot.waitUntil(lambda: window.worker.full_photo_layers(result.crop) is not None, timeout=RENDER_TIMEOUT_MS)
    assert window.worker.full_photo_layers(result.crop).photo.shape == (300, 200, 3)
    out = tmp_path / "result.png"
    assert window.export_result(out)
    assert load_image(out).shape == (300, 200, 3)  # the export is at the photo's own resolution


def test_whole_photo_animation_frames_are_photo_true_composites(qtbot, model_dir, photo_file, standing_pose,
                                                                arm_up_pose, tmp_path, monkeypatch):
    from PIL import Image

    from poseeditor.engine import photo_fill

    monkeypatch.setattr(photo_fill, "exemplar_fill", lambda photo, hole, seed=0: photo_fill.fast_fill(photo, hole))
    window = open_window(qtbot, model_dir, photo_file, standing_pose, recovery=False)
    window.document.set_target(arm_up_pose, "raise arm")
    qtbot.waitUntil(lambda: window.last_outcome is not None and window.last_outcome.pose == arm_up_pose,
                    timeout=RENDER_TIMEOUT_MS)
    out = tmp_path / "anim.gif"
    assert window.export_animation(out, frames_per_segment=3, fps=5.0, full_photo=True)
    with Image.open(out) as gif:
        frames = [np.asarray(frame.convert("RGB")) for frame in _gif_frames(gif)]
    assert len(frames) >= 3 and frames[0].shape == (300, 200, 3)
    # The first frame is the source pose: no part moved, so it is the photo itself (up to the GIF's palette).
    photo = np.asarray(Image.open(photo_file).convert("RGB")).astype(int)
    assert np.abs(frames[0].astype(int) - photo).mean() < 6.0
    assert np.abs(frames[-1].astype(int) - photo).mean() > np.abs(frames[0].astype(int) - photo).mean()


def _gif_frames(gif):
    from PIL import ImageSequence

    return [frame.copy() for frame in ImageSequence.Iterator(gif)]


def test_fills_wait_while_a_drag_is_going_on(qtbot, person_photo, standing_pose):
    from concurrent.futures import Future

    from poseeditor.engine.photo_composite import prepare_photo
    from poseeditor.geometry import crop_for_poses
    from poseeditor.priors import segmentation_prior

    crop = crop_for_poses(standing_pose, size=64)
    prior = segmentation_prior(crop.to_crop(standing_pose.xy), standing_pose.visible, 64)
    layers = prepare_photo(person_photo, crop, prior / prior.sum(axis=0), standing_pose.xy, standing_pose.visible)
    worker = render_worker.RenderWorker()
    submitted: list[object] = []
    worker._fill_pool.submit = lambda fn, *a, **k: submitted.append(fn) or Future()  # type: ignore[method-assign]
    state = object()
    worker._state, worker._state_photo, worker._state_pose = state, person_photo, standing_pose
    done: Future = Future()
    done.set_result((layers, None))

    worker._busy_since = 1.0  # poses keep coming: the photo side arrives mid-drag
    worker._photo_side_done("side", state, done)
    assert worker._layers is layers and submitted == []  # no fill competes with the drag
    worker._busy_since = None  # the drag paused (what _finish sees)
    worker._start_fills()
    assert len(submitted) == 1
    worker._start_fills()
    assert len(submitted) == 1  # once per photo side
    worker._fill_pool.shutdown(wait=False)


def test_a_drag_renders_at_the_drag_time_side_and_the_pause_renders_full_size(qtbot, model_dir, photo_file,
                                                                               standing_pose):
    window = open_window(qtbot, model_dir, photo_file, standing_pose, recovery=False)
    wait_for_render_of(qtbot, window, standing_pose)
    assert window.last_outcome.result.preview_size is None  # a photo's first render is full size
    preview = window.worker.engine.preview_size
    assert preview is not None and preview < window.worker.engine.size
    outcomes = []
    window.resultShown.connect(lambda outcome, _latency: outcomes.append(outcome))
    shown_before = len(window.latencies_ms)
    view = window.photo_view
    start = view.joint_view_position(4)
    mouse_drag(qtbot, view.viewport(), start, start + type(start)(-40, -60), steps=20)
    dragged = window.document.target_pose
    # after the pause the last pose is shown again, rendered at full size
    qtbot.waitUntil(lambda: outcomes and outcomes[-1].refined and outcomes[-1].pose == dragged,
                    timeout=RENDER_TIMEOUT_MS)
    assert any(o.result.preview_size == preview for o in outcomes)  # while the poses kept coming
    final = window.last_outcome
    assert final.result.preview_size is None
    np.testing.assert_array_equal(final.result.output, window.worker.engine.render(
        window.worker._state, dragged).output)
    # the re-render answers no pose change: it is not counted as drag latency
    assert len(window.latencies_ms) - shown_before == sum(not o.refined for o in outcomes)
    window.close()


def test_an_export_right_after_a_drag_time_render_is_made_at_full_size(qtbot, model_dir, photo_file, standing_pose,
                                                                        arm_up_pose):
    window = open_window(qtbot, model_dir, photo_file, standing_pose, recovery=False)
    wait_for_render_of(qtbot, window, standing_pose)
    worker = window.worker
    engine = worker.engine
    quick = engine.render(worker._state, arm_up_pose, preview=True)
    outcome = render_worker.RenderOutcome(0, window._photo_id, arm_up_pose, quick, quick.output, 0.0, 0.0)
    full = worker.full_size_result(outcome)
    assert quick.preview_size is not None and full.preview_size is None
    np.testing.assert_array_equal(full.output, engine.render(worker._state, arm_up_pose).output)
    window.close()
