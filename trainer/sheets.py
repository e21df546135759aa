"""Sample sheets: one PNG row per pair — source | target | result | foreground | mask | background | part masks |
warped layers | target heatmaps — so a person can see at a glance which module is failing."""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from poseeditor.image_io import save_image
from poseeditor.skeleton import JOINT_COLOURS, LAYER_COLOURS

COLUMNS = ("source", "target", "result", "foreground", "mask", "background", "parts", "warped", "pose")


def _image(x: torch.Tensor) -> np.ndarray:
    """(3,S,S) in [-1,1] -> (S,S,3) uint8."""
    return (np.clip((x.detach().float().cpu().numpy().transpose(1, 2, 0) + 1.0) * 127.5, 0, 255) + 0.5).astype(
        np.uint8
    )


def _grey(x: torch.Tensor) -> np.ndarray:
    g = (np.clip(x.detach().float().cpu().numpy(), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def _parts(part_masks: torch.Tensor) -> np.ndarray:
    """(11,S,S) soft masks -> colours mixed by probability (the background layer shows black)."""
    colours = np.asarray(LAYER_COLOURS, dtype=np.float32)
    colours[0] = 0.0
    p = part_masks.detach().float().cpu().numpy()
    return np.clip(np.einsum("lhw,lc->hwc", p, colours), 0, 255).astype(np.uint8)


def _warped(warped_layers: torch.Tensor, coverage: torch.Tensor | None) -> np.ndarray:
    """(30,S,S) layers (image·mask, warped) -> their sum in true colours on black, as the foreground module sees
    them. A layer holds image·mask with the image in [-1,1]; (layer + mask)/2 is the [0,1] colour times the mask."""
    total = warped_layers.detach().float().reshape(-1, 3, *warped_layers.shape[-2:]).sum(dim=0)
    if coverage is None:
        return (np.clip((total.cpu().numpy().transpose(1, 2, 0) + 1.0) * 127.5, 0, 255)).astype(np.uint8)
    colour = (total + coverage.float()[None]) * 0.5
    return (np.clip(colour.cpu().numpy().transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)


def _coverage(outputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """(N,S,S) sum of the warped part masks (the generator's own warp computed them), or None without them."""
    if "warped_masks" not in outputs:
        return None
    return outputs["warped_masks"].detach().float().cpu().sum(dim=1)


def _pose(heatmaps: torch.Tensor) -> np.ndarray:
    colours = np.asarray(JOINT_COLOURS, dtype=np.float32)
    h = heatmaps.detach().float().cpu().numpy()
    return np.clip(np.einsum("jhw,jc->hwc", h, colours), 0, 255).astype(np.uint8)


def sheet_rows(batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor], count: int) -> np.ndarray:
    """The sheet as one (rows·S, columns·S, 3) uint8 image; modules the model lacks show grey."""
    rows = []
    n = min(count, batch["image_src"].shape[0])
    size = batch["image_src"].shape[-1]
    blank = np.full((size, size, 3), 96, dtype=np.uint8)
    coverage = _coverage(outputs)
    for i in range(n):
        cells = {
            "source": _image(batch["image_src"][i]),
            "target": _image(batch["image_tgt"][i]),
            "result": _image(outputs["output"][i]),
            "pose": _pose(batch["heatmaps_tgt"][i]),
        }
        if "foreground" in outputs:
            cells["foreground"] = _image(outputs["foreground"][i])
        if "mask" in outputs:
            cells["mask"] = _grey(outputs["mask"][i, 0])
        if "background" in outputs:
            cells["background"] = _image(outputs["background"][i])
        if "part_masks" in outputs:
            cells["parts"] = _parts(outputs["part_masks"][i])
        if "warped_layers" in outputs:
            cells["warped"] = _warped(outputs["warped_layers"][i], None if coverage is None else coverage[i])
        rows.append(np.concatenate([cells.get(c, blank) for c in COLUMNS], axis=1))
    sheet = np.concatenate(rows, axis=0)
    header = np.full((max(14, size // 8), sheet.shape[1], 3), 255, dtype=np.uint8)
    scale = header.shape[0] / 30.0
    for k, name in enumerate(COLUMNS):
        cv2.putText(header, name, (k * size + 3, int(header.shape[0] * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, sheet], axis=0)


def save_sheet(
    path: str | os.PathLike[str], batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor], count: int = 4
) -> None:
    save_image(path, sheet_rows(batch, outputs, count))
