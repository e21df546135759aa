"""Shift-tolerant LPIPS: a learned perceptual distance for evaluation, offline, from weights in a wheel.

The metric is ST-LPIPS (Ghildyal & Liu, *Shift-tolerant Perceptual Similarity Metric*, ECCV 2022): LPIPS (Zhang et
al., CVPR 2018) on an AlexNet (or VGG16) trunk whose downsampling is anti-aliased (Zhang, ICML 2019: stride 1, then
a 3x3 binomial blur at stride 2), trained on human similarity judgements. A re-posed person lands a pixel or two away
from where the ground truth has them; plain LPIPS and L1 punish that as much as blur, this metric barely does.

The weights are the ones inside the ``stlpips-pytorch==0.0.2`` wheel (BSD-2-Clause, Ghildyal & Liu):
``stlpips_pytorch/weights/vST0.0/{alex,vgg}_shift_tolerant.pth``, plain tensor state dicts read with
``torch.load(weights_only=True)``. That package's own code imports torchvision, IPython and torchsummary at top level
(torchvision does not import with the torch used here), so it is never imported: this module only locates the
package's folder (``importlib.util.find_spec`` on a top-level name does not execute it) and re-implements the small
network the state dicts belong to (layer names kept, so they load with ``strict=True``). Checked against the package's
own ``LPIPS(net=..., variant="shift_tolerant")`` run with stub modules: bit-identical on 256² crops
(tests/test_perceptual.py compares them to 1e-5). Its anti-aliasing code also carries Adobe's CC BY-NC-SA notice;
the blur-pool here is written from the paper, not copied.

Contract of the original: inputs RGB in [-1, 1]; the LPIPS v0.1 scaling layer ((x - shift) / scale, values in the
state dict); features of five layers, each unit-normalised over channels; squared differences weighted by a learned
1x1 conv per layer, averaged over space, summed over layers.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import TrainerError

Variant = Literal["alex", "vgg"]
VARIANTS: tuple[str, ...] = ("alex", "vgg")
PACKAGE = "stlpips_pytorch"
INSTALL_HINT = 'pip install stlpips-pytorch==0.0.2 (it has no dependencies of its own), or pip install -e ".[eval]"'

# Smallest height/width each trunk accepts (its reflection pads need more than 2 pixels at every scale);
# tests/test_perceptual.py checks these against the network.
MIN_SIZE: dict[str, int] = {"alex": 21, "vgg": 18}


class PerceptualDistanceError(TrainerError):
    """The perceptual metric cannot run: its package is not installed, or the images do not fit it."""


# ------------------------------------------------------------------------------------------------ the network
class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflection pad 2 on every side, 3x3 binomial blur per channel, stride 2.

    The pad of 2 (not the 1 of Zhang's blur-pool) is the shift-tolerant variant's ("pad_more"); the weights expect it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k2 = torch.outer(k, k) / 16.0
        self.register_buffer("filt", k2.expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def _conv(cin: int, cout: int, k: int, pad: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=k, stride=1, padding=pad)


def _alex_layers() -> list[nn.Module]:
    # AlexNet with every stride moved into a BlurPool (conv1 stride 4 -> 1 + blur; max-pools stride 1 + blur).
    return [
        _conv(3, 64, 11, 2), BlurPool(64), nn.ReLU(),                       # 0-2   -> relu1
        nn.MaxPool2d(3, stride=1), BlurPool(64), _conv(64, 192, 5, 2), nn.ReLU(),   # 3-6   -> relu2
        nn.MaxPool2d(3, stride=1), BlurPool(192), _conv(192, 384, 3, 1), nn.ReLU(),  # 7-10  -> relu3
        _conv(384, 256, 3, 1), nn.ReLU(),                                    # 11-12 -> relu4
        _conv(256, 256, 3, 1), nn.ReLU(),                                    # 13-14 -> relu5
    ]


def _vgg_layers() -> list[nn.Module]:
    # VGG16 (config D) where each 2x2/2 max-pool is a 2x2/1 max-pool followed by a BlurPool.
    layers: list[nn.Module] = []
    cin = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if v == "M":
            layers += [nn.MaxPool2d(2, stride=1), BlurPool(cin)]
        else:
            assert isinstance(v, int)
            layers += [_conv(cin, v, 3, 1), nn.ReLU()]
            cin = v
    return layers


_TRUNKS = {
    # layers, slice boundaries (the five feature taps), channels per tap
    "alex": (_alex_layers, (0, 3, 7, 11, 13, 15), (64, 192, 384, 256, 256)),
    "vgg": (_vgg_layers, (0, 4, 10, 18, 26, 34), (64, 128, 256, 512, 512)),
}


class _Trunk(nn.Module):
    def __init__(self, variant: str) -> None:
        super().__init__()
        make, bounds, _ = _TRUNKS[variant]
        layers = make()
        # Module names are the layers' global indices, as in the state dicts (net.slice2.4.filt, ...).
        for n, (a, b) in enumerate(zip(bounds, bounds[1:]), start=1):
            self.add_module(f"slice{n}", nn.Sequential(OrderedDict((str(i), layers[i]) for i in range(a, b))))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for s in self.children():  # slice1..slice5, in order
            x = s(x)
            feats.append(x)
        return feats


class _Lin(nn.Module):
    """LPIPS's per-layer 1x1 weighting; named model.1 as in the state dicts (model.0 was a training-time Dropout)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(OrderedDict([("1", nn.Conv2d(channels, 1, 1, bias=False))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _ScalingLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.zeros(1, 3, 1, 1))
        self.register_buffer("scale", torch.ones(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class STLPIPSNet(nn.Module):
    """(N,3,H,W) pairs in [-1, 1] -> (N,) distances. Load weights with `load_state_dict(..., strict=True)`."""

    def __init__(self, variant: str = "alex") -> None:
        super().__init__()
        if variant not in _TRUNKS:
            raise PerceptualDistanceError(f"unknown perceptual-distance variant {variant!r} (one of {VARIANTS})")
        self.scaling_layer = _ScalingLayer()
        self.net = _Trunk(variant)
        for i, c in enumerate(_TRUNKS[variant][2]):
            self.add_module(f"lin{i}", _Lin(c))
        self.lins = [getattr(self, f"lin{i}") for i in range(5)]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n = a.shape[0]
        feats = self.net(self.scaling_layer(torch.cat([a, b])))  # both images in one pass
        total = a.new_zeros(n)
        for f, lin in zip(feats, self.lins):
            f = f / (torch.sqrt(torch.sum(f * f, dim=1, keepdim=True)) + 1e-10)
            total = total + lin((f[:n] - f[n:]) ** 2).mean(dim=(1, 2, 3))
        return total


# ------------------------------------------------------------------------------------------------ loading
def weights_path(variant: str = "alex") -> Path:
    """The installed stlpips-pytorch wheel's weight file for `variant` (without importing that package)."""
    if variant not in _TRUNKS:
        raise PerceptualDistanceError(f"unknown perceptual-distance variant {variant!r} (one of {VARIANTS})")
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise PerceptualDistanceError(f"the perceptual metric needs stlpips-pytorch, not installed: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / "vST0.0" / f"{variant}_shift_tolerant.pth"
        if path.is_file():
            return path
    raise PerceptualDistanceError(
        f"the installed stlpips-pytorch has no {variant}_shift_tolerant.pth (not version 0.0.2?): {INSTALL_HINT}")


def load_network(variant: str = "alex", path: str | Path | None = None) -> STLPIPSNet:
    """A fresh network with the wheel's weights (or those at `path`), in eval mode, on the CPU."""
    path = Path(path) if path is not None else weights_path(variant)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling refused, truncated file...: all mean "not these weights"
        raise PerceptualDistanceError(f"{path}: cannot read the perceptual metric's weights ({exc})") from None
    net = STLPIPSNet(variant)
    if not isinstance(state, dict):
        raise PerceptualDistanceError(f"{path}: not a state dict of the {variant} ST-LPIPS weights")
    try:
        net.load_state_dict(state, strict=True)  # every tensor of the file, and nothing else, or refuse
    except RuntimeError as exc:
        raise PerceptualDistanceError(f"{path}: weights do not fit the {variant} ST-LPIPS network ({exc})") from None
    net.requires_grad_(False)
    return net.eval()


_cache: dict[str, STLPIPSNet] = {}
_cache_lock = threading.Lock()


def get_network(variant: str = "alex") -> STLPIPSNet:
    """The process-wide network for `variant`, loaded on first use."""
    with _cache_lock:
        if variant not in _cache:
            _cache[variant] = load_network(variant)
        return _cache[variant]


# ------------------------------------------------------------------------------------------------ the API
def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 RGB -> (1,3,H,W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(127.5).sub_(1.0)


def _check_pair(a: np.ndarray, b: np.ndarray, variant: str) -> None:
    for name, img in (("a", a), ("b", b)):
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            raise PerceptualDistanceError(f"perceptual distance: image {name} must be (H,W,3) uint8 RGB, got {desc}")
    if a.shape != b.shape:
        raise PerceptualDistanceError(f"perceptual distance: images differ in size ({a.shape[1]}x{a.shape[0]} vs "
                                      f"{b.shape[1]}x{b.shape[0]}); compare equal-size crops")
    _check_size(a.shape[0], a.shape[1], variant)


def _check_size(h: int, w: int, variant: str) -> None:
    m = MIN_SIZE[variant]
    if min(h, w) < m:
        raise PerceptualDistanceError(f"perceptual distance ({variant}): images of {w}x{h} are too small; "
                                      f"the network needs at least {m}x{m}")


class PerceptualDistance:
    """Shift-tolerant LPIPS between two equal-size RGB images: 0 for identical, larger is more different.

    Rough scale (alex, 256² natural crop): a 2-px shift ~0.01, Gaussian blur sigma 2 ~0.46, noise sigma 25 ~0.44.
    The network loads on the first call and is shared by every instance in the process.
    """

    def __init__(self, variant: Variant = "alex") -> None:
        if variant not in _TRUNKS:
            raise PerceptualDistanceError(f"unknown perceptual-distance variant {variant!r} (one of {VARIANTS})")
        self.variant: str = variant

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between (H,W,3) uint8 RGB images of the same size (at least MIN_SIZE[variant] on each side)."""
        _check_pair(a, b, self.variant)
        return float(self.distance_tensors(to_tensor(a), to_tensor(b))[0])

    def distance_tensors(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-pair distances (N,) for (N,3,H,W) RGB tensors in [-1, 1] (computed on the CPU, float32)."""
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise PerceptualDistanceError(f"perceptual distance: need two (N,3,H,W) tensors of one shape, got "
                                          f"{tuple(a.shape)} and {tuple(b.shape)}")
        _check_size(a.shape[2], a.shape[3], self.variant)
        net = get_network(self.variant)
        with torch.inference_mode():
            return net(a.detach().to("cpu", torch.float32), b.detach().to("cpu", torch.float32))


def perceptual_distance(a: np.ndarray, b: np.ndarray, variant: Variant = "alex") -> float:
    """`PerceptualDistance(variant).distance(a, b)`."""
    return PerceptualDistance(variant).distance(a, b)
