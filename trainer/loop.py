"""The training loop: `train(config)` — Adam, reconstruction losses first, then adversarial fine-tuning (the
paper's two-phase schedule), with the background module also trained on real photos with person-shaped holes.

Reads like the paper: per step, (1) run the generator on a batch of frame pairs (and the background module on a
batch of holed real photos), (2) reconstruction losses (+ GAN and feature matching once `adversarial_start` is
reached), Adam step, (3) in the adversarial phase, a discriminator step on real target vs generated images.

Deterministic: model init from `seed`; pair i of the data stream is a pure function of (seed, i) whatever the
worker count; checkpoints hold weights, both optimizers, the step and the RNG states, so `resume=True`
continues exactly where the checkpoint left off (the test checks weights equal an uninterrupted run).
"""

from __future__ import annotations

import csv
import math
import os
import platform
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from models.artifact_meta import WEIGHTS_FILE
from poseeditor.image_io import to_unit

from trainer import losses as L
from trainer.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from trainer.config import ModelSection, TrainConfig, TrainerError, config_to_toml
from trainer.distributed import DistInfo, barrier, init_distributed, mean_over_ranks, shutdown

LOG_COLUMNS = (
    "step", "elapsed_s", "samples_per_s", "data_wait", "phase", "total", "l1", "ssim", "ms_ssim", "vgg", "part_ce", "mask_bce",
    "background", "gan", "feature_matching", "d_loss",
)  # fmt: skip
PAIR_KEYS = ("image_src", "image_tgt", "heatmaps_src", "heatmaps_tgt", "prior_src", "transforms")


# ---------------------------------------------------------------------------------------------- models
def build_generator(config: TrainConfig) -> nn.Module:
    from models.config import get_config

    gen_config = get_config(config.model.config, config.model.image_size)
    if config.model.architecture == "posewarp":
        gen_config = replace(gen_config, foreground_mode=config.model.foreground)
        from models.generator import PoseWarpGenerator

        return PoseWarpGenerator(gen_config)
    from models.baselines import SingleUNet

    return SingleUNet(gen_config)


def init_generator_from(generator: nn.Module, path: Path) -> None:
    """Copy another trained generator's weights into `generator` (a new run's warm start, `model.init_from`):
    a checkpoint file, a run folder (its newest checkpoint) or an exported model folder.

    Every parameter must exist in both with the same number of dimensions. Where a dimension grew, the overlapping
    part is copied and the rest keeps its initialisation; a grown "select" head restarts its selection
    (`reset_selection`). The image size may differ (the networks are fully convolutional)."""
    source = _generator_state(path)
    target = generator.state_dict()
    if set(source) != set(target):
        missing, extra = sorted(set(target) - set(source)), sorted(set(source) - set(target))
        raise TrainerError(
            f"model.init_from: {path} is another architecture (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    head_grew = False
    with torch.no_grad():
        for name, value in source.items():
            dest = target[name]
            if value.dim() != dest.dim() or any(a > b for a, b in zip(value.shape, dest.shape, strict=True)):
                raise TrainerError(f"model.init_from: {name} is {tuple(value.shape)} there, {tuple(dest.shape)} here")
            dest[tuple(slice(0, k) for k in value.shape)] = value.to(dest.dtype)
            head_grew |= name.startswith("foreground_head") and value.shape[0] < dest.shape[0]
    if head_grew and getattr(generator, "select", False):
        generator.reset_selection()  # type: ignore[operator]


def _generator_state(path: Path) -> dict[str, torch.Tensor]:
    """The generator weights stored at `path`, without building a model (their config may be older code's)."""
    from safetensors.torch import load_file

    from trainer.checkpoint import latest_checkpoint, load_checkpoint

    if not path.exists():
        raise TrainerError(f"model.init_from: {path} does not exist")
    if path.is_dir() and (path / WEIGHTS_FILE).is_file():
        return load_file(str(path / WEIGHTS_FILE))
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise TrainerError(f"model.init_from: {path} is neither a model folder nor a run with checkpoints")
        path = found
    return dict(load_checkpoint(path).generator)


def build_discriminator(config: TrainConfig) -> nn.Module:
    from models.discriminator import DiscriminatorConfig, PatchDiscriminator

    width = config.model.discriminator_width
    return PatchDiscriminator(
        DiscriminatorConfig(base_width=width, layers=config.model.discriminator_layers, max_width=max(width, 8 * width))
    )


def run_generator(
    generator: nn.Module,
    image_src: torch.Tensor,
    heatmaps_src: torch.Tensor,
    heatmaps_tgt: torch.Tensor,
    prior_src: torch.Tensor,
    transforms: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The generator's outputs as a dict, for the four-module generator and the single-U-Net baseline alike."""
    from models.generator import PoseWarpGenerator

    if isinstance(generator, PoseWarpGenerator):
        return dict(generator(image_src, heatmaps_src, heatmaps_tgt, prior_src, transforms))
    return {"output": generator(image_src, heatmaps_src, heatmaps_tgt)}


def discriminate(discriminator: nn.Module, image: torch.Tensor, heatmaps: torch.Tensor) -> tuple[list, list]:
    """(logits per scale, features) from the discriminator, whatever container it returns them in."""
    result = discriminator(image, heatmaps)
    if isinstance(result, dict):
        logits, features = result["logits"], result.get("features", [])
    else:
        logits, features = result
    logits = list(logits) if isinstance(logits, (list, tuple)) else [logits]
    return logits, list(features)


class TrainingForward(nn.Module):
    """What one training step runs through the generator, as ONE module (so DistributedDataParallel sees every
    parameter used exactly once per step): the pair forward and, when given, the background module on holes."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self,
        image_src: torch.Tensor,
        heatmaps_src: torch.Tensor,
        heatmaps_tgt: torch.Tensor,
        prior_src: torch.Tensor,
        transforms: torch.Tensor,
        hole_input: torch.Tensor | None = None,
        hole_background_mask: torch.Tensor | None = None,
        hole_heatmaps: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        out = run_generator(self.generator, image_src, heatmaps_src, heatmaps_tgt, prior_src, transforms)
        if hole_input is not None:
            # The background module sees image·(background mask) and the mask; see `soft_background_mask`.
            out["hole_background"] = self.generator.inpaint_background(hole_input, hole_background_mask,
                                                                       hole_heatmaps)
        return out


# ---------------------------------------------------------------------------------------------- data
class MixedPairs(Dataset):
    """Several pair datasets as one infinite-index stream: item i comes from dataset k drawn with `weights`
    from (seed, i), and is that dataset's own item i (training pair datasets accept any index)."""

    def __init__(self, datasets: list[Dataset], weights: list[float], seed: int) -> None:
        self.datasets = datasets
        w = np.asarray(weights, dtype=np.float64)
        self.cumulative = np.cumsum(w / w.sum())
        self.seed = seed
        self.length = sum(len(d) for d in datasets)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        u = np.random.default_rng([self.seed, 0xB1E, int(index)]).random()
        k = min(int(np.searchsorted(self.cumulative, u, side="right")), len(self.datasets) - 1)
        item = self.datasets[k][index]
        item["dataset"] = torch.tensor(k, dtype=torch.int64)
        return item


@dataclass
class TrainingData:
    pairs: Dataset
    holes: Dataset | None
    sample_batch: dict[str, torch.Tensor]
    description: dict[str, Any]


def _stable_held_out(group: str, fraction: float, seed: int) -> bool:
    """A video group's held-out fate from a hash of its name: unaffected by other videos being added later."""
    import hashlib

    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def split_for_run(videos: list, root: str, config: TrainConfig, previous: dict[str, Any] | None) -> tuple[list, list]:
    """(training, held-out) videos of one dataset. A fresh run splits by video group (`split_by_video`). A resumed
    run keeps its split whatever was added to the dataset since: every video held out before stays held out, every
    video trained on stays in training, and videos new to the run are held out by a stable hash of their group.
    (Found the hard way: a dataset grew from 600 to 1800 videos mid-run, a fresh split reshuffled which videos were
    held out, and the 'held-out' set then held videos the run had trained on.)"""
    from trainer.data.pairs import split_by_video

    d = config.data
    entry = None
    for ds in (previous or {}).get("datasets", []):
        if ds.get("root") == str(root):
            entry = ds
    if entry is None:
        return split_by_video(videos, d.held_out_fraction, d.split_seed)
    held_before = set(entry.get("held_out_videos", []))
    trained_before = entry.get("train_video_names")
    held = []
    for v in videos:
        if v.name in held_before or (trained_before is not None and v.name not in trained_before
              and _stable_held_out(v.group, d.held_out_fraction, d.split_seed)):
            held.append(v)
        # else: trained before (or, for checkpoints that did not list their training videos, maybe trained)
    held_names = {v.name for v in held}
    return [v for v in videos if v.name not in held_names], held


def prepare_data(config: TrainConfig, previous: dict[str, Any] | None = None) -> TrainingData:
    """Read every dataset, split whole videos off for evaluation, build the pair stream and the hole dataset.
    `previous`: the data description of the checkpoint being resumed (keeps its split)."""
    from trainer.data import read_dataset
    from trainer.data.pairs import PosePairDataset, fixed_pairs

    d, size = config.data, config.model.image_size
    if not d.train:
        raise TrainerError("data.train is empty: list at least one dataset folder (docs/dataset_format.md)")
    datasets, weights, held_out_all, described = [], [], [], []
    train_videos_all = []
    for i, root in enumerate(d.train):
        videos = read_dataset(Path(root).expanduser())
        train_videos, held_out = split_for_run(videos, root, config, previous)
        if not train_videos:
            raise TrainerError(f"{root}: no training videos left after holding out {d.held_out_fraction:.0%}")
        datasets.append(
            PosePairDataset(train_videos, size=size, augment=d.augment, pairs_per_video=d.pairs_per_video,
                            seed=config.seed * 1000 + i)
        )
        weights.append(d.weights[i] if d.weights else float(len(train_videos)))
        held_out_all.extend(held_out)
        train_videos_all.extend(train_videos)
        described.append({"root": str(root), "videos": len(videos), "train_videos": len(train_videos),
                          "held_out_videos": [v.name for v in held_out],
                          "train_video_names": [v.name for v in train_videos],
                          "train_frames": int(sum(len(v) for v in train_videos))})
    pairs = MixedPairs(datasets, weights, config.seed)

    holes = None
    hole_images: list[Path] = []
    if config.train.hole_batch_size > 0 and config.model.architecture == "posewarp" and d.holes:
        from trainer.data.holes import PersonHoleDataset, frames_of, images_in

        poses = []
        for root in d.holes:
            root_path = Path(root).expanduser()
            if (root_path / "info").is_dir():
                # A dataset: only its training videos' frames (held-out backgrounds stay unseen).
                train_videos, _ = split_for_run(read_dataset(root_path), root, config, previous)
                hole_images += frames_of(train_videos, stride=2)
                poses += [v.pose(k) for v in train_videos for k in range(0, len(v), 5)]
            else:
                hole_images += images_in(root_path)
        holes = PersonHoleDataset(hole_images, size=size, seed=config.seed, length=1_000_000, poses=poses or None)

    # A fixed batch of held-out pairs (training pairs when nothing is held out) for the sample sheets.
    count = max(1, config.log.sample_count)
    sample_videos = held_out_all or train_videos_all
    sample_set = PosePairDataset(sample_videos, size=size, augment=False, seed=config.seed,
                                 pairs=fixed_pairs(sample_videos, count, config.seed))
    sample_batch = torch.utils.data.default_collate([sample_set[i] for i in range(count)])
    description = {
        "datasets": described,
        "held_out_fraction": d.held_out_fraction,
        "split_seed": d.split_seed,
        "hole_images": len(hole_images),
        "hole_sources": list(d.holes),
    }
    return TrainingData(pairs=pairs, holes=holes, sample_batch=sample_batch, description=description)


def batches(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    while True:  # the sampler is infinite; this only guards a finite one
        yield from loader


def soft_background_mask(hole_mask: torch.Tensor, seed: int, step: int) -> torch.Tensor:
    """The background mask the background module gets for a holed photo: 1 − (blurred hole × depth), depth in
    [0.5, 1] per sample, so part of the foreign content pasted into the hole shows through.

    Why: at inference the segmentation's background channel is soft and never exactly 0 on the person, so the
    person shows faintly through the module's input. Trained only on clean, fully zeroed holes, the module copied
    that faint person into the background (seen on the first run's sheets: a ghost at the person's old place).
    Deterministic by (seed, step), so resumed runs repeat it exactly.
    """
    n, _, size, _ = hole_mask.shape
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    depth = (0.5 + 0.5 * torch.rand(n, 1, 1, 1, generator=g)).to(hole_mask.device, hole_mask.dtype)
    k = max(3, (size // 32) | 1)
    soft = F.avg_pool2d(hole_mask, k, stride=1, padding=k // 2, count_include_pad=False)
    return 1.0 - soft.clamp(0.0, 1.0) * depth


# ---------------------------------------------------------------------------------------------- losses
def generator_losses(
    out: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    holes: dict[str, torch.Tensor] | None,
    config: TrainConfig,
    vgg: nn.Module | None,
) -> dict[str, torch.Tensor]:
    """Weighted reconstruction/auxiliary terms (not yet the adversarial ones), each a scalar tensor."""
    w = config.loss
    fake, real = out["output"], batch["image_tgt"]
    terms: dict[str, torch.Tensor] = {}
    fake_unit, real_unit = to_unit(fake), to_unit(real)
    if w.l1 > 0:
        terms["l1"] = w.l1 * F.l1_loss(fake_unit, real_unit)
    if w.ssim > 0:
        terms["ssim"] = w.ssim * (1.0 - L.ssim(fake_unit, real_unit))
    if w.ms_ssim > 0:
        terms["ms_ssim"] = w.ms_ssim * (1.0 - L.ms_ssim(fake_unit, real_unit))
    if w.vgg > 0 and vgg is not None:
        terms["vgg"] = w.vgg * L.vgg_loss(vgg, fake, real)
    if w.part_ce > 0 and "part_masks" in out:
        terms["part_ce"] = w.part_ce * L.part_cross_entropy(out["part_masks"], batch["parts_src"])
    if w.mask_bce > 0 and "mask" in out:
        terms["mask_bce"] = w.mask_bce * L.mask_bce(out["mask"], batch["mask_tgt"], batch["has_mask"])
    if holes is not None and "hole_background" in out and w.background > 0:
        # Mostly the hole (what must be invented), a little outside (what must be kept).
        weight = holes["hole_mask"] + 0.1
        err = (to_unit(out["hole_background"]) - to_unit(holes["image"])).abs() * weight
        terms["background"] = w.background * err.sum() / (weight.sum() * 3.0)
    return terms


# ---------------------------------------------------------------------------------------------- the loop
@dataclass
class TrainResult:
    generator: nn.Module
    discriminator: nn.Module | None
    step: int
    run_dir: Path
    last_losses: dict[str, float] = field(default_factory=dict)
    samples_per_second: float = 0.0


class _StopFlag:
    """SIGTERM/SIGINT ask the loop to checkpoint and stop at the end of the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. under a test runner thread): no signal handling
                pass

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.requested:  # asked twice (e.g. the loop is stuck waiting for data): stop now, no checkpoint
            self.restore()
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set once per process, before any parallel work
        pass


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _check_resume_compatible(meta: dict[str, Any], config: TrainConfig, path: Path) -> None:
    # Keys added to [model] since the checkpoint was written count as their defaults (old runs stay resumable).
    old = {**asdict(ModelSection()), **meta.get("config", {}).get("model", {})}
    new = config.to_dict()["model"]
    if old != new:
        raise CheckpointError(
            f"{path}: the checkpoint's model {old} differs from the config's {new}; start a new run (another name)"
        )


def train(
    config: TrainConfig,
    resume: bool = False,
    data: TrainingData | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train until `config.train.steps` (or `stop_after` more steps, for tests and time-boxed runs)."""
    dist_info = init_distributed()
    try:
        return _train(config, resume, data, stop_after, dist_info)
    finally:
        shutdown(dist_info)


def _train(
    config: TrainConfig, resume: bool, data: TrainingData | None, stop_after: int | None, dist_info: DistInfo
) -> TrainResult:
    _set_threads(config.train.threads)
    device = dist_info.device
    run_dir = config.run_dir
    tc = config.train

    # Same seed on every rank: identical initial weights (DDP also broadcasts rank 0's at wrap time).
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    generator = build_generator(config).to(device)
    discriminator = build_discriminator(config).to(device) if config.adversarial else None
    vgg = L.load_vgg19(config.loss.vgg_weights).to(device) if config.loss.vgg > 0 else None
    opt_g = torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=tuple(tc.betas))
    optimizers: dict[str, torch.optim.Optimizer] = {"g": opt_g}
    opt_d = None
    if discriminator is not None:
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=tc.lr_discriminator, betas=tuple(tc.betas))
        optimizers["d"] = opt_d

    step, elapsed_before = 0, 0.0
    previous_data: dict[str, Any] | None = None
    existing = latest_checkpoint(run_dir)
    if resume:
        if existing is None:
            raise CheckpointError(f"{run_dir}: nothing to resume (no checkpoints/ckpt_*.safetensors)")
        ckpt = load_checkpoint(existing)
        _check_resume_compatible(ckpt.meta, config, existing)
        generator.load_state_dict(ckpt.generator)
        if discriminator is not None and ckpt.discriminator:
            discriminator.load_state_dict(ckpt.discriminator)
        for name, opt in optimizers.items():
            if name in ckpt.optimizers:
                opt.load_state_dict(ckpt.optimizers[name])
        restore_rng(ckpt.rng)
        step = ckpt.step
        elapsed_before = float(ckpt.meta.get("elapsed_seconds", 0.0))
        previous_data = ckpt.meta.get("data")
    elif existing is None and config.model.init_from:
        init_generator_from(generator, Path(config.model.init_from).expanduser())
    if not resume and existing is not None:
        raise TrainerError(
            f"{run_dir} already has checkpoints (latest {existing.name}): pass --resume to continue it, "
            "or choose another run name/out_dir"
        )

    data = data or prepare_data(config, previous_data)
    from trainer.data.pairs import InfinitePairSampler, make_loader

    per_rank_batch = tc.batch_size
    pair_sampler = InfinitePairSampler(len(data.pairs), seed=config.seed, rank=dist_info.rank,
                                       world_size=dist_info.world_size, start=step * per_rank_batch)
    pair_iter = batches(make_loader(data.pairs, per_rank_batch, workers=config.data.workers, sampler=pair_sampler))
    hole_iter = None
    if data.holes is not None:
        hole_sampler = InfinitePairSampler(len(data.holes), seed=config.seed + 1, rank=dist_info.rank,
                                           world_size=dist_info.world_size, start=step * tc.hole_batch_size)
        hole_workers = 1 if config.data.workers > 0 else 0
        hole_iter = batches(make_loader(data.holes, tc.hole_batch_size, workers=hole_workers, sampler=hole_sampler))

    forward_module: nn.Module = TrainingForward(generator)
    disc_module = discriminator
    if tc.compile:
        forward_module = torch.compile(forward_module)  # type: ignore[assignment]
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        forward_module = DDP(forward_module, device_ids=ids)
        if discriminator is not None:
            disc_module = DDP(discriminator, device_ids=ids)
    autocast_dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    use_amp = tc.amp and device.type == "cuda"
    # float16 needs loss scaling against gradient underflow; bfloat16 (and everything on CPU) does not.
    scale_loss = use_amp and autocast_dtype == torch.float16
    scaler_g = torch.amp.GradScaler("cuda", enabled=scale_loss)
    scaler_d = torch.amp.GradScaler("cuda", enabled=scale_loss)

    writer = _RunWriter(run_dir, config, data, dist_info) if dist_info.is_main else None
    stop = _StopFlag()
    stop.install()
    target_step = tc.steps if stop_after is None else min(tc.steps, step + stop_after)
    t_start = time.perf_counter()
    last_checkpoint_t = last_sheet_t = t_start
    rate = _Rate()
    progress = None
    if dist_info.is_main and config.log.progress:
        from tqdm import tqdm

        progress = tqdm(total=tc.steps, initial=step, desc=config.name, unit="step", dynamic_ncols=True)
    logs: dict[str, float] = {}

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    def checkpoint() -> None:
        if writer is None:
            return
        meta = {
            "config": config.to_dict(),
            "generator_config": generator.config.to_dict() if hasattr(generator, "config") else {},
            "architecture": config.model.architecture,
            "samples_seen": step * per_rank_batch * dist_info.world_size,
            "elapsed_seconds": elapsed(),
            "world_size": dist_info.world_size,
            "hardware": hardware_description(device, dist_info.world_size, tc.threads),
            "data": data.description,
            "last_losses": logs,
        }
        save_checkpoint(run_dir, step, meta, generator, optimizers, discriminator, keep=config.checkpoint.keep)

    try:
        generator.train()
        while step < target_step and not stop.requested:
            t_step = time.perf_counter()
            batch = _to(next(pair_iter), device)
            holes = _to(next(hole_iter), device) if hole_iter is not None else None
            rate.add_wait(time.perf_counter() - t_step)
            adversarial = discriminator is not None and step >= tc.adversarial_start
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=use_amp):
                out = forward_module(
                    *(batch[k] for k in ("image_src", "heatmaps_src", "heatmaps_tgt", "prior_src", "transforms")),
                    **({"hole_input": holes["input_image"],
                        "hole_background_mask": soft_background_mask(holes["hole_mask"], config.seed, step),
                        "hole_heatmaps": holes["heatmaps"]} if holes is not None else {}),
                )
                terms = generator_losses(out, batch, holes, config, vgg)
                if adversarial:
                    assert discriminator is not None
                    # D is frozen for the generator's step: no gradients (and no DDP hooks) on its weights.
                    discriminator.requires_grad_(False)
                    fake_logits, fake_features = discriminate(discriminator, out["output"], batch["heatmaps_tgt"])
                    if config.loss.gan > 0:
                        terms["gan"] = config.loss.gan * L.generator_gan_loss(fake_logits, config.loss.gan_mode)
                    if config.loss.feature_matching > 0 and fake_features:
                        with torch.no_grad():
                            _, real_features = discriminate(discriminator, batch["image_tgt"], batch["heatmaps_tgt"])
                        terms["feature_matching"] = config.loss.feature_matching * L.feature_matching_loss(
                            fake_features, real_features
                        )
                    discriminator.requires_grad_(True)
                total = sum(terms.values())
            opt_g.zero_grad(set_to_none=True)
            scaler_g.scale(total).backward()
            if tc.grad_clip > 0:
                scaler_g.unscale_(opt_g)
                torch.nn.utils.clip_grad_norm_(generator.parameters(), tc.grad_clip)
            scaler_g.step(opt_g)
            scaler_g.update()

            d_loss = None
            if adversarial:
                assert disc_module is not None and opt_d is not None
                n = batch["image_tgt"].shape[0]
                with torch.autocast(device.type, dtype=autocast_dtype, enabled=use_amp):
                    # Real and fake in one forward: one DDP reduction per step.
                    logits, _ = discriminate(
                        disc_module,
                        torch.cat([batch["image_tgt"], out["output"].detach()]),
                        torch.cat([batch["heatmaps_tgt"], batch["heatmaps_tgt"]]),
                    )
                    d_loss = L.discriminator_loss([z[:n] for z in logits], [z[n:] for z in logits],
                                                  config.loss.gan_mode)
                opt_d.zero_grad(set_to_none=True)
                scaler_d.scale(d_loss).backward()
                scaler_d.step(opt_d)
                scaler_d.update()
            step += 1

            if not math.isfinite(float(total.detach())):
                raise TrainerError(f"the loss became {float(total.detach())} at step {step}; lower train.lr or check the data")
            rate.add(per_rank_batch * dist_info.world_size, time.perf_counter() - t_step)
            if step % config.log.every_steps == 0 or step == target_step:
                logs = {k: float(v.detach()) for k, v in terms.items()}
                logs["total"] = float(total.detach())
                if d_loss is not None:
                    logs["d_loss"] = float(d_loss.detach())
                logs = mean_over_ranks(logs, dist_info)
                if writer is not None:
                    writer.log(step, elapsed(), rate, "adversarial" if adversarial else "reconstruction", logs)
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{float(total.detach()):.4f}", sps=f"{rate.value:.1f}",
                                     phase="adv" if adversarial else "rec", refresh=False)
            now = time.perf_counter()
            if writer is not None and (now - last_sheet_t >= 60 * config.log.sample_every_minutes or step == 1):
                writer.sheet(step, generator, data.sample_batch, device)
                last_sheet_t = now
            every_steps = config.checkpoint.every_steps
            if (now - last_checkpoint_t >= 60 * config.checkpoint.every_minutes) or (
                every_steps and step % every_steps == 0
            ):
                checkpoint()
                last_checkpoint_t = now
        checkpoint()
        if writer is not None:
            writer.sheet(step, generator, data.sample_batch, device)
        barrier(dist_info)
    finally:
        stop.restore()
        if progress is not None:
            progress.close()
        if writer is not None:
            writer.close()
    return TrainResult(generator=generator, discriminator=discriminator, step=step, run_dir=run_dir,
                       last_losses=logs, samples_per_second=rate.value)


class _Rate:
    """Samples per second over the last ~50 steps, and the share of step time spent waiting for data (near 0
    when the loaders keep up)."""

    def __init__(self, window: int = 50) -> None:
        self.window = window
        self.items: list[tuple[int, float]] = []
        self.waits: list[float] = []

    def add(self, samples: int, seconds: float) -> None:
        self.items.append((samples, seconds))
        del self.items[: -self.window]

    def add_wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        del self.waits[: -self.window]

    @property
    def data_wait(self) -> float:
        seconds = sum(s for _, s in self.items)
        return sum(self.waits[-len(self.items):]) / seconds if seconds > 0 else 0.0

    @property
    def value(self) -> float:
        seconds = sum(s for _, s in self.items)
        return sum(n for n, _ in self.items) / seconds if seconds > 0 else 0.0


def hardware_description(device: torch.device, world_size: int, threads: int) -> str:
    if device.type == "cuda":
        return f"{world_size}× {torch.cuda.get_device_name(device)}"
    return f"{world_size} process(es) × {threads} thread(s), {platform.processor() or platform.machine()}, " \
           f"{os.cpu_count()} CPU cores"


class _RunWriter:
    """Rank 0's files in the run folder: config.toml, log.csv, samples/step_*.png, TensorBoard events."""

    def __init__(self, run_dir: Path, config: TrainConfig, data: TrainingData, dist_info: DistInfo) -> None:
        from poseeditor.image_io import atomic_write_text

        self.run_dir = run_dir
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.toml", config_to_toml(config))
        import json

        atomic_write_text(run_dir / "data.json", json.dumps(data.description, indent=2))
        self.sample_count = config.log.sample_count
        log_path = run_dir / "log.csv"
        new = not log_path.exists() or log_path.stat().st_size == 0
        columns = list(LOG_COLUMNS)
        if not new:  # a resumed run keeps the columns its log started with
            with open(log_path, newline="", encoding="utf-8") as f:
                columns = next(csv.reader(f), columns)
        self._file = open(log_path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        self._csv = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        self._tb = None
        if config.log.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                print("posetrain: log.tensorboard is on but tensorboard is not installed; logging CSV only")

    def log(self, step: int, elapsed: float, rate: _Rate, phase: str, values: dict[str, float]) -> None:
        row = {"step": step, "elapsed_s": f"{elapsed:.1f}", "samples_per_s": f"{rate.value:.2f}",
               "data_wait": f"{rate.data_wait:.3f}", "phase": phase}
        row.update({k: f"{v:.6f}" for k, v in values.items()})
        self._csv.writerow(row)
        self._file.flush()
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"loss/{k}", v, step)
            self._tb.add_scalar("samples_per_s", rate.value, step)
            self._tb.add_scalar("data_wait", rate.data_wait, step)

    def sheet(self, step: int, generator: nn.Module, batch: dict[str, torch.Tensor], device: torch.device) -> None:
        if self.sample_count <= 0:
            return
        from trainer.sheets import save_sheet

        was_training = generator.training
        generator.eval()
        with torch.no_grad():
            b = _to(batch, device)
            out = run_generator(generator, *(b[k] for k in PAIR_KEYS if k != "image_tgt"))
        generator.train(was_training)
        save_sheet(self.run_dir / "samples" / f"step_{step:09d}.png", batch, out, self.sample_count)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
