"""DDP: two gloo processes under torchrun train a few steps and end with identical weights; only rank 0 writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

WORKER = r'''
import json, os, sys
sys.path.insert(0, {repo!r})
import torch
from safetensors.torch import save_file
from trainer.config import config_from_dict
from trainer.loop import train

cfg = config_from_dict(json.loads({config!r}))
result = train(cfg)
rank = int(os.environ["RANK"])
state = {{k: v.contiguous() for k, v in result.generator.state_dict().items()}}
state.update({{"d." + k: v.contiguous() for k, v in result.discriminator.state_dict().items()}})
save_file(state, os.path.join({out!r}, f"rank{{rank}}.safetensors"))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_hold_identical_weights(tmp_path):
    import torch
    from safetensors.torch import load_file

    from trainer.data.toy import write_toy_dataset

    toy = tmp_path / "toy"
    write_toy_dataset(toy, videos=3, frames=4, width=48, height=64)
    run = tmp_path / "run"
    config = {
        "name": "ddp", "out_dir": str(run),
        "model": {"config": "tiny", "image_size": 32, "discriminator_width": 4, "discriminator_layers": 2},
        "data": {"train": [str(toy)], "holes": [str(toy)], "workers": 0, "held_out_fraction": 0.3},
        "train": {"batch_size": 2, "steps": 4, "hole_batch_size": 1, "threads": 1, "adversarial_start": 2},
        "log": {"every_steps": 1, "progress": False, "sample_count": 1},
    }
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(repo=str(REPO), config=json.dumps(config), out=str(tmp_path)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           f"--master_port={free_port()}", "--master_addr=127.0.0.1", str(script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # the ranks agree on something trained, not merely on the initial weights
    from trainer.checkpoint import list_checkpoints, load_checkpoint
    from trainer.config import config_from_dict
    from trainer.networks import build_generator

    torch.manual_seed(0)
    initial = build_generator(config_from_dict(config)).state_dict()
    assert any(not torch.equal(initial[k], a[k]) for k in initial)

    ckpts = list_checkpoints(run)
    assert len(ckpts) == 1 and load_checkpoint(ckpts[0]).step == 4
    ckpt = load_checkpoint(ckpts[0])
    assert ckpt.meta["world_size"] == 2 and ckpt.meta["samples_seen"] == 16
    lines = (run / "log.csv").read_text().strip().splitlines()
    assert len(lines) == 5  # header + 4 steps, written once (rank 0 only)
