"""Finding the person in a photo for the editor (Qt-free): the detector when it is installed, else a default
skeleton the user drags into place. Either way the editor opens with a pose and a message saying which."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poseeditor.errors import NoPersonFoundError, PoseEditorError
from poseeditor.pose_io import load_pose
from poseeditor.presets import load_presets
from poseeditor.skeleton import Pose
from poseeditor.document import default_pose_for

PLACE_HINT = "drag the skeleton onto the person, then Pose → Use skeleton as the person's pose"


def default_pose(width: int, height: int) -> Pose:
    standing = next((p.pose for p in load_presets() if p.key == "standing"), None)
    if standing is None:
        raise PoseEditorError("the bundled preset 'standing' is missing; reinstall poseeditor")
    return default_pose_for(width, height, standing)


def detector_region(region: tuple[float, float, float, float], width: int, height: int) -> tuple[float, ...]:
    """The detector's region for what the user did: a click (empty box) is the point (x, y); a drawn box,
    clipped to the photo, is (x, y, w, h)."""
    x0, y0, x1, y1 = region
    if abs(x1 - x0) < 4 and abs(y1 - y0) < 4:
        return (float(x0), float(y0))
    x0, y0 = max(0.0, min(x0, x1)), max(0.0, min(y0, y1))
    x1, y1 = min(float(width), max(region[0], region[2])), min(float(height), max(region[1], region[3]))
    return (x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0))


def sidecar_pose_file(photo_path: Path) -> Path:
    """Where a photo's own pose is kept: `NAME.pose.json` beside `NAME.jpg` (as the bundled samples have)."""
    return photo_path.with_name(photo_path.stem + ".pose.json")


def sidecar_pose(photo_path: Path, width: int, height: int) -> Pose | None:
    """The pose saved beside the photo, if there is one for a photo of this size; None otherwise."""
    path = sidecar_pose_file(Path(photo_path))
    if not path.is_file():
        return None
    try:
        pose = load_pose(path, image_size=(width, height))
    except PoseEditorError:
        return None  # a stale or broken side file must not stop the photo from opening; detection takes over
    return pose if (pose.width, pose.height) == (width, height) else None


def find_person(photo: np.ndarray, region: tuple[float, float, float, float] | None = None) -> tuple[Pose, str]:
    """(pose, what happened). Never raises for a missing detector or an empty photo: falls back to a default."""
    h, w = photo.shape[:2]
    try:
        from poseeditor.detector import detect
    except ImportError:
        return default_pose(w, h), f"No person detector is installed: placed a default skeleton — {PLACE_HINT}."
    try:
        detection = detect(photo, region=detector_region(region, w, h) if region else None)
    except NoPersonFoundError:
        where = "in that region" if region else "in this photo"
        return default_pose(w, h), (f"No person found {where}: placed a default skeleton — "
                                    f"{PLACE_HINT}, or Pose → Point at the person.")
    except PoseEditorError as exc:  # a photo the detector cannot look at (too small...): still editable
        return default_pose(w, h), f"The detector could not run ({exc}): placed a default skeleton — {PLACE_HINT}."
    score = getattr(detection, "score", None)
    note = f" (score {float(score):.2f})" if score is not None else ""
    return detection.pose, f"Person detected{note}. Wrong person? Pose → Point at the person."
