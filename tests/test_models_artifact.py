"""Generator artifacts: safetensors + model.json round trip, torch-free reading, and every broken folder a
clear ModelError."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.artifact import load_generator, load_model, save_generator
from models.artifact_meta import read_model_json
from models.baselines import SingleUNet
from models.config import get_config
from models.generator import PoseWarpGenerator
from poseeditor.errors import ExportError, ModelError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[PoseWarpGenerator, Path]:
    torch.manual_seed(0)
    generator = PoseWarpGenerator(get_config("tiny"))
    folder = save_generator(generator, tmp_path / "model", {"steps": 12, "data": ["synthetic"]})
    return generator, folder


def test_round_trip_is_exact(saved: tuple[PoseWarpGenerator, Path]) -> None:
    generator, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["generator.safetensors", "model.json"]
    loaded = load_generator(folder)
    assert loaded.config == generator.config and not loaded.training
    for (name, a), (_, b) in zip(generator.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    meta = read_model_json(folder)
    assert meta["format"] == "poseeditor-generator" and meta["format_version"] == 1
    assert meta["architecture"] == "posewarp" and meta["training"] == {"steps": 12, "data": ["synthetic"]}


def test_no_pickles_anywhere(saved: tuple[PoseWarpGenerator, Path]) -> None:
    _, folder = saved
    for path in folder.iterdir():
        assert b"\x80\x04\x95" not in path.read_bytes()[:64] and not path.name.endswith((".pt", ".pth", ".pkl"))


def test_model_json_reads_without_torch(saved: tuple[PoseWarpGenerator, Path]) -> None:
    _, folder = saved
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now fails
        "from models.artifact_meta import read_model_json, generator_config\n"
        f"meta = read_model_json({str(folder)!r})\n"
        "print(generator_config(meta).image_size)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "64"


def test_single_unet_round_trip(tmp_path: Path) -> None:
    model = SingleUNet(get_config("tiny"))
    folder = save_generator(model, tmp_path / "unet", {})
    assert read_model_json(folder)["architecture"] == "unet"
    loaded = load_model(folder)
    assert isinstance(loaded, SingleUNet)
    with pytest.raises(ModelError, match="baseline, not the four-module generator"):
        load_generator(folder)


def test_training_info_must_be_plain_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain JSON"):
        save_generator(PoseWarpGenerator(get_config("tiny")), tmp_path / "m", {"when": object()})
    assert not (tmp_path / "m").exists()  # nothing was written


def test_save_into_a_missing_parent_is_an_export_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        save_generator(PoseWarpGenerator(get_config("tiny")), tmp_path / "a" / "b", {})


def _edit_json(folder: Path, **changes: object) -> None:
    meta = json.loads((folder / "model.json").read_text())
    meta.update(changes)
    (folder / "model.json").write_text(json.dumps(meta))


def _break(kind: str, folder: Path) -> Path:
    if kind == "missing folder":
        return folder / "absent"
    if kind == "a file, not a folder":
        return folder / "model.json"
    if kind == "no model.json":
        (folder / "model.json").unlink()
    elif kind == "not JSON":
        (folder / "model.json").write_text("{ nope")
    elif kind == "other format":
        _edit_json(folder, format="something-else")
    elif kind == "newer version":
        _edit_json(folder, format_version=99)
    elif kind == "unknown architecture":
        _edit_json(folder, architecture="diffusion")
    elif kind == "bad config":
        meta = json.loads((folder / "model.json").read_text())
        meta["config"]["depth"] = 3
        (folder / "model.json").write_text(json.dumps(meta))
    elif kind == "no weights":
        (folder / "generator.safetensors").unlink()
    elif kind == "truncated weights":
        data = (folder / "generator.safetensors").read_bytes()
        (folder / "generator.safetensors").write_bytes(data[: len(data) // 2])
    elif kind == "garbage weights":
        (folder / "generator.safetensors").write_bytes(b"\x00" * 100)
    elif kind == "wrong shapes":  # model.json says wider than the weights are
        meta = json.loads((folder / "model.json").read_text())
        meta["config"]["foreground"]["widths"] = [4, 8, 16]
        (folder / "model.json").write_text(json.dumps(meta))
    elif kind == "other architecture's weights":
        save_generator(PoseWarpGenerator(get_config("tiny")), folder, {})
        other = folder.parent / "other"
        save_generator(SingleUNet(get_config("tiny")), other, {})
        (folder / "generator.safetensors").write_bytes((other / "generator.safetensors").read_bytes())
    elif kind == "NaN weights":
        from safetensors.torch import load_file, save_file

        state = load_file(str(folder / "generator.safetensors"))
        state["foreground_head.bias"][0] = float("nan")
        save_file(state, str(folder / "generator.safetensors"))
    return folder


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing folder", "no such model folder"),
        ("a file, not a folder", "not a file"),
        ("no model.json", "no model.json"),
        ("not JSON", "unreadable"),
        ("other format", "not a poseeditor generator"),
        ("newer version", "newer than this program"),
        ("unknown architecture", "unknown architecture"),
        ("bad config", "invalid generator config.*depth"),
        ("no weights", "no generator.safetensors"),
        ("truncated weights", "truncated or corrupt"),
        ("garbage weights", "truncated or corrupt"),
        ("wrong shapes", "needs"),
        ("other architecture's weights", "do not match"),
        ("NaN weights", "NaN"),
    ],
)
def test_broken_folders_are_model_errors(saved: tuple[PoseWarpGenerator, Path], kind: str, message: str) -> None:
    _, folder = saved
    broken = _break(kind, folder)
    with pytest.raises(ModelError, match=message):
        load_generator(broken)
