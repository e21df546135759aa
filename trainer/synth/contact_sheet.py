"""A contact sheet of a dataset folder: per video two frames with the skeleton drawn (hollow dots = joints
flagged invisible) and the two part maps as thumbnails. Used to judge the synthetic data by eye."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from poseeditor.image_io import load_image, save_image
from poseeditor.skeleton import BONES, JOINT_COLOURS, LAYER_COLOURS, bone_colour


def draw_skeleton(image: np.ndarray, joints: np.ndarray, visible: np.ndarray, scale: float = 1.0) -> np.ndarray:
    out = image.copy()
    pts = [(int(np.rint(x * scale)), int(np.rint(y * scale))) for x, y in joints]
    for a, b in BONES:
        if visible[a] and visible[b]:
            cv2.line(out, pts[a], pts[b], bone_colour(a, b), 1, cv2.LINE_AA)
    for j, p in enumerate(pts):
        cv2.circle(out, p, 2, JOINT_COLOURS[j], -1 if visible[j] else 1, cv2.LINE_AA)
    return out


def colour_parts(parts: np.ndarray) -> np.ndarray:
    return np.asarray(LAYER_COLOURS, np.uint8)[np.clip(parts, 0, len(LAYER_COLOURS) - 1)]


def contact_sheet_from_dataset(dataset: Path, out_path: Path, n_videos: int = 16, seed: int = 0,
                               cell: int = 192, columns: int = 4) -> np.ndarray:
    infos = sorted((dataset / "info").glob("*.json"))
    if not infos:
        raise FileNotFoundError(f"{dataset}: no info/*.json files")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(infos), size=min(n_videos, len(infos)), replace=False))
    cells = []
    for i in chosen:
        info = json.loads(infos[i].read_text())
        frames = info["frames"]
        picks = [frames[0], frames[-1]] if len(frames) > 1 else [frames[0], frames[0]]
        tiles, thumbs = [], []
        for fr in picks:
            stem = Path(fr["file"]).stem
            img = load_image(dataset / "frames" / info["video"] / fr["file"])
            s = cell / img.shape[0]
            img = cv2.resize(img, (cell, cell), interpolation=cv2.INTER_AREA)
            j = np.asarray(fr["joints"], float)
            tiles.append(draw_skeleton(img, j[:, :2], j[:, 2] > 0, s))
            parts_path = dataset / "parts" / info["video"] / f"{stem}.png"
            parts = cv2.imread(str(parts_path), cv2.IMREAD_UNCHANGED)
            thumb = colour_parts(parts) if parts is not None else np.zeros((cell, cell, 3), np.uint8)
            thumbs.append(cv2.resize(thumb, (cell // 2, cell // 2), interpolation=cv2.INTER_NEAREST))
        cells.append(np.hstack([*tiles, np.vstack(thumbs)]))
    while len(cells) % columns:
        cells.append(np.zeros_like(cells[0]))
    rows = [np.hstack(cells[r : r + columns]) for r in range(0, len(cells), columns)]
    sheet = np.vstack(rows)
    save_image(out_path, sheet, quality=85)
    return sheet
