import json
import subprocess
import sys

import numpy as np
import pytest

from poseeditor.image_io import load_image, save_image
from poseeditor.pose_io import save_pose


def run_cli(*args, env_model=None, cwd=None):
    import os

    env = dict(os.environ)
    if env_model is not None:
        env["POSEEDITOR_MODEL"] = str(env_model)
    return subprocess.run(
        [sys.executable, "-m", "poseeditor.cli", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


@pytest.fixture
def inputs(tmp_path, person_photo, standing_pose, arm_up_pose):
    save_image(tmp_path / "photo.png", person_photo)
    save_pose(tmp_path / "src.json", standing_pose)
    save_pose(tmp_path / "tgt.json", arm_up_pose)
    return tmp_path


def test_render_writes_result_and_intermediates(inputs, random_model_dir):
    out = inputs / "out.png"
    inter = inputs / "inter"
    r = run_cli("render", inputs / "photo.png", "--source-pose", inputs / "src.json", "--target-pose",
                inputs / "tgt.json", "-o", out, "--model", random_model_dir, "--intermediates", inter)
    assert r.returncode == 0, r.stderr
    assert load_image(out).shape == (300, 200, 3)
    names = {p.name for p in inter.iterdir()}
    assert {"output.png", "foreground.png", "foreground_mask.png", "background.png", "warped_r_forearm.png",
            "source_mask_background.png", "target_heatmaps.png", "transforms.json", "timings.json"} <= names
    transforms = json.loads((inter / "transforms.json").read_text())
    assert len(transforms["limbs"]) == 10 and np.array(transforms["limbs"]["torso"]).shape == (2, 3)
    assert "target_ms" in json.loads((inter / "timings.json").read_text())


def test_crop_only(inputs, random_model_dir):
    out = inputs / "crop.jpg"
    r = run_cli("render", inputs / "photo.png", "--source-pose", inputs / "src.json", "--target-pose",
                inputs / "tgt.json", "-o", out, "--model", random_model_dir, "--crop-only")
    assert r.returncode == 0, r.stderr
    assert load_image(out).shape == (64, 64, 3)


def _nan_pose(path):
    data = json.loads(path.read_text())
    data["joints"][4][0] = float("nan")
    p = path.with_name("nan.json")
    p.write_text(json.dumps(data))
    return p


def _13_joints(path):
    data = json.loads(path.read_text())
    data["joints"] = data["joints"][:13]
    p = path.with_name("13.json")
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize(
    "case,message",
    [
        ("corrupt_photo", "not an image"),
        ("missing_photo", "no such file"),
        ("garbage_pose", "not valid JSON"),
        ("nan_pose", "finite"),
        ("13_joints", "13"),
        ("wrong_size_pose", "image but"),
        ("missing_folder", "does not exist"),
        ("unwritable", "cannot write"),
        ("not_a_model", "not a model folder"),
        ("model_is_a_file", "is a file"),
        ("no_model_installed", "no trained generator is installed"),
        ("bad_suffix", "must be an image file"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(inputs, random_model_dir, case, message):
    photo, src, tgt = inputs / "photo.png", inputs / "src.json", inputs / "tgt.json"
    out = inputs / "out.png"
    model = random_model_dir
    env_model = None
    if case == "corrupt_photo":
        photo = inputs / "corrupt.jpg"
        photo.write_bytes(b"\x00" * 100)
    elif case == "missing_photo":
        photo = inputs / "missing.jpg"
    elif case == "garbage_pose":
        src = inputs / "garbage.json"
        src.write_text("{{{")
    elif case == "nan_pose":
        tgt = _nan_pose(tgt)
    elif case == "13_joints":
        src = _13_joints(src)
    elif case == "wrong_size_pose":
        data = json.loads(tgt.read_text())
        data["width"] = 999
        tgt = inputs / "wrong.json"
        tgt.write_text(json.dumps(data))
    elif case == "missing_folder":
        out = inputs / "no" / "such" / "out.png"
    elif case == "unwritable":
        out = "/proc/poseeditor-out.png"
    elif case == "not_a_model":
        model = inputs
    elif case == "model_is_a_file":
        model = src
    elif case == "no_model_installed":
        model = None
        env_model = inputs / "no-model-here"
    elif case == "bad_suffix":
        out = inputs / "out.txt"
    args = ["render", photo, "--source-pose", src, "--target-pose", tgt, "-o", out]
    if model is not None:
        args += ["--model", model]
    r = run_cli(*args, env_model=env_model)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not (inputs / "out.png").exists() and not (inputs / "out.txt").exists()
