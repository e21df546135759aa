"""Export the generator's two inference stages to ONNX: `source.onnx` and `target.onnx` (DESIGN.md §3).

Weights are embedded in each .onnx (no `.onnx.data` side file: the editor copies and loads one file per stage).
The warp between the stages is not in either graph: it is cheaper in cv2/torch than as ONNX GridSample.
The batch dimension is dynamic. The target stage's spatial size is dynamic too (a square side, a multiple of the
networks' total downsampling): the U-Nets are fully convolutional, so the editor runs the target stage at a lower
resolution while a drag is going on (docs/drag_speed.md); the editor detects it from the graph's input shapes. The
source stage (once per photo, always at the model's size) keeps fixed axes. The example inputs are at the model's
own size.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.artifact_meta import SOURCE_INPUTS, SOURCE_ONNX, SOURCE_OUTPUTS, TARGET_ONNX, TARGET_OUTPUTS
from models.generator import (
    PoseWarpGenerator,
    SourceStage,
    target_inputs,
    target_stage,
)
from poseeditor.errors import ExportError
from poseeditor.image_io import PendingFile

OPSET = 18


def stage_example_inputs(generator: PoseWarpGenerator, stage: str) -> tuple[torch.Tensor, ...]:
    """Example inputs of the right shapes for `stage` ("source" or "target"), batch 1."""
    cfg = generator.config
    s, j, limbs, layers = cfg.image_size, cfg.num_joints, cfg.num_limbs, cfg.num_layers
    g = torch.Generator().manual_seed(0)
    if stage == "source":
        prior = torch.rand(1, layers, s, s, generator=g) + 1e-3
        return (
            torch.rand(1, 3, s, s, generator=g) * 2 - 1,
            torch.rand(1, j, s, s, generator=g),
            prior / prior.sum(dim=1, keepdim=True),
        )
    if stage == "target":
        masks = torch.rand(1, limbs, s, s, generator=g)
        layers = (torch.rand(1, limbs, 3, s, s, generator=g) * 2 - 1) * masks[:, :, None]
        inputs = [layers.reshape(1, 3 * limbs, s, s)]
        if generator.select:
            inputs.append(masks)
        return (*inputs, torch.rand(1, j, s, s, generator=g), torch.rand(1, 3, s, s, generator=g) * 2 - 1)
    raise ValueError(f"unknown stage {stage!r} (source or target)")


def export_stage(
    module: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    path: str | os.PathLike[str],
    dynamic_batch: bool = True,
    dynamic_size: int | None = None,
) -> Path:
    """Export one module to a single self-contained .onnx file at `path`, written atomically.

    `dynamic_size`: the networks' total downsampling factor; then height and width are dynamic (one symbolic
    "size" axis, a multiple of it), else fixed to the example's."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    module = module.eval()
    axes: dict[int, Any] = {}
    if dynamic_batch:
        axes[0] = torch.export.Dim("batch", min=1, max=64)
    if dynamic_size:
        # size = step·k: the exporter then knows every stride-2 level divides evenly (no rounding in the graph)
        side = dynamic_size * torch.export.Dim("size_steps", min=1, max=4096 // dynamic_size)
        axes[2] = axes[3] = side
    dynamic_shapes = {name: dict(axes) for name in _forward_argument_names(module)} if axes else None
    with torch.no_grad(), warnings.catch_warnings(), _quiet_logger("torch.onnx"):
        warnings.simplefilter("ignore")  # the exporter's progress chatter and deprecation notes
        program = torch.onnx.export(
            module,
            example_inputs,
            input_names=list(input_names),
            output_names=list(output_names),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            dynamic_shapes=dynamic_shapes,
            verbose=False,
        )
    if program is None:
        raise ExportError("the ONNX exporter returned nothing")
    # Write next to the target, then rename: a reader never sees half a model.
    with PendingFile(path) as pending:
        program.save(str(pending.tmp), external_data=False)
        side_file = Path(f"{pending.tmp}.data")
        if side_file.exists():  # never expected with external_data=False; refuse rather than ship a broken model
            side_file.unlink()
            raise ExportError(f"{path}: the exporter wrote weights to a side file; the model is too large to embed")
    return path


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Mute a logger for a while (the exporter logs a line per missing optional package, e.g. torchvision)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _forward_argument_names(module: nn.Module) -> list[str]:
    import inspect

    return [p for p in inspect.signature(module.forward).parameters]


def size_step(generator: PoseWarpGenerator) -> int:
    """The side of every input must be a multiple of this: the deepest U-Net's total downsampling."""
    cfg = generator.config
    return max(2**u.downsampling for u in (cfg.segmentation, cfg.background, cfg.foreground))


def export_onnx(generator: PoseWarpGenerator, folder: str | os.PathLike[str], dynamic_batch: bool = True,
                dynamic_size: bool = True) -> dict:
    """Write the two stages (`source.onnx`, `target.onnx`) for `generator` into `folder`; returns {stage: path}.
    `dynamic_size`: the target stage's spatial axes are dynamic (any multiple of `size_step`), as the editor's
    drag-time preview needs; False writes the older fixed-size graphs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: not a folder")
    step = size_step(generator) if dynamic_size else None
    was_training = generator.training
    generator.eval()
    try:
        paths = {
            "source": export_stage(
                SourceStage(generator),
                stage_example_inputs(generator, "source"),
                SOURCE_INPUTS,
                SOURCE_OUTPUTS,
                folder / SOURCE_ONNX,
                dynamic_batch,
                None,  # runs once per photo at the model's size; fixed axes measured ~8 % faster than dynamic
            ),
            "target": export_stage(
                target_stage(generator),
                stage_example_inputs(generator, "target"),
                target_inputs(generator),
                TARGET_OUTPUTS,
                folder / TARGET_ONNX,
                dynamic_batch,
                step,
            ),
        }
    finally:
        generator.train(was_training)
    return paths
