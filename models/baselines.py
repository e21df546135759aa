"""The paper's baseline: one U-Net from (source image, source heatmaps, target heatmaps) straight to the target image.

Mirrors `network_unet` in the paper's `networks.py`: both heatmap stacks are the U-Net's condition, the output a
tanh RGB image; no masks, no warp, no background. Its shape is `GeneratorConfig.single_unet` (for `paper`: the
paper's [64] + [128]·3 + [256]·7 encoder, [256]·3 + [128, 64] decoder), or the config's foreground U-Net when that
is None — so `SingleUNet(get_config("compact"))` is the baseline at the compact model's size. Saved with the same
artifact files as the generator (architecture "unet" in model.json); it has no two-stage ONNX export.
"""

from __future__ import annotations

import torch
from torch import nn

from models.config import GeneratorConfig
from models.generator import output_head
from models.unet import UNet
from models.weight_init import init_weights


class SingleUNet(nn.Module):
    """output (N,3,S,S) in [−1, 1] = SingleUNet(image, source_heatmaps, target_heatmaps)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.net = UNet(
            3,
            2 * config.num_joints,
            config.single_unet_config,
            norm=config.norm,
            leaky_slope=config.leaky_slope,
            upsample=config.upsample,
        )
        self.head = output_head(self.net.out_channels, 3, config.single_unet_config.head_kernel)
        init_weights(self)

    def forward(
        self, image: torch.Tensor, source_heatmaps: torch.Tensor, target_heatmaps: torch.Tensor
    ) -> torch.Tensor:
        n, _, h, w = image.shape
        for name, t in (("source_heatmaps", source_heatmaps), ("target_heatmaps", target_heatmaps)):
            if tuple(t.shape) != (n, self.config.num_joints, h, w):
                raise ValueError(f"{name} must be ({n}, {self.config.num_joints}, {h}, {w}), got {tuple(t.shape)}")
        condition = torch.cat([source_heatmaps, target_heatmaps], dim=1)
        return torch.tanh(self.head(self.net(image, condition)))


SINGLE_UNET_INPUTS = ("image", "source_heatmaps", "target_heatmaps")
SINGLE_UNET_OUTPUTS = ("output",)
