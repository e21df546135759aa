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

__all__ = ["Detection", "PoseDetector", "Region", "default_detector", "detect"]

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
