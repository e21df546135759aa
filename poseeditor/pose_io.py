"""Pose files: our JSON, OpenPose JSON (COCO-18 / BODY_25), COCO-17 keypoints, and the paper's `.mat`.

Our JSON: {"width": W, "height": H, "joints": [[x, y, visible], ... 14 in contract order]}, 0-based pixels.

Formats without a head-top joint (OpenPose, COCO) carry a nose instead. We convert with a fixed ratio along the
neck→nose line, so export → import returns the same head: head = neck + HEAD_FROM_NOSE·(nose − neck).
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from poseeditor.errors import PoseFileError
from poseeditor.image_io import atomic_write_bytes, atomic_write_text
from poseeditor.skeleton import NUM_JOINTS, Pose

FORMAT_NAME = "poseeditor-pose"
HEAD_FROM_NOSE = 1.5  # the top of the head is ~1.5× as far from the neck as the nose is
HEAD_FROM_EARS = 1.6  # fallback when the nose is hidden: from the neck through the ears' midpoint
MAX_IMAGE_SIDE = 1_000_000  # a pose's photo size; larger numbers are damage, not photos

# Our joint order -> index in each external layout (the neck of COCO-17 is the shoulders' midpoint).
OPENPOSE_COCO18 = {"nose": 0, "neck": 1, "joints": [None, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], "ears": (16, 17)}
OPENPOSE_BODY25 = {"nose": 0, "neck": 1, "joints": [None, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14], "ears": (17, 18)}
COCO17_JOINTS = [None, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15]  # head: from nose; neck: shoulder midpoint
COCO17_NOSE, COCO17_EARS, COCO17_SHOULDERS = 0, (3, 4), (5, 6)


# ---------------------------------------------------------------------------------------------- our JSON
def pose_to_dict(pose: Pose) -> dict[str, Any]:
    joints = [[round(float(x), 4), round(float(y), 4), int(v)] for (x, y), v in zip(pose.xy, pose.visible)]
    out: dict[str, Any] = {"format": FORMAT_NAME, "version": 1, "width": pose.width, "height": pose.height}
    out["joints"] = joints
    if pose.confidence is not None:
        out["confidence"] = [round(float(c), 4) for c in pose.confidence]
    return out


def pose_from_dict(data: Any, image_size: tuple[int, int] | None = None) -> Pose:
    if not isinstance(data, dict) or "joints" not in data:
        raise PoseFileError('not a pose: expected an object with "joints" (and "width", "height")')
    joints = data["joints"]
    if not isinstance(joints, list) or len(joints) != NUM_JOINTS:
        n = len(joints) if isinstance(joints, list) else type(joints).__name__
        raise PoseFileError(f"a pose needs exactly {NUM_JOINTS} joints; this file has {n}")
    xy = np.zeros((NUM_JOINTS, 2))
    visible = np.zeros(NUM_JOINTS, dtype=bool)
    for i, joint in enumerate(joints):
        if not isinstance(joint, (list, tuple)) or len(joint) not in (2, 3):
            raise PoseFileError(f"joint {i} must be [x, y, visible]; got {joint!r}")
        try:
            x, y = float(joint[0]), float(joint[1])
            v = bool(joint[2]) if len(joint) == 3 else True
        except (TypeError, ValueError, OverflowError):
            raise PoseFileError(f"joint {i} holds something that is not a number: {joint!r}") from None
        xy[i] = (x, y)
        visible[i] = v
        if v and not (math.isfinite(x) and math.isfinite(y)):
            raise PoseFileError(f"joint {i} has a coordinate that is not a finite number: {joint!r}")
    width, height = _size(data, image_size, xy, visible)
    conf = data.get("confidence")
    try:
        confidence = np.asarray(conf, dtype=np.float64) if isinstance(conf, list) and len(conf) == NUM_JOINTS else None
    except (TypeError, ValueError, OverflowError):
        raise PoseFileError("confidence must be 14 numbers") from None
    return Pose(xy, visible, width, height, confidence)


def _size(data: dict[str, Any], image_size: tuple[int, int] | None, xy: np.ndarray, vis: np.ndarray) -> tuple[int, int]:
    if "width" in data and "height" in data:
        try:
            w, h = int(data["width"]), int(data["height"])
        except (TypeError, ValueError, OverflowError):
            raise PoseFileError("width/height must be integers") from None
        if w <= 0 or h <= 0:
            raise PoseFileError(f"width/height must be positive; got {w}x{h}")
        if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
            raise PoseFileError(f"width/height must be at most {MAX_IMAGE_SIDE} pixels")
        return w, h
    if image_size is not None:
        return int(image_size[0]), int(image_size[1])
    if not vis.any():
        raise PoseFileError("the pose has no visible joint")
    return int(np.ceil(xy[vis, 0].max())) + 1, int(np.ceil(xy[vis, 1].max())) + 1


# ---------------------------------------------------------------------------------------------- external layouts
def _head_from_face(
    neck: tuple[float, float] | None, nose: tuple[float, float] | None, ears: list[tuple[float, float]]
) -> tuple[float, float] | None:
    if neck is None:
        return None
    n = np.asarray(neck)
    if nose is not None:
        return tuple(n + HEAD_FROM_NOSE * (np.asarray(nose) - n))  # type: ignore[return-value]
    if ears:
        mid = np.mean(np.asarray(ears), axis=0)
        return tuple(n + HEAD_FROM_EARS * (mid - n))  # type: ignore[return-value]
    return None


def _triplets(flat: Any, count: int, what: str) -> np.ndarray:
    arr = np.asarray(flat, dtype=np.float64)
    if arr.ndim != 1 or arr.size != 3 * count:
        raise PoseFileError(f"{what}: expected {count} keypoints × 3 numbers; got {arr.size} numbers")
    return arr.reshape(count, 3)


def _from_layout(kp: np.ndarray, layout: dict[str, Any], width: int, height: int) -> Pose:
    # OpenPose writes hidden points as 0,0,0: a point is present when its confidence is > 0.
    def point(i: int | None) -> tuple[float, float] | None:
        if i is None or kp[i, 2] <= 0 or not np.all(np.isfinite(kp[i, :2])):
            return None
        return float(kp[i, 0]), float(kp[i, 1])

    xy = np.zeros((NUM_JOINTS, 2))
    visible = np.zeros(NUM_JOINTS, dtype=bool)
    conf = np.zeros(NUM_JOINTS)
    for ours, theirs in enumerate(layout["joints"]):
        p = point(theirs)
        if p is not None:
            xy[ours], visible[ours], conf[ours] = p, True, kp[theirs, 2]
    ears = [p for p in (point(layout["ears"][0]), point(layout["ears"][1])) if p is not None]
    head = _head_from_face(point(layout["neck"]), point(layout["nose"]), ears)
    if head is not None:
        xy[0], visible[0], conf[0] = head, True, kp[layout["nose"], 2]
    if not visible.any():
        raise PoseFileError("the OpenPose person has no detected keypoint")
    return Pose(xy, visible, width, height, conf)


def pose_from_openpose(data: Any, image_size: tuple[int, int] | None = None, person: int = 0) -> Pose:
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list) or not people:
        raise PoseFileError('OpenPose JSON without any entry in "people"')
    if not 0 <= person < len(people):
        raise PoseFileError(f"OpenPose JSON has {len(people)} people; asked for person {person}")
    flat = people[person].get("pose_keypoints_2d")
    if flat is None:
        raise PoseFileError('OpenPose person without "pose_keypoints_2d"')
    n = len(flat) // 3
    if n == 18:
        layout = OPENPOSE_COCO18
    elif n == 25:
        layout = OPENPOSE_BODY25
    else:
        raise PoseFileError(f"OpenPose pose_keypoints_2d has {n} points; COCO-18 (18) and BODY_25 (25) are supported")
    kp = _triplets(flat, n, "OpenPose pose_keypoints_2d")
    w, h = image_size if image_size else (int(np.ceil(kp[:, 0].max())) + 1, int(np.ceil(kp[:, 1].max())) + 1)
    return _from_layout(kp, layout, int(w), int(h))


def pose_to_openpose(pose: Pose, model: str = "BODY_25") -> dict[str, Any]:
    """OpenPose JSON with one person. Points it cannot know (eyes, ears, feet) are written as 0,0,0."""
    if model not in ("BODY_25", "COCO"):
        raise ValueError("model must be 'BODY_25' or 'COCO'")
    layout = OPENPOSE_BODY25 if model == "BODY_25" else OPENPOSE_COCO18
    n = 25 if model == "BODY_25" else 18
    kp = np.zeros((n, 3))

    def inside(xy: np.ndarray) -> bool:
        # OpenPose only reports points it sees in the image: one dragged off the photo is written as missing.
        return bool(0.0 <= xy[0] < pose.width and 0.0 <= xy[1] < pose.height)

    shown = np.array([bool(v) and inside(xy) for xy, v in zip(pose.xy, pose.visible)])
    for ours, theirs in enumerate(layout["joints"]):
        if theirs is not None and shown[ours]:
            kp[theirs] = (*pose.xy[ours], 1.0)
    if pose.visible[0] and pose.visible[1]:
        nose = pose.xy[1] + (pose.xy[0] - pose.xy[1]) / HEAD_FROM_NOSE
        if inside(nose):
            kp[layout["nose"]] = (*nose, 1.0)
    if model == "BODY_25" and pose.visible[8] and pose.visible[11]:
        mid_hip = 0.5 * (pose.xy[8] + pose.xy[11])
        if inside(mid_hip):
            kp[8] = (*mid_hip, 1.0)  # MidHip
    flat = [round(float(v), 4) for v in kp.reshape(-1)]
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat}]}


def pose_from_coco17(data: Any, image_size: tuple[int, int] | None = None, person: int = 0) -> Pose:
    """A COCO keypoints annotation: a single {"keypoints": [...51]}, a list of them, or a whole COCO file."""
    size = image_size
    anns: Any = data
    if isinstance(data, dict) and "annotations" in data:
        anns = data["annotations"]
        images = data.get("images") or []
        if size is None and images and "width" in images[0]:
            size = (int(images[0]["width"]), int(images[0]["height"]))
    if isinstance(anns, dict):
        anns = [anns]
    anns = [a for a in anns if isinstance(a, dict) and "keypoints" in a] if isinstance(anns, list) else []
    if not anns:
        raise PoseFileError("COCO file without any keypoints annotation")
    if not 0 <= person < len(anns):
        raise PoseFileError(f"COCO file has {len(anns)} annotations; asked for {person}")
    kp = _triplets(anns[person]["keypoints"], 17, "COCO keypoints")
    kp = kp.copy()
    kp[:, 2] = (kp[:, 2] > 0).astype(float)  # COCO: v=0 not labelled, 1 labelled but hidden, 2 visible
    xy = np.zeros((NUM_JOINTS, 2))
    visible = np.zeros(NUM_JOINTS, dtype=bool)
    for ours, theirs in enumerate(COCO17_JOINTS):
        if theirs is not None and kp[theirs, 2] > 0:
            xy[ours], visible[ours] = kp[theirs, :2], True
    sh = [kp[i, :2] for i in COCO17_SHOULDERS if kp[i, 2] > 0]
    neck = tuple(np.mean(sh, axis=0)) if len(sh) == 2 else None
    if neck is not None:
        xy[1], visible[1] = neck, True
    nose = tuple(kp[COCO17_NOSE, :2]) if kp[COCO17_NOSE, 2] > 0 else None
    ears = [tuple(kp[i, :2]) for i in COCO17_EARS if kp[i, 2] > 0]
    head = _head_from_face(neck, nose, ears)  # type: ignore[arg-type]
    if head is not None:
        xy[0], visible[0] = head, True
    if not visible.any():
        raise PoseFileError("the COCO annotation has no labelled keypoint")
    w, h = size if size else (int(np.ceil(xy[visible, 0].max())) + 1, int(np.ceil(xy[visible, 1].max())) + 1)
    return Pose(xy, visible, int(w), int(h))


# ---------------------------------------------------------------------------------------------- paper's .mat
MAX_MAT_FRAMES = 100_000  # about an hour of video at 30 fps; a paper-style .mat holds one video's frames
# What a .mat may expand to when decompressed (its arrays at float64): 100k frames of 14×2 joints plus boxes is
# ~26 MB. A 326 KB file can hold a million frames (224 MB) and more; it is measured before it is read.
MAX_MAT_EXPANDED_BYTES = 64_000_000


def _scipy_io() -> Any:
    """scipy.io, which only .mat files need (an optional dependency: `pip install 'poseeditor[mat]'`)."""
    try:
        import scipy.io
    except ImportError:
        raise PoseFileError("the paper's .mat pose files need scipy: pip install 'poseeditor[mat]'") from None
    return scipy.io


def _mat_expanded_bytes(path: Path, limit: int) -> int:
    """How many bytes a MAT v5 file's data elements expand to, counted by streaming each compressed element
    through zlib in small chunks (nothing is kept); stops counting past `limit`. v4/v7.3 files: their size."""
    with path.open("rb") as f:
        header = f.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
            return path.stat().st_size
        order = "<" if header[126:128] == b"IM" else ">"
        total = 0
        while total <= limit:
            tag = f.read(8)
            if len(tag) < 8:
                break
            kind, nbytes = struct.unpack(order + "II", tag)
            if kind != 15:  # miCOMPRESSED = 15; anything else is stored as is
                total += nbytes
                f.seek(nbytes + (-nbytes % 8), 1)
                continue
            inflate = zlib.decompressobj()
            left = nbytes
            while left > 0 and total <= limit:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
                data = inflate.decompress(chunk, 1 << 20)
                total += len(data)
                while inflate.unconsumed_tail and total <= limit:
                    total += len(inflate.decompress(inflate.unconsumed_tail, 1 << 20))
            f.seek(left, 1)
        return total


class PaperMat(NamedTuple):
    joints: np.ndarray  # (n, 14, 2) 0-based pixels as stored (may hold NaN or ≤ -1 for missing joints)
    boxes: np.ndarray | None  # (n, 4) 0-based [x, y, w, h], when the file has a usable data.bbox


def read_paper_mat(path: str | os.PathLike[str]) -> PaperMat:
    """The paper's `info/<video>.mat` (balakg/posewarp-cvpr2018): struct `data` with X 14×2×n in 1-based MATLAB
    pixels and, optionally, bbox n×4. The one reader of that layout (pose files, datasets, detector accuracy);
    size-checked before it is read (at most MAX_MAT_FRAMES frames); raises PoseFileError for anything else."""
    path = Path(path)
    scipy_io = _scipy_io()
    try:
        expanded = _mat_expanded_bytes(path, MAX_MAT_EXPANDED_BYTES)
    except (OSError, zlib.error) as exc:
        raise PoseFileError(f"{path}: not a readable .mat file ({exc})") from None
    if expanded > MAX_MAT_EXPANDED_BYTES:
        raise PoseFileError(
            f"{path}: expands to over {MAX_MAT_EXPANDED_BYTES / 1e6:.0f} MB; a pose .mat of up to "
            f"{MAX_MAT_FRAMES} frames is far smaller"
        )
    try:
        mat = scipy_io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 (scipy raises many types for corrupt files)
        raise PoseFileError(f"{path}: not a readable MATLAB file ({exc})") from None
    if "data" not in mat:
        raise PoseFileError(f"{path}: no struct 'data' (expected data.X and data.bbox)")
    try:
        x = np.asarray(mat["data"]["X"][0, 0], dtype=np.float64)
    except (KeyError, ValueError, TypeError, IndexError, MemoryError) as exc:
        raise PoseFileError(f"{path}: not a paper-style pose .mat (struct data.X): {exc}") from None
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or x.shape[:2] != (NUM_JOINTS, 2):
        raise PoseFileError(f"{path}: data.X has shape {x.shape}; expected {NUM_JOINTS}×2×n")
    if x.shape[2] > MAX_MAT_FRAMES:
        raise PoseFileError(f"{path}: has {x.shape[2]} frames; at most {MAX_MAT_FRAMES} are read")
    joints = np.transpose(x, (2, 0, 1)) - 1.0  # 1-based -> 0-based
    try:
        bbox = np.asarray(mat["data"]["bbox"][0, 0], dtype=np.float64)
    except (ValueError, IndexError, KeyError, TypeError):
        bbox = None
    boxes = bbox - np.array([1.0, 1.0, 0.0, 0.0]) if bbox is not None and bbox.shape == (len(joints), 4) else None
    return PaperMat(joints, boxes)


def _mat_pose(xy: np.ndarray, image_size: tuple[int, int] | None) -> Pose:
    """One frame of `read_paper_mat(...).joints` as a pose; a joint is hidden where it is missing (NaN or ≤ 0 in
    MATLAB's 1-based pixels)."""
    visible = np.all(np.isfinite(xy), axis=1) & np.all(xy > -1.0, axis=1)
    if image_size:
        w, h = image_size
    elif visible.any():
        w, h = int(np.ceil(xy[visible, 0].max())) + 1, int(np.ceil(xy[visible, 1].max())) + 1
    else:
        w, h = 1, 1
    return Pose(np.where(visible[:, None], xy, 0.0), visible, int(w), int(h))


def poses_from_mat(path: str | os.PathLike[str], image_size: tuple[int, int] | None = None) -> list[Pose]:
    """All frames of a paper-style `info/<video>.mat` (struct `data`: X 14×2×n, 1-based pixels; bbox n×4)."""
    return [_mat_pose(xy, image_size) for xy in read_paper_mat(path).joints]


def save_mat(path: str | os.PathLike[str], poses: list[Pose]) -> None:
    """Write poses in the paper's layout (hidden joints as -1, which the paper's code treats as missing)."""
    import io

    scipy_io = _scipy_io()
    x = np.stack([np.where(p.visible[:, None], p.xy + 1.0, -1.0) for p in poses], axis=2)
    bbox = np.array([[*p.box()[:2], p.box()[2] - p.box()[0], p.box()[3] - p.box()[1]] for p in poses]) + [1, 1, 0, 0]
    buf = io.BytesIO()
    scipy_io.savemat(buf, {"data": {"X": x, "bbox": bbox}})
    atomic_write_bytes(path, buf.getvalue())


# ---------------------------------------------------------------------------------------------- files
def load_pose(path: str | os.PathLike[str], image_size: tuple[int, int] | None = None, index: int = 0) -> Pose:
    """Read a pose file of any supported format (detected by content). `image_size` = (W, H) of the photo, used
    by formats that do not store it; `index` picks the person (OpenPose/COCO) or frame (.mat)."""
    path = Path(path)
    if not path.is_file():
        raise PoseFileError(f"{path}: no such pose file")
    if path.suffix.lower() == ".mat":
        joints = read_paper_mat(path).joints  # only the asked-for frame becomes a Pose
        if not 0 <= index < len(joints):
            raise PoseFileError(f"{path}: has {len(joints)} frames; asked for frame {index}")
        try:
            return _mat_pose(joints[index], image_size)
        except (ValueError, OverflowError) as exc:
            raise PoseFileError(f"{path}: frame {index} is not a usable pose ({exc})") from None
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except RecursionError:
        raise PoseFileError(f"{path}: not a pose file (nested too deeply)") from None
    except UnicodeDecodeError:
        raise PoseFileError(f"{path}: not a text pose file") from None
    except json.JSONDecodeError as exc:
        raise PoseFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise PoseFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        if isinstance(data, dict) and "people" in data:
            return pose_from_openpose(data, image_size, index)
        if isinstance(data, dict) and "joints" in data:
            return pose_from_dict(data, image_size)
        if (isinstance(data, dict) and ("annotations" in data or "keypoints" in data)) or isinstance(data, list):
            return pose_from_coco17(data, image_size, index)
    except PoseFileError as exc:
        raise PoseFileError(f"{path}: {exc}") from None
    except (TypeError, ValueError, OverflowError, KeyError, AttributeError) as exc:
        raise PoseFileError(f"{path}: damaged pose file ({type(exc).__name__}: {exc})") from None
    raise PoseFileError(f"{path}: not a pose file (expected our JSON, OpenPose JSON, COCO keypoints or a .mat)")


def save_pose(path: str | os.PathLike[str], pose: Pose) -> None:
    atomic_write_text(path, json.dumps(pose_to_dict(pose), indent=1) + "\n")


def save_openpose(path: str | os.PathLike[str], pose: Pose, model: str = "BODY_25") -> None:
    atomic_write_text(path, json.dumps(pose_to_openpose(pose, model)) + "\n")
