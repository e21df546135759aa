"""Pose interpolation and the GIF / MP4 writers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from poseeditor.animation import ExportCancelled, interpolate_pose, pose_sequence, write_animation
from poseeditor.errors import ExportError
from poseeditor.presets import bone_lengths


def _frames(n, size=(48, 40)):
    for k in range(n):
        frame = np.zeros((*size, 3), np.uint8)
        frame[:, : (k + 1) * 3] = (255, 128, 0)
        yield frame


def test_interpolation_hits_the_ends_and_keeps_bone_lengths(standing_pose, arm_up_pose):
    assert interpolate_pose(standing_pose, arm_up_pose, 0.0) == standing_pose
    assert interpolate_pose(standing_pose, arm_up_pose, 1.0) == arm_up_pose
    mid = interpolate_pose(standing_pose, standing_pose.with_joint(4, 40, 150), 0.5)
    # the forearm swings about the elbow: its length stays between the two ends' lengths, not shorter
    a = np.linalg.norm(standing_pose.xy[4] - standing_pose.xy[3])
    b = np.linalg.norm(np.array([40, 150]) - standing_pose.xy[3])
    assert min(a, b) - 1e-6 <= bone_lengths(mid)[4] <= max(a, b) + 1e-6
    straight = 0.5 * (standing_pose.xy[4] + np.array([40, 150]))
    assert np.linalg.norm(mid.xy[4] - mid.xy[3]) > np.linalg.norm(straight - standing_pose.xy[3])


def test_pose_sequence_counts(standing_pose, arm_up_pose):
    poses = pose_sequence([standing_pose, arm_up_pose, standing_pose], 4)
    assert len(poses) == 9
    assert poses[4] == arm_up_pose and poses[-1] == standing_pose
    with pytest.raises(ValueError):
        pose_sequence([standing_pose], 3)


def test_gif_has_every_frame(tmp_path):
    path = tmp_path / "a.gif"
    write_animation(path, _frames(6), 6, fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 6
        assert im.size == (40, 48)
        assert im.info["duration"] == 100


def test_mp4_is_readable(tmp_path):
    path = tmp_path / "a.mp4"
    write_animation(path, _frames(5, (31, 41)), 5, fps=8)  # odd sizes are padded for the codec
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == 5
    assert not list(tmp_path.glob(".*"))  # no temporary file left


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_cancel_leaves_nothing(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    seen = []

    def progress(done, total):
        seen.append((done, total))
        return done < 2

    with pytest.raises(ExportCancelled):
        write_animation(path, _frames(6), 6, progress=progress)
    assert seen == [(1, 6), (2, 6)]
    assert list(tmp_path.iterdir()) == []


def test_bad_requests_are_clear(tmp_path):
    with pytest.raises(ExportError, match="gif or .mp4"):
        write_animation(tmp_path / "a.avi", _frames(2), 2)
    with pytest.raises(ExportError, match="does not exist"):
        write_animation(tmp_path / "no" / "a.mp4", _frames(2), 2)
    with pytest.raises(ExportError, match="no frames"):
        write_animation(tmp_path / "a.gif", iter(()), 0)
