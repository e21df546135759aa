"""The skeleton as a tree (beside `skeleton.py`, which defines the joints and limbs): every bone hangs from a
parent joint, rooted at a virtual mid-hip. Posing (swinging a chain in the editor), retargeting presets and
interpolating animations all walk this one tree."""

from __future__ import annotations

import numpy as np

from poseeditor.skeleton import Pose

MID_HIP = -1  # the virtual root joint: the mean of the two hips
# Kinematic tree rooted at the mid-hip: JOINT_PARENTS[j] is the joint that bone j hangs from.
JOINT_PARENTS: tuple[int, ...] = (1, MID_HIP, 1, 2, 3, 1, 5, 6, MID_HIP, 8, 9, MID_HIP, 11, 12)
# Parents before children, so a pose can be rebuilt bone by bone from the root.
TREE_ORDER: tuple[int, ...] = (8, 11, 1, 0, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13)


def descendants(joint: int) -> list[int]:
    """The joints that move with `joint` when its chain is swung: itself and everything hanging below it."""
    out = [joint]
    for j in TREE_ORDER:
        if JOINT_PARENTS[j] in out and j not in out:
            out.append(j)
    return out


def mid_hip(xy: np.ndarray, visible: np.ndarray) -> np.ndarray | None:
    hips = [j for j in (8, 11) if visible[j]]
    return np.mean(xy[hips], axis=0) if hips else None


def anchor_point(pose: Pose) -> np.ndarray:
    """Where a pose is anchored: its mid-hip, or the centre of its visible joints when both hips are hidden."""
    hip = mid_hip(pose.xy, pose.visible)
    if hip is not None:
        return hip
    x0, y0, x1, y1 = pose.box()
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2])


def joint_or_root(xy: np.ndarray, root: np.ndarray, j: int) -> np.ndarray:
    """Joint `j` of `xy`, or `root` for the virtual MID_HIP."""
    return root if j == MID_HIP else xy[j]
