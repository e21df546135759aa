"""The oracle bounds of benchmarks/composite_oracle.py (issue 11): true part maps as the assignment, the target
photo as the generator, and the composite's gap width as a parameter."""

from __future__ import annotations

import numpy as np

from benchmarks.composite_oracle import forearm_in_front, true_part_layers, truth_as_generator
from poseeditor.engine.photo_composite import GAP_CLOSE, compose_photo
from tests.test_photo_composite import crop_transforms, figure_mask, layers_for

R_FOREARM, TORSO = 2, 9


def test_true_part_maps_replace_the_assignment_inside_the_editors_person_mask(person_photo, standing_pose):
    layers, _ = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    person = layers.labels >= 0
    truth = np.zeros(person.shape, np.uint8)  # part maps: 0 background, 1..10 LIMBS order
    truth[person] = TORSO + 1
    truth[:150, :] = np.where(person[:150, :], R_FOREARM + 1, 0)  # the upper half "is" the right forearm
    truth[250:, :] = 0  # the truth misses the feet: those keep their nearest-bone label
    oracle = true_part_layers(layers, truth)
    assert (oracle.labels[~person] == -1).all()  # nothing outside the editor's own person mask
    assert (oracle.labels[:150][person[:150]] == R_FOREARM).all()
    assert (oracle.labels[150:250][person[150:250]] == TORSO).all()
    np.testing.assert_array_equal(oracle.labels[250:], layers.labels[250:])
    ys, xs = np.nonzero(oracle.labels == R_FOREARM)
    x0, y0, x1, y1 = oracle.part_boxes[R_FOREARM]
    assert x0 <= xs.min() and y0 <= ys.min() and x1 > xs.max() and y1 > ys.max()
    assert y1 <= 151  # boxes recomputed from the new labels, not the old ones


def test_the_truth_as_generator_is_the_target_photo_seen_in_the_crop():
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[10:20, 30:40] = 255
    person = np.zeros((40, 60), bool)
    person[10:20, 30:40] = True
    shift = np.array([[1.0, 0.0, -20.0], [0.0, 1.0, 0.0]])  # crop = photo moved 20 px left
    rgb, mask = truth_as_generator(photo, person, shift, 32)
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.float32 and mask.shape == (32, 32)
    assert rgb[15, 15].min() == 1.0 and rgb[5, 5].max() == 0.0
    assert mask[15, 15] == 1.0 and mask[5, 5] == 0.0


def test_forearm_in_front_counts_forearm_pixels_inside_the_shoulders_and_hips(standing_pose):
    parts = np.zeros((300, 200), np.uint8)
    xy = standing_pose.xy
    cx, cy = (xy[[2, 5, 8, 11]].mean(axis=0)).astype(int)
    parts[cy - 2:cy + 3, cx - 2:cx + 3] = R_FOREARM + 1  # 25 px of forearm in the middle of the torso
    parts[5:10, 5:10] = R_FOREARM + 1  # and some far outside it
    assert forearm_in_front(parts, xy) == 25


def test_a_wider_gap_close_lets_the_generator_fill_more(person_photo, standing_pose, arm_up_pose):
    layers, crop = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    transforms = crop_transforms(crop, standing_pose, arm_up_pose)
    generated = np.ones((64, 64, 3), np.float32)
    mask = np.ones((64, 64), np.float32)
    default = compose_photo(layers, transforms, generated, mask)
    same = compose_photo(layers, transforms, generated, mask, gap_close=GAP_CLOSE)
    np.testing.assert_array_equal(default.image, same.image)
    wide = compose_photo(layers, transforms, generated, mask, gap_close=0.2)
    assert wide.generated.sum() > default.generated.sum()


def test_a_group_oracle_takes_true_labels_only_for_that_group(person_photo, standing_pose):
    layers, _ = layers_for(person_photo, standing_pose, figure_mask(standing_pose))
    person = layers.labels >= 0
    truth = np.where(person, TORSO + 1, 0).astype(np.uint8)  # the truth calls every person pixel torso
    legs = true_part_layers(layers, truth, (5, 6, 7, 8))
    was_leg = np.isin(layers.labels, (5, 6, 7, 8))
    assert was_leg.sum() > 50
    assert (legs.labels[was_leg] == TORSO).all()  # leg pixels take the truth
    np.testing.assert_array_equal(legs.labels[~was_leg], layers.labels[~was_leg])  # arms and head keep theirs
