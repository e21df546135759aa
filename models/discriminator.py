"""A PatchGAN discriminator (pix2pix's NLayerDiscriminator) conditioned on the target pose.

Input: an image (real target or generated output) joined with the target heatmaps, so it judges "is this a real
person *in this pose*" per ~70×70 patch (at 3 layers). It returns its patch logits and the activations of every
block, for a feature-matching loss (pix2pixHD) — the substitute here for the paper's VGG loss, whose pretrained
weights cannot be had on these machines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from models.config import NORMS
from models.plain_data import dataclass_from_dict
from models.unet import make_norm
from models.weight_init import init_weights


@dataclass(frozen=True)
class DiscriminatorConfig:
    base_width: int = 64
    layers: int = 3
    max_width: int = 512
    norm: str = "instance"
    leaky_slope: float = 0.2
    num_joints: int = 14

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.layers < 1 or self.base_width < 1 or self.max_width < self.base_width:
            raise ValueError("layers and widths must be positive, max_width >= base_width")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiscriminatorConfig:
        return dataclass_from_dict(cls, d, "discriminator config")


class PatchDiscriminator(nn.Module):
    """(logits (N,1,h,w), features [block activations]) = D(image, target_heatmaps)."""

    def __init__(self, config: DiscriminatorConfig | None = None, image_size: int | None = None) -> None:
        """`image_size` alone picks the depth: 3 strided layers (70×70 patches) from 128² up, 2 below."""
        super().__init__()
        if config is None:
            config = DiscriminatorConfig(layers=3 if image_size is None or image_size >= 128 else 2)
        self.config = config
        act = lambda: nn.LeakyReLU(config.leaky_slope, inplace=False)
        in_channels = 3 + config.num_joints
        width = config.base_width
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, width, 4, 2, 1), act())]
        for i in range(1, config.layers + 1):
            stride = 2 if i < config.layers else 1  # the last block keeps the resolution, as in pix2pix
            out = min(config.base_width * 2**i, config.max_width)
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(width, out, 4, stride, 1, bias=config.norm != "batch"),
                    make_norm(config.norm, out),
                    act(),
                )
            )
            width = out
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Conv2d(width, 1, 4, 1, 1)
        init_weights(self)

    def forward(self, image: torch.Tensor, target_heatmaps: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if image.shape[0] != target_heatmaps.shape[0] or image.shape[2:] != target_heatmaps.shape[2:]:
            raise ValueError(
                f"image {tuple(image.shape)} and target_heatmaps {tuple(target_heatmaps.shape)} must share N, H, W"
            )
        h = torch.cat([image, target_heatmaps], dim=1)
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        return self.classifier(h), features
