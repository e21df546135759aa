"""The intermediates grid as one picture (Qt-free): every module's output as a labelled tile.

Drawing ~30 small images as one array (built in the render worker) costs one texture upload per render in the
GUI thread instead of thirty. `Montage.tile_at` maps a click back to the tile, and `tile_stack` gives the
full-resolution stack the tile belongs to (for the enlarged view with levels and a slider).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from poseeditor.skeleton import JOINT_NAMES, LAYER_NAMES, LIMB_NAMES

TILE = 96
CAPTION = 17
HEADER = 22
GAP = 4
BACKGROUND = (38, 38, 42)
TEXT = (235, 235, 235)

# (row title, [(intermediate name, caption)])
ROWS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Source stage: part masks (11-way softmax; white = 1)",
        tuple((f"source_mask_{n}", n.replace("_", " ")) for n in LAYER_NAMES),
    ),
    (
        "Warped layers: source x part mask, moved by each limb's similarity",
        tuple((f"warped_{n}", n.replace("_", " ")) for n in LIMB_NAMES),
    ),
    (
        "Inputs and target stage",
        (
            ("source", "source crop"),
            ("source_heatmaps", "src heatmaps"),
            ("target_heatmaps", "tgt heatmaps"),
            ("background", "background"),
            ("foreground", "foreground"),
            ("foreground_mask", "fg mask"),
            ("output", "output"),
        ),
    ),
)


@dataclass(frozen=True)
class Tile:
    name: str  # key in RenderResult.intermediates()
    caption: str
    x: int
    y: int
    size: int


@dataclass
class Montage:
    image: np.ndarray  # (H, W, 3) uint8
    tiles: tuple[Tile, ...]

    def tile_at(self, x: float, y: float) -> Tile | None:
        for tile in self.tiles:
            if tile.x <= x < tile.x + tile.size and tile.y <= y < tile.y + tile.size + CAPTION:
                return tile
        return None


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.clip(np.asarray(image, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image


def montage_layout(tile: int = TILE) -> tuple[tuple[int, int], tuple[Tile, ...], list[tuple[str, int]]]:
    """((height, width), tiles, [(row title, y)]) of the grid; independent of the images."""
    columns = max(len(items) for _, items in ROWS)
    width = GAP + columns * (tile + GAP)
    tiles: list[Tile] = []
    headers: list[tuple[str, int]] = []
    y = 0
    for title, items in ROWS:
        headers.append((title, y))
        y += HEADER
        for k, (name, caption) in enumerate(items):
            tiles.append(Tile(name, caption, GAP + k * (tile + GAP), y, tile))
        y += tile + CAPTION + GAP
    return (y, width), tuple(tiles), headers


def build_montage(result: Any, tile: int = TILE) -> Montage:
    (height, width), tiles, headers = montage_layout(tile)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    images = result.intermediates()
    font = cv2.FONT_HERSHEY_SIMPLEX
    for title, y in headers:
        cv2.putText(canvas, title, (GAP, y + HEADER - 6), font, 0.5, TEXT, 1, cv2.LINE_AA)
    for t in tiles:
        picture = _as_rgb_uint8(images[t.name])
        interpolation = cv2.INTER_AREA if picture.shape[0] > tile else cv2.INTER_NEAREST
        canvas[t.y : t.y + tile, t.x : t.x + tile] = cv2.resize(picture, (tile, tile), interpolation=interpolation)
        cv2.putText(canvas, t.caption[:14], (t.x + 1, t.y + tile + CAPTION - 4), font, 0.4, TEXT, 1, cv2.LINE_AA)
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
    else:
        return np.asarray(images[name], dtype=np.float32)[None], 0, [name]
    return np.stack([images[n] for n in names]).astype(np.float32), names.index(name), labels
