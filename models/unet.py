"""The U-Net every module of the generator is built from (see `UNetConfig` for the shape it takes).

conv → norm → LeakyReLU blocks, stride-2 convolutions to go down (as the paper, no pooling), bilinear ×2
upsampling and concatenated skips to come back up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import UNetConfig


def make_norm(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}")


class ConvBlock(nn.Sequential):
    """k×k convolution (dense, or depthwise k×k + pointwise 1×1 when `separable`) → norm → LeakyReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        norm: str = "none",
        leaky_slope: float = 0.2,
        separable: bool = False,
    ) -> None:
        padding = kernel_size // 2
        bias = norm != "batch"  # batch norm's shift makes a bias redundant
        layers: list[nn.Module]
        if separable:
            layers = [
                nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding, groups=in_channels, bias=False),
                nn.Conv2d(in_channels, out_channels, 1, bias=bias),
            ]
        else:
            layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)]
        layers += [make_norm(norm, out_channels), nn.LeakyReLU(leaky_slope, inplace=True)]
        super().__init__(*layers)


def upsample2(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2.0, mode="nearest")
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def resample_condition(condition: torch.Tensor, factor: int) -> torch.Tensor:
    """Area-downsample by an integer factor (keeps a heatmap's mass; σ shrinks with the resolution, as the
    paper's half-resolution heatmaps)."""
    return condition if factor == 1 else F.avg_pool2d(condition, kernel_size=factor, stride=factor)


class UNet(nn.Module):
    """features = UNet(input, condition); `out_channels` features at the input's resolution."""

    def __init__(
        self,
        in_channels: int,
        condition_channels: int,
        config: UNetConfig,
        norm: str = "none",
        leaky_slope: float = 0.2,
        upsample: str = "bilinear",
    ) -> None:
        super().__init__()
        self.config = config
        self.upsample_mode = upsample

        def block(cin: int, cout: int, level: int, stride: int = 1) -> ConvBlock:
            return ConvBlock(cin, cout, 3, stride, norm, leaky_slope, level < config.separable_levels)

        joined_input = in_channels + (condition_channels if config.condition_level == 0 else 0)
        self.stem = ConvBlock(
            joined_input, config.widths[0], config.stem_kernel, config.stem_stride, norm, leaky_slope,
            separable=config.separable_levels > 0,
        )  # fmt: skip

        self.down = nn.ModuleList()
        self.level_convs = nn.ModuleList()
        width = config.widths[0]
        for level in range(1, config.levels):
            self.down.append(block(width, width, level, stride=2))
            convs: list[nn.Module] = []
            cin = width + (condition_channels if level == config.condition_level else 0)
            for _ in range(config.convs_per_level):
                convs.append(block(cin, config.widths[level], level))
                cin = config.widths[level]
            self.level_convs.append(nn.Sequential(*convs))
            width = config.widths[level] if config.convs_per_level else width
        self._level_widths = [config.widths[0]] + [
            config.widths[lv] if config.convs_per_level else config.widths[0] for lv in range(1, config.levels)
        ]

        self.up_convs = nn.ModuleList()
        for i, out_width in enumerate(config.decoder_widths):
            skip_level = config.levels - 2 - i
            self.up_convs.append(block(width + self._level_widths[skip_level], out_width, skip_level))
            width = out_width

        self.refine: nn.Module | None = None
        if config.stem_stride == 2:
            if config.refine == "project":
                self.refine = ConvBlock(joined_input, config.refine_width, 1, 1, norm, leaky_slope)
            else:
                separable = config.refine == "separable"
                self.refine = ConvBlock(width + joined_input, config.refine_width, 3, 1, norm, leaky_slope, separable)
        self.out_channels = config.out_width

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.condition_level == 0:
            x = torch.cat([x, condition], dim=1)
        full_res_input = x
        h = self.stem(x)
        skips = [h]
        for level, (down, convs) in enumerate(zip(self.down, self.level_convs), start=1):
            h = down(h)
            if level == cfg.condition_level:
                factor = cfg.stem_stride * 2**level
                h = torch.cat([h, resample_condition(condition, factor)], dim=1)
            h = convs(h)
            skips.append(h)
        skips.pop()  # the bottom level is `h` itself
        for up_conv in self.up_convs:
            h = up_conv(torch.cat([upsample2(h, self.upsample_mode), skips.pop()], dim=1))
        if self.refine is not None:
            if self.config.refine == "project":
                h = torch.cat([upsample2(h, self.upsample_mode), self.refine(full_res_input)], dim=1)
            else:
                h = self.refine(torch.cat([upsample2(h, self.upsample_mode), full_res_input], dim=1))
        return h
