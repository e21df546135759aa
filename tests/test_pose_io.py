import json
import sys

import numpy as np
import pytest

from poseeditor.errors import PoseFileError
from poseeditor.pose_io import (
    load_pose,
    pose_to_openpose,
    save_mat,
    save_openpose,
    save_pose,
)
from poseeditor.skeleton import Pose

from .conftest import TENNIS


def _with_hidden(pose: Pose, j: int) -> Pose:
    vis = pose.visible.copy()
    vis[j] = False
    return pose.with_visible(vis)


def test_our_json_round_trip(tmp_path, standing_pose):
    pose = _with_hidden(standing_pose, 7)
    save_pose(tmp_path / "p.json", pose)
    back = load_pose(tmp_path / "p.json")
    assert back == pose
    assert not back.visible[7]
    assert json.loads((tmp_path / "p.json").read_text())["width"] == 200


@pytest.mark.parametrize("model,count", [("BODY_25", 25), ("COCO", 18)])
def test_openpose_round_trip(tmp_path, standing_pose, model, count):
    pose = _with_hidden(standing_pose, 10)
    save_openpose(tmp_path / "op.json", pose, model)
    data = json.loads((tmp_path / "op.json").read_text())
    flat = data["people"][0]["pose_keypoints_2d"]
    assert len(flat) == 3 * count
    back = load_pose(tmp_path / "op.json", image_size=(200, 300))
    assert back == pose
    # hidden points are 0,0,0
    r_ankle = 11 if model == "BODY_25" else 10
    assert flat[3 * r_ankle : 3 * r_ankle + 3] == [0, 0, 0]


def test_coco17_import(tmp_path, standing_pose):
    xy = standing_pose.xy
    kp = np.zeros((17, 3))
    ours_to_coco = {2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 8: 12, 9: 14, 10: 16, 11: 11, 12: 13, 13: 15}
    for ours, coco in ours_to_coco.items():
        kp[coco] = (*xy[ours], 2)
    neck = (xy[2] + xy[5]) / 2
    kp[0] = (*(neck + (xy[0] - neck) / 1.5), 2)  # nose
    data = {"images": [{"width": 200, "height": 300}], "annotations": [{"keypoints": kp.reshape(-1).tolist()}]}
    (tmp_path / "coco.json").write_text(json.dumps(data))
    pose = load_pose(tmp_path / "coco.json")
    assert (pose.width, pose.height) == (200, 300)
    np.testing.assert_allclose(pose.xy[2:], xy[2:])
    np.testing.assert_allclose(pose.xy[1], neck)
    np.testing.assert_allclose(pose.xy[0], xy[0])


def test_mat_round_trip(tmp_path, standing_pose, arm_up_pose):
    save_mat(tmp_path / "v.mat", [standing_pose, arm_up_pose])
    assert load_pose(tmp_path / "v.mat", image_size=(200, 300), index=1) == arm_up_pose
    assert load_pose(tmp_path / "v.mat", image_size=(200, 300), index=0) == standing_pose


def test_mat_without_scipy_is_a_user_error_naming_the_extra(tmp_path, standing_pose, monkeypatch):
    save_mat(tmp_path / "v.mat", [standing_pose])
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # as when scipy is not installed
    with pytest.raises(PoseFileError, match=r"poseeditor\[mat\]"):
        load_pose(tmp_path / "v.mat")
    with pytest.raises(PoseFileError, match=r"poseeditor\[mat\]"):
        save_mat(tmp_path / "w.mat", [standing_pose])


@pytest.mark.skipif(not TENNIS.exists(), reason="posewarp-tennis fixture not present")
def test_reads_the_papers_mat_file():
    pose = load_pose(TENNIS / "info" / "tennis.mat", image_size=(1280, 676), index=0)
    np.testing.assert_allclose(pose.xy[0], [358.36435331, 316.80599369])  # 1-based (359.36, 317.81) -> 0-based
    assert pose.visible.all()


@pytest.mark.parametrize(
    "content,message",
    [
        ("not json at all", "not valid JSON"),
        ('{"width": 10, "height": 10, "joints": [[1, 2, 1]]}', "exactly 14 joints"),
        ('{"width": 10, "height": 10, "joints": ' + json.dumps([[1, 2, 1]] * 13) + "}", "this file has 13"),
        ('{"width": 10, "height": 10, "joints": ' + json.dumps([[1, 2, 1]] * 13 + [["NaN", 2, 1]]) + "}", "finite"),
        ('{"width": 10, "height": 10, "joints": ' + json.dumps([[1, 2, 1]] * 13 + [["x", 2, 1]]) + "}", "not a number"),
        ('{"hello": 1}', "not a pose file"),
        ('{"people": []}', "people"),
        ('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}', "1 points"),
    ],
)
def test_bad_pose_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(PoseFileError, match=message):
        load_pose(path)


def test_nan_literal_in_json_is_rejected(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('{"width": 10, "height": 10, "joints": ' + "[" + ",".join(["[1, 2, 1]"] * 13 + ["[NaN, 2, 1]"]) + "]}")
    with pytest.raises(PoseFileError, match="finite"):
        load_pose(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(PoseFileError, match="no such"):
        load_pose(tmp_path / "nope.json")
    (tmp_path / "b.json").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(PoseFileError):
        load_pose(tmp_path / "b.json")


def test_openpose_export_has_nose_between_neck_and_head(standing_pose):
    flat = pose_to_openpose(standing_pose)["people"][0]["pose_keypoints_2d"]
    nose_y = flat[1]
    assert standing_pose.xy[0, 1] < nose_y < standing_pose.xy[1, 1]


def test_openpose_export_writes_joints_off_the_photo_as_missing(standing_pose):
    """Issue 12 item 17: a joint dragged outside the photo was exported as a visible OpenPose keypoint."""
    from poseeditor.pose_io import pose_to_openpose

    off = standing_pose.with_joint(4, -30.0, 150.0).with_joint(13, 115.0, 400.0)  # r_wrist left, l_ankle below
    for model, r_wrist, l_ankle in (("BODY_25", 4, 14), ("COCO", 4, 13)):
        kp = np.asarray(pose_to_openpose(off, model)["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
        assert kp[r_wrist].tolist() == [0.0, 0.0, 0.0]
        assert kp[l_ankle].tolist() == [0.0, 0.0, 0.0]
        assert kp[r_wrist - 1, 2] == 1.0  # the elbow, inside, stays
    head_off = standing_pose.with_joint(0, 100.0, -200.0)  # the nose derived from it is off the photo too
    kp = np.asarray(pose_to_openpose(head_off)["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
    assert kp[0].tolist() == [0.0, 0.0, 0.0]
