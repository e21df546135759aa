"""The intermediates grid as one picture (Qt-free): every module's output as a labelled tile.

Drawing ~30 small images as one array (built in the render worker) costs one texture upload per render in the
GUI thread instead of thirty. `Montage.tile_at` maps a click back to the tile, and `tile_stack` gives the
full-resolution stack the tile belongs to (for the enlarged view with levels and a slider).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from poseeditor.skeleton import JOINT_NAMES, LAYER_NAMES, LIMB_NAMES

TILE = 128  # 256-pixel crops shrink by exactly 2: cv2's fast integer area path (~0.01 ms a plane)
CAPTION = 17
HEADER = 22
GAP = 4
BACKGROUND = (38, 38, 42)

# Groups of tiles: (title, row, first column, [(intermediate name, caption)]). Two rows of 14 tiles fill a
# wide, short dock better than four short rows.
GROUPS: tuple[tuple[str, int, float, tuple[tuple[str, str], ...]], ...] = (
    (
        "Source stage: part masks (softmax over 11 layers, white = 1)",
        0, 0.0,
        tuple((f"source_mask_{n}", n.replace("_", " ")) for n in LAYER_NAMES),
    ),
    (
        "Inputs",
        0, 11.25,
        (("source", "source crop"), ("source_heatmaps", "src heatmaps"), ("target_heatmaps", "tgt heatmaps")),
    ),
    (
        "Warped layers: source × part mask, moved by each limb's similarity",
        1, 0.0,
        tuple((f"warped_{n}", n.replace("_", " ")) for n in LIMB_NAMES),
    ),
    (
        "Target stage",
        1, 10.25,
        (("background", "background"), ("foreground", "foreground"), ("foreground_mask", "fg mask"),
         ("output", "output")),
    ),
    (
        "The photo at full resolution (shown in the crop's frame): person mask, the hole it leaves, its fill, "
        "the re-posed photo",
        2, 0.0,
        (("person_mask", "person mask"), ("hole", "hole"), ("fill", "fill"), ("photo_result", "photo result")),
    ),
)


@dataclass(frozen=True)
class Tile:
    name: str  # key in RenderResult.intermediates()
    caption: str
    x: int
    y: int
    size: int


@dataclass(frozen=True)
class Header:
    title: str
    x: int
    y: int


@dataclass
class Montage:
    image: np.ndarray  # (H, W, 3) uint8
    tiles: tuple[Tile, ...]

    def tile_at(self, x: float, y: float) -> Tile | None:
        for tile in self.tiles:
            if tile.x <= x < tile.x + tile.size and tile.y <= y < tile.y + tile.size + CAPTION:
                return tile
        return None


# Warped layers are the source × a soft part mask: most of their pixels are a fraction of the colour, so they
# looked almost black. For display each is scaled so its brightest value is 1 (no clipping, so colours keep their
# ratios), by at most MAX_DISPLAY_GAIN (an empty layer stays dark instead of turning its noise into colour).
MAX_DISPLAY_GAIN = 8.0


def normalised_for_display(image: np.ndarray) -> np.ndarray:
    """`image` (float, [0, 1]) scaled so its brightest value is 1 (gain at most MAX_DISPLAY_GAIN)."""
    image = np.asarray(image, dtype=np.float32)
    top = float(image.max()) if image.size else 1.0
    gain = min(MAX_DISPLAY_GAIN, 1.0 / max(top, 1e-6))
    return np.minimum(image * gain, 1.0) if gain > 1.0 else image


def _display(name: str, image: np.ndarray) -> np.ndarray:
    return normalised_for_display(image) if name.startswith("warped_") else image


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.clip(np.asarray(image, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


def montage_layout(tile: int = TILE) -> tuple[tuple[int, int], tuple[Tile, ...], tuple[Header, ...]]:
    """((height, width), tiles, headers) of the grid; independent of the images. Captions go under each tile,
    headers above each group (drawn by the view as text, so they stay readable at any zoom)."""
    row_height = HEADER + tile + CAPTION + GAP
    tiles: list[Tile] = []
    headers: list[Header] = []
    right = 0
    for title, row, column, items in GROUPS:
        x0 = GAP + round(column * (tile + GAP))
        y0 = row * row_height
        headers.append(Header(title, x0, y0))
        for k, (name, caption) in enumerate(items):
            tiles.append(Tile(name, caption, x0 + k * (tile + GAP), y0 + HEADER, tile))
            right = max(right, x0 + k * (tile + GAP) + tile + GAP)
    rows = 1 + max(row for _, row, _, _ in GROUPS)
    return (rows * row_height, right), tuple(tiles), tuple(headers)


def tile_images(result: Any, tile: int = TILE) -> dict[str, np.ndarray]:
    """RenderResult.intermediates() at tile size (planes are shrunk before the display formulas: cheap)."""
    return result.intermediates(tile)


@functools.lru_cache(maxsize=4)
def _blank_canvas(tile: int) -> np.ndarray:
    (height, width), _, _ = montage_layout(tile)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    canvas.setflags(write=False)
    return canvas


def build_montage(result: Any, tile: int = TILE) -> Montage:
    _, tiles, _ = montage_layout(tile)
    canvas = _blank_canvas(tile).copy()
    images = tile_images(result, tile)
    for t in tiles:
        if t.name in images:  # the photo tiles come once the photo side is ready
            canvas[t.y : t.y + tile, t.x : t.x + tile] = _as_rgb_uint8(_display(t.name, images[t.name]))
    return Montage(canvas, tiles)


def tile_stack(result: Any, name: str) -> tuple[np.ndarray, int, list[str]]:
    """The full-resolution stack a tile belongs to, the tile's index in it, and the frame labels.

    Stacks are (N, S, S) or (N, S, S, 3) float32 in [0, 1]; a single image is a stack of one.
    """
    images = result.intermediates()
    if name.startswith("source_mask_"):
        names = [f"source_mask_{n}" for n in LAYER_NAMES]
        labels = list(LAYER_NAMES)
    elif name.startswith("warped_"):
        names = [f"warped_{n}" for n in LIMB_NAMES]
        labels = list(LIMB_NAMES)
    elif name in ("source_heatmaps", "target_heatmaps"):
        stack = np.asarray(getattr(result, name), dtype=np.float32)
        return stack, 0, list(JOINT_NAMES)
    elif name not in images:  # a photo tile before the photo side is ready
        return np.zeros((1, result.crop.size, result.crop.size), np.float32), 0, [f"{name} (not ready)"]
    else:
        return np.asarray(images[name], dtype=np.float32)[None], 0, [name]
    return np.stack([_display(n, images[n]) for n in names]).astype(np.float32), names.index(name), labels
