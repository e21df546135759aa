"""`posetrain eval`: the model against the baselines on the same held-out pairs, in one run (DESIGN.md §5).

Rows: identity, warp_only (trainer.baselines), unet and paper (single-U-Net and paper-size models trained by this
trainer, when given), model. Metrics as the paper's test code: L1 on [0,1] and SSIM, over the whole crop and over
the target person's region (its silhouette where the dataset has masks, else the box around its joints padded
10 %), averaged per pair; also per video. Everything is evaluated at one crop size (default 256²): a model trained
at 128² gets its inputs at 128² and its output upsampled, so every row is judged on the same pixels.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.artifact_meta import MODEL_JSON

from trainer import baselines
from trainer.config import TrainerError
from trainer.losses import ssim_map

METHOD_ORDER = ("identity", "warp_only", "unet", "paper", "model", "model_cv2_background")
DEFAULT_SYNTHETIC_PAIRS = 500


def read_video_names(path: str | os.PathLike[str]) -> set[str]:
    """Video names, one per line (`--only-videos`)."""
    try:
        return {line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()}
    except OSError as exc:
        raise TrainerError(f"{path}: cannot read ({exc.strerror or exc})") from None


# ---------------------------------------------------------------------------------------------- loading models
@dataclass
class LoadedModel:
    generator: nn.Module
    architecture: str
    image_size: int
    training: dict[str, Any] = field(default_factory=dict)  # what it was trained on (held-out videos, steps...)
    source: str = ""


def build_from_config(generator_config: dict[str, Any], architecture: str) -> nn.Module:
    from models.baselines import SingleUNet
    from models.config import GeneratorConfig
    from models.generator import PoseWarpGenerator

    try:
        cfg = GeneratorConfig.from_dict(generator_config)
        return SingleUNet(cfg) if architecture == "unet" else PoseWarpGenerator(cfg)
    except (ValueError, TypeError, KeyError) as exc:
        raise TrainerError(f"the model's generator config is not valid: {exc}") from None


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """A trained generator from a checkpoint file, a run folder (its latest checkpoint) or an exported artifact."""
    from trainer.checkpoint import latest_checkpoint, load_checkpoint

    path = Path(path).expanduser()
    if path.is_dir() and (path / MODEL_JSON).is_file():
        from models.artifact import load_model as load_artifact
        from models.artifact_meta import read_model_json

        meta = read_model_json(path)
        generator = load_artifact(path)
        return LoadedModel(generator, meta["architecture"], int(meta["config"]["image_size"]), meta["training"],
                           str(path))
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise TrainerError(f"{path}: neither a model folder (model.json) nor a run folder with checkpoints")
        path = found
    ckpt = load_checkpoint(path)
    architecture = ckpt.meta.get("architecture", "posewarp")
    generator = build_from_config(ckpt.meta["generator_config"], architecture)
    try:
        generator.load_state_dict(ckpt.generator)
    except RuntimeError as exc:
        raise TrainerError(f"{path}: weights do not fit the model ({str(exc).splitlines()[0]})") from None
    training = training_info_from_checkpoint(ckpt.meta)
    return LoadedModel(generator.eval(), architecture, int(ckpt.meta["generator_config"]["image_size"]), training,
                       str(path))


def training_info_from_checkpoint(meta: dict[str, Any]) -> dict[str, Any]:
    """What an exported model keeps about its training (model.json "training")."""
    return {
        "architecture": meta.get("architecture", "posewarp"),
        "steps": int(meta.get("step", 0)),
        "samples_seen": int(meta.get("samples_seen", 0)),
        "wall_time_seconds": float(meta.get("elapsed_seconds", 0.0)),
        "hardware": meta.get("hardware", ""),
        "data": meta.get("data", {}),
        "config": meta.get("config", {}),
        "last_losses": meta.get("last_losses", {}),
    }


# ---------------------------------------------------------------------------------------------- pairs
def held_out_videos(videos: list, data_root: Path, models: list[LoadedModel]) -> tuple[list, str]:
    """The videos of `data_root` no given model trained on: if a model trained on this dataset, only its held-out
    videos (the intersection over models); otherwise every video."""
    names = {v.name for v in videos}
    keep = set(names)
    trained_on_it = False
    root = str(data_root.resolve())
    for m in models:
        for ds in m.training.get("data", {}).get("datasets", []):
            if str(Path(ds.get("root", "")).expanduser().resolve()) == root:
                trained_on_it = True
                keep &= set(ds.get("held_out_videos", []))
    if trained_on_it and not keep:
        raise TrainerError(f"{data_root}: the model trained on every video of this dataset; nothing is held out")
    how = "held-out videos of the training split" if trained_on_it else "all videos (never trained on)"
    return [v for v in videos if v.name in keep], how


def choose_pairs(videos: list, pairs: int | None, seed: int) -> list[tuple[int, int, int]]:
    """All ordered pairs when there are few (real sets) or when `pairs` covers them; else `pairs` (default 500)
    drawn with `seed`."""
    from trainer.data.pairs import all_ordered_pairs, fixed_pairs

    every = all_ordered_pairs(videos)
    n = DEFAULT_SYNTHETIC_PAIRS if pairs is None else pairs
    if pairs is None and len(every) <= 2 * DEFAULT_SYNTHETIC_PAIRS:
        return every
    if n >= len(every):
        return every
    return fixed_pairs(videos, n, seed)


# ---------------------------------------------------------------------------------------------- running models
def _scale_xy(xy: np.ndarray, k: float) -> np.ndarray:
    return (xy + 0.5) * k - 0.5  # pixel centres stay pixel centres


def model_inputs_at(batch: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """The network inputs for a model of `size`² from an evaluation batch at another size (joints rescaled)."""
    from trainer.data.pairs import pose_input_tensors

    eval_size = batch["image_src"].shape[-1]
    if size == eval_size:
        return {k: batch[k] for k in ("image_src", "heatmaps_src", "heatmaps_tgt", "prior_src", "transforms")}
    k = size / eval_size
    image = F.interpolate(batch["image_src"], size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    per_pair = [
        pose_input_tensors(_scale_xy(js[:, :2], k), js[:, 2] > 0.5, _scale_xy(jt[:, :2], k), jt[:, 2] > 0.5, size)
        for js, jt in zip(batch["joints_src"].numpy(), batch["joints_tgt"].numpy())
    ]
    return {"image_src": image, **{name: torch.stack([p[name] for p in per_pair]) for name in per_pair[0]}}


def run_model(model: LoadedModel, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Outputs resized to the evaluation size, images in [0, 1]."""
    eval_size = batch["image_src"].shape[-1]
    x = model_inputs_at(batch, model.image_size)
    from trainer.networks import run_generator

    with torch.no_grad():
        out = run_generator(model.generator, x["image_src"], x["heatmaps_src"], x["heatmaps_tgt"], x["prior_src"],
                            x["transforms"])
    result = {}
    for key in ("output", "foreground", "background", "mask"):
        if key in out:
            t = out[key].float()
            if t.shape[-1] != eval_size:
                t = F.interpolate(t, size=(eval_size, eval_size), mode="bilinear", align_corners=False)
            result[key] = t if key == "mask" else (t + 1.0) * 0.5
    return result


def run_model_drag_preview(model: LoadedModel, batch: dict[str, torch.Tensor], side: int | None = None,
                           upsample: str = "bilinear") -> dict[str, torch.Tensor]:
    """The editor's drag-time render (poseeditor.engine.preview) in torch: source stage at the model's size, then
    the premultiplied limb layers and the background area-averaged to `side` (default: the editor's), the warp and
    the target stage there, foreground and mask upsampled bilinearly and composited over the full-size
    background. Outputs as `run_model`'s."""
    from models.generator import PoseWarpGenerator, _sampling_grid
    from models.onnx_export import size_step
    from poseeditor.engine.preview import preview_side, preview_transforms, to_preview_xy
    from poseeditor.heatmaps import joint_heatmaps

    generator = model.generator
    if not isinstance(generator, PoseWarpGenerator):
        raise TrainerError("the drag-time preview is a posewarp generator's (two stages)")
    eval_size = batch["image_src"].shape[-1]
    x = model_inputs_at(batch, model.image_size)
    size = model.image_size
    side = side or preview_side(size, size_step(generator))
    if side is None:
        raise TrainerError(f"a {size}² model has no drag-time side")
    k = size / side
    scale = size / eval_size
    with torch.no_grad():
        _, part_masks = generator.segment(x["image_src"], x["heatmaps_src"], x["prior_src"])
        background = generator.inpaint_background(x["image_src"], part_masks, x["heatmaps_src"])
        n, limbs = part_masks.shape[0], part_masks.shape[1] - 1
        masks = part_masks[:, 1:, None]
        planes = torch.cat([x["image_src"][:, None] * masks, masks], dim=2).reshape(n, limbs * 4, size, size)
        planes = F.interpolate(planes, size=(side, side), mode="area").reshape(n * limbs, 4, side, side)
        transforms = torch.from_numpy(preview_transforms(x["transforms"].numpy().reshape(-1, 2, 3), k))
        grid = _sampling_grid(transforms.to(planes.dtype), side, side)
        warped = F.grid_sample(planes, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        warped = warped.reshape(n, limbs, 4, side, side)
        heatmaps = torch.stack([
            torch.from_numpy(joint_heatmaps(to_preview_xy(_scale_xy(jt[:, :2], scale), k), jt[:, 2] > 0.5, side))
            for jt in batch["joints_tgt"].numpy()
        ])
        fg, mask, output = generator.synthesize(warped[:, :, :3].reshape(n, limbs * 3, side, side), heatmaps,
                                                F.interpolate(background, size=(side, side), mode="area"),
                                                warped[:, :, 3])
    result = {}
    for key, t in (("foreground", fg), ("mask", mask)):
        t = F.interpolate(t.float(), size=(eval_size, eval_size), mode=upsample, align_corners=False)
        result[key] = t if key == "mask" else (t + 1.0) * 0.5
    # The composite over the background at full size, as the engine does (the background stays sharp).
    if background.shape[-1] != eval_size:
        background = F.interpolate(background, size=(eval_size, eval_size), mode="bilinear", antialias=True,
                                   align_corners=False)
    m = result["mask"]
    result["output"] = m * result["foreground"] + (1.0 - m) * (background + 1.0) * 0.5
    return result


# ---------------------------------------------------------------------------------------------- metrics
def person_regions(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N,1,S,S) 0/1: the target's silhouette where known, else its joint box padded 10 %."""
    n, _, size, _ = batch["image_tgt"].shape
    regions = torch.zeros(n, 1, size, size)
    for i in range(n):
        if bool(batch["has_mask"][i]) and float(batch["mask_tgt"][i].max()) > 0.5:
            regions[i] = (batch["mask_tgt"][i] > 0.5).float()
        else:
            x0, y0, x1, y1 = batch["person_box_tgt"][i].tolist()
            regions[i, :, int(np.floor(y0)) : int(np.ceil(y1)) + 1, int(np.floor(x0)) : int(np.ceil(x1)) + 1] = 1.0
    return regions


def pair_metrics(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> dict[str, np.ndarray]:
    """Per pair: l1, ssim (whole crop) and l1_person, ssim_person (inside `region`). Images (N,3,S,S) in [0,1]."""
    err = (output - target).abs().mean(dim=1, keepdim=True)
    s = ssim_map(output, target).mean(dim=1, keepdim=True)
    area = region.sum(dim=(1, 2, 3)).clamp_min(1.0)
    return {
        "l1": err.mean(dim=(1, 2, 3)).numpy(),
        "ssim": s.mean(dim=(1, 2, 3)).numpy(),
        "l1_person": ((err * region).sum(dim=(1, 2, 3)) / area).numpy(),
        "ssim_person": ((s * region).sum(dim=(1, 2, 3)) / area).numpy(),
    }


@dataclass
class EvalResult:
    pairs: int
    rows: list[dict[str, Any]]
    per_video: dict[str, list[dict[str, Any]]]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "rows": self.rows}


def evaluate(
    data_root: str | os.PathLike[str],
    models: dict[str, LoadedModel],
    pairs: int | None = None,
    seed: int = 0,
    size: int = 256,
    batch_size: int = 8,
    cv2_background: bool = False,
    sheet_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    only_videos: set[str] | None = None,
    drag_preview: bool = False,
) -> EvalResult:
    """`models` maps a row name ("model", "unet", "paper") to a loaded model. `drag_preview`: add the row
    "model_drag", the model as the editor renders it while a drag is going on (target stage at half the side)."""
    from trainer.data import read_dataset
    from trainer.data.pairs import PosePairDataset

    data_root = Path(data_root).expanduser()
    videos = read_dataset(data_root)
    videos, how = held_out_videos(videos, data_root, list(models.values()))
    if only_videos is not None:
        videos = [v for v in videos if v.name in only_videos]
        how += f"; restricted to {len(videos)} listed video(s)"
        if not videos:
            raise TrainerError(f"{data_root}: none of the listed videos is among the evaluated ones")
    chosen = choose_pairs(videos, pairs, seed)
    if not chosen:
        raise TrainerError(f"{data_root}: no pair of usable frames in the evaluated videos")
    dataset = PosePairDataset(videos, size=size, augment=False, seed=seed, pairs=chosen)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    methods = ["identity", "warp_only"] + [m for m in ("unet", "paper", "model") if m in models]
    if cv2_background and "model" in models:
        methods.append("model_cv2_background")
    if drag_preview and "model" in models:
        methods.append("model_drag")
    collected: dict[str, dict[str, list[np.ndarray]]] = {m: defaultdict(list) for m in methods}
    video_of: list[str] = []
    sheet_rows: list[np.ndarray] = []
    iterator = loader
    if progress:
        from tqdm import tqdm

        iterator = tqdm(loader, desc="eval", unit="batch", leave=False)
    for batch in iterator:
        target = (batch["image_tgt"] + 1.0) * 0.5
        source = (batch["image_src"] + 1.0) * 0.5
        region = person_regions(batch)
        video_of += [videos[int(v)].name for v in batch["video"]]
        outputs: dict[str, torch.Tensor] = {"identity": source}
        warped, cv2_bgs = [], []
        for i in range(source.shape[0]):
            js, jt = batch["joints_src"][i].numpy(), batch["joints_tgt"][i].numpy()
            image = source[i].permute(1, 2, 0).numpy()
            w = baselines.warp_only(image, js[:, :2], js[:, 2] > 0.5, jt[:, :2], jt[:, 2] > 0.5)
            warped.append(torch.from_numpy(w["output"]).permute(2, 0, 1))
            cv2_bgs.append(torch.from_numpy(w["background"]).permute(2, 0, 1))
        outputs["warp_only"] = torch.stack(warped)
        model_out = None
        for name in ("unet", "paper", "model"):
            if name in models:
                out = run_model(models[name], batch)
                outputs[name] = out["output"]
                if name == "model":
                    model_out = out
        if "model_drag" in methods:
            outputs["model_drag"] = run_model_drag_preview(models["model"], batch)["output"]
        if "model_cv2_background" in methods and model_out is not None and "mask" in model_out:
            m = model_out["mask"]
            outputs["model_cv2_background"] = m * model_out["foreground"] + (1 - m) * torch.stack(cv2_bgs)
        for name in methods:
            for key, values in pair_metrics(outputs[name].clamp(0, 1), target, region).items():
                collected[name][key].append(values)
        if sheet_path is not None and len(sheet_rows) < 6:
            sheet_rows.append(_eval_sheet_row(source[0], target[0], {m: outputs[m][0] for m in methods}))

    rows, per_video = [], {}
    videos_order = sorted(set(video_of))
    video_arr = np.asarray(video_of)
    for name in methods:
        values = {k: np.concatenate(v) for k, v in collected[name].items()}
        rows.append({"method": name, **{k: float(values[k].mean()) for k in ("l1", "ssim", "l1_person", "ssim_person")}})
        for vname in videos_order:
            sel = video_arr == vname
            per_video.setdefault(vname, []).append(
                {"method": name, "pairs": int(sel.sum()),
                 **{k: float(values[k][sel].mean()) for k in ("l1", "ssim", "l1_person", "ssim_person")}}
            )
    if sheet_path is not None and sheet_rows:
        from poseeditor.image_io import save_image

        save_image(sheet_path, np.concatenate(sheet_rows, axis=0))
    settings = {"data": str(data_root), "videos": how, "size": size, "seed": seed,
                "models": {k: m.source for k, m in models.items()}}
    return EvalResult(pairs=len(chosen), rows=rows, per_video=per_video, settings=settings)


def _eval_sheet_row(source: torch.Tensor, target: torch.Tensor, outputs: dict[str, torch.Tensor]) -> np.ndarray:
    cells = [source, target] + list(outputs.values())
    return np.concatenate(
        [(np.clip(c.permute(1, 2, 0).numpy(), 0, 1) * 255 + 0.5).astype(np.uint8) for c in cells], axis=1
    )


def format_table(result: EvalResult, per_video: bool = True) -> str:
    """The table `posetrain eval` prints (Markdown, so it can go straight into a model card)."""
    lines = [
        f"{result.pairs} pairs; {result.settings['videos']}; crop {result.settings['size']}²; seed {result.settings['seed']}",
        "",
        "| method | L1 person ↓ | SSIM person ↑ | L1 whole ↓ | SSIM whole ↑ |",
        "|---|---|---|---|---|",
    ]
    for r in result.rows:
        lines.append(f"| {r['method']} | {r['l1_person']:.4f} | {r['ssim_person']:.3f} | {r['l1']:.4f} | {r['ssim']:.3f} |")
    if per_video and len(result.per_video) > 1:
        lines += ["", "per video (L1 person / SSIM person):", ""]
        methods = [r["method"] for r in result.rows]
        lines.append("| video | pairs | " + " | ".join(methods) + " |")
        lines.append("|---" * (len(methods) + 2) + "|")
        for vname, rows in result.per_video.items():
            cells = " | ".join(f"{r['l1_person']:.3f} / {r['ssim_person']:.2f}" for r in rows)
            lines.append(f"| {vname} | {rows[0]['pairs']} | {cells} |")
    return "\n".join(lines)
