"""The editor's document without Qt (napari-style): photo, source pose, target pose with undo, selection, keyframes.

Every action of the editor is a method here, so it can be scripted and tested headless; the Qt views only
call these methods and redraw when an event fires. Events are plain callback lists, called synchronously.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from poseeditor.geometry import apply_affine
from poseeditor.joint_tree import JOINT_PARENTS, MID_HIP, anchor_point, descendants
from poseeditor.presets import Preset, retarget
from poseeditor.session import PoseHistory, SessionData
from poseeditor.skeleton import JOINT_NAMES, NUM_JOINTS, Pose


class Event:
    """A list of callbacks: `connect(fn)`, `emit(*args)`."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)


def similarity_about(centre: np.ndarray, scale: float = 1.0, angle_deg: float = 0.0) -> np.ndarray:
    """2×3 matrix scaling by `scale` and rotating by `angle_deg` (image coords: positive = clockwise) about `centre`."""
    a = math.radians(angle_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    cx, cy = float(centre[0]), float(centre[1])
    return np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy]])


def transform_pose(pose: Pose, matrix: np.ndarray, joints: list[int] | None = None) -> Pose:
    """`pose` with `matrix` applied to `joints` (all by default)."""
    xy = pose.xy.copy()
    idx = list(range(NUM_JOINTS)) if joints is None else joints
    xy[idx] = apply_affine(matrix, xy[idx])
    return pose.with_xy(xy)


def mirror_in_place(pose: Pose) -> Pose:
    """Left and right swapped, mirrored about the person's own vertical axis so they stay where they stand."""
    centre_x = anchor_point(pose)[0]
    flipped = pose.mirrored()
    shift = centre_x - anchor_point(flipped)[0]
    xy = flipped.xy.copy()
    xy[:, 0] += shift
    return flipped.with_xy(xy)


def default_pose_for(width: int, height: int, standing: Pose) -> Pose:
    """A standing skeleton scaled to fill ~80% of the photo's height, centred: the start when nobody is found."""
    x0, y0, x1, y1 = standing.box()
    k = 0.8 * min(height / max(y1 - y0, 1.0), width / max(x1 - x0, 1.0) * 0.9)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    xy = (standing.xy - (cx, cy)) * k + (width / 2, height / 2)
    return Pose(xy, standing.visible, width, height)


class EditorDocument:
    """What the user is editing. `target_pose` is always the history's current pose."""

    def __init__(self) -> None:
        self.photo: np.ndarray | None = None  # (H, W, 3) uint8 RGB
        self.photo_path: Path | None = None
        self.source_pose: Pose | None = None
        self.history: PoseHistory | None = None
        self.selected: int | None = None
        self.keyframes: list[Pose] = []
        self.photo_changed = Event()  # () — a new photo (and source pose)
        self.source_changed = Event()  # () — same photo, new source pose (re-detection, manual fix)
        self.pose_changed = Event()  # (pose) — the target pose changed
        self.selection_changed = Event()  # (joint index or None)
        self.history_changed = Event()  # () — undo/redo availability or labels changed

    # --- state -----------------------------------------------------------------------------------------------
    @property
    def target_pose(self) -> Pose | None:
        return self.history.current if self.history else None

    @property
    def has_photo(self) -> bool:
        return self.photo is not None and self.source_pose is not None

    def set_photo(self, photo: np.ndarray, source_pose: Pose, path: Path | None = None,
                  target_pose: Pose | None = None) -> None:
        """A new photo with the person's pose in it; the target starts at the source (or `target_pose`)."""
        h, w = photo.shape[:2]
        if (source_pose.width, source_pose.height) != (w, h):
            source_pose = _resized(source_pose, w, h)
        self.photo = photo
        self.photo_path = Path(path) if path else None
        self.source_pose = source_pose
        self.history = PoseHistory(source_pose)
        self.keyframes = []
        self.selected = None
        if target_pose is not None:
            self.history.push(_resized(target_pose, w, h), "Load target pose")
        self.photo_changed.emit()
        self.pose_changed.emit(self.target_pose)
        self.history_changed.emit()

    def set_source_pose(self, pose: Pose, label: str = "Set source pose") -> None:
        """Replace the source pose (the person was re-detected); the target follows it, undoably."""
        self._require()
        self.source_pose = pose
        self.source_changed.emit()
        self.set_target(pose, label)

    def _require(self) -> None:
        if self.history is None or self.photo is None:
            raise RuntimeError("no photo is open")

    # --- editing -----------------------------------------------------------------------------------------------
    def set_target(self, pose: Pose, label: str, merge_key: object = None) -> None:
        self._require()
        assert self.history is not None
        if pose == self.history.current and merge_key is None:
            return
        self.history.push(pose, label, merge_key)
        self.pose_changed.emit(pose)
        self.history_changed.emit()

    def end_drag(self) -> None:
        if self.history is not None:
            self.history.seal()

    def move_joint(self, joint: int, x: float, y: float, merge_key: object = None) -> None:
        pose = self._pose()
        self.set_target(pose.with_joint(joint, x, y), f"Move {JOINT_NAMES[joint]}", merge_key)

    def swing_chain(self, joint: int, angle_deg: float, merge_key: object = None,
                    base: Pose | None = None) -> None:
        """Rotate `joint` and everything below it about its parent joint (drag on a limb)."""
        base = base or self._pose()
        pivot = self._parent_point(base, joint)
        matrix = similarity_about(pivot, 1.0, angle_deg)
        self.set_target(transform_pose(base, matrix, descendants(joint)), f"Swing {JOINT_NAMES[joint]}", merge_key)

    def transform_all(self, matrix: np.ndarray, label: str = "Move skeleton", merge_key: object = None,
                      base: Pose | None = None) -> None:
        self.set_target(transform_pose(base or self._pose(), matrix), label, merge_key)

    def translate_all(self, dx: float, dy: float, merge_key: object = None, base: Pose | None = None) -> None:
        self.transform_all(np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]]), "Move skeleton", merge_key, base)

    def scale_rotate_all(self, scale: float = 1.0, angle_deg: float = 0.0, merge_key: object = None) -> None:
        pose = self._pose()
        label = "Scale skeleton" if angle_deg == 0 else "Rotate skeleton"
        self.transform_all(similarity_about(anchor_point(pose), scale, angle_deg), label, merge_key)

    def nudge(self, dx: float, dy: float) -> None:
        """Arrow keys: the selected joint, or the whole skeleton when none is selected."""
        pose = self._pose()
        if self.selected is None:
            self.translate_all(dx, dy, merge_key=("nudge-all",))
        else:
            x, y = pose.xy[self.selected]
            self.move_joint(self.selected, x + dx, y + dy, merge_key=("nudge", self.selected))

    def toggle_visible(self, joint: int | None = None) -> None:
        joint = self.selected if joint is None else joint
        if joint is None:
            return
        pose = self._pose()
        visible = pose.visible.copy()
        visible[joint] = not visible[joint]
        if not visible.any():
            return  # a pose needs one visible joint; hiding the last one is refused silently
        state = "Show" if visible[joint] else "Hide"
        self.set_target(pose.with_visible(visible), f"{state} {JOINT_NAMES[joint]}")

    def mirror(self) -> None:
        self.set_target(mirror_in_place(self._pose()), "Mirror pose")

    def reset_to_source(self) -> None:
        self._require()
        assert self.source_pose is not None
        self.set_target(self.source_pose, "Reset to source")

    def apply_pose(self, pose: Pose, label: str) -> None:
        """Another person's pose (preset, other photo, pose file in a foreign frame) retargeted to this person."""
        self._require()
        assert self.source_pose is not None
        self.set_target(retarget(pose, self.source_pose), label)

    def apply_preset(self, preset: Preset) -> None:
        self.apply_pose(preset.pose, f"Preset: {preset.name}")

    def undo(self) -> bool:
        if self.history is None or self.history.undo() is None:
            return False
        self.pose_changed.emit(self.target_pose)
        self.history_changed.emit()
        return True

    def redo(self) -> bool:
        if self.history is None or self.history.redo() is None:
            return False
        self.pose_changed.emit(self.target_pose)
        self.history_changed.emit()
        return True

    def select(self, joint: int | None) -> None:
        if joint != self.selected:
            self.selected = joint
            self.selection_changed.emit(joint)

    def add_keyframe(self) -> None:
        self.keyframes.append(self._pose())

    def clear_keyframes(self) -> None:
        self.keyframes = []

    # --- sessions ----------------------------------------------------------------------------------------------
    def to_session(self, model_dir: str | None = None) -> SessionData:
        self._require()
        assert self.history is not None
        return SessionData(self.photo_path, self.source_pose, self.history.entries, self.history.index,
                           list(self.keyframes), model_dir)

    def restore_session(self, photo: np.ndarray, data: SessionData) -> None:
        if data.source_pose is None or not data.history:
            raise ValueError("the session has no poses")
        self.set_photo(photo, data.source_pose, data.photo_path)
        self.history = PoseHistory.restore(data.history, data.history_index)
        self.keyframes = list(data.keyframes)
        self.pose_changed.emit(self.target_pose)
        self.history_changed.emit()

    # --- helpers -------------------------------------------------------------------------------------------------
    def _pose(self) -> Pose:
        self._require()
        assert self.history is not None
        return self.history.current

    @staticmethod
    def _parent_point(pose: Pose, joint: int) -> np.ndarray:
        parent = JOINT_PARENTS[joint]
        return anchor_point(pose) if parent == MID_HIP else pose.xy[parent]


def _resized(pose: Pose, width: int, height: int) -> Pose:
    """A pose given for another image size, scaled to this one (pose files for a resized copy of the photo)."""
    if (pose.width, pose.height) == (width, height):
        return pose
    xy = pose.xy * (width / pose.width, height / pose.height)
    return Pose(xy, pose.visible, width, height)
