"""`poseeditor detect`: pose file, mask, overlay; exit 3 for no person (nothing written), exit 2 for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseeditor.cli import main
from poseeditor.image_io import load_image, save_image
from poseeditor.pose_io import load_pose
from poseeditor.resources import resource_path

SAMPLE = resource_path("samples", "sample.jpg")


def test_detect_writes_pose_mask_and_overlay(tmp_path, capsys):
    pose_path, mask_path, overlay_path = tmp_path / "p.json", tmp_path / "m.png", tmp_path / "o.jpg"
    code = main(["detect", str(SAMPLE), "-o", str(pose_path), "--mask", str(mask_path), "--overlay", str(overlay_path)])
    assert code == 0
    pose = load_pose(pose_path)
    photo = load_image(SAMPLE)
    assert (pose.width, pose.height) == (photo.shape[1], photo.shape[0])
    assert pose.visible.sum() == 14
    mask = load_image(mask_path)
    assert mask.shape == photo.shape and 0 < (mask[:, :, 0] > 127).mean() < 0.2
    assert load_image(overlay_path).shape == photo.shape
    assert "person score" in capsys.readouterr().out


def test_shipped_sample_pose_is_what_the_detector_finds(tmp_path):
    """resources/samples/*.pose.json must stay in step with the detector (regenerate them when it changes)."""
    for name in ("sample", "lab_cam02", "astronaut"):
        out = tmp_path / f"{name}.json"
        assert main(["detect", str(resource_path("samples", f"{name}.jpg")), "-o", str(out), "--quiet"]) == 0
        shipped, fresh = load_pose(resource_path("samples", f"{name}.pose.json")), load_pose(out)
        assert np.array_equal(shipped.visible, fresh.visible)
        assert np.abs(shipped.xy - fresh.xy)[fresh.visible].max() < 2.0


def test_region_option(tmp_path):
    out = tmp_path / "p.json"
    # A box around the man on the roof (top left of the sample) picks him, not the larger walker.
    assert main(["detect", str(SAMPLE), "-o", str(out), "--region", "600,50,400,450", "--quiet"]) == 0
    pose = load_pose(out)
    assert pose.xy[pose.visible, 1].max() < 520


def test_no_person_exits_3_and_writes_nothing(tmp_path, capsys):
    photo = np.full((300, 400, 3), 90, dtype=np.uint8)
    photo[:, 200:] = 160
    save_image(tmp_path / "wall.png", photo)
    out = tmp_path / "p.json"
    assert main(["detect", str(tmp_path / "wall.png"), "-o", str(out), "--mask", str(tmp_path / "m.png")]) == 3
    assert not out.exists() and not (tmp_path / "m.png").exists()
    assert "no person found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, extra",
    [
        ("corrupt", []),
        ("missing", []),
        ("ok", ["--region", "1,2,x,4"]),
        ("ok", ["--region", "1,2,3"]),
        ("ok", ["--region", "5000,5000"]),
        ("ok", ["--mask", "mask.txt"]),
        ("ok", ["--overlay", "no/such/folder/o.png"]),
        ("ok", ["--threads", "0"]),
        ("ok", ["--region=-500,-500,100,100"]),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys, setup, extra):
    monkeypatch.chdir(tmp_path)
    photo = tmp_path / "photo.jpg"
    if setup == "corrupt":
        photo.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    elif setup == "ok":
        photo.write_bytes(SAMPLE.read_bytes())
    code = main(["detect", str(photo), "-o", "p.json", *extra])
    assert code == 2
    assert not (tmp_path / "p.json").exists()
    err = capsys.readouterr().err
    assert err.startswith("poseeditor: ") and err.count("\n") == 1


def test_pose_file_is_our_json(tmp_path):
    out = tmp_path / "p.json"
    assert main(["detect", str(SAMPLE), "-o", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    assert len(data["joints"]) == 14 and all(len(j) == 3 for j in data["joints"])
    assert data["width"] == 1600 and data["height"] == 900
