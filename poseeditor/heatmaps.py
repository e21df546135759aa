"""Gaussian joint heatmaps (DESIGN.md §3): one channel per joint, exp(-d²/2σ²), zero for invisible joints."""

from __future__ import annotations

import numpy as np

from poseeditor.skeleton import NUM_JOINTS

SIGMA_AT_256 = 3.5  # the paper's 1.75 at its 128² heatmap resolution


def sigma_for_size(size: int) -> float:
    return SIGMA_AT_256 * size / 256.0


def joint_heatmaps(xy: np.ndarray, visible: np.ndarray, size: int, sigma: float | None = None) -> np.ndarray:
    """(14, size, size) float32 heatmaps for joints given in crop pixels (pixel centres at integers)."""
    sigma = sigma_for_size(size) if sigma is None else sigma
    xy = np.asarray(xy, dtype=np.float32)
    coords = np.arange(size, dtype=np.float32)
    # Separable: exp(-(dx²+dy²)/2σ²) = exp(-dx²/2σ²)·exp(-dy²/2σ²); (14, size) each, then an outer product.
    gx = np.exp(-((coords[None, :] - xy[:, 0:1]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((coords[None, :] - xy[:, 1:2]) ** 2) / (2 * sigma**2))
    maps = gy[:, :, None] * gx[:, None, :]
    maps[~np.asarray(visible, dtype=bool)] = 0.0
    assert maps.shape == (NUM_JOINTS, size, size)
    return maps.astype(np.float32, copy=False)
