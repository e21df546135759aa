"""The warp between the two stages (DESIGN.md §3): each body-part layer moved by its limb's similarity.

Done with cv2 outside the networks (cheaper than ONNX GridSample, measured), for every backend alike, so the
backends differ only in the networks they run. Layers are planar (channel-first) so that every plane is warped
straight into the network's input buffer: no transposes on the drag path.
"""

from __future__ import annotations

import cv2
import numpy as np

from poseeditor.skeleton import NUM_LIMBS


def premultiplied_layers(image: np.ndarray, part_masks: np.ndarray) -> np.ndarray:
    """(10, 4, S, S): for each limb l, image·part_masks[l+1] (3 planes) and the mask itself.

    image (3,S,S) float32 in [-1,1]; part_masks (11,S,S). Depends only on the source: computed once per photo.
    """
    masks = part_masks[1 : NUM_LIMBS + 1].astype(np.float32)
    layers = np.empty((NUM_LIMBS, 4, *image.shape[1:]), dtype=np.float32)
    np.multiply(image[None], masks[:, None], out=layers[:, :3])
    layers[:, 3] = masks
    return layers


def warp_layers(
    layers: np.ndarray, transforms: np.ndarray, reuse: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Warp each limb's planes with transforms[l] (target pixel -> source pixel).

    layers (10,4,S,S) from `premultiplied_layers`; transforms (10,2,3).
    Returns the warped layers (10,3,S,S) — reshaped to (1,30,S,S) this is the target network's input — and the
    warped masks (10,S,S) (for display).

    `reuse`: (transforms, warped layers, warped masks) of an earlier warp of the *same* layers. A limb whose
    transform is exactly the same is copied from it instead of warped again: dragging one joint changes one or two
    limbs' transforms, and a copy costs a fraction of a warp (the editor's drag path). The arrays are not modified.
    """
    n, _, h, w = layers.shape
    warped = np.empty((n, 3, h, w), dtype=np.float32)
    masks = np.empty((n, h, w), dtype=np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for limb in range(n):
        m = np.asarray(transforms[limb], dtype=np.float64)
        if reuse is not None and np.array_equal(m, reuse[0][limb]):
            warped[limb] = reuse[1][limb]
            masks[limb] = reuse[2][limb]
            continue
        for c in range(3):
            cv2.warpAffine(layers[limb, c], m, (w, h), dst=warped[limb, c], flags=flags, borderMode=cv2.BORDER_CONSTANT)
        cv2.warpAffine(layers[limb, 3], m, (w, h), dst=masks[limb], flags=flags, borderMode=cv2.BORDER_CONSTANT)
    return warped, masks
