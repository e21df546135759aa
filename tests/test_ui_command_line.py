"""The editor's command line as a new user meets it: --help, opening a session, backend names, no display, and
hostile files in a headless run (one line on stderr, exit 2, never a dialog or an abort)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poseeditor.cli import main as cli_main
from poseeditor.pose_io import pose_to_dict
from poseeditor.session import HistoryEntry, SessionData, save_session
from poseeditor.ui.app import NO_DISPLAY, build_parser, display_problem

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 180  # a guard against the hang this tests for, not a speed requirement


def run_editor(args: list[str], tmp_path: Path, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
                "POSEEDITOR_RECOVERY_DIR": str(tmp_path / "recovery"),
                "POSEEDITOR_MODEL": str(tmp_path / "no-model-here"), "XDG_CONFIG_HOME": str(tmp_path / "config")})
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-m", "poseeditor.cli", *args], cwd=tmp_path, env=env, check=False,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.startswith("poseeditor: ")]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_help_lists_the_editors_options_and_the_commands(capsys):
    """Item 14: `poseeditor --help` used to list only render and detect."""
    with pytest.raises(SystemExit) as done:
        cli_main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--source-pose", "--target-pose", "--model", "--backend", "--screenshot", "--no-recovery"):
        assert option in text
    assert "render" in text and "detect" in text and "posesession" in text


def test_backend_onnxruntime_is_an_alias_of_onnx(random_model_dir):
    """Item 14: --backend onnxruntime was advertised and then refused ("use onnx")."""
    from poseeditor.engine.backends import make_backend
    from poseeditor.engine.model_files import find_model

    assert build_parser().parse_args(["--backend", "onnxruntime"]).backend == "onnxruntime"
    assert make_backend(find_model(random_model_dir), "onnxruntime").name.startswith("onnxruntime")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--backend", "tensorflow"])


def test_display_is_checked_before_qt_starts():
    """Item 18: without a display Qt aborts blaming libxcb-cursor0; say what is wrong instead."""
    assert display_problem({}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "linux") == NO_DISPLAY
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None


def test_no_display_is_one_clear_line_and_exit_2(tmp_path):
    result = run_editor(["--no-recovery"], tmp_path, QT_QPA_PLATFORM=None, DISPLAY=None, WAYLAND_DISPLAY=None)
    line = one_line_error(result)
    assert "no display found" in line and "QT_QPA_PLATFORM=offscreen" in line and "poseeditor render" in line
    assert "xcb" not in result.stderr


@pytest.fixture
def photo(tmp_path, person_photo) -> Path:
    path = tmp_path / "person.png"
    Image.fromarray(person_photo).save(path)
    return path


def test_a_session_file_on_the_command_line_opens_it(tmp_path, photo, standing_pose, arm_up_pose):
    """Item 14: `poseeditor work.posesession` said "not an image file"."""
    session = tmp_path / "work.posesession"
    save_session(session, SessionData(photo, standing_pose, [HistoryEntry(standing_pose, "Start"),
                                                             HistoryEntry(arm_up_pose, "raise")], 1))
    result = run_editor([session.name, "--screenshot", "shot.png"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "shot.png").is_file()
    assert "not an image" not in result.stderr


def _hostile_files(tmp_path: Path, standing_pose) -> dict[str, list[str]]:
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = {"format": "poseeditor-session", "version": 1, "photo": "person.png", "history_index": 0,
            "history": [{"label": "Start", "pose": pose_to_dict(standing_pose)}],
            "source_pose": pose_to_dict(standing_pose)}
    cases = {"tiny": ["tiny.png"], "unreadable": ["broken.jpg"],
             "deep-pose": ["person.png", "--source-pose", "deep.json"]}
    for name, value in (("version-abc", ("version", "abc")), ("version-null", ("version", None)),
                        ("version-huge", ("version", "1e400")), ("index-huge", ("history_index", "1e400")),
                        ("photo-number", ("photo", 123))):
        key, bad = value
        text = json.dumps({**good, key: bad})
        if bad == "1e400":
            text = text.replace('"1e400"', "1e400")
        (tmp_path / f"{name}.posesession").write_text(text)
        cases[name] = [f"{name}.posesession"]
    return cases


@pytest.mark.parametrize("case", ["tiny", "unreadable", "deep-pose", "version-abc", "version-null", "version-huge",
                                  "index-huge", "photo-number"])
def test_hostile_files_in_a_headless_run_print_one_line_and_exit_2(tmp_path, photo, standing_pose, case):
    """Items 5 and 7: tiny photos aborted (exit 134, QThread destroyed), deep pose files hit RecursionError,
    damaged sessions raised ValueError/TypeError/OverflowError to stderr only, and an unreadable photo with
    --screenshot opened a modal dialog that nobody could close."""
    args = _hostile_files(tmp_path, standing_pose)[case]
    result = run_editor([*args, "--screenshot", "shot.png"], tmp_path)
    one_line_error(result)
    assert not (tmp_path / "shot.png").exists()
