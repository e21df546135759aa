"""The built-in pose library and retargeting a pose onto another person's body.

Presets are data: one JSON file per pose in `resources/presets/` (our pose JSON plus a "name"). A preset is
applied by *retargeting*: each bone keeps its direction from the preset but gets this person's length, and the
skeleton is anchored at the person's current mid-hip, so a child's body stays a child's body in a T-pose.
The same retargeting takes a pose detected in another photo onto this person.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseeditor.errors import PoseFileError
from poseeditor.joint_tree import JOINT_PARENTS, MID_HIP, TREE_ORDER, anchor_point, joint_or_root, mid_hip
from poseeditor.pose_io import pose_from_dict
from poseeditor.resources import resource_path
from poseeditor.skeleton import FLIP_PERMUTATION, NUM_JOINTS, Pose

def bone_lengths(pose: Pose) -> np.ndarray:
    """(14,) length of the bone ending at each joint; NaN where it or its parent is hidden."""
    lengths = np.full(NUM_JOINTS, np.nan)
    root = mid_hip(pose.xy, pose.visible)
    for j, p in enumerate(JOINT_PARENTS):
        if not pose.visible[j]:
            continue
        if p == MID_HIP:
            # A single visible hip is its own mid-hip, which would give a zero-length bone: skip it.
            if pose.visible[8] and pose.visible[11]:
                lengths[j] = np.linalg.norm(pose.xy[j] - root)
        elif pose.visible[p]:
            lengths[j] = np.linalg.norm(pose.xy[j] - pose.xy[p])
    return lengths


def retarget(pose: Pose, person: Pose) -> Pose:
    """`pose`'s bone directions with `person`'s bone lengths, anchored at `person`'s mid-hip, in `person`'s image.

    Bones the person does not show (hidden joints) borrow the mirror-side bone, else the preset's own length
    scaled by the median ratio of the bones both show.
    """
    target_lengths = bone_lengths(person)
    mirror = list(FLIP_PERMUTATION)
    missing = np.isnan(target_lengths)
    target_lengths[missing] = target_lengths[mirror][missing]
    source_lengths = bone_lengths(pose)
    both = ~np.isnan(target_lengths) & ~np.isnan(source_lengths) & (source_lengths > 1e-6)
    if both.any():
        ratio = float(np.median(target_lengths[both] / source_lengths[both]))
    else:
        ratio = _extent(person) / max(_extent(pose), 1e-6)
    still_missing = np.isnan(target_lengths)
    target_lengths[still_missing] = source_lengths[still_missing] * ratio

    src_root = anchor_point(pose)
    out = np.zeros((NUM_JOINTS, 2))
    root = anchor_point(person)
    for j in TREE_ORDER:
        p = JOINT_PARENTS[j]
        vector = pose.xy[j] - joint_or_root(pose.xy, src_root, p)
        norm = float(np.linalg.norm(vector))
        length = target_lengths[j]
        start = joint_or_root(out, root, p)
        if norm < 1e-6 or np.isnan(length):
            out[j] = start + vector * ratio
        else:
            out[j] = start + vector / norm * length
    visible = pose.visible.copy()
    return Pose(out, visible, person.width, person.height)


def _extent(pose: Pose) -> float:
    x0, y0, x1, y1 = pose.box()
    return max(x1 - x0, y1 - y0, 1.0)


@dataclass(frozen=True)
class Preset:
    key: str  # the file's stem, stable across languages
    name: str  # what the menu shows
    pose: Pose


def read_preset(path: Path) -> Preset:
    """One preset file: {"name", "width", "height", "joints": [[x, y, visible] × 14]} (our pose JSON + a name)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PoseFileError(f"{path}: not a preset file ({exc})") from None
    try:
        pose = pose_from_dict(data)
    except PoseFileError as exc:
        raise PoseFileError(f"{path}: {exc}") from None
    return Preset(key=Path(path).stem, name=str(data.get("name", Path(path).stem)), pose=pose)


def presets_dir() -> Path:
    return resource_path("presets")


def load_presets(folder: Path | None = None) -> list[Preset]:
    """All presets in `folder` (default: the bundled library), sorted by name."""
    folder = presets_dir() if folder is None else Path(folder)
    if not folder.is_dir():
        return []
    return sorted((read_preset(p) for p in folder.glob("*.json")), key=lambda p: p.name.lower())
