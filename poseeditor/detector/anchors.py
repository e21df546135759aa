"""BlazePose's person detector head: SSD anchors, box/keypoint decoding and weighted non-maximum suppression.

Numbers from MediaPipe's `pose_detection_cpu.pbtxt` (SsdAnchorsCalculator / TensorsToDetectionsCalculator):
224² input, strides 8/16/32/32/32, 2 anchors per cell and layer, fixed anchor size 1, anchor offset 0.5; raw
values are (x, y, w, h, 4 keypoints × (x, y)) in input pixels relative to the anchor centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DETECTOR_INPUT = 224
STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2  # aspect ratio 1.0 plus the interpolated-scale anchor; sizes are fixed to 1 anyway
NUM_KEYPOINTS = 4  # 0 mid-hip, 1 full-body circle (size + rotation), 2 mid-shoulder, 3 upper-body circle
SCORE_CLIP = 100.0
MIN_SCORE = 0.5
NMS_IOU = 0.3


def ssd_anchor_centres(input_size: int = DETECTOR_INPUT, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the model's output order (2,254 for BlazePose)."""
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers with the same stride share one feature map: their anchors interleave per cell.
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = ANCHORS_PER_LAYER * (last - layer)
        cells = -(-input_size // strides[layer])
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class RawDetection:
    """One person candidate in the detector's input frame, normalised to [0, 1]."""

    score: float
    box: np.ndarray  # (x0, y0, x1, y1)
    keypoints: np.ndarray  # (4, 2)


def decode_detections(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float = MIN_SCORE
) -> list[RawDetection]:
    """Model outputs (N, 12) and (N, 1) -> candidates above `min_score`, after weighted NMS."""
    logits = np.clip(raw_scores.reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    raw = raw_boxes.reshape(-1, 4 + 2 * NUM_KEYPOINTS)[keep] / DETECTOR_INPUT
    centre = raw[:, 0:2] + anchors[keep]
    half = raw[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[keep][:, None, :]
    return weighted_nms(scores[keep], boxes, keypoints)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = _area(box) + _area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou_threshold: float = NMS_IOU
) -> list[RawDetection]:
    """MediaPipe's WEIGHTED suppression: each cluster of overlapping candidates becomes their score-weighted mean
    (boxes and keypoints), keeping the best score. Smoother than hard NMS for one person seen by many anchors."""
    order = np.argsort(-scores)
    remaining = order
    result: list[RawDetection] = []
    while remaining.size:
        best = remaining[0]
        overlap = box_iou(boxes[best], boxes[remaining])
        cluster = remaining[overlap > iou_threshold]
        weights = scores[cluster][:, None]
        total = weights.sum()
        result.append(
            RawDetection(
                score=float(scores[best]),
                box=(boxes[cluster] * weights).sum(0) / total,
                keypoints=(keypoints[cluster] * weights[:, :, None]).sum(0) / total,
            )
        )
        remaining = remaining[overlap <= iou_threshold]
    return result
