"""Issue 11's looking tools: the in-front arm edit (tools/arm_in_front.py), the real-frame lists
(tools/real_frames.py) and a smoke run of tools/part_mask_sheet.py on a tiny synthetic photo and model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import STANDING_XY

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from arm_in_front import (  # noqa: E402
    ArmEditError,
    arm_in_front_score,
    pick_arm_in_front,
    raise_arm_in_front,
    raised_arm,
)

from poseeditor.errors import PoseEditorError  # noqa: E402
from poseeditor.skeleton import JOINT_INDEX, Pose  # noqa: E402

R_SHOULDER, R_ELBOW, R_WRIST = JOINT_INDEX["r_shoulder"], JOINT_INDEX["r_elbow"], JOINT_INDEX["r_wrist"]
L_SHOULDER, L_ELBOW, L_WRIST = JOINT_INDEX["l_shoulder"], JOINT_INDEX["l_elbow"], JOINT_INDEX["l_wrist"]


def arm_across_xy() -> np.ndarray:
    """The conftest's standing person (200×300) with the right forearm folded across the belly."""
    xy = STANDING_XY.copy()
    xy[R_ELBOW] = (74, 125)
    xy[R_WRIST] = (104, 130)  # inside the torso quadrilateral (shoulders y=80, hips y=160, x 80..120)
    return xy


def test_picks_the_arm_in_front_and_raises_it():
    pose = Pose(arm_across_xy(), np.ones(14, bool), 200, 300)
    side, score = pick_arm_in_front(pose.xy, pose.visible)
    assert side == "r" and score > 0.0
    assert arm_in_front_score(pose.xy, pose.visible, "l") < 0.0  # the left arm hangs beside the body
    side, target = raise_arm_in_front(pose)
    assert side == "r"
    shoulder, elbow, wrist = target.xy[R_SHOULDER], target.xy[R_ELBOW], target.xy[R_WRIST]
    assert wrist[1] < shoulder[1] and elbow[1] < shoulder[1]  # raised: the wrist above the shoulder
    assert elbow[0] < shoulder[0]  # out: the right shoulder is on the image's left, the arm goes further left
    # bone lengths kept (the limb transforms stay rotations: no scale limit)
    for a, b in ((R_SHOULDER, R_ELBOW), (R_ELBOW, R_WRIST)):
        assert np.linalg.norm(target.xy[a] - target.xy[b]) == pytest.approx(np.linalg.norm(pose.xy[a] - pose.xy[b]))
    others = [j for j in range(14) if j not in (R_ELBOW, R_WRIST)]
    np.testing.assert_array_equal(target.xy[others], pose.xy[others])


def test_mirrored_pose_picks_the_left_arm_and_raises_it_outwards():
    pose = Pose(arm_across_xy(), np.ones(14, bool), 200, 300).mirrored()
    side, target = raise_arm_in_front(pose)
    assert side == "l"
    assert target.xy[L_WRIST][1] < target.xy[L_SHOULDER][1]
    assert target.xy[L_ELBOW][0] > target.xy[L_SHOULDER][0]  # mirrored: out is to the image's right


def test_no_arm_in_front_is_refused_unless_asked_for_the_nearer_one(standing_pose):
    with pytest.raises(ArmEditError, match="no wrist is in front"):
        raise_arm_in_front(standing_pose)
    side, target = raise_arm_in_front(standing_pose, require=False)
    assert side in ("r", "l")
    assert target.xy[JOINT_INDEX[f"{side}_wrist"]][1] < target.xy[JOINT_INDEX[f"{side}_shoulder"]][1]


def test_raised_joints_stay_inside_the_photo():
    xy = arm_across_xy()
    xy[:, 1] -= 40  # the person at the top of the photo: a raised wrist would leave it
    assert (raised_arm(xy, np.ones(14, bool), "r")[[R_ELBOW, R_WRIST], 1] < 0.0).any()
    target = raised_arm(xy, np.ones(14, bool), "r", size=(200, 300))[[R_ELBOW, R_WRIST]]
    assert target.min() >= 0.0 and target[:, 0].max() <= 199 and target[:, 1].max() <= 299


def test_nan_joints_are_refused_with_a_clear_error():
    xy = arm_across_xy()
    xy[R_WRIST] = (np.nan, 130.0)
    visible = np.ones(14, bool)
    with pytest.raises(ArmEditError, match="not finite.*r_wrist"):
        arm_in_front_score(xy, visible, "r")
    with pytest.raises(ArmEditError, match="not finite.*r_wrist"):
        raised_arm(xy, visible, "r")
    xy[L_ELBOW] = (np.inf, 0.0)
    with pytest.raises(ArmEditError, match=r"r arm: .*r_wrist.*l arm: .*l_elbow"):
        pick_arm_in_front(xy, visible)
    assert issubclass(ArmEditError, PoseEditorError)


def test_hidden_or_degenerate_joints_are_refused():
    xy, visible = arm_across_xy(), np.ones(14, bool)
    visible[JOINT_INDEX["l_hip"]] = False
    with pytest.raises(ArmEditError, match="not visible: l_hip"):
        pick_arm_in_front(xy, visible)
    flat = arm_across_xy()
    flat[[JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"]]] = flat[[R_SHOULDER, L_SHOULDER]]
    with pytest.raises(ArmEditError, match="degenerate"):
        arm_in_front_score(flat, np.ones(14, bool), "r")
    no_upper = arm_across_xy()
    no_upper[R_ELBOW] = no_upper[R_SHOULDER]
    with pytest.raises(ArmEditError, match="upper arm has no length"):
        raised_arm(no_upper, np.ones(14, bool), "r")
    with pytest.raises(ArmEditError, match="14 joints"):
        arm_in_front_score(np.zeros((13, 2)), np.ones(13, bool), "r")


# ------------------------------------------------------------------------------------------------ lists
def test_list_entries_and_loading(tmp_path, person_photo):
    from real_frames import list_entries, load_entry

    from poseeditor.image_io import save_image
    from poseeditor.pose_io import save_pose
    from trainer.data.dataset_format import write_video

    photo_path = tmp_path / "person.jpg"
    save_image(photo_path, person_photo)
    save_pose(tmp_path / "person.pose.json", Pose(arm_across_xy(), np.ones(14, bool), 200, 300))
    write_video(tmp_path / "data", "clip", [person_photo, person_photo], np.stack([STANDING_XY, arm_across_xy()]),
                np.ones((2, 14), bool))
    listing = tmp_path / "frames.txt"
    listing.write_text(f"# a comment\n\nphoto {photo_path} arm=l  # why\ndataset {tmp_path / 'data'} clip 1\n")
    entries = list_entries([str(listing)], [str(tmp_path / "*.jpg")])
    assert len(entries) == 3 and entries[2] == f"photo {photo_path}"
    first = load_entry(entries[0])
    assert first.arm == "l" and first.pose_source == "file" and first.photo.shape == (300, 200, 3)
    second = load_entry(entries[1])
    assert second.arm is None and second.pose_source == "dataset" and second.name == "clip/00001.jpg"
    np.testing.assert_allclose(second.pose.xy, arm_across_xy())
    for bad, message in ((f"dataset {tmp_path / 'data'} clip 5", "no frame 5"),
                         (f"dataset {tmp_path / 'data'} other 0", "no video 'other'"),
                         (f"photo {photo_path} arm=x", "arm= must be r or l"),
                         ("movie x.mp4", "cannot read the entry")):
        with pytest.raises(PoseEditorError, match=message):
            load_entry(bad)
    with pytest.raises(PoseEditorError, match="no photo matches"):
        list_entries([], [str(tmp_path / "nothing*.png")])


# ------------------------------------------------------------------------------------------------ the sheet
def test_sheet_smoke(tmp_path, person_photo, random_model_dir):
    import part_mask_sheet

    from poseeditor.image_io import load_image, save_image
    from poseeditor.pose_io import save_pose

    save_image(tmp_path / "person.png", person_photo)
    save_pose(tmp_path / "person.pose.json", Pose(arm_across_xy(), np.ones(14, bool), 200, 300))
    parts, repose = tmp_path / "parts.jpg", tmp_path / "repose.jpg"
    code = part_mask_sheet.main([str(tmp_path / "person.png"), "--model", str(random_model_dir), "--model",
                                 str(random_model_dir), "--label", "A", "--label", "B", "--mask", "network",
                                 "--row-height", "96", "--parts-out", str(parts), "--repose-out", str(repose)])
    assert code == 0
    sheet_parts, sheet_repose = load_image(parts), load_image(repose)
    # legend + one row (header + tiles); parts: photo, nearest, 3 per model; re-pose: source, 2 per model
    assert sheet_parts.shape[0] >= 96 + 2 * part_mask_sheet.HEADER
    assert sheet_parts.shape[1] > sheet_repose.shape[1] > 3 * 40
    assert parts.stat().st_size < 1_500_000 and sheet_repose.std() > 5.0


def test_sheet_refuses_mismatched_labels(random_model_dir):
    import part_mask_sheet

    with pytest.raises(PoseEditorError, match="1 --label for 2 --model"):
        part_mask_sheet.load_models([str(random_model_dir)] * 2, ["only"], 1)
