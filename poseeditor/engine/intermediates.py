"""Writing a render's intermediates to a folder: one PNG per intermediate, `transforms.json`, `timings.json`.

Used by `poseeditor render --intermediates` and by the editor's File → Export intermediates, so both write the
same files; every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from poseeditor.engine.engine import RenderResult
from poseeditor.image_io import atomic_write_text, save_image, to_uint8
from poseeditor.skeleton import LIMB_NAMES


def write_intermediates(folder: Path, result: RenderResult, extra_timings: dict[str, float]) -> None:
    """`extra_timings` (seconds) joins the render's own timings, e.g. the command line's file reading."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in result.intermediates().items():
        save_image(folder / f"{name}.png", to_uint8(image))
    transforms = {
        "convention": "2x3 matrices mapping target crop pixels to source crop pixels (cv2 WARP_INVERSE_MAP)",
        "crop_matrix": result.crop.matrix.round(6).tolist(),
        "crop_size": result.crop.size,
        "limbs": {name: m.round(6).tolist() for name, m in zip(LIMB_NAMES, result.transforms)},
    }
    atomic_write_text(folder / "transforms.json", json.dumps(transforms, indent=1) + "\n")
    timings = {k: round(v, 3) for k, v in {**extra_timings, **result.timings}.items()}
    atomic_write_text(folder / "timings.json", json.dumps(timings, indent=1) + "\n")
