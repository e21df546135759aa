"""Limb similarity transforms and the person crop (DESIGN.md §3).

Conventions: points are (x, y) in pixels with pixel centres at integer coordinates (cv2's convention).
A 2×3 matrix M maps a column [x, y, 1] to M @ [x, y, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poseeditor.skeleton import LIMBS, NUM_LIMBS, Pose

CROP_SIZE = 256
PERSON_FILL = 1.14  # the frame is scaled by 1.14/s so a person spans ~228 px of 256


def fit_similarity(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Least-squares 2-D similarity (scale, rotation, translation: 4 parameters) mapping `dst` points onto `src`.

    Exact for two distinct points. One point gives a pure translation; coincident points fall back to translation.
    """
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    n = len(dst)
    if n == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    spread = np.ptp(dst, axis=0).max() if n > 1 else 0.0
    if n == 1 or spread < 1e-6:
        t = (src - dst).mean(axis=0)
        return np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]])
    # src_x = a·x − b·y + tx ; src_y = b·x + a·y + ty
    rows = np.zeros((2 * n, 4))
    rows[0::2] = np.column_stack([dst[:, 0], -dst[:, 1], np.ones(n), np.zeros(n)])
    rows[1::2] = np.column_stack([dst[:, 1], dst[:, 0], np.zeros(n), np.ones(n)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows, src.reshape(-1), rcond=None)
    return np.array([[a, -b, tx], [b, a, ty]])


def limb_transforms(
    source_xy: np.ndarray,
    target_xy: np.ndarray,
    source_visible: np.ndarray | None = None,
    target_visible: np.ndarray | None = None,
) -> np.ndarray:
    """(10, 2, 3) backward maps, one per limb: target pixel -> source pixel.

    Each is fitted on the limb's joints that are visible in both poses (all of them when no flags are given):
    two or more give a similarity, one a translation, none the identity (the layer stays where it was).
    Use as `cv2.warpAffine(layer, M, size, flags=cv2.WARP_INVERSE_MAP)` or as a grid_sample grid.
    """
    source_xy = np.asarray(source_xy, dtype=np.float64)
    target_xy = np.asarray(target_xy, dtype=np.float64)
    n = len(source_xy)
    both = np.ones(n, dtype=bool)
    if source_visible is not None:
        both &= np.asarray(source_visible, dtype=bool)
    if target_visible is not None:
        both &= np.asarray(target_visible, dtype=bool)
    out = np.empty((NUM_LIMBS, 2, 3))
    for i, joints in enumerate(LIMBS):
        use = [j for j in joints if both[j]]
        out[i] = fit_similarity(target_xy[use], source_xy[use])
    return out


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def person_scale(pose: Pose) -> float:
    """The paper's person size s: max(2.5·(mean hip y − head y), 5·mean calf length) / 200.

    Falls back to the visible joints' extent when the joints it needs are hidden.
    """
    xy, vis = pose.xy, pose.visible
    candidates: list[float] = []
    hips = [j for j in (8, 11) if vis[j]]
    if vis[0] and hips:
        candidates.append(2.5 * (np.mean(xy[hips, 1]) - xy[0, 1]))
    calves = [np.linalg.norm(xy[a] - xy[b]) for a, b in ((9, 10), (12, 13)) if vis[a] and vis[b]]
    if calves:
        candidates.append(5.0 * float(np.mean(calves)))
    size = max(candidates) if candidates else 0.0
    if size <= 1.0:
        x0, y0, x1, y1 = pose.box()
        size = max(x1 - x0, y1 - y0, 1.0) * 1.15
    return size / 200.0


@dataclass(frozen=True)
class Crop:
    """The working crop: `matrix` maps photo pixels to crop pixels; `size` is the crop side."""

    matrix: np.ndarray  # (2, 3) float64
    size: int

    @property
    def inverse(self) -> np.ndarray:
        return invert_affine(self.matrix)

    @property
    def scale(self) -> float:
        return float(self.matrix[0, 0])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.matrix, points)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(self.inverse, points)

    def pose_xy(self, pose: Pose) -> np.ndarray:
        return self.to_crop(pose.xy)

    def cut(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """The crop of `image` (H, W[, C]); downscaled photos are area-filtered first so they do not alias."""
        matrix = self.matrix
        if self.scale < 0.75:
            # Area-resample to about the crop's scale, then warp the (much smaller) image the rest of the way.
            f = self.scale
            small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            sx = small.shape[1] / image.shape[1]
            sy = small.shape[0] / image.shape[0]
            # pixel-centre aware mapping of photo coords to the resized image: x' = (x + 0.5)·sx − 0.5
            to_small = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
            matrix = compose_affine(matrix, invert_affine(to_small))
            image = small
        return cv2.warpAffine(
            image, matrix, (self.size, self.size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
        )


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The affine x -> outer(inner(x))."""
    return (np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]]))[:2]


def crop_for_poses(*poses: Pose, size: int = CROP_SIZE) -> Crop:
    """The contract's crop for one or more poses of the same photo: scale 1.14/max(s) (at 256),
    centred on the box of all their visible joints."""
    if not poses:
        raise ValueError("crop_for_poses needs at least one pose")
    s = max(person_scale(p) for p in poses)
    k = PERSON_FILL / s * size / 256.0
    pts = np.concatenate([p.xy[p.visible] for p in poses])
    cx = 0.5 * (pts[:, 0].min() + pts[:, 0].max())
    cy = 0.5 * (pts[:, 1].min() + pts[:, 1].max())
    c = (size - 1) / 2.0
    matrix = np.array([[k, 0.0, c - k * cx], [0.0, k, c - k * cy]])
    return Crop(matrix=matrix, size=size)
