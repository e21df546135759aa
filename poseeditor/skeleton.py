"""The 14-joint skeleton contract (DESIGN.md §3): joint order, limbs, left/right swap, colours, and `Pose`.

Joint order and limbs are those of the paper's code (balakg/posewarp-cvpr2018). R/L are the person's own sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poseeditor.errors import PoseFileError

JOINT_NAMES: tuple[str, ...] = (
    "head",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# The 10 body-part layers: each is the list of joints its similarity transform is fitted to.
LIMBS: tuple[tuple[int, ...], ...] = (
    (0, 1),  # head
    (2, 3),  # R upper arm
    (3, 4),  # R forearm
    (5, 6),  # L upper arm
    (6, 7),  # L forearm
    (8, 9),  # R thigh
    (9, 10),  # R shin
    (11, 12),  # L thigh
    (12, 13),  # L shin
    (2, 5, 8, 11),  # torso
)
LIMB_NAMES: tuple[str, ...] = (
    "head",
    "r_upper_arm",
    "r_forearm",
    "l_upper_arm",
    "l_forearm",
    "r_thigh",
    "r_shin",
    "l_thigh",
    "l_shin",
    "torso",
)
NUM_LIMBS = len(LIMBS)
# Segmentation layers: channel 0 is the background, channels 1..10 the limbs in LIMBS order.
LAYER_NAMES: tuple[str, ...] = ("background", *LIMB_NAMES)
NUM_LAYERS = len(LAYER_NAMES)

# Lines drawn for the skeleton (bones); the torso is drawn as its outline.
BONES: tuple[tuple[int, int], ...] = (
    (0, 1),
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (2, 8),
    (5, 11),
    (8, 11),
    (8, 9),
    (9, 10),
    (11, 12),
    (12, 13),
)

# Index permutation that mirrors a pose: joint i of the flipped pose is joint FLIP_PERMUTATION[i] of the original.
FLIP_PERMUTATION: tuple[int, ...] = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10)
# Same for the 11 segmentation layers (background, head, R ua, R fa, L ua, L fa, R th, R sh, L th, L sh, torso).
LAYER_FLIP_PERMUTATION: tuple[int, ...] = (0, 1, 4, 5, 2, 3, 8, 9, 6, 7, 10)

# RGB colours: the person's right side warm, left side cool, centre line green.
SIDE_COLOURS: dict[str, tuple[int, int, int]] = {
    "right": (230, 70, 50),
    "left": (50, 120, 230),
    "centre": (60, 190, 90),
}


def joint_side(index: int) -> str:
    name = JOINT_NAMES[index]
    return "right" if name.startswith("r_") else "left" if name.startswith("l_") else "centre"


JOINT_COLOURS: tuple[tuple[int, int, int], ...] = tuple(SIDE_COLOURS[joint_side(i)] for i in range(NUM_JOINTS))


def bone_colour(a: int, b: int) -> tuple[int, int, int]:
    sides = {joint_side(a), joint_side(b)}
    return SIDE_COLOURS[sides.pop()] if len(sides) == 1 else SIDE_COLOURS["centre"]


# Distinct colours for the 11 segmentation layers (used to paint part maps).
LAYER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (255, 215, 0),
    (230, 25, 75),
    (245, 130, 48),
    (0, 130, 200),
    (70, 240, 240),
    (128, 0, 0),
    (240, 50, 230),
    (0, 0, 128),
    (145, 30, 180),
    (60, 180, 75),
)


@dataclass(frozen=True)
class Pose:
    """14 joints in photo pixels (0-based, x right, y down) with visibility, plus the photo's size.

    Invisible joints keep whatever coordinates they had (so a hidden joint can be shown again where it was);
    every consumer must treat them as absent.
    """

    xy: np.ndarray
    visible: np.ndarray
    width: int
    height: int
    confidence: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=np.float64)
        visible = np.asarray(self.visible).astype(bool)
        if xy.shape != (NUM_JOINTS, 2):
            raise PoseFileError(f"a pose needs {NUM_JOINTS} joints with (x, y); got an array of shape {xy.shape}")
        if visible.shape != (NUM_JOINTS,):
            raise PoseFileError(f"a pose needs {NUM_JOINTS} visibility flags; got shape {visible.shape}")
        bad = [JOINT_NAMES[i] for i in range(NUM_JOINTS) if visible[i] and not np.all(np.isfinite(xy[i]))]
        if bad:
            raise PoseFileError(f"joint coordinates are not finite numbers (NaN/inf) for: {', '.join(bad)}")
        xy = np.where(np.isfinite(xy), xy, 0.0)
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise PoseFileError(f"a pose needs a positive image size; got {self.width}x{self.height}")
        if not visible.any():
            raise PoseFileError("a pose needs at least one visible joint")
        xy.setflags(write=False)
        visible.setflags(write=False)
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "visible", visible)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        if self.confidence is not None:
            conf = np.asarray(self.confidence, dtype=np.float64).reshape(NUM_JOINTS)
            conf.setflags(write=False)
            object.__setattr__(self, "confidence", conf)

    def with_joint(self, index: int, x: float, y: float, visible: bool | None = None) -> "Pose":
        xy = self.xy.copy()
        xy[index] = (x, y)
        vis = self.visible.copy()
        if visible is not None:
            vis[index] = visible
        return Pose(xy, vis, self.width, self.height)

    def with_xy(self, xy: np.ndarray) -> "Pose":
        return Pose(xy, self.visible, self.width, self.height)

    def with_visible(self, visible: np.ndarray) -> "Pose":
        return Pose(self.xy, visible, self.width, self.height)

    def mirrored(self) -> "Pose":
        """The pose flipped horizontally in its image, with left and right joints swapped."""
        perm = list(FLIP_PERMUTATION)
        xy = self.xy[perm].copy()
        xy[:, 0] = (self.width - 1) - xy[:, 0]
        return Pose(xy, self.visible[perm], self.width, self.height)

    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the visible joints."""
        pts = self.xy[self.visible]
        return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pose):
            return NotImplemented
        return (
            self.width == other.width
            and self.height == other.height
            and np.array_equal(self.visible, other.visible)
            and np.allclose(self.xy[self.visible], other.xy[other.visible])
        )

    __hash__ = None  # type: ignore[assignment]
