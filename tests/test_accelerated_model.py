"""Speed levers must not change the picture: the shipped model with each onnxruntime session lever
($POSEEDITOR_ORT_OPTIONS, docs/editor.md "Speed levers measured") and with the default ones renders the bundled
sample within 0.002 L1 and 0.005 SSIM of the same model without any ("none"), on the same inputs (issue 14)."""

from pathlib import Path

import numpy as np
import pytest

from poseeditor.engine import load_engine
from poseeditor.image_io import load_image, to_uint8
from poseeditor.onnx_session import ORT_LEVERS
from poseeditor.pose_io import load_pose
from poseeditor.resources import default_model_dir, resource_path
from trainer.photo_metrics import ssim_map

L1_TOLERANCE = 0.002
SSIM_TOLERANCE = 0.005


def render_sample(monkeypatch, levers: str) -> np.ndarray:
    monkeypatch.setenv("POSEEDITOR_ORT_OPTIONS", levers)
    photo = load_image(resource_path("samples", "sample.jpg"))
    source = load_pose(resource_path("samples", "sample.pose.json"))
    engine = load_engine(None, backend="onnx")
    state = engine.prepare_source(photo, source)
    xy = source.xy.copy()
    xy[4] = xy[2] + [0, -80]  # right wrist up
    result = engine.render(state, source.with_xy(xy))
    return np.concatenate([result.output, result.foreground, result.mask[..., None].repeat(3, -1)], axis=1)


@pytest.fixture(scope="module")
def reference():
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("POSEEDITOR_MODEL", raising=False)
        if not (default_model_dir() / "model.json").is_file():
            pytest.skip("no model shipped in resources/models/default")
        return render_sample(monkeypatch, "none")  # the plain session


@pytest.mark.parametrize("levers", ["", *ORT_LEVERS, "batch1,ftz"])  # "": the default (GENERATOR_LEVERS)
def test_each_lever_keeps_the_output_within_tolerance(monkeypatch, reference, levers):
    monkeypatch.delenv("POSEEDITOR_MODEL", raising=False)
    accelerated = render_sample(monkeypatch, levers)
    l1 = float(np.abs(accelerated - reference).mean())
    ssim = float(ssim_map(to_uint8(accelerated), to_uint8(reference)).mean())
    assert l1 <= L1_TOLERANCE, (levers, l1)
    assert 1.0 - ssim <= SSIM_TOLERANCE, (levers, ssim)


TENNIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "posewarp-tennis"


@pytest.mark.skipif(not TENNIS.is_dir(), reason="posewarp-tennis fixture not present")
def test_the_drag_time_render_scores_within_tolerance_of_the_full_size_one(monkeypatch):
    """The shipped model's drag-time render (target stage at Engine.preview_size) against its full-size render, on
    all 56 ordered pairs of the real tennis frames: the crop's L1/SSIM against the true target frame (whole crop
    and the target person's box) and the photo composite's edit-region L1/SSIM at full resolution move by at most
    L1_TOLERANCE / SSIM_TOLERANCE (docs/drag_speed.md)."""
    from trainer.photo_eval import all_pairs, edit_grow_px, load_frames
    from trainer.photo_metrics import photo_metrics

    monkeypatch.delenv("POSEEDITOR_MODEL", raising=False)
    monkeypatch.delenv("POSEEDITOR_DRAG_PREVIEW", raising=False)
    if not (default_model_dir() / "model.json").is_file():
        pytest.skip("no model shipped in resources/models/default")
    engine = load_engine(None, backend="onnx")
    assert engine.preview_size, "the shipped model's ONNX has fixed spatial axes: re-export it (docs/drag_speed.md)"
    frames, _ = load_frames(TENNIS, with_detector=False)
    scores: dict[str, dict[str, list[float]]] = {"full": {}, "drag": {}}
    state_of, layers_of = {}, {}
    for v, i, j in all_pairs(frames):
        source, target = frames[v][i], frames[v][j]
        if (v, i) not in state_of:
            state_of[(v, i)] = engine.prepare_source(source.photo, source.pose)
            layers_of[(v, i)] = engine.prepare_photo(source.photo, state_of[(v, i)])
        state = state_of[(v, i)]
        truth_crop = state.crop.cut(target.photo).astype(np.float32) / 255.0
        box_xy = state.crop.to_crop(target.pose.xy)
        x0, y0 = np.clip(np.floor(box_xy.min(0)).astype(int), 0, engine.size)
        x1, y1 = np.clip(np.ceil(box_xy.max(0)).astype(int) + 1, 0, engine.size)
        for name, preview in (("full", False), ("drag", True)):
            result = engine.render(state, target.pose, preview=preview)
            assert (result.preview_size is not None) == preview
            photo = engine.compose_photo(layers_of[(v, i)], result).image
            full_res = photo_metrics(photo, target.photo, source.person, target.person, edit_grow_px(target.pose))
            crop = {
                "crop_l1": float(np.abs(result.output - truth_crop).mean()),
                "crop_ssim": float(ssim_map(to_uint8(result.output), to_uint8(truth_crop)).mean()),
                "box_l1": float(np.abs(result.output - truth_crop)[y0:y1, x0:x1].mean()),
                "edit_l1": full_res["edit_l1"],
                "edit_ssim": full_res["edit_ssim"],
            }
            for metric, value in crop.items():
                scores[name].setdefault(metric, []).append(value)
    for metric in scores["full"]:
        full, drag = np.mean(scores["full"][metric]), np.mean(scores["drag"][metric])
        tolerance = SSIM_TOLERANCE if "ssim" in metric else L1_TOLERANCE
        assert abs(drag - full) <= tolerance, (metric, full, drag)
