"""The networks of a training run: building the generator and discriminator a config asks for, the warm start
from another run's generator (`model.init_from`), and running them (the four-module generator and the single-U-Net
baseline behind one call; one module for what a step runs, so DistributedDataParallel sees every parameter once).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from models.artifact_meta import WEIGHTS_FILE
from trainer.checkpoint import latest_checkpoint, load_checkpoint
from trainer.config import TrainConfig, TrainerError


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
    """([logits], block features) of the PatchGAN discriminator (the losses take a list of logits per scale)."""
    logits, features = discriminator(image, heatmaps)
    return [logits], list(features)


class TrainingForward(nn.Module):
    """What one training step runs through the generator, as ONE module (so DistributedDataParallel sees every
    parameter used exactly once per step): the pair forward and, when given, the background module on holes."""

    def __init__(self, generator: nn.Module, segmentation_only: bool = False) -> None:
        super().__init__()
        self.generator = generator
        self.segmentation_only = segmentation_only

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
        if self.segmentation_only:  # train.modules = "segmentation": the other modules neither run nor learn
            _, part_masks = self.generator.segment(image_src, heatmaps_src, prior_src)
            return {"part_masks": part_masks}
        out = run_generator(self.generator, image_src, heatmaps_src, heatmaps_tgt, prior_src, transforms)
        if hole_input is not None:
            # The background module sees image·(background mask) and the mask; see `soft_background_mask`.
            out["hole_background"] = self.generator.inpaint_background(hole_input, hole_background_mask,
                                                                       hole_heatmaps)
        return out
