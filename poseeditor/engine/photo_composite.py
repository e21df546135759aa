"""The photo-true composite: the re-posed person built at the photo's own resolution (docs/photo_composite.md).

The networks run at 256² and decide *which* pixels go *where*; the pixels themselves come from the photo:
- `prepare_photo` (once per photo and source pose): the person/background split at the photo's resolution (the
  detector's mask snapped to the photo's edges, or the network's own), each person pixel's body part (the source
  stage's part masks mapped into the photo and arg-maxed, or the nearest bone), the hole the person leaves and
  its fill.
- `compose_photo` (per target pose): every moved part is cut from the photo and moved by its similarity transform
  expressed in photo coordinates; the place a moved part leaves shows the background fill; parts are painted back
  to front; only what no source pixel shows (the network's foreground mask where no moved part lands: uncovered
  torso behind a raised arm, seams at the joints) takes the generated RGB, upsampled from the crop. Pixels outside
  what the moved parts left or reach are the photo's own, bit for bit: an unmoved limb is pixel-identical.

Work happens at a *working resolution* (the photo's, or a reduced copy for the live view): `PhotoLayers.to_work`
maps photo pixels to working pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cv2
import numpy as np

from poseeditor.engine.person_mask import person_mask_from_network, refine_person_mask
from poseeditor.engine.photo_fill import FillCache, fast_fill, fill_key, hole_from_alpha, hole_reach
from poseeditor.errors import PoseEditorError
from poseeditor.geometry import Crop, apply_affine, compose_affine, invert_affine
from poseeditor.skeleton import LIMBS, NUM_LIMBS, Pose

# Back to front: a moved arm passes in front of the torso, not behind it (the paper's networks learn occlusion;
# a fixed order is what a per-part warp can do, and arms in front is the common case in photos).
PAINT_ORDER: tuple[int, ...] = (9, 0, 5, 6, 7, 8, 1, 2, 3, 4)  # torso, head, thighs/shins, upper arms/forearms
ASSIGNMENTS = ("network", "nearest", "nearest_reach", "hybrid")
# "hybrid": the network's part probability times a fall-off with the distance to the part's bone,
# exp(−d / (HYBRID_FALLOFF · person height)), arg-max over the parts (issue 11: the retrained segmentation finds
# forearms in front of the torso; the bone distance settles what it hesitates on). 0.02 had the best mean part
# IoU on the issue-11 training run's 50 held-out videos (0.764; 0.01: 0.760, 0.03: 0.763, 0.05: 0.760, plain
# arg-max 0.748, nearest bone 0.689; docs/photo_composite.md).
HYBRID_FALLOFF = 0.02
# Measured on the tennis frames and held-out synthetic videos (docs/photo_composite.md): each person pixel to its
# nearest bone beats the shipped model's part masks (LPIPS 0.128 vs 0.145 tennis, 0.071 vs 0.082 synthetic).
DEFAULT_ASSIGNMENT = "nearest"
LABEL_ALPHA = 0.05  # pixels with person alpha above this get a body part
MOVED_PX = 0.05  # a part whose transform moves none of its box's corners more than this is unmoved
GENERATED_FROM, GENERATED_TO = 0.4, 0.6
GAP_CLOSE = 0.012  # gaps up to about twice this fraction of the photo's long side count as inside the person
# Moved parts are resampled bicubically: bilinear interpolation of a rotated part loses a fifth of its
# high-frequency energy (sharpness 0.78 → see docs/photo_composite.md on held-out synthetic pairs).
PART_INTERPOLATION = cv2.INTER_CUBIC
MAX_PART_SCALE = 1.4  # a moved part grows or shrinks by at most this factor (limit_part_scale)
OVERLAP = 0.003  # a moved part reaches this fraction of the photo's long side into its neighbours  # the network's foreground mask ramps the generated share in over this


@dataclass(frozen=True)
class PhotoLayers:
    """Everything the composite needs that depends only on the photo and the source pose (at working resolution)."""

    photo: np.ndarray  # (H, W, 3) uint8 at working resolution
    to_work: np.ndarray  # (2, 3) photo pixels -> working pixels
    crop: Crop  # the engine's crop (photo pixels -> crop pixels)
    alpha: np.ndarray  # (H, W) float32 person alpha
    labels: np.ndarray  # (H, W) int8 body part (LIMBS index), -1 for the background
    part_boxes: tuple[tuple[int, int, int, int] | None, ...]  # each part's pixels' box (x0, y0, x1, y1), exclusive
    hole: np.ndarray  # (H, W) uint8 0/255: what the fill replaces
    fill: np.ndarray  # (H, W, 3) uint8: the photo with the hole filled
    fill_kind: str  # "fast" until the exemplar fill is in, then "exemplar"
    mask_source: str  # "detector" or "network"
    assignment: str  # "network" or "nearest"

    @property
    def size(self) -> tuple[int, int]:
        return self.photo.shape[1], self.photo.shape[0]

    @property
    def work_to_crop(self) -> np.ndarray:
        return compose_affine(self.crop.matrix, invert_affine(self.to_work))

    def in_crop(self, image: np.ndarray) -> np.ndarray:
        """A working-resolution image seen in the crop's frame (S×S), for the intermediates panel."""
        size = self.crop.size
        return cv2.warpAffine(np.ascontiguousarray(image), self.work_to_crop, (size, size), flags=cv2.INTER_AREA,
                              borderMode=cv2.BORDER_CONSTANT)

    def intermediates(self, composite: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The person mask, the hole, the fill (and a composite) in the crop's frame, float32 in [0, 1]."""
        out = {
            "person_mask": self.in_crop(self.alpha),
            "hole": self.in_crop(self.hole).astype(np.float32) / 255.0,
            "fill": self.in_crop(self.fill).astype(np.float32) / 255.0,
        }
        if composite is not None:
            out["photo_result"] = self.in_crop(composite).astype(np.float32) / 255.0
        return out

    def with_fill(self, fill: np.ndarray, kind: str = "exemplar") -> PhotoLayers:
        if fill.shape != self.photo.shape:
            raise PoseEditorError("the fill is not the size of the photo")
        return replace(self, fill=fill, fill_kind=kind)


def working_scale(width: int, height: int, max_side: int | None) -> float:
    if not max_side or max(width, height) <= max_side:
        return 1.0
    return max_side / max(width, height)


def scale_affine(f: float) -> np.ndarray:
    """Photo -> working pixels for a resize by f (pixel centres kept: x' = (x + 0.5)·f − 0.5)."""
    return np.array([[f, 0.0, 0.5 * f - 0.5], [0.0, f, 0.5 * f - 0.5]])


def _roi_matrix(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """`matrix` (from working pixels) restricted to a region whose top-left is (x0, y0)."""
    m = np.array(matrix, dtype=np.float64, copy=True)
    m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0
    return m


def _from_crop(plane: np.ndarray, work_to_crop: np.ndarray, box: tuple[int, int, int, int],
               interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """A crop-space image (S,S[,C]) resampled over a working-resolution region."""
    x0, y0, x1, y1 = box
    return cv2.warpAffine(
        np.ascontiguousarray(plane, dtype=np.float32), _roi_matrix(work_to_crop, x0, y0), (x1 - x0, y1 - y0),
        flags=interpolation | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )


def _box_of(mask: np.ndarray, pad: int = 0) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of a boolean mask's pixels, grown by `pad` and clipped; None when it is empty."""
    x, y, bw, bh = cv2.boundingRect(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8))
    if bw == 0 or bh == 0:
        return None
    h, w = mask.shape
    return max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)


# How far from its bone a limb's pixels may lie, as a fraction of the person's height: an arm is about 0.06 of it
# wide, a leg 0.09 (with trousers, more). Beyond that a pixel is hair, a skirt, a bag or a held object, which
# must stay with the torso or head rather than fly off with a hand or a foot. Torso and head are not limited.
LIMB_REACH: tuple[float, ...] = (0.0, 0.07, 0.07, 0.07, 0.07, 0.09, 0.09, 0.09, 0.09, 0.0)
HEAD, TORSO = 0, 9


def person_height(joints: np.ndarray, visible: np.ndarray) -> float:
    """The person's height in the joints' pixels (the contract's person scale: s·200 px is ~1.14 heights)."""
    from poseeditor.geometry import person_scale

    xy = np.asarray(joints, np.float64)
    x0, y0 = xy[visible].min(axis=0) if visible.any() else (0.0, 0.0)
    x1, y1 = xy[visible].max(axis=0) if visible.any() else (1.0, 1.0)
    pose = Pose(xy, np.asarray(visible, bool), max(1, int(x1) + 2), max(1, int(y1) + 2))
    return person_scale(pose) * 200.0 / 1.14


def part_reach(joints: np.ndarray, visible: np.ndarray, part: int, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """(h, w) bool over `box`: the capsule around a limb's bone within its LIMB_REACH; None for torso and head."""
    reach = LIMB_REACH[part]
    use = [j for j in LIMBS[part] if visible[j]]
    if reach <= 0.0 or not use:
        return None
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    radius = max(2, round(reach * person_height(joints, visible)))
    p = np.round(np.asarray(joints, np.float64)[use] - [x0, y0]).astype(np.int32)
    if len(p) == 1:
        cv2.circle(canvas, (int(p[0, 0]), int(p[0, 1])), radius, 1, -1)
    else:
        cv2.line(canvas, (int(p[0, 0]), int(p[0, 1])), (int(p[1, 0]), int(p[1, 1])), 1, 2 * radius)
    return canvas > 0


def body_region(joints: np.ndarray, visible: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) bool over `box`: where a body in this pose can be (limb capsules, the torso, a head disc)."""
    x0, y0, x1, y1 = box
    region = np.zeros((y1 - y0, x1 - x0), bool)
    for part in range(NUM_LIMBS):
        reach = part_reach(joints, visible, part, box)
        if reach is not None:
            region |= reach
    height = person_height(joints, visible)
    xy = np.asarray(joints, np.float64) - [x0, y0]
    canvas = np.zeros(region.shape, np.uint8)
    torso = [j for j in LIMBS[TORSO] if visible[j]]
    if len(torso) >= 3:
        hull = cv2.convexHull(np.round(xy[torso]).astype(np.int32))
        cv2.fillConvexPoly(canvas, hull, 1)
        cv2.polylines(canvas, [hull], True, 1, max(2, round(0.08 * height)))
    if visible[HEAD] and visible[1]:
        centre = 0.5 * (xy[0] + xy[1])
        radius = max(3, round(0.7 * float(np.linalg.norm(xy[0] - xy[1]))))
        cv2.circle(canvas, (int(round(centre[0])), int(round(centre[1]))), radius, 1, -1)
    return region | (canvas > 0)


def bone_distance(pts: np.ndarray, visible: np.ndarray, part: int, w: int, h: int) -> np.ndarray | None:
    """(h, w) float32 distance of every pixel to a part's bone (or the torso's quadrilateral), by cv2's distance
    transform; `pts` in the region's pixels. None when none of its joints is visible."""
    use = [j for j in LIMBS[part] if visible[j]]
    if not use:
        return None
    canvas = np.full((h, w), 255, np.uint8)
    p = np.round(pts[use]).astype(np.int32)
    if len(use) >= 3:
        cv2.fillConvexPoly(canvas, cv2.convexHull(p), 0)
    elif len(use) == 2:
        cv2.line(canvas, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), 0, 1)
    else:
        cv2.circle(canvas, tuple(int(v) for v in p[0]), 1, 0, -1)
    return cv2.distanceTransform(canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def nearest_part_labels(joints_work: np.ndarray, visible: np.ndarray, box: tuple[int, int, int, int],
                        within_reach: bool = False) -> np.ndarray:
    """(h, w) int8 over `box`: for every pixel the body part whose bone (or torso quadrilateral) is nearest —
    the no-learning assignment. Distances by cv2's distance transform of each bone drawn into the region.
    `within_reach`: a limb takes no pixel beyond its LIMB_REACH (those go to the nearest of torso and head)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pts = np.asarray(joints_work, dtype=np.float64) - [x0, y0]
    best = np.full((h, w), np.inf, np.float32)
    labels = np.full((h, w), -1, np.int8)
    height = person_height(joints_work, visible)
    for part in range(NUM_LIMBS):
        distance = bone_distance(pts, visible, part, w, h)
        if distance is None:
            continue
        if within_reach and LIMB_REACH[part] > 0.0:
            distance[distance > LIMB_REACH[part] * height] = np.inf
        closer = distance < best
        best[closer] = distance[closer]
        labels[closer] = part
    return labels


def network_part_labels(part_masks: np.ndarray, work_to_crop: np.ndarray, joints_work: np.ndarray,
                        visible: np.ndarray, box: tuple[int, int, int, int], hybrid: bool = False) -> np.ndarray:
    """(h, w) int8 over `box`: the source network's arg-max over the limb channels mapped into the region.

    Plain ("network"): a limb takes only pixels within its reach of its bone (LIMB_REACH); the rest go to torso or
    head. `hybrid`: no reach; each part's probability is weighted by exp(−d / (HYBRID_FALLOFF · height)), d the
    pixel's distance to that part's bone. A running arg-max (never all ten planes at once: a 4K person would need
    ~0.5 GB)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pts = np.asarray(joints_work, dtype=np.float64) - [x0, y0]
    falloff = HYBRID_FALLOFF * person_height(joints_work, visible)
    best = np.full((h, w), -1.0, np.float32)
    labels = np.zeros((h, w), np.int8)
    for part in range(NUM_LIMBS):
        prob = _from_crop(part_masks[part + 1], work_to_crop, box)
        if hybrid:
            distance = bone_distance(pts, visible, part, w, h)
            if distance is None:  # no visible joint: nowhere to put it, never chosen over a placed part
                prob[:] = 0.0
            else:
                prob *= np.exp(-distance / max(falloff, 1e-6))
        else:
            reach = part_reach(joints_work, visible, part, box)
            if reach is not None:
                prob[~reach] = -0.5
        better = prob > best
        best[better] = prob[better]
        labels[better] = part
    return labels


def prepare_photo(
    photo: np.ndarray,
    crop: Crop,
    part_masks: np.ndarray,
    source_xy_photo: np.ndarray,
    source_visible: np.ndarray,
    person_mask: np.ndarray | None = None,
    max_side: int | None = None,
    assignment: str = DEFAULT_ASSIGNMENT,
    fill_cache: FillCache | None = None,
) -> PhotoLayers:
    """The source side of the composite. `part_masks`: the source stage's (11,S,S); `person_mask`: a soft (H,W)
    person probability at the photo's size (the detector's), or None to use the network's background channel;
    `max_side`: work on a copy reduced to this long side (the live view), None for full resolution;
    `fill_cache`: take the exemplar fill from it when it has this hole's (else the fast fill)."""
    if assignment not in ASSIGNMENTS:
        raise PoseEditorError(f"assignment must be one of {ASSIGNMENTS}; got {assignment!r}")
    h, w = photo.shape[:2]
    f = working_scale(w, h, max_side)
    to_work = scale_affine(f)
    if f < 1.0:
        size = (max(1, round(w * f)), max(1, round(h * f)))
        work = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    else:
        size, work = (w, h), photo
    work_to_crop = compose_affine(crop.matrix, invert_affine(to_work))

    mask_source = "network"
    soft: np.ndarray | None = None
    if person_mask is not None:
        person_mask = np.asarray(person_mask, dtype=np.float32)
        if person_mask.shape != (h, w) or not np.isfinite(person_mask).all() or person_mask.max() <= HOLE_MIN_PEAK:
            person_mask = None  # a mask of another photo, or an empty or broken one: the network's split instead
        else:
            soft = person_mask if f == 1.0 else cv2.resize(person_mask, size, interpolation=cv2.INTER_AREA)
            mask_source = "detector"
    if soft is None:
        # Only inside the crop: the network sees nothing outside it.
        soft = person_mask_from_network(part_masks, work_to_crop, size)
    alpha = refine_person_mask(work, soft)

    # Everything below works on the person's region (grown by the hole's reach): at 4K the photo is 8 MP and the
    # person a fraction of it.
    labels = np.full(alpha.shape, -1, np.int8)
    hole = np.zeros(alpha.shape, np.uint8)
    part_boxes: tuple[tuple[int, int, int, int] | None, ...] = (None,) * NUM_LIMBS
    box = _box_of(alpha > LABEL_ALPHA, pad=2)
    if box is not None:
        x0, y0, x1, y1 = box
        if assignment in ("nearest", "nearest_reach"):
            joints_work = apply_affine(to_work, source_xy_photo)
            region_labels = nearest_part_labels(joints_work, np.asarray(source_visible, bool), box,
                                                within_reach=assignment == "nearest_reach")
        else:
            region_labels = network_part_labels(part_masks, work_to_crop, apply_affine(to_work, source_xy_photo),
                                                np.asarray(source_visible, bool), box, hybrid=assignment == "hybrid")
        person = alpha[y0:y1, x0:x1] > LABEL_ALPHA
        region_labels = np.where(person, region_labels, -1).astype(np.int8)
        labels[y0:y1, x0:x1] = region_labels
        part_boxes = tuple(_shifted(_box_of(region_labels == part, pad=1), x0, y0, size)
                           for part in range(NUM_LIMBS))
        reach = hole_reach(alpha.shape) + 1
        hx0, hy0, hx1, hy1 = max(0, x0 - reach), max(0, y0 - reach), min(size[0], x1 + reach), min(size[1], y1 + reach)
        hole[hy0:hy1, hx0:hx1] = hole_from_alpha(alpha[hy0:hy1, hx0:hx1], reach - 1)
    cached = fill_cache.get(fill_key(work, hole)) if fill_cache is not None else None
    return PhotoLayers(
        photo=np.ascontiguousarray(work), to_work=to_work, crop=crop, alpha=alpha, labels=labels,
        part_boxes=part_boxes, hole=hole, fill=cached if cached is not None else fast_fill(work, hole),
        fill_kind="exemplar" if cached is not None else "fast", mask_source=mask_source, assignment=assignment,
    )


def _shifted(box: tuple[int, int, int, int] | None, dx: int, dy: int,
             size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    if box is None:
        return None
    return box[0] + dx, box[1] + dy, min(size[0], box[2] + dx), min(size[1], box[3] + dy)


HOLE_MIN_PEAK = 0.5  # a detector mask that never reaches this found no person


def part_transforms_in_work(layers: PhotoLayers, transforms: np.ndarray) -> np.ndarray:
    """(10,2,3) backward maps in working pixels (target -> source) from the crop-space ones: W = K⁻¹·T·K with K
    the working-pixels-to-crop map."""
    k = layers.work_to_crop
    k_inv = invert_affine(k)
    return np.stack([compose_affine(k_inv, compose_affine(np.asarray(t, np.float64), k)) for t in transforms])


def limit_part_scale(work_transforms: np.ndarray, target_work: np.ndarray,
                     target_visible: np.ndarray | None) -> np.ndarray:
    """The part transforms with their scale limited to 1/MAX_PART_SCALE..MAX_PART_SCALE, pinned at the part's first
    joint (its proximal end: shoulder for the upper arm, elbow for the forearm; the torso's centre).

    The paper's similarity scales a part by the ratio of its bone's lengths. For a limb seen end-on in the photo
    (a forearm pointing at the camera: the bone is 30 px long, the hand large) and dragged out to full length that
    ratio is 3, and the photo's hand comes out three times its size. A rigid part cannot grow a forearm; a hand
    kept near its own size, at the right angle, from the right elbow, is the lesser wrong."""
    out = np.array(work_transforms, dtype=np.float64, copy=True)
    visible = np.ones(len(target_work), bool) if target_visible is None else np.asarray(target_visible, bool)
    for part, joints in enumerate(LIMBS):
        a = out[part, :, :2]
        scale = float(np.sqrt(abs(np.linalg.det(a))))
        if scale <= 0.0 or 1.0 / MAX_PART_SCALE <= scale <= MAX_PART_SCALE:
            continue
        use = [j for j in joints if visible[j]]
        if not use:
            continue
        pin = target_work[use].mean(axis=0) if len(joints) > 2 else target_work[use[0]]
        pinned_source = a @ pin + out[part, :, 2]
        limited = a * (float(np.clip(scale, 1.0 / MAX_PART_SCALE, MAX_PART_SCALE)) / scale)
        out[part, :, :2] = limited
        out[part, :, 2] = pinned_source - limited @ pin
    return out


def moved_parts(layers: PhotoLayers, work_transforms: np.ndarray) -> list[int]:
    """The parts whose transform moves some corner of their box by more than MOVED_PX working pixels."""
    moved = []
    for part, box in enumerate(layers.part_boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
        if np.abs(apply_affine(work_transforms[part], corners) - corners).max() > MOVED_PX:
            moved.append(part)
    return moved


def _union(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _target_box(layers: PhotoLayers, box: tuple[int, int, int, int], backward: np.ndarray,
                pad: int) -> tuple[int, int, int, int] | None:
    """Where a part in `box` lands: its corners mapped forward (the inverse of the backward map), clipped."""
    x0, y0, x1, y1 = box
    corners = apply_affine(invert_affine(backward), np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], float))
    w, h = layers.size
    tx0, ty0 = int(np.floor(corners[:, 0].min())) - pad, int(np.floor(corners[:, 1].min())) - pad
    tx1, ty1 = int(np.ceil(corners[:, 0].max())) + pad + 1, int(np.ceil(corners[:, 1].max())) + pad + 1
    tx0, ty0, tx1, ty1 = max(0, tx0), max(0, ty0), min(w, tx1), min(h, ty1)
    return (tx0, ty0, tx1, ty1) if tx1 > tx0 and ty1 > ty0 else None


@dataclass
class PhotoComposite:
    """One composite: the image at working resolution and what went into it (for the intermediates panel)."""

    image: np.ndarray  # (H, W, 3) uint8
    moved: list[int]
    edit_box: tuple[int, int, int, int] | None  # the region that differs from the photo (working pixels)
    generated: np.ndarray | None  # (h, w) float32 share of generated RGB over edit_box
    timings: dict[str, float]


def compose_photo(
    layers: PhotoLayers,
    transforms: np.ndarray,
    generated_rgb: np.ndarray | None = None,
    generated_mask: np.ndarray | None = None,
    target_crop_xy: np.ndarray | None = None,
    target_visible: np.ndarray | None = None,
    gap_close: float = GAP_CLOSE,
) -> PhotoComposite:
    """The re-posed photo at working resolution. `transforms`: the render's (10,2,3) crop-space backward maps;
    `generated_rgb` (S,S,3) in [0,1] and `generated_mask` (S,S): the target stage's foreground and mask (None: no
    generated pixels, the no-learning warp); `target_crop_xy`/`target_visible`: the target joints (crop pixels),
    which confine the generated pixels to where the new pose's body can be; `gap_close`: gaps in the moved parts'
    coverage up to about twice this fraction of the long side count as inside the person."""
    t0 = time.perf_counter()
    work_transforms = part_transforms_in_work(layers, transforms)
    if target_crop_xy is not None:
        target_work = apply_affine(invert_affine(layers.work_to_crop), target_crop_xy)
        work_transforms = limit_part_scale(work_transforms, target_work, target_visible)
    moved = moved_parts(layers, work_transforms)
    if not moved:
        return PhotoComposite(layers.photo.copy(), [], None, None, {"compose_ms": (time.perf_counter() - t0) * 1e3})
    w, h = layers.size
    grow = max(2, round(max(w, h) * 0.004))
    targets: dict[int, tuple[int, int, int, int] | None] = {}
    edit: tuple[int, int, int, int] | None = None
    for part in moved:
        box = layers.part_boxes[part]
        assert box is not None
        targets[part] = _target_box(layers, box, work_transforms[part], pad=2)
        edit = _union(edit, _union(box, targets[part]))
    assert edit is not None
    pad = 3 * grow + 2
    x0, y0 = max(0, edit[0] - pad), max(0, edit[1] - pad)
    x1, y1 = min(w, edit[2] + pad), min(h, edit[3] + pad)
    region = (x0, y0, x1, y1)
    rw, rh = x1 - x0, y1 - y0

    photo = layers.photo[y0:y1, x0:x1].astype(np.float32)
    labels = layers.labels[y0:y1, x0:x1]
    alpha = layers.alpha[y0:y1, x0:x1]
    moved_mask = np.isin(labels, moved)
    unmoved_mask = (labels >= 0) & ~moved_mask
    # 1. What the moved parts leave: their pixels grown by a little (their soft edge and colour bleed), but never
    #    into an unmoved part; there the fill (the photo elsewhere) shows. Feathered by one pixel.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    vacated = cv2.dilate(moved_mask.astype(np.uint8), kernel).astype(np.float32)
    vacated[unmoved_mask & (alpha > 0.5)] = 0.0
    vacated = cv2.GaussianBlur(vacated, (3, 3), 0)
    fill = layers.fill[y0:y1, x0:x1].astype(np.float32)
    out = photo + (fill - photo) * vacated[:, :, None]

    # 2. Parts back to front. Moved parts are cut from the photo and moved; an unmoved part in front of a moved
    #    one is painted again from its own pixels, so a moved part passes behind it.
    cover = np.zeros((rh, rw), np.float32)  # how much of each pixel the person's parts cover
    moved_cover = np.zeros((rh, rw), np.float32)  # ... the moved parts alone
    moved_own = np.zeros((rh, rw), np.float32)  # ... the moved parts' own pixels (without the overlap margin)
    overlap = max(1, round(max(w, h) * OVERLAP))
    overlap_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * overlap + 1, 2 * overlap + 1))
    unmoved_alpha = np.where(unmoved_mask, alpha, 0.0).astype(np.float32)
    seen_moved = False
    for part in PAINT_ORDER:
        if part in moved:
            seen_moved = True
            target = targets[part]
            if target is None:
                continue
            tx0, ty0, tx1, ty1 = target
            sx0, sy0, sx1, sy1 = layers.part_boxes[part]  # type: ignore[misc]
            # The part reaches `overlap` pixels into its neighbours, so parts moved by different transforms
            # overlap at the joints instead of opening a seam there.
            own = layers.labels[sy0:sy1, sx0:sx1] == part
            grown = cv2.dilate(own.astype(np.uint8), overlap_kernel) > 0
            source_alpha = layers.alpha[sy0:sy1, sx0:sx1]
            rgba = np.dstack([layers.photo[sy0:sy1, sx0:sx1].astype(np.float32),
                              np.where(grown, source_alpha, 0.0).astype(np.float32)])
            # target-box pixel -> source-box pixel
            m = compose_affine(np.array([[1.0, 0.0, -sx0], [0.0, 1.0, -sy0]]),
                               _roi_matrix(work_transforms[part], tx0, ty0))
            size = (tx1 - tx0, ty1 - ty0)
            flags = PART_INTERPOLATION | cv2.WARP_INVERSE_MAP
            moved_rgba = cv2.warpAffine(rgba, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
            own_alpha = cv2.warpAffine(np.where(own, source_alpha, 0.0).astype(np.float32), m, size,
                                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
            a = np.clip(moved_rgba[:, :, 3:4], 0.0, 1.0)  # cubic interpolation overshoots at the alpha's edge
            view = out[ty0 - y0:ty1 - y0, tx0 - x0:tx1 - x0]
            view += (moved_rgba[:, :, :3] - view) * a
            for c, alpha_of in ((cover, a[:, :, 0]), (moved_cover, a[:, :, 0]), (moved_own, own_alpha)):
                cv = c[ty0 - y0:ty1 - y0, tx0 - x0:tx1 - x0]
                cv += (1.0 - cv) * alpha_of
        else:
            own = labels == part
            if not own.any():
                continue
            a = np.where(own, unmoved_alpha, 0.0)
            if seen_moved:
                out += (photo - out) * a[:, :, None]
            cover += (1.0 - cover) * a

    # The overlap margins close seams; they must not paint over an unmoved part's own pixels (only a moved part
    # itself may pass in front of one), so those are the photo's again.
    keep = unmoved_mask & (alpha >= 1.0) & (moved_own <= 0.0)
    out[keep] = photo[keep]

    # 3. What no source pixel shows: where the network's foreground mask says "person" but no part landed (torso
    #    uncovered by a raised arm, gaps at the joints), its generated RGB — only near what moved.
    share = None
    if generated_rgb is not None and generated_mask is not None:
        work_to_crop = layers.work_to_crop
        mask = _from_crop(generated_mask, work_to_crop, region)
        ramp = np.clip((mask - GENERATED_FROM) / (GENERATED_TO - GENERATED_FROM), 0.0, 1.0)
        # Near what moved: the moved parts' new place, grown a little (seams, the far side of a joint), and the
        # place they left (uncovered body behind them).
        near = cv2.dilate((moved_cover > 0.1).astype(np.uint8), kernel)
        near = np.maximum(near, (vacated > 0).astype(np.uint8))
        # Only gaps *inside* the new silhouette (what closing the parts' coverage fills: seams, torso uncovered by
        # a moved arm), never a rim around it: there the generated RGB is a blurred halo (measured: it cost 0.003
        # LPIPS on the tennis frames before this).
        gap = max(3, round(max(w, h) * gap_close))
        closed = cv2.morphologyEx((cover > 0.5).astype(np.uint8), cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1, 2 * gap + 1)))
        share = ramp * (1.0 - cover) * near * closed
        if target_crop_xy is not None:
            joints = apply_affine(invert_affine(work_to_crop), target_crop_xy)
            visible = np.ones(len(joints), bool) if target_visible is None else np.asarray(target_visible, bool)
            share *= body_region(joints, visible, region)
        if share.max() > 0.0:
            rgb = _from_crop(generated_rgb, work_to_crop, region) * 255.0
            out += (rgb - out) * share[:, :, None]

    result = layers.photo.copy()
    result[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return PhotoComposite(result, moved, region, share, {"compose_ms": (time.perf_counter() - t0) * 1e3})
