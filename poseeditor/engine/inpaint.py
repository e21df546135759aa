"""Classical background fill (cv2.inpaint, Telea) of the person's region, from the segmentation prior.

Used by the warp-only baseline and, when a model's card says it measures better (model.json
`inference.background = "inpaint"`), by the engine instead of the learned background module: the first CPU-trained
models paint a faint ghost of the old pose into real photos, which this fill does not (docs/design.md).
"""

from __future__ import annotations

import cv2
import numpy as np

PERSON_PRIOR_THRESHOLD = 0.3  # where the prior's person probability exceeds this, the background is inpainted


def person_region_from_prior(prior: np.ndarray) -> np.ndarray:
    """(S,S) uint8 0/255: the source person's likely extent from the prior, grown a little (hair, clothes)."""
    size = prior.shape[-1]
    region = ((1.0 - prior[0]) > PERSON_PRIOR_THRESHOLD).astype(np.uint8) * 255
    grow = max(3, round(size * 0.03) | 1)
    return cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))


def inpaint_background(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Classical fill of `hole` (uint8 0/255) in an (S,S,3) float [0,1] image -> float [0,1]."""
    u8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    radius = max(3, image.shape[0] // 40)
    return cv2.inpaint(u8, hole, radius, cv2.INPAINT_TELEA).astype(np.float32) / 255.0
