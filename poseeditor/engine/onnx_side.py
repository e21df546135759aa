"""A fixed-size ONNX graph made to take any spatial side, without the `onnx` package (not an editor dependency).

The generator's U-Nets are fully convolutional (stride-2 convolutions, ×2 resizes by scale factor): the same weights
run at any multiple of their total downsampling. `source.onnx` is exported with fixed 256² axes (they measured ~8 %
faster at full size, docs/drag_speed.md); the first picture of a freshly opened photo runs it at the drag-time side
(160²). `with_symbolic_side` rewrites the serialized ModelProto on the protobuf wire: the last two axes of every
rank-4 graph input and output that are `side`×`side` become one symbolic axis, and the recorded shapes of the
intermediate values (GraphProto.value_info, which would pin them) are dropped; onnxruntime infers them again.
Weights and nodes are copied byte for byte.
"""

from __future__ import annotations

SYMBOLIC_SIDE = "side"

# Field numbers of onnx.proto (stable since IR version 3).
_MODEL_GRAPH = 7
_GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO = 11, 12, 13
_VALUE_INFO_TYPE = 2
_TYPE_TENSOR = 1
_TENSOR_SHAPE = 2
_SHAPE_DIM = 1
_DIM_VALUE, _DIM_PARAM = 1, 2


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """[(field number, wire type, raw bytes of the whole field, payload of a length-delimited field)]."""
    out = []
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        payload = b""
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            payload = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, wire, buf[start:pos], payload))
    return out


def _message(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def _dims(shape: bytes) -> list[int | None]:
    """The fixed sizes of a TensorShapeProto's dims (None for a symbolic or unknown one)."""
    sizes: list[int | None] = []
    for field, _, _, dim in _fields(shape):
        if field == _SHAPE_DIM:
            value = [_varint(raw, 1)[0] for f, w, raw, _ in _fields(dim) if f == _DIM_VALUE and w == 0]
            sizes.append(value[0] if value else None)
    return sizes


def _rewrite_shape(shape: bytes, side: int) -> bytes | None:
    sizes = _dims(shape)
    if len(sizes) != 4 or sizes[2] != side or sizes[3] != side:
        return None
    out, index = [], 0
    for field, _, raw, _ in _fields(shape):
        if field == _SHAPE_DIM:
            if index >= 2:
                raw = _message(_SHAPE_DIM, _message(_DIM_PARAM, SYMBOLIC_SIDE.encode()))
            index += 1
        out.append(raw)
    return b"".join(out)


def _rewrite_nested(buf: bytes, path: tuple[int, ...], leaf: object) -> tuple[bytes, bool]:
    """Rewrite the message at `path` (field numbers) inside `buf` with `leaf(payload) -> bytes | None`."""
    out, changed = [], False
    for field, wire, raw, payload in _fields(buf):
        if wire == 2 and field == path[0]:
            if len(path) == 1:
                new = leaf(payload)  # type: ignore[operator]
            else:
                new, sub_changed = _rewrite_nested(payload, path[1:], leaf)
                new = new if sub_changed else None
            if new is not None:
                raw, changed = _message(field, new), True
        out.append(raw)
    return b"".join(out), changed


def _rewrite_graph(graph: bytes, side: int) -> tuple[bytes, int]:
    out, rewritten = [], 0
    for field, wire, raw, payload in _fields(graph):
        if wire == 2 and field == _GRAPH_VALUE_INFO:
            continue  # intermediate shapes: inferred again by onnxruntime
        if wire == 2 and field in (_GRAPH_INPUT, _GRAPH_OUTPUT):
            new, changed = _rewrite_nested(payload, (_VALUE_INFO_TYPE, _TYPE_TENSOR, _TENSOR_SHAPE),
                                           lambda shape: _rewrite_shape(shape, side))
            if changed:
                raw, rewritten = _message(field, new), rewritten + 1
        out.append(raw)
    return b"".join(out), rewritten


def with_symbolic_side(model: bytes, side: int) -> bytes:
    """The serialized ONNX model `model` with its side×side spatial axes symbolic (see the module's text). Raises
    ValueError when no graph input or output had them."""
    out, rewritten = [], 0
    for field, wire, raw, payload in _fields(model):
        if wire == 2 and field == _MODEL_GRAPH:
            graph, rewritten = _rewrite_graph(payload, side)
            raw = _message(field, graph)
        out.append(raw)
    if not rewritten:
        raise ValueError(f"no {side}×{side} graph input or output to make symbolic")
    return b"".join(out)


def symbolic_side_or_same(model: bytes, side: int) -> bytes:
    """`with_symbolic_side`, or `model` unchanged when it has no fixed side×side axes to rewrite (already symbolic,
    another layout) or is not a protobuf this reader follows (then onnxruntime reports what is wrong with it)."""
    try:
        return with_symbolic_side(model, side)
    except (ValueError, IndexError):
        return model


def has_fixed_side(session: object) -> bool:
    """Whether an onnxruntime session's rank-4 inputs all have fixed (integer) spatial axes."""
    inputs = session.get_inputs()  # type: ignore[attr-defined]
    return all(isinstance(d, int) for i in inputs if len(i.shape) == 4 for d in i.shape[2:])
