"""A picture of what the detector found: the person mask tinted, the 14-joint skeleton, the person's box."""

from __future__ import annotations

import cv2
import numpy as np

from poseeditor.detector.pipeline import Detection
from poseeditor.skeleton import BONES, JOINT_COLOURS, bone_colour

MASK_TINT = np.array([255, 60, 200], dtype=np.float32)


def draw_detection(photo_rgb: np.ndarray, found: Detection, show_mask: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 RGB overlay. Hidden joints are drawn as rings; lines scale with the photo."""
    canvas = photo_rgb.astype(np.float32)
    if show_mask:
        alpha = 0.45 * found.mask[:, :, None]
        canvas = canvas * (1.0 - alpha) + MASK_TINT * alpha
    canvas = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    height, width = canvas.shape[:2]
    thickness = max(2, round(max(height, width) / 400))
    radius = thickness * 2 + 1
    x0, y0, x1, y1 = (round(v) for v in found.box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), (255, 255, 0), max(1, thickness // 2), cv2.LINE_AA)
    xy = np.round(found.pose.xy).astype(int)
    visible = found.pose.visible
    for a, b in BONES:
        if visible[a] and visible[b]:
            cv2.line(canvas, tuple(xy[a]), tuple(xy[b]), bone_colour(a, b), thickness, cv2.LINE_AA)
    for j, (x, y) in enumerate(xy):
        if visible[j]:
            cv2.circle(canvas, (x, y), radius, JOINT_COLOURS[j], -1, cv2.LINE_AA)
            cv2.circle(canvas, (x, y), radius, (255, 255, 255), max(1, thickness // 2), cv2.LINE_AA)
        else:
            cv2.circle(canvas, (x, y), radius, JOINT_COLOURS[j], max(1, thickness // 2), cv2.LINE_AA)
    return canvas
