"""`posetrain ingest`: a short video made here + a sidecar pose file (no detector needed), and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from poseeditor.errors import NoPersonFoundError
from poseeditor.pose_io import pose_to_dict
from poseeditor.skeleton import Pose
from trainer.data.dataset_format import DatasetError, read_dataset
from trainer.data.ingest import FramePerson, IngestOptions, ingest
from trainer.data.toy import toy_video

TENNIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "posewarp-tennis"
W, H, N = 160, 120, 8


def write_avi(path: Path, frames: list[np.ndarray]) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture
def clip(tmp_path):
    """An 8-frame 160×120 video of a figure, with a sidecar: frame 2 has nobody, frame 5 an unsure hip."""
    toy = toy_video(seed=4, frames=N, width=W, height=H)
    video = tmp_path / "in" / "walk.avi"
    video.parent.mkdir()
    write_avi(video, toy.frames)
    poses = []
    for k in range(N):
        conf = np.full(14, 0.9)
        if k == 5:
            conf[8] = 0.2
        if k == 7:
            conf[13] = 0.1  # an occluded ankle: kept, written as not visible
        pose = Pose(toy.joints[k], toy.visible[k], W, H, confidence=conf)
        poses.append(None if k == 2 else pose_to_dict(pose))
    (tmp_path / "in" / "walk.avi.poses.json").write_text(json.dumps(poses))
    return video, toy


def test_ingest_with_a_sidecar_writes_the_dataset_format(clip, tmp_path):
    video, toy = clip
    out = tmp_path / "data"
    [result] = ingest([video], out, IngestOptions(long_side=80, progress=False, group="walker", min_segment=2))
    assert (result.decoded, result.examined, result.kept) == (N, N, N - 2)
    assert result.dropped == {"no person": 1, "unsure head/shoulders/hips": 1}
    [record] = read_dataset(out)
    assert record.name == "walk" and record.group == "walker" and record.source == "ingest"
    assert (record.width, record.height) == (80, 60) and len(record) == N - 2
    kept = [k for k in range(N) if k not in (2, 5)]
    # joints scaled with the frame (pixel centres: x' = (x + 0.5)·s − 0.5)
    np.testing.assert_allclose(record.joints, (toy.joints[kept] + 0.5) * 0.5 - 0.5, atol=0.01)
    assert record.visible[:-1].all() and not record.visible[-1, 13] and record.visible[-1, :13].all()
    info = json.loads((out / "info" / "walk.json").read_text())
    assert [f["source_frame"] for f in info["frames"]] == kept
    # the written frame still shows the figure where its joints say (MJPG and downscaling are lossy)
    frame = record.load_frame(0).astype(int)
    expected = cv2.resize(toy.frames[0], (80, 60), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(frame - expected).mean() < 12
    assert json.loads((out / "dataset.json").read_text())["format"] == "poseeditor-dataset"


def test_stride_and_max_frames(clip, tmp_path):
    video, _ = clip
    [result] = ingest(
        [video.parent], tmp_path / "d", IngestOptions(stride=3, max_frames=2, progress=False, min_segment=2)
    )
    assert result.kept == 2
    info = json.loads((tmp_path / "d" / "info" / "walk.json").read_text())
    assert [f["source_frame"] for f in info["frames"]] == [0, 3]


def test_a_detector_callable_and_its_masks(clip, tmp_path):
    video, toy = clip
    calls = []

    def fake_detector(frame, index, region):
        calls.append(region)
        h, w = frame.shape[:2]
        s = w / W
        xy = (toy.joints[index] + 0.5) * s - 0.5
        mask = cv2.resize(toy.masks[index], (w, h)).astype(np.float32) / 255.0
        x0, y0 = xy.min(0)
        x1, y1 = xy.max(0)
        return FramePerson(Pose(xy, np.ones(14, bool), w, h), np.full(14, 0.9), 0.95, mask, (x0, y0, x1, y1))

    (video.parent / "walk.avi.poses.json").unlink()
    [result] = ingest(
        [video], tmp_path / "d", IngestOptions(long_side=80, progress=False, min_segment=2), detector=fake_detector
    )
    assert result.kept == N and result.pose_source == "custom detector"
    assert calls[0] is None and calls[1] is not None  # later frames search around the person's last box
    [record] = read_dataset(tmp_path / "d")
    assert record.has_masks
    mask = record.load_mask(3)
    assert mask.shape == (60, 80) and set(np.unique(mask)) <= {0, 255}
    x, y = np.round(record.joints[3, 1]).astype(int)  # the neck lies on the person
    assert mask[y, x] == 255


def test_a_video_is_cut_where_the_detected_person_changes(tmp_path):
    """Frames 0-5 show one figure, 6-11 another one elsewhere (the detector switched people): two videos of one
    group; a 2-frame piece in between is too short to keep."""
    a, b = toy_video(seed=1, frames=6, width=W, height=H), toy_video(seed=2, frames=6, width=W, height=H)
    far = b.joints + [60.0, 0.0]  # the second person stands elsewhere
    frames = a.frames + a.frames[:2] + b.frames
    joints = np.concatenate([a.joints, far[:2] * 0 + a.joints[:2] * 0.5 + 40, far])
    video = tmp_path / "two.avi"
    write_avi(video, frames)
    poses = [pose_to_dict(Pose(xy, np.ones(14, bool), W, H)) for xy in joints]
    (tmp_path / "two.avi.poses.json").write_text(json.dumps(poses))
    out = tmp_path / "data"
    (out / "info").mkdir(parents=True)
    (out / "info" / "two_s05.json").write_text("{}")  # a stale segment of an earlier ingest goes away
    [result] = ingest([video], out, IngestOptions(progress=False, min_segment=3))
    assert result.segments == [("two", 6), ("two_s03", 6)]
    assert result.kept == 12 and result.dropped["in too short segments"] == 2
    records = {r.name: r for r in read_dataset(out)}
    assert set(records) == {"two", "two_s03"} and {r.group for r in records.values()} == {"two"}
    np.testing.assert_allclose(records["two_s03"].joints, far, atol=0.01)
    assert "cut into 2 videos" in result.line()


def test_a_folder_of_image_frames_is_one_video(tmp_path):
    toy = toy_video(seed=6, frames=4, width=W, height=H)
    folder = tmp_path / "shots"
    folder.mkdir()
    for k, frame in enumerate(toy.frames):
        cv2.imwrite(str(folder / f"f{k:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    poses = [pose_to_dict(Pose(toy.joints[k], toy.visible[k], W, H)) for k in range(4)]
    (tmp_path / "shots.poses.json").write_text(json.dumps({"frames": poses}))
    [result] = ingest([folder], tmp_path / "out", IngestOptions(progress=False, min_segment=2))
    assert result.kept == 4
    [record] = read_dataset(tmp_path / "out")
    assert record.name == "shots" and (record.width, record.height) == (W, H)
    assert np.abs(record.load_frame(3).astype(int) - toy.frames[3]).mean() < 6  # written as JPEG: near-lossless
    np.testing.assert_allclose(record.joints, toy.joints, atol=0.01)


def test_undecodable_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    (tmp_path / "broken.mp4.poses.json").write_text("[]")
    with pytest.raises(DatasetError, match="cannot be decoded"):
        ingest([bad], tmp_path / "out", IngestOptions(progress=False))
    assert not (tmp_path / "out" / "info" / "broken.json").exists()


def test_empty_folder_and_missing_input_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no videos"):
        ingest([tmp_path / "empty"], tmp_path / "out", IngestOptions(progress=False))
    with pytest.raises(DatasetError, match="no such file"):
        ingest([tmp_path / "nope.mp4"], tmp_path / "out", IngestOptions(progress=False))


def test_a_video_with_no_person_is_a_clear_error(clip, tmp_path):
    video, _ = clip
    (video.parent / "walk.avi.poses.json").write_text(json.dumps([None] * N))
    with pytest.raises(NoPersonFoundError, match="no frame with a clearly visible person"):
        ingest([video], tmp_path / "out", IngestOptions(progress=False))
    assert not (tmp_path / "out" / "frames" / "walk").exists()  # nothing half-written is left


def test_skip_bad_goes_on_and_the_cli_reports(clip, tmp_path, capsys):
    from trainer.cli import main

    video, _ = clip
    bad = video.parent / "zzz_broken.avi"
    bad.write_bytes(b"\x00" * 64)
    (video.parent / "zzz_broken.avi.poses.json").write_text("[]")
    out = tmp_path / "out"
    code = main(["ingest", str(video.parent), "--out", str(out), "--skip-bad", "--quiet", "--min-segment", "2"])
    printed = capsys.readouterr().out
    assert code == 1 and "walk: kept 6 of 8" in printed and "zzz_broken: FAILED" in printed
    assert [v.name for v in read_dataset(out)] == ["walk"]
    assert main(["ingest", str(bad), "--out", str(out), "--quiet"]) == 2
    assert "cannot be decoded" in capsys.readouterr().err


def test_detector_on_real_frames_finds_the_annotated_player(tmp_path):
    """The project's detector, run by ingest on a video made of the real tennis frames, lands near the paper's
    annotations (skipped when the fixture or the detector's model files are absent)."""
    if not TENNIS.is_dir():
        pytest.skip("posewarp-tennis fixture not present")
    try:
        from poseeditor.detector import default_detector

        default_detector()._load()
    except Exception as exc:  # no model files installed: nothing to test here
        pytest.skip(f"detector unavailable: {exc}")
    frames = [cv2.cvtColor(cv2.imread(str(TENNIS / "frames" / f"{k}.jpg")), cv2.COLOR_BGR2RGB) for k in (1, 4)]
    write_avi(tmp_path / "tennis.avi", frames)
    [result] = ingest(
        [tmp_path / "tennis.avi"],
        tmp_path / "out",
        IngestOptions(long_side=640, progress=False, min_confidence=0.3, min_segment=2),
    )
    assert result.kept >= 1
    [record] = read_dataset(tmp_path / "out")
    [truth] = read_dataset(TENNIS)
    info = json.loads((tmp_path / "out" / "info" / "tennis.json").read_text())
    for j, frame in enumerate(info["frames"]):
        k = (0, 3)[frame["source_frame"]]
        expected = (truth.joints[k] + 0.5) * 0.5 - 0.5
        body = np.ptp(expected[:, 1])
        vis = record.visible[j] & np.isin(np.arange(14), [1, 2, 5, 8, 11])  # neck, shoulders, hips
        error = np.linalg.norm(record.joints[j][vis] - expected[vis], axis=1)
        assert np.median(error) < 0.1 * body
