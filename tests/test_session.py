"""Undo history with coalesced drags, and the session file (save, load, damage, recovery location)."""

from __future__ import annotations

import json

import pytest

from poseeditor.errors import PoseFileError
from poseeditor.session import (
    HistoryEntry,
    PoseHistory,
    SessionData,
    load_session,
    save_session,
)


def _moved(pose, dx):
    return pose.with_joint(4, pose.xy[4, 0] + dx, pose.xy[4, 1])


def test_a_drag_is_one_undo_step(standing_pose):
    history = PoseHistory(standing_pose)
    key = object()
    for dx in range(1, 30):
        history.push(_moved(standing_pose, dx), "Move r_wrist", key)
    history.seal()
    assert history.index == 1
    assert history.current == _moved(standing_pose, 29)
    assert history.undo() == standing_pose
    assert not history.can_undo()
    assert history.redo() == _moved(standing_pose, 29)


def test_same_key_after_seal_starts_a_new_step(standing_pose):
    history = PoseHistory(standing_pose)
    history.push(_moved(standing_pose, 1), "nudge", "k")
    history.seal()
    history.push(_moved(standing_pose, 2), "nudge", "k")
    assert history.index == 2


def test_new_edit_drops_the_redo_branch(standing_pose):
    history = PoseHistory(standing_pose)
    history.push(_moved(standing_pose, 1), "a")
    history.push(_moved(standing_pose, 2), "b")
    history.undo()
    history.push(_moved(standing_pose, 5), "c")
    assert not history.can_redo()
    assert [e.label for e in history.entries] == ["Start", "a", "c"]


def test_history_keeps_at_least_100_steps_and_is_bounded(standing_pose):
    history = PoseHistory(standing_pose, limit=150)
    for k in range(400):
        history.push(_moved(standing_pose, k + 1), f"step {k}")
    steps = 0
    while history.undo() is not None:
        steps += 1
    assert steps == 150
    assert history.current == _moved(standing_pose, 400 - 150)


def test_session_round_trip(tmp_path, standing_pose, arm_up_pose):
    data = SessionData(
        photo_path=tmp_path / "photo.png",
        source_pose=standing_pose,
        history=[HistoryEntry(standing_pose, "Start"), HistoryEntry(arm_up_pose, "Move r_wrist")],
        history_index=1,
        keyframes=[arm_up_pose],
        model_dir="/models/x",
    )
    path = tmp_path / "s.posesession"
    save_session(path, data)
    back = load_session(path)
    assert back.photo_path == data.photo_path
    assert back.source_pose == standing_pose
    assert back.target_pose == arm_up_pose
    assert [e.label for e in back.history] == ["Start", "Move r_wrist"]
    assert back.keyframes == [arm_up_pose]
    assert back.model_dir == "/models/x"
    restored = PoseHistory.restore(back.history, back.history_index)
    assert restored.undo() == standing_pose


def test_damaged_sessions_are_clear_errors(tmp_path, standing_pose):
    with pytest.raises(PoseFileError, match="no such session"):
        load_session(tmp_path / "absent.posesession")
    (tmp_path / "a.posesession").write_text("{broken")
    with pytest.raises(PoseFileError, match="not a readable session"):
        load_session(tmp_path / "a.posesession")
    (tmp_path / "b.posesession").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(PoseFileError, match="not a poseeditor session"):
        load_session(tmp_path / "b.posesession")
    good = SessionData(None, standing_pose, [HistoryEntry(standing_pose, "Start")], 0)
    save_session(tmp_path / "c.posesession", good)
    raw = json.loads((tmp_path / "c.posesession").read_text())
    raw["history_index"] = 7
    (tmp_path / "c.posesession").write_text(json.dumps(raw))
    with pytest.raises(PoseFileError, match="outside"):
        load_session(tmp_path / "c.posesession")
