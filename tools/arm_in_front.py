"""Which arm lies in front of the body, and a pose edit that raises it (issue 11's real-photo sheets).

    from arm_in_front import arm_in_front_score, raise_arm_in_front
    side, target = raise_arm_in_front(pose)          # the in-front arm's elbow and wrist moved up and out

An arm is "in front of the body" when its wrist lies inside the torso's quadrilateral (shoulders and hips) or
close to it: `arm_in_front_score` is the wrist's signed distance to that quadrilateral (positive inside) divided
by the torso's height (neck to the hips' midpoint). `raise_arm_in_front` picks the arm with the larger score and
moves its elbow up and out from the shoulder (35° above horizontal) and its wrist nearly straight up from the new
elbow (15° out from vertical), keeping both bones' lengths in the photo: the wrist ends above the shoulder, the
limb transforms stay close to rotations (no scale limit kicks in).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from poseeditor.errors import PoseEditorError
from poseeditor.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, Pose

ARMS: dict[str, tuple[int, int, int]] = {
    side: (JOINT_INDEX[f"{side}_shoulder"], JOINT_INDEX[f"{side}_elbow"], JOINT_INDEX[f"{side}_wrist"])
    for side in ("r", "l")
}
TORSO = (JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_shoulder"], JOINT_INDEX["l_hip"], JOINT_INDEX["r_hip"])
IN_FRONT = -0.2  # a wrist this far outside the torso (fraction of the torso's height) still counts as in front
ELBOW_ANGLE = 35.0  # degrees above horizontal, outwards
WRIST_ANGLE = 15.0  # degrees out from vertical


class ArmEditError(PoseEditorError):
    """The pose cannot give an arm-raise edit (joints missing or broken, no arm in front of the body)."""


def _checked(xy: np.ndarray, visible: np.ndarray, needed: tuple[int, ...]) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    visible = np.asarray(visible).astype(bool)
    if xy.shape != (NUM_JOINTS, 2) or visible.shape != (NUM_JOINTS,):
        raise ArmEditError(f"need {NUM_JOINTS} joints (x, y) and {NUM_JOINTS} visibility flags; got {xy.shape} "
                           f"and {visible.shape}")
    missing = [JOINT_NAMES[j] for j in needed if not visible[j]]
    if missing:
        raise ArmEditError(f"joints not visible: {', '.join(missing)}")
    broken = [JOINT_NAMES[j] for j in needed if not np.all(np.isfinite(xy[j]))]
    if broken:
        raise ArmEditError(f"joint coordinates are not finite numbers (NaN/inf) for: {', '.join(broken)}")
    return xy


def torso_height(xy: np.ndarray) -> float:
    neck = 0.5 * (xy[JOINT_INDEX["r_shoulder"]] + xy[JOINT_INDEX["l_shoulder"]])
    hips = 0.5 * (xy[JOINT_INDEX["r_hip"]] + xy[JOINT_INDEX["l_hip"]])
    return float(np.linalg.norm(hips - neck))


def arm_in_front_score(xy: np.ndarray, visible: np.ndarray, side: str) -> float:
    """The `side` ("r"/"l") wrist's signed distance to the torso quadrilateral (positive inside), in torso
    heights. Raises ArmEditError when a joint it needs is hidden or not finite, or the torso is degenerate."""
    if side not in ARMS:
        raise ArmEditError(f"side must be 'r' or 'l', not {side!r}")
    xy = _checked(xy, visible, TORSO + ARMS[side])
    height = torso_height(xy)
    hull = cv2.convexHull(xy[list(TORSO)].astype(np.float32))
    if height < 1.0 or cv2.contourArea(hull) < 1.0:
        raise ArmEditError(f"the torso is degenerate (height {height:.1f} px): shoulders and hips coincide")
    wrist = xy[ARMS[side][2]]
    return float(cv2.pointPolygonTest(hull, (float(wrist[0]), float(wrist[1])), True)) / height


def pick_arm_in_front(xy: np.ndarray, visible: np.ndarray, require: bool = True) -> tuple[str, float]:
    """(side, score) of the arm whose wrist lies deepest in front of the torso. `require`: raise ArmEditError when
    neither wrist is within IN_FRONT of it (otherwise the nearer arm is returned anyway). An arm with hidden or
    broken joints is skipped; when both are, the error names what is missing."""
    scores: dict[str, float] = {}
    errors: list[str] = []
    for side in ARMS:
        try:
            scores[side] = arm_in_front_score(xy, visible, side)
        except ArmEditError as error:
            errors.append(f"{side} arm: {error}")
    if not scores:
        raise ArmEditError("; ".join(errors))
    side = max(scores, key=lambda s: scores[s])
    if require and scores[side] < IN_FRONT:
        raise ArmEditError(f"no wrist is in front of the torso (best: {side} wrist at {scores[side]:+.2f} torso "
                           f"heights, need ≥ {IN_FRONT:+.2f})")
    return side, scores[side]


def raised_arm(xy: np.ndarray, visible: np.ndarray, side: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """(14, 2) joints with the `side` arm's elbow and wrist raised up and out (bone lengths kept). `size`: (w, h)
    to keep the new joints inside the photo."""
    shoulder_i, elbow_i, wrist_i = ARMS[side]
    other_shoulder = ARMS["l" if side == "r" else "r"][0]
    xy = _checked(xy, visible, TORSO + ARMS[side]).copy()
    shoulder, elbow, wrist = xy[shoulder_i], xy[elbow_i], xy[wrist_i]
    upper, fore = float(np.linalg.norm(elbow - shoulder)), float(np.linalg.norm(wrist - elbow))
    if upper < 1.0:
        raise ArmEditError(f"the {side} upper arm has no length in the photo ({upper:.1f} px)")
    fore = max(fore, 1.0)
    # Outwards: away from the other shoulder (for a person seen from the side, from the torso's centre line).
    away = shoulder[0] - xy[other_shoulder][0]
    if abs(away) < 0.05 * torso_height(xy):
        away = shoulder[0] - xy[list(TORSO)][:, 0].mean()
    out = 1.0 if away > 0 else -1.0 if away < 0 else (-1.0 if side == "r" else 1.0)
    a, b = math.radians(ELBOW_ANGLE), math.radians(WRIST_ANGLE)
    new_elbow = shoulder + upper * np.array([out * math.cos(a), -math.sin(a)])
    new_wrist = new_elbow + fore * np.array([out * math.sin(b), -math.cos(b)])
    if size is not None:
        hi = np.array([size[0] - 1, size[1] - 1], np.float64)
        new_elbow, new_wrist = np.clip(new_elbow, 0.0, hi), np.clip(new_wrist, 0.0, hi)
    xy[elbow_i], xy[wrist_i] = new_elbow, new_wrist
    return xy


def raise_arm_in_front(pose: Pose, side: str | None = None, require: bool = True) -> tuple[str, Pose]:
    """(side, target pose): the arm in front of the body (or `side`) raised, the other joints unchanged."""
    if side is None:
        side, _ = pick_arm_in_front(pose.xy, pose.visible, require=require)
    xy = raised_arm(pose.xy, pose.visible, side, size=(pose.width, pose.height))
    return side, pose.with_xy(xy)
