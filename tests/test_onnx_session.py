"""One way to open onnxruntime sessions: the thread cap, POSEEDITOR_THREADS, clear errors."""

from __future__ import annotations

import pytest

from poseeditor.errors import ModelError, PoseEditorError
from poseeditor.onnx_session import default_threads, onnx_session


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_a_bad_threads_variable_is_a_user_error_naming_it(monkeypatch, value):
    monkeypatch.setenv("POSEEDITOR_THREADS", value)
    with pytest.raises(PoseEditorError, match="POSEEDITOR_THREADS"):
        default_threads()


def test_threads_default_to_the_cores_up_to_four(monkeypatch):
    monkeypatch.delenv("POSEEDITOR_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_threads() == 4
    monkeypatch.setenv("POSEEDITOR_THREADS", "3")
    assert default_threads() == 3


def test_the_detector_sessions_get_the_thread_cap(monkeypatch):
    from poseeditor.detector import PoseDetector

    monkeypatch.setenv("POSEEDITOR_THREADS", "1")
    sessions = PoseDetector()._load()
    for session in sessions.values():
        options = session.get_session_options()
        assert options.intra_op_num_threads == 1
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_missing_and_broken_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="the pose detector model is missing"):
        onnx_session(tmp_path / "none.onnx", what="pose detector model")
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a loadable"):
        onnx_session(tmp_path / "bad.onnx")


def test_ort_levers_are_off_by_default_and_unknown_ones_are_user_errors(monkeypatch):
    from poseeditor.onnx_session import ort_levers

    monkeypatch.delenv("POSEEDITOR_ORT_OPTIONS", raising=False)
    assert ort_levers() == []
    assert ort_levers(("ftz",)) == ["ftz"]
    monkeypatch.setenv("POSEEDITOR_ORT_OPTIONS", "none")
    assert ort_levers(("ftz",)) == []
    monkeypatch.setenv("POSEEDITOR_ORT_OPTIONS", "batch1, ftz")
    assert ort_levers() == ["batch1", "ftz"]
    monkeypatch.setenv("POSEEDITOR_ORT_OPTIONS", "turbo")
    with pytest.raises(PoseEditorError, match="POSEEDITOR_ORT_OPTIONS.*turbo"):
        ort_levers()


def test_ort_levers_reach_the_session_options(monkeypatch):
    from poseeditor.detector import PoseDetector

    monkeypatch.setenv("POSEEDITOR_ORT_OPTIONS", "ftz,noarena")
    session = next(iter(PoseDetector()._load().values()))
    options = session.get_session_options()
    assert options.get_session_config_entry("session.set_denormal_as_zero") == "1"
    assert options.enable_cpu_mem_arena is False
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_the_generator_flushes_denormals_by_default_and_none_turns_it_off(monkeypatch):
    from poseeditor.engine import load_engine

    monkeypatch.delenv("POSEEDITOR_MODEL", raising=False)
    monkeypatch.delenv("POSEEDITOR_ORT_OPTIONS", raising=False)
    def flushes(options) -> bool:
        try:
            return options.get_session_config_entry("session.set_denormal_as_zero") == "1"
        except RuntimeError:  # onnxruntime: no such entry
            return False

    for value, expected in (("", True), ("none", False)):
        monkeypatch.setenv("POSEEDITOR_ORT_OPTIONS", value)
        for session in load_engine(None, backend="onnx").backend.sessions.values():
            assert flushes(session.get_session_options()) is expected
