"""The drag-time preview (issue 14, docs/drag_speed.md): while a drag is going on the warp and the target network
run at a smaller side; the result is in the crop's size and frame, the photo composite moves the photo's pixels
exactly as a full-size render does, and models whose ONNX graphs have fixed spatial axes render at full size."""

from __future__ import annotations

import numpy as np
import pytest

from poseeditor.engine import load_engine
from poseeditor.engine.preview import (
    PREVIEW_VARIABLE,
    preview_side,
    preview_transforms,
    size_step,
    to_preview_xy,
)


def test_preview_side_is_a_multiple_of_the_step_and_smaller():
    assert preview_side(256, 32) == 160
    assert preview_side(64, 8) == 40
    assert preview_side(32, 32) is None  # nothing smaller to run at
    assert size_step({"segmentation": {"widths": [1] * 5, "stem_stride": 2},
                      "background": {"widths": [1] * 4, "stem_stride": 1},
                      "foreground": {"widths": [1] * 5, "stem_stride": 2}}) == 32
    assert size_step({}) is None


@pytest.mark.parametrize("scale", [2.0, 1.6])
def test_preview_transforms_are_the_full_size_ones_in_preview_pixels(scale):
    rng = np.random.default_rng(1)
    transforms = rng.normal(size=(10, 2, 3))
    points = rng.uniform(0, 100, size=(7, 2))  # preview pixels
    small = preview_transforms(transforms, scale).astype(np.float64)
    full = points * scale + (scale - 1) / 2  # the same points in full-size pixels
    for m, mp in zip(transforms, small):
        mapped_full = full @ m[:, :2].T + m[:, 2]
        mapped_small = points @ mp[:, :2].T + mp[:, 2]
        np.testing.assert_allclose(to_preview_xy(mapped_full, scale), mapped_small, atol=1e-4)


def test_a_drag_time_render_is_smaller_inside_but_in_the_crops_size_and_frame(random_model_dir, person_photo,
                                                                             standing_pose, arm_up_pose):
    engine = load_engine(str(random_model_dir), backend="onnx")
    assert engine.preview_size == 40  # the tiny 64² test model: 0.625 of the side, a multiple of its step 8
    assert engine.info["drag_size"] == 40
    state = engine.prepare_source(person_photo, standing_pose)
    full = engine.render(state, arm_up_pose)
    quick = engine.render(state, arm_up_pose, preview=True)
    assert full.preview_size is None and quick.preview_size == 40
    assert quick.warped_planes.shape[-1] == 40 and quick.target_heatmaps.shape[-1] == 40
    for name in ("output", "foreground", "mask"):
        assert getattr(quick, name).shape == getattr(full, name).shape, name
    # the geometry the photo composite uses is the full-size render's, exactly
    np.testing.assert_array_equal(quick.transforms, full.transforms)
    np.testing.assert_array_equal(quick.target_xy, full.target_xy)
    # every intermediate is shown at the crop's size
    assert {im.shape[0] for im in quick.intermediates().values()} == {64}
    # reuse across renders of one side only: a preview lends nothing to a full render and vice versa
    again = engine.render(state, arm_up_pose, previous=quick)
    np.testing.assert_array_equal(again.output, full.output)
    quick_again = engine.render(state, arm_up_pose, previous=quick, preview=True)
    np.testing.assert_array_equal(quick_again.output, quick.output)


def test_the_preview_can_be_switched_off(random_model_dir, person_photo, standing_pose, arm_up_pose, monkeypatch):
    monkeypatch.setenv(PREVIEW_VARIABLE, "off")
    engine = load_engine(str(random_model_dir), backend="onnx")
    assert engine.preview_size is None
    monkeypatch.setenv(PREVIEW_VARIABLE, "16")
    assert load_engine(str(random_model_dir), backend="onnx").preview_size == 16


def test_a_model_with_fixed_size_onnx_still_loads_and_renders_at_full_size(tmp_path, person_photo, standing_pose,
                                                                           arm_up_pose):
    torch = pytest.importorskip("torch")
    from models.artifact import save_generator
    from models.config import get_config
    from models.generator import PoseWarpGenerator
    from models.onnx_export import export_onnx

    torch.manual_seed(0)
    model = PoseWarpGenerator(get_config("tiny", 64)).eval()
    save_generator(model, tmp_path, {"note": "tests"})
    export_onnx(model, tmp_path, dynamic_size=False)  # what every model exported before issue 14 has
    engine = load_engine(str(tmp_path), backend="onnx")
    assert engine.preview_size is None
    state = engine.prepare_source(person_photo, standing_pose)
    result = engine.render(state, arm_up_pose, preview=True)  # asked for, but the graph cannot: full size
    assert result.preview_size is None
    np.testing.assert_array_equal(result.output, engine.render(state, arm_up_pose).output)
