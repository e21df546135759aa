"""Speed levers must not change the picture: the shipped model with each onnxruntime session lever
($POSEEDITOR_ORT_OPTIONS, docs/editor.md "Speed levers measured") and with the default ones renders the bundled
sample within 0.002 L1 and 0.005 SSIM of the same model without any ("none"), on the same inputs (issue 14)."""

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
