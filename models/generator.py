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
from models.weight_init import init_weights

from models.artifact_meta import SELECT_TARGET_INPUTS, TARGET_INPUTS
# The prior's floor is the prior's own (poseeditor.priors makes every prior >= it): one number, so log(prior) is
# the same finite value in training, export and the editor.
from poseeditor.priors import PRIOR_FLOOR

SELECT_COMPOSITE_BIAS = 4.0  # "select" mode at init: softmax weight e^4/(e^4+11) ≈ 0.83 on the layers' composite
COVERAGE_FLOOR = 1e-3  # un-premultiplying divides by the warped mask; below this a layer is absent (colour 0)


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
        # RGB + mask (+ in "select" mode one logit per candidate: the 10 warped layers, their composite, the RGB)
        self.select = config.foreground_mode == "select"
        head_channels = 4 + (limbs + 2 if self.select else 0)
        self.foreground_head = output_head(
            self.foreground_net.out_channels, head_channels, config.foreground.head_kernel
        )
        init_weights(self)
        if self.select:
            self.reset_selection()

    def reset_selection(self) -> None:
        """Start the selection at "mostly the composite of the warped layers" (what the no-learning warp shows):
        zero weights, the composite's bias SELECT_COMPOSITE_BIAS above the others'."""
        with torch.no_grad():
            self.foreground_head.weight[4:].zero_()
            self.foreground_head.bias[4:].zero_()
            self.foreground_head.bias[-2] = SELECT_COMPOSITE_BIAS

    # -- the four modules ------------------------------------------------------------------------------------
    def segment(
        self, image: torch.Tensor, source_heatmaps: torch.Tensor, prior: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N,11,S,S), part_masks (N,11,S,S)); the masks are softmax(logits + log prior), channel 0 the
        background. `logits` are the network's own, before the prior is added (what a mask loss should see is
        `logits + log prior`, i.e. log of the masks)."""
        logits = self.segmentation_head(self.segmentation_net(image, source_heatmaps))
        part_masks = torch.softmax(logits + torch.log(prior.clamp_min(PRIOR_FLOOR)), dim=1)
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
        return PoseWarpGenerator.warp_with_masks(image, part_masks, transforms)[0]

    @staticmethod
    def warp_with_masks(
        image: torch.Tensor, part_masks: torch.Tensor, transforms: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(warped layers (N, 30, S, S), warped masks (N, 10, S, S)): each limb's premultiplied layer and its mask,
        moved together (the engine's `warp_layers` does the same with cv2)."""
        n, _, height, width = image.shape
        limbs = part_masks.shape[1] - 1
        if transforms.shape != (n, limbs, 2, 3):
            raise ValueError(f"transforms must be (N, {limbs}, 2, 3), got {tuple(transforms.shape)}")
        masks = part_masks[:, 1:, None]  # (N, L, 1, S, S)
        planes = torch.cat([image[:, None] * masks, masks], dim=2).reshape(n * limbs, 4, height, width)
        grid = _sampling_grid(transforms.reshape(n * limbs, 2, 3).to(image.dtype), height, width)
        warped = F.grid_sample(planes, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        warped = warped.reshape(n, limbs, 4, height, width)
        return warped[:, :, :3].reshape(n, limbs * 3, height, width), warped[:, :, 3]

    def synthesize(
        self,
        warped_layers: torch.Tensor,
        target_heatmaps: torch.Tensor,
        background: torch.Tensor,
        warped_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(foreground (N,3,S,S) in [−1,1], mask (N,1,S,S) in [0,1], output = mask·fg + (1 − mask)·bg).

        "select" mode (needs `warped_masks`, (N,10,S,S)): foreground = softmax-weighted per pixel among each warped
        layer's own colour (un-premultiplied by its warped mask), the layers' composite (Σ layers / Σ masks, what
        the no-learning warp shows) and the generated RGB. The source's sharp pixels pass straight through where
        the network picks them; the RGB fills what no layer shows (disocclusions, seams)."""
        if self.select and warped_masks is None:
            raise ValueError("a 'select' foreground needs the warped masks")
        h = self.foreground_head(self.foreground_net(warped_layers, target_heatmaps))
        generated = torch.tanh(h[:, :3])
        mask = torch.sigmoid(h[:, 3:4])
        if not self.select:
            return generated, mask, mask * generated + (1.0 - mask) * background
        n, _, height, width = warped_layers.shape
        limbs = self.config.num_limbs
        layers = warped_layers.reshape(n, limbs, 3, height, width)
        weights = channel_softmax(h[:, 4:])  # (N, L+2, S, S)
        # Σ_l w_l·(L_l / M_l) + w_c·(Σ L / Σ M) = Σ_l k_l·L_l with one coefficient plane per layer: the 3-channel
        # work is one multiply-and-sum (this is the drag path). No clamp is needed: a bilinear warp of image·mask
        # with |image| ≤ 1 keeps |L_l| ≤ M_l, so every colour above stays in [−1, 1].
        per_layer = weights[:, :limbs] / warped_masks.clamp_min(COVERAGE_FLOOR)
        composite = weights[:, limbs : limbs + 1] / warped_masks.sum(dim=1, keepdim=True).clamp_min(COVERAGE_FLOOR)
        coefficients = per_layer + composite  # (N, L, S, S)
        foreground = (coefficients[:, :, None] * layers).sum(dim=1) + weights[:, limbs + 1 :] * generated
        return foreground, mask, mask * foreground + (1.0 - mask) * background

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
        warped_layers, warped_masks = self.warp_with_masks(image, part_masks, transforms)
        foreground, mask, output = self.synthesize(warped_layers, target_heatmaps, background, warped_masks)
        return {
            "part_logits": part_logits,
            "part_masks": part_masks,
            "background": background,
            "warped_layers": warped_layers,
            "warped_masks": warped_masks,
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


def channel_softmax(logits: torch.Tensor) -> torch.Tensor:
    """torch.softmax(logits, dim=1), written out: onnxruntime's Softmax over axis 1 of an NCHW tensor transposes
    around the op and took 12 ms of the 28 ms 256² target stage (profiled); this costs under 1 ms."""
    e = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    return e / e.sum(dim=1, keepdim=True)


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


class SelectTargetStage(nn.Module):
    """ONNX stage *target* of a "select" generator: the warped masks are an input too."""

    def __init__(self, generator: PoseWarpGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self,
        warped_layers: torch.Tensor,
        warped_masks: torch.Tensor,
        target_heatmaps: torch.Tensor,
        background: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.generator.synthesize(warped_layers, target_heatmaps, background, warped_masks)


def target_stage(generator: PoseWarpGenerator) -> nn.Module:
    return SelectTargetStage(generator) if generator.select else TargetStage(generator)


def target_inputs(generator: PoseWarpGenerator) -> tuple[str, ...]:
    return SELECT_TARGET_INPUTS if generator.select else TARGET_INPUTS
