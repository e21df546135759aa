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


def _probe(path):
    """ffmpeg's description of the file's video stream, e.g. 'Video: h264 (High) (avc1 / 0x31637661), yuv420p...'."""
    import subprocess

    import imageio_ffmpeg

    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                         text=True)
    return next(line for line in out.stderr.splitlines() if "Video:" in line)


def test_mp4_is_h264_yuv420p_even_sized_and_readable(tmp_path):
    path = tmp_path / "a.mp4"
    write_animation(path, _frames(5, (31, 41)), 5, fps=8)  # odd sizes are padded for the codec
    video = _probe(path)
    assert "Video: h264" in video, video  # not MPEG-4 Part 2 ("mp4v"), which many players refuse
    assert "yuv420p" in video and "42x32" in video, video
    capture = cv2.VideoCapture(str(path))
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if count == 4:  # the last frame: 15 orange columns, then black (H.264 is lossy: compare loosely)
            assert frame.shape == (32, 42, 3)
            assert np.abs(frame[:31, 2:13].astype(int) - (0, 128, 255)).mean() < 12  # BGR
            assert frame[:31, 20:].mean() < 12
        count += 1
    capture.release()
    assert count == 5
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_exports_get_the_mode_a_plain_open_gives_not_0600(tmp_path):
    from poseeditor.image_io import default_mode

    for name in ("a.mp4", "a.gif"):
        write_animation(tmp_path / name, _frames(3), 3)
        mode = (tmp_path / name).stat().st_mode & 0o777
        assert mode == default_mode() and mode != 0o600, (name, oct(mode))


def test_stale_temp_files_of_killed_exports_are_cleaned_at_the_next_export(tmp_path):
    import os
    import time

    old = time.time() - 2 * 3600

    def make(name, mode=0o600, mtime=old):
        p = tmp_path / name
        p.write_bytes(b"partial")
        os.chmod(p, mode)
        os.utime(p, (mtime, mtime))
        return p

    stale = [make(".anim.k2j3h4g5.mp4"), make(".result.png.ab_cd123.tmp"), make(".clip.x1y2z3w4.mp4")]
    kept = [
        make(".anim.q9w8e7r6.mp4", mtime=time.time()),  # young: maybe another editor's export in progress
        make(".holiday.20240101.mp4", mode=0o644),  # the user's own hidden file (a finished write is never 0600)
        make("anim.abcdefgh.mp4"),  # not hidden: not one of ours
        make(".notes.tmp"),  # no random part
    ]
    write_animation(tmp_path / "new.mp4", _frames(2), 2)
    for p in stale:
        assert not p.exists(), p
    for p in kept:
        assert p.exists(), p
    assert (tmp_path / "new.mp4").is_file()


def test_mp4_without_ffmpeg_is_a_clear_error_not_an_mp4v_file(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if the package were not installed
    with pytest.raises(ExportError, match="imageio-ffmpeg.*GIF export works"):
        write_animation(tmp_path / "a.mp4", _frames(2), 2)
    assert list(tmp_path.iterdir()) == []
    write_animation(tmp_path / "a.gif", _frames(2), 2)  # GIF needs no ffmpeg


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
