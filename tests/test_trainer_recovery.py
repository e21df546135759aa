"""Trainer recovery (issue 12, item 13): a truncated newest checkpoint, log.csv across resumes, hostile config
values, and nothing ever unpickled."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import torch

from trainer.config import ConfigError, config_from_dict

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    from trainer.data.toy import write_toy_dataset

    root = tmp_path_factory.mktemp("toy")
    write_toy_dataset(root, videos=3, frames=3, width=48, height=64)
    return root


def tiny(toy_root: Path, out: Path) -> dict:
    return {
        "name": "rec",
        "out_dir": str(out),
        "model": {"config": "tiny", "image_size": 32, "discriminator_width": 4, "discriminator_layers": 2},
        "data": {"train": [str(toy_root)], "holes": [str(toy_root)], "workers": 0, "held_out_fraction": 0.0},
        "train": {"batch_size": 2, "steps": 6, "hole_batch_size": 1, "threads": 1, "adversarial_start": 3},
        "log": {"every_steps": 1, "progress": False, "sample_count": 1},
        "checkpoint": {"every_steps": 2, "keep": 3},
    }


def log_steps(run: Path) -> list[int]:
    with open(run / "log.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_truncated_newest_checkpoint_falls_back_to_the_previous_one_and_says_so(toy_root, tmp_path, capfd):
    from trainer.checkpoint import checkpoint_path, list_checkpoints
    from trainer.loop import train

    straight = train(config_from_dict(tiny(toy_root, tmp_path / "a")))
    cfg = config_from_dict(tiny(toy_root, tmp_path / "b"))
    assert train(cfg, stop_after=4).step == 4  # checkpoints at 2 and 4; rows 1..4 in log.csv
    newest = checkpoint_path(tmp_path / "b", 4)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # a disk that filled up, a partial copy
    capfd.readouterr()

    resumed = train(cfg, resume=True)
    err = capfd.readouterr().err
    assert "ckpt_000000004.safetensors" in err and "not a readable checkpoint" in err
    assert "resuming from the previous intact checkpoint ckpt_000000002.safetensors (step 2)" in err
    assert resumed.step == 6
    # set aside (kept for a look), so it is no longer "the latest" for the next resume, export or pruning
    assert (tmp_path / "b" / "checkpoints" / "ckpt_000000004.safetensors.unreadable").is_file()
    assert [p.name for p in list_checkpoints(tmp_path / "b")][-1] == "ckpt_000000006.safetensors"
    # the run continued exactly from step 2: same weights as the uninterrupted run
    for (name, a), (_, b) in zip(straight.generator.state_dict().items(), resumed.generator.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6, rtol=0), name
    # rows 3 and 4 were logged before the fall-back and again after it: each step once
    assert log_steps(tmp_path / "b") == [1, 2, 3, 4, 5, 6]


def test_resume_with_every_checkpoint_unreadable_is_one_clear_error(toy_root, tmp_path):
    from trainer.checkpoint import CheckpointError, list_checkpoints
    from trainer.loop import train

    cfg = config_from_dict(tiny(toy_root, tmp_path / "r"))
    train(cfg, stop_after=2)
    for path in list_checkpoints(tmp_path / "r"):
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="none of the 1 checkpoint"):
        train(cfg, resume=True)
    assert list_checkpoints(tmp_path / "r")  # nothing renamed when there was nothing to fall back to


def test_log_has_no_duplicate_rows_after_resumes(toy_root, tmp_path):
    """A kill after the last checkpoint leaves rows the resumed run writes again (here: the step-3 row, logged
    before the kill, after the checkpoint of step 2). Also a fresh run over a folder whose first run died before
    its first checkpoint starts a new log."""
    from trainer.checkpoint import checkpoint_path
    from trainer.loop import train

    cfg = config_from_dict(tiny(toy_root, tmp_path / "r"))
    train(cfg, stop_after=3)
    checkpoint_path(tmp_path / "r", 3).unlink()  # as if killed after logging step 3, before its checkpoint
    with open(tmp_path / "r" / "log.csv", "a", newline="") as f:
        f.write("4,1.0,2.")  # ... and in the middle of writing the next row
    train(cfg, resume=True, stop_after=1)
    train(cfg, resume=True)
    assert log_steps(tmp_path / "r") == [1, 2, 3, 4, 5, 6]

    fresh = config_from_dict(tiny(toy_root, tmp_path / "f"))
    train(fresh, stop_after=1)
    for p in (tmp_path / "f" / "checkpoints").iterdir():
        p.unlink()  # died before its first checkpoint
    train(fresh, stop_after=2)
    assert log_steps(tmp_path / "f") == [1, 2]


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("train", "threads", 99999999999, "train.threads must be at most 1024"),
        ("train", "lr", float("inf"), "train.lr must be a finite number, got inf"),
        ("train", "lr", float("nan"), "train.lr must be a finite number, got nan"),
        ("train", "lr", -1e-4, "train.lr must be > 0"),
        ("train", "lr_discriminator", float("inf"), "train.lr_discriminator must be a finite number"),
        ("train", "grad_clip", float("nan"), "train.grad_clip must be a finite number"),
        ("loss", "l1", float("nan"), "loss.l1 must be a finite number"),
        ("loss", "gan", float("inf"), "loss.gan must be a finite number"),
        ("data", "workers", 10**9, "data.workers must be at most"),
        ("train", "batch_size", 99999999999, "train.batch_size must be at most"),
        ("data", "weights", [float("nan")], "data.weights must be finite"),
        ("checkpoint", "every_minutes", float("inf"), "checkpoint.every_minutes must be a finite number"),
        ("", "seed", -1, "seed must be >= 0"),
        ("model", "image_size", 100_000, "model.image_size must be at most 2048"),
    ],
)
def test_hostile_config_values_are_config_errors(section, key, value, message):
    cfg: dict = {"data": {"train": ["x"]}}
    if section:
        cfg.setdefault(section, {})[key] = value
    else:
        cfg[key] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(cfg)


@pytest.mark.parametrize("override", ["train.threads=99999999999", "train.lr=inf", "train.lr=nan", "train.lr=-1.0"])
def test_posetrain_train_prints_one_line_for_hostile_overrides(tmp_path, capsys, override):
    from trainer.cli import main

    path = tmp_path / "c.toml"
    path.write_text(f'out_dir = "{tmp_path / "run"}"\n[data]\ntrain = ["{tmp_path}"]\n')
    assert main(["train", "--config", str(path), "--set", override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posetrain: ") and override.split("=")[0] in err[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text", ["a = " + "[" * 100_000 + "]" * 100_000, "a = " + "{b=" * 3000 + "1" + "}" * 3000])
def test_config_nested_thousands_deep_is_one_line(tmp_path, capsys, text):
    from trainer.cli import main

    path = tmp_path / "deep.toml"
    path.write_text(text + "\n")
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a valid TOML file" in err[0]
    (tmp_path / "ok.toml").write_text("[train]\nsteps = 1\n")
    deep_override = "train.steps=" + "[" * 100_000 + "]" * 100_000
    assert main(["train", "--config", str(tmp_path / "ok.toml"), "--set", deep_override]) == 2
    assert "train.steps must be an integer" in capsys.readouterr().err


def test_nothing_is_ever_unpickled():
    """Checkpoints and models are safetensors; the one torch.load (a user's VGG .pth) is weights_only=True."""
    import ast

    offenders = []
    for path in [*REPO.glob("poseeditor/**/*.py"), *REPO.glob("models/**/*.py"), *REPO.glob("trainer/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("pickle", "dill", "joblib", "cloudpickle") for n in names):
                    offenders.append(f"{path}:{node.lineno} imports a pickle module")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
                safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                           for k in node.keywords)
                if not safe:
                    offenders.append(f"{path}:{node.lineno} torch.load without weights_only=True")
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle" and \
                    not (isinstance(node.value, ast.Constant) and node.value.value is False):
                offenders.append(f"{path}:{node.value.lineno} allow_pickle")
    assert not offenders, offenders


def test_partial_checkpoint_writes_of_killed_runs_are_cleaned_at_the_next_start(toy_root, tmp_path):
    """A kill -9 during a checkpoint write leaves `.ckpt_*.safetensors.XXXXXXXX.tmp` (as big as a checkpoint)."""
    import os
    import time

    from trainer.loop import train

    cfg = config_from_dict(tiny(toy_root, tmp_path / "r"))
    train(cfg, stop_after=2)
    folder = tmp_path / "r" / "checkpoints"
    old = folder / ".ckpt_000000004.safetensors.k2j3h4g5.tmp"
    young = folder / ".ckpt_000000004.safetensors.q1w2e3r4.tmp"
    for p, age in ((old, 2 * 3600), (young, 0)):
        p.write_bytes(b"partial")
        os.chmod(p, 0o600)
        os.utime(p, (time.time() - age, time.time() - age))
    train(cfg, resume=True, stop_after=1)
    assert not old.exists() and young.exists()
