"""Offline person detection: 14 joints in contract order, per-joint confidence, a person mask and a box.

Runs MediaPipe BlazePose's detector, landmark model and selfie segmenter (Apache-2.0), converted once to ONNX
(tools/convert_blazepose.py), with onnxruntime. See docs/detector.md for accuracy, speed and limits.

    from poseeditor.detector import detect
    found = detect(photo_rgb)                  # the largest person
    found = detect(photo_rgb, region=(x, y))   # the person under a clicked point
    found.pose, found.confidence, found.mask, found.box, found.score
"""

from __future__ import annotations

import threading

import numpy as np

from poseeditor.detector.pipeline import Detection, PoseDetector, Region
from poseeditor.errors import NoPersonFoundError
from poseeditor.skeleton import Pose

__all__ = ["Detection", "PoseDetector", "Region", "default_detector", "detect", "person_mask"]

_default: PoseDetector | None = None
_default_lock = threading.Lock()


def default_detector() -> PoseDetector:
    """One shared detector per process (its ONNX sessions load on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PoseDetector()
        return _default


def detect(photo_rgb: np.ndarray, region: Region | None = None) -> Detection:
    """The person in an (H, W, 3) uint8 RGB photo; `region` is a box (x, y, w, h) or a point (x, y).

    Raises NoPersonFoundError when nobody is found, ImageError for something that is not a photo."""
    return default_detector().detect(photo_rgb, region)


def person_mask(photo_rgb: np.ndarray, pose: Pose) -> np.ndarray | None:
    """The soft (H, W) person mask of the person at `pose` (the detector run on the pose's box, grown by 10 %),
    or None when the detector finds nobody there. The photo-true composite's person/background split."""
    h, w = photo_rgb.shape[:2]
    x0, y0, x1, y1 = pose.box()
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    x0, y0 = max(0.0, x0 - mx), max(0.0, y0 - my)
    x1, y1 = min(float(w), x1 + mx), min(float(h), y1 + my)
    try:
        found = detect(photo_rgb, region=(float(x0), float(y0), float(max(x1 - x0, 1.0)), float(max(y1 - y0, 1.0))))
    except NoPersonFoundError:
        return None
    return found.mask
