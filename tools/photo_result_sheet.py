"""A result sheet of real exports: for each edit, the source photo, the first release's export and the photo-true
export, cut to the person at the photo's resolution (docs/photo_composite.md).

    python tools/photo_result_sheet.py -o docs/photo_composite_sheet.jpg

Edits are the bundled samples with a pose change each (an arm raised, a leg stepped); the photos are licence-clean
(resources/samples/LICENSES.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseeditor.detector import person_mask  # noqa: E402
from poseeditor.engine import load_engine, photo_result  # noqa: E402
from poseeditor.image_io import load_image, save_image  # noqa: E402
from poseeditor.pose_io import load_pose  # noqa: E402
from poseeditor.skeleton import JOINT_INDEX, Pose  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"

# (photo, title, {joint: (x, y)}) — target joints in photo pixels; the rest stay where the detector put them.
EDITS: tuple[tuple[str, str, dict[str, tuple[float, float]]], ...] = (
    ("sample.jpg", "raise the right forearm", {"r_elbow": (715, 590), "r_wrist": (690, 530)}),
    ("sample.jpg", "step: back leg forward", {"r_knee": (730, 725), "r_ankle": (735, 810)}),
    ("lab_cam02.jpg", "left arm up, right arm down",
     {"l_elbow": (600, 420), "l_wrist": (640, 330), "r_elbow": (372, 590), "r_wrist": (365, 690)}),
)


def edited(pose: Pose, moves: dict[str, tuple[float, float]]) -> Pose:
    for name, (x, y) in moves.items():
        pose = pose.with_joint(JOINT_INDEX[name], x, y)
    return pose


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = np.ascontiguousarray(tile)
    for colour, width in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(tile, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, width, cv2.LINE_AA)
    return tile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--height", type=int, default=460, help="height of each tile in the sheet")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    engine = load_engine(args.model, "onnx")
    rows = []
    for photo_name, title, moves in EDITS:
        photo = load_image(SAMPLES / photo_name)
        h, w = photo.shape[:2]
        source = load_pose(SAMPLES / photo_name.replace(".jpg", ".pose.json"), image_size=(w, h))
        target = edited(source, moves)
        state = engine.prepare_source(photo, source)
        result = engine.render(state, target)
        release = engine.paste_back(photo, state, result)
        photo_true = photo_result(photo, source, result, person_mask(photo, source))
        (x0, y0, x1, y1), (a0, b0, a1, b1) = source.box(), target.box()
        pad = 0.25 * max(y1 - y0, b1 - b0)
        box = (int(max(0, min(x0, a0) - pad)), int(max(0, min(y0, b0) - pad)),
               int(min(w, max(x1, a1) + pad)), int(min(h, max(y1, b1) + pad)))
        tiles = []
        for name, image in (("source", photo), ("first release", release), ("photo-true", photo_true)):
            cut = image[box[1]:box[3], box[0]:box[2]]
            scale = args.height / cut.shape[0]
            cut = cv2.resize(cut, (round(cut.shape[1] * scale), args.height),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            tiles.append(label(cut, name))
        row = np.hstack(tiles)
        header = np.full((30, row.shape[1], 3), 32, np.uint8)
        rows.append(np.vstack([label(header, f"{photo_name}: {title}"), row]))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0))) for r in rows])
    save_image(args.output, sheet, quality=88)
    print(f"wrote {args.output} ({sheet.shape[1]}×{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
