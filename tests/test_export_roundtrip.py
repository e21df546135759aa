"""posetrain export: checkpoint -> model folder the editor's engine loads and renders with, plus a model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module", params=["generate", "select"])
def trained_run(request, tmp_path_factory) -> Path:
    from trainer.config import config_from_dict
    from trainer.data.toy import write_toy_dataset
    from trainer.loop import train

    base = tmp_path_factory.mktemp("export")
    write_toy_dataset(base / "toy", videos=3, frames=4, width=48, height=64)
    cfg = config_from_dict({
        "name": "exp", "out_dir": str(base / "run"),
        "model": {"config": "tiny", "image_size": 32, "foreground": request.param},
        "data": {"train": [str(base / "toy")], "workers": 0, "held_out_fraction": 0.3},
        "train": {"batch_size": 2, "steps": 3, "hole_batch_size": 0, "threads": 1, "adversarial_start": 100},
        "log": {"progress": False, "sample_count": 1},
    })
    train(cfg)
    return base


@pytest.mark.slow
def test_export_then_engine_round_trip(trained_run, standing_pose, arm_up_pose, person_photo):
    import torch

    from poseeditor.engine import load_engine
    from trainer.cli import main
    from trainer.evaluate import load_model

    out = trained_run / "model"
    assert main(["export", str(trained_run / "run"), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"model.json", "generator.safetensors", "source.onnx", "target.onnx",
                                               "MODEL_CARD.md"}
    meta = json.loads((out / "model.json").read_text())
    assert meta["format"] == "poseeditor-generator" and meta["config"]["image_size"] == 32
    assert meta["training"]["steps"] == 3 and meta["training"]["data"]["datasets"][0]["held_out_videos"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "steps: 3" in card and "ONNX vs torch" in card

    engine = load_engine(str(out), backend="onnx", threads=1)
    state = engine.prepare_source(person_photo, standing_pose)
    result = engine.render(state, arm_up_pose)
    assert result.output.shape == (32, 32, 3) and np.isfinite(result.output).all()
    # the same render through torch from the exported safetensors agrees with onnxruntime
    torch_engine = load_engine(str(out), backend="torch-cpu", threads=1)
    t_result = torch_engine.render(torch_engine.prepare_source(person_photo, standing_pose), arm_up_pose)
    assert np.abs(t_result.output - result.output).max() < 2e-3
    # and the exported weights are the checkpoint's
    exported, trained = load_model(out).generator.state_dict(), load_model(trained_run / "run").generator.state_dict()
    assert all(torch.equal(exported[k], trained[k]) for k in trained)
    pasted = engine.paste_back(person_photo, state, result)
    assert pasted.shape == person_photo.shape


def test_export_refuses_existing_folder_and_baselines(trained_run, tmp_path):
    from poseeditor.errors import ExportError, PoseEditorError
    from trainer.export import export_checkpoint

    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportError, match="already exists"):
        export_checkpoint(trained_run / "run", tmp_path / "taken")
    with pytest.raises(PoseEditorError, match="no such checkpoint|neither a model folder"):
        export_checkpoint(tmp_path / "nothing.safetensors", tmp_path / "out")


@pytest.mark.slow
def test_export_records_the_background_and_evaluates_only_listed_videos(trained_run, tmp_path):
    """--background goes to model.json (the engine follows it); --only-videos restricts the card's evaluation of
    a dataset holding those videos; --cv2-background adds its row to the card."""
    from poseeditor.engine import load_engine
    from trainer.cli import main
    data = json.loads((trained_run / "run" / "data.json").read_text())
    held_out = data["datasets"][0]["held_out_videos"]
    listed = tmp_path / "only.txt"
    listed.write_text(held_out[0] + "\n")
    out = tmp_path / "model"
    assert main(["export", str(trained_run / "run"), "--out", str(out), "--background", "inpaint",
                 "--background-why", "measured", "--eval", str(trained_run / "toy"), "--pairs", "4",
                 "--only-videos", str(listed), "--cv2-background", "--assignment", "network"]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["inference"] == {"background": "inpaint", "why": "measured", "assignment": "network"}
    engine = load_engine(str(out), backend="onnx", threads=1)
    assert engine.background_mode == "inpaint" and engine.assignment == "network"
    card = (out / "MODEL_CARD.md").read_text()
    assert "model_cv2_background" in card and "restricted to 1 listed video" in card
    # the card's picture is a small JPEG (the model folder ships in the wheel), linked from the card
    import cv2

    assert "eval_0.jpg" in card and not list(out.glob("*.png"))
    assert cv2.imread(str(out / "eval_0.jpg")) is not None
