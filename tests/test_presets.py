"""The preset library and retargeting a pose onto another body."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseeditor.errors import PoseFileError
from poseeditor.joint_tree import JOINT_PARENTS, TREE_ORDER, anchor_point, descendants
from poseeditor.presets import bone_lengths, load_presets, read_preset, retarget
from poseeditor.skeleton import NUM_JOINTS, Pose


def test_tree_order_lists_parents_before_children():
    seen = {-1}
    for j in TREE_ORDER:
        assert JOINT_PARENTS[j] in seen
        seen.add(j)
    assert seen == {-1, *range(NUM_JOINTS)}


def test_descendants_of_the_right_shoulder_are_the_right_arm():
    assert sorted(descendants(2)) == [2, 3, 4]
    assert sorted(descendants(1)) == [0, 1, 2, 3, 4, 5, 6, 7]  # the neck carries head and both arms


def test_bundled_library_has_the_issue_poses():
    presets = {p.key: p for p in load_presets()}
    for key in ("arms_up", "t_pose", "walking", "golf_top_of_swing", "standing"):
        assert key in presets
    assert len(presets) >= 8
    for preset in presets.values():
        assert preset.pose.visible.all()
        assert preset.name


def test_retarget_keeps_directions_takes_lengths_and_anchor(standing_pose):
    presets = {p.key: p for p in load_presets()}
    t_pose = presets["t_pose"].pose
    out = retarget(t_pose, standing_pose)
    assert (out.width, out.height) == (standing_pose.width, standing_pose.height)
    np.testing.assert_allclose(anchor_point(out), anchor_point(standing_pose), atol=1e-9)
    np.testing.assert_allclose(bone_lengths(out), bone_lengths(standing_pose), atol=1e-6)
    # the forearm points the way the preset's does
    for pose in (out, t_pose):
        forearm = pose.xy[4] - pose.xy[3]
        assert abs(forearm[1]) < 0.1 * abs(forearm[0])  # horizontal in a T-pose
    assert out.xy[4, 0] < out.xy[3, 0] < out.xy[2, 0]  # right arm out to the image's left


def test_retarget_borrows_the_mirror_bone_for_a_hidden_joint(standing_pose):
    visible = standing_pose.visible.copy()
    visible[13] = False  # left ankle hidden: the left shin borrows the right shin's length
    person = standing_pose.with_visible(visible)
    out = retarget(load_presets()[0].pose, person)
    right_shin = np.linalg.norm(standing_pose.xy[10] - standing_pose.xy[9])
    assert np.linalg.norm(out.xy[13] - out.xy[12]) == pytest.approx(right_shin)


def test_read_preset_rejects_a_broken_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "width": 10, "height": 10, "joints": [[1, 2, 1]] * 3}))
    with pytest.raises(PoseFileError, match="14 joints"):
        read_preset(bad)
    (tmp_path / "junk.json").write_text("{nope")
    with pytest.raises(PoseFileError, match="not a preset"):
        read_preset(tmp_path / "junk.json")


def test_load_presets_reads_a_user_folder(tmp_path, standing_pose):
    joints = [[float(x), float(y), 1] for x, y in standing_pose.xy]
    (tmp_path / "mine.json").write_text(json.dumps({"name": "Mine", "width": 200, "height": 300, "joints": joints}))
    presets = load_presets(tmp_path)
    assert [p.name for p in presets] == ["Mine"]
    assert presets[0].pose == standing_pose
    assert load_presets(tmp_path / "absent") == []


def test_retarget_is_identity_for_the_same_person(standing_pose):
    out = retarget(standing_pose, standing_pose)
    assert out == standing_pose
    assert isinstance(out, Pose)
