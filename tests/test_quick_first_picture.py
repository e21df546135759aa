"""The first picture of a freshly opened photo (issue 14, docs/drag_speed.md "Open → first render"): the source stage
runs at the drag-time side first (the fixed-size source graph given symbolic spatial axes in memory), its drag-time
render is shown, and the full-size render follows at once; the settled result and every export are unchanged."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from poseeditor.engine import load_engine
from poseeditor.engine.engine import FIRST_PICTURE_VARIABLE
from poseeditor.engine.onnx_side import has_fixed_side, symbolic_side_or_same, with_symbolic_side
from poseeditor.resources import default_model_dir


def _source_feeds(side: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"image": rng.uniform(-1, 1, (1, 3, side, side)).astype(np.float32),
            "source_heatmaps": rng.uniform(0, 1, (1, 14, side, side)).astype(np.float32),
            "prior": rng.uniform(0.05, 1, (1, 11, side, side)).astype(np.float32)}


def test_the_rewritten_source_graph_runs_at_other_sides_and_is_bit_identical_at_its_own(random_model_dir):
    ort = pytest.importorskip("onnxruntime")
    path = random_model_dir / "source.onnx"
    exported = ort.InferenceSession(str(path))
    assert has_fixed_side(exported)  # exported with fixed axes (64² for the tiny test model)
    rewritten = ort.InferenceSession(with_symbolic_side(path.read_bytes(), 64))
    assert not has_fixed_side(rewritten)
    assert [i.shape[2:] for i in rewritten.get_inputs()] == [["side", "side"]] * 3
    feeds = _source_feeds(64)
    for a, b in zip(exported.run(None, feeds), rewritten.run(None, feeds)):
        np.testing.assert_array_equal(a, b)
    part_masks, background = rewritten.run(None, _source_feeds(40))
    assert part_masks.shape == (1, 11, 40, 40) and background.shape == (1, 3, 40, 40)
    # the same with the onnx package's own reading of the rewritten model, when it is installed
    onnx = pytest.importorskip("onnx")
    model = onnx.load_from_string(with_symbolic_side(path.read_bytes(), 64))
    assert len(model.graph.value_info) == 0
    assert len(model.graph.initializer) == len(onnx.load(str(path)).graph.initializer)


def test_a_graph_without_that_side_is_left_alone(random_model_dir):
    data = (random_model_dir / "source.onnx").read_bytes()
    with pytest.raises(ValueError):
        with_symbolic_side(data, 128)
    assert symbolic_side_or_same(data, 128) is data
    once = with_symbolic_side(data, 64)
    assert symbolic_side_or_same(once, 64) is once  # already symbolic


def test_the_shipped_models_source_stage_is_bit_identical_through_the_rewritten_graph():
    ort = pytest.importorskip("onnxruntime")
    from poseeditor.image_io import load_image
    from poseeditor.pose_io import load_pose
    from poseeditor.resources import sample_photo

    folder = default_model_dir()
    if folder is None or not (folder / "source.onnx").is_file():
        pytest.skip("no shipped model")
    engine = load_engine(str(folder), backend="onnx")
    photo_path = sample_photo()
    photo = load_image(photo_path)
    pose = load_pose(photo_path.with_name(photo_path.stem + ".pose.json"), image_size=(photo.shape[1], photo.shape[0]))
    state = engine.prepare_source(photo, pose)
    exported = ort.InferenceSession(str(folder / "source.onnx"))
    part_masks, background = exported.run(["part_masks", "background"], {
        "image": state.image[None], "source_heatmaps": state.source_heatmaps[None], "prior": state.prior[None]})
    np.testing.assert_array_equal(state.part_masks, part_masks[0])
    if engine.background_mode == "network":
        np.testing.assert_array_equal(state.background, background[0])


def test_a_quick_source_renders_at_the_drag_time_side_in_the_crops_size(random_model_dir, person_photo,
                                                                       standing_pose, arm_up_pose):
    engine = load_engine(str(random_model_dir), backend="onnx")
    assert engine.backend.dynamic_source and engine.quick_size == engine.preview_size == 40
    full_state = engine.prepare_source(person_photo, standing_pose)
    quick = engine.prepare_quick_source(person_photo, standing_pose, crop=full_state.crop)
    assert quick.quick and quick.crop is full_state.crop
    assert quick.preview.size == 40 and quick.preview.layers.shape == (10, 4, 40, 40)
    assert quick.image.shape == (3, 40, 40)  # the source network ran at 40², not 64²
    assert quick.background_unit.shape == (64, 64, 3) and quick.part_masks.shape == (11, 64, 64)
    result = engine.render(quick, arm_up_pose)  # a quick source always renders at its side
    assert result.quick and result.preview_size == 40
    full = engine.render(full_state, arm_up_pose)
    assert not full.quick
    assert result.output.shape == full.output.shape
    np.testing.assert_array_equal(result.transforms, full.transforms)  # the photo's geometry is the full one's
    # a rough likeness of the full render, not noise (random weights: loose)
    assert np.abs(result.output - full.output).mean() < 0.25


def test_the_quick_first_picture_can_be_switched_off_and_needs_dynamic_graphs(random_model_dir, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv(FIRST_PICTURE_VARIABLE, "full")
    assert load_engine(str(random_model_dir), backend="onnx").quick_size is None
    monkeypatch.delenv(FIRST_PICTURE_VARIABLE)
    torch = pytest.importorskip("torch")
    from models.artifact import save_generator
    from models.config import get_config
    from models.generator import PoseWarpGenerator
    from models.onnx_export import export_onnx

    torch.manual_seed(0)
    model = PoseWarpGenerator(get_config("tiny", 64)).eval()
    save_generator(model, tmp_path, {"note": "tests"})
    export_onnx(model, tmp_path, dynamic_size=False)  # a model exported before issue 14
    engine = load_engine(str(tmp_path), backend="onnx")
    assert engine.quick_size is None and not engine.backend.dynamic_source


# ------------------------------------------------------------------------------------------------- the editor
@pytest.fixture
def _ui(tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    pg = pytest.importorskip("pyqtgraph")
    pg.setConfigOptions(mouseRateLimit=-1)
    monkeypatch.setenv("POSEEDITOR_RECOVERY_DIR", str(tmp_path / "appdata"))
    yield
    gc.collect()


@pytest.fixture
def photo_file(tmp_path, person_photo):
    from poseeditor.image_io import save_image

    path = tmp_path / "person.png"
    save_image(path, person_photo)
    return path


def _open_and_collect(qtbot, model_dir, photo_file, pose):
    from tests.test_ui import open_window, wait_for_render_of

    window = open_window(qtbot, model_dir, recovery=False)
    qtbot.waitUntil(lambda: window.engine_info is not None, timeout=60_000)  # the model loads at launch
    shown = []
    window.resultShown.connect(lambda outcome, _lat: shown.append(outcome))
    assert window.open_photo(photo_file, source_pose=pose)
    wait_for_render_of(qtbot, window, pose)
    return window, shown


def test_opening_shows_a_drag_time_picture_first_then_the_unchanged_full_size_render(_ui, qtbot, random_model_dir,
                                                                                     photo_file, person_photo,
                                                                                     standing_pose):
    window, shown = _open_and_collect(qtbot, random_model_dir, photo_file, standing_pose)
    assert shown[0].result.quick and shown[0].result.preview_size == 40 and not shown[0].refined
    settled = window.last_outcome
    assert settled.result.preview_size is None and not settled.result.quick
    assert settled.refined  # the refinement of the first picture is not counted as a drag latency
    assert len(window.latencies_ms) == 1
    # the settled render is the one the engine makes without any first picture, bit for bit
    engine = load_engine(str(random_model_dir), backend="onnx")
    expected = engine.render(engine.prepare_source(person_photo, standing_pose), standing_pose)
    np.testing.assert_array_equal(settled.result.output, expected.output)
    np.testing.assert_array_equal(settled.result.part_masks, expected.part_masks)
    # an export asked for while only the first picture was shown gets the full-size render
    again = window.worker.full_size_result(shown[0])
    assert again.preview_size is None and not again.quick
    np.testing.assert_array_equal(again.output, expected.output)
    window.close()


def test_with_the_quick_picture_off_the_first_render_is_full_size(_ui, qtbot, random_model_dir, photo_file,
                                                                 standing_pose, monkeypatch):
    monkeypatch.setenv(FIRST_PICTURE_VARIABLE, "full")
    window, shown = _open_and_collect(qtbot, random_model_dir, photo_file, standing_pose)
    assert shown[0].result.preview_size is None and not shown[0].result.quick
    window.close()


def test_an_export_before_the_full_source_stage_makes_it(random_model_dir, person_photo, standing_pose):
    pytest.importorskip("PySide6")
    from poseeditor.ui.render_worker import RenderOutcome, RenderWorker

    worker = RenderWorker(str(random_model_dir))  # not started: the full source stage has not run
    engine = worker.engine = load_engine(str(random_model_dir), backend="onnx")
    worker._state_photo, worker._state_pose = person_photo, standing_pose
    quick_state = engine.prepare_quick_source(person_photo, standing_pose)
    quick = engine.render(quick_state, standing_pose, preview=True)
    outcome = RenderOutcome(1, 1, standing_pose, quick, np.zeros((64, 64, 3), np.uint8), 0.0, 0.0)
    result = worker.full_size_result(outcome)
    expected = engine.render(engine.prepare_source(person_photo, standing_pose), standing_pose)
    assert result.preview_size is None and not result.quick
    np.testing.assert_array_equal(result.output, expected.output)
