"""Engine.render(..., previous=...): limbs whose transform did not change are copied from the previous render.

The result must be exactly what a fresh render gives, and a previous render of another source must not lend
anything.
"""

import numpy as np

from poseeditor.engine import load_engine
from poseeditor.engine.warp import warp_layers
from poseeditor.geometry import limb_transforms
from poseeditor.skeleton import LIMB_NAMES, Pose

FIELDS = ("warped_planes", "warped_masks", "foreground", "mask", "output")


def assert_same_render(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_reusing_the_previous_render_gives_the_fresh_result(random_model_dir, person_photo, standing_pose,
                                                            arm_up_pose):
    engine = load_engine(str(random_model_dir), backend="onnx")
    state = engine.prepare_source(person_photo, standing_pose)
    previous = engine.render(state, standing_pose)
    for pose in (arm_up_pose,                          # two limbs of one arm move
                 standing_pose.with_joint(4, 50, 170),  # one wrist: only the forearm
                 arm_up_pose.with_joint(10, 70, 280)):  # an arm and a leg
        assert_same_render(engine.render(state, pose, previous), engine.render(state, pose))
        previous = engine.render(state, pose, previous)
    # everything moved: nothing to reuse, still the same result
    shifted = Pose(standing_pose.xy + [7.0, -5.0], standing_pose.visible, standing_pose.width, standing_pose.height)
    assert_same_render(engine.render(state, shifted, previous), engine.render(state, shifted))


def test_a_previous_render_of_another_photo_lends_nothing(random_model_dir, person_photo, standing_pose,
                                                          arm_up_pose):
    engine = load_engine(str(random_model_dir), backend="onnx")
    state = engine.prepare_source(person_photo, standing_pose)
    other_state = engine.prepare_source(255 - person_photo, standing_pose)
    other = engine.render(other_state, standing_pose)  # same transforms for every limb that arm_up does not move
    assert_same_render(engine.render(state, arm_up_pose, other), engine.render(state, arm_up_pose))


def test_warp_reuse_copies_only_unchanged_limbs_and_leaves_its_inputs_alone(random_model_dir, person_photo,
                                                                             standing_pose, arm_up_pose):
    engine = load_engine(str(random_model_dir), backend="onnx")
    state = engine.prepare_source(person_photo, standing_pose)
    before = engine.render(state, standing_pose)
    kept = (before.transforms.copy(), before.warped_planes.copy(), before.warped_masks.copy())
    target = state.crop.to_crop(arm_up_pose.xy)
    transforms = limb_transforms(state.source_xy, target)
    planes, masks = warp_layers(state.layers, transforms, (before.transforms, before.warped_planes,
                                                           before.warped_masks))
    fresh_planes, fresh_masks = warp_layers(state.layers, transforms)
    np.testing.assert_array_equal(planes, fresh_planes)
    np.testing.assert_array_equal(masks, fresh_masks)
    for original, now in zip(kept, (before.transforms, before.warped_planes, before.warped_masks)):
        np.testing.assert_array_equal(original, now)  # the reused render is not modified
    r_forearm = LIMB_NAMES.index("r_forearm")
    assert not np.array_equal(planes[r_forearm], before.warped_planes[r_forearm])
    assert planes is not before.warped_planes and not np.shares_memory(planes, before.warped_planes)
