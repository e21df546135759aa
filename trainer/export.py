"""`posetrain export CKPT --out DIR`: a training checkpoint -> the folder the editor loads (DESIGN.md, artifact):
`model.json`, `generator.safetensors`, `source.onnx`, `target.onnx`, `MODEL_CARD.md`.

The folder is assembled next to DIR and renamed into place, so the editor never sees half a model. Before the
rename the ONNX stages are loaded back through `poseeditor.engine` and compared with torch on a real render, so an
export that the editor would run differently from training is refused.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.artifact import save_generator
from models.artifact_meta import MODEL_CARD
from poseeditor.errors import ExportError, PoseEditorError
from poseeditor.image_io import atomic_write_text, default_mode
from trainer.evaluate import EvalResult, LoadedModel, format_table, load_model

ROUND_TRIP_TOLERANCE = 2e-3  # max |onnxruntime − torch| on [-1,1] outputs (float32, different kernels)




def round_trip_check(folder: Path, generator: nn.Module) -> dict[str, float]:
    """Render one pose change through the editor's engine (onnxruntime) and through torch; return the max
    differences. Uses a synthetic figure, so no dataset is needed."""
    from poseeditor.engine import load_engine
    from trainer.data.holes import random_pose
    from trainer.data.pairs import pose_input_tensors

    size = generator.config.image_size
    rng = np.random.default_rng(7)
    src, tgt = random_pose(rng, size, (0.7, 0.8)), random_pose(rng, size, (0.7, 0.8))
    photo = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    engine = load_engine(str(folder), backend="onnx", threads=2, background="network")  # torch runs the network
    # The engine crops around the pose; give it the identity crop so both paths see the same pixels.
    from poseeditor.geometry import Crop

    crop = Crop(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), size)
    state = engine.prepare_source(photo, src, crop=crop)
    result = engine.render(state, tgt)
    image = torch.from_numpy(photo.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0)
    with torch.no_grad():
        inputs = {k: v[None] for k, v in pose_input_tensors(src.xy, src.visible, tgt.xy, tgt.visible, size).items()}
        out = generator.eval()(
            image, inputs["heatmaps_src"], inputs["heatmaps_tgt"], inputs["prior_src"], inputs["transforms"]
        )
    torch_out = ((out["output"][0].numpy().transpose(1, 2, 0) + 1.0) * 0.5).clip(0, 1)
    return {
        "part_masks": float(np.abs(state.part_masks - out["part_masks"][0].numpy()).max()),
        "output": float(np.abs(result.output - torch_out).max()),
    }


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    evaluations: list[tuple[str, EvalResult, str | None]] | None = None,
    failure_notes: str = "",
    force: bool = False,
    inference: dict[str, Any] | None = None,
) -> Path:
    """Export `checkpoint` (file, run folder or model folder) to `out`. `evaluations`: (title, result, picture
    file or None) for the model card."""
    out = Path(out).expanduser()
    if out.exists() and not force:
        raise ExportError(f"{out} already exists (pass --force to replace it)")
    loaded = load_model(checkpoint)
    if loaded.architecture != "posewarp":
        raise ExportError(
            f"{checkpoint}: a '{loaded.architecture}' model is an evaluation baseline, not a two-stage generator "
            "the editor can load"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        t0 = time.perf_counter()
        generator = loaded.generator.eval()
        training = dict(loaded.training)
        training["exported_from"] = str(checkpoint)
        training["exported_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        save_generator(generator, staging, training, inference)
        from models.onnx_export import export_onnx

        export_onnx(generator, staging)
        differences = round_trip_check(staging, generator)
        if max(differences.values()) > ROUND_TRIP_TOLERANCE:
            raise ExportError(f"the exported ONNX stages differ from torch by {differences} (> {ROUND_TRIP_TOLERANCE})")
        pictures = []
        for title, _, picture in evaluations or []:
            if picture and Path(picture).is_file():
                name = f"eval_{len(pictures)}.jpg"
                _write_card_picture(Path(picture), staging / name)
                pictures.append((title, name))
        card = model_card(loaded, training, evaluations or [], pictures, differences, failure_notes,
                          time.perf_counter() - t0, inference)
        atomic_write_text(staging / MODEL_CARD, card)
        if out.exists():
            shutil.rmtree(out)
        os.chmod(staging, default_mode(folder=True))  # mkdtemp made it 0700
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


CARD_PICTURE_WIDTH = 1344  # the model folder ships in the wheel: a JPEG this wide, not a multi-MB PNG


def _write_card_picture(source: Path, dest: Path) -> None:
    import cv2

    from poseeditor.image_io import load_image  # the editor's reader: its pixel limit, truncated files refused

    try:
        image = cv2.cvtColor(load_image(source), cv2.COLOR_RGB2BGR)
    except PoseEditorError as exc:
        raise ExportError(f"the evaluation picture is not readable: {exc}") from None
    if image.shape[1] > CARD_PICTURE_WIDTH:
        height = round(image.shape[0] * CARD_PICTURE_WIDTH / image.shape[1])
        image = cv2.resize(image, (CARD_PICTURE_WIDTH, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ExportError(f"{dest}: could not encode the evaluation picture")
    dest.write_bytes(data.tobytes())


def _count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_card(
    loaded: LoadedModel,
    training: dict[str, Any],
    evaluations: list[tuple[str, EvalResult, str | None]],
    pictures: list[tuple[str, str]],
    differences: dict[str, float],
    failure_notes: str,
    export_seconds: float,
    inference: dict[str, Any] | None = None,
) -> str:
    cfg = loaded.generator.config
    data = training.get("data", {})
    config = training.get("config", {})
    lines = [
        f"# poseeditor generator — {cfg.name} @ {cfg.image_size}²",
        "",
        ("Re-poses the person in a photo (Balakrishnan et al., CVPR 2018, \"Synthesizing Images of Humans in Unseen "
        "Poses\"): segmentation, background, foreground/mask modules; two ONNX stages (`source.onnx`, "
        "`target.onnx`) with the limb warp between them."),
        "",
        "## Model",
        (f"- architecture: `{loaded.architecture}`, config `{cfg.name}`, crop {cfg.image_size}², "
        f"{_count_parameters(loaded.generator) / 1e6:.2f} M parameters"),
        (f"- ONNX vs torch on one render: max |Δ| part masks {differences.get('part_masks', float('nan')):.2e}, "
        f"output {differences.get('output', float('nan')):.2e}"),
        (f"- foreground: `{getattr(cfg, 'foreground_mode', 'generate')}`; the editor's background: "
        f"`{(inference or {}).get('background', 'network')}`"
        + (f" ({inference['why']})" if inference and inference.get("why") else "")),
        "",
        "## Training",
        (f"- steps: {training.get('steps', 0)}, samples seen: {training.get('samples_seen', 0)}, "
        f"wall time: {training.get('wall_time_seconds', 0.0) / 3600:.2f} h"),
        f"- hardware: {training.get('hardware', 'unknown')}",
        *([f"- warm-started from `{config['model']['init_from']}` (`model.init_from`); the steps and wall time above "
           "are this run's own"] if config.get("model", {}).get("init_from") else []),
        (f"- batch {config.get('train', {}).get('batch_size', '?')}, lr {config.get('train', {}).get('lr', '?')}, "
        f"adversarial phase from step {config.get('train', {}).get('adversarial_start', '?')}"),
        f"- losses: {', '.join(f'{k} {v}' for k, v in config.get('loss', {}).items() if isinstance(v, float) and v > 0)}",
        f"- last logged losses: {', '.join(f'{k} {v:.4f}' for k, v in training.get('last_losses', {}).items())}",
        "",
        "## Data",
    ]
    for ds in data.get("datasets", []):
        lines.append(
            f"- `{ds.get('root')}`: {ds.get('train_videos')} training videos ({ds.get('train_frames')} frames), "
            f"{len(ds.get('held_out_videos', []))} held out"
        )
    if data.get("hole_images"):
        lines.append(f"- background module also trained on {data['hole_images']} real frames with person-shaped holes "
                     f"({', '.join(data.get('hole_sources', []))})")
    lines += ["", "## Held-out evaluation (`posetrain eval`)", ""]
    if not evaluations:
        lines.append("Not evaluated at export time: run `posetrain eval --model THIS_FOLDER --data DIR`.")
    for title, result, _ in evaluations:
        lines += [f"### {title}", "", format_table(result, per_video=False), ""]
    lines += ["## Known failure cases", ""]
    lines.append(failure_notes.strip() or "Not yet reviewed: look at the sample sheets of the run and fill this in.")
    for title, name in pictures:
        lines += ["", f"![{title}]({name})", "",
                  "(columns: source, target, identity, warp_only, [unet], [paper], model, "
                  "[model over the cv2-inpainted background])"]
    lines += ["", (f"_Exported {training.get('exported_at', '')} on {platform.node() or 'unknown host'} "
              f"in {export_seconds:.0f} s._"), ""]
    return "\n".join(lines)


