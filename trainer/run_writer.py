"""What a run writes besides checkpoints (rank 0 only): the resolved config, the data description, log.csv
(with a held-out metric and the count of unreadable frames skipped), sample sheets and, when asked for, TensorBoard
events."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
from pathlib import Path

import torch
from torch import nn

from poseeditor.image_io import atomic_write_text, clean_stale_temp_files, to_unit
from trainer import losses as L
from trainer.config import TrainConfig, config_to_toml
from trainer.data.split import TrainingData
from trainer.distributed import DistInfo
from trainer.networks import run_generator
from trainer.rate_meter import RateMeter
from trainer.sheets import save_sheet

LOG_COLUMNS = (
    "step", "elapsed_s", "samples_per_s", "data_wait", "phase", "total", "l1", "ssim", "ms_ssim", "vgg", "perceptual",
    "part_ce", "mask_bce",
    "background", "gan", "feature_matching", "d_loss", "skipped_frames", "held_out_l1", "held_out_ssim",
)  # fmt: skip
PAIR_KEYS = ("image_src", "image_tgt", "heatmaps_src", "heatmaps_tgt", "prior_src", "transforms")


def hardware_description(device: torch.device, world_size: int, threads: int) -> str:
    if device.type == "cuda":
        return f"{world_size}× {torch.cuda.get_device_name(device)}"
    return f"{world_size} process(es) × {threads} thread(s), {platform.processor() or platform.machine()}, " \
           f"{os.cpu_count()} CPU cores"


class RunWriter:
    """Rank 0's files in the run folder: config.toml, data.json, log.csv, samples/step_*.png, TensorBoard events.

    log.csv has one row per logged step: the weighted loss terms (averaged over ranks), speed, and — in the row of a
    step that drew a sample sheet (step 1, every `log.sample_every_minutes`, the last step) or the next logged one —
    `held_out_l1` and `held_out_ssim` of the generator on the sheet's fixed held-out pairs ([0, 1] pixels, whole
    crop; training pairs when nothing is held out). `skipped_frames` is the running count, over the whole run and
    its resumes, of unreadable frames whose samples were drawn again.

    A resumed run (`start_step` = the checkpoint's step) first drops the rows logged after that step: the run wrote
    them before it was killed and writes them again."""

    def __init__(self, run_dir: Path, config: TrainConfig, data: TrainingData, dist_info: DistInfo,
                 start_step: int = 0) -> None:
        self.run_dir = run_dir
        for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
            clean_stale_temp_files(folder)  # partial checkpoints/logs of killed writes (kept an hour: maybe not ours)
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.toml", config_to_toml(config))
        atomic_write_text(run_dir / "data.json", json.dumps(data.description, indent=2))
        self.sample_count = config.log.sample_count
        self.pending_held_out: dict[str, float] = {}  # measured with the last sheet, not yet in a log row
        log_path = run_dir / "log.csv"
        _truncate_log(log_path, start_step)
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

    def log(self, step: int, elapsed: float, rate: RateMeter, phase: str, values: dict[str, float],
            skipped_frames: int = 0) -> None:
        row = {"step": step, "elapsed_s": f"{elapsed:.1f}", "samples_per_s": f"{rate.value:.2f}",
               "data_wait": f"{rate.data_wait:.3f}", "phase": phase, "skipped_frames": skipped_frames}
        values = {**values, **self.pending_held_out}
        self.pending_held_out = {}
        row.update({k: f"{v:.6f}" for k, v in values.items()})
        self._csv.writerow(row)
        self._file.flush()
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"loss/{k}", v, step)
            self._tb.add_scalar("samples_per_s", rate.value, step)
            self._tb.add_scalar("data_wait", rate.data_wait, step)

    def sheet(self, step: int, generator: nn.Module, batch: dict[str, torch.Tensor], device: torch.device) -> None:
        """The sample sheet of `step`, and the held-out metric on the same outputs (for the next log row)."""
        if self.sample_count <= 0:
            return
        was_training = generator.training
        generator.eval()
        with torch.no_grad():
            b = {k: v.to(device) for k, v in batch.items()}
            out = run_generator(generator, *(b[k] for k in PAIR_KEYS if k != "image_tgt"))
            fake, real = to_unit(out["output"]).clamp(0.0, 1.0).float(), to_unit(b["image_tgt"]).float()
            self.pending_held_out = {
                "held_out_l1": float((fake - real).abs().mean()),
                "held_out_ssim": float(L.ssim(fake, real)),
            }
        generator.train(was_training)
        save_sheet(self.run_dir / "samples" / f"step_{step:09d}.png", batch, out, self.sample_count)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _truncate_log(log_path: Path, start_step: int) -> None:
    """Drop the rows of steps after `start_step` (the checkpoint being resumed; 0 for a fresh run): the run logged
    them before it was killed and will log them again. Without this, every resume left duplicate rows."""
    if not log_path.is_file() or log_path.stat().st_size == 0:
        return
    with open(log_path, newline="", encoding="utf-8") as f:
        text = f.read()
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    kept = []
    for row in body:
        try:
            if int(row[0]) <= start_step and len(row) == len(header):
                kept.append(row)
        except (IndexError, ValueError):
            pass  # a row cut short by a kill mid-write
    if len(kept) == len(body) and text.endswith("\n"):
        return
    out = io.StringIO()
    csv.writer(out).writerows([header, *kept])
    atomic_write_text(log_path, out.getvalue())
