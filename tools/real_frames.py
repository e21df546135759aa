"""Real photos with poses for the evaluation sheets, named by a small text list (docs/eval/arm_in_front_frames.txt).

One entry a line, words separated by spaces, `#` starts a comment; an optional last word `arm=r` / `arm=l` names
the arm to raise (otherwise `arm_in_front.pick_arm_in_front` picks it):

    photo PATH                   a photo; its pose from PATH's `.pose.json` beside it, else the detector's
    dataset ROOT VIDEO INDEX     frame INDEX (0-based, in file order) of VIDEO of a dataset folder
                                 (docs/dataset_format.md; the paper's .mat layout too), joints from info/
    video PATH INDEX             frame INDEX (0-based, decoded in order) of a video; the pose by the detector

Relative PATH/ROOT: photos and datasets against the repository, videos against `videos_dir`
(~/.cache/poseeditor/videos, where tools/fetch_demo_videos.py puts the demo videos). Frames stay outside git.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from poseeditor.errors import PoseEditorError
from poseeditor.image_io import load_image
from poseeditor.pose_io import load_pose
from poseeditor.skeleton import Pose

REPO = Path(__file__).resolve().parents[1]
VIDEOS = Path.home() / ".cache" / "poseeditor" / "videos"


@dataclass(frozen=True)
class RealFrame:
    name: str  # short label for the sheet
    entry: str  # the list line that names it
    photo: np.ndarray  # (H, W, 3) uint8 RGB
    pose: Pose
    arm: str | None  # "r"/"l" when the list names it
    pose_source: str  # "file", "dataset" or "detector"


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def detect_pose(photo: np.ndarray) -> Pose:
    from poseeditor.detector import detect

    return detect(photo).pose


def read_video_frame(path: Path, index: int) -> np.ndarray:
    """Frame `index` (0-based, decoded in order: seeking in mp4 is not frame-exact) as RGB uint8."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise PoseEditorError(f"{path}: cannot open the video")
    try:
        for _ in range(index):
            if not capture.grab():
                raise PoseEditorError(f"{path}: the video has fewer than {index + 1} frames")
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise PoseEditorError(f"{path}: the video has fewer than {index + 1} frames")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def pose_beside(photo_path: Path) -> Path:
    return photo_path.with_name(photo_path.stem + ".pose.json")


def load_entry(line: str, videos_dir: Path = VIDEOS, repo: Path = REPO) -> RealFrame:
    words = line.split("#", 1)[0].split()
    if not words:
        raise PoseEditorError("empty entry")
    arm = None
    if words[-1].startswith("arm="):
        arm = words.pop()[4:]
        if arm not in ("r", "l"):
            raise PoseEditorError(f"{line!r}: arm= must be r or l")
    kind, args = words[0], words[1:]
    entry = " ".join(words + ([f"arm={arm}"] if arm else []))
    if kind == "photo" and len(args) == 1:
        path = _resolve(args[0], repo)
        photo = load_image(path)
        h, w = photo.shape[:2]
        if pose_beside(path).is_file():
            return RealFrame(path.stem, entry, photo, load_pose(pose_beside(path), image_size=(w, h)), arm, "file")
        return RealFrame(path.stem, entry, photo, detect_pose(photo), arm, "detector")
    if kind == "dataset" and len(args) == 3:
        from trainer.data.dataset_format import read_dataset

        root, video, index = _resolve(args[0], repo), args[1], int(args[2])
        records = {r.name: r for r in read_dataset(root)}
        if video not in records:
            raise PoseEditorError(f"{root}: no video {video!r} (has {', '.join(sorted(records))})")
        record = records[video]
        if not 0 <= index < len(record.frame_paths):
            raise PoseEditorError(f"{root}/{video}: no frame {index} (has {len(record.frame_paths)})")
        photo = load_image(record.frame_paths[index])
        h, w = photo.shape[:2]
        pose = Pose(record.joints[index], record.visible[index], w, h)
        return RealFrame(f"{video}/{record.frame_paths[index].name}", entry, photo, pose, arm, "dataset")
    if kind == "video" and len(args) == 2:
        path, index = _resolve(args[0], videos_dir), int(args[1])
        photo = read_video_frame(path, index)
        return RealFrame(f"{path.parent.name}/{path.stem}#{index}", entry, photo, detect_pose(photo), arm,
                         "detector")
    raise PoseEditorError(f"cannot read the entry {line!r} (photo PATH | dataset ROOT VIDEO INDEX | "
                          "video PATH INDEX, optionally arm=r|l)")


def list_entries(list_files: list[str], photo_globs: list[str]) -> list[str]:
    """The entries of the list files, then one `photo` entry per file matched by the globs (sorted)."""
    entries: list[str] = []
    for list_file in list_files:
        for raw in Path(list_file).read_text(encoding="utf-8").splitlines():
            if raw.split("#", 1)[0].strip():
                entries.append(raw.strip())
    for pattern in photo_globs:
        matches = sorted(glob.glob(str(Path(pattern).expanduser())))
        if not matches:
            raise PoseEditorError(f"no photo matches {pattern!r}")
        entries.extend(f"photo {m}" for m in matches if not m.endswith(".json"))
    return entries
