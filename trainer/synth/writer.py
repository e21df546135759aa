"""Write synthetic videos in the project's dataset format (docs/dataset_format.md), in parallel processes.

Video i of a run with seed S is rendered from the seed `video_seed(S, i)`, independent of the number of
workers and of the order in which workers finish, so the same command always writes identical files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from poseeditor.errors import PoseEditorError
from poseeditor.image_io import atomic_write_text, save_image

FRAME_SUFFIX = ".jpg"
JPEG_QUALITY = 92


def video_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def video_name(index: int) -> str:
    return f"synth_{index:05d}"


def person_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def write_video(out: Path, name: str, frames, description: dict) -> None:  # type: ignore[no-untyped-def]
    """Frames, part maps and masks as image files, then the info JSON last (its presence marks a finished video)."""
    size = frames[0].image.shape[0]
    for sub in ("frames", "parts", "masks"):
        (out / sub / name).mkdir(parents=True, exist_ok=True)
    (out / "info").mkdir(parents=True, exist_ok=True)
    entries = []
    for k, frame in enumerate(frames):
        stem = f"{k:05d}"
        save_image(out / "frames" / name / f"{stem}{FRAME_SUFFIX}", frame.image, quality=JPEG_QUALITY)
        save_image(out / "parts" / name / f"{stem}.png", frame.parts)
        save_image(out / "masks" / name / f"{stem}.png", frame.mask)
        joints = [[round(float(x), 2), round(float(y), 2), int(v)] for (x, y), v in zip(frame.joints, frame.visible)]
        entries.append({"file": f"{stem}{FRAME_SUFFIX}", "joints": joints, "box": person_box(frame.mask)})
    info = {"video": name, "width": size, "height": size, "source": "synthetic", "synth": description,
            "frames": entries}
    atomic_write_text(out / "info" / f"{name}.json", json.dumps(info, indent=1))


def write_dataset_header(out: Path, seed: int, n_videos: int, n_frames: int, size: int, motion_mix: str = "v1") -> None:
    from trainer.data.dataset_format import write_manifest

    mix = "" if motion_mix == "v1" else f" --motion-mix {motion_mix}"
    write_manifest(
        out,
        source=f"synthetic (anny; posetrain synth --videos {n_videos} --frames {n_frames} --seed {seed} --size {size}{mix})",
        licence="generated; background photos CC0/public domain/BSD-3, see trainer/synth/backgrounds/SOURCES.md",
    )


# --- worker processes: each builds the body model once ----------------------------------------------------

_BODY = None


def _init_worker() -> None:
    global _BODY
    import torch

    torch.set_num_threads(1)  # one core per worker; parallelism is across processes
    from trainer.synth.body import BodyModel

    _BODY = BodyModel()


def _render_one(task: tuple[str, int, int, int, int, str]) -> int:
    from trainer.synth.scene import render_video

    out, seed, index, n_frames, size, motion_mix = task
    frames, description = render_video(_BODY, video_seed(seed, index), n_frames, size, motion_mix=motion_mix)
    write_video(Path(out), video_name(index), frames, description)
    return index


def synthesize(out: Path, n_videos: int, n_frames: int, seed: int, size: int = 256, workers: int = 1,
               skip_existing: bool = True, progress: Callable[[int], None] | None = None,
               motion_mix: str = "v1") -> int:
    """Render videos 0..n_videos-1 into `out`; returns how many were rendered (finished ones are skipped,
    so an interrupted run resumes)."""
    from trainer.synth.body import require_anny

    from trainer.synth.motion import MOTION_MIXES

    if motion_mix not in MOTION_MIXES:
        raise PoseEditorError(f"unknown motion mix {motion_mix!r}; known: {', '.join(MOTION_MIXES)}")
    require_anny()  # fail here with a clear message, not inside worker initialisers (a Pool would retry forever)
    write_dataset_header(out, seed, n_videos, n_frames, size, motion_mix)
    todo = [i for i in range(n_videos) if not (skip_existing and (out / "info" / f"{video_name(i)}.json").exists())]
    if progress:
        progress(n_videos - len(todo))
    tasks = [(str(out), seed, i, n_frames, size, motion_mix) for i in todo]
    for _ in _run(tasks, workers):
        if progress:
            progress(1)
    return len(todo)


def _run(tasks: list, workers: int) -> Iterator[int]:  # type: ignore[type-arg]
    if not tasks:
        return
    if workers <= 1:
        _init_worker()
        for task in tasks:
            yield _render_one(task)
        return
    # "spawn": torch and fork do not mix well, and each worker builds its own anny model anyway.
    ctx = get_context("spawn")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_render_one, tasks)
