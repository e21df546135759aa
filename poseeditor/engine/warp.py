"""The warp between the two stages (DESIGN.md §3): each body-part layer moved by its limb's similarity.

Done with cv2 outside the networks (cheaper than ONNX GridSample, measured), for every backend alike, so the
backends differ only in the networks they run.
"""

from __future__ import annotations

import cv2
import numpy as np

from poseeditor.skeleton import NUM_LIMBS


def warp_layers(image: np.ndarray, part_masks: np.ndarray, transforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp layer l = image·part_masks[l+1] with transforms[l] (target pixel -> source pixel).

    image (S,S,3) float32 in [-1,1]; part_masks (11,S,S); transforms (10,2,3).
    Returns warped layers (10,S,S,3) and the warped part masks (10,S,S) (for display).
    """
    size = image.shape[0]
    layers = np.empty((NUM_LIMBS, size, size, 3), dtype=np.float32)
    masks = np.empty((NUM_LIMBS, size, size), dtype=np.float32)
    rgba = np.empty((size, size, 4), dtype=np.float32)
    for limb in range(NUM_LIMBS):
        mask = part_masks[limb + 1]
        np.multiply(image, mask[:, :, None], out=rgba[:, :, :3])
        rgba[:, :, 3] = mask
        # One 4-channel warp moves the layer and its mask together.
        out = cv2.warpAffine(
            rgba,
            transforms[limb].astype(np.float64),
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        layers[limb] = out[:, :, :3]
        masks[limb] = out[:, :, 3]
    return layers, masks
