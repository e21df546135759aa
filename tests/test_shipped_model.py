"""The generator shipped in resources/ loads, renders the bundled sample, and documents itself."""

import numpy as np
import pytest

from poseeditor.engine import load_engine
from poseeditor.image_io import load_image
from poseeditor.pose_io import load_pose
from poseeditor.resources import default_model_dir, resource_path


@pytest.fixture
def shipped(monkeypatch):
    monkeypatch.delenv("POSEEDITOR_MODEL", raising=False)
    if not (default_model_dir() / "model.json").is_file():
        pytest.skip("no model shipped in resources/models/default")
    return default_model_dir()


def test_shipped_model_renders_the_sample(shipped):
    photo = load_image(resource_path("samples", "sample.jpg"))
    source = load_pose(resource_path("samples", "sample.pose.json"))
    engine = load_engine(None)
    state = engine.prepare_source(photo, source)
    xy = source.xy.copy()
    xy[4] = xy[2] + [0, -80]  # right wrist up
    result = engine.render(state, source.with_xy(xy))
    assert result.output.shape == (engine.size, engine.size, 3)
    # a trained model: the person's mask is confident somewhere and empty far from the person
    assert result.mask.max() > 0.8 and result.mask[:4, :4].max() < 0.2
    full = engine.paste_back(photo, state, result)
    assert full.shape == photo.shape


def test_shipped_model_backends_agree(shipped):
    pytest.importorskip("torch")
    photo = load_image(resource_path("samples", "sample.jpg"))
    source = load_pose(resource_path("samples", "sample.pose.json"))
    outs = []
    for backend in ("onnx", "torch-cpu"):
        engine = load_engine(None, backend=backend)
        outs.append(engine.render(engine.prepare_source(photo, source), source).output)
    assert np.abs(outs[0] - outs[1]).max() <= 2e-3


def test_shipped_model_has_a_card_with_held_out_numbers(shipped):
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "warp_only" in card and "identity" in card and "steps" in card
