"""Animations between poses, without Qt: pose interpolation and atomic GIF / MP4 (H.264) writers.

Poses are interpolated bone by bone (angle along the shortest turn, length linearly, the mid-hip linearly),
so a swinging arm keeps its length instead of shrinking through the middle as straight-line blending would.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from poseeditor.errors import ExportError
from poseeditor.image_io import PendingFile, atomic_write_bytes, clean_stale_temp_files
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
    clean_stale_temp_files(path.parent if str(path.parent) else ".")  # what killed exports left here
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


def ffmpeg_executable() -> str:
    """The ffmpeg binary shipped in the imageio-ffmpeg wheel (a core dependency; built with libx264), or the one
    named by IMAGEIO_FFMPEG_EXE. There is deliberately no fallback to OpenCV's MPEG-4 Part 2 ("mp4v") writer:
    many players refuse those files, which is the bug this writer replaced."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ExportError(
            "MP4 export needs the ffmpeg shipped in the imageio-ffmpeg package (pip install imageio-ffmpeg); "
            "GIF export works without it"
        ) from None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (RuntimeError, OSError) as exc:
        raise ExportError(f"MP4 export: no usable ffmpeg ({exc}); GIF export works without it") from None


class _Mp4Writer:
    """H.264 (libx264, yuv420p, even width and height, +faststart): raw RGB frames piped to ffmpeg, which writes a
    temporary file beside the target; renamed over it, with the mode a plain open() gives, on success.

    A killed export leaves the temporary file (0600, our naming); `clean_stale_temp_files` removes it at the start
    of a later export into the same folder."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.exe = ffmpeg_executable()  # before the temporary file: no ffmpeg leaves nothing behind
        self.pending = PendingFile(path, suffix=".mp4")  # ffmpeg writes the temporary file itself
        self.tmp = self.pending.tmp
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # ffmpeg's stderr: a file, so a chatty ffmpeg can never block on a pipe
        self.size: tuple[int, int] | None = None

    def _start(self, width: int, height: int) -> None:
        command = [
            self.exe, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", f"{self.fps!r}",
            "-i", "pipe:0", "-an",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "medium", "-crf", "18",
            "-movflags", "+faststart", "-f", "mp4", str(self.tmp),
        ]  # fmt: skip
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=self.log)
        except OSError as exc:
            raise ExportError(f"{self.path}: could not start ffmpeg ({exc.strerror or exc})") from None

    def _ffmpeg_said(self) -> str:
        self.log.seek(0)
        lines = self.log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else "no message"

    def add(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.size is None:
            # yuv420p halves the chroma resolution: H.264 players want even sizes; pad by one pixel, never rescale.
            self.size = (w + w % 2, h + h % 2)
            self._start(*self.size)
        if (w + w % 2, h + h % 2) != self.size:
            raise ValueError("all animation frames must have the same size")
        if (w, h) != self.size:
            frame = cv2.copyMakeBorder(frame, 0, self.size[1] - h, 0, self.size[0] - w, cv2.BORDER_REPLICATE)
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            self.process.wait()
            raise ExportError(f"{self.path}: the video encoder stopped: {self._ffmpeg_said()}") from None

    def commit(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.close()
        except OSError:
            pass
        code = self.process.wait()
        self.process = None
        if code != 0 or self.tmp.stat().st_size == 0:
            raise ExportError(f"{self.path}: the video encoder failed: {self._ffmpeg_said()}")
        self.pending.commit()  # the mode a plain open() gives (mkstemp made it 0600), then the rename
        self.log.close()

    def abort(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self.log.close()
        self.pending.abort()
