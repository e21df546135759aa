"""Inference backends: the two networks (source stage, target stage) behind one interface.

`OnnxBackend` runs the exported graphs in onnxruntime (CPU, or CUDA with onnxruntime-gpu); `TorchBackend` runs
the safetensors weights in torch (CUDA when available). Inputs and outputs are NCHW float32 numpy arrays.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from models.artifact_meta import (
    SELECT_TARGET_INPUTS,
    SOURCE_INPUTS,
    SOURCE_OUTPUTS,
    TARGET_INPUTS,
    TARGET_OUTPUTS,
    WEIGHTS_FILE,
)
from poseeditor.engine.model_files import ModelFiles
from poseeditor.engine.onnx_side import has_fixed_side, symbolic_side_or_same
from poseeditor.errors import ModelError
from poseeditor.onnx_session import GENERATOR_LEVERS, default_threads, onnx_session


class Backend(Protocol):
    name: str
    device: str
    dynamic_size: bool  # the target stage runs at any multiple of the networks' downsampling, not only the model's size
    dynamic_source: bool  # the source stage does too (the first picture of a freshly opened photo)

    def run_source(self, image: np.ndarray, source_heatmaps: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-> part_masks (1,11,S,S), background (1,3,S,S)."""
        ...

    def run_target(
        self, warped_layers: np.ndarray, target_heatmaps: np.ndarray, background: np.ndarray, warped_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> foreground (1,3,S,S), mask (1,1,S,S), output (1,3,S,S). `warped_masks` (1,10,S,S) is used by
        models whose target stage takes it ("select" foreground)."""
        ...


class OnnxBackend:
    def __init__(self, files: ModelFiles, threads: int | None = None, device: str = "auto") -> None:
        import onnxruntime as ort

        threads = threads or default_threads()
        available = ort.get_available_providers()
        providers = ["CPUExecutionProvider"]
        if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        elif device == "cuda":
            raise ModelError("the CUDA backend needs onnxruntime-gpu (pip install 'poseeditor[gpu]')")
        self.sessions = {}
        stages = (
            ("source", files.source_onnx, SOURCE_INPUTS, SOURCE_OUTPUTS),
            ("target", files.target_onnx, TARGET_INPUTS, TARGET_OUTPUTS),
        )
        # Both sessions are made at once (onnxruntime's graph optimisation runs without the GIL): part of opening
        # the editor with a photo, which waits for both (docs/drag_speed.md). The source graph (exported with fixed
        # axes) is given symbolic spatial axes in memory, so the same session also runs at the drag-time side (the
        # first picture of a freshly opened photo, Engine.prepare_quick_source); at the model's side its outputs are
        # bit-identical to the exported graph's (tests/test_quick_first_picture.py).
        rewrites = {"source": lambda data: symbolic_side_or_same(data, files.image_size), "target": None}
        with ThreadPoolExecutor(max_workers=len(stages), thread_name_prefix="poseeditor-load") as pool:
            opening = [pool.submit(onnx_session, path, threads, providers, what=f"{stage} stage of the generator",
                                   levers=GENERATOR_LEVERS, rewrite=rewrites[stage])
                       for stage, path, _, _ in stages]
            opened = [job.result() for job in opening]
        for (stage, path, inputs, outputs), session in zip(stages, opened):
            got_in = tuple(i.name for i in session.get_inputs())
            got_out = tuple(o.name for o in session.get_outputs())
            accepted = [set(inputs)] + ([set(SELECT_TARGET_INPUTS)] if stage == "target" else [])
            if set(got_in) not in accepted or set(got_out) != set(outputs):
                raise ModelError(
                    f"{path}: this is not a poseeditor {stage} stage (inputs {got_in}, outputs {got_out}; "
                    f"expected {inputs} -> {outputs})"
                )
            size = files.image_size
            for i in session.get_inputs():
                if isinstance(i.shape[-1], int) and i.shape[-1] != size:
                    raise ModelError(f"{path}: input {i.name} is {i.shape[-1]}² but model.json says {size}²")
            self.sessions[stage] = session
        self.target_takes_masks = any(i.name == "warped_masks" for i in self.sessions["target"].get_inputs())
        # Graphs exported since issue 14 have symbolic spatial axes: the target stage can run at the drag-time
        # preview's side. Older ones are fixed at the model's size (every render full size).
        self.dynamic_size = all(not isinstance(d, int) for i in self.sessions["target"].get_inputs()
                                for d in i.shape[2:])
        self.dynamic_source = self.dynamic_size and not has_fixed_side(self.sessions["source"])
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"
        self.name = f"onnxruntime-{self.device}"
        self.threads = threads

    def run_source(self, image: np.ndarray, source_heatmaps: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feeds = {"image": image, "source_heatmaps": source_heatmaps, "prior": prior}
        part_masks, background = self.sessions["source"].run(list(SOURCE_OUTPUTS), feeds)
        return part_masks, background

    def run_target(
        self, warped_layers: np.ndarray, target_heatmaps: np.ndarray, background: np.ndarray, warped_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feeds = {"warped_layers": warped_layers, "target_heatmaps": target_heatmaps, "background": background}
        if self.target_takes_masks:
            feeds["warped_masks"] = warped_masks
        fg, mask, out = self.sessions["target"].run(list(TARGET_OUTPUTS), feeds)
        return fg, mask, out


class TorchBackend:
    def __init__(self, files: ModelFiles, threads: int | None = None, device: str = "auto") -> None:
        try:
            import torch
        except ImportError:
            raise ModelError("the torch backend needs torch (pip install torch==2.13.0)") from None
        from models.artifact import load_generator
        from models.generator import SourceStage, target_stage

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelError("CUDA was asked for but torch sees no GPU")
        if device == "cpu":
            torch.set_num_threads(threads or default_threads())
        self.torch = torch
        generator = load_generator(files.folder).to(device).eval()
        self.source = SourceStage(generator).eval()
        self.target = target_stage(generator).eval()
        self.target_takes_masks = bool(generator.select)
        self.dynamic_size = True  # fully convolutional networks
        self.dynamic_source = True
        self.device = device
        self.name = f"torch-{device}"

    def _run(self, module: object, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        torch = self.torch
        with torch.inference_mode():
            tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrays]
            outputs = module(*tensors)  # type: ignore[operator]
        return tuple(o.float().cpu().numpy() for o in outputs)

    def run_source(self, image: np.ndarray, source_heatmaps: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        part_masks, background = self._run(self.source, image, source_heatmaps, prior)
        return part_masks, background

    def run_target(
        self, warped_layers: np.ndarray, target_heatmaps: np.ndarray, background: np.ndarray, warped_masks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.target_takes_masks:
            fg, mask, out = self._run(self.target, warped_layers, warped_masks, target_heatmaps, background)
        else:
            fg, mask, out = self._run(self.target, warped_layers, target_heatmaps, background)
        return fg, mask, out


def make_backend(files: ModelFiles, backend: str = "auto", threads: int | None = None) -> Backend:
    """backend: "auto" (onnxruntime when the ONNX files exist, else torch), "onnx", "onnx-cuda", "torch",
    "torch-cpu", "torch-cuda"; "onnxruntime…" is accepted for "onnx…" (the library's own name)."""
    if backend.startswith("onnxruntime"):
        backend = "onnx" + backend[len("onnxruntime") :]
    if backend == "auto":
        backend = "onnx" if files.source_onnx.is_file() and files.target_onnx.is_file() else "torch"
    if backend in ("onnx", "onnx-cpu"):
        return OnnxBackend(files, threads, device="cpu" if backend == "onnx-cpu" else "auto")
    if backend == "onnx-cuda":
        return OnnxBackend(files, threads, device="cuda")
    if backend in ("torch", "torch-cpu", "torch-cuda"):
        device = {"torch": "auto", "torch-cpu": "cpu", "torch-cuda": "cuda"}[backend]
        if not files.safetensors.is_file():
            raise ModelError(f"{files.folder}: missing {WEIGHTS_FILE} (needed by the torch backend)")
        return TorchBackend(files, threads, device=device)
    raise ModelError(f"unknown backend '{backend}' (use auto, onnx, onnx-cuda, torch, torch-cpu, torch-cuda)")
