"""The photo-true composite (poseeditor/engine/photo_composite.py): parts moved at the photo's resolution, the
hole from the person mask, the exemplar fill, fallbacks for bad masks, and bounded work on huge photos."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from poseeditor.engine import photo_fill
from poseeditor.engine.inpaint import person_region_from_prior
from poseeditor.engine.photo_composite import compose_photo, moved_parts, part_transforms_in_work, prepare_photo
from poseeditor.engine.photo_fill import FillCache, exemplar_available, exemplar_fill, fast_fill, fill_key
from poseeditor.geometry import crop_for_poses, limb_transforms
from poseeditor.priors import segmentation_prior
from poseeditor.skeleton import BONES, Pose
from tests.conftest import STANDING_XY

R_FOREARM, R_UPPER_ARM = 2, 1


def figure_mask(pose: Pose, scale: float = 1.0) -> np.ndarray:
    """The conftest figure's silhouette (bones 9 px wide, a head disc) as a soft person mask."""
    mask = np.zeros((pose.height, pose.width), np.float32)
    for a, b in BONES:
        cv2.line(mask, tuple(int(v) for v in pose.xy[a]), tuple(int(v) for v in pose.xy[b]), 1.0, max(1, round(9 * scale)))
    cv2.circle(mask, (int(100 * scale), int(52 * scale)), round(13 * scale), 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), 1.0)


def prior_part_masks(pose: Pose, crop) -> np.ndarray:  # noqa: ANN001
    """Part masks like a source stage's: the segmentation prior normalised over the 11 layers."""
    prior = segmentation_prior(crop.to_crop(pose.xy), pose.visible, crop.size)
    return prior / prior.sum(axis=0, keepdims=True)


def layers_for(photo: np.ndarray, pose: Pose, person_mask: np.ndarray | None, **kw):  # noqa: ANN003, ANN201
    crop = crop_for_poses(pose, size=64)
    return prepare_photo(photo, crop, prior_part_masks(pose, crop), pose.xy, pose.visible, person_mask, **kw), crop


def crop_transforms(crop, source: Pose, target: Pose) -> np.ndarray:  # noqa: ANN001
    return limb_transforms(crop.to_crop(source.xy), crop.to_crop(target.xy), source.visible, target.visible)


def test_the_unchanged_pose_gives_the_photo_bit_for_bit(person_photo, standing_pose):
    layers, crop = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    composite = compose_photo(layers, crop_transforms(crop, standing_pose, standing_pose))
    assert composite.moved == []
    np.testing.assert_array_equal(composite.image, person_photo)


def test_limbs_that_did_not_move_are_pixel_identical(person_photo, standing_pose, arm_up_pose):
    layers, crop = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    transforms = crop_transforms(crop, standing_pose, arm_up_pose)
    assert moved_parts(layers, part_transforms_in_work(layers, transforms)) == [R_UPPER_ARM, R_FOREARM]
    rng = np.random.default_rng(1)
    generated = rng.random((64, 64, 3)).astype(np.float32)  # whatever the network makes must not leak elsewhere
    composite = compose_photo(layers, transforms, generated, np.ones((64, 64), np.float32))
    # Every pixel of the legs, the head and the other arm is the photo's own.
    for part in (0, 3, 4, 5, 6, 7, 8):
        own = (layers.labels == part) & (layers.alpha >= 1.0)
        assert own.sum() > 20
        np.testing.assert_array_equal(composite.image[own], person_photo[own])
    # Outside the region the moved arm left or reached, nothing changed.
    x0, y0, x1, y1 = composite.edit_box
    outside = np.ones(person_photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(composite.image[outside], person_photo[outside])


def test_the_raised_arm_leaves_no_ghost_and_lands_sharp(person_photo, standing_pose, arm_up_pose):
    layers, crop = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    composite = compose_photo(layers, crop_transforms(crop, standing_pose, arm_up_pose))
    image = composite.image.astype(int)
    # The old forearm (drawn red-ish, blue channel 60) ran from (68,150) up to (72,115): its lower half is now
    # background (blue channel ~150-170), not a translucent arm.
    old_forearm = (slice(130, 148), slice(66, 71))
    assert image[old_forearm][..., 2].min() > 110
    # The new forearm, at the raised wrist, is the arm's own colour at full strength (no blur, no fade).
    new_forearm = (slice(30, 45), slice(65, 69))
    assert np.abs(image[new_forearm][..., 2] - 60).max() < 25


def test_the_hole_follows_the_person_mask_not_the_prior(person_photo, standing_pose):
    mask = figure_mask(standing_pose)
    layers, crop = layers_for(person_photo, standing_pose, mask)
    assert layers.mask_source == "detector"
    hole = layers.hole > 0
    # Every hole pixel lies within a few pixels of the person ...
    near_person = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert not (hole & ~near_person).any()
    assert (hole | ~(mask > 0.5)).all()  # ... and the whole person is in it
    # ... and it is far smaller than the region the old fill used (the pose prior, grown)
    prior = segmentation_prior(crop.to_crop(standing_pose.xy), standing_pose.visible, crop.size)
    prior_region = cv2.warpAffine(person_region_from_prior(prior), crop.matrix, (200, 300),
                                  flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
    assert hole.sum() < 0.6 * prior_region.sum()


@pytest.mark.parametrize("bad", ["wrong_size", "nan", "empty", "none"])
def test_bad_or_missing_person_masks_fall_back_to_the_network_split(person_photo, standing_pose, arm_up_pose, bad):
    mask = {
        "wrong_size": np.ones((10, 10), np.float32),
        "nan": np.full((300, 200), np.nan, np.float32),
        "empty": np.zeros((300, 200), np.float32),
        "none": None,
    }[bad]
    layers, crop = layers_for(person_photo, standing_pose, mask)
    assert layers.mask_source == "network"
    assert layers.hole.any() and (layers.labels >= 0).any()
    composite = compose_photo(layers, crop_transforms(crop, standing_pose, arm_up_pose))
    assert composite.image.shape == person_photo.shape and composite.moved


def test_nearest_bone_assignment_gives_each_arm_pixel_its_own_part(person_photo, standing_pose):
    layers, _ = layers_for(person_photo, standing_pose, figure_mask(standing_pose), assignment="nearest")
    assert layers.labels[140, 68] == R_FOREARM  # on the right forearm's bone
    assert layers.labels[100, 75] == R_UPPER_ARM
    assert layers.labels[250, 85] == 6  # right shin


def test_fast_and_exemplar_fills_change_only_the_hole(person_photo, standing_pose):
    layers, _ = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    outside = layers.hole == 0
    for fill in (fast_fill(person_photo, layers.hole), exemplar_fill(person_photo, layers.hole, seed=3)):
        np.testing.assert_array_equal(fill[outside], person_photo[outside])
        # the red figure is gone from the hole (its blue channel was 60; the background's is ≥ 150)
        assert np.median(fill[layers.hole > 0][:, 2]) > 130


@pytest.mark.skipif(not exemplar_available(), reason="pypatchmatch is not installed")
def test_exemplar_fill_is_deterministic_for_a_seed(person_photo, standing_pose):
    layers, _ = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    a = exemplar_fill(person_photo, layers.hole, seed=5)
    b = exemplar_fill(person_photo, layers.hole, seed=5)
    np.testing.assert_array_equal(a, b)


def test_fill_cache_computes_each_fill_once(monkeypatch, person_photo, standing_pose):
    calls = []

    def counting_fill(photo, hole, seed=0):  # noqa: ANN001, ANN202
        calls.append(1)
        return fast_fill(photo, hole)

    monkeypatch.setattr(photo_fill, "exemplar_fill", counting_fill)
    layers, _ = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    cache = FillCache(capacity=2)
    first = cache.fill(layers.photo, layers.hole)
    assert cache.fill(layers.photo, layers.hole) is first
    assert len(calls) == 1
    other_hole = np.roll(layers.hole, 5, axis=1)
    assert fill_key(layers.photo, other_hole) != fill_key(layers.photo, layers.hole)
    cache.fill(layers.photo, other_hole)
    assert len(calls) == 2


def test_the_preview_works_on_a_reduced_copy(person_photo, standing_pose, arm_up_pose):
    layers, crop = layers_for(person_photo, standing_pose, figure_mask(standing_pose), max_side=150)
    assert layers.photo.shape == (150, 100, 3)
    composite = compose_photo(layers, crop_transforms(crop, standing_pose, arm_up_pose))
    assert composite.image.shape == (150, 100, 3)


def test_a_huge_photo_is_composed_within_bounded_memory():
    # 6000×4000 (24 MP, under the 80 MP open limit) with a person a third of its height: the work stays near the
    # person (the masks, labels and fill are per photo, but no per-part full-size planes are made).
    scale = 4000 / 300 / 3
    xy = STANDING_XY * scale + [2500, 1500]
    source = Pose(xy, np.ones(14, bool), 6000, 4000)
    target = source.with_joint(3, xy[2, 0] - 10 * scale, xy[2, 1] - 25 * scale).with_joint(
        4, xy[2, 0] - 14 * scale, xy[2, 1] - 55 * scale)
    photo = np.full((4000, 6000, 3), 120, np.uint8)
    mask = np.zeros((4000, 6000), np.float32)
    for a, b in BONES:
        cv2.line(photo, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), (200, 40, 60), round(9 * scale))
        cv2.line(mask, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), 1.0, round(9 * scale))
    crop = crop_for_poses(source, size=64)
    tracemalloc.start()
    try:
        layers = prepare_photo(photo, crop, prior_part_masks(source, crop), source.xy, source.visible, mask)
        composite = compose_photo(layers, crop_transforms(crop, source, target))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert composite.image.shape == photo.shape
    # the photo is 72 MB; the layers keep a fill (72), alpha (96), labels and hole (24 each) and the result (72)
    assert peak < 6 * photo.nbytes, f"peak {peak / 1e6:.0f} MB"


def test_a_limb_dragged_to_three_times_its_length_is_not_blown_up(person_photo, standing_pose):
    # The right forearm (bone 3-4, drawn in (200, 70, 60)) dragged out to three times its length: the paper's
    # similarity would scale its pixels 3× (a giant hand on a foreshortened arm); the composite limits it.
    target = standing_pose.with_joint(4, 60, 220)
    layers, crop = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    transforms = crop_transforms(crop, standing_pose, target)
    composite = compose_photo(layers, transforms, target_crop_xy=crop.to_crop(target.xy), target_visible=target.visible)

    def forearm_pixels(image: np.ndarray) -> int:
        return int((np.abs(image.astype(int) - [200, 70, 60]).max(axis=2) < 12).sum())

    before, after = forearm_pixels(person_photo), forearm_pixels(composite.image)
    assert 0.5 * before < after < 1.4 * 1.4 * before


def test_hybrid_assignment_weighs_the_network_by_the_distance_to_each_bone(person_photo, standing_pose):
    """Issue 11's hybrid: a network that is sure (all mass on the torso) wins everywhere; one that hesitates
    (uniform masks) gives way to the nearest bone everywhere; a part whose joints are all hidden takes nothing."""
    crop = crop_for_poses(standing_pose, size=64)
    person = figure_mask(standing_pose)
    args = (person_photo, crop)
    pose_args = (standing_pose.xy, standing_pose.visible, person)
    nearest = prepare_photo(*args, prior_part_masks(standing_pose, crop), *pose_args, assignment="nearest").labels
    uniform = np.full((11, 64, 64), 1 / 11, np.float32)
    hesitant = prepare_photo(*args, uniform, *pose_args, assignment="hybrid").labels
    np.testing.assert_array_equal(hesitant, nearest)
    sure = np.zeros((11, 64, 64), np.float32)
    sure[10] = 1.0  # torso
    labels = prepare_photo(*args, sure, *pose_args, assignment="hybrid").labels
    assert set(np.unique(labels[labels >= 0])) == {9}
    assert (nearest[labels >= 0] != 9).any()
    hidden = standing_pose.visible.copy()
    hidden[[3, 4]] = False  # right elbow and wrist: the right forearm has no visible joint
    labels = prepare_photo(*args, uniform, standing_pose.xy, hidden, person, assignment="hybrid").labels
    assert R_FOREARM not in labels
