"""The segmentation prior of the paper's code: an anisotropic Gaussian along each limb (DESIGN.md §3).

Variance along the limb max(5, length²/1.5) px², across it 11² px² (13² for the torso), at 256²; background prior
= 1 − max over limbs. The segmentation network adds its 11 logits to log(prior) before the softmax.
"""

from __future__ import annotations

import numpy as np

from poseeditor.skeleton import LIMBS, NUM_LAYERS

PRIOR_FLOOR = 1e-4  # keeps log(prior) finite so the network can still overrule a near-zero prior


def segmentation_prior(xy: np.ndarray, visible: np.ndarray, size: int) -> np.ndarray:
    """(11, size, size) float32 prior in [PRIOR_FLOOR, 1] for joints given in crop pixels."""
    f = size / 256.0
    xy = np.asarray(xy, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    # float32 and broadcasting (a column and a row, not two full grids): this runs per training sample
    coords = np.arange(size, dtype=np.float32)
    gx, gy = coords[None, :], coords[:, None]
    prior = np.zeros((NUM_LAYERS, size, size), dtype=np.float32)
    for i, joints in enumerate(LIMBS):
        use = [j for j in joints if visible[j]]
        if not use:
            continue
        pts = xy[use]
        centre = pts.mean(axis=0)
        if len(joints) == 2:
            axis_vec = pts[-1] - pts[0] if len(use) == 2 else np.array([0.0, 1.0])
            across_sd = 11.0 * f
        else:  # torso: along the shoulders-to-hips direction
            sh = xy[[j for j in (2, 5) if visible[j]]] if visible[[2, 5]].any() else pts
            hp = xy[[j for j in (8, 11) if visible[j]]] if visible[[8, 11]].any() else pts
            axis_vec = hp.mean(axis=0) - sh.mean(axis=0)
            across_sd = 13.0 * f
        length = float(np.linalg.norm(axis_vec))
        along_var = max(5.0 * f * f, length**2 / 1.5)
        u = axis_vec / length if length > 1e-6 else np.array([0.0, 1.0])
        dx, dy = gx - np.float32(centre[0]), gy - np.float32(centre[1])
        ux, uy = np.float32(u[0]), np.float32(u[1])
        along = dx * ux + dy * uy
        across = dy * ux - dx * uy
        exponent = along * along * np.float32(-0.5 / along_var) + across * across * np.float32(-0.5 / across_sd**2)
        np.exp(exponent, out=prior[i + 1])
    prior[0] = 1.0 - prior[1:].max(axis=0)
    return np.clip(prior, PRIOR_FLOOR, 1.0, out=prior)
