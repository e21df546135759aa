"""The paper's four-module generator (Balakrishnan et al., CVPR 2018, §3) and its two inference stages.

1. segment:            source image + source heatmaps → 11 part masks (softmax of logits + log prior)
2. inpaint_background: source image without the person (+ that mask, + source heatmaps) → background
3. warp:               each limb's layer (image · its mask) moved by its 2-D similarity → 10 warped layers
4. synthesize:         warped layers + target heatmaps → foreground, mask; composite over the background

All tensors NCHW float32, images in [−1, 1] RGB. Limb transforms are (N, 10, 2, 3) matrices in crop pixel
coordinates mapping a *target* pixel to the *source* pixel it samples (the contract's backward map), the same
matrices `cv2.warpAffine(..., flags=WARP_INVERSE_MAP)` takes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import GeneratorConfig, UNetConfig
from models.unet import UNet

LOG_PRIOR_FLOOR = 1e-10  # as the paper's code: log(prior + 1e-10); keeps a zero prior finite
SELECT_GENERATED_BIAS = 3.0  # "select" mode at init: softmax weight e^3/(e^3+10) ≈ 0.67 on the generated RGB


def output_head(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Conv2d:
    # The paper's output layers are 3×3 convolutions (my_conv's default kernel) without an activation of their own.
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class PoseWarpGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        joints, layers, limbs = config.num_joints, config.num_layers, config.num_limbs

        def unet(in_channels: int, unet_config: UNetConfig) -> UNet:
            return UNet(in_channels, joints, unet_config, config.norm, config.leaky_slope, config.upsample)

        self.segmentation_net = unet(3, config.segmentation)
        self.segmentation_head = output_head(
            self.segmentation_net.out_channels, layers, config.segmentation.head_kernel
        )
        # background input: the source with the person removed (3) and the background mask itself (1)
        self.background_net = unet(4, config.background)
        self.background_head = output_head(self.background_net.out_channels, 3, config.background.head_kernel)
        self.foreground_net = unet(3 * limbs, config.foreground)
        # RGB + mask (+ in "select" mode one logit per warped layer and one for the generated RGB)
        self.select = config.foreground_mode == "select"
        head_channels = 4 + (limbs + 1 if self.select else 0)
        self.foreground_head = output_head(
            self.foreground_net.out_channels, head_channels, config.foreground.head_kernel
        )
        if self.select:
            self.reset_selection()

    def reset_selection(self) -> None:
        """Start the selection logits at "mostly the generated RGB": zero weights, the generated RGB's bias
        SELECT_GENERATED_BIAS above the layers'. A model warm-started from a "generate" model then begins close to
        it and learns where a warped layer's own pixels are better."""
        with torch.no_grad():
            self.foreground_head.weight[4:].zero_()
            self.foreground_head.bias[4:].zero_()
            self.foreground_head.bias[-1] = SELECT_GENERATED_BIAS

    # -- the four modules ------------------------------------------------------------------------------------
    def segment(
        self, image: torch.Tensor, source_heatmaps: torch.Tensor, prior: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N,11,S,S), part_masks (N,11,S,S)); the masks are softmax(logits + log prior), channel 0 the
        background. `logits` are the network's own, before the prior is added (what a mask loss should see is
        `logits + log prior`, i.e. log of the masks)."""
        logits = self.segmentation_head(self.segmentation_net(image, source_heatmaps))
        part_masks = torch.softmax(logits + torch.log(prior.clamp_min(LOG_PRIOR_FLOOR)), dim=1)
        return logits, part_masks

    def inpaint_background(
        self, image: torch.Tensor, part_masks: torch.Tensor, source_heatmaps: torch.Tensor
    ) -> torch.Tensor:
        """The source background with the person filled in, (N,3,S,S) in [−1, 1]."""
        background_mask = part_masks[:, :1]
        x = torch.cat([image * background_mask, background_mask], dim=1)
        return torch.tanh(self.background_head(self.background_net(x, source_heatmaps)))

    @staticmethod
    def warp(image: torch.Tensor, part_masks: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
        """(N, 30, S, S): limb l's layer image·part_masks[l+1], resampled by transforms[:, l] (bilinear, zeros
        outside), the same as cv2.warpAffine(layer, M, (S, S), INTER_LINEAR | WARP_INVERSE_MAP, BORDER_CONSTANT)."""
        n, _, height, width = image.shape
        limbs = part_masks.shape[1] - 1
        if transforms.shape != (n, limbs, 2, 3):
            raise ValueError(f"transforms must be (N, {limbs}, 2, 3), got {tuple(transforms.shape)}")
        layers = image[:, None] * part_masks[:, 1:, None]  # (N, L, 3, S, S)
        layers = layers.reshape(n * limbs, 3, height, width)
        grid = _sampling_grid(transforms.reshape(n * limbs, 2, 3).to(image.dtype), height, width)
        warped = F.grid_sample(layers, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        return warped.reshape(n, limbs * 3, height, width)

    def synthesize(
        self, warped_layers: torch.Tensor, target_heatmaps: torch.Tensor, background: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(foreground (N,3,S,S) in [−1,1], mask (N,1,S,S) in [0,1], output = mask·fg + (1 − mask)·bg).

        "select" mode: foreground = Σ_l w_l · warped_l + w_g · tanh(rgb), w = softmax of the head's 11 selection
        logits per pixel; a limb's own (sharp) warped pixels pass straight through where the network picks them,
        and the generated RGB fills what no layer shows (disocclusions, shading, seams)."""
        h = self.foreground_head(self.foreground_net(warped_layers, target_heatmaps))
        foreground = torch.tanh(h[:, :3])
        mask = torch.sigmoid(h[:, 3:4])
        if self.select:
            n, _, height, width = warped_layers.shape
            limbs = self.config.num_limbs
            weights = torch.softmax(h[:, 4:], dim=1)  # (N, L+1, S, S)
            layers = warped_layers.reshape(n, limbs, 3, height, width)
            foreground = (weights[:, :limbs, None] * layers).sum(dim=1) + weights[:, limbs:] * foreground
        output = mask * foreground + (1.0 - mask) * background
        return foreground, mask, output

    # -- the whole generator ------------------------------------------------------------------------------------
    def forward(
        self,
        image: torch.Tensor,
        source_heatmaps: torch.Tensor,
        target_heatmaps: torch.Tensor,
        prior: torch.Tensor,
        transforms: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        self.check_inputs(image, source_heatmaps, target_heatmaps, prior)
        part_logits, part_masks = self.segment(image, source_heatmaps, prior)
        background = self.inpaint_background(image, part_masks, source_heatmaps)
        warped_layers = self.warp(image, part_masks, transforms)
        foreground, mask, output = self.synthesize(warped_layers, target_heatmaps, background)
        return {
            "part_logits": part_logits,
            "part_masks": part_masks,
            "background": background,
            "warped_layers": warped_layers,
            "foreground": foreground,
            "mask": mask,
            "output": output,
        }

    def check_inputs(
        self, image: torch.Tensor, source_heatmaps: torch.Tensor, target_heatmaps: torch.Tensor, prior: torch.Tensor
    ) -> None:
        cfg = self.config
        n, _, h, w = image.shape
        expected = {
            "image": (image, 3),
            "source_heatmaps": (source_heatmaps, cfg.num_joints),
            "target_heatmaps": (target_heatmaps, cfg.num_joints),
            "prior": (prior, cfg.num_layers),
        }
        for name, (tensor, channels) in expected.items():
            if tuple(tensor.shape) != (n, channels, h, w):
                raise ValueError(f"{name} must be ({n}, {channels}, {h}, {w}), got {tuple(tensor.shape)}")
        step = 2 ** max(u.downsampling for u in (cfg.segmentation, cfg.background, cfg.foreground))
        if h != w or h % step:
            raise ValueError(f"images must be square with a side divisible by {step}, got {h}×{w}")


def _sampling_grid(transforms: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """grid_sample's (B, H, W, 2) grid for backward maps given in pixel coordinates.

    Built directly rather than with affine_grid: the matrices are in pixels (cv2's convention, pixel centres at
    integers), and with align_corners=True the normalised coordinate of pixel x is 2x/(W−1) − 1.
    """
    dtype, device = transforms.dtype, transforms.device
    ys = torch.arange(height, dtype=dtype, device=device)
    xs = torch.arange(width, dtype=dtype, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    pixels = torch.stack([gx, gy, torch.ones_like(gx)], dim=-1).reshape(1, height * width, 3)
    source = pixels @ transforms.transpose(1, 2)  # (B, H·W, 2) source (x, y) in pixels
    scale = torch.tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)], dtype=dtype, device=device)
    return (source * scale - 1.0).reshape(-1, height, width, 2)


class SourceStage(nn.Module):
    """ONNX stage *source*: (image, source_heatmaps, prior) → (part_masks, background); run once per photo."""

    def __init__(self, generator: PoseWarpGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self, image: torch.Tensor, source_heatmaps: torch.Tensor, prior: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _, part_masks = self.generator.segment(image, source_heatmaps, prior)
        background = self.generator.inpaint_background(image, part_masks, source_heatmaps)
        return part_masks, background


class TargetStage(nn.Module):
    """ONNX stage *target*: (warped_layers, target_heatmaps, background) → (foreground, mask, output); run per
    pose change, after the engine has warped the layers."""

    def __init__(self, generator: PoseWarpGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self, warped_layers: torch.Tensor, target_heatmaps: torch.Tensor, background: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.generator.synthesize(warped_layers, target_heatmaps, background)


SOURCE_INPUTS = ("image", "source_heatmaps", "prior")
SOURCE_OUTPUTS = ("part_masks", "background")
TARGET_INPUTS = ("warped_layers", "target_heatmaps", "background")
TARGET_OUTPUTS = ("foreground", "mask", "output")
