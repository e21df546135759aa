"""The detection pipeline: person detector -> rotated region of interest -> landmarks (+ heatmap refinement) ->
our 14 joints in photo pixels, plus a person mask (the landmark model's segmentation output, or optionally the
selfie segmenter on the same region).

Written from MediaPipe's published graphs (pose_detection_cpu, pose_landmark_by_roi_cpu): detector on a 224²
letterbox in [−1, 1]; region centred on the mid-hip keypoint, side 2·|kp1 − kp0|·1.25, turned so the body is
upright; landmark model on 256² in [0, 1]. One extra step for still photos: the region is re-derived once from the
landmark model's own two alignment landmarks (33, 34), as MediaPipe does between video frames.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseeditor.detector.anchors import DETECTOR_INPUT, RawDetection, decode_detections, ssd_anchor_centres
from poseeditor.detector.landmarks import (
    LANDMARK_VALUES,
    NUM_LANDMARKS,
    contract_joints,
    refine_with_heatmap,
    sigmoid,
)
from poseeditor.detector.roi import SquareCrop, letterbox_crop, rotated_square_crop
from poseeditor.errors import ImageError, NoPersonFoundError, PoseEditorError
from poseeditor.onnx_session import onnx_session
from poseeditor.resources import resource_path
from poseeditor.skeleton import Pose

LANDMARK_INPUT = 256
SEGMENTER_INPUT = 256
ROI_SCALE = 1.25
MIN_POSE_FLAG = 0.5  # the landmark model's "a person is in this region" probability
MIN_PRESENCE = 0.5
MIN_ROI_SIDE = 8.0  # px: anything smaller is not a person the landmark model can read
REGION_PAD = 0.15  # a box region is searched with this margin around it (people overflow the boxes users draw)
MAX_TILES = 12  # squares searched along a long photo's side after the whole photo (see _tiles)
MODEL_FILES = {
    "detector": "pose_detection.onnx",
    "landmarks": "pose_landmark_full.onnx",
    "segmenter": "selfie_segmentation.onnx",
}

MASK_SOURCES = ("pose", "selfie")

Region = tuple[float, float] | tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One person: our 14 joints (photo pixels), per-joint confidence, a soft person mask and the person's box."""

    pose: Pose
    confidence: np.ndarray  # (14,) in [0, 1]: the model's visibility (not occluded) probability
    mask: np.ndarray  # (H, W) float32 in [0, 1]
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1) photo pixels
    score: float  # person detector score in [0, 1]
    landmarks: np.ndarray  # (33, 2) BlazePose landmarks in photo pixels (for drawing and debugging)
    landmark_presence: np.ndarray  # (33,) in [0, 1]
    rotation: float = 0.0  # the body's in-plane turn in radians (0 = upright, π/2 = head towards +x), ±π


@dataclass(frozen=True)
class _Candidate:
    score: float
    keypoints: np.ndarray  # (4, 2) photo pixels
    box: np.ndarray  # (x0, y0, x1, y1) photo pixels

    @property
    def body_side(self) -> float:
        return 2.0 * float(np.linalg.norm(self.keypoints[1] - self.keypoints[0]))


@dataclass(frozen=True)
class _LandmarkPass:
    """One run of the landmark model on a rotated region, already mapped to photo pixels."""

    crop: SquareCrop
    rotation: float  # of the region, radians (0 = upright)
    pose_flag: float
    landmarks: np.ndarray  # (33, 2)
    alignment: np.ndarray  # (2, 2): body centre and the body-size/rotation point
    visibility: np.ndarray  # (33,)
    presence: np.ndarray  # (33,)
    segmentation_logits: np.ndarray  # (256, 256) in crop pixels


def _roi_from_alignment_points(centre: np.ndarray, scale_point: np.ndarray) -> tuple[np.ndarray, float, float]:
    """MediaPipe's AlignmentPointsRectsCalculator + RectTransformation: (centre, side, rotation)."""
    delta = scale_point - centre
    side = 2.0 * float(np.hypot(*delta)) * ROI_SCALE
    rotation = math.pi / 2 - math.atan2(-delta[1], delta[0])
    return np.asarray(centre, dtype=np.float64), side, _wrap_angle(rotation)


def as_rgb8(photo: np.ndarray) -> np.ndarray:
    """Accept (H, W, 3) uint8 RGB (also grey (H, W) and RGBA); anything else is a clear ImageError."""
    if not isinstance(photo, np.ndarray):
        raise ImageError(f"a photo must be a numpy array of pixels, not {type(photo).__name__}")
    if photo.dtype != np.uint8:
        raise ImageError(f"a photo must have 8-bit pixels (uint8), not {photo.dtype}")
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    elif photo.ndim == 3 and photo.shape[2] == 4:
        photo = photo[:, :, :3]
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ImageError(f"a photo must be H×W×3 RGB; got an array of shape {photo.shape}")
    if photo.shape[0] < 16 or photo.shape[1] < 16:
        raise ImageError(f"the photo is too small to find a person in ({photo.shape[1]}×{photo.shape[0]} px)")
    return np.ascontiguousarray(photo)


def _check_region(region: Region | None, width: int, height: int) -> Region | None:
    if region is None:
        return None
    values = tuple(float(v) for v in region)
    if len(values) not in (2, 4) or not all(math.isfinite(v) for v in values):
        raise PoseEditorError(f"a region is a point (x, y) or a box (x, y, w, h) of finite numbers; got {region!r}")
    x, y = values[0], values[1]
    if len(values) == 4:
        w, h = values[2], values[3]
        if w <= 1 or h <= 1:
            raise PoseEditorError(f"the region box must be at least 2×2 px; got {w:g}×{h:g}")
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise PoseEditorError(f"the region box {values} lies outside the {width}×{height} photo")
    elif not (0 <= x < width and 0 <= y < height):
        raise PoseEditorError(f"the point ({x:g}, {y:g}) lies outside the {width}×{height} photo")
    return values  # type: ignore[return-value]


class PoseDetector:
    """Loads the three ONNX models once (lazily) and detects one person per call.

    Thread-safety: the sessions are created under a lock; onnxruntime sessions may be run from any thread, and
    nothing else is shared, so one detector can serve a UI worker thread and the CLI alike.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        mask_source: str = "pose",
        second_pass: bool = True,
    ) -> None:
        if mask_source not in MASK_SOURCES:
            raise ValueError(f"mask_source must be one of {MASK_SOURCES}, not {mask_source!r}")
        self.model_dir = Path(model_dir) if model_dir is not None else resource_path("detector")
        self.threads = threads
        # "pose": the landmark model's own segmentation (sharp, no shadows; free). "selfie": MediaPipe's selfie
        # segmenter on the same region (spills into shadows and background on full-body photos; docs/detector.md).
        self.mask_source = mask_source
        # The second landmark pass costs one more landmark run (~40% of the time) and lowers the mean joint error
        # on the tennis frames from 11.7 to 7.7 px (docs/detector.md).
        self.second_pass = second_pass
        self.timings: dict[str, float] = {}  # ms per stage of the last detect() (one caller at a time)
        self._lock = threading.Lock()
        self._sessions: dict[str, object] | None = None
        self._anchors = ssd_anchor_centres()

    # ---------------------------------------------------------------------------------------------- sessions
    def _needed_models(self) -> tuple[str, ...]:
        return ("detector", "landmarks", "segmenter") if self.mask_source == "selfie" else ("detector", "landmarks")

    def _load(self) -> dict[str, object]:
        """Create the ONNX sessions this detector needs, once (the segmenter only for mask_source="selfie")."""
        with self._lock:
            if self._sessions is None:
                self._sessions = {
                    key: onnx_session(self.model_dir / MODEL_FILES[key], self.threads, what="pose detector model")
                    for key in self._needed_models()
                }
            return self._sessions

    def _run(self, key: str, x: np.ndarray) -> list[np.ndarray]:
        session = self._load()[key]
        started = time.perf_counter()
        outputs = session.run(None, {session.get_inputs()[0].name: x})  # type: ignore[attr-defined]
        self.timings[key] = self.timings.get(key, 0.0) + (time.perf_counter() - started) * 1000.0
        return outputs

    # ---------------------------------------------------------------------------------------------- stages
    def person_candidates(self, photo: np.ndarray, search: tuple[float, float, float, float] | None = None) -> list[_Candidate]:
        """All people the detector sees in `search` (x, y, w, h; default the whole photo), best score first."""
        height, width = photo.shape[:2]
        x0, y0, w, h = search if search is not None else (0.0, 0.0, float(width), float(height))
        crop = letterbox_crop(x0, y0, w, h, DETECTOR_INPUT)
        pixels = crop.cut(photo).astype(np.float32) / 127.5 - 1.0
        raw_boxes, raw_scores = self._run("detector", pixels[None])
        candidates = []
        for det in decode_detections(raw_boxes[0], raw_scores[0], self._anchors):
            candidates.append(self._to_photo(det, crop))
        return candidates

    @staticmethod
    def _to_photo(det: RawDetection, crop: SquareCrop) -> _Candidate:
        # Normalised [0, 1] input coordinates -> input pixel centres -> photo pixels.
        keypoints = crop.to_photo(det.keypoints * DETECTOR_INPUT - 0.5)
        corners = crop.to_photo(det.box.reshape(2, 2) * DETECTOR_INPUT - 0.5)
        return _Candidate(det.score, keypoints, corners.reshape(4))

    def _landmarks(self, photo: np.ndarray, centre: np.ndarray, side: float, rotation: float) -> _LandmarkPass:
        crop = rotated_square_crop(centre, side, rotation, LANDMARK_INPUT)
        pixels = crop.cut(photo).astype(np.float32) / 255.0
        raw_landmarks, pose_flag, segmentation, heatmap, _ = self._run("landmarks", pixels[None])
        raw = raw_landmarks.reshape(-1, LANDMARK_VALUES).astype(np.float64)
        xy = refine_with_heatmap(raw[:NUM_LANDMARKS, :2], heatmap[0], LANDMARK_INPUT)
        return _LandmarkPass(
            crop=crop,
            rotation=rotation,
            pose_flag=float(np.asarray(pose_flag).reshape(-1)[0]),
            landmarks=crop.to_photo(xy - 0.5),
            # Landmarks 33/34 are the model's own alignment points (body centre, body size + rotation).
            alignment=crop.to_photo(raw[NUM_LANDMARKS : NUM_LANDMARKS + 2, :2] - 0.5),
            visibility=sigmoid(raw[:NUM_LANDMARKS, 3]),
            presence=sigmoid(raw[:NUM_LANDMARKS, 4]),
            segmentation_logits=segmentation[0, :, :, 0],
        )

    def _mask(self, photo: np.ndarray, found: _LandmarkPass) -> np.ndarray:
        height, width = photo.shape[:2]
        if self.mask_source == "pose":
            probability = sigmoid(found.segmentation_logits).astype(np.float32)
        else:
            pixels = found.crop.cut(photo).astype(np.float32) / 255.0
            probability = self._run("segmenter", pixels[None])[0][0, :, :, 0]
        return found.crop.paste_mask(probability, width, height)

    # ---------------------------------------------------------------------------------------------- public
    def detect(self, photo: np.ndarray, region: Region | None = None, with_mask: bool = True) -> Detection:
        """The person in the photo (or in `region`: a box (x, y, w, h) or a point (x, y) on them).

        Several people: the largest one the detector is confident about. Raises NoPersonFoundError."""
        started = time.perf_counter()
        self.timings = {}
        photo = as_rgb8(photo)
        height, width = photo.shape[:2]
        region = _check_region(region, width, height)
        self._load()
        try:
            return self._detect_any_turn(photo, region, with_mask)
        finally:
            self.timings["total"] = (time.perf_counter() - started) * 1000.0

    def _detect_any_turn(self, photo: np.ndarray, region: Region | None, with_mask: bool) -> Detection:
        # The models work best on upright people. A photo shot sideways is retried turned by quarter turns. A
        # person found more than 45° from upright is looked at again in the other quarter turns (the detector can
        # mistake a lying person's legs for a whole body, head and feet swapped), keeping the most upright view.
        for quarter_turns in (0, 1, 3, 2):
            found = self._detect_turned(photo, region, with_mask, quarter_turns)
            if found is None:
                continue
            if _tilt(found, quarter_turns) <= math.pi / 4:
                return found
            views = [(found, quarter_turns)]
            for other in {0, 1, 2, 3} - {quarter_turns}:
                again = self._detect_turned(photo, region, with_mask, other)
                if again is not None:
                    views.append((again, other))
            return min(views, key=lambda view: _tilt(*view))[0]
        where = "in the given region" if region is not None else "in the photo"
        raise NoPersonFoundError(f"no person found {where}; try pointing at the person or drawing a box around them")

    def _detect_turned(
        self, photo: np.ndarray, region: Region | None, with_mask: bool, quarter_turns: int
    ) -> Detection | None:
        """Detect in np.rot90(photo, quarter_turns); the result is mapped back to the photo's frame."""
        height, width = photo.shape[:2]
        turned = np.ascontiguousarray(np.rot90(photo, quarter_turns)) if quarter_turns else photo
        turned_region = _turn_region(region, quarter_turns, width, height)
        found = self._detect_upright(turned, turned_region, with_mask, tiles=quarter_turns == 0)
        return None if found is None else _unturn_detection(found, quarter_turns, width, height)

    def _search_windows(
        self, photo: np.ndarray, region: Region | None, tiles: bool
    ) -> list[tuple[float, float, float, float] | None]:
        """Where to run the person detector, in order, until someone is found."""
        height, width = photo.shape[:2]
        if region is None:
            # The whole photo first; then (only if nobody was seen) overlapping squares along the long side, so a
            # small person in a wide photo is seen 1.5–2× larger by the 224² detector.
            return [None, *(_tiles(width, height) if tiles else [])]
        if len(region) == 4:
            # The box (with a margin) first; then the whole photo, for a box drawn around only part of the person
            # (the face-anchored detector needs the head), keeping people whose hips or head box are in the box.
            x, y, w, h = region  # type: ignore[misc]
            return [(x - REGION_PAD * w, y - REGION_PAD * h, w * (1 + 2 * REGION_PAD), h * (1 + 2 * REGION_PAD)), None]
        # A clicked point: the whole photo first, then windows of shrinking size centred on the point.
        px, py = region
        windows: list[tuple[float, float, float, float] | None] = [None]
        for fraction in (0.75, 0.5, 0.3):
            side = fraction * max(width, height)
            windows.append((px - side / 2, py - side / 2, side, side))
        return windows

    def _detect_upright(
        self, photo: np.ndarray, region: Region | None, with_mask: bool, tiles: bool = True
    ) -> Detection | None:
        for window in self._search_windows(photo, region, tiles):
            candidates = [c for c in self.person_candidates(photo, window) if _matches_region(c, region, window)]
            for candidate in sorted(candidates, key=lambda c: -c.body_side):
                found = self._from_candidate(photo, candidate, with_mask)
                if found is not None:
                    return found
        return None

    def _second_pass(self, photo: np.ndarray, first: _LandmarkPass) -> _LandmarkPass | None:
        """Run the landmarks again on the region the landmark model's own alignment points give: a tighter,
        better-turned region. Both passes must agree that a person is there: a detector false positive rarely
        survives the re-centred look."""
        centre, side, rotation = _roi_from_alignment_points(first.alignment[0], first.alignment[1])
        if side < MIN_ROI_SIDE:
            return None
        found = self._landmarks(photo, centre, side, rotation)
        return found if found.pose_flag >= MIN_POSE_FLAG else None

    def _from_candidate(self, photo: np.ndarray, candidate: _Candidate, with_mask: bool) -> Detection | None:
        height, width = photo.shape[:2]
        centre, side, rotation = _roi_from_alignment_points(candidate.keypoints[0], candidate.keypoints[1])
        if side < MIN_ROI_SIDE:
            return None
        found = self._landmarks(photo, centre, side, rotation)
        if found.pose_flag < MIN_POSE_FLAG:
            return None
        if self.second_pass:
            found = self._second_pass(photo, found)
            if found is None:
                return None
        joints, joint_visibility, joint_presence = contract_joints(found.landmarks, found.visibility, found.presence)
        inside = (joints[:, 0] >= 0) & (joints[:, 0] <= width - 1) & (joints[:, 1] >= 0) & (joints[:, 1] <= height - 1)
        visible = (joint_presence >= MIN_PRESENCE) & inside
        if not visible.any():
            return None
        confidence = np.clip(joint_visibility, 0.0, 1.0)
        pose = Pose(joints, visible, width, height, confidence=confidence)
        seen = np.concatenate([found.landmarks[found.presence >= MIN_PRESENCE], joints[visible]])
        x0, y0 = np.clip(seen.min(0), 0, [width - 1, height - 1])
        x1, y1 = np.clip(seen.max(0), 0, [width - 1, height - 1])
        mask_started = time.perf_counter()
        mask = self._mask(photo, found) if with_mask else np.zeros((height, width), np.float32)
        self.timings["mask"] = (time.perf_counter() - mask_started) * 1000.0
        return Detection(
            pose=pose,
            confidence=confidence,
            mask=mask,
            box=(float(x0), float(y0), float(x1), float(y1)),
            score=float(candidate.score),
            landmarks=found.landmarks,
            landmark_presence=found.presence.astype(np.float64),
            rotation=found.rotation,
        )


def _tiles(width: int, height: int) -> list[tuple[float, float, float, float]]:
    """Squares of the short side's size, evenly spread along the long side with at least ~1/3 overlap; at most
    MAX_TILES of them (a 16×6000 strip asked for 562 detector runs, ~30 s; past ~8:1 the squares spread out
    and leave gaps, where nobody recognisable fits anyway)."""
    short, long = min(width, height), max(width, height)
    if long <= short * 1.2:
        return []
    count = min(math.ceil((long - short) / (short * 2 / 3)) + 1, MAX_TILES)
    starts = np.linspace(0.0, long - short, count)
    if width >= height:
        return [(float(s), 0.0, float(short), float(short)) for s in starts]
    return [(0.0, float(s), float(short), float(short)) for s in starts]


def _matches_region(
    candidate: _Candidate, region: Region | None, window: tuple[float, float, float, float] | None
) -> bool:
    """Is the candidate the person the region points at?

    Box: found inside the box's own window, yes; found in the whole photo, when its mid-hip lies in the box or the
    box's centre lies in the person's predicted whole-body circle (a box drawn around the legs only). Point: the point must be on the person: inside the detector's box (it hugs the
    head and upper body) or inside the circle around the mid-hip that the detector predicts to enclose the whole
    body (legs too)."""
    if region is None:
        return True
    if len(region) == 4:
        if window is not None:
            return True
        x, y, w, h = region  # type: ignore[misc]
        hip_x, hip_y = candidate.keypoints[0]
        if x <= hip_x <= x + w and y <= hip_y <= y + h:
            return True
        return _in_body_circle(candidate, np.array([x + w / 2, y + h / 2]))
    point = np.asarray(region, dtype=np.float64)
    x0, y0, x1, y1 = candidate.box
    pad = 0.1 * max(x1 - x0, y1 - y0)
    in_box = x0 - pad <= point[0] <= x1 + pad and y0 - pad <= point[1] <= y1 + pad
    return in_box or _in_body_circle(candidate, point)


def _in_body_circle(candidate: _Candidate, point: np.ndarray) -> bool:
    radius = float(np.linalg.norm(candidate.keypoints[1] - candidate.keypoints[0]))
    return float(np.linalg.norm(point - candidate.keypoints[0])) <= 1.1 * radius


# ---------------------------------------------------------------------------------------------- quarter turns
def _turn_points(points: np.ndarray, quarter_turns: int, width: int, height: int) -> np.ndarray:
    """Photo pixel coordinates -> coordinates in np.rot90(photo, quarter_turns) (counter-clockwise turns)."""
    p = np.asarray(points, dtype=np.float64).copy()
    w, h = width, height
    for _ in range(quarter_turns % 4):
        p = np.stack([p[..., 1], (w - 1) - p[..., 0]], axis=-1)
        w, h = h, w
    return p


def _turn_region(region: Region | None, quarter_turns: int, width: int, height: int) -> Region | None:
    if region is None or quarter_turns % 4 == 0:
        return region
    if len(region) == 2:
        x, y = _turn_points(np.array(region), quarter_turns, width, height)
        return (float(x), float(y))
    x, y, w, h = region  # type: ignore[misc]
    corners = _turn_points(np.array([[x, y], [x + w, y + h]]), quarter_turns, width, height)
    lo, hi = corners.min(0), corners.max(0)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


def _unturn_detection(found: Detection, quarter_turns: int, width: int, height: int) -> Detection:
    if quarter_turns % 4 == 0:
        return found
    back = (4 - quarter_turns) % 4
    turned_w, turned_h = (height, width) if quarter_turns % 2 else (width, height)
    joints = _turn_points(found.pose.xy, back, turned_w, turned_h)
    landmarks = _turn_points(found.landmarks, back, turned_w, turned_h)
    corners = _turn_points(np.array(found.box).reshape(2, 2), back, turned_w, turned_h)
    lo, hi = corners.min(0), corners.max(0)
    pose = Pose(joints, found.pose.visible, width, height, confidence=found.confidence)
    return Detection(
        pose=pose,
        confidence=found.confidence,
        mask=np.ascontiguousarray(np.rot90(found.mask, back)),
        box=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])),
        score=found.score,
        landmarks=landmarks,
        landmark_presence=found.landmark_presence,
        rotation=_wrap_angle(found.rotation + quarter_turns * math.pi / 2),
    )


def _wrap_angle(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _tilt(found: Detection, quarter_turns: int) -> float:
    """How far from upright the person was in the frame turned by `quarter_turns`."""
    return abs(_wrap_angle(found.rotation - quarter_turns * math.pi / 2))

