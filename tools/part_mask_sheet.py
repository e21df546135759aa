"""Issue 11's looking tools: what the source segmentation makes of real photos, and what raising an arm that lies
in front of the body then gives, for one or more models side by side (docs/eval/part_masks_real.md).

    python tools/part_mask_sheet.py --model resources/models/default [--model NEW_MODEL_DIR] \
        --list docs/eval/arm_in_front_frames.txt \
        --parts-out docs/eval/part_masks_real.jpg --repose-out docs/eval/arm_raise_real.jpg

Photos come from list files (`--list`, entries as in tools/real_frames.py: bundled samples, dataset frames with
their joints, demo-video frames posed by the detector) and/or photo globs (a photo with its `.pose.json` beside).

Parts sheet, one row per photo: the photo with its skeleton (the arm to be raised drawn thick) | the nearest-bone
assignment (`nearest`, the editor's default; it depends on the pose and the person mask only, so it is shown once)
| per model: the plain arg-max of the source stage's part masks mapped into the photo (`argmax`) | what the editor
makes of them with `inference.assignment: network` (`network`: the same arg-max with each limb limited to a capsule
around its bone) | the soft mask of the raised arm's forearm (+hand), mapped into the photo (bright = 1).
"fa x" in a tile's title: over the person's pixels within 0.035 person heights of that forearm's bone (elbow to
wrist; a forearm is about that wide each side), the share labelled forearm, or the soft mask's mean.
Labels are the engine's own (`Engine.prepare_photo`), restricted to the person mask the editor uses (the
detector's, snapped to the photo; `--mask network`: the network's own split), painted in LAYER_COLOURS.

Re-pose sheet, one row per photo: the source with the edit drawn (the in-front arm's elbow and wrist moved up and
out, `arm_in_front.raise_arm_in_front`) | per model: the editor's photo-true composite at the photo's resolution
with `network` parts | with `nearest` parts (`full_resolution_layers` + `Engine.compose_photo`, exemplar fill).
Tiles are cut around the person and scaled to `--row-height`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arm_in_front import ARMS, arm_in_front_score, raise_arm_in_front  # noqa: E402
from real_frames import VIDEOS, RealFrame, list_entries, load_entry  # noqa: E402

from poseeditor.engine import Engine, full_resolution_layers, load_engine  # noqa: E402
from poseeditor.engine.engine import SourceState  # noqa: E402
from poseeditor.engine.photo_composite import LABEL_ALPHA, person_height  # noqa: E402
from poseeditor.errors import PoseEditorError  # noqa: E402
from poseeditor.geometry import compose_affine  # noqa: E402
from poseeditor.image_io import save_image  # noqa: E402
from poseeditor.skeleton import (BONES, JOINT_COLOURS, LAYER_COLOURS, LAYER_NAMES, NUM_LIMBS, Pose,  # noqa: E402
                               bone_colour)

FOREARM_LAYER = {"r": LAYER_NAMES.index("r_forearm"), "l": LAYER_NAMES.index("l_forearm")}
TINT = 0.7  # share of the part colour over the photo in the label tiles
HEADER = 22


@dataclass
class Model:
    label: str
    engine: Engine


@dataclass
class Prepared:
    """One photo: its pose, the edit, the shared person mask and each model's source stage."""

    frame: RealFrame
    side: str
    score: float
    target: Pose
    mask: np.ndarray | None
    states: list[SourceState]


def load_models(folders: list[str], labels: list[str], threads: int) -> list[Model]:
    if labels and len(labels) != len(folders):
        raise PoseEditorError(f"{len(labels)} --label for {len(folders)} --model")
    names = labels or [Path(f).resolve().name for f in folders]
    return [Model(name, load_engine(folder, "onnx", threads=threads)) for name, folder in zip(names, folders)]


def prepare(frame: RealFrame, models: list[Model], mask_kind: str) -> Prepared:
    side, target = raise_arm_in_front(frame.pose, side=frame.arm, require=False)
    score = arm_in_front_score(frame.pose.xy, frame.pose.visible, side)
    mask = None
    if mask_kind == "detector":
        from poseeditor.detector import person_mask

        mask = person_mask(frame.photo, frame.pose)
    states = [m.engine.prepare_source(frame.photo, frame.pose) for m in models]
    return Prepared(frame, side, score, target, mask, states)


# ------------------------------------------------------------------------------------------------ pictures
def person_box(prepared: Prepared, with_target: bool) -> tuple[int, int, int, int]:
    """The person's box in photo pixels (joints, the target's too, and the person mask), padded."""
    pose = prepared.frame.pose
    h, w = prepared.frame.photo.shape[:2]
    boxes = [pose.box()] + ([prepared.target.box()] if with_target else [])
    if prepared.mask is not None and (prepared.mask > 0.5).any():
        ys, xs = np.nonzero(prepared.mask > 0.5)
        boxes.append((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())))
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = 0.08 * max(y1 - y0, x1 - x0, 16.0)
    return (int(max(0, x0 - pad)), int(max(0, y0 - pad)), int(min(w, x1 + pad + 1)), int(min(h, y1 + pad + 1)))


def put_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.45) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def tile(image: np.ndarray, box: tuple[int, int, int, int], height: int, title: str) -> np.ndarray:
    x0, y0, x1, y1 = box
    cut = np.ascontiguousarray(image[y0:y1, x0:x1])
    scale = height / cut.shape[0]
    size = (max(1, round(cut.shape[1] * scale)), height)
    cut = cv2.resize(cut, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height + HEADER, max(size[0], text_width(title)), 3), np.uint8)
    out[HEADER:, : size[0]] = cut
    put_text(out, title, (3, 16))
    return out


def draw_pose(photo: np.ndarray, pose: Pose, side: str | None = None, target: Pose | None = None) -> np.ndarray:
    """The skeleton; the arm `side` thick, and its edited bones (target) in white."""
    out = photo.copy()
    t = max(2, round(max(photo.shape[:2]) / 500))
    xy = np.round(pose.xy).astype(int)
    arm = set(ARMS[side]) if side else set()
    for a, b in BONES:
        if pose.visible[a] and pose.visible[b]:
            width = 2 * t if {a, b} <= arm else t
            cv2.line(out, tuple(xy[a]), tuple(xy[b]), bone_colour(a, b), width, cv2.LINE_AA)
    for j, (x, y) in enumerate(xy):
        if pose.visible[j]:
            cv2.circle(out, (int(x), int(y)), 2 * t, JOINT_COLOURS[j], -1, cv2.LINE_AA)
    if target is not None and side:
        s, e, w = ARMS[side]
        txy = np.round(target.xy).astype(int)
        for a, b in ((s, e), (e, w)):
            cv2.line(out, tuple(txy[a]), tuple(txy[b]), (255, 255, 255), t, cv2.LINE_AA)
        for j in (e, w):
            cv2.circle(out, tuple(txy[j]), 2 * t, (255, 255, 255), -1, cv2.LINE_AA)
    return out


def paint_labels(photo: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Part labels (LIMBS index, -1 = background) over a darkened grey photo, in the project's layer colours."""
    grey = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    colours = np.asarray(LAYER_COLOURS, np.float32)[np.clip(labels.astype(np.int16) + 1, 0, len(LAYER_COLOURS) - 1)]
    person = (labels >= 0)[:, :, None]
    out = np.where(person, TINT * colours + (1.0 - TINT) * grey, 0.45 * grey)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def soft_mask_in_photo(state: SourceState, layer: int, shape: tuple[int, int]) -> np.ndarray:
    """One channel of the source stage's part masks (crop) mapped into the photo, float32 in [0, 1]."""
    h, w = shape
    plane = np.ascontiguousarray(state.part_masks[layer], dtype=np.float32)
    return cv2.warpAffine(plane, state.crop.matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def argmax_labels(state: SourceState, alpha: np.ndarray) -> np.ndarray:
    """(H, W) int8: the plain arg-max of the source stage's 10 limb channels mapped into the photo (no reach
    limit), -1 where the person alpha is at most LABEL_ALPHA (the editor's person pixels)."""
    labels = np.full(alpha.shape, -1, np.int8)
    person = alpha > LABEL_ALPHA
    if not person.any():
        return labels
    ys, xs = np.nonzero(person)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    to_box = compose_affine(state.crop.matrix, np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]]))
    best = np.full((y1 - y0, x1 - x0), -np.inf, np.float32)
    region = np.zeros((y1 - y0, x1 - x0), np.int8)
    for part in range(NUM_LIMBS):
        prob = cv2.warpAffine(np.ascontiguousarray(state.part_masks[part + 1], dtype=np.float32), to_box,
                              (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        better = prob > best
        best[better] = prob[better]
        region[better] = part
    labels[y0:y1, x0:x1] = np.where(person[y0:y1, x0:x1], region, -1)
    return labels


FOREARM_RADIUS = 0.035  # a forearm's half-width, as a fraction of the person's height


def forearm_capsule(pose: Pose, side: str, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels within FOREARM_RADIUS of the `side` forearm's bone (elbow to wrist)."""
    _, elbow, wrist = ARMS[side]
    radius = max(2, round(FOREARM_RADIUS * person_height(pose.xy, pose.visible)))
    canvas = np.zeros(shape, np.uint8)
    a, b = (tuple(int(v) for v in np.round(pose.xy[j])) for j in (elbow, wrist))
    cv2.line(canvas, a, b, 1, 2 * radius)
    for centre in (a, b):
        cv2.circle(canvas, centre, radius, 1, -1)
    return canvas > 0


def mean_in(values: np.ndarray, where: np.ndarray) -> float:
    return float(values[where].mean()) if where.any() else float("nan")


def paint_soft(photo: np.ndarray, soft: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    heat = cv2.applyColorMap(np.clip(soft * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB).astype(np.float32)
    a = np.clip(soft, 0.0, 1.0)[:, :, None] * 0.85
    return np.clip(0.4 * grey * (1.0 - a) + heat * a + 0.5, 0, 255).astype(np.uint8)


def hstack(tiles: list[np.ndarray]) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    gap = np.zeros((height, 4, 3), np.uint8)
    parts: list[np.ndarray] = []
    for t in tiles:
        parts += [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0))), gap]
    return np.hstack(parts[:-1])


def text_width(text: str, scale: float = 0.45) -> int:
    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + 8


def row_block(title: str, tiles: list[np.ndarray]) -> np.ndarray:
    row = hstack(tiles)
    width = max(row.shape[1], text_width(title))
    head = np.full((HEADER, width, 3), 40, np.uint8)
    put_text(head, title, (4, 16))
    return np.vstack([head, np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)))])


def legend(width: int) -> np.ndarray:
    """The layer colours, wrapped into lines of at most `width` pixels."""
    lines = [np.full((HEADER, width, 3), 24, np.uint8)]
    x = 4
    for name, colour in zip(LAYER_NAMES[1:], LAYER_COLOURS[1:]):
        step = 20 + text_width(name, 0.4)
        if x + step > width and x > 4:
            lines.append(np.full((HEADER, width, 3), 24, np.uint8))
            x = 4
        cv2.rectangle(lines[-1], (x, 5), (x + 12, 17), tuple(int(c) for c in colour), -1)
        put_text(lines[-1], name, (x + 15, 16), 0.4)
        x += step
    return np.vstack(lines)


def sheet(blocks: list[np.ndarray]) -> np.ndarray:
    width = max(max(b.shape[1] for b in blocks), 320)
    blocks = [legend(width)] + blocks
    return np.vstack([np.pad(b, ((0, 6), (0, width - b.shape[1]), (0, 0))) for b in blocks])


def row_title(p: Prepared) -> str:
    f = p.frame
    mask = "detector mask" if p.mask is not None else "network mask"
    return (f"{f.name} ({f.pose_source} pose, {mask}): {p.side} arm; its wrist's depth in the torso "
            f"{p.score:+.2f} torso heights (> 0: inside)")


# ------------------------------------------------------------------------------------------------ the rows
def parts_row(p: Prepared, models: list[Model], height: int) -> np.ndarray:
    photo = p.frame.photo
    box = person_box(p, with_target=False)
    tiles = [tile(draw_pose(photo, p.frame.pose, p.side), box, height, "photo + pose")]
    limb = FOREARM_LAYER[p.side] - 1  # LIMBS index
    capsule = forearm_capsule(p.frame.pose, p.side, photo.shape[:2])

    def on_bone(labels: np.ndarray) -> str:
        return f"{mean_in(labels == limb, capsule & (labels >= 0)):.2f}"

    nearest = models[0].engine.prepare_photo(photo, p.states[0], person_mask=p.mask, assignment="nearest")
    tiles.append(tile(paint_labels(photo, nearest.labels), box, height, f"nearest, fa {on_bone(nearest.labels)}"))
    for model, state in zip(models, p.states):
        layers = model.engine.prepare_photo(photo, state, person_mask=p.mask, assignment="network")
        argmax = argmax_labels(state, layers.alpha)
        tiles.append(tile(paint_labels(photo, argmax), box, height, f"{model.label}: argmax, fa {on_bone(argmax)}"))
        tiles.append(tile(paint_labels(photo, layers.labels), box, height,
                          f"{model.label}: network, fa {on_bone(layers.labels)}"))
        hybrid = model.engine.prepare_photo(photo, state, person_mask=p.mask, assignment="hybrid").labels
        tiles.append(tile(paint_labels(photo, hybrid), box, height, f"{model.label}: hybrid, fa {on_bone(hybrid)}"))
        soft = soft_mask_in_photo(state, FOREARM_LAYER[p.side], photo.shape[:2])
        soft_mean = mean_in(soft, capsule & (layers.labels >= 0))
        print(f"  {model.label}: near the {p.side} forearm's bone: nearest {on_bone(nearest.labels)}, argmax "
              f"{on_bone(argmax)}, network {on_bone(layers.labels)} labelled forearm; p(forearm) {soft_mean:.2f}",
              flush=True)
        tiles.append(tile(paint_soft(photo, soft), box, height,
                          f"{model.label}: p({p.side}_forearm), fa {soft_mean:.2f}"))
    return row_block(row_title(p), tiles)


def repose_row(p: Prepared, models: list[Model], height: int) -> np.ndarray:
    photo, pose = p.frame.photo, p.frame.pose
    box = person_box(p, with_target=True)
    tiles = [tile(draw_pose(photo, pose, p.side, p.target), box, height, "source + edit")]
    for model, state in zip(models, p.states):
        result = model.engine.render(state, p.target)
        for assignment in ("network", "hybrid", "nearest"):
            layers = full_resolution_layers(photo, pose, state.crop, state.part_masks, p.mask, assignment)
            image = Engine.compose_photo(layers, result).image
            tiles.append(tile(image, box, height, f"{model.label}: {assignment}"))
    return row_block(row_title(p), tiles)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", help="photo globs (a .pose.json beside each, else the detector's)")
    parser.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    parser.add_argument("--label", action="append", default=[], help="column label per --model (default: folder)")
    parser.add_argument("--list", action="append", default=[], help="list file of entries (tools/real_frames.py)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder that video entries are relative to")
    parser.add_argument("--parts-out", help="the part-mask sheet (JPEG)")
    parser.add_argument("--repose-out", help="the before/after re-pose sheet (JPEG)")
    parser.add_argument("--row-height", type=int, default=256)
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--mask", choices=("detector", "network"), default="detector",
                        help="person mask: the detector's (as the editor) or the network's own split")
    parser.add_argument("--threads", type=int, default=1, help="ONNX threads per model")
    args = parser.parse_args(argv)
    if not args.parts_out and not args.repose_out:
        parser.error("give --parts-out and/or --repose-out")
    entries = list_entries(args.list, args.photos)
    if not entries:
        parser.error("no photos: give --list and/or photo globs")
    models = load_models(args.model, args.label, args.threads)
    parts_blocks, repose_blocks = [], []
    for entry in entries:
        p = prepare(load_entry(entry, args.videos), models, args.mask)
        print(f"{p.frame.name}: {p.side} arm, score {p.score:+.2f}", flush=True)
        if args.parts_out:
            parts_blocks.append(parts_row(p, models, args.row_height))
        if args.repose_out:
            repose_blocks.append(repose_row(p, models, args.row_height))
    for out, blocks in ((args.parts_out, parts_blocks), (args.repose_out, repose_blocks)):
        if out:
            image = sheet(blocks)
            save_image(out, image, quality=args.quality)
            print(f"wrote {out} ({image.shape[1]}×{image.shape[0]}, {Path(out).stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
