"""Training pairs (the paper's setting): two frames of one video — same person, same background, two poses.

Both frames are cut with ONE crop for both poses (`crop_for_poses`, DESIGN.md §3), so the background stays
aligned between source and target, and get the SAME augmentation (flip with L/R swap, scale 0.90–1.05,
shift ±5 px, rotation ±5°, as in the paper). Crop, augmentation and (for JPEG frames) a reduced-size decode are
folded into one affine per frame, so each frame is decoded at about the crop's resolution and warped once.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from poseeditor.geometry import compose_affine, crop_for_poses
from poseeditor.network_inputs import pair_inputs
from poseeditor.skeleton import FLIP_PERMUTATION, LAYER_FLIP_PERMUTATION
from trainer.data.dataset_format import DatasetError, VideoRecord, read_rgb

IGNORE_LABEL = 255  # parts_src value where the part is unknown (no part map, or outside the frame)
MIN_VISIBLE_JOINTS = 6  # frames with fewer visible joints cannot be cropped reliably and are never sampled
PERSON_BOX_PAD = 0.10
AREA_FILTER_BELOW = 0.75  # downscales stronger than this are area-filtered before the warp (no aliasing)

MAX_REDRAWS = 32  # replacement draws for a pair with an unreadable frame before the item gives up

_FLIP = np.asarray(FLIP_PERMUTATION)
# Label l of a flipped part map is label _LAYER_FLIP_LUT[l] of the original (255 stays "unknown").
_LAYER_FLIP_LUT = np.full(256, IGNORE_LABEL, dtype=np.uint8)
_LAYER_FLIP_LUT[: len(LAYER_FLIP_PERMUTATION)] = np.argsort(LAYER_FLIP_PERMUTATION)


@dataclass(frozen=True)
class Augmentation:
    """One random similarity (+ optional mirror) applied identically to both frames of a pair, in crop pixels."""

    flip: bool = False
    scale: float = 1.0
    angle_deg: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)

    @staticmethod
    def random(rng: np.random.Generator, size: int) -> Augmentation:
        shift = 5.0 * size / 256.0
        return Augmentation(
            flip=bool(rng.random() < 0.5),
            scale=float(rng.uniform(0.90, 1.05)),
            angle_deg=float(rng.uniform(-5.0, 5.0)),
            shift=(float(rng.uniform(-shift, shift)), float(rng.uniform(-shift, shift))),
        )

    def matrix(self, size: int) -> np.ndarray:
        """(2, 3) map crop px -> augmented crop px: rotate/scale about the crop centre, shift, then mirror."""
        c = (size - 1) / 2.0
        m = cv2.getRotationMatrix2D((c, c), self.angle_deg, self.scale)
        m[:, 2] += self.shift
        if self.flip:
            m = compose_affine(np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0]]), m)
        return m


def affine_scale(matrix: np.ndarray) -> float:
    return math.sqrt(abs(float(np.linalg.det(np.asarray(matrix)[:, :2]))))


def cut_affine(
    image: np.ndarray,
    matrix: np.ndarray,
    size: int,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REPLICATE,
    border_value: float = 0.0,
) -> np.ndarray:
    """Warp `image` by `matrix` (image px -> crop px) to size×size; strong downscales are area-filtered first.

    Only the part of the image the crop covers is area-filtered (a person crop is often a small part of a frame).
    """
    scale = affine_scale(matrix)
    if scale < AREA_FILTER_BELOW and interpolation != cv2.INTER_NEAREST:
        roi = _crop_footprint(image.shape, matrix, size, margin=2.0 / scale)
        if roi is not None:
            x0, y0, x1, y1 = roi
            image = image[y0:y1, x0:x1]
            matrix = compose_affine(matrix, np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]]))
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            matrix = compose_affine(matrix, _resized_to_original(image.shape, small.shape))
            image = small
    return cv2.warpAffine(image, matrix, (size, size), flags=interpolation, borderMode=border, borderValue=border_value)


def _crop_footprint(
    shape: tuple[int, ...], matrix: np.ndarray, size: int, margin: float
) -> tuple[int, int, int, int] | None:
    """Integer box (x0, y0, x1, y1) of image pixels the crop reads, clipped to the image (None: it reads none).

    Clipping is harmless with BORDER_REPLICATE/CONSTANT: where the crop leaves the box it also leaves the image.
    """
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], dtype=np.float64)
    inv = cv2.invertAffineTransform(matrix)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    h, w = shape[:2]
    x0 = int(max(0, math.floor(pts[:, 0].min() - margin)))
    y0 = int(max(0, math.floor(pts[:, 1].min() - margin)))
    x1 = int(min(w, math.ceil(pts[:, 0].max() + margin) + 1))
    y1 = int(min(h, math.ceil(pts[:, 1].max() + margin) + 1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def _resized_to_original(original_shape: tuple[int, ...], small_shape: tuple[int, ...]) -> np.ndarray:
    """Affine mapping pixel centres of a resized image back to the original's (x = (x' + 0.5)/s − 0.5)."""
    sx = original_shape[1] / small_shape[1]
    sy = original_shape[0] / small_shape[0]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])


def to_tensor_image(rgb: np.ndarray) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, S, S) float32 in [-1, 1]."""
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1)).astype(np.float32)
    chw *= 1.0 / 127.5
    chw -= 1.0
    return torch.from_numpy(chw)


def pose_input_tensors(
    source_xy: np.ndarray, source_visible: np.ndarray, target_xy: np.ndarray, target_visible: np.ndarray, size: int
) -> dict[str, torch.Tensor]:
    """The generator's pose inputs for one pair (poseeditor.network_inputs, the editor's own) as a batch's tensors."""
    inputs = pair_inputs(source_xy, source_visible, target_xy, target_visible, size)
    return {
        "heatmaps_src": torch.from_numpy(inputs.source_heatmaps),
        "heatmaps_tgt": torch.from_numpy(inputs.target_heatmaps),
        "prior_src": torch.from_numpy(inputs.prior),
        "transforms": torch.from_numpy(inputs.transforms),
    }


def person_box(xy: np.ndarray, visible: np.ndarray, size: int, pad: float = PERSON_BOX_PAD) -> np.ndarray:
    """(x0, y0, x1, y1) of the visible joints padded by `pad` of the box size per side, clipped to the crop."""
    pts = xy[visible] if visible.any() else xy
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    px, py = pad * (x1 - x0), pad * (y1 - y0)
    return np.clip([x0 - px, y0 - py, x1 + px, y1 + py], 0.0, float(size)).astype(np.float32)


def usable_frames(video: VideoRecord, min_visible: int = MIN_VISIBLE_JOINTS) -> np.ndarray:
    return np.flatnonzero(video.visible.sum(axis=1) >= min_visible)


PairIndex = tuple[int, int, int]  # (video index, source frame, target frame)


def all_ordered_pairs(videos: Sequence[VideoRecord], min_visible: int = MIN_VISIBLE_JOINTS) -> list[PairIndex]:
    """Every ordered pair of distinct usable frames of every video (the paper's evaluation on small real sets)."""
    out: list[PairIndex] = []
    for v, video in enumerate(videos):
        frames = usable_frames(video, min_visible)
        out.extend((v, int(a), int(b)) for a in frames for b in frames if a != b)
    return out


def fixed_pairs(
    videos: Sequence[VideoRecord], n: int, seed: int, min_visible: int = MIN_VISIBLE_JOINTS
) -> list[PairIndex]:
    """`n` pairs drawn deterministically from `seed`: videos in turn, frames at random (distinct)."""
    candidates = [(v, usable_frames(video, min_visible)) for v, video in enumerate(videos)]
    candidates = [(v, f) for v, f in candidates if len(f) >= 2]
    if not candidates:
        raise DatasetError("no video has two usable frames to pair")
    rng = np.random.default_rng([seed, 0x9A1F])
    order = rng.permutation(len(candidates))
    out: list[PairIndex] = []
    for i in range(n):
        v, frames = candidates[order[i % len(candidates)]]
        a, b = rng.choice(frames, size=2, replace=False)
        out.append((v, int(a), int(b)))
    return out


def split_by_video(
    videos: Sequence[VideoRecord], held_out_fraction: float, seed: int
) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """(training, held-out) videos. Whole groups (`VideoRecord.group`: one person/scene, e.g. all camera views of
    one recording) go to one side, so no person or background of the held-out set is ever trained on."""
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in [0, 1); got {held_out_fraction}")
    groups = sorted({v.group for v in videos})
    if not groups:
        return [], []
    rng = np.random.default_rng([seed, 0x5EED])
    shuffled = [groups[i] for i in rng.permutation(len(groups))]
    n_held = int(round(held_out_fraction * len(groups)))
    if held_out_fraction > 0 and n_held == 0 and len(groups) > 1:
        n_held = 1
    n_held = min(n_held, len(groups) - 1)
    held = set(shuffled[:n_held])
    return [v for v in videos if v.group not in held], [v for v in videos if v.group in held]


_warned: set[str] = set()


def warn_unreadable(error: Exception) -> None:
    """One line on stderr the first time this process meets an unreadable file (DataLoader workers each say it
    once); the pair or hole sample is then drawn again."""
    message = str(error)
    if message not in _warned:
        _warned.add(message)
        print(f"posetrain: warning: skipping unreadable frame: {message}", file=sys.stderr, flush=True)


def draw_readable(draw: Callable[[int], dict[str, torch.Tensor]], what: str) -> dict[str, torch.Tensor]:
    """`draw(attempt)` for attempt 0, 1, ... until one reads: each unreadable file is warned about once, and the
    item's `skipped_frames` says how many draws it took. DatasetError after MAX_REDRAWS failures."""
    first_error = None
    for attempt in range(MAX_REDRAWS):
        try:
            item = draw(attempt)
        except DatasetError as exc:
            warn_unreadable(exc)
            first_error = first_error or exc
            continue
        item["skipped_frames"] = torch.tensor(attempt, dtype=torch.int64)
        return item
    raise DatasetError(f"{MAX_REDRAWS} {what}; first: {first_error}")


class _FrameCache:
    """A small per-process LRU of decoded frames: pairs revisit the same frames often in small real sets."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._unreadable: dict[str, DatasetError] = {}  # decoded once, refused ever after (files don't heal mid-run)

    def get(self, path: Path, reduce: int) -> np.ndarray:
        key = (str(path), reduce)
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        if key[0] in self._unreadable:
            raise self._unreadable[key[0]]
        try:
            image = read_rgb(path, reduce)
        except DatasetError as exc:
            self._unreadable[key[0]] = exc
            raise
        if self.capacity > 0:
            self._items[key] = image
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return image


def _jpeg_reduction(path: Path, scale: float) -> int:
    """The largest libjpeg decode reduction (1, 2, 4, 8) that still leaves at least the crop's resolution."""
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return 1
    reduce = 1
    while reduce < 8 and scale * reduce * 2 <= 1.0:
        reduce *= 2
    return reduce


class PosePairDataset(Dataset):
    """Pairs (source frame, target frame) of one video as a dict of tensors (see `sample`).

    Training (`pairs=None`): item i is video i mod len(videos) with two random distinct frames and a random
    augmentation, all drawn from (seed, i) — deterministic whatever the worker count. Any i >= 0 is valid, so
    `InfinitePairSampler` can run through fresh pairs epoch after epoch. Evaluation: pass `pairs` (from
    `fixed_pairs` or `all_ordered_pairs`) and `augment=False`.
    """

    def __init__(
        self,
        videos: Sequence[VideoRecord],
        size: int = 256,
        augment: bool = True,
        pairs_per_video: int = 100,
        seed: int = 0,
        pairs: Sequence[PairIndex] | None = None,
        min_visible: int = MIN_VISIBLE_JOINTS,
        cache_frames: int = 32,
    ) -> None:
        if size < 16:
            raise ValueError(f"crop size {size} is too small")
        self.videos = list(videos)
        self.size = size
        self.augment = augment
        self.seed = seed
        self.min_visible = min_visible
        self._usable = [usable_frames(v, min_visible) for v in self.videos]
        self._pairable = [i for i, f in enumerate(self._usable) if len(f) >= 2]
        if pairs is None and not self._pairable:
            raise DatasetError(
                f"none of the {len(self.videos)} video(s) has two frames with ≥ {min_visible} visible joints"
            )
        self.pairs = list(pairs) if pairs is not None else None
        if self.pairs is not None:
            for v, a, b in self.pairs:
                if not (0 <= v < len(self.videos) and 0 <= a < len(self.videos[v]) and 0 <= b < len(self.videos[v])):
                    raise DatasetError(f"pair {(v, a, b)} does not index a frame of the given videos")
        self.pairs_per_video = pairs_per_video
        self._cache = _FrameCache(cache_frames)

    def __len__(self) -> int:
        if self.pairs is not None:
            return len(self.pairs)
        return self.pairs_per_video * len(self._pairable)

    def pair_at(self, index: int, attempt: int = 0) -> tuple[PairIndex, Augmentation]:
        """Pair `index` (attempt 0), or its `attempt`-th replacement when an earlier draw hit an unreadable frame:
        still a pure function of (seed, index, attempt), so runs and resumes stay exact."""
        rng = np.random.default_rng([self.seed, index] + ([attempt] if attempt else []))
        if self.pairs is not None and (attempt < len(self.pairs) or not self._pairable):
            v, a, b = self.pairs[(index + attempt) % len(self.pairs)]
        else:  # training; or every listed pair had an unreadable frame: any pair of the videos
            if attempt == 0:
                v = self._pairable[index % len(self._pairable)]
            else:  # maybe another video: the unreadable frame may leave this one nothing to pair
                v = self._pairable[int(rng.integers(len(self._pairable)))]
            a, b = (int(x) for x in rng.choice(self._usable[v], size=2, replace=False))
        aug = Augmentation.random(rng, self.size) if self.augment else Augmentation()
        return (v, a, b), aug

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """The pair; a pair with an unreadable frame (corrupt, truncated, over the pixel limit) is replaced by
        another, with a warning, and counted in the item's `skipped_frames` (the trainer logs the running sum)."""

        def draw(attempt: int) -> dict[str, torch.Tensor]:
            (v, a, b), aug = self.pair_at(int(index), attempt)
            return self.sample(v, a, b, aug)

        return draw_readable(draw, "pairs in a row had unreadable frames")

    def sample(self, v: int, src: int, tgt: int, aug: Augmentation | None = None) -> dict[str, torch.Tensor]:
        """The pair (video v, frames src -> tgt) under augmentation `aug` (none when None)."""
        video = self.videos[v]
        size = self.size
        aug = aug or Augmentation()
        src_pose, tgt_pose = video.pose(src), video.pose(tgt)
        crop = crop_for_poses(src_pose, tgt_pose, size=size)
        matrix = compose_affine(aug.matrix(size), crop.matrix)  # photo px -> augmented crop px

        def joints_in_crop(k: int) -> tuple[np.ndarray, np.ndarray]:
            xy = cv2.transform(video.joints[k][None].astype(np.float64), matrix)[0]
            vis = video.visible[k]
            return (xy[_FLIP], vis[_FLIP]) if aug.flip else (xy, vis.copy())

        xy_s, vis_s = joints_in_crop(src)
        xy_t, vis_t = joints_in_crop(tgt)
        image_s = self._cut_frame(video.frame_paths[src], matrix)
        image_t = self._cut_frame(video.frame_paths[tgt], matrix)

        parts = video.load_parts(src)
        if parts is not None:
            parts_crop = cv2.warpAffine(
                parts,
                matrix,
                (size, size),
                flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=IGNORE_LABEL,
            )
            if aug.flip:
                parts_crop = _LAYER_FLIP_LUT[parts_crop]
        else:
            parts_crop = np.full((size, size), IGNORE_LABEL, dtype=np.uint8)
        mask = video.load_mask(tgt)
        if mask is not None:
            mask_crop = cut_affine(mask, matrix, size, border=cv2.BORDER_CONSTANT).astype(np.float32) / 255.0
        else:
            mask_crop = np.zeros((size, size), dtype=np.float32)

        return {
            "image_src": to_tensor_image(image_s),
            "image_tgt": to_tensor_image(image_t),
            **pose_input_tensors(xy_s, vis_s, xy_t, vis_t, size),
            "joints_src": torch.from_numpy(np.column_stack([xy_s, vis_s]).astype(np.float32)),
            "joints_tgt": torch.from_numpy(np.column_stack([xy_t, vis_t]).astype(np.float32)),
            "parts_src": torch.from_numpy(parts_crop.astype(np.int64)),
            "mask_tgt": torch.from_numpy(mask_crop[None]),
            "has_mask": torch.tensor(mask is not None),
            "person_box_tgt": torch.from_numpy(person_box(xy_t, vis_t, size)),
            "video": torch.tensor(v, dtype=torch.int64),
            "frame_src": torch.tensor(src, dtype=torch.int64),
            "frame_tgt": torch.tensor(tgt, dtype=torch.int64),
        }

    def _cut_frame(self, path: Path, matrix: np.ndarray) -> np.ndarray:
        reduce = _jpeg_reduction(path, affine_scale(matrix))
        image = self._cache.get(path, reduce)
        if reduce > 1:
            # libjpeg's 1/f decode: reduced pixel i covers original pixels [i·f, (i+1)·f), so x = f·(x' + 0.5) − 0.5.
            f = float(reduce)
            matrix = compose_affine(matrix, np.array([[f, 0.0, 0.5 * f - 0.5], [0.0, f, 0.5 * f - 0.5]]))
        return cut_affine(image, matrix, self.size)


class InfinitePairSampler(Sampler[int]):
    """An endless stream of item indices for a step-based trainer: epoch e yields e·L + a permutation of range(L)
    (seeded by (seed, e)), split across `world_size` ranks; `start` skips items already consumed (for --resume)."""

    def __init__(self, length: int, seed: int = 0, rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        if length <= 0:
            raise ValueError("the dataset is empty")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.length, self.seed, self.rank, self.world_size, self.start = length, seed, rank, world_size, start

    def __iter__(self) -> Iterator[int]:
        per_rank = self.length // self.world_size or 1
        epoch, skip = divmod(self.start, per_rank)
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.length)
            mine = order[self.rank :: self.world_size][:per_rank]
            for i in mine[skip:]:
                yield int(epoch * self.length + i)
            skip = 0
            epoch += 1


def worker_init(_worker_id: int) -> None:
    """DataLoader workers: one thread each, so N workers use N cores and never fight the trainer's threads."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    workers: int = 2,
    sampler: Sampler[int] | None = None,
    shuffle: bool = False,
    drop_last: bool = True,
    prefetch: int = 4,
    context: str | None = "forkserver",
) -> torch.utils.data.DataLoader:
    """A DataLoader set up for this machine: single-threaded persistent workers with deep prefetch.

    Workers start from a fresh forkserver process, not a fork of the trainer: forking a process whose torch/OpenMP
    and cv2 threads are running can deadlock a worker (seen here once under heavy load)."""
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=shuffle if sampler is None else False,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=prefetch if workers > 0 else None,
        worker_init_fn=worker_init if workers > 0 else None,
        multiprocessing_context=context if workers > 0 else None,
        drop_last=drop_last,
    )
