"""The training loop: `train(config)` — Adam, reconstruction losses first, then adversarial fine-tuning (the
paper's two-phase schedule), with the background module also trained on real photos with person-shaped holes.

Reads like the paper: per step, (1) run the generator on a batch of frame pairs (and the background module on a
batch of holed real photos), (2) reconstruction losses (+ GAN and feature matching once `adversarial_start` is
reached), Adam step, (3) in the adversarial phase, a discriminator step on real target vs generated images.

Where the parts live: the networks and the warm start in `trainer.networks`, the data split and mixing in
`trainer.data.split`, the loss assembly in `trainer.objective`, log.csv and the sample sheets in
`trainer.run_writer`, the speed in `trainer.rate_meter`.

Deterministic: model init from `seed`; pair i of the data stream is a pure function of (seed, i) whatever the
worker count; checkpoints hold weights, both optimizers, the step and the RNG states, so `resume=True`
continues exactly where the checkpoint left off (the test checks weights equal an uninterrupted run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainer import losses as L
from trainer.checkpoint import CheckpointError, latest_checkpoint, load_latest_intact, restore_rng, save_checkpoint
from trainer.config import TRAINABLE_MODULES, ModelSection, TrainConfig, TrainerError
from trainer.data.holes import soft_background_mask
from trainer.data.pairs import InfinitePairSampler, make_loader
from trainer.data.split import TrainingData, endless_batches, prepare_data
from trainer.distributed import DistInfo, barrier, init_distributed, mean_over_ranks, set_threads, shutdown
from trainer.networks import TrainingForward, build_discriminator, build_generator, init_generator_from
from trainer.objective import adversarial_terms, build_perceptual_network, discriminator_loss, reconstruction_terms
from trainer.rate_meter import RateMeter
from trainer.run_writer import RunWriter, hardware_description
from trainer.stop_flag import StopFlag

NETWORK_INPUTS = ("image_src", "heatmaps_src", "heatmaps_tgt", "prior_src", "transforms")


@dataclass
class TrainResult:
    generator: nn.Module
    discriminator: nn.Module | None
    step: int
    run_dir: Path
    last_losses: dict[str, float] = field(default_factory=dict)
    samples_per_second: float = 0.0


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
    set_threads(config.train.threads)
    device, run_dir, tc = dist_info.device, config.run_dir, config.train

    # Same seed on every rank: identical initial weights (DDP also broadcasts rank 0's at wrap time).
    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    generator = build_generator(config).to(device)
    discriminator = build_discriminator(config).to(device) if config.adversarial else None
    vgg = L.load_vgg19(config.loss.vgg_weights).to(device) if config.loss.vgg > 0 else None
    vgg16 = build_perceptual_network(config)
    vgg16 = vgg16.to(device) if vgg16 is not None else None
    trained = TRAINABLE_MODULES[tc.modules]
    if trained is not None:  # the other modules are frozen: no gradients, no Adam updates
        for name, parameter in generator.named_parameters():
            parameter.requires_grad_(name.startswith(trained))
    optimizers = {"g": torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=tuple(tc.betas))}
    if discriminator is not None:
        optimizers["d"] = torch.optim.Adam(discriminator.parameters(), lr=tc.lr_discriminator, betas=tuple(tc.betas))
    step, elapsed_before, previous_data, skipped_frames = _start_or_resume(
        config, resume, generator, discriminator, optimizers, dist_info
    )
    skipped_logged = skipped_frames  # the sum over ranks at the last log row (this rank counts in skipped_frames)
    data = data or prepare_data(config, previous_data)
    pair_iter, hole_iter = _batch_streams(data, config, dist_info, step)

    segmentation_only = tc.modules == "segmentation"
    forward_module: nn.Module = TrainingForward(generator, segmentation_only)
    disc_module = discriminator
    if tc.compile:
        forward_module = torch.compile(forward_module)  # type: ignore[assignment]
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        forward_module = DDP(forward_module, device_ids=ids)
        disc_module = DDP(discriminator, device_ids=ids) if discriminator is not None else None
    autocast_dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    use_amp = tc.amp and device.type == "cuda"
    # float16 needs loss scaling against gradient underflow; bfloat16 (and everything on CPU) does not.
    scale_loss = use_amp and autocast_dtype == torch.float16
    scalers = {name: torch.amp.GradScaler("cuda", enabled=scale_loss) for name in optimizers}

    writer = RunWriter(run_dir, config, data, dist_info, start_step=step) if dist_info.is_main else None
    stop = StopFlag()
    stop.install()
    target_step = tc.steps if stop_after is None else min(tc.steps, step + stop_after)
    per_step_samples = tc.batch_size * dist_info.world_size
    t_start = time.perf_counter()
    last_checkpoint_t = last_sheet_t = t_start
    sheet_step = -1
    rate = RateMeter()
    progress = None
    if dist_info.is_main and config.log.progress:
        from tqdm import tqdm

        progress = tqdm(total=tc.steps, initial=step, desc=config.name, unit="step", dynamic_ncols=True)
    logs: dict[str, float] = {}
    # Summed on the device and read only when logging or checkpointing: a float() per step would make the CPU
    # wait for the GPU every step.
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)

    def check_finite() -> None:
        if bool(nonfinite):
            raise TrainerError(f"the loss became NaN or infinite by step {step}; lower train.lr or check the data")

    def checkpoint() -> None:
        check_finite()
        if writer is None:
            return
        meta = {
            "config": config.to_dict(),
            "generator_config": generator.config.to_dict() if hasattr(generator, "config") else {},
            "architecture": config.model.architecture,
            "samples_seen": step * per_step_samples,
            "elapsed_seconds": elapsed_before + time.perf_counter() - t_start,
            "world_size": dist_info.world_size,
            "hardware": hardware_description(device, dist_info.world_size, tc.threads),
            "data": data.description,
            "last_losses": logs,
            "skipped_frames": skipped_frames if dist_info.world_size == 1 else skipped_logged,
        }
        save_checkpoint(run_dir, step, meta, generator, optimizers, discriminator, keep=config.checkpoint.keep)

    try:
        generator.train()
        while step < target_step and not stop.requested:
            t_step = time.perf_counter()
            batch = _to(next(pair_iter), device)
            holes = _to(next(hole_iter), device) if hole_iter is not None and not segmentation_only else None
            rate.add_wait(time.perf_counter() - t_step)
            skipped_frames += sum(int(b["skipped_frames"].sum()) for b in (batch, holes or {}) if "skipped_frames" in b)
            adversarial = discriminator is not None and step >= tc.adversarial_start and not segmentation_only

            # (1) the generator on the pairs (and its background module on the holed photos)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=use_amp):
                out = forward_module(
                    *(batch[k] for k in NETWORK_INPUTS),
                    **({"hole_input": holes["input_image"],
                        "hole_background_mask": soft_background_mask(holes["hole_mask"], config.seed, step),
                        "hole_heatmaps": holes["heatmaps"]} if holes is not None else {}),
                )
                # (2) its losses, and its step
                terms = reconstruction_terms(out, batch, holes, config, vgg, vgg16)
                if adversarial:
                    assert discriminator is not None
                    terms.update(adversarial_terms(discriminator, out, batch, config))
                total = sum(terms.values())
            _optimizer_step(optimizers["g"], scalers["g"], total, generator, tc.grad_clip)

            # (3) the discriminator's step
            d_loss = None
            if adversarial:
                assert disc_module is not None
                with torch.autocast(device.type, dtype=autocast_dtype, enabled=use_amp):
                    d_loss = discriminator_loss(disc_module, out, batch, config)
                _optimizer_step(optimizers["d"], scalers["d"], d_loss)
            step += 1
            nonfinite |= ~torch.isfinite(total.detach())
            rate.add(per_step_samples, time.perf_counter() - t_step)

            now = time.perf_counter()
            sheet_due = step in (1, target_step) or now - last_sheet_t >= 60 * config.log.sample_every_minutes
            if writer is not None and sheet_due:
                writer.sheet(step, generator, data.sample_batch, device)  # also measures the held-out metric
                last_sheet_t, sheet_step = now, step
            if step % config.log.every_steps == 0 or step == target_step:
                check_finite()
                logs = {k: float(v.detach()) for k, v in terms.items()}
                logs["total"] = float(total.detach())
                if d_loss is not None:
                    logs["d_loss"] = float(d_loss.detach())
                logs = mean_over_ranks({**logs, "skipped_frames": float(skipped_frames)}, dist_info)
                skipped_logged = round(logs.pop("skipped_frames") * dist_info.world_size)  # the sum over ranks
                phase = "adversarial" if adversarial else "reconstruction"
                if writer is not None:
                    writer.log(step, now - t_start + elapsed_before, rate, phase, logs, skipped_logged)
                if progress is not None:
                    progress.set_postfix(loss=f"{logs['total']:.4f}", sps=f"{rate.value:.1f}", phase=phase[:3],
                                         refresh=False)
            if progress is not None:
                progress.update(1)
            every_steps = config.checkpoint.every_steps
            if now - last_checkpoint_t >= 60 * config.checkpoint.every_minutes or (
                every_steps and step % every_steps == 0
            ):
                checkpoint()
                last_checkpoint_t = now
        checkpoint()
        if writer is not None and sheet_step != step:  # stopped early: a sheet of where it stopped
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


def _start_or_resume(
    config: TrainConfig,
    resume: bool,
    generator: nn.Module,
    discriminator: nn.Module | None,
    optimizers: dict[str, torch.optim.Optimizer],
    dist_info: DistInfo,
) -> tuple[int, float, dict[str, Any] | None, int]:
    """Resume from the run's newest intact checkpoint (weights, optimizers, RNG), or start a new run, warm-started
    from `model.init_from` when given. Returns (step, seconds trained before, the resumed run's data description,
    its unreadable frames so far: carried by rank 0 alone, so the sum over ranks counts them once)."""
    run_dir = config.run_dir
    existing = latest_checkpoint(run_dir)
    if not resume:
        if existing is not None:
            raise TrainerError(
                f"{run_dir} already has checkpoints (latest {existing.name}): pass --resume to continue it, "
                "or choose another run name/out_dir"
            )
        if config.model.init_from:
            init_generator_from(generator, Path(config.model.init_from).expanduser())
        return 0, 0.0, None, 0
    ckpt, existing = load_latest_intact(run_dir, set_aside=dist_info.is_main)  # newer unreadable ones: set aside
    _check_resume_compatible(ckpt.meta, config, existing)
    generator.load_state_dict(ckpt.generator)
    if discriminator is not None and ckpt.discriminator:
        discriminator.load_state_dict(ckpt.discriminator)
    for name, opt in optimizers.items():
        if name in ckpt.optimizers:
            opt.load_state_dict(ckpt.optimizers[name])
    restore_rng(ckpt.rng)
    skipped = int(ckpt.meta.get("skipped_frames", 0)) if dist_info.is_main else 0
    return ckpt.step, float(ckpt.meta.get("elapsed_seconds", 0.0)), ckpt.meta.get("data"), skipped


def _batch_streams(
    data: TrainingData, config: TrainConfig, dist_info: DistInfo, step: int
) -> tuple[Iterator[dict[str, torch.Tensor]], Iterator[dict[str, torch.Tensor]] | None]:
    """Endless batches of pairs (and of holed photos), this rank's share, continuing at `step`."""
    tc, rank, world = config.train, dist_info.rank, dist_info.world_size
    sampler = InfinitePairSampler(len(data.pairs), seed=config.seed, rank=rank, world_size=world,
                                  start=step * tc.batch_size)
    pairs = endless_batches(make_loader(data.pairs, tc.batch_size, workers=config.data.workers, sampler=sampler))
    if data.holes is None:
        return pairs, None
    sampler = InfinitePairSampler(len(data.holes), seed=config.seed + 1, rank=rank, world_size=world,
                                  start=step * tc.hole_batch_size)
    workers = 1 if config.data.workers > 0 else 0
    return pairs, endless_batches(make_loader(data.holes, tc.hole_batch_size, workers=workers, sampler=sampler))


def _optimizer_step(
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    loss: torch.Tensor,
    clip_module: nn.Module | None = None,
    grad_clip: float = 0.0,
) -> None:
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if clip_module is not None and grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(clip_module.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


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
