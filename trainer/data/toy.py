"""Toy videos: a painted figure moving in front of a textured still background, with exact joints, part maps
and masks. Seconds to make, so tests and smoke runs of the trainer need no real or rendered data."""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from poseeditor.skeleton import LAYER_COLOURS, LIMBS, NUM_JOINTS
from trainer.data.dataset_format import VideoRecord, write_manifest, write_video
from trainer.data.holes import random_pose

# Stroke width of each limb layer as a fraction of the figure's height (head, arms, legs; torso is a polygon).
_LIMB_WIDTH = (0.0, 0.06, 0.05, 0.06, 0.05, 0.08, 0.06, 0.08, 0.06, 0.0)


@dataclass
class ToyVideo:
    frames: list[np.ndarray]  # (H, W, 3) uint8 RGB
    joints: np.ndarray  # (n, 14, 2)
    visible: np.ndarray  # (n, 14) bool
    parts: list[np.ndarray]  # (H, W) uint8 labels 0..10
    masks: list[np.ndarray]  # (H, W) uint8 0/255


def paint_parts(xy: np.ndarray, height: int, width: int, body_height: float) -> np.ndarray:
    """(H, W) uint8 label map: 0 background, 1..10 the limbs in LIMBS order (limbs drawn over the torso)."""
    labels = np.zeros((height, width), dtype=np.uint8)
    p = np.round(xy).astype(np.int32)
    cv2.fillPoly(labels, [p[[2, 5, 11, 8]]], 10)
    for layer, (a, b) in enumerate(LIMBS[1:9], start=2):
        cv2.line(labels, tuple(p[a]), tuple(p[b]), layer, max(2, int(_LIMB_WIDTH[layer - 1] * body_height)))
    centre = tuple(np.round(0.5 * (xy[0] + xy[1])).astype(int))
    radius = max(2, int(0.5 * np.linalg.norm(xy[0] - xy[1])))
    cv2.circle(labels, centre, radius, 1, -1)
    return labels


def toy_video(seed: int, frames: int = 4, width: int = 96, height: int = 128) -> ToyVideo:
    """A figure whose limbs swing smoothly between two random poses, over a fixed random background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tint = rng.uniform(40, 200, size=3)
    background = np.dstack(
        [tint[c] + 40 * np.sin(xx / rng.uniform(4, 12) + yy / rng.uniform(6, 14) + c) for c in range(3)]
    )
    background = np.clip(background, 0, 255).astype(np.uint8)
    side = min(width, height)
    start, end = random_pose(rng, side, (0.6, 0.8)), random_pose(rng, side, (0.6, 0.8))
    offset = np.array([(width - side) / 2.0, (height - side) / 2.0])
    colours = np.array(LAYER_COLOURS, dtype=np.uint8)
    colours[1:] = (0.6 * colours[1:] + 0.4 * rng.integers(0, 255, size=(10, 3))).astype(np.uint8)
    out = ToyVideo([], np.zeros((frames, NUM_JOINTS, 2)), np.ones((frames, NUM_JOINTS), bool), [], [])
    for k in range(frames):
        t = k / max(1, frames - 1)
        xy = (1 - t) * start.xy + t * end.xy + offset
        body = float(np.ptp(xy[:, 1]))
        parts = paint_parts(xy, height, width, body)
        frame = background.copy()
        person = parts > 0
        frame[person] = colours[parts[person]]
        out.frames.append(frame)
        out.joints[k] = xy
        out.parts.append(parts)
        out.masks.append(np.where(person, 255, 0).astype(np.uint8))
    return out


def write_toy_dataset(
    root: str | os.PathLike[str], videos: int = 2, frames: int = 4, width: int = 96, height: int = 128, seed: int = 0
) -> list[VideoRecord]:
    """A dataset folder of `videos` toy videos (PNG frames, part maps, masks)."""
    write_manifest(root, source="toy", licence="generated")
    records = []
    for v in range(videos):
        toy = toy_video(seed * 1000 + v, frames, width, height)
        records.append(
            write_video(
                root,
                f"toy{v:03d}",
                toy.frames,
                toy.joints,
                toy.visible,
                parts=toy.parts,
                masks=toy.masks,
                source="toy",
                frame_suffix=".png",
            )
        )
    return records
