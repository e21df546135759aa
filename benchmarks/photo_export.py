"""Full-resolution export time of the photo-true composite (docs/photo_composite.md).

    python benchmarks/photo_export.py [--photo P --pose P.json] [--scale 2.4] [--repeats 5] [--json OUT]

Scales the bundled sample (1600×900) by `--scale` (2.4 → 3840×2160, 4K UHD), makes the exemplar fill once (the
editor does this in the background after opening), then times what an export does after that, `--repeats` times:
the photo side at full resolution (person mask refinement, part labels, the cached fill), the composite, and
the file encode (PNG and JPEG q95). Prints medians and the CPU's SIMD level.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cpu import simd_level  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from poseeditor.detector import person_mask
    from poseeditor.engine import full_resolution_layers, load_engine
    from poseeditor.engine.photo_composite import compose_photo
    from poseeditor.image_io import atomic_write_text, load_image, save_image
    from poseeditor.pose_io import load_pose
    from poseeditor.resources import sample_photo
    from poseeditor.skeleton import JOINT_INDEX, Pose

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--pose", type=Path, default=None)
    parser.add_argument("--scale", type=float, default=2.4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    photo_path = args.photo or sample_photo()
    pose_path = args.pose or photo_path.with_name(photo_path.stem + ".pose.json")
    small = load_image(photo_path)
    photo = cv2.resize(small, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_CUBIC)
    h, w = photo.shape[:2]
    pose = load_pose(pose_path, image_size=(small.shape[1], small.shape[0]))
    source = Pose(pose.xy * args.scale, pose.visible, w, h)
    elbow, wrist = JOINT_INDEX["r_elbow"], JOINT_INDEX["r_wrist"]
    target = source.with_joint(elbow, *(source.xy[elbow] + [-10 * args.scale, -15 * args.scale])).with_joint(
        wrist, *(source.xy[wrist] + [0, -100 * args.scale]))
    engine = load_engine(None, "onnx")
    state = engine.prepare_source(photo, source)
    result = engine.render(state, target)
    mask = person_mask(photo, source)
    t0 = time.perf_counter()
    full_resolution_layers(photo, source, result.crop, result.part_masks, mask, engine.assignment)
    fill_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {"photo side (cached fill)": [], "composite": [], "PNG encode": [],
                                     "JPEG encode": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            layers = full_resolution_layers(photo, source, result.crop, result.part_masks, mask, engine.assignment)
            t1 = time.perf_counter()
            image = compose_photo(layers, result.transforms, result.foreground, result.mask, result.target_xy,
                                  result.target_visible).image
            t2 = time.perf_counter()
            save_image(Path(tmp) / "out.png", image)
            t3 = time.perf_counter()
            save_image(Path(tmp) / "out.jpg", image)
            t4 = time.perf_counter()
            for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[key].append(dt * 1000.0)
    assert isinstance(image, np.ndarray)
    medians = {key: statistics.median(v) for key, v in times.items()}
    print(f"photo {w}×{h} · CPU SIMD: {simd_level()} · first fill (PatchMatch, once per photo): {fill_s:.2f} s")
    print("| step | median ms |")
    print("|---|---|")
    for key, value in medians.items():
        print(f"| {key} | {value:.0f} |")
    side, comp = medians["photo side (cached fill)"], medians["composite"]
    print(f"| export to JPEG, photo side made here | {side + comp + medians['JPEG encode']:.0f} |")
    print(f"| export to PNG, photo side made here | {side + comp + medians['PNG encode']:.0f} |")
    # In the editor the worker makes the full-resolution photo side in the background after opening, so an
    # export only composes and encodes.
    print(f"| editor export to JPEG (photo side made in the background) | {comp + medians['JPEG encode']:.0f} |")
    print(f"| editor export to PNG (photo side made in the background) | {comp + medians['PNG encode']:.0f} |")
    if args.json:
        atomic_write_text(args.json, json.dumps({"size": [w, h], "simd": simd_level(), "first_fill_s": fill_s,
                                                 "median_ms": medians, "all_ms": times}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
