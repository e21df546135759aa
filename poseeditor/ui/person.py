"""Finding the person in a photo for the editor (Qt-free): the detector when it is installed, else a default
skeleton the user drags into place. Either way the editor opens with a pose and a message saying which."""

from __future__ import annotations

import numpy as np

from poseeditor.errors import NoPersonFoundError, PoseEditorError
from poseeditor.presets import load_presets
from poseeditor.skeleton import Pose
from poseeditor.ui.document import default_pose_for

CLICK_BOX_FRACTION = 0.6  # a click stands for a box this fraction of the photo's height around it

PLACE_HINT = "drag the skeleton onto the person, then Pose → Use skeleton as the person's pose"


def default_pose(width: int, height: int) -> Pose:
    standing = next((p.pose for p in load_presets() if p.key == "standing"), None)
    if standing is None:
        raise PoseEditorError("the bundled preset 'standing' is missing; reinstall poseeditor")
    return default_pose_for(width, height, standing)


def region_around(region: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    """A drawn box as is (clipped to the photo); a click (empty box) grown to a person-sized box."""
    x0, y0, x1, y1 = region
    if abs(x1 - x0) < 4 and abs(y1 - y0) < 4:
        half = CLICK_BOX_FRACTION * height / 2
        x0, x1, y0, y1 = x0 - half * 0.6, x0 + half * 0.6, y0 - half, y0 + half
    return (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))


def find_person(photo: np.ndarray, region: tuple[float, float, float, float] | None = None) -> tuple[Pose, str]:
    """(pose, what happened). Never raises for a missing detector or an empty photo: falls back to a default."""
    h, w = photo.shape[:2]
    try:
        from poseeditor.detector import detect
    except ImportError:
        return default_pose(w, h), f"No person detector is installed: placed a default skeleton — {PLACE_HINT}."
    try:
        detection = detect(photo, region=region_around(region, w, h) if region else None)
    except NoPersonFoundError as exc:
        where = "in that region" if region else "in this photo"
        return default_pose(w, h), (f"No person found {where} ({exc}): placed a default skeleton — "
                                    f"{PLACE_HINT}, or Pose → Point at the person.")
    confidence = getattr(detection, "confidence", None)
    note = f" (confidence {float(confidence):.2f})" if confidence is not None else ""
    return detection.pose, f"Person detected{note}. Wrong person? Pose → Point at the person."
