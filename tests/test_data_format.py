"""The dataset format: write/read round trip, the paper's .mat layout, clear errors for bad folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainer.data.dataset_format import DatasetError, VideoWriter, read_dataset, write_manifest, write_video
from trainer.data.toy import toy_video, write_toy_dataset

TENNIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "posewarp-tennis"


def test_round_trip_keeps_joints_visibility_parts_masks_and_group(tmp_path):
    toy = toy_video(seed=3, frames=3, width=40, height=56)
    visible = toy.visible.copy()
    visible[1, 4] = False  # an occluded wrist must come back occluded
    record = write_video(
        tmp_path,
        "clip_a",
        toy.frames,
        toy.joints,
        visible,
        parts=toy.parts,
        masks=toy.masks,
        source="toy",
        group="person1",
        frame_suffix=".png",
    )
    write_manifest(tmp_path, source="toy")
    [back] = read_dataset(tmp_path)
    assert back.name == "clip_a" and back.group == "person1" and back.source == "toy"
    assert (back.width, back.height) == (40, 56) and len(back) == 3
    np.testing.assert_allclose(back.joints, toy.joints, atol=0.006)
    np.testing.assert_array_equal(back.visible, visible)
    np.testing.assert_array_equal(back.load_frame(2), toy.frames[2])  # PNG: lossless
    np.testing.assert_array_equal(back.load_parts(1), toy.parts[1])
    np.testing.assert_array_equal(back.load_mask(0), toy.masks[0])
    assert [p.name for p in back.frame_paths] == ["00000.png", "00001.png", "00002.png"]
    assert back.pose(1).visible[4] == np.False_
    info = json.loads((tmp_path / "info" / "clip_a.json").read_text())
    assert info["frames"][0]["joints"][0][2] == 1 and len(info["frames"][0]["box"]) == 4
    assert json.loads((tmp_path / "dataset.json").read_text())["format"] == "poseeditor-dataset"
    assert record.name == back.name


def test_rewriting_a_video_replaces_it_and_other_videos_stay(tmp_path):
    write_toy_dataset(tmp_path, videos=2, frames=3, width=32, height=48)
    toy = toy_video(seed=9, frames=2, width=32, height=48)
    write_video(tmp_path, "toy000", toy.frames, toy.joints, toy.visible)
    videos = {v.name: v for v in read_dataset(tmp_path)}
    assert len(videos["toy000"]) == 2 and len(videos["toy001"]) == 3
    assert not videos["toy000"].has_parts and videos["toy001"].has_parts
    assert not (tmp_path / "frames" / "toy000" / "00002.png").exists()


@pytest.mark.skipif(not TENNIS.is_dir(), reason="posewarp-tennis fixture not present")
def test_reads_the_papers_mat_layout_with_frames_directly_in_frames():
    [video] = read_dataset(TENNIS)
    assert video.name == "tennis" and len(video) == 8
    assert (video.width, video.height) == (1280, 676)
    assert [p.name for p in video.frame_paths] == [f"{k}.jpg" for k in range(1, 9)]
    # data.X[:, :, 0] head = (359.364, 317.806) in 1-based pixels
    np.testing.assert_allclose(video.joints[0, 0], [358.364, 316.806], atol=1e-3)
    assert video.visible.all()
    assert video.boxes.shape == (8, 4)
    assert video.load_frame(0).shape == (676, 1280, 3)
    # the left wrist is raised above the head in the first frame (joint order check)
    assert video.joints[0, 7, 1] < video.joints[0, 0, 1]


def test_reads_mat_layout_with_a_frame_folder_per_video(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    toy = toy_video(seed=1, frames=2, width=32, height=40)
    (tmp_path / "frames" / "walk").mkdir(parents=True)
    (tmp_path / "info").mkdir()
    import cv2

    for k, frame in enumerate(toy.frames, start=1):
        cv2.imwrite(str(tmp_path / "frames" / "walk" / f"{k}.png"), frame[:, :, ::-1])
    x = np.transpose(toy.joints, (1, 2, 0)) + 1.0  # 14×2×n, 1-based
    x[13, :, 1] = np.nan  # a missing annotation
    scipy_io.savemat(tmp_path / "info" / "walk.mat", {"data": {"X": x, "bbox": np.zeros((2, 4))}})
    [video] = read_dataset(tmp_path)
    np.testing.assert_allclose(video.joints[0, :13], toy.joints[0, :13], atol=1e-9)
    assert video.visible[0].all() and not video.visible[1, 13]
    np.testing.assert_array_equal(video.load_frame(1), toy.frames[1])


def test_empty_folder_missing_info_and_missing_folder_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="empty"):
        read_dataset(tmp_path)
    (tmp_path / "frames").mkdir()
    with pytest.raises(DatasetError, match="no info/ folder"):
        read_dataset(tmp_path)
    (tmp_path / "info").mkdir()
    with pytest.raises(DatasetError, match="no annotation files"):
        read_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        read_dataset(tmp_path / "nope")


def test_joints_of_the_wrong_shape_are_rejected(tmp_path):
    write_toy_dataset(tmp_path, videos=1, frames=2, width=32, height=48)
    info = tmp_path / "info" / "toy000.json"
    data = json.loads(info.read_text())
    data["frames"][1]["joints"] = data["frames"][1]["joints"][:13]
    info.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="frame 1: joints must be 14 rows"):
        read_dataset(tmp_path)
    toy = toy_video(seed=0, frames=2, width=32, height=48)
    with pytest.raises(DatasetError, match="joints must have shape"):
        write_video(tmp_path, "bad", toy.frames, toy.joints[:, :12], toy.visible[:, :12])
    with pytest.raises(DatasetError, match="2 frames but 1 poses"):
        write_video(tmp_path, "bad", toy.frames, toy.joints[:1], toy.visible[:1])


def test_missing_frame_file_and_bad_names_are_reported(tmp_path):
    write_toy_dataset(tmp_path, videos=1, frames=2, width=32, height=48)
    (tmp_path / "frames" / "toy000" / "00001.png").unlink()
    with pytest.raises(DatasetError, match="1 frame file"):
        read_dataset(tmp_path)
    with pytest.raises(DatasetError, match="not a usable video name"):
        VideoWriter(tmp_path, "../escape")
