"""The person/background split of the source photo at the photo's own resolution (docs/photo_composite.md).

The detector's person mask is computed on a 256² crop of the person and pasted back: at 720p and above its edge is a
soft ramp several pixels wide that ignores the photo's edges. A guided filter (He et al., 2010) with the photo as the
guide snaps that ramp to the photo's edges; a contrast stretch then makes the inside exactly 1 and the outside
exactly 0, so pixels of an unmoved limb are the photo's own and nothing of the old body survives outside the ramp.

Without a detector mask (pose-only input), the split falls back to the source-stage network's own background
channel, mapped from the crop into the photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from poseeditor.errors import PoseEditorError

GUIDE_EPS = 2e-3  # guided-filter regulariser on [0,1] grey values: edges with contrast below ~0.05 do not pull
STRETCH = 2.5  # alpha -> clip((alpha − 0.5)·STRETCH + 0.5): ≥ 0.7 becomes 1, ≤ 0.3 becomes 0


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float = GUIDE_EPS) -> np.ndarray:
    """Edge-aware smoothing of `src` (H,W float32) following the edges of `guide` (H,W float32 in [0,1]).

    OpenCV has this only in the contrib build (cv2.ximgproc), which cannot be installed beside the
    opencv-python-headless wheel; it is five box filters.
    """
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, ksize, borderType=cv2.BORDER_REFLECT)

    mean_i = box(guide)
    mean_p = box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def refine_person_mask(photo: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H,W) float32 alpha in [0,1]: `mask` (any soft person probability at the photo's size) snapped to the
    photo's edges. Work is confined to the mask's bounding box (plus the filter's reach)."""
    h, w = photo.shape[:2]
    if mask.shape != (h, w):
        raise PoseEditorError(f"the person mask is {mask.shape[1]}×{mask.shape[0]} but the photo is {w}×{h}")
    mask = np.asarray(mask, dtype=np.float32)
    out = np.zeros((h, w), np.float32)
    x, y, bw, bh = cv2.boundingRect((mask > 0.02).view(np.uint8))  # NaN compares False: never in the box
    if bw == 0 or bh == 0:
        return out
    radius = max(2, round(max(h, w) / 400))  # ~3 px at 720p, ~10 px at 4K: the detector's ramp grows with it
    pad = 3 * radius
    x0, x1 = max(0, x - pad), min(w, x + bw + pad)
    y0, y1 = max(0, y - pad), min(h, y + bh + pad)
    grey = cv2.cvtColor(photo[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    region = np.nan_to_num(mask[y0:y1, x0:x1], nan=0.0, posinf=1.0, neginf=0.0)
    snapped = guided_filter(grey, np.clip(region, 0.0, 1.0), radius)
    out[y0:y1, x0:x1] = np.clip((snapped - 0.5) * STRETCH + 0.5, 0.0, 1.0)
    return out


def person_mask_from_network(part_masks: np.ndarray, crop_to_photo_roi: np.ndarray, roi_size: tuple[int, int]) -> np.ndarray:
    """The network's person probability (1 − background channel), mapped from the crop into a photo region.

    `crop_to_photo_roi`: the (2,3) map from region pixels to crop pixels (used with WARP_INVERSE_MAP)."""
    person = np.ascontiguousarray(1.0 - part_masks[0], dtype=np.float32)
    return cv2.warpAffine(
        person, crop_to_photo_roi, roi_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )
