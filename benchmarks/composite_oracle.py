"""How much can the networks still give the photo-true composite? Oracle bounds (issue 11).

    python benchmarks/composite_oracle.py --data DIR [--model M] [--pairs N] [--gap-close F ...] [--json OUT]

The editor's full-resolution composite (docs/photo_composite.md) takes two things from the networks: which body
part each person pixel belongs to (the assignment) and, in the gaps inside the new silhouette that no moved source
pixel covers, the target stage's generated RGB. This script replaces each by the truth and scores the result the
way `posetrain photo-eval` does (shift-tolerant LPIPS over the edit region, edit L1/SSIM, vacated L1, sharpness):

- `nearest`:          the editor: each person pixel to its nearest bone, the model's generated RGB in the gaps;
- `no_generated`:     the same with no generated RGB at all (the no-learning full-resolution warp);
- `truth_in_gaps`:    nearest bone, and the *target photo itself* as the generator (RGB and silhouette mapped into
                      the crop): what a perfect target network could add;
- `true_parts`:       the data's true part maps as the assignment (synthetic videos only), the model's RGB;
- `true_parts_truth_in_gaps`: both oracles;
- `true_legs`, `true_arms`, `true_head_torso`: the true part map for one group of parts only (pixels the truth or
  the nearest bone gives to that group), nearest bone elsewhere: which parts' labels matter;
- with `--labels-from M`: `hybrid_all`, `hybrid_legs`, `hybrid_arms`, `hybrid_head_torso`: the same with model M's
  hybrid labels (its segmentation weighted by the bone distance) in place of the truth, the shipped render
  otherwise — what a retrained segmentation gives the composite, by group.

Each row is repeated for every `--gap-close` value (how wide a gap in the moved parts' coverage still counts as
inside the person; the editor uses photo_composite.GAP_CLOSE). On data with part maps a second table repeats the
rows on the pairs where the source has a forearm in front of the torso (over --arm-pixels forearm pixels inside
the shoulders–hips outline) and a wrist moves by more than 8 % of the person's height: the case issue 11 is about.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseeditor.engine.photo_composite import GAP_CLOSE, PhotoLayers, _box_of, compose_photo, person_height
from poseeditor.skeleton import NUM_LIMBS

FOREARMS = (2, 4)
WRISTS = (4, 7)


def with_labels(layers: PhotoLayers, labels: np.ndarray) -> PhotoLayers:
    """`layers` with another part assignment (same person alpha: pixels it leaves out stay background)."""
    labels = np.where(layers.labels >= 0, labels, -1).astype(np.int8)
    boxes = tuple(_box_of(labels == part, pad=1) for part in range(NUM_LIMBS))
    return replace(layers, labels=labels, part_boxes=boxes)


GROUPS: dict[str, tuple[int, ...]] = {"legs": (5, 6, 7, 8), "arms": (1, 2, 3, 4), "head_torso": (0, 9)}


def true_part_layers(layers: PhotoLayers, true_parts: np.ndarray, group: tuple[int, ...] | None = None) -> PhotoLayers:
    """The assignment taken from a part map (0 background, 1..10 LIMBS order); person pixels of the editor's mask
    that the truth calls background keep their nearest-bone label. `group`: only pixels that the truth or the
    nearest bone gives to one of these parts take the true label (which body parts' labels matter)."""
    truth = true_parts.astype(np.int16) - 1
    truth = np.where(truth >= 0, truth, layers.labels)
    if group is not None:
        take = np.isin(truth, group) | np.isin(layers.labels, group)
        truth = np.where(take, truth, layers.labels)
    return with_labels(layers, truth)


def truth_as_generator(target_photo: np.ndarray, target_person: np.ndarray, crop_matrix: np.ndarray,
                       size: int) -> tuple[np.ndarray, np.ndarray]:
    """The target photo and its silhouette seen in the crop, as a perfect target stage would output them."""
    rgb = cv2.warpAffine(target_photo, crop_matrix, (size, size), flags=cv2.INTER_AREA).astype(np.float32) / 255.0
    mask = cv2.warpAffine(target_person.astype(np.float32), crop_matrix, (size, size), flags=cv2.INTER_LINEAR)
    return rgb, mask


def forearm_in_front(true_parts: np.ndarray, xy: np.ndarray) -> int:
    """Forearm pixels inside the torso's outline (shoulders and hips)."""
    canvas = np.zeros(true_parts.shape, np.uint8)
    cv2.fillConvexPoly(canvas, cv2.convexHull(np.round(xy[[2, 5, 11, 8]]).astype(np.int32)), 1)
    labels = true_parts.astype(np.int16) - 1
    return int(np.isin(labels, FOREARMS)[canvas > 0].sum())


PALETTE = np.random.default_rng(3).integers(40, 255, (NUM_LIMBS + 1, 3)).astype(np.uint8)
PALETTE[0] = 0  # background black


def write_sheet(path: str, engine: Any, frames: list[list[Any]], videos: list[Any],
                pairs: list[tuple[int, ...]], tile: tuple[int, int] = (150, 225)) -> None:
    """One row per pair, each cut to the edit region: source, truth, nearest-bone labels, nearest bone with the
    truth in the gaps, the true part map, the true parts with the truth in the gaps."""
    from poseeditor.engine.photo_fill import FILL_CACHE
    from poseeditor.image_io import save_image
    from trainer.photo_eval import edit_grow_px
    from trainer.photo_metrics import grow, region_box

    rows = []
    for v, i, j in pairs:
        source, target = frames[v][i], frames[v][j]
        state = engine.prepare_source(source.photo, source.pose)
        result = engine.render(state, target.pose)
        near = engine.prepare_photo(source.photo, state, person_mask=source.detector_mask, assignment="nearest")
        near = near.with_fill(FILL_CACHE.fill(near.photo, near.hole))
        true = true_part_layers(near, videos[v].load_parts(i))
        rgb, mask = truth_as_generator(target.photo, target.person, result.crop.matrix, result.crop.size)
        outs = [compose_photo(lay, result.transforms, rgb, mask, result.target_xy, result.target_visible).image
                for lay in (near, true)]
        x0, y0, x1, y1 = region_box(grow(source.person | target.person, edit_grow_px(target.pose)))
        tiles = [source.photo, target.photo, PALETTE[near.labels.astype(int) + 1], outs[0],
                 PALETTE[true.labels.astype(int) + 1], outs[1]]
        rows.append(np.hstack([cv2.resize(np.ascontiguousarray(t[y0:y1, x0:x1]), tile, interpolation=cv2.INTER_AREA)
                               for t in tiles]))
    save_image(path, np.vstack(rows), quality=85)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", default=None)
    p.add_argument("--pairs", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gap-close", type=float, nargs="+", default=[GAP_CLOSE])
    p.add_argument("--arm-pixels", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--labels-from", default=None, metavar="M", help="add rows with this model's hybrid labels")
    p.add_argument("--sheet", default=None, help="save a picture of these pairs (--sheet-pairs) and stop")
    p.add_argument("--sheet-pairs", nargs="+", default=[], metavar="V,I,J")
    args = p.parse_args()

    from poseeditor.engine import load_engine
    from poseeditor.engine.photo_fill import FILL_CACHE
    from trainer.data.dataset_format import read_dataset
    from trainer.perceptual import PerceptualDistance
    from trainer.photo_eval import all_pairs, edit_grow_px, load_frames, perceptual_crop
    from trainer.photo_metrics import grow, photo_metrics, region_box

    engine = load_engine(args.model, "onnx", threads=args.threads)
    labeller = load_engine(args.labels_from, "onnx", threads=args.threads) if args.labels_from else None
    lpips = PerceptualDistance().distance
    frames, _ = load_frames(args.data)
    videos = read_dataset(Path(args.data))
    has_parts = all(v.has_parts for v in videos)
    pairs = all_pairs(frames, args.pairs, args.seed)
    if args.sheet:
        write_sheet(args.sheet, engine, frames, videos, [tuple(map(int, t.split(","))) for t in args.sheet_pairs])
        return 0
    per_pair: list[dict[str, Any]] = []
    layers: dict[tuple[int, int], tuple[PhotoLayers, PhotoLayers | None, int, dict[str, PhotoLayers]]] = {}
    for v, i, j in pairs:
        source, target = frames[v][i], frames[v][j]
        state = engine.prepare_source(source.photo, source.pose)
        if (v, i) not in layers:
            near = engine.prepare_photo(source.photo, state, person_mask=source.detector_mask, assignment="nearest")
            near = near.with_fill(FILL_CACHE.fill(near.photo, near.hole))
            parts = videos[v].load_parts(i) if has_parts else None
            groups = {} if parts is None else {f"true_{name}": true_part_layers(near, parts, members)
                                               for name, members in GROUPS.items()}
            if labeller is not None:
                hybrid = labeller.prepare_photo(source.photo, labeller.prepare_source(source.photo, source.pose),
                                                person_mask=source.detector_mask, assignment="hybrid").labels
                groups["hybrid_all"] = true_part_layers(near, (hybrid + 1).astype(np.uint8))
                for name, members in GROUPS.items():
                    groups[f"hybrid_{name}"] = true_part_layers(near, (hybrid + 1).astype(np.uint8), members)
            layers = {(v, i): (near, None if parts is None else true_part_layers(near, parts),
                               0 if parts is None else forearm_in_front(parts, source.pose.xy), groups)}
        near, true, arm_px, groups = layers[(v, i)]
        result = engine.render(state, target.pose)
        truth_rgb, truth_mask = truth_as_generator(target.photo, target.person, result.crop.matrix, result.crop.size)
        g = edit_grow_px(target.pose)
        box = region_box(grow(source.person | target.person, g))
        truth_crop = perceptual_crop(target.photo, box)
        height = person_height(source.pose.xy, source.pose.visible)
        wrist_move = float(np.linalg.norm(source.pose.xy[list(WRISTS)] - target.pose.xy[list(WRISTS)], axis=1).max())
        entry: dict[str, Any] = {"video": v, "source": i, "target": j,
                                 "arm_case": bool(arm_px > args.arm_pixels and wrist_move > 0.08 * height)}
        outputs = {"no_generated": compose_photo(near, result.transforms).image}
        for row, lay in groups.items():  # at the editor's gap width only
            outputs[row] = compose_photo(lay, result.transforms, result.foreground, result.mask,
                                                     result.target_xy, result.target_visible).image
        for gc in args.gap_close:
            tag = f"@{gc:g}"
            net = (result.foreground, result.mask)
            oracle = (truth_rgb, truth_mask)
            for name, chosen, (rgb, mask) in (("nearest", near, net), ("truth_in_gaps", near, oracle),
                                              ("true_parts", true, net), ("true_parts_truth_in_gaps", true, oracle)):
                if chosen is None:
                    continue
                outputs[name + tag] = compose_photo(chosen, result.transforms, rgb, mask, result.target_xy,
                                                    result.target_visible, gap_close=gc).image
        for name, image in outputs.items():
            scores = photo_metrics(image, target.photo, source.person, target.person, g)
            scores["lpips"] = lpips(perceptual_crop(image, box), truth_crop)
            entry[name] = scores
        per_pair.append(entry)
        print(f"\r{len(per_pair)}/{len(pairs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    rows = [k for k in per_pair[0] if isinstance(per_pair[0][k], dict)]
    subsets = {"all pairs": per_pair}
    if has_parts:
        subsets["forearm in front of the torso, wrist moved"] = [e for e in per_pair if e["arm_case"]]
    tables: dict[str, Any] = {}
    for title, subset in subsets.items():
        print(f"\n{args.data}: {title} ({len(subset)} pairs), model {engine.info['model']}")
        print("| row | LPIPS ↓ | edit L1 ↓ | edit SSIM ↑ | vacated L1 ↓ | sharpness (→1) |")
        print("|---|---|---|---|---|---|")
        tables[title] = {}
        for row in rows:
            m = {k: float(np.nanmean([e[row][k] for e in subset])) if subset else float("nan")
                 for k in ("lpips", "edit_l1", "edit_ssim", "vacated_l1", "sharpness")}
            tables[title][row] = m
            print(f"| {row} | {m['lpips']:.4f} | {m['edit_l1']:.4f} | {m['edit_ssim']:.3f} | "
                  f"{m['vacated_l1']:.4f} | {m['sharpness']:.2f} |")
    if args.json:
        from poseeditor.image_io import atomic_write_text

        atomic_write_text(args.json, json.dumps({"data": args.data, "model": engine.info["model"],
                                                 "pairs": len(pairs), "tables": tables, "per_pair": per_pair},
                                                indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
