"""Real videos -> the dataset format: decode, find the person, drop unsure frames, downscale, write.

Joints come from the project's detector (`poseeditor.detector.detect`) or, when a sidecar `VIDEO.poses.json`
sits beside the video (a list with one pose object — our pose JSON — or null per decoded frame), from it.
The detector follows the person from frame to frame by searching around their previous box first, so a
bystander who walks through the shot does not take over.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from poseeditor import image_io
from poseeditor.errors import NoPersonFoundError, PoseEditorError, PoseFileError
from poseeditor.geometry import person_scale
from poseeditor.skeleton import NUM_JOINTS, Pose
from trainer.data.dataset_format import IMAGE_SUFFIXES, DatasetError, VideoWriter, read_rgb, write_manifest

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
CORE_JOINTS = (0, 1, 2, 5, 8, 11)  # head, neck, shoulders, hips: without them the crop and torso are guesses
MIN_KEPT_JOINTS = 10

Region = tuple[float, float, float, float]


@dataclass
class FramePerson:
    """What we know of the person in one frame (in the frame's own pixels)."""

    pose: Pose
    confidence: np.ndarray | None  # (14,) or None when the source gives none
    score: float = 1.0
    mask: np.ndarray | None = None  # (H, W) float in [0, 1]
    box: tuple[float, float, float, float] | None = None  # x0 y0 x1 y1


PersonFinder = Callable[[np.ndarray, int, "Region | None"], "FramePerson | None"]


@dataclass
class IngestOptions:
    stride: int = 1
    max_frames: int | None = None
    min_confidence: float = 0.5  # frame: detector score and every core joint's confidence must reach this
    min_joint_confidence: float = 0.3  # joint: below this it is written as not visible (occluded)
    long_side: int = 720
    group: str = ""
    name_prefix: str = ""
    poses: str = "auto"  # "auto": sidecar when present, else detector; "sidecar"; "detector"
    min_segment: int = 8  # kept frames between two person changes below this are dropped
    skip_bad: bool = False
    progress: bool = True
    frame_suffix: str = ".jpg"

    def check(self) -> None:
        if self.stride < 1:
            raise DatasetError(f"--stride must be ≥ 1; got {self.stride}")
        if self.max_frames is not None and self.max_frames < 1:
            raise DatasetError(f"--max-frames must be ≥ 1; got {self.max_frames}")
        if not 0.0 <= self.min_confidence <= 1.0 or not 0.0 <= self.min_joint_confidence <= 1.0:
            raise DatasetError("confidence thresholds must be in [0, 1]")
        if self.min_segment < 2:
            raise DatasetError(f"--min-segment must be ≥ 2; got {self.min_segment}")
        if self.long_side < 64:
            raise DatasetError(f"--long-side must be ≥ 64 px; got {self.long_side}")
        if self.poses not in ("auto", "sidecar", "detector"):
            raise DatasetError(f"--poses must be auto, sidecar or detector; got {self.poses}")


@dataclass
class IngestResult:
    video: str
    input: Path
    decoded: int = 0
    examined: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    pose_source: str = ""
    error: str = ""
    segments: list[tuple[str, int]] = field(default_factory=list)  # (video name written, frames)

    def line(self) -> str:
        if self.error:
            return f"{self.video}: FAILED: {self.error}"
        drops = ", ".join(f"{n} {why}" for why, n in sorted(self.dropped.items())) or "none"
        line = (
            f"{self.video}: kept {self.kept} of {self.examined} examined frames "
            f"({self.decoded} decoded; poses from {self.pose_source}; dropped: {drops})"
        )
        if len(self.segments) > 1:
            parts = ", ".join(f"{name} ({n})" for name, n in self.segments)
            line += f"; the person changes, so it was cut into {len(self.segments)} videos: {parts}"
        return line


# ------------------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class VideoInput:
    path: Path  # a video file, or a folder of images read as one video
    name: str

    @property
    def is_image_folder(self) -> bool:
        return self.path.is_dir()


def _clean_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return name or "video"


def find_inputs(paths: list[str | os.PathLike[str]], name_prefix: str = "") -> list[VideoInput]:
    """Video files as given; folders expand to the videos in them, or — if they hold no videos but images —
    to one video made of those images in name order."""
    if not paths:
        raise DatasetError("no input videos or folders given")
    found: list[VideoInput] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise DatasetError(f"{path}: no such file or folder")
        if path.is_file():
            found.append(VideoInput(path, _clean_name(name_prefix + path.stem)))
            continue
        videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if videos:
            found.extend(VideoInput(p, _clean_name(name_prefix + p.stem)) for p in videos)
        elif any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file()):
            found.append(VideoInput(path, _clean_name(name_prefix + path.name)))
        else:
            raise DatasetError(f"{path}: the folder holds no videos ({', '.join(VIDEO_SUFFIXES[:4])}, ...) or images")
    names = Counter(v.name for v in found)
    seen: Counter[str] = Counter()
    unique: list[VideoInput] = []
    for v in found:
        if names[v.name] > 1:  # same stem in two folders: number them so neither overwrites the other
            seen[v.name] += 1
            v = VideoInput(v.path, f"{v.name}_{seen[v.name]}")
        unique.append(v)
    return unique


def decode_frames(source: VideoInput) -> Iterator[np.ndarray]:
    """RGB uint8 frames of a video file (cv2/FFmpeg) or of an image folder. Raises DatasetError if undecodable."""
    if source.is_image_folder:
        files = sorted(p for p in source.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for f in files:
            yield read_rgb(f)
        return
    capture = cv2.VideoCapture(str(source.path))
    try:
        if not capture.isOpened():
            raise DatasetError(
                f"{source.path}: cannot be decoded as a video (not a video file, or an unsupported codec)"
            )
        w, h = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w * h > image_io.MAX_PIXELS:  # the editor's limit, checked before a frame is decoded
            raise DatasetError(f"{source.path}: {w}×{h} frames are over the limit of "
                               f"{image_io.MAX_PIXELS / 1e6:.0f} megapixels")
        count = 0
        while True:
            ok, bgr = capture.read()
            if not ok or bgr is None:
                break
            count += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise DatasetError(f"{source.path}: cannot be decoded as a video (no frame could be read)")
    finally:
        capture.release()


def sidecar_path(video: Path) -> Path | None:
    """`cam01.mp4.poses.json` or `cam01.poses.json` beside the video (for a folder: `<folder>.poses.json`)."""
    for candidate in (video.with_name(video.name + ".poses.json"), video.with_name(video.stem + ".poses.json")):
        if candidate.is_file():
            return candidate
    return None


def load_sidecar(path: Path) -> list[dict[str, Any] | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable JSON file ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("frames"), list):
        data = data["frames"]
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a list with one pose object (or null) per frame")
    if not all(item is None or isinstance(item, dict) for item in data):
        raise DatasetError(f"{path}: every entry must be a pose object or null")
    return data


def sidecar_finder(path: Path) -> PersonFinder:
    from poseeditor.pose_io import pose_from_dict

    entries = load_sidecar(path)

    def find(frame: np.ndarray, index: int, _region: Region | None) -> FramePerson | None:
        if index >= len(entries) or entries[index] is None:
            return None
        h, w = frame.shape[:2]
        try:
            pose = pose_from_dict(entries[index], image_size=(w, h))
        except PoseFileError as exc:
            raise DatasetError(f"{path}: frame {index}: {exc}") from None
        if (pose.width, pose.height) != (w, h):  # poses given for another resolution of the same video
            sx, sy = w / pose.width, h / pose.height
            xy = (pose.xy + 0.5) * (sx, sy) - 0.5
            pose = Pose(xy, pose.visible, w, h, pose.confidence)
        return FramePerson(pose=pose, confidence=pose.confidence)

    return find


def detector_finder() -> PersonFinder:
    try:
        from poseeditor.detector import detect
    except ImportError as exc:
        raise DatasetError(f"the person detector is not available ({exc}); give a VIDEO.poses.json sidecar") from None

    def find(frame: np.ndarray, _index: int, region: Region | None) -> FramePerson | None:
        found = None
        if region is not None:
            try:
                found = detect(frame, region=region)
            except NoPersonFoundError:
                found = None
        if found is None:
            try:
                found = detect(frame)
            except NoPersonFoundError:
                return None
        return FramePerson(found.pose, np.asarray(found.confidence), float(found.score), found.mask, found.box)

    return find


# ------------------------------------------------------------------------------------------------ frames
def downscale(frame: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    h, w = frame.shape[:2]
    s = min(1.0, long_side / max(h, w))
    if s >= 1.0:
        return frame, 1.0
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), size[0] / w


def judge(person: FramePerson, options: IngestOptions) -> tuple[np.ndarray | None, str]:
    """The visibility flags to write for this frame, or None and the reason it is too unsure to keep."""
    pose = person.pose
    visible = pose.visible.copy()
    if person.score < options.min_confidence:
        return None, "low detector score"
    if person.confidence is not None:
        conf = np.asarray(person.confidence, dtype=np.float64).reshape(NUM_JOINTS)
        if np.any(conf[list(CORE_JOINTS)] < options.min_confidence):
            return None, "unsure head/shoulders/hips"
        visible &= conf >= options.min_joint_confidence
    if not visible[list(CORE_JOINTS)].all():
        return None, "head/shoulders/hips not visible"
    if visible.sum() < MIN_KEPT_JOINTS:
        return None, f"fewer than {MIN_KEPT_JOINTS} visible joints"
    return visible, ""


def person_jumped(previous: Pose, current: Pose, frames_apart: int) -> bool:
    """True when `current` is unlikely to be the same person as `previous` a few frames earlier: the body centre
    (mean of head, neck, shoulders, hips) moved more than ~a third of a body height plus a tenth per frame apart,
    or the body's size changed by more than 1.6×. Then the detector has switched to someone else."""
    core = list(CORE_JOINTS)
    height_prev, height_cur = person_scale(previous) * 200.0, person_scale(current) * 200.0
    ratio = max(height_prev, height_cur) / max(1e-6, min(height_prev, height_cur))
    moved = float(np.linalg.norm(current.xy[core].mean(axis=0) - previous.xy[core].mean(axis=0)))
    return ratio > 1.6 or moved > (0.35 + 0.1 * max(1, frames_apart)) * max(height_prev, height_cur)


class _Segments:
    """The kept frames of one input video, cut into segments where the person changes (or the video ends).

    The first segment is the video's name, later ones `<name>_s02`, `<name>_s03`, ...; segments shorter than
    `min_frames` are discarded (too short to tell whether they are right)."""

    def __init__(self, out: Path, source: VideoInput, options: IngestOptions, pose_source: str) -> None:
        self.out, self.source, self.options, self.pose_source = out, source, options, pose_source
        self.count = 0
        self.writer: VideoWriter | None = None
        self.closed: list[tuple[str, int]] = []
        self.discarded_frames = 0
        _remove_old_segments(out, source.name)

    def new(self) -> VideoWriter:
        self.finish()
        self.count += 1
        name = self.source.name if self.count == 1 else f"{self.source.name}_s{self.count:02d}"
        self.writer = VideoWriter(
            self.out,
            name,
            source="ingest",
            group=self.options.group or self.source.name,
            frame_suffix=self.options.frame_suffix,
            extra={"input": self.source.path.name, "poses": self.pose_source, "stride": self.options.stride},
        )
        return self.writer

    def finish(self) -> None:
        if self.writer is None:
            return
        if len(self.writer) >= max(2, self.options.min_segment):
            self.writer.close()
            self.closed.append((self.writer.name, len(self.writer)))
        else:
            self.discarded_frames += len(self.writer)
            self.writer.discard()
        self.writer = None

    def discard_all(self) -> None:
        if self.writer is not None:
            self.writer.discard()
            self.writer = None
        _remove_old_segments(self.out, self.source.name)
        for name, _ in self.closed:
            VideoWriter(self.out, name).discard()
        self.closed = []


def _remove_old_segments(out: Path, name: str) -> None:
    """Segments of an earlier ingest of the same video (`<name>_sNN`) would otherwise outlive this one."""
    info = out / "info"
    if not info.is_dir():
        return
    for path in info.glob(f"{name}_s[0-9][0-9].json"):
        VideoWriter(out, path.stem).discard()


def ingest_video(
    source: VideoInput, out: Path, options: IngestOptions, finder: PersonFinder, pose_source: str
) -> IngestResult:
    result = IngestResult(video=source.name, input=source.path, pose_source=pose_source)
    segments = _Segments(out, source, options, pose_source)
    region: Region | None = None
    previous: tuple[int, Pose] | None = None  # (frame index, pose) of the last kept frame
    bar = _progress(source.name, options.progress)
    try:
        for index, frame in enumerate(decode_frames(source)):
            result.decoded += 1
            if index % options.stride:
                continue
            if options.max_frames is not None and result.kept >= options.max_frames:
                break
            result.examined += 1
            bar.update(1)
            small, scale = downscale(frame, options.long_side)
            # Sidecar poses are in the video's own pixels; the detector runs on the smaller frame.
            person = finder(frame if pose_source == "sidecar" else small, index, region)
            if person is None:
                result.dropped["no person"] += 1
                region = None
                continue
            visible, why = judge(person, options)
            if visible is None:
                result.dropped[why] += 1
                region = None
                continue
            s = scale if pose_source == "sidecar" else 1.0
            joints = (person.pose.xy + 0.5) * s - 0.5
            pose = Pose(joints, visible, small.shape[1], small.shape[0])
            mask = None
            if person.mask is not None:
                m = np.asarray(person.mask, dtype=np.float32)
                if m.shape != small.shape[:2]:
                    m = cv2.resize(m, small.shape[1::-1], interpolation=cv2.INTER_AREA)
                mask = np.where(m > 0.5, 255, 0).astype(np.uint8)
            writer = segments.writer
            if (
                writer is None
                or previous is None
                or person_jumped(previous[1], pose, (index - previous[0]) // options.stride)
            ):
                writer = segments.new()
            writer.add(small, joints, visible, mask=mask, extra={"source_frame": index})
            result.kept += 1
            previous = (index, pose)
            if person.box is not None:
                x0, y0, x1, y1 = person.box
                region = (x0, y0, x1 - x0, y1 - y0)
        segments.finish()
    except BaseException:
        segments.discard_all()
        raise
    finally:
        bar.close()
    if segments.discarded_frames:
        result.dropped["in too short segments"] += segments.discarded_frames
        result.kept -= segments.discarded_frames
    result.segments = segments.closed
    if result.kept == 0:
        segments.discard_all()
        if result.examined == 0:
            raise DatasetError(f"{source.path}: no frames (empty video or folder)")
        drops = ", ".join(f"{n} {why}" for why, n in result.dropped.items())
        raise NoPersonFoundError(f"{source.path}: no frame with a clearly visible person ({drops})")
    return result


class _NoBar:
    def update(self, _n: int) -> None: ...
    def close(self) -> None: ...


def _progress(name: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(desc=name, unit="frame", file=sys.stderr, leave=False)


def ingest(
    inputs: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    options: IngestOptions | None = None,
    detector: PersonFinder | None = None,
) -> list[IngestResult]:
    """Ingest videos/folders into dataset `out`. Stops at the first bad video unless `options.skip_bad`.

    `detector` replaces the project's detector (tests; other detectors). Returns one result per input video."""
    options = options or IngestOptions()
    options.check()
    sources = find_inputs(list(inputs), options.name_prefix)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    results: list[IngestResult] = []
    model_finder: PersonFinder | None = detector
    for source in sources:
        sidecar = sidecar_path(source.path) if options.poses != "detector" else None
        try:
            if sidecar is not None:
                finder, pose_source = sidecar_finder(sidecar), "sidecar"
            elif options.poses == "sidecar":
                raise DatasetError(f"{source.path}: no sidecar {source.path.name}.poses.json beside it")
            else:
                if model_finder is None:
                    model_finder = detector_finder()
                finder, pose_source = model_finder, "detector" if detector is None else "custom detector"
            results.append(ingest_video(source, out, options, finder, pose_source))
        except PoseEditorError as exc:
            if not options.skip_bad:
                raise
            results.append(IngestResult(video=source.name, input=source.path, error=str(exc)))
    if not any(r.kept for r in results):
        raise NoPersonFoundError("no person found in any frame of the given videos")
    write_manifest(out, source="ingest", licence="as the input videos")
    return results
