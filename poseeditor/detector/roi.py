"""Square crops (axis-aligned letterbox or rotated region of interest) as 2×3 affine maps photo → model input.

Every crop keeps its matrix so model coordinates map back to photo pixels exactly (`to_photo`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from poseeditor.geometry import apply_affine, compose_affine, invert_affine


@dataclass(frozen=True)
class SquareCrop:
    """`matrix` maps photo pixels to the crop's pixels (side `size`)."""

    matrix: np.ndarray
    size: int

    def cut(self, photo: np.ndarray, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
        """The crop's pixels, bilinear as MediaPipe's CPU preprocessing. (Area-averaging large downscales first was
        tried: on the tennis frames it raised the mean joint error from 7.7 to 9.2 px; docs/detector.md.)"""
        return cv2.warpAffine(
            photo, self.matrix, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
        )

    def _photo_window(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The integer photo box (x0, y0, x1, y1) covering the crop, clipped to the photo."""
        corners = self.to_photo(np.array([[0, 0], [self.size, 0], [0, self.size], [self.size, self.size]]) - 0.5)
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, [width, height])
        return int(x0), int(y0), int(x1), int(y1)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(invert_affine(self.matrix), points)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.matrix, points)

    def paste_mask(self, crop_mask: np.ndarray, width: int, height: int) -> np.ndarray:
        """A map in crop pixels (values in [0, 1]), resampled into the photo frame (zero outside the crop).

        Only the photo window the crop covers is warped: a 4K frame is mostly outside the person's crop."""
        resized = cv2.resize(crop_mask.astype(np.float32), (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        out = np.zeros((height, width), dtype=np.float32)
        x0, y0, x1, y1 = self._photo_window(width, height)
        if x1 <= x0 or y1 <= y0:
            return out
        # photo -> crop for the window: the window's pixel (0, 0) is the photo pixel (x0, y0).
        window_matrix = compose_affine(self.matrix, np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]]))
        window = cv2.warpAffine(
            resized, window_matrix, (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )
        out[y0:y1, x0:x1] = np.clip(window, 0.0, 1.0)
        return out


def rotated_square_crop(centre: np.ndarray, side: float, rotation: float, size: int) -> SquareCrop:
    """The square of `side` photo pixels centred at `centre`, turned by `rotation` radians (clockwise on screen,
    as MediaPipe's NormalizedRect), sampled to size×size. Crop pixel (u, v) ↦ centre + R·((u/size − ½)·side, …)."""
    cos, sin = math.cos(rotation), math.sin(rotation)
    scale = side / size
    # crop -> photo: p = centre + R @ (scale * (q - size/2)), with R = [[cos, -sin], [sin, cos]]
    to_photo = np.array(
        [
            [cos * scale, -sin * scale, 0.0],
            [sin * scale, cos * scale, 0.0],
        ]
    )
    to_photo[:, 2] = np.asarray(centre, dtype=np.float64) - to_photo[:, :2] @ np.array([size / 2.0, size / 2.0])
    return SquareCrop(invert_affine(to_photo), size)


def letterbox_crop(x0: float, y0: float, width: float, height: float, size: int) -> SquareCrop:
    """The box (x0, y0, width, height) scaled to fit size×size, centred, zero-padded (MediaPipe keep_aspect_ratio)."""
    side = max(width, height)
    return rotated_square_crop(np.array([x0 + width / 2.0, y0 + height / 2.0]), side, 0.0, size)
