"""Hostile and damaged input files: every one is a one-line PoseEditorError (never a traceback, a hang or gigabytes).

Sessions with impossible numbers or types, pose files nested 100k deep, a .mat of a million frames, a session of
200k steps, photos a few pixels wide, a model.json asking for 4096² crops. The editor-window cases are in
test_ui_recovery.py and test_ui_hostile.py; these need no Qt.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseeditor.errors import PoseEditorError, PoseFileError
from poseeditor.pose_io import MAX_MAT_FRAMES, load_pose, pose_to_dict
from poseeditor.session import HISTORY_LIMIT, HistoryEntry, SessionData, load_session, save_session


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


@pytest.fixture
def good_session(tmp_path, standing_pose, arm_up_pose) -> dict:
    data = SessionData(tmp_path / "photo.png", standing_pose,
                       [HistoryEntry(standing_pose, "Start"), HistoryEntry(arm_up_pose, "raise")], 1)
    save_session(tmp_path / "good.posesession", data)
    return json.loads((tmp_path / "good.posesession").read_text())


@pytest.mark.parametrize(
    "key, value",
    [
        ("version", "abc"), ("version", None), ("version", 1e400), ("version", True), ("version", [1]),
        ("history_index", 1e400), ("history_index", "1"), ("history_index", None), ("history_index", 0.5),
        ("history_index", -1e400), ("photo", 123), ("photo", ["a.png"]), ("photo", {"x": 1}),
        ("photo_relative", 5), ("model", 7), ("history", {"a": 1}), ("history", [1, 2]),
        ("keyframes", "abc"), ("source_pose", {"joints": "x"}),
    ],
)
def test_damaged_session_values_are_one_line_errors(tmp_path, good_session, key, value):
    raw = dict(good_session)
    raw[key] = value
    path = tmp_path / "bad.posesession"
    # json.dumps writes inf as Infinity; a file with the literal 1e400 parses to inf as well
    path.write_text(json.dumps(raw).replace("Infinity", "1e400"))
    with pytest.raises(PoseFileError) as caught:
        load_session(path)
    assert "bad.posesession" in _one_line(caught.value)


def test_huge_integers_in_a_pose_are_one_line_errors(tmp_path, standing_pose, good_session):
    raw = dict(good_session)
    raw["history"] = [{"label": "x", "pose": {**pose_to_dict(standing_pose), "width": "1" + "0" * 400}}]
    raw["history_index"] = 0
    (tmp_path / "s.posesession").write_text(json.dumps(raw).replace('"1' + "0" * 400 + '"', "1" + "0" * 400))
    with pytest.raises(PoseFileError) as caught:
        load_session(tmp_path / "s.posesession")
    _one_line(caught.value)
    joints = pose_to_dict(standing_pose)
    joints["joints"][3] = [int("9" * 400), 1, 1]
    (tmp_path / "p.json").write_text(json.dumps(joints))
    with pytest.raises(PoseFileError):
        load_pose(tmp_path / "p.json")


@pytest.mark.parametrize("suffix", [".json", ".posesession"])
def test_json_nested_100k_levels_is_a_one_line_error(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(PoseFileError) as caught:
        load_session(path) if suffix == ".posesession" else load_pose(path)
    assert "nested too deeply" in _one_line(caught.value)
    nested = '{"format": "poseeditor-session", "history": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text(nested)
    with pytest.raises(PoseFileError):
        load_session(path) if suffix == ".posesession" else load_pose(path)


def _long_session(path, pose, steps: int, current: int, compact: bool) -> None:
    def as_dict(p) -> dict:
        if not compact:
            return pose_to_dict(p)
        return {"width": p.width, "height": p.height, "joints": [[int(x), int(y), 1] for x, y in p.xy]}

    step = json.dumps({"label": "", "pose": as_dict(pose)}, separators=(",", ":"))
    marker = json.dumps({"label": "current", "pose": as_dict(pose.with_joint(4, 1.0, 2.0))}, separators=(",", ":"))
    head = json.dumps({"format": "poseeditor-session", "version": 1, "photo": "p.png",
                       "source_pose": pose_to_dict(pose), "history_index": current, "keyframes": []})
    body = [step] * steps
    body[current] = marker
    path.write_text(head[:-1] + ',"history":[' + ",".join(body) + "]}")


def test_a_200k_step_session_is_refused_before_it_is_parsed(tmp_path, standing_pose):
    """Item 6: a 200k-step session took 41 s to open and 50 s (2.4 GB) for every autosave after. The editor
    writes at most ~1.5 MB (500 steps); a file over MAX_SESSION_BYTES is refused before json builds it."""
    from poseeditor.session import MAX_SESSION_BYTES

    path = tmp_path / "long.posesession"
    _long_session(path, standing_pose, 200_000, 199_998, compact=False)
    assert path.stat().st_size > MAX_SESSION_BYTES
    with pytest.raises(PoseFileError) as caught:
        load_session(path)
    assert "too large" in _one_line(caught.value)


def test_a_long_session_is_read_capped(tmp_path, standing_pose):
    """Under the size limit, the 500-step cap applies at load: only the current step and the 500 before it are
    parsed (and so kept and autosaved)."""
    path = tmp_path / "long.posesession"
    _long_session(path, standing_pose, 20_000, 19_998, compact=True)
    data = load_session(path)
    assert len(data.history) == HISTORY_LIMIT + 1
    assert data.history[data.history_index].label == "current"
    assert data.history_index == HISTORY_LIMIT  # the 500 undo steps before it; its redo step is past the cap
    save_session(tmp_path / "again.posesession", data)
    assert (tmp_path / "again.posesession").stat().st_size < path.stat().st_size / 10


def test_session_history_window_keeps_the_current_step(standing_pose):
    from poseeditor.session import history_window

    for count, index in [(10, 3), (1000, 999), (1000, 0), (1000, 600), (200_000, 199_999), (502, 0)]:
        start, stop = history_window(count, index)
        assert start <= index < stop <= count
        assert stop - start == min(count, HISTORY_LIMIT + 1)
        assert index - start == min(index, HISTORY_LIMIT)  # as many undo steps as the cap allows


def _write_mat(path, frames: int) -> None:
    import scipy.io

    x = np.full((14, 2, frames), 5.0)
    scipy.io.savemat(str(path), {"data": {"X": x}}, do_compression=True)


def test_a_mat_of_a_million_frames_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.mat"
    _write_mat(path, 1_000_000)
    assert path.stat().st_size < 1_000_000  # ~330 KB on disk, 224 MB once decompressed
    with pytest.raises(PoseFileError) as caught:
        load_pose(path)
    assert "huge.mat" in _one_line(caught.value)


def test_a_long_mat_gives_only_the_frame_asked_for(tmp_path):
    path = tmp_path / "long.mat"
    _write_mat(path, 50_000)
    pose = load_pose(path, image_size=(64, 64), index=49_999)
    assert pose.xy[0].tolist() == [4.0, 4.0]
    with pytest.raises(PoseFileError, match="50000 frames"):
        load_pose(path, index=50_000)
    assert MAX_MAT_FRAMES >= 50_000


def test_hostile_inputs_are_all_pose_editor_errors(tmp_path):
    """Odd files of every kind end as PoseEditorError (what the editor and CLI turn into one line)."""
    cases = {
        "empty.json": "",
        "null.json": "null",
        "number.json": "1e400",
        "joints.json": '{"joints": [[1e400, 1e400, 1]] }',
        "people.json": '{"people": [{"pose_keypoints_2d": [1e400, 1, 1]}]}',
        "coco.json": '{"keypoints": ["a", "b", "c"]}',
        "confidence.json": json.dumps({"width": 9, "height": 9, "joints": [[1, 1, 1]] * 14, "confidence": ["x"] * 14}),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(PoseEditorError) as caught:
            load_pose(tmp_path / name)
        _one_line(caught.value)
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0" + b"\0" * 200)
    with pytest.raises(PoseEditorError):
        load_pose(tmp_path / "bad.mat")


@pytest.mark.parametrize("size", [4096, 0, 16, "256", 256.0, True, None])
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_model_json_with_an_impossible_crop_size_is_refused_for_every_backend(tmp_path, random_model_dir, size,
                                                                             backend):
    """Item 8: image_size 4096 with --backend torch ran past 300 s at 9.6 GB; only onnx refused it."""
    import shutil

    from poseeditor.engine import load_engine
    from poseeditor.errors import ModelError

    folder = tmp_path / "model"
    shutil.copytree(random_model_dir, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["config"]["image_size"] = size
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError) as caught:
        load_engine(str(folder), backend)
    assert "image_size" in _one_line(caught.value)


def test_a_16x6000_photo_costs_a_bounded_number_of_detector_runs():
    """Item 6: a 16×6000 strip asked for 566 detector runs (27–32 s); the search along the long side is capped."""
    detector_module = pytest.importorskip("poseeditor.detector")
    from poseeditor.detector.pipeline import MAX_TILES, _tiles
    from poseeditor.errors import NoPersonFoundError

    assert len(_tiles(16, 6000)) == MAX_TILES
    assert _tiles(16, 6000)[-1][1] + 16 == 6000  # still reaches the far end
    try:
        detector = detector_module.default_detector()
        detector._load()
    except PoseEditorError as exc:
        pytest.skip(f"no detector models: {exc}")
    runs = []
    real = detector.person_candidates
    detector.person_candidates = lambda *a, **k: runs.append(1) or real(*a, **k)
    try:
        with pytest.raises(NoPersonFoundError):
            detector.detect(np.full((6000, 16, 3), 120, np.uint8))
    finally:
        del detector.person_candidates
    assert len(runs) <= 1 + MAX_TILES + 3  # whole photo, the tiles, three other quarter turns


@pytest.mark.parametrize("size", [(1, 1), (15, 400), (400, 10)])
def test_photos_under_16_px_are_refused_before_decoding(tmp_path, size):
    """Item 5: a photo under 16 px on a side aborted the editor (uncaught ImageError from the detector, exit 134).
    The editor refuses it with one line; the window and command-line cases are in test_ui_command_line.py."""
    from PIL import Image

    from poseeditor.errors import ImageError
    from poseeditor.image_io import MIN_PHOTO_SIDE, load_image, load_photo

    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).save(path)
    with pytest.raises(ImageError) as caught:
        load_photo(path)
    assert f"at least {MIN_PHOTO_SIDE} px" in _one_line(caught.value)
    assert load_image(path).shape[:2] == (size[1], size[0])  # other readers (the trainer) keep their own rules


def test_finding_a_person_in_a_tiny_photo_falls_back_to_the_default_skeleton():
    """The detector's ImageError for a tiny array no longer escapes find_person (it crashed the editor)."""
    from poseeditor.person import find_person

    pose, message = find_person(np.zeros((10, 12, 3), np.uint8))
    assert (pose.width, pose.height) == (12, 10)
    assert "default skeleton" in message
