"""Filling the place the person leaves, at the photo's resolution (docs/photo_composite.md).

Two fills of one hole:
- `fast_fill`: cv2 Telea on a reduced copy of the hole's neighbourhood (tens of ms). Smooth, so it smears across
  texture; shown only until the exemplar fill is ready.
- `exemplar_fill`: PatchMatch (`pypatchmatch`, as in content-aware fill): copies the photo's own patches into the
  hole, so horizons, fences, grass stripes and waves continue through it. About 1–3 s of CPU, so it runs once per
  photo, off the GUI thread, and is cached (`FillCache`).
Both change only pixels inside the hole; every other pixel is the photo's own.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import cv2
import numpy as np

HOLE_ALPHA = 0.1  # person alpha above this is part of the hole
# The exemplar fill works on the hole's neighbourhood reduced to at most this many pixels: PatchMatch's time grows
# with the image area (720p whole photo 5.6 s, a 635×423 neighbourhood 2.7 s, measured), and a background that is
# blurred a little by the upscale is far less visible than the person's own blur.
EXEMPLAR_BUDGET_PX = 250_000
FAST_BUDGET_PX = 120_000
PATCH_RADIUS = 3  # pypatchmatch's patch_size (a radius): 7 failed on a beach, 3 continued every structure tried


def hole_reach(shape: tuple[int, int]) -> int:
    """How far the hole reaches beyond the person: ≈0.5 % of the photo's long side, at least 3 px."""
    return max(3, round(max(shape) * 0.005))


def hole_from_alpha(alpha: np.ndarray, grow: int | None = None) -> np.ndarray:
    """(H,W) uint8 0/255: the person (alpha > HOLE_ALPHA) grown by `grow` pixels (default `hole_reach`), so the
    detector's soft edge and the photo's colour bleed at the silhouette go with the person."""
    grow = hole_reach(alpha.shape) if grow is None else grow
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return cv2.dilate((alpha > HOLE_ALPHA).astype(np.uint8) * 255, kernel)


def _neighbourhood(hole: np.ndarray, margin: float) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the hole's box grown by `margin` × its size on every side, clipped to the photo."""
    ys, xs = np.nonzero(hole)
    if len(xs) == 0:
        return None
    h, w = hole.shape
    bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    mx, my = int(bw * margin) + 8, int(bh * margin) + 8
    return max(0, xs.min() - mx), max(0, ys.min() - my), min(w, xs.max() + 1 + mx), min(h, ys.max() + 1 + my)


def _fill_reduced(photo: np.ndarray, hole: np.ndarray, margin: float, budget: int, fill_small) -> np.ndarray:
    """Run `fill_small(image, hole)` on the hole's neighbourhood reduced to `budget` pixels; paste the result,
    scaled back up, into the hole only."""
    out = photo.copy()
    box = _neighbourhood(hole, margin)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    region, region_hole = photo[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    rh, rw = region_hole.shape
    f = min(1.0, float(np.sqrt(budget / (rw * rh))))
    if f < 1.0:
        size = (max(8, round(rw * f)), max(8, round(rh * f)))
        small = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        # The reduced hole must cover every pixel the full one does: max-pool it down.
        small_hole = (cv2.resize(region_hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8) * 255
        small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
        filled = cv2.resize(fill_small(small, small_hole), (rw, rh), interpolation=cv2.INTER_CUBIC)
    else:
        filled = fill_small(np.ascontiguousarray(region), region_hole)
    inside = region_hole > 0
    out[y0:y1, x0:x1][inside] = filled[inside]
    return out


def fast_fill(photo: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """cv2 Telea fill of `hole` in an (H,W,3) uint8 photo (a reduced copy of the hole's neighbourhood)."""

    def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.inpaint(image, mask, max(3, min(image.shape[:2]) // 60), cv2.INPAINT_TELEA)

    return _fill_reduced(photo, hole, margin=0.15, budget=FAST_BUDGET_PX, fill_small=telea)


def exemplar_available() -> bool:
    try:
        from patchmatch import patch_match
    except ImportError:
        return False
    return bool(patch_match.patchmatch_available)


def exemplar_fill(photo: np.ndarray, hole: np.ndarray, seed: int = 0, budget: int = EXEMPLAR_BUDGET_PX) -> np.ndarray:
    """PatchMatch fill of `hole` (deterministic for a seed). Falls back to `fast_fill` without pypatchmatch."""
    if not exemplar_available():
        return fast_fill(photo, hole)
    from patchmatch import patch_match

    def patchmatch(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with _PATCHMATCH_LOCK:  # the native library keeps its seed globally
            patch_match.set_random_seed(seed)
            return patch_match.inpaint(np.ascontiguousarray(image), np.ascontiguousarray(mask), patch_size=PATCH_RADIUS)

    # A wide neighbourhood (half the hole's size each side) gives PatchMatch enough of the scene to copy from.
    return _fill_reduced(photo, hole, margin=0.5, budget=budget, fill_small=patchmatch)


_PATCHMATCH_LOCK = threading.Lock()


def fill_key(photo: np.ndarray, hole: np.ndarray) -> str:
    """A digest of the photo and the hole: equal keys, equal fills."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (photo, hole):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


class FillCache:
    """The last few exemplar fills, by `fill_key` (thread-safe). A photo reopened, or the source pose set again
    with the same person mask, gets its fill back at once."""

    def __init__(self, capacity: int = 6) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, fill: np.ndarray) -> None:
        with self._lock:
            self._items[key] = fill
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def fill(self, photo: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
        """The cached exemplar fill, computed (in the calling thread) when missing."""
        key = fill_key(photo, hole)
        found = self.get(key)
        if found is None:
            found = exemplar_fill(photo, hole, seed)
            self.put(key, found)
        return found


FILL_CACHE = FillCache()
