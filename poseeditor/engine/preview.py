"""The drag-time preview: the warp and the target network at a lower resolution while the user drags.

The target stage is the drag path (DESIGN §3). At 160² instead of 256² it has 39 % of the pixels: the target
network ran ~2.8× faster in onnxruntime (docs/drag_speed.md). Since the photo-true composite takes the person's
sharp pixels from the photo itself (moved by the limbs' similarities in photo pixels, which do not depend on the
network's resolution), the network's resolution decides only the selection weights, the mask and the generated RGB
in the gaps; the crop view is a little softer while the mouse moves and is re-rendered at full size when it pauses.

Pixel convention: cv2's, pixel centres at integers. With k = full side / preview side, a preview pixel p covers
full-size pixels k·p … k·(p + 1) − 1, so full = k·preview + (k − 1)/2 (what cv2.resize's area and linear modes
assume).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from poseeditor.heatmaps import joint_heatmaps

if TYPE_CHECKING:
    from poseeditor.engine.model_files import ModelFiles

# The drag-time side as a fraction of the crop's, rounded to the networks' step: 160 for the 256² models. Measured
# on the shipped model (docs/drag_speed.md): at 128 (half) the target network ran ~3.9× faster but the crop's person
# L1 rose by 0.0029 on the tennis pairs (tolerance 0.002); at 160 it is ~2.8× faster and within tolerance.
PREVIEW_FRACTION = 0.625
PREVIEW_VARIABLE = "POSEEDITOR_DRAG_PREVIEW"  # "off": every render at full size; a number: that side (comparisons)


@dataclass(frozen=True)
class PreviewSource:
    """What the target stage needs from the source, at the preview's side (made once per photo and source)."""

    size: int
    scale: float  # full-size side / preview side
    layers: np.ndarray  # (10,4,P,P) premultiplied limb layers and masks, area-averaged
    background: np.ndarray  # (3,P,P) in [-1,1]
    source_xy: np.ndarray  # (14,2) preview pixels


def size_step(config: dict) -> int | None:
    """The networks' total downsampling (every input side must be a multiple of it), from model.json's config;
    None when the config does not say."""
    try:
        steps = []
        for key in ("segmentation", "background", "foreground"):
            unet = config[key]
            steps.append(2 ** (len(unet["widths"]) - 1 + (int(unet.get("stem_stride", 1)) == 2)))
        return max(steps)
    except (KeyError, TypeError, ValueError):
        return None


def preview_side(image_size: int, step: int, fraction: float = PREVIEW_FRACTION) -> int | None:
    """`fraction` of `image_size`, rounded to a multiple of `step`; None when that is not smaller."""
    side = max(step, round(image_size * fraction / step) * step)
    return side if side < image_size else None


def drag_preview_size(files: ModelFiles, dynamic_size: bool) -> int | None:
    """The drag-time side for this model (`preview_side`) when the backend can run the target stage at another
    size (`dynamic_size`: ONNX graphs exported with dynamic spatial axes, or torch); None for fixed-size ONNX
    (models exported before issue 14), or when $POSEEDITOR_DRAG_PREVIEW is "off". A number in that variable
    asks for that side (a multiple of the networks' step)."""
    wanted = os.environ.get(PREVIEW_VARIABLE, "").strip().lower()
    if wanted in ("off", "0", "no", "false") or not dynamic_size:
        return None
    step = size_step(files.config)
    if step is None:
        return None
    if wanted.isdigit():
        side = int(wanted)
        return side if side % step == 0 and step <= side < files.image_size else None
    return preview_side(files.image_size, step)


def to_preview_xy(xy: np.ndarray, scale: float) -> np.ndarray:
    return (np.asarray(xy, dtype=np.float64) - (scale - 1) / 2.0) / scale


def preview_transforms(transforms: np.ndarray, scale: float) -> np.ndarray:
    """Backward maps in full-size pixels -> the same maps in preview pixels: A⁻¹·T·A with A(p) = k·p + c."""
    c = (scale - 1) / 2.0
    m = np.asarray(transforms, dtype=np.float64)
    out = m.copy()
    out[:, :, 2] = (m[:, :, 0] * c + m[:, :, 1] * c + m[:, :, 2] - c) / scale
    return out.astype(np.float32)


def _area_resize_planes(planes: np.ndarray, size: int) -> np.ndarray:
    """(..., S, S) -> (..., size, size) by area averaging, four planes per cv2 call (channel-last; cv2's area mode
    takes at most 4 channels at a non-integer ratio)."""
    lead = planes.shape[:-2]
    flat = planes.reshape(-1, *planes.shape[-2:])
    out = np.empty((flat.shape[0], size, size), dtype=np.float32)
    for start in range(0, flat.shape[0], 4):
        chunk = np.ascontiguousarray(np.moveaxis(flat[start : start + 4], 0, -1), dtype=np.float32)
        resized = cv2.resize(chunk, (size, size), interpolation=cv2.INTER_AREA)
        out[start : start + 4] = np.moveaxis(resized.reshape(size, size, -1), -1, 0)
    return out.reshape(*lead, size, size)


def preview_source(layers: np.ndarray, background: np.ndarray, source_xy: np.ndarray, size: int) -> PreviewSource:
    scale = layers.shape[-1] / size
    return PreviewSource(
        size=size,
        scale=scale,
        layers=_area_resize_planes(layers, size),
        background=_area_resize_planes(background, size),
        source_xy=to_preview_xy(source_xy, scale),
    )


def preview_target_inputs(preview: PreviewSource, transforms: np.ndarray, target_xy: np.ndarray,
                          target_visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(transforms in preview pixels, target heatmaps at the preview's side) for full-size `transforms` and
    joints (σ scales with the side, as at training: `sigma_for_size`)."""
    return (preview_transforms(transforms, preview.scale),
            joint_heatmaps(to_preview_xy(target_xy, preview.scale), target_visible, preview.size))


def upsample_planes(size: int, *images: np.ndarray) -> tuple[np.ndarray, ...]:
    """(P,P[,C]) images -> (size,size[,C]), bilinear (half-pixel centres, the convention above)."""
    return tuple(cv2.resize(np.ascontiguousarray(im), (size, size), interpolation=cv2.INTER_LINEAR)
                 for im in images)
