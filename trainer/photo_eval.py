"""Full-resolution evaluation: every pair rendered through the editor's own path and scored at the photo's size
(`posetrain photo-eval`; DESIGN.md §5, §9; docs/photo_composite.md).

Rows, in one run on the same pairs:
- identity:       the photo untouched;
- release:        the first release's result: the 256² crop upscaled into the photo (Engine.paste_back);
- warp_only_crop: the crop-level no-learning warp (trainer.baselines.warp_only) pasted back the same way;
- warp_fullres:   the no-learning warp at the photo's resolution: the detector's person mask, each person pixel
                  to its nearest bone, per-part similarity in photo pixels, exemplar fill; no network output;
- photo_true:     the editor's composite (the engine's own settings): parts assigned as model.json says
                  (nearest bone by default), the target network's generated RGB in the gaps inside the new
                  silhouette;
- photo_true_net_parts: the same with each person pixel assigned by the source network's part masks;
- photo_true_nearest:   the same with each person pixel to its nearest bone;
- photo_true_hybrid:    the same with the network's part probabilities weighted by the distance to each bone
                        (photo_composite.HYBRID_FALLOFF).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from poseeditor.engine import Engine
from poseeditor.engine.photo_composite import PhotoLayers
from poseeditor.engine.photo_fill import FILL_CACHE
from poseeditor.errors import PoseEditorError
from poseeditor.skeleton import Pose
from trainer.photo_metrics import grow, person_region_from_joints, photo_metrics, region_box

ROWS = ("identity", "release", "warp_only_crop", "warp_fullres", "photo_true", "photo_true_net_parts",
        "photo_true_nearest", "photo_true_hybrid")
# With --drag-preview: the editor's composite from the drag-time render (target stage at half the side) and the
# crop-level paste-back of that render, beside the settled rows (docs/drag_speed.md).
DRAG_ROWS = ("release_drag", "photo_true_drag")
METRICS = ("lpips", "edit_l1", "edit_ssim", "vacated_l1", "sharpness")


@dataclass
class Frame:
    photo: np.ndarray  # (H, W, 3) uint8 RGB
    pose: Pose
    person: np.ndarray  # (H, W) bool: the true silhouette, or one drawn from the joints
    detector_mask: np.ndarray | None  # (H, W) float32 soft person mask from the editor's detector


@dataclass
class PhotoEvalResult:
    rows: dict[str, dict[str, float]]  # row -> metric -> mean
    pairs: int
    per_pair: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def edit_grow_px(pose: Pose) -> int:
    """How far the edit region reaches beyond the two people: 3 % of the person's height."""
    from poseeditor.geometry import person_scale

    return max(3, round(0.03 * person_scale(pose) * 200.0 / 1.14))


def perceptual_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The edit region's box at half resolution (what the perceptual distance compares)."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    return cv2.resize(crop, (max(32, (x1 - x0) // 2), max(32, (y1 - y0) // 2)), interpolation=cv2.INTER_AREA)


def render_rows(engine: Engine, frame: Frame, target: Pose, layers: dict[str, PhotoLayers],
                drag_preview: bool = False) -> dict[str, np.ndarray]:
    """Every row's full-resolution output for one pair (`drag_preview`: also DRAG_ROWS)."""
    from trainer.baselines import warp_only

    state = engine.prepare_source(frame.photo, frame.pose)
    result = engine.render(state, target)
    out = {"identity": frame.photo, "release": engine.paste_back(frame.photo, state, result)}
    crop_image = state.source_unit
    baseline = warp_only(crop_image, state.source_xy, frame.pose.visible, result.target_xy, target.visible)
    crop_result = dataclasses.replace(result, output=baseline["output"], mask=baseline["mask"])
    out["warp_only_crop"] = engine.paste_back(frame.photo, state, crop_result)
    out["warp_fullres"] = Engine.compose_photo(layers["nearest"], result, generated=False).image
    out["photo_true"] = engine.compose_photo(layers[engine.assignment], result).image
    out["photo_true_net_parts"] = engine.compose_photo(layers["network"], result).image
    out["photo_true_nearest"] = engine.compose_photo(layers["nearest"], result).image
    out["photo_true_hybrid"] = engine.compose_photo(layers["hybrid"], result).image
    if drag_preview:
        if engine.preview_size is None:
            raise PoseEditorError(f"{engine.info['model']}: this model has no drag-time preview (fixed-size ONNX)")
        dragged = engine.render(state, target, preview=True)
        out["release_drag"] = engine.paste_back(frame.photo, state, dragged)
        out["photo_true_drag"] = engine.compose_photo(layers[engine.assignment], dragged).image
    return out


def source_layers(engine: Engine, frame: Frame) -> dict[str, PhotoLayers]:
    """The photo side of both full-resolution rows for one source frame, with the exemplar fill (cached)."""
    state = engine.prepare_source(frame.photo, frame.pose)
    layers = {}
    for assignment in {"network", "nearest", "hybrid", engine.assignment}:
        prepared = engine.prepare_photo(frame.photo, state, person_mask=frame.detector_mask, assignment=assignment)
        layers[assignment] = prepared.with_fill(FILL_CACHE.fill(prepared.photo, prepared.hole))
    return layers


def evaluate_photos(
    engine: Engine,
    frames: list[list[Frame]],
    pairs: list[tuple[int, int, int]],
    perceptual: Callable[[np.ndarray, np.ndarray], float] | None,
    progress: Callable[[int], None] | None = None,
    drag_preview: bool = False,
) -> PhotoEvalResult:
    """Score every row on `pairs` of (video, source frame, target frame)."""
    rows_used = ROWS + (DRAG_ROWS if drag_preview else ())
    sums: dict[str, dict[str, list[float]]] = {r: {m: [] for m in METRICS} for r in rows_used}
    per_pair: list[dict[str, Any]] = []
    layer_cache: dict[tuple[int, int], dict[str, PhotoLayers]] = {}
    for n, (v, i, j) in enumerate(pairs):
        source, target = frames[v][i], frames[v][j]
        if (v, i) not in layer_cache:
            layer_cache = {(v, i): source_layers(engine, source)}  # pairs come grouped by source frame
        outputs = render_rows(engine, source, target.pose, layer_cache[(v, i)], drag_preview)
        g = edit_grow_px(target.pose)
        box = region_box(grow(source.person | target.person, g))
        truth_crop = perceptual_crop(target.photo, box) if perceptual else None
        entry: dict[str, Any] = {"video": v, "source": i, "target": j}
        for row, image in outputs.items():
            scores = photo_metrics(image, target.photo, source.person, target.person, g)
            if perceptual is not None:
                scores["lpips"] = perceptual(perceptual_crop(image, box), truth_crop)
            for metric, value in scores.items():
                sums[row][metric].append(value)
            entry[row] = scores
        per_pair.append(entry)
        if progress:
            progress(n + 1)
    rows = {r: {m: float(np.nanmean(v)) if v else float("nan") for m, v in ms.items()} for r, ms in sums.items()}
    return PhotoEvalResult(rows=rows, pairs=len(pairs), per_pair=per_pair)


def format_photo_table(result: PhotoEvalResult, title: str) -> str:
    lines = [f"{title}: {result.pairs} pairs, full resolution, edit region",
             "| row | LPIPS (st, alex) ↓ | edit L1 ↓ | edit SSIM ↑ | vacated L1 ↓ | sharpness (→1) |",
             "|---|---|---|---|---|---|"]
    for row, m in result.rows.items():
        lines.append(f"| {row} | {m['lpips']:.3f} | {m['edit_l1']:.4f} | {m['edit_ssim']:.3f} | "
                     f"{m['vacated_l1']:.4f} | {m['sharpness']:.2f} |")
    return "\n".join(lines)


def load_frames(root: str | os.PathLike[str], only_videos: set[str] | None = None,
                with_detector: bool = True) -> tuple[list[list[Frame]], list[str]]:
    """Every frame of a dataset folder (docs/dataset_format.md): true silhouettes where the data has masks,
    else regions drawn from the joints; the detector's mask of each frame (the editor's input)."""
    from poseeditor.detector import person_mask
    from trainer.data.dataset_format import read_dataset

    videos = [v for v in read_dataset(Path(root)) if only_videos is None or v.name in only_videos]
    if not videos:
        raise PoseEditorError(f"{root}: no videos to evaluate")
    out: list[list[Frame]] = []
    for video in videos:
        frames = []
        for k in range(len(video)):
            photo = video.load_frame(k)
            pose = video.pose(k)
            mask = video.load_mask(k) if video.has_masks else None
            person = mask > 0 if mask is not None else person_region_from_joints(pose, photo.shape[:2])
            frames.append(Frame(photo, pose, np.asarray(person, bool),
                                person_mask(photo, pose) if with_detector else None))
        out.append(frames)
    return out, [v.name for v in videos]


def all_pairs(frames: list[list[Frame]], limit: int | None = None, seed: int = 0) -> list[tuple[int, int, int]]:
    """Every ordered pair of distinct frames of each video (grouped by source frame); `limit` draws that many."""
    pairs = [(v, i, j) for v, fs in enumerate(frames) for i in range(len(fs)) for j in range(len(fs)) if i != j]
    if limit is not None and limit < len(pairs):
        rng = np.random.default_rng(seed)
        pairs = sorted(pairs[k] for k in rng.choice(len(pairs), size=limit, replace=False))
    return pairs


def write_json(path: str | os.PathLike[str], result: PhotoEvalResult) -> None:
    from poseeditor.image_io import atomic_write_text

    atomic_write_text(path, json.dumps(result.to_json(), indent=1))


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def write_sheet(path: str | os.PathLike[str], engine: Engine, frames: list[list[Frame]],
                pairs: list[tuple[int, int, int]], height: int = 360) -> None:
    """One line per pair: source | truth | each row, cut to the pair's edit region at full resolution and scaled
    to `height` (labels on top)."""
    from poseeditor.image_io import save_image

    lines = []
    for v, i, j in pairs:
        source, target = frames[v][i], frames[v][j]
        outputs = render_rows(engine, source, target.pose, source_layers(engine, source))
        g = edit_grow_px(target.pose)
        x0, y0, x1, y1 = region_box(grow(source.person | target.person, 4 * g))
        tiles = []
        for name, image in [("source", source.photo), ("truth", target.photo), *outputs.items()]:
            if name == "identity":
                continue
            tile = image[y0:y1, x0:x1]
            tile = cv2.resize(tile, (max(1, round(tile.shape[1] * height / tile.shape[0])), height),
                              interpolation=cv2.INTER_AREA)
            tile = np.ascontiguousarray(tile)
            cv2.putText(tile, name, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(tile, name, (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        lines.append(np.hstack(tiles))
    width = max(line.shape[1] for line in lines)
    sheet = np.vstack([np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0))) for line in lines])
    save_image(path, sheet)
