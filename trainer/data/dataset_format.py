"""Reading and writing the project's dataset format (docs/dataset_format.md) and the paper's `.mat` layout.

One `VideoRecord` per video: one person in front of one background, seen by one still camera. Real (ingested) and
synthetic videos are read by the same code, so the pair dataset and the evaluator never care where frames came from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from poseeditor.errors import ImageError, PoseEditorError, PoseFileError
from poseeditor.image_io import atomic_write_text, image_size, load_image, save_image
from poseeditor.pose_io import read_paper_mat
from poseeditor.skeleton import NUM_JOINTS, Pose

FORMAT_NAME = "poseeditor-dataset"
FORMAT_VERSION = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_VIDEO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DatasetError(PoseEditorError):
    """A dataset folder, annotation file or input video is missing, malformed or unusable."""


@dataclass
class VideoRecord:
    """One video of a dataset: frame files plus per-frame joints (0-based photo pixels, contract order).

    `boxes` are the person's boxes as (x, y, w, h). `part_paths`/`mask_paths` are per-frame paths, or None for the
    frames (or the whole video) without them. `group` names the person/scene the video shows: videos of one group
    (e.g. several synchronized views of one person) must land on the same side of a held-out split.
    """

    name: str
    frame_paths: list[Path]
    joints: np.ndarray  # (n, 14, 2) float64
    visible: np.ndarray  # (n, 14) bool
    boxes: np.ndarray  # (n, 4) float64, x y w h
    width: int
    height: int
    part_paths: list[Path | None] | None = None
    mask_paths: list[Path | None] | None = None
    source: str = ""
    group: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.frame_paths)
        self.joints = np.asarray(self.joints, dtype=np.float64)
        self.visible = np.asarray(self.visible).astype(bool)
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4) if n else np.zeros((0, 4))
        if self.joints.shape != (n, NUM_JOINTS, 2):
            raise DatasetError(
                f"video {self.name}: joints must have shape ({n}, {NUM_JOINTS}, 2) for {n} frames; "
                f"got {self.joints.shape}"
            )
        if self.visible.shape != (n, NUM_JOINTS):
            raise DatasetError(
                f"video {self.name}: visibility must have shape ({n}, {NUM_JOINTS}); got {self.visible.shape}"
            )
        if self.boxes.shape != (n, 4):
            raise DatasetError(f"video {self.name}: boxes must have shape ({n}, 4); got {self.boxes.shape}")
        for what, paths in (("part maps", self.part_paths), ("masks", self.mask_paths)):
            if paths is not None and len(paths) != n:
                raise DatasetError(f"video {self.name}: {len(paths)} {what} for {n} frames")
        if not self.group:
            self.group = self.name

    def __len__(self) -> int:
        return len(self.frame_paths)

    @property
    def has_parts(self) -> bool:
        return self.part_paths is not None and any(p is not None for p in self.part_paths)

    @property
    def has_masks(self) -> bool:
        return self.mask_paths is not None and any(p is not None for p in self.mask_paths)

    def pose(self, k: int) -> Pose:
        return Pose(self.joints[k], self.visible[k], self.width, self.height)

    def load_frame(self, k: int) -> np.ndarray:
        """Frame k as (H, W, 3) uint8 RGB."""
        return read_rgb(self.frame_paths[k])

    def load_parts(self, k: int) -> np.ndarray | None:
        path = self.part_paths[k] if self.part_paths is not None else None
        return None if path is None else read_grey(path)

    def load_mask(self, k: int) -> np.ndarray | None:
        path = self.mask_paths[k] if self.mask_paths is not None else None
        return None if path is None else read_grey(path)


# ------------------------------------------------------------------------------------------------ pixels
def read_rgb(path: Path, reduce: int = 1) -> np.ndarray:
    """An image file as RGB uint8; `reduce` ∈ {1, 2, 4, 8} lets libjpeg decode at 1/reduce size (much faster).

    The editor's reader (`poseeditor.image_io.load_image`): its pixel limit, truncated files refused (OpenCV
    decoded them silently with a grey bottom), EXIF orientation applied (as cv2.IMREAD_COLOR did)."""
    try:
        return load_image(path, reduce=reduce)
    except ImageError as exc:
        raise DatasetError(str(exc)) from None


def read_grey(path: Path) -> np.ndarray:
    """A label map or mask as (H, W) uint8 (the first channel of a colour file). The header is checked against
    the editor's pixel limit before anything is decoded."""
    try:
        image_size(path)
    except ImageError as exc:
        raise DatasetError(str(exc)) from None
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"{path}: missing or not a readable image")
    if img.ndim == 3:
        img = img[:, :, 0]
    return img


# ------------------------------------------------------------------------------------------------ reading
def read_dataset(root: str | os.PathLike[str]) -> list[VideoRecord]:
    """All videos of a dataset folder: the project's `info/<video>.json` files and/or the paper's `info/*.mat`."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (a dataset is a folder with frames/ and info/)")
    info = root / "info"
    if not info.is_dir():
        if not any(root.iterdir()):
            raise DatasetError(f"{root}: the folder is empty (a dataset needs frames/ and info/)")
        raise DatasetError(f"{root}: no info/ folder (a dataset needs frames/<video>/ and info/<video>.json or .mat)")
    files = sorted(p for p in info.iterdir() if p.suffix.lower() in (".json", ".mat"))
    if not files:
        raise DatasetError(f"{root / 'info'}: no annotation files (<video>.json or <video>.mat)")
    names = [p.stem for p in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DatasetError(f"{info}: both .json and .mat annotations for video(s) {', '.join(dupes)}")
    single = len(files) == 1
    return [read_video_json(root, p) if p.suffix.lower() == ".json" else read_video_mat(root, p, single) for p in files]


def read_video_json(root: Path, info_path: Path) -> VideoRecord:
    try:
        data = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DatasetError(f"{info_path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise DatasetError(f'{info_path}: expected an object with a "frames" list')
    name = str(data.get("video", info_path.stem))
    if name != info_path.stem:
        raise DatasetError(f"{info_path}: says it is video '{name}' but the file is named '{info_path.stem}'")
    try:
        width, height = int(data["width"]), int(data["height"])
        if width <= 0 or height <= 0:
            raise ValueError
    except (KeyError, TypeError, ValueError, OverflowError):
        raise DatasetError(f'{info_path}: needs positive integer "width" and "height"') from None
    frames = data["frames"]
    if not frames:
        raise DatasetError(f"{info_path}: the video has no frames")
    if Path(name).name != name or name in ("", ".", ".."):
        raise DatasetError(f"{info_path}: the video name {name!r} is not a plain name")
    frame_dir = root / "frames" / name
    n = len(frames)
    joints = np.zeros((n, NUM_JOINTS, 2))
    visible = np.zeros((n, NUM_JOINTS), dtype=bool)
    boxes = np.zeros((n, 4))
    paths: list[Path] = []
    parts: list[Path | None] = []
    masks: list[Path | None] = []
    for k, frame in enumerate(frames):
        where = f"{info_path}: frame {k}"
        if not isinstance(frame, dict) or "file" not in frame or "joints" not in frame:
            raise DatasetError(f'{where}: expected an object with "file" and "joints"')
        arr = np.asarray(frame["joints"], dtype=object)
        if arr.ndim != 2 or arr.shape[0] != NUM_JOINTS or arr.shape[1] not in (2, 3):
            raise DatasetError(f"{where}: joints must be {NUM_JOINTS} rows of [x, y, visible]; got shape {arr.shape}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: joints hold something that is not a number") from None
        joints[k] = arr[:, :2]
        visible[k] = arr[:, 2] > 0.5 if arr.shape[1] == 3 else True
        visible[k] &= np.isfinite(joints[k]).all(axis=1)
        joints[k][~np.isfinite(joints[k])] = 0.0
        box = frame.get("box")
        boxes[k] = _box_or_from_joints(box, joints[k], visible[k], where)
        file = _frame_file(frame["file"], where)
        paths.append(frame_dir / file)
        stem = file.stem
        part = root / "parts" / name / f"{stem}.png"
        mask = root / "masks" / name / f"{stem}.png"
        parts.append(part if part.exists() else None)
        masks.append(mask if mask.exists() else None)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise DatasetError(f"{info_path}: {len(missing)} frame file(s) missing, first {missing[0]}")
    return VideoRecord(
        name=name,
        frame_paths=paths,
        joints=joints,
        visible=visible,
        boxes=boxes,
        width=width,
        height=height,
        part_paths=parts if any(p is not None for p in parts) else None,
        mask_paths=masks if any(p is not None for p in masks) else None,
        source=str(data.get("source", "")),
        group=str(data.get("group", "")),
        extra={k: v for k, v in data.items() if k not in ("video", "width", "height", "frames", "source", "group")},
    )


def _frame_file(value: Any, where: str) -> Path:
    """A frame's "file" as a path relative to its video's frame folder. Absolute paths and ".." are refused: an
    info file must never make the trainer read (and train on, and show in sample sheets) files outside the
    dataset. Symlinks the dataset's owner put inside the folder are theirs to make and are followed."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise DatasetError(f'{where}: "file" must be a non-empty file name, got {value!r}')
    file = Path(value)
    if file.is_absolute() or file.drive or ".." in file.parts or not file.parts or file.name in ("", "."):
        raise DatasetError(f'{where}: "file" {value!r} is not inside the video\'s frame folder (absolute paths and '
                           f'".." are refused)')
    return file


def _box_or_from_joints(box: Any, joints: np.ndarray, visible: np.ndarray, where: str) -> np.ndarray:
    if box is not None:
        try:
            b = np.asarray(box, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: box must be [x, y, w, h]") from None
        if b.shape != (4,) or not np.isfinite(b).all():
            raise DatasetError(f"{where}: box must be [x, y, w, h]")
        return b
    return joints_box(joints, visible)


def joints_box(joints: np.ndarray, visible: np.ndarray, pad: float = 0.1) -> np.ndarray:
    """(x, y, w, h) of the visible joints, padded by `pad` of its size on every side."""
    pts = joints[visible] if visible.any() else joints
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    px, py = pad * (x1 - x0), pad * (y1 - y0)
    return np.array([x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py])


def read_video_mat(root: Path, info_path: Path, single_video: bool) -> VideoRecord:
    """The paper's layout: `info/<video>.mat` (struct `data`: X 14×2×n 1-based pixels, bbox n×4) with frames
    `frames/<video>/<k>.jpg`, k = 1..n — or, for a single-video folder, directly in `frames/`."""
    try:
        mat = read_paper_mat(info_path)
    except PoseFileError as exc:
        raise DatasetError(str(exc)) from None
    joints = mat.joints
    n = len(joints)
    name = info_path.stem
    frame_dir = root / "frames" / name
    if not frame_dir.is_dir():
        flat = root / "frames"
        if single_video and flat.is_dir() and _numbered_images(flat):
            frame_dir = flat
        else:
            raise DatasetError(f"{info_path}: no frame folder {frame_dir}")
    numbered = _numbered_images(frame_dir)
    missing = [k for k in range(1, n + 1) if k not in numbered]
    if missing:
        raise DatasetError(f"{frame_dir}: {len(missing)} of {n} frames missing (first: {missing[0]}.jpg)")
    paths = [numbered[k] for k in range(1, n + 1)]
    width, height = _frame_size(paths)
    finite = np.isfinite(joints).all(axis=2)
    # The paper's files have no visibility flags; out-of-frame or missing coordinates mean "not visible" here.
    inside = (
        (joints[..., 0] >= 0) & (joints[..., 0] <= width - 1) & (joints[..., 1] >= 0) & (joints[..., 1] <= height - 1)
    )
    visible = finite & inside
    joints = np.where(np.isfinite(joints), joints, 0.0)
    boxes = mat.boxes if mat.boxes is not None else np.stack([joints_box(j, v) for j, v in zip(joints, visible)])
    return VideoRecord(
        name=name,
        frame_paths=paths,
        joints=joints,
        visible=visible,
        boxes=boxes,
        width=width,
        height=height,
        source="posewarp-mat",
    )


def _frame_size(paths: list[Path]) -> tuple[int, int]:
    """The video's frame size from the first frame whose header reads (one corrupt frame is skipped in training;
    it must not make the whole video unreadable here)."""
    first_error = None
    for path in paths:
        try:
            return image_size(path)
        except ImageError as exc:
            first_error = first_error or exc
    raise DatasetError(f"no frame of the video is readable; first: {first_error}")


def _numbered_images(folder: Path) -> dict[int, Path]:
    out: dict[int, Path] = {}
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit():
            out[int(p.stem)] = p
    return out


# ------------------------------------------------------------------------------------------------ writing
def write_manifest(root: str | os.PathLike[str], source: str, licence: str = "") -> None:
    """Create or update `dataset.json`; sources of earlier writes are kept (a dataset may mix sources)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "dataset.json"
    manifest: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "source": source, "licence": licence}
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        if isinstance(old, dict):
            sources = [s for s in str(old.get("source", "")).split(", ") if s]
            licences = [s for s in str(old.get("licence", "")).split("; ") if s]
            manifest["source"] = ", ".join(dict.fromkeys([*sources, source]))
            manifest["licence"] = "; ".join(dict.fromkeys([*licences, *([licence] if licence else [])]))
    atomic_write_text(path, json.dumps(manifest, indent=1) + "\n")


def check_video_name(name: str) -> str:
    if not _VIDEO_NAME.match(name):
        raise DatasetError(f"'{name}' is not a usable video name (letters, digits, '.', '_', '-'; no slashes)")
    return name


class VideoWriter:
    """Writes one video frame by frame (so a long video never sits in memory), then its info file on `close()`.

    Any earlier video of the same name in `root` is replaced. Frames are written atomically; the info file is
    written last, so a crashed writer leaves a video that `read_dataset` does not list (no info file yet).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        name: str,
        source: str = "",
        group: str = "",
        frame_suffix: str = ".jpg",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.name = check_video_name(name)
        self.source = source
        self.group = group
        self.suffix = frame_suffix
        self.extra = dict(extra or {})
        self._frames: list[dict[str, Any]] = []
        self._size: tuple[int, int] | None = None
        info = self.root / "info" / f"{name}.json"
        info.unlink(missing_ok=True)
        for sub in ("frames", "parts", "masks"):
            shutil.rmtree(self.root / sub / name, ignore_errors=True)
        (self.root / "frames" / name).mkdir(parents=True, exist_ok=True)
        (self.root / "info").mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._frames)

    def add(
        self,
        frame_rgb: np.ndarray,
        joints: np.ndarray,
        visible: np.ndarray,
        box: Sequence[float] | None = None,
        parts: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        frame_rgb = np.asarray(frame_rgb)
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise DatasetError(
                f"video {self.name}: frames must be (H, W, 3) uint8 RGB; got {frame_rgb.shape} {frame_rgb.dtype}"
            )
        h, w = frame_rgb.shape[:2]
        if self._size is None:
            self._size = (w, h)
        elif self._size != (w, h):
            raise DatasetError(
                f"video {self.name}: frame {len(self)} is {w}×{h}, earlier frames {self._size[0]}×{self._size[1]}"
            )
        joints = np.asarray(joints, dtype=np.float64)
        visible = np.asarray(visible).astype(bool)
        if joints.shape != (NUM_JOINTS, 2) or visible.shape != (NUM_JOINTS,):
            raise DatasetError(
                f"video {self.name}: a frame needs joints ({NUM_JOINTS}, 2) and visibility ({NUM_JOINTS},); "
                f"got {joints.shape} and {visible.shape}"
            )
        stem = f"{len(self._frames):05d}"
        save_image(self.root / "frames" / self.name / f"{stem}{self.suffix}", frame_rgb)
        for sub, label_map in (("parts", parts), ("masks", mask)):
            if label_map is None:
                continue
            label_map = np.asarray(label_map)
            if label_map.shape != (h, w) or label_map.dtype != np.uint8:
                raise DatasetError(
                    f"video {self.name}: {sub} must be ({h}, {w}) uint8; got {label_map.shape} {label_map.dtype}"
                )
            (self.root / sub / self.name).mkdir(parents=True, exist_ok=True)
            save_image(self.root / sub / self.name / f"{stem}.png", label_map)
        joints_out = [
            [round(float(x), 2), round(float(y), 2), int(v)] if np.isfinite([x, y]).all() else [0.0, 0.0, 0]
            for (x, y), v in zip(joints, visible)
        ]
        b = np.asarray(box, dtype=np.float64) if box is not None else joints_box(joints, visible)
        entry: dict[str, Any] = {
            "file": f"{stem}{self.suffix}",
            "joints": joints_out,
            "box": [round(float(v), 2) for v in b],
        }
        entry.update(extra or {})
        self._frames.append(entry)

    def close(self) -> VideoRecord:
        if not self._frames or self._size is None:
            raise DatasetError(f"video {self.name}: no frames were written")
        w, h = self._size
        info: dict[str, Any] = {"video": self.name, "width": w, "height": h, "source": self.source}
        if self.group:
            info["group"] = self.group
        info.update(self.extra)
        info["frames"] = self._frames
        path = self.root / "info" / f"{self.name}.json"
        atomic_write_text(path, json.dumps(info, separators=(",", ":")) + "\n")
        return read_video_json(self.root, path)

    def discard(self) -> None:
        """Remove whatever this writer wrote (e.g. a video in which nobody was found)."""
        for sub in ("frames", "parts", "masks"):
            shutil.rmtree(self.root / sub / self.name, ignore_errors=True)
        (self.root / "info" / f"{self.name}.json").unlink(missing_ok=True)
        self._frames = []


def write_video(
    root: str | os.PathLike[str],
    name: str,
    frames: Iterable[np.ndarray],
    joints: np.ndarray,
    visible: np.ndarray,
    boxes: np.ndarray | None = None,
    parts: Iterable[np.ndarray | None] | None = None,
    masks: Iterable[np.ndarray | None] | None = None,
    source: str = "",
    group: str = "",
    frame_suffix: str = ".jpg",
) -> VideoRecord:
    """Write a whole video (frames RGB uint8; joints (n, 14, 2); visible (n, 14)) and return it as read back."""
    joints = np.asarray(joints, dtype=np.float64)
    visible = np.asarray(visible).astype(bool)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 2):
        raise DatasetError(f"video {name}: joints must have shape (n, {NUM_JOINTS}, 2); got {joints.shape}")
    if visible.shape != joints.shape[:2]:
        raise DatasetError(f"video {name}: visibility must have shape {joints.shape[:2]}; got {visible.shape}")
    frames = list(frames)
    if len(frames) != len(joints):
        raise DatasetError(f"video {name}: {len(frames)} frames but {len(joints)} poses")
    part_list = list(parts) if parts is not None else [None] * len(frames)
    mask_list = list(masks) if masks is not None else [None] * len(frames)
    writer = VideoWriter(root, name, source=source, group=group, frame_suffix=frame_suffix)
    for k, frame in enumerate(frames):
        writer.add(frame, joints[k], visible[k], None if boxes is None else boxes[k], part_list[k], mask_list[k])
    return writer.close()
