"""ONNX export of both stages: names, embedded weights, dynamic batch, onnxruntime == torch within 1e-4."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

onnxruntime = pytest.importorskip("onnxruntime")

from models.config import get_config
from models.artifact_meta import SOURCE_INPUTS, SOURCE_OUTPUTS, TARGET_OUTPUTS
from models.generator import PoseWarpGenerator, SourceStage, target_inputs, target_stage
from models.onnx_export import export_onnx, stage_example_inputs
from poseeditor.errors import ExportError


@pytest.fixture(scope="module", params=["generate", "select"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[PoseWarpGenerator, Path]:
    from dataclasses import replace

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    torch.manual_seed(3)
    generator = PoseWarpGenerator(replace(get_config("tiny"), foreground_mode=request.param)).eval()
    with torch.no_grad():  # random init leaves outputs near-constant; spread the weights so differences show
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(generator, folder)
    return generator, folder


def test_files_are_self_contained(exported: tuple[PoseWarpGenerator, Path]) -> None:
    _, folder = exported
    assert sorted(p.name for p in folder.iterdir()) == ["source.onnx", "target.onnx"]  # no .onnx.data, no temp


@pytest.mark.parametrize("stage", ["source", "target"])
def test_names_and_shapes(exported: tuple[PoseWarpGenerator, Path], stage: str) -> None:
    generator, folder = exported
    inputs, outputs = {"source": (SOURCE_INPUTS, SOURCE_OUTPUTS),
                       "target": (target_inputs(generator), TARGET_OUTPUTS)}[stage]
    session = onnxruntime.InferenceSession(str(folder / f"{stage}.onnx"), providers=["CPUExecutionProvider"])
    assert tuple(i.name for i in session.get_inputs()) == inputs
    assert tuple(o.name for o in session.get_outputs()) == outputs
    channels = {"image": 3, "source_heatmaps": 14, "prior": 11, "warped_layers": 30, "warped_masks": 10,
                "target_heatmaps": 14, "background": 3}  # fmt: skip
    for i in session.get_inputs():
        assert i.shape[1] == channels[i.name], i.name
        if stage == "target":  # issue 14: the editor runs the target stage smaller while dragging
            assert all(isinstance(d, str) for d in i.shape[2:]), (i.name, i.shape)
        else:  # the source stage runs once per photo at the model's size
            assert i.shape[2:] == [64, 64], (i.name, i.shape)


@pytest.mark.parametrize("side", [40, 16])
def test_the_target_stage_runs_at_another_size_as_torch_does(exported: tuple[PoseWarpGenerator, Path], side: int) -> None:
    import torch.nn.functional as F

    generator, folder = exported
    for stage, module in (("target", target_stage(generator)),):
        inputs = tuple(F.interpolate(t, size=(side, side), mode="area") for t in stage_example_inputs(generator, stage))
        session = onnxruntime.InferenceSession(str(folder / f"{stage}.onnx"), providers=["CPUExecutionProvider"])
        got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})
        with torch.no_grad():
            expected = module(*inputs)
        for name, a, b in zip((o.name for o in session.get_outputs()), got, expected):
            assert a.shape[-2:] == (side, side), (stage, name)
            assert np.abs(a - b.numpy()).max() <= 1e-4, (stage, name)


def test_fixed_size_export_is_still_possible(tmp_path: Path) -> None:
    torch.manual_seed(0)
    generator = PoseWarpGenerator(get_config("tiny")).eval()
    export_onnx(generator, tmp_path, dynamic_size=False)
    session = onnxruntime.InferenceSession(str(tmp_path / "target.onnx"), providers=["CPUExecutionProvider"])
    assert all(i.shape[2:] == [64, 64] for i in session.get_inputs())


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_agrees_with_torch(exported: tuple[PoseWarpGenerator, Path], batch: int) -> None:
    generator, folder = exported
    for stage, module in (("source", SourceStage(generator)), ("target", target_stage(generator))):
        example = stage_example_inputs(generator, stage)
        g = torch.Generator().manual_seed(batch)
        inputs = tuple(t.repeat(batch, 1, 1, 1) * (0.5 + torch.rand(batch, 1, 1, 1, generator=g)) for t in example)
        session = onnxruntime.InferenceSession(str(folder / f"{stage}.onnx"), providers=["CPUExecutionProvider"])
        got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})
        with torch.no_grad():
            expected = module(*inputs)
        for name, a, b in zip((o.name for o in session.get_outputs()), got, expected):
            assert a.shape == tuple(b.shape), name
            assert np.abs(a - b.numpy()).max() <= 1e-4, (stage, name)
            assert float(b.std()) > 1e-3, (stage, name)  # the comparison means something: outputs vary


def test_export_into_a_missing_folder_is_an_export_error(tmp_path: Path) -> None:
    generator = PoseWarpGenerator(get_config("tiny"))
    with pytest.raises(ExportError, match="not a folder"):
        export_onnx(generator, tmp_path / "nope")


@pytest.mark.slow  # a third export (~20 s on 2 cores) for a file-mode check
def test_exported_onnx_files_get_the_usual_mode(tmp_path):
    import os
    import stat

    import torch

    from models.config import get_config
    from models.generator import PoseWarpGenerator
    from models.onnx_export import export_onnx

    torch.manual_seed(0)
    old = os.umask(0o022)
    try:
        export_onnx(PoseWarpGenerator(get_config("tiny")).eval(), tmp_path)
    finally:
        os.umask(old)
    for name in ("source.onnx", "target.onnx"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
