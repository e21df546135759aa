"""kill -9 in the middle of `posetrain train`, then `--resume`: the run finishes with the weights of a run that was
never interrupted (checkpoints are atomic and hold everything the loop needs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def write_config(path: Path, toy: Path, out: Path, steps: int) -> None:
    path.write_text(f"""
name = "kill"
out_dir = "{out}"
[model]
config = "tiny"
image_size = 32
discriminator_width = 4
discriminator_layers = 2
[data]
train = ["{toy}"]
holes = ["{toy}"]
workers = 0
held_out_fraction = 0.25
[train]
batch_size = 2
steps = {steps}
hole_batch_size = 1
threads = 1
adversarial_start = 4
[checkpoint]
every_steps = 1
keep = 2
[log]
every_steps = 1
progress = false
sample_count = 1
""")


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path):
    import torch

    from trainer.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
    from trainer.data.toy import write_toy_dataset

    toy = tmp_path / "toy"
    write_toy_dataset(toy, videos=4, frames=4, width=48, height=64)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "trainer.cli", "train", "--config"]

    # The killed run is given far more steps than it can finish before the kill, so it is killed mid-run however
    # fast the machine; the resumed run and the uninterrupted one then both stop 3 steps after the kill.
    write_config(tmp_path / "b.toml", toy, tmp_path / "b", steps=100_000)
    proc = subprocess.Popen(cmd + [str(tmp_path / "b.toml")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        found = latest_checkpoint(tmp_path / "b")
        if found is not None and load_checkpoint(found).step >= 5:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the trainer stopped before it was killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its data workers, mid-run
    proc.wait(timeout=30)
    killed_at = load_checkpoint(latest_checkpoint(tmp_path / "b")).step
    assert killed_at >= 5
    end = killed_at + 3
    subprocess.run(cmd + [str(tmp_path / "b.toml"), "--resume", "--set", f"train.steps={end}"], env=env, check=True,
                   capture_output=True, timeout=300)
    write_config(tmp_path / "a.toml", toy, tmp_path / "a", steps=end)
    subprocess.run(cmd + [str(tmp_path / "a.toml")], env=env, check=True, capture_output=True, timeout=300)
    a = load_checkpoint(latest_checkpoint(tmp_path / "a"))
    b = load_checkpoint(latest_checkpoint(tmp_path / "b"))
    assert a.step == b.step == end
    for name in a.generator:
        assert torch.allclose(a.generator[name], b.generator[name], atol=1e-6, rtol=0), name
    for name in a.discriminator:
        assert torch.allclose(a.discriminator[name], b.discriminator[name], atol=1e-6, rtol=0), name
    assert len(list_checkpoints(tmp_path / "b")) == 2
    # rows logged after the last checkpoint before the kill are logged again by the resumed run: each step once
    import csv

    with open(tmp_path / "b" / "log.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, end + 1))
