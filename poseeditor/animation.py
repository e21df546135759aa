"""Animations between poses, without Qt: pose interpolation and atomic GIF / MP4 writers.

Poses are interpolated bone by bone (angle along the shortest turn, length linearly, the mid-hip linearly),
so a swinging arm keeps its length instead of shrinking through the middle as straight-line blending would.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from poseeditor.errors import ExportError
from poseeditor.image_io import PendingFile, atomic_write_bytes
from poseeditor.joint_tree import JOINT_PARENTS, MID_HIP, TREE_ORDER, anchor_point
from poseeditor.skeleton import NUM_JOINTS, Pose

ANIMATION_SUFFIXES = (".gif", ".mp4")


class ExportCancelled(Exception):
    """The user pressed Cancel: nothing was written."""


def interpolate_pose(start: Pose, end: Pose, t: float) -> Pose:
    """The pose a fraction `t` (0..1) of the way from `start` to `end` (same image size)."""
    t = float(min(max(t, 0.0), 1.0))
    # A joint hidden at one end borrows its position from the other, so it does not fly in from (0, 0).
    a_xy = np.where(start.visible[:, None], start.xy, end.xy)
    b_xy = np.where(end.visible[:, None], end.xy, start.xy)
    a_root, b_root = anchor_point(start), anchor_point(end)
    out = np.zeros((NUM_JOINTS, 2))
    root = (1 - t) * a_root + t * b_root
    for j in TREE_ORDER:
        p = JOINT_PARENTS[j]
        va = a_xy[j] - (a_root if p == MID_HIP else a_xy[p])
        vb = b_xy[j] - (b_root if p == MID_HIP else b_xy[p])
        la, lb = float(np.hypot(*va)), float(np.hypot(*vb))
        angle_a, angle_b = math.atan2(va[1], va[0]), math.atan2(vb[1], vb[0])
        turn = (angle_b - angle_a + math.pi) % (2 * math.pi) - math.pi
        angle = angle_a + t * turn
        length = (1 - t) * la + t * lb
        start_point = root if p == MID_HIP else out[p]
        out[j] = start_point + length * np.array([math.cos(angle), math.sin(angle)])
    visible = start.visible if t < 0.5 else end.visible
    return Pose(out, visible | (start.visible & end.visible), start.width, start.height)


def pose_sequence(keyframes: Sequence[Pose], frames_per_segment: int) -> list[Pose]:
    """Poses through all keyframes, `frames_per_segment` steps between consecutive ones, ends included."""
    if len(keyframes) < 2:
        raise ValueError("an animation needs at least two poses")
    if frames_per_segment < 1:
        raise ValueError("frames_per_segment must be at least 1")
    poses = [keyframes[0]]
    for a, b in zip(keyframes[:-1], keyframes[1:]):
        poses.extend(interpolate_pose(a, b, k / frames_per_segment) for k in range(1, frames_per_segment + 1))
    return poses


ProgressCallback = Callable[[int, int], bool]  # (done, total) -> keep going?


def write_animation(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    total: int,
    fps: float = 12.0,
    progress: ProgressCallback | None = None,
) -> None:
    """Write RGB uint8 frames (all the same size) as a GIF or MP4 chosen by the suffix, atomically.

    `frames` may be a generator that renders on demand; `progress(done, total)` returning False cancels
    (raises ExportCancelled and leaves no file behind).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise ExportError(f"{path}: an animation must be .gif or .mp4")
    if fps <= 0:
        raise ExportError("frames per second must be positive")
    writer = _GifWriter(path, fps) if suffix == ".gif" else _Mp4Writer(path, fps)
    try:
        done = 0
        for frame in frames:
            writer.add(_checked_frame(frame))
            done += 1
            if progress is not None and not progress(done, total):
                raise ExportCancelled()
        if done == 0:
            raise ExportError(f"{path}: no frames to write")
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def _checked_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"animation frames must be (H, W, 3) uint8; got {frame.dtype} {frame.shape}")
    return frame


class _GifWriter:
    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.frames: list[Image.Image] = []

    def add(self, frame: np.ndarray) -> None:
        if self.frames and self.frames[0].size != (frame.shape[1], frame.shape[0]):
            raise ValueError("all animation frames must have the same size")
        # One adaptive palette per frame keeps skin tones; dithering off avoids crawling noise between frames.
        self.frames.append(Image.fromarray(frame).quantize(256, dither=Image.Dither.NONE))

    def commit(self) -> None:
        buffer = io.BytesIO()
        first, *rest = self.frames
        duration = max(int(round(1000.0 / self.fps)), 20)  # browsers treat < 20 ms as 100 ms
        first.save(buffer, format="GIF", save_all=True, append_images=rest, duration=duration, loop=0)
        atomic_write_bytes(self.path, buffer.getvalue())

    def abort(self) -> None:
        self.frames = []


class _Mp4Writer:
    """cv2.VideoWriter into a temporary file beside the target, renamed over it on success."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.pending = PendingFile(path, suffix=".mp4")  # cv2 picks the container from the suffix
        self.tmp = self.pending.tmp
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None

    def add(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.writer is None:
            # mp4v wants even sizes; pad by one pixel rather than rescale.
            self.size = (w + w % 2, h + h % 2)
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
            if not self.writer.isOpened():
                raise ExportError(f"{self.path}: this OpenCV build cannot write MP4 (mp4v)")
        assert self.size is not None
        if (w + w % 2, h + h % 2) != self.size:
            raise ValueError("all animation frames must have the same size")
        if (w, h) != self.size:
            frame = cv2.copyMakeBorder(frame, 0, self.size[1] - h, 0, self.size[0] - w, cv2.BORDER_REPLICATE)
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def commit(self) -> None:
        assert self.writer is not None
        self.writer.release()
        self.writer = None
        if self.tmp.stat().st_size == 0:
            raise ExportError(f"{self.path}: the video encoder wrote nothing")
        self.pending.commit()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        self.pending.abort()
