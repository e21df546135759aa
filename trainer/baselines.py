"""Baselines without learning, for `posetrain eval` (DESIGN.md §5): identity and warp-only.

- identity:  output = the source image (the pose does not change at all).
- warp-only: the paper's warp with no network: the source split into limb layers by the Gaussian segmentation
             prior, each layer moved by its limb's similarity, composited over the source with the person's
             region filled by classical inpainting (cv2.inpaint, Telea). This is what the learned modules must beat.
"""

from __future__ import annotations

import numpy as np

from poseeditor.engine.inpaint import inpaint_background, person_region_from_prior
from poseeditor.engine.warp import premultiplied_layers, warp_layers
from poseeditor.geometry import limb_transforms
from poseeditor.priors import segmentation_prior


def warp_only(
    image: np.ndarray,
    source_xy: np.ndarray,
    source_visible: np.ndarray,
    target_xy: np.ndarray,
    target_visible: np.ndarray,
) -> dict[str, np.ndarray]:
    """The no-learning re-pose of an (S,S,3) float [0,1] crop; joints in crop pixels. Returns output, foreground,
    mask, background (all (S,S[,3]) float32)."""
    size = image.shape[0]
    prior = segmentation_prior(source_xy, source_visible, size)
    masks = prior / np.maximum(prior.sum(axis=0, keepdims=True), 1e-6)
    transforms = limb_transforms(source_xy, target_xy, source_visible, target_visible)
    # The editor's own warp (planar layers), so the baseline moves pixels exactly as the app does.
    planar = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    layers, warped_masks = warp_layers(premultiplied_layers(planar, masks.astype(np.float32)), transforms)
    coverage = warped_masks.sum(axis=0)
    foreground = layers.sum(axis=0).transpose(1, 2, 0) / np.maximum(coverage, 1e-6)[:, :, None]
    # The prior's soft tails would leave a faint ghost everywhere: a layer counts fully once it is half covered.
    alpha = np.clip(coverage * 2.0, 0.0, 1.0)
    background = inpaint_background(image, person_region_from_prior(prior))
    output = alpha[:, :, None] * foreground + (1.0 - alpha[:, :, None]) * background
    return {
        "output": np.clip(output, 0.0, 1.0).astype(np.float32),
        "foreground": np.clip(foreground, 0.0, 1.0).astype(np.float32),
        "mask": alpha.astype(np.float32),
        "background": background,
    }
