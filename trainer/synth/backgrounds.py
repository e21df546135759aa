"""Backgrounds: procedural scenes (room, outdoor ground and sky, court, abstract) and crops of real photographs
that ship in `backgrounds/` (licences in backgrounds/SOURCES.md: scikit-image's CC0/public-domain data images
and people-free regions of frames of the BSD-3 demo videos of pose2sim 0.10.49 and sports2d 0.8.34).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

BACKGROUND_DIR = Path(__file__).resolve().parent / "backgrounds"
PROCEDURAL_KINDS = ("room", "outdoor", "court", "abstract")


@lru_cache(maxsize=1)
def photo_backgrounds() -> tuple[np.ndarray, ...]:
    """The shipped background photographs as RGB uint8 arrays (sorted by name, so seeds stay stable)."""
    images = []
    for path in sorted(BACKGROUND_DIR.glob("*.jpg")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return tuple(images)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def _photo(rng: np.random.Generator, size: int) -> np.ndarray:
    photos = photo_backgrounds()
    src = photos[rng.integers(len(photos))]
    h, w = src.shape[:2]
    side = int(min(h, w) * rng.uniform(0.45, 1.0))
    y = rng.integers(0, h - side + 1)
    x = rng.integers(0, w - side + 1)
    crop = src[y : y + side, x : x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    # Colour/exposure jitter so the few photos look like many.
    out = out * rng.uniform(0.75, 1.2, 3) + rng.uniform(-0.05, 0.05)
    return out


def _ground_and_sky(rng: np.random.Generator, size: int, horizon: float, kind: str) -> np.ndarray:
    y = np.arange(size, dtype=np.float32)[:, None]
    x = np.arange(size, dtype=np.float32)[None, :]
    img = np.zeros((size, size, 3), np.float32)
    h = float(np.clip(horizon, -size, 2 * size))
    if kind == "room":
        wall = rng.uniform(0.35, 0.95, 3) * rng.uniform(0.6, 1.0)
        floor = rng.uniform(0.2, 0.7, 3) * np.array([1.0, 0.85, 0.7])
        img[:] = wall * (0.85 + 0.25 * _smooth_noise(rng, size, 3))[..., None]
        depth = np.maximum(y - h, 1.0)
        planks = (np.sin((x - size / 2) / depth * rng.uniform(20, 60)) > 0.9) * 0.15
        fl = floor * (1 - planks[..., None] + 0.1 * _smooth_noise(rng, size, 8)[..., None])
        img = np.where((y > h)[..., None], fl, img)
        board = (y > h - size * 0.025) & (y <= h)
        img = np.where(np.broadcast_to(board, (size, size))[..., None], np.array([0.9, 0.9, 0.88]) * rng.uniform(0.5, 1.0), img)
        if rng.random() < 0.6:  # a door or a picture frame on the wall
            x0 = rng.integers(0, size)
            w = rng.integers(size // 8, size // 3)
            top = int(h - rng.uniform(0.3, 0.9) * size)
            img[max(top, 0) : max(int(h), 0), x0 : x0 + w] *= rng.uniform(0.5, 1.3, 3)
    else:
        sky_top = np.array([0.35, 0.55, 0.9]) * rng.uniform(0.7, 1.1)
        sky_bottom = np.array([0.8, 0.88, 0.95]) * rng.uniform(0.8, 1.05)
        t = np.clip(y / max(h, 1.0), 0, 1)[..., None]
        img[:] = sky_top * (1 - t) + sky_bottom * t
        img += 0.08 * (_smooth_noise(rng, size, 5)[..., None] - 0.5)
        if kind == "court":
            ground = np.array([[0.2, 0.45, 0.3], [0.6, 0.3, 0.2], [0.25, 0.35, 0.6]])[rng.integers(3)]
        else:
            ground = np.array([[0.25, 0.45, 0.15], [0.45, 0.42, 0.38], [0.55, 0.48, 0.35]])[rng.integers(3)]
        g = ground * (0.8 + 0.4 * _smooth_noise(rng, size, 12)[..., None])
        if kind == "court":
            depth = np.maximum(y - h, 1.0)
            lines = (np.abs(np.sin((x - size * rng.uniform(0.2, 0.8)) / depth * 4)) < 0.03) | (
                np.abs(np.sin(size * 6 / depth)) < 0.04
            )
            g = np.where(lines[..., None], np.array([0.92, 0.92, 0.9]), g)
        else:
            g += 0.06 * (rng.random((size, size, 1)) - 0.5)
        # A far treeline / building band at the horizon.
        band = np.broadcast_to((y > h - size * rng.uniform(0.03, 0.15)) & (y <= h), (size, size))
        farc = rng.uniform(0.1, 0.5, 3)
        img = np.where(band[..., None], farc * (0.7 + 0.6 * _smooth_noise(rng, size, 20)[..., None]), img)
        img = np.where((y > h)[..., None], g, img)
    return img


def make_background(rng: np.random.Generator, size: int, horizon: float) -> tuple[np.ndarray, str]:
    """An (S, S, 3) float32 RGB background in [0, 1] and its kind. `horizon` is the image row of the horizon."""
    r = rng.random()
    if r < 0.45 and photo_backgrounds():
        img, kind = _photo(rng, size), "photo"
    elif r < 0.95:
        kind = str(rng.choice(["room", "outdoor", "court"]))
        img = _ground_and_sky(rng, size, horizon, kind)
    else:
        kind = "abstract"
        img = np.stack([_smooth_noise(rng, size, int(rng.integers(2, 9))) for _ in range(3)], -1)
        img = img * rng.uniform(0.4, 1.0) + rng.uniform(0, 0.3)
    if rng.random() < 0.35:  # defocus: a shallow depth of field is common in photos of people
        k = int(rng.integers(1, 4)) * 2 + 1
        img = cv2.GaussianBlur(img, (k, k), 0)
    return np.clip(img, 0, 1).astype(np.float32), kind


def ground_shadow(background: np.ndarray, feet_xy: np.ndarray, width: float, strength: float) -> np.ndarray:
    """Darken the background in a soft ellipse under the feet. It is painted into the background (never into
    the person), so the person mask and foreground stay free of shadows."""
    size = background.shape[0]
    centre = feet_xy.mean(0)
    rx, ry = max(width, 2.0) * 2, max(width * 0.25, 1.0) * 2
    x0, x1 = int(max(centre[0] - rx, 0)), int(min(centre[0] + rx + 1, size))
    y0, y1 = int(max(centre[1] - ry, 0)), int(min(centre[1] + ry + 1, size))
    out = background.copy()
    if x1 <= x0 or y1 <= y0 or strength <= 0:
        return out
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = ((xx - centre[0]) / max(width, 2.0)) ** 2 + ((yy - centre[1]) / max(width * 0.25, 1.0)) ** 2
    out[y0:y1, x0:x1] *= (1 - strength * np.exp(-d * 1.5)).astype(np.float32)[..., None]
    return out
