"""Shared fixtures: small synthetic photos and poses. Tests make their own data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
TENNIS = REPO.parent / "shared" / "data" / "posewarp-tennis"

@pytest.fixture(autouse=True)
def _editor_never_touches_the_users_files_or_blocks(tmp_path, monkeypatch):
    """Every test: autosaves and QSettings (recent files, last folders) in the test's own folder, and a close
    with unsaved edits answered "Discard" instead of a modal question nobody can click in a headless run.
    Tests that want other answers patch QMessageBox.question themselves."""
    monkeypatch.setenv("POSEEDITOR_RECOVERY_DIR", str(tmp_path / "recovery"))
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is not None:  # only when a Qt test module is part of the run
        core = sys.modules["PySide6.QtCore"]
        core.QSettings.setDefaultFormat(core.QSettings.Format.IniFormat)
        core.QSettings.setPath(core.QSettings.Format.IniFormat, core.QSettings.Scope.UserScope,
                               str(tmp_path / "settings"))
        monkeypatch.setattr(widgets.QMessageBox, "question",
                            lambda *a, **k: widgets.QMessageBox.StandardButton.Discard)
    yield


# A standing person, 0-based pixels in a 200×300 photo (contract order).
STANDING_XY = np.array(
    [
        [100, 40],  # head
        [100, 75],  # neck
        [80, 80],  # r_shoulder (image left: the person faces the camera)
        [72, 115],
        [68, 150],
        [120, 80],  # l_shoulder
        [128, 115],
        [132, 150],
        [88, 160],  # r_hip
        [86, 210],
        [85, 260],
        [112, 160],  # l_hip
        [114, 210],
        [115, 260],
    ],
    dtype=np.float64,
)


@pytest.fixture
def standing_pose():
    from poseeditor.skeleton import Pose

    return Pose(STANDING_XY.copy(), np.ones(14, bool), 200, 300)


@pytest.fixture
def arm_up_pose(standing_pose):
    # right arm raised above the shoulder
    return standing_pose.with_joint(3, 70, 55).with_joint(4, 66, 25)


@pytest.fixture
def person_photo(standing_pose) -> np.ndarray:
    """A 300×200 photo: textured background and a crude coloured figure drawn along the skeleton."""
    import cv2

    from poseeditor.skeleton import BONES

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:200]
    photo = np.dstack([(xx * 0.6 + 40) % 255, (yy * 0.5 + 60) % 255, np.full_like(xx, 150)]).astype(np.uint8)
    photo = cv2.add(photo, rng.integers(0, 20, photo.shape, dtype=np.uint8))
    for a, b in BONES:
        pa = tuple(int(v) for v in STANDING_XY[a])
        pb = tuple(int(v) for v in STANDING_XY[b])
        cv2.line(photo, pa, pb, (200, 40 + 10 * a, 60), 9)
    cv2.circle(photo, (100, 52), 13, (230, 190, 160), -1)
    return photo


def build_random_model(folder: Path, config_name: str = "tiny", size: int = 64, seed: int = 0) -> Path:
    """A random-weight generator artifact (model.json, safetensors, both ONNX stages) for tests."""
    torch = pytest.importorskip("torch")
    artifact = pytest.importorskip("models.artifact")
    from models.config import get_config
    from models.generator import PoseWarpGenerator
    from models.onnx_export import export_onnx

    torch.manual_seed(seed)
    model = PoseWarpGenerator(get_config(config_name, size)).eval()
    # random init leaves some outputs near-constant; perturb so every stage's output depends on its inputs
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    artifact.save_generator(model, folder, {"note": "random weights, tests only"})
    export_onnx(model, folder)
    return folder


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory) -> Path:
    return build_random_model(tmp_path_factory.mktemp("random-model"))
