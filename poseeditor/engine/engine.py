"""The two-stage inference engine (DESIGN.md §3): source stage once per photo, target stage per pose change.

Everything here is numpy/cv2 around a `Backend`; no Qt, no torch unless the torch backend is chosen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cv2
import numpy as np

from poseeditor.engine.backends import Backend, make_backend
from poseeditor.engine.inpaint import inpaint_background, person_region_from_prior
from poseeditor.engine.model_files import ModelFiles, find_model
from poseeditor.engine.photo_composite import (
    ASSIGNMENTS,
    DEFAULT_ASSIGNMENT,
    PhotoComposite,
    PhotoLayers,
    compose_photo,
    prepare_photo,
)
from poseeditor.engine.photo_fill import FILL_CACHE, FillCache
from poseeditor.engine.warp import premultiplied_layers, warp_layers
from poseeditor.engine.preview import (
    PreviewSource,
    to_preview_xy,
    drag_preview_size,
    preview_source,
    preview_target_inputs,
    upsample_planes,
)
from poseeditor.errors import PoseEditorError
from poseeditor.geometry import Crop, crop_for_poses, limb_transforms
from poseeditor.image_io import unit_picture
from poseeditor.network_inputs import source_inputs, target_inputs
from poseeditor.skeleton import JOINT_COLOURS, LAYER_NAMES, LIMB_NAMES, Pose


T = TypeVar("T")


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _network_background(filled: np.ndarray) -> np.ndarray:
    """An inpainted (S,S,3) [0,1] picture as the source stage's background output: (1,3,S,S) in [−1, 1]."""
    return (np.moveaxis(filled, -1, 0)[None] * 2.0 - 1.0).astype(np.float32)


def _timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    t0 = time.perf_counter()
    return function(*args), _ms(t0)


# One thread for work of the source stage that can run beside its network (the classical background fill).
_SIDE_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poseeditor-source")


def heatmap_picture(heatmaps: np.ndarray) -> np.ndarray:
    """(14,S,S) -> (S,S,3) in [0,1]: each joint's bump in its side's colour."""
    colours = np.asarray(JOINT_COLOURS, dtype=np.float32) / 255.0
    picture = np.tensordot(np.asarray(heatmaps, dtype=np.float32), colours, axes=(0, 0))  # (S,S,3)
    return np.clip(picture, 0.0, 1.0, out=picture)


@dataclass
class SourceState:
    """Everything that depends only on the photo and the source pose (cached while the user drags)."""

    photo_shape: tuple[int, int]
    source_pose: Pose
    crop: Crop
    image: np.ndarray  # (3,S,S) float32 in [-1,1]
    source_xy: np.ndarray  # (14,2) crop pixels
    source_heatmaps: np.ndarray  # (14,S,S)
    prior: np.ndarray  # (11,S,S)
    part_masks: np.ndarray  # (11,S,S)
    background: np.ndarray  # (3,S,S) in [-1,1]
    layers: np.ndarray  # (10,4,S,S) premultiplied limb layers + masks, what the warp moves
    background_unit: np.ndarray  # (S,S,3) in [0,1], for display
    source_unit: np.ndarray  # (S,S,3) in [0,1], for display
    timings: dict[str, float] = field(default_factory=dict)
    # The same at the drag-time resolution (Engine.preview_size), when the model can run at it.
    preview: PreviewSource | None = None
    # A first-picture source (Engine.prepare_quick_source): made at the drag-time side only; `preview` holds what
    # the target stage takes, the full-size fields are upsampled from it. Rendered only at the drag-time side.
    quick: bool = False

    @property
    def size(self) -> int:
        return self.crop.size


@dataclass
class RenderResult:
    crop: Crop
    source_image: np.ndarray  # (S,S,3) [0,1]
    output: np.ndarray  # (S,S,3) [0,1]
    foreground: np.ndarray  # (S,S,3) [0,1]
    mask: np.ndarray  # (S,S) [0,1]
    background: np.ndarray  # (S,S,3) [0,1]
    part_masks: np.ndarray  # (11,S,S)
    warped_planes: np.ndarray  # (10,3,S,S) network input, [-1,1]·mask
    warped_masks: np.ndarray  # (10,S,S)
    source_heatmaps: np.ndarray  # (14,S,S)
    target_heatmaps: np.ndarray  # (14,S,S)
    transforms: np.ndarray  # (10,2,3) target crop pixel -> source crop pixel
    target_xy: np.ndarray  # (14,2) crop pixels
    timings: dict[str, float]
    target_visible: np.ndarray | None = None  # (14,) bool
    assignment: str = DEFAULT_ASSIGNMENT  # how the photo's person pixels are split into parts (Engine.assignment)
    # The photo side of the composite in the crop's frame (person mask, hole, fill, photo result), when made.
    photo_intermediates: dict[str, np.ndarray] | None = None
    # The side the target stage ran at, when it was a drag-time render at a lower resolution than the crop (then
    # output, foreground and mask are upsampled to the crop; warped layers and target heatmaps stay at this side).
    preview_size: int | None = None
    net_transforms: np.ndarray | None = None  # (10,2,3) the transforms in the preview's pixels (preview renders)
    # Rendered from a first-picture source (SourceState.quick): shown while the full-size source stage runs, never
    # settled or exported.
    quick: bool = False

    @property
    def transforms_at_side(self) -> np.ndarray:
        """The transforms the warped layers were made with (in the pixels of the side the target stage ran at)."""
        return self.net_transforms if self.net_transforms is not None else self.transforms

    @property
    def warped_layers(self) -> np.ndarray:
        """(10,S,S,3) view of the warped layers (channel-last, for display and inspection)."""
        return np.moveaxis(self.warped_planes, 1, -1)

    def intermediates(self, size: int | None = None) -> dict[str, np.ndarray]:
        """Every intermediate as a displayable float32 image in [0,1]: (S,S) or (S,S,3).

        With `size`, each plane is resized to size×size *before* the display formulas (area averaging is linear,
        so the pictures are the same for a fraction of the work: the editor's grid is rebuilt while dragging).
        """

        size = size or self.crop.size  # a drag-time render's smaller planes are shown at the crop's size

        def fit(plane: np.ndarray) -> np.ndarray:
            plane = np.ascontiguousarray(plane, dtype=np.float32)
            if plane.shape[0] == size:
                return plane
            interpolation = cv2.INTER_AREA if plane.shape[0] > size else cv2.INTER_NEAREST
            return cv2.resize(plane, (size, size), interpolation=interpolation)

        out: dict[str, np.ndarray] = {"source": fit(self.source_image)}
        for name, m in zip(LAYER_NAMES, self.part_masks):
            out[f"source_mask_{name}"] = fit(m)
        for name, layer, m in zip(LIMB_NAMES, self.warped_layers, self.warped_masks):
            # Shown on black: the layer's colours where its warped mask is ((layer + m)/2 = mask·(colour+1)/2).
            out[f"warped_{name}"] = np.clip((fit(layer) + fit(m)[:, :, None]) * 0.5, 0.0, 1.0)
        out["foreground"] = fit(self.foreground)
        out["foreground_mask"] = fit(self.mask)
        out["background"] = fit(self.background)
        out["output"] = fit(self.output)
        for name in ("source_heatmaps", "target_heatmaps"):
            stack = getattr(self, name)
            out[name] = heatmap_picture(np.stack([fit(h) for h in stack]))
        for name, image in (self.photo_intermediates or {}).items():
            out[name] = fit(image)
        return out


BACKGROUND_MODES = ("network", "inpaint")
FIRST_PICTURE_VARIABLE = "POSEEDITOR_FIRST_PICTURE"  # "full": a freshly opened photo's first picture at full size


class Engine:
    """`background`: "network" (the model's background module), "inpaint" (cv2 fill of the person's region), or
    None for what the model's model.json recommends (`inference.background`, measured by `posetrain eval`)."""

    def __init__(self, files: ModelFiles, backend: Backend, background: str | None = None) -> None:
        self.files = files
        self.backend = backend
        self.size = files.image_size
        recommended = files.meta.get("inference", {}).get("background", "network")
        self.background_mode = background or recommended
        if self.background_mode not in BACKGROUND_MODES:
            raise PoseEditorError(f"background must be one of {BACKGROUND_MODES}; got {self.background_mode!r}")
        # Which body part each person pixel of the photo belongs to: "nearest" bone unless the model's card says
        # its own part masks measure better (`inference.assignment`; docs/photo_composite.md).
        self.assignment = files.meta.get("inference", {}).get("assignment", DEFAULT_ASSIGNMENT)
        if self.assignment not in ASSIGNMENTS:
            raise PoseEditorError(f"{files.folder}/model.json: inference.assignment must be one of {ASSIGNMENTS}, "
                                  f"not {self.assignment!r}")
        # The side the target stage runs at while a drag is going on (`render(..., preview=True)`), or None when
        # the model's graphs have fixed spatial axes (models exported before issue 14): then every render is full.
        self.preview_size = drag_preview_size(files, getattr(backend, "dynamic_size", False))
        # The side of the first picture of a freshly opened photo (`prepare_quick_source`): the drag-time side, when
        # the source stage can run at it too; else None (the first picture is the full-size render).
        # $POSEEDITOR_FIRST_PICTURE=full switches it off (comparisons).
        quick = os.environ.get(FIRST_PICTURE_VARIABLE, "").strip().lower() != "full"
        self.quick_size = self.preview_size if quick and getattr(backend, "dynamic_source", False) else None

    @property
    def info(self) -> dict[str, object]:
        return {
            "backend": self.backend.name,
            "device": self.backend.device,
            "size": self.size,
            "config": self.files.name,
            "background": self.background_mode,
            "assignment": self.assignment,
            "drag_size": self.preview_size or self.size,
            "model": str(self.files.folder),
        }

    # ------------------------------------------------------------------------------------------ source stage
    def prepare_source(self, photo: np.ndarray, source_pose: Pose, crop: Crop | None = None) -> SourceState:
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise PoseEditorError("the photo must be an RGB uint8 image")
        h, w = photo.shape[:2]
        if (source_pose.width, source_pose.height) != (w, h):
            raise PoseEditorError(
                f"the source pose is for a {source_pose.width}×{source_pose.height} image but the photo is {w}×{h}"
            )
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        crop = crop or crop_for_poses(source_pose, size=self.size)
        image = crop.cut(photo).astype(np.float32) * (2.0 / 255.0) - 1.0
        image = np.ascontiguousarray(np.moveaxis(image, -1, 0))
        source_xy = crop.to_crop(source_pose.xy)
        heatmaps, prior = source_inputs(source_xy, source_pose.visible, self.size)
        timings["source_prepare_ms"] = _ms(t0)
        inpainting = None
        if self.background_mode == "inpaint":
            # The fill needs only the image and the prior: it runs beside the source network (cv2 and onnxruntime
            # both leave the GIL), not after it — opening a photo waits for both (docs/drag_speed.md).
            inpainting = _SIDE_POOL.submit(_timed, inpaint_background, unit_picture(image),
                                           person_region_from_prior(prior))
        t0 = time.perf_counter()
        part_masks, background = self.backend.run_source(image[None], heatmaps[None], prior[None])
        timings["source_network_ms"] = _ms(t0)
        if inpainting is not None:
            t0 = time.perf_counter()
            filled, timings["inpaint_ms"] = inpainting.result()
            background = _network_background(filled)
            timings["inpaint_wait_ms"] = _ms(t0)
        return SourceState(
            layers=premultiplied_layers(image, part_masks[0]),
            background_unit=unit_picture(background[0]),
            source_unit=unit_picture(image),
            photo_shape=(h, w),
            source_pose=source_pose,
            crop=crop,
            image=image,
            source_xy=source_xy,
            source_heatmaps=heatmaps,
            prior=prior,
            part_masks=part_masks[0],
            background=background[0],
            timings=timings,
        )

    def prepare_quick_source(self, photo: np.ndarray, source_pose: Pose, crop: Crop | None = None) -> SourceState:
        """The source stage at the drag-time side (`quick_size`, a ~2.6× smaller network run and fill) for the first
        picture of a freshly opened photo, shown while `prepare_source` runs: the crop is area-averaged to that side
        (as `preview_source` does to the full-size layers), the network and the background fill run there. Render
        it with `render(..., preview=True)`; the settled view and every export use `prepare_source`'s state."""
        side = self.quick_size
        if side is None:
            raise PoseEditorError("this model cannot run its source stage at another size")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        crop = crop or crop_for_poses(source_pose, size=self.size)
        full = crop.cut(photo).astype(np.float32) * (2.0 / 255.0) - 1.0  # (S,S,3)
        small = cv2.resize(full, (side, side), interpolation=cv2.INTER_AREA)
        image = np.ascontiguousarray(np.moveaxis(small, -1, 0))
        scale = self.size / side
        source_xy = crop.to_crop(source_pose.xy)
        small_xy = to_preview_xy(source_xy, scale)
        heatmaps, prior = source_inputs(small_xy, source_pose.visible, side)
        timings["source_prepare_ms"] = _ms(t0)
        t0 = time.perf_counter()
        part_masks, background = self.backend.run_source(image[None], heatmaps[None], prior[None])
        timings["source_network_ms"] = _ms(t0)
        if self.background_mode == "inpaint":
            t0 = time.perf_counter()
            filled = inpaint_background(unit_picture(image), person_region_from_prior(prior))
            background = _network_background(filled)
            timings["inpaint_ms"] = _ms(t0)
        layers = premultiplied_layers(image, part_masks[0])
        preview = PreviewSource(size=side, scale=scale, layers=layers, background=background[0], source_xy=small_xy)
        background_unit, = upsample_planes(self.size, unit_picture(background[0]))
        masks_full = np.stack(upsample_planes(self.size, *part_masks[0]))
        return SourceState(
            layers=layers,
            background_unit=background_unit,
            source_unit=unit_picture(np.moveaxis(full, -1, 0)),
            photo_shape=photo.shape[:2],
            source_pose=source_pose,
            crop=crop,
            image=image,
            source_xy=source_xy,
            source_heatmaps=heatmaps,
            prior=prior,
            part_masks=masks_full,
            background=background[0],
            timings=timings,
            preview=preview,
            quick=True,
        )

    def preview_of(self, state: SourceState) -> PreviewSource | None:
        """The source at the drag-time side (made on the first drag-time render of `state`, a few ms, and kept):
        not made when a photo is opened, so the first render does not wait for it."""
        if self.preview_size is None:
            return None
        if state.preview is None or state.preview.size != self.preview_size:
            state.preview = preview_source(state.layers, state.background, state.source_xy, self.preview_size)
        return state.preview

    # ------------------------------------------------------------------------------------------ target stage
    def render(self, state: SourceState, target_pose: Pose, previous: RenderResult | None = None,
               preview: bool = False) -> RenderResult:
        """The target stage for one pose. `previous`: an earlier render of this `state` (ignored if it is of another
        one or of another resolution); limbs whose transform did not change are copied from it instead of warped
        again — the same result, cheaper while a drag moves one limb at a time.

        `preview=True` (while a drag is going on): the warp and the target network run at `preview_size` (a
        quarter of the pixels) and output, foreground and mask are upsampled to the crop; transforms and joints
        stay in the crop's pixels, so the photo composite moves the photo's own pixels exactly as at full size.
        Ignored when the model cannot run at another size (`preview_size` None). The settled view and every
        export use full-size renders (docs/drag_speed.md)."""
        if (target_pose.width, target_pose.height) != (state.source_pose.width, state.source_pose.height):
            raise PoseEditorError("the target pose is for a different image size than the source pose")
        low = state.preview if state.quick else self.preview_of(state) if preview else None
        side = low.size if low is not None else self.size
        reuse = None
        if previous is not None and previous.crop is state.crop and previous.warped_planes.shape[-1] == side:
            reuse = (previous.transforms_at_side, previous.warped_planes, previous.warped_masks)
        t_all = time.perf_counter()
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        target_xy = state.crop.to_crop(target_pose.xy)
        if low is None:
            transforms, target_heatmaps = target_inputs(
                state.source_xy, state.source_pose.visible, target_xy, target_pose.visible, self.size
            )
            net_transforms = transforms
        else:  # the full-size transforms (what the photo composite uses) and the preview's own
            transforms = limb_transforms(state.source_xy, target_xy, state.source_pose.visible,
                                         target_pose.visible).astype(np.float32)
            net_transforms, target_heatmaps = preview_target_inputs(low, transforms, target_xy, target_pose.visible)
        timings["inputs_ms"] = _ms(t0)
        t0 = time.perf_counter()
        layers = low.layers if low is not None else state.layers
        background = low.background if low is not None else state.background
        planes, warped_masks = warp_layers(layers, net_transforms, reuse)
        warped = planes.reshape(1, -1, side, side)  # (1,30,S,S), no copy
        timings["warp_ms"] = _ms(t0)
        t0 = time.perf_counter()
        fg, mask, output = self.backend.run_target(
            warped, target_heatmaps[None], background[None], warped_masks[None]
        )
        timings["target_network_ms"] = _ms(t0)
        fg_unit = unit_picture(fg[0])
        mask_plane = np.clip(mask[0, 0], 0.0, 1.0).astype(np.float32)
        if low is None:
            output_unit = unit_picture(output[0])
        else:  # foreground and mask to the crop's size, composited there over the (sharp) full-size background
            t0 = time.perf_counter()
            fg_unit, mask_plane = upsample_planes(self.size, fg_unit, mask_plane)
            np.clip(mask_plane, 0.0, 1.0, out=mask_plane)
            alpha = mask_plane[:, :, None]
            output_unit = state.background_unit + alpha * (fg_unit - state.background_unit)
            timings["upsample_ms"] = _ms(t0)
        timings["target_ms"] = _ms(t_all)
        return RenderResult(
            crop=state.crop,
            source_image=state.source_unit,
            output=output_unit,
            foreground=fg_unit,
            mask=mask_plane,
            background=state.background_unit,
            part_masks=state.part_masks,
            warped_planes=planes,
            warped_masks=warped_masks,
            source_heatmaps=state.source_heatmaps,
            target_heatmaps=target_heatmaps,
            transforms=transforms,
            target_xy=target_xy,
            timings=timings,
            target_visible=np.asarray(target_pose.visible, bool),
            assignment=self.assignment,
            preview_size=low.size if low is not None else None,
            net_transforms=net_transforms if low is not None else None,
            quick=state.quick,
        )

    # ------------------------------------------------------------------------------------------ the photo
    def prepare_photo(self, photo: np.ndarray, state: SourceState, person_mask: np.ndarray | None = None,
                      max_side: int | None = None, assignment: str | None = None) -> PhotoLayers:
        """The source side of the photo-true composite (once per photo and source pose; see photo_composite)."""
        return prepare_photo(photo, state.crop, state.part_masks, state.source_pose.xy, state.source_pose.visible,
                             person_mask=person_mask, max_side=max_side, assignment=assignment or self.assignment)

    @staticmethod
    def compose_photo(layers: PhotoLayers, result: RenderResult, generated: bool = True) -> PhotoComposite:
        """The re-posed photo: parts moved at the photo's resolution, generated RGB only where no part lands
        (`generated=False`: none at all, the no-learning warp)."""
        if not generated:
            return compose_photo(layers, result.transforms)
        return compose_photo(layers, result.transforms, result.foreground, result.mask, result.target_xy,
                             result.target_visible)

    def paste_back(self, photo: np.ndarray, state: SourceState, result: RenderResult) -> np.ndarray:
        """The first release's result: the 256² output upscaled into the photo (kept as the evaluation's baseline)."""
        return paste_back(photo, state.part_masks[0], result)


def paste_alpha(source_background_mask: np.ndarray, result: RenderResult) -> np.ndarray:
    """Where the crop replaces the photo: the person's old and new place, grown and feathered, and faded out
    towards the crop border so no seam shows."""
    size = result.crop.size
    region = np.maximum(1.0 - source_background_mask, result.mask).astype(np.float32)
    grow = max(3, round(size * 0.04)) | 1
    region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    region = cv2.GaussianBlur(region, (0, 0), sigmaX=size * 0.015)
    ramp = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    border = np.clip(ramp / max(2.0, size * 0.03), 0.0, 1.0)
    return np.clip(region * border[:, None] * border[None, :], 0.0, 1.0)


def paste_back(photo: np.ndarray, source_background_mask: np.ndarray, result: RenderResult) -> np.ndarray:
    """The result at the photo's resolution: the crop mapped back by the inverse crop transform and blended
    with a feathered alpha. Only the crop's footprint in the photo is touched."""
    h, w = photo.shape[:2]
    crop = result.crop
    corners = crop.to_photo(np.array([[0, 0], [crop.size, 0], [0, crop.size], [crop.size, crop.size]], float))
    x0 = int(max(0, np.floor(corners[:, 0].min())))
    y0 = int(max(0, np.floor(corners[:, 1].min())))
    x1 = int(min(w, np.ceil(corners[:, 0].max()) + 1))
    y1 = int(min(h, np.ceil(corners[:, 1].max()) + 1))
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # photo->crop matrix restricted to the ROI: crop(x) = M·[x + x0, y + y0, 1]
    m = crop.matrix.copy()
    m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0
    alpha = paste_alpha(source_background_mask, result)
    rgb_a = np.dstack([result.output * 255.0, alpha]).astype(np.float32)
    roi = cv2.warpAffine(
        rgb_a, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
    )
    a = roi[:, :, 3:4]
    base = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(base * (1.0 - a) + roi[:, :, :3] * a + 0.5, 0, 255).astype(np.uint8)
    return out


def full_resolution_layers(photo: np.ndarray, source_pose: Pose, crop: Crop, part_masks: np.ndarray,
                           person_mask: np.ndarray | None, assignment: str = DEFAULT_ASSIGNMENT,
                           fill_cache: FillCache = FILL_CACHE) -> PhotoLayers:
    """The photo side of the composite at the photo's own resolution with the exemplar fill (from the cache
    when the editor already made it; computed here otherwise, ~1–3 s)."""
    layers = prepare_photo(photo, crop, part_masks, source_pose.xy, source_pose.visible, person_mask=person_mask,
                           assignment=assignment, fill_cache=fill_cache)
    if layers.fill_kind == "exemplar":
        return layers
    return layers.with_fill(fill_cache.fill(layers.photo, layers.hole))


def photo_result(photo: np.ndarray, source_pose: Pose, result: RenderResult, person_mask: np.ndarray | None,
                 layers: PhotoLayers | None = None) -> np.ndarray:
    """The re-posed photo at its own resolution (what every export writes). `layers`: reuse these (an animation
    composes many poses of one photo)."""
    layers = layers or full_resolution_layers(photo, source_pose, result.crop, result.part_masks, person_mask,
                                              result.assignment)
    return Engine.compose_photo(layers, result).image


def load_engine(
    model_dir: str | None = None, backend: str = "auto", threads: int | None = None, background: str | None = None
) -> Engine:
    files = find_model(model_dir)
    return Engine(files, make_backend(files, backend, threads), background)
