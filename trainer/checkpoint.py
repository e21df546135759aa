"""Training checkpoints: one safetensors file per save holding everything needed to continue exactly.

Tensors: `generator.*`, `discriminator.*` (when it exists), `optim_g.state.<i>.<key>`, `optim_d.state.<i>.<key>`,
`rng.torch`, `rng.numpy`. Metadata (JSON in the safetensors header): step, samples seen, elapsed seconds, the
resolved training config, the generator config, the optimizers' param groups. Written atomically (temp file +
rename: a kill -9 mid-write leaves the previous checkpoint intact), the last `keep` are kept. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from poseeditor.image_io import atomic_write_bytes
from trainer.config import TrainerError

CHECKPOINT_FORMAT = "poseeditor-train-checkpoint"
CHECKPOINT_VERSION = 1
_NAME = re.compile(r"^ckpt_(\d{9})\.safetensors$")


class CheckpointError(TrainerError):
    """A checkpoint is missing, unreadable or does not match the run."""


@dataclass
class Checkpoint:
    step: int
    meta: dict[str, Any]
    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> optimizer.state_dict()
    rng: dict[str, torch.Tensor] = field(default_factory=dict)


def checkpoint_path(run_dir: str | os.PathLike[str], step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"ckpt_{step:09d}.safetensors"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def _flatten_optimizer(prefix: str, state_dict: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Put the optimizer's per-parameter tensors into `tensors`; return the JSON-able rest."""
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, value in tensors.items():
        if name.startswith(head):
            index, key = name[len(head) :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    for index, values in rest.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}


def rng_state() -> dict[str, torch.Tensor]:
    """The process-global random states (torch CPU, numpy's legacy global). Data sampling itself is seeded per
    item, so these only matter for anything drawn outside the datasets."""
    np_state = np.random.get_state()
    return {
        "rng.torch": torch.get_rng_state().clone(),
        "rng.numpy": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "rng.numpy_pos": torch.tensor([int(np_state[2]), int(np_state[3])], dtype=torch.int64),
        "rng.numpy_gauss": torch.tensor([float(np_state[4])], dtype=torch.float64),
    }


def restore_rng(rng: dict[str, torch.Tensor]) -> None:
    if "rng.torch" in rng:
        torch.set_rng_state(rng["rng.torch"].to(torch.uint8))
    if "rng.numpy" in rng:
        pos, has_gauss = (int(v) for v in rng["rng.numpy_pos"])
        gauss = float(rng["rng.numpy_gauss"][0])
        np.random.set_state(("MT19937", rng["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    step: int,
    meta: dict[str, Any],
    generator: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    discriminator: torch.nn.Module | None = None,
    keep: int = 3,
) -> Path:
    """Write checkpoint `step` atomically and delete all but the newest `keep`."""
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in (("generator", generator), ("discriminator", discriminator)):
        if module is None:
            continue
        for name, value in module.state_dict().items():
            tensors[f"{prefix}.{name}"] = value.detach().cpu().contiguous().clone()
    optim_meta = {name: _flatten_optimizer(f"optim_{name}", opt.state_dict(), tensors) for name, opt in optimizers.items()}
    tensors.update(rng_state())
    header = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "step": step,
        "optimizers": optim_meta,
        **meta,
    }
    data = safetensors_bytes(tensors, metadata={"meta": json.dumps(header)})
    path = checkpoint_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def read_checkpoint_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("meta")
    except Exception as exc:  # noqa: BLE001 - safetensors raises assorted types for truncated/corrupt files
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    if raw is None:
        raise CheckpointError(f"{path}: not a poseeditor training checkpoint (no metadata)")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (its metadata: {exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
        raise CheckpointError(f"{path}: not a poseeditor training checkpoint (no step in its metadata)")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a poseeditor training checkpoint")
    if meta.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta.get('format_version')} is not supported")
    return meta


def load_latest_intact(run_dir: str | os.PathLike[str], set_aside: bool = True) -> tuple[Checkpoint, Path]:
    """The newest checkpoint of a run that loads, for --resume. Newer unreadable ones (truncated by a full disk,
    a partial copy...) are reported on stderr and, with `set_aside`, renamed to `<name>.unreadable`: kept for a
    look, but no longer "the latest" that the next resume, `posetrain export` or the keep-the-last-K pruning see."""
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"{run_dir}: nothing to resume (no checkpoints/ckpt_*.safetensors)")
    failures: list[tuple[Path, CheckpointError]] = []
    for path in reversed(found):
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as exc:
            failures.append((path, exc))
            continue
        for bad, exc in failures:
            note = ""
            if set_aside:
                try:
                    bad.replace(bad.with_name(bad.name + ".unreadable"))
                    note = f"; kept as {bad.name}.unreadable"
                except OSError:
                    pass
            print(f"posetrain: warning: {exc}{note}", file=sys.stderr)
        if failures:
            print(f"posetrain: resuming from the previous intact checkpoint {path.name} (step {ckpt.step}) instead",
                  file=sys.stderr, flush=True)
        return ckpt, path
    raise CheckpointError(f"{run_dir}: none of the {len(found)} checkpoint(s) is readable; newest: {failures[0][1]}")


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    meta = read_checkpoint_meta(path)
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - as above
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None

    def strip(prefix: str) -> dict[str, torch.Tensor]:
        head = prefix + "."
        return {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}

    optimizers = {
        name: _unflatten_optimizer(f"optim_{name}", tensors, rest) for name, rest in meta.get("optimizers", {}).items()
    }
    rng = {k: v for k, v in tensors.items() if k.startswith("rng.")}
    return Checkpoint(
        step=int(meta["step"]),
        meta=meta,
        generator=strip("generator"),
        discriminator=strip("discriminator"),
        optimizers=optimizers,
        rng=rng,
    )
