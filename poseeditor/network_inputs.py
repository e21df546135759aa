"""The generator's pose inputs for a pair of poses (DESIGN §3), computed one way everywhere: in training
(trainer.data.pairs), evaluation at another size (trainer.evaluate), the export's round-trip check and the editor's
engine — so training and inference cannot drift apart.

Joints are in crop pixels of a `size`² crop. The engine computes the two halves at different times (the source
half once per photo, the target half per drag); everything else takes both at once with `pair_inputs`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from poseeditor.geometry import limb_transforms
from poseeditor.heatmaps import joint_heatmaps
from poseeditor.priors import segmentation_prior


class SourceInputs(NamedTuple):
    heatmaps: np.ndarray  # (14, S, S) float32
    prior: np.ndarray  # (11, S, S) float32, background first


class TargetInputs(NamedTuple):
    transforms: np.ndarray  # (10, 2, 3) float32, target crop pixel -> source crop pixel (backward map)
    heatmaps: np.ndarray  # (14, S, S) float32


class PairInputs(NamedTuple):
    source_heatmaps: np.ndarray
    target_heatmaps: np.ndarray
    prior: np.ndarray
    transforms: np.ndarray


def source_inputs(xy: np.ndarray, visible: np.ndarray, size: int) -> SourceInputs:
    """What the source stage takes besides the image: the source pose's heatmaps and segmentation prior."""
    return SourceInputs(joint_heatmaps(xy, visible, size), segmentation_prior(xy, visible, size))


def target_inputs(
    source_xy: np.ndarray, source_visible: np.ndarray, target_xy: np.ndarray, target_visible: np.ndarray, size: int
) -> TargetInputs:
    """What the warp and the target stage take: the limb transforms and the target pose's heatmaps."""
    transforms = limb_transforms(source_xy, target_xy, source_visible, target_visible).astype(np.float32)
    return TargetInputs(transforms, joint_heatmaps(target_xy, target_visible, size))


def pair_inputs(
    source_xy: np.ndarray, source_visible: np.ndarray, target_xy: np.ndarray, target_visible: np.ndarray, size: int
) -> PairInputs:
    source = source_inputs(source_xy, source_visible, size)
    target = target_inputs(source_xy, source_visible, target_xy, target_visible, size)
    return PairInputs(source.heatmaps, target.heatmaps, source.prior, target.transforms)
