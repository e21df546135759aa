"""The offline pose detector (BlazePose in ONNX): accuracy on annotated frames, people, regions, rotations, masks."""

from __future__ import annotations

import numpy as np
import pytest

from poseeditor.detector import PoseDetector, detect, landmarks
from poseeditor.detector.anchors import decode_detections, ssd_anchor_centres, weighted_nms
from poseeditor.detector.pipeline import _turn_points
from poseeditor.errors import ImageError, NoPersonFoundError, PoseEditorError
from poseeditor.image_io import load_image
from poseeditor.resources import resource_path

from .conftest import TENNIS


@pytest.fixture(scope="module")
def detector() -> PoseDetector:
    return PoseDetector()


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return load_image(resource_path("samples", "sample.jpg"))


@pytest.fixture(scope="module")
def lab() -> np.ndarray:
    return load_image(resource_path("samples", "lab_cam02.jpg"))


def torso(xy: np.ndarray) -> float:
    return 2.0 * float(np.linalg.norm(xy[1] - (xy[8] + xy[11]) / 2))


# ---------------------------------------------------------------------------------------------- accuracy
@pytest.mark.skipif(not (TENNIS / "info").is_dir(), reason="posewarp-tennis fixture not present")
def test_tennis_pck_at_0_2_is_at_least_0_85(detector):
    from benchmarks.detector_accuracy import evaluate

    report = evaluate(TENNIS, detector)
    assert report.errors_px.shape == (8, 14)
    assert report.pck(0.2) >= 0.85, report.table()
    # A wrong joint order (e.g. left/right swapped) would fail this even when PCK on the torso passes.
    assert np.median(report.errors_px) < 15.0, report.table()


# ---------------------------------------------------------------------------------------------- a person
def test_detects_the_person_in_the_sample_photo(detector, sample):
    found = detector.detect(sample)
    h, w = sample.shape[:2]
    assert found.pose.width == w and found.pose.height == h
    assert found.pose.visible.all()
    assert found.confidence.shape == (14,) and np.all((found.confidence >= 0) & (found.confidence <= 1))
    assert 0.5 <= found.score <= 1.0
    xy = found.pose.xy
    # Upright walker: head above neck above hips above knees above ankles.
    assert xy[0, 1] < xy[1, 1] < (xy[8, 1] + xy[11, 1]) / 2 < (xy[9, 1] + xy[12, 1]) / 2 < (xy[10, 1] + xy[13, 1]) / 2
    # The walking woman stands in the lower middle of the frame (x ≈ 700–850, feet near y ≈ 830 at 1600×900).
    x0, y0, x1, y1 = found.box
    assert 600 < x0 < x1 < 900 and 400 < y0 < y1 < 900


def test_mask_is_a_soft_person_mask(detector, sample):
    found = detector.detect(sample)
    mask = found.mask
    assert mask.shape == sample.shape[:2] and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    x0, y0, x1, y1 = (round(v) for v in found.box)
    inside = mask[y0:y1, x0:x1]
    outside = mask.copy()
    outside[y0:y1, x0:x1] = 0
    assert inside.mean() > 0.3
    assert outside.sum() < 0.15 * inside.sum()
    # The person's hip midpoint is on the mask.
    hx, hy = np.round((found.pose.xy[8] + found.pose.xy[11]) / 2).astype(int)
    assert mask[hy, hx] > 0.5


def test_selfie_segmenter_mask_source_also_works(sample):
    found = PoseDetector(mask_source="selfie").detect(sample)
    hx, hy = np.round((found.pose.xy[8] + found.pose.xy[11]) / 2).astype(int)
    assert found.mask[hy, hx] > 0.5
    with pytest.raises(ValueError):
        PoseDetector(mask_source="magic")


def test_module_level_detect_uses_a_shared_detector(sample, monkeypatch):
    import poseeditor.detector as module

    made = []
    original_init = PoseDetector.__init__

    def counting_init(self, *args, **kwargs):
        made.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(module, "_default", None)  # as in a fresh process
    monkeypatch.setattr(PoseDetector, "__init__", counting_init)
    a = detect(sample)
    b = detect(sample)
    assert len(made) == 1, "each detect() call built its own detector (and loaded the ONNX models again)"
    assert module.default_detector() is made[0]
    assert made[0]._sessions is not None  # the one detector's sessions stay loaded between calls
    np.testing.assert_allclose(a.pose.xy, b.pose.xy)


# ---------------------------------------------------------------------------------------------- nobody
def test_no_person_raises(detector):
    # A smooth gradient with some texture: not blank (blank is too easy), but nobody in it.
    y, x = np.mgrid[0:360, 0:480]
    rng = np.random.default_rng(3)
    photo = np.stack([x / 480 * 200, y / 360 * 180 + 40, np.full_like(x, 120.0)], axis=-1)
    photo = np.clip(photo + rng.normal(0, 6, photo.shape), 0, 255).astype(np.uint8)
    with pytest.raises(NoPersonFoundError):
        detector.detect(photo)


# ---------------------------------------------------------------------------------------------- regions
@pytest.fixture(scope="module")
def two_people(sample, lab) -> tuple[np.ndarray, int]:
    """The walking woman (left half) next to the man in the lab (right half), 900 px high: the man is larger."""
    import cv2

    woman = sample[:, 450:1150]  # 900×700, the woman near the middle
    man = cv2.resize(lab[300:1200, 150:850], (700, 900), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.hstack([woman, man])), 700


def test_largest_person_is_picked_without_a_region(detector, two_people):
    photo, split = two_people
    found = detector.detect(photo)
    assert found.pose.xy[found.pose.visible, 0].min() > split - 20  # the man, on the right


def test_box_region_picks_the_indicated_person(detector, two_people):
    photo, split = two_people
    left = detector.detect(photo, region=(0, 0, split, photo.shape[0]))
    assert left.pose.xy[left.pose.visible, 0].max() < split + 20
    right = detector.detect(photo, region=(split, 0, photo.shape[1] - split, photo.shape[0]))
    assert right.pose.xy[right.pose.visible, 0].min() > split - 20


def test_point_region_picks_the_person_under_it(detector, two_people, sample):
    photo, split = two_people
    woman_hips = detector.detect(sample).pose.xy[[8, 11]].mean(0) - [450, 0]
    found = detector.detect(photo, region=tuple(woman_hips))
    assert found.pose.xy[found.pose.visible, 0].max() < split + 20
    assert np.linalg.norm(found.pose.xy[[8, 11]].mean(0) - woman_hips) < 40


def test_region_on_empty_background_finds_nobody(detector, sample):
    with pytest.raises(NoPersonFoundError):
        detector.detect(sample, region=(1300, 600, 250, 250))  # grass and tree trunk only


@pytest.mark.parametrize("region", [(10, 10, 0, 5), (5000, 10, 100, 100), (-500, 10), (1, 2, 3), (np.nan, 4)])
def test_bad_regions_are_clear_errors(detector, sample, region):
    with pytest.raises(PoseEditorError):
        detector.detect(sample, region=region)


# ---------------------------------------------------------------------------------------------- rotations
@pytest.mark.parametrize("quarter_turns", [1, 3])
def test_photo_turned_by_90_degrees(detector, lab, quarter_turns):
    upright = detector.detect(lab, with_mask=False)
    turned_photo = np.ascontiguousarray(np.rot90(lab, quarter_turns))
    turned = detector.detect(turned_photo)
    h, w = lab.shape[:2]
    assert (turned.pose.width, turned.pose.height) == (h, w)
    expected = _turn_points(upright.pose.xy, quarter_turns, w, h)
    error = np.linalg.norm(turned.pose.xy - expected, axis=1)
    assert np.median(error) < 0.1 * torso(expected), error.round(1)
    # The mask turned with the photo: the hip midpoint is on it.
    hx, hy = np.round(turned.pose.xy[[8, 11]].mean(0)).astype(int)
    assert turned.mask.shape == turned_photo.shape[:2] and turned.mask[hy, hx] > 0.5


def test_turn_points_matches_numpy_rot90():
    photo = np.zeros((5, 8), dtype=np.uint8)
    photo[1, 6] = 255  # x = 6, y = 1
    for k in range(4):
        turned = np.rot90(photo, k)
        y, x = np.argwhere(turned == 255)[0]
        np.testing.assert_allclose(_turn_points(np.array([[6.0, 1.0]]), k, 8, 5), [[x, y]])


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "photo",
    [
        np.zeros((100, 100, 3), dtype=np.float32),
        np.zeros((100, 100, 2), dtype=np.uint8),
        np.zeros((8, 8, 3), dtype=np.uint8),
        [[1, 2, 3]],
    ],
)
def test_bad_images_are_image_errors(detector, photo):
    with pytest.raises(ImageError):
        detector.detect(photo)  # type: ignore[arg-type]


def test_grey_and_rgba_photos_are_accepted(detector, sample):
    grey = sample.mean(axis=2).astype(np.uint8)
    assert detector.detect(grey, with_mask=False).pose.visible.sum() >= 10
    rgba = np.concatenate([sample, np.full(sample.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert detector.detect(rgba, with_mask=False).pose.visible.sum() >= 10


def test_missing_model_folder_is_a_model_error(tmp_path, sample):
    from poseeditor.errors import ModelError

    with pytest.raises(ModelError):
        PoseDetector(model_dir=tmp_path).detect(sample)


# ---------------------------------------------------------------------------------------------- decoding
def test_anchor_layout_matches_the_model_output():
    anchors = ssd_anchor_centres()
    assert anchors.shape == (2254, 2)
    # First layer: 28×28 cells × 2 anchors, row-major, centres at (i + 0.5) / 28.
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    # Last block: 7×7 cells × 6 anchors (three stride-32 layers share the map).
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])
    np.testing.assert_allclose(anchors[-6], [6.5 / 7, 6.5 / 7])


def test_decode_and_weighted_nms_merge_one_person_seen_by_two_anchors():
    anchors = ssd_anchor_centres()
    raw = np.zeros((2254, 12), np.float32)
    scores = np.full((2254, 1), -10.0, np.float32)
    for index, shift in ((100, 0.0), (102, 2.0)):
        raw[index, 2:4] = 56.0  # 56 px box
        raw[index, 4:] = shift
        scores[index] = 3.0
    found = decode_detections(raw, scores, anchors)
    assert len(found) == 1
    assert found[0].score == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert found[0].box[2] - found[0].box[0] == pytest.approx(0.25, abs=1e-6)
    far = weighted_nms(np.array([0.9, 0.8]), np.array([[0, 0, 0.1, 0.1], [0.5, 0.5, 0.6, 0.6]]), np.zeros((2, 4, 2)))
    assert len(far) == 2


def refine_with_heatmap_loop(xy: np.ndarray, heatmap: np.ndarray, input_size: int) -> np.ndarray:
    """The straightforward per-landmark version of `refine_with_heatmap`: the reference it is checked against."""
    out = xy.copy()
    hm_h, hm_w = heatmap.shape[:2]
    offset = landmarks.REFINE_KERNEL // 2
    for k in range(xy.shape[0]):
        cx = int(xy[k, 0] / input_size * hm_w)
        cy = int(xy[k, 1] / input_size * hm_h)
        x0, x1 = max(cx - offset, 0), min(cx + offset + 1, hm_w)
        y0, y1 = max(cy - offset, 0), min(cy + offset + 1, hm_h)
        if x0 >= x1 or y0 >= y1:
            continue
        confidence = landmarks.sigmoid(heatmap[y0:y1, x0:x1, k].astype(np.float64))
        if confidence.max() < landmarks.REFINE_MIN_CONFIDENCE:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        total = confidence.sum()
        out[k, 0] = ((xs * confidence).sum() / total + 0.5) / hm_w * input_size
        out[k, 1] = ((ys * confidence).sum() / total + 0.5) / hm_h * input_size
    return out


def test_vectorised_heatmap_refinement_matches_the_reference_loop():
    from poseeditor.detector.landmarks import refine_with_heatmap

    rng = np.random.default_rng(0)
    for _ in range(50):
        heatmap = rng.normal(0, 3, (64, 64, 39)).astype(np.float32)
        xy = rng.uniform(-40, 300, (33, 2))  # some landmarks off the crop
        np.testing.assert_allclose(refine_with_heatmap(xy, heatmap, 256), refine_with_heatmap_loop(xy, heatmap, 256), atol=1e-6)


def test_blazepose_landmarks_map_to_our_joint_order():
    from poseeditor.detector.landmarks import HEAD_FROM_EARS, contract_joints

    xy = np.zeros((33, 2))
    xy[:, 0] = np.arange(33) * 10.0  # x encodes the landmark index
    xy[[11, 12], 1] = 100.0  # shoulders
    xy[[7, 8], 1] = 50.0  # ears
    joints, _, _ = contract_joints(xy, np.ones(33), np.ones(33))
    # R shoulder = landmark 12, L wrist = 15, R ankle = 28, L hip = 23.
    assert joints[2, 0] == 120 and joints[7, 0] == 150 and joints[10, 0] == 280 and joints[11, 0] == 230
    assert joints[0, 1] == pytest.approx(100.0 - HEAD_FROM_EARS * 50.0)  # head top above the ears
    assert joints[1, 1] > joints[0, 1]


def test_clicking_on_the_feet_finds_the_person(detector, sample):
    """The detector's box hugs the upper body; a click on the legs must still select the person."""
    found = detector.detect(sample)
    ankle = found.pose.xy[10]
    clicked = detector.detect(sample, region=(float(ankle[0]), float(ankle[1]) - 5))
    np.testing.assert_allclose(clicked.pose.xy, found.pose.xy, atol=3.0)


def test_box_around_only_the_legs_still_finds_the_person(detector, sample):
    found = detector.detect(sample)
    legs = found.pose.xy[[9, 10, 12, 13]]
    x0, y0 = legs.min(0) - 10
    x1, y1 = legs.max(0) + 10
    boxed = detector.detect(sample, region=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
    np.testing.assert_allclose(boxed.pose.xy, found.pose.xy, atol=3.0)
