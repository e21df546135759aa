"""How well each person pixel is given to its body part: per-part IoU against true part maps (issue 11, item 1).

    python benchmarks/part_assignment.py --data DIR [--model M] [--frames N] [--json OUT]

On a dataset with part maps (synthetic videos: `parts/<video>/<k>.png`, 0 = background, 1..10 = LIMBS order),
every frame's person pixels (the true silhouette, so only the assignment is measured) are labelled by
- `argmax`: the source segmentation alone: its part masks mapped into the photo, arg-max over the limbs;
- `network`: the same with each limb limited to its reach around the bone (the composite's "network" setting);
- `hybrid`: each part's probability weighted by exp(−distance to its bone / (0.02 · height)) (the composite's
  "hybrid" setting, photo_composite.HYBRID_FALLOFF);
- `nearest`: the nearest bone (or torso quadrilateral);
and compared with the truth: IoU per part, the mean over parts, pixel accuracy, and the hard case — forearm
pixels inside the torso's outline (arms in front of the body): the share of them labelled as their forearm.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FOREARMS = (2, 4)  # LIMBS indices of the right and left forearm
TORSO = 9


def torso_outline(pose, shape: tuple[int, int]) -> np.ndarray:  # noqa: ANN001
    canvas = np.zeros(shape, np.uint8)
    use = [j for j in (2, 5, 11, 8) if pose.visible[j]]
    if len(use) >= 3:
        cv2.fillConvexPoly(canvas, cv2.convexHull(np.round(pose.xy[use]).astype(np.int32)), 1)
    return canvas.astype(bool)


def source_argmax(part_masks: np.ndarray, photo_to_crop: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The source stage's arg-max over the 10 limb channels, resampled into the photo (bilinear)."""
    h, w = shape
    planes = [cv2.warpAffine(np.ascontiguousarray(part_masks[p + 1], np.float32), photo_to_crop, (w, h),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) for p in range(part_masks.shape[0] - 1)]
    return np.argmax(np.stack(planes), axis=0).astype(np.int16)


def main(argv: list[str] | None = None) -> int:
    from poseeditor.engine import load_engine
    from poseeditor.engine.photo_composite import prepare_photo
    from poseeditor.image_io import atomic_write_text
    from poseeditor.skeleton import LIMB_NAMES, NUM_LIMBS
    from trainer.data.dataset_format import read_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--frames", type=int, default=None, help="at most this many frames (evenly spread)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    engine = load_engine(args.model, "onnx")
    videos = [v for v in read_dataset(args.data) if v.has_parts]
    frames = [(v, k) for v in videos for k in range(len(v))]
    if args.frames and args.frames < len(frames):
        frames = [frames[i] for i in np.linspace(0, len(frames) - 1, args.frames).round().astype(int)]
    modes = ("argmax", "network", "hybrid", "nearest")
    inter = {m: np.zeros(NUM_LIMBS) for m in modes}
    union = {m: np.zeros(NUM_LIMBS) for m in modes}
    correct = dict.fromkeys(modes, 0)
    hard_correct = dict.fromkeys(modes, 0)
    total = hard_total = 0
    for video, k in frames:
        photo, pose = video.load_frame(k), video.pose(k)
        truth = video.load_parts(k).astype(np.int16) - 1  # -1 background, 0..9 limbs
        person = truth >= 0
        state = engine.prepare_source(photo, pose)
        hard = person & np.isin(truth, FOREARMS) & torso_outline(pose, truth.shape)
        total += int(person.sum())
        hard_total += int(hard.sum())
        for mode in modes:
            if mode == "argmax":  # the source segmentation alone: its arg-max over the limbs, nothing else
                labels = source_argmax(state.part_masks, state.crop.matrix, truth.shape)
            else:
                layers = prepare_photo(photo, state.crop, state.part_masks, pose.xy, pose.visible,
                                       person_mask=person.astype(np.float32), assignment=mode)
                labels = layers.labels
            labels = np.where(person, labels, -1)
            for part in range(NUM_LIMBS):
                t, p = truth == part, labels == part
                inter[mode][part] += (t & p).sum()
                union[mode][part] += (t | p).sum()
            correct[mode] += int((labels[person] == truth[person]).sum())
            hard_correct[mode] += int((labels[hard] == truth[hard]).sum())
    report = {"frames": len(frames), "data": str(args.data), "model": engine.info["model"], "modes": {}}
    print(f"{len(frames)} frames of {args.data}; person pixels from the true silhouette")
    print("| assignment | mean part IoU | pixel accuracy | forearm in front of the torso: labelled forearm | "
          + " | ".join(LIMB_NAMES) + " |")
    print("|---" * (4 + NUM_LIMBS) + "|")
    for mode in modes:
        iou = inter[mode] / np.maximum(union[mode], 1)
        accuracy = correct[mode] / max(total, 1)
        hard_share = hard_correct[mode] / max(hard_total, 1)
        report["modes"][mode] = {"iou": dict(zip(LIMB_NAMES, iou.tolist())), "mean_iou": float(iou.mean()),
                                 "accuracy": accuracy, "forearm_in_front": hard_share, "forearm_pixels": hard_total}
        print(f"| {mode} | {iou.mean():.3f} | {accuracy:.3f} | {hard_share:.3f} ({hard_total} px) | "
              + " | ".join(f"{v:.2f}" for v in iou) + " |")
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
