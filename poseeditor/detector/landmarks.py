"""BlazePose's 33 landmarks -> our 14 joints, and the landmark model's heatmap refinement.

BlazePose topology (MediaPipe pose_landmark model card): 0 nose, 7/8 left/right ear, 11/12 left/right shoulder,
13/14 elbows, 15/16 wrists, 23/24 hips, 25/26 knees, 27/28 ankles (left first; left = the person's left).
The model has no top of head and no neck: the neck is the shoulders' midpoint raised towards the ears, the head
top extends the shoulder-mid → ear-mid line. Both factors were fitted on the annotated posewarp tennis frames
(see docs/detector.md, `python -m benchmarks.detector_accuracy --calibrate`).
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 33
LANDMARK_VALUES = 5  # x, y, z, visibility logit, presence logit
HEATMAP_SIZE = 64
REFINE_KERNEL = 7
REFINE_MIN_CONFIDENCE = 0.5

NOSE, LEFT_EAR, RIGHT_EAR, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 7, 8, 11, 12
# Our joints 2..13 (R shoulder, R elbow, R wrist, L shoulder, L elbow, L wrist, R hip, R knee, R ankle, L hip,
# L knee, L ankle) -> BlazePose landmark index.
LIMB_LANDMARKS = (12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27)

# Fitted on the 8 annotated tennis frames (least squares along shoulder-mid -> ear-mid, in units of that length).
NECK_FROM_EARS = 0.32
HEAD_FROM_EARS = 1.81


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def refine_with_heatmap(xy: np.ndarray, heatmap: np.ndarray, input_size: int) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmapCalculator: move each landmark to the confidence-weighted mean of its
    heatmap (sigmoid) in a 7×7 window around it, when the window's peak is confident enough.

    xy: (K, 2) in model-input pixels; heatmap: (64, 64, ≥K) raw logits. Returns refined (K, 2)."""
    count = xy.shape[0]
    hm_h, hm_w = heatmap.shape[:2]
    half = REFINE_KERNEL // 2
    # Pad with "certainly not here" so windows at the border simply have fewer cells, as MediaPipe clips them.
    padded = np.full((hm_h + 2 * half, hm_w + 2 * half, count), -80.0, dtype=np.float64)
    padded[half:-half, half:-half] = heatmap[:, :, :count]
    cx = np.clip((xy[:, 0] / input_size * hm_w).astype(int), -half - 1, hm_w + half)
    cy = np.clip((xy[:, 1] / input_size * hm_h).astype(int), -half - 1, hm_h + half)
    offsets = np.arange(-half, half + 1)
    rows = np.clip(cy[:, None] + offsets[None, :] + half, 0, hm_h + 2 * half - 1)  # (K, 7) padded indices
    cols = np.clip(cx[:, None] + offsets[None, :] + half, 0, hm_w + 2 * half - 1)
    inside_rows = (cy[:, None] + offsets >= 0) & (cy[:, None] + offsets < hm_h)
    inside_cols = (cx[:, None] + offsets >= 0) & (cx[:, None] + offsets < hm_w)
    windows = padded[rows[:, :, None], cols[:, None, :], np.arange(count)[:, None, None]]  # (K, 7, 7)
    confidence = sigmoid(windows) * (inside_rows[:, :, None] & inside_cols[:, None, :])
    total = confidence.sum(axis=(1, 2))
    refine = (confidence.max(axis=(1, 2)) >= REFINE_MIN_CONFIDENCE) & (total > 0)
    out = xy.copy()
    if refine.any():
        grid_y = (cy[:, None] + offsets).astype(np.float64)  # heatmap cell indices of the window rows/cols
        grid_x = (cx[:, None] + offsets).astype(np.float64)
        mean_y = (confidence.sum(axis=2) * grid_y).sum(axis=1) / np.maximum(total, 1e-12)
        mean_x = (confidence.sum(axis=1) * grid_x).sum(axis=1) / np.maximum(total, 1e-12)
        # Heatmap cell (j, i) covers model pixels around ((i + 0.5)·s, (j + 0.5)·s).
        out[refine, 0] = (mean_x[refine] + 0.5) / hm_w * input_size
        out[refine, 1] = (mean_y[refine] + 0.5) / hm_h * input_size
    return out


def contract_joints(
    xy: np.ndarray, visibility: np.ndarray, presence: np.ndarray,
    neck_factor: float = NECK_FROM_EARS, head_factor: float = HEAD_FROM_EARS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(33, 2) landmarks + probabilities -> our (14, 2) joints, (14,) visibility and (14,) presence."""
    joints = np.zeros((14, 2))
    vis = np.zeros(14)
    pres = np.zeros(14)
    joints[2:] = xy[list(LIMB_LANDMARKS)]
    vis[2:] = visibility[list(LIMB_LANDMARKS)]
    pres[2:] = presence[list(LIMB_LANDMARKS)]
    shoulders = [LEFT_SHOULDER, RIGHT_SHOULDER]
    ears = [LEFT_EAR, RIGHT_EAR]
    shoulder_mid = xy[shoulders].mean(0)
    ear_mid = xy[ears].mean(0)
    up = ear_mid - shoulder_mid
    joints[1] = shoulder_mid + neck_factor * up
    joints[0] = shoulder_mid + head_factor * up
    vis[1] = visibility[shoulders].min()
    pres[1] = presence[shoulders].min()
    # The head top is seen when the head is: take the best of the nose and ears.
    vis[0] = visibility[[NOSE, *ears]].max()
    pres[0] = presence[[NOSE, *ears]].max()
    return joints, vis, pres
