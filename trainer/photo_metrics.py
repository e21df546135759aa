"""Metrics of a re-posed photo at its own resolution, in the regions the edit touches (DESIGN.md §5, §9).

All images are (H, W, 3) uint8 RGB of one size; regions are (H, W) bool.
- edit region: the source person ∪ the target person, grown (where anything may change);
- vacated region: where the source person was and the target person is not (the truth there is background:
  ghosts and smears show here);
- sharpness: std of the Laplacian inside the target person, output / truth (blur scores below 1);
- L1 on [0, 1] and SSIM (Wang et al.: Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, per channel, averaged over
  the region's pixels) — pixel metrics, which reward averages; the perceptual distance is the one to decide by.
"""

from __future__ import annotations

import cv2
import numpy as np

from poseeditor.geometry import person_scale
from poseeditor.skeleton import LIMBS, Pose


def person_region_from_joints(pose: Pose, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: a body-shaped region drawn from the joints (for data without masks): limbs as capsules a
    tenth of the person's height wide, the torso's quadrilateral, a head disc."""
    h, w = shape
    canvas = np.zeros((h, w), np.uint8)
    height = person_scale(pose) * 200.0 / 1.14  # the person's height in pixels (the crop fills ~228/256 with 1.14)
    xy, vis = pose.xy, pose.visible
    limb_width = max(3, round(0.09 * height))
    for joints in LIMBS:
        use = [j for j in joints if vis[j]]
        pts = np.round(xy[use]).astype(np.int32)
        if len(use) >= 3:
            cv2.fillConvexPoly(canvas, cv2.convexHull(pts), 1)
            cv2.polylines(canvas, [cv2.convexHull(pts)], True, 1, limb_width)
        elif len(use) == 2:
            cv2.line(canvas, tuple(map(int, pts[0])), tuple(map(int, pts[1])), 1, limb_width)
    if vis[0] and vis[1]:
        head = 0.5 * (xy[0] + xy[1])
        radius = max(3, round(0.55 * float(np.linalg.norm(xy[0] - xy[1]))))
        cv2.circle(canvas, tuple(int(v) for v in np.round(head)), radius, 1, -1)
    return canvas.astype(bool)


def grow(region: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return region
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(region.astype(np.uint8), kernel).astype(bool)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) SSIM of two uint8 RGB images, averaged over the channels (Gaussian window σ = 1.5)."""
    x = a.astype(np.float32) / 255.0
    y = b.astype(np.float32) / 255.0
    c1, c2 = 0.01**2, 0.03**2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(axis=2)


def region_l1(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    if not region.any():
        return float("nan")
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32))[region].mean() / 255.0)


def laplacian_energy(image: np.ndarray, region: np.ndarray) -> float:
    """Std of the Laplacian of the grey image inside `region` (high-frequency energy)."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    return float(lap[region].std()) if region.any() else float("nan")


def region_box(region: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(region)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def photo_metrics(output: np.ndarray, truth: np.ndarray, source_person: np.ndarray, target_person: np.ndarray,
                  edit_grow: int) -> dict[str, float]:
    """L1/SSIM over the edit region, L1 over the vacated region, sharpness ratio inside the target person."""
    edit = grow(source_person | target_person, edit_grow)
    vacated = source_person & ~grow(target_person, max(1, edit_grow // 2))
    inside = target_person & ~grow(~target_person, 2)  # away from the silhouette: texture, not the edge
    truth_energy = laplacian_energy(truth, inside)
    return {
        "edit_l1": region_l1(output, truth, edit),
        "edit_ssim": float(ssim_map(output, truth)[edit].mean()),
        "vacated_l1": region_l1(output, truth, vacated),
        "sharpness": laplacian_energy(output, inside) / truth_energy if truth_energy > 0 else float("nan"),
    }
