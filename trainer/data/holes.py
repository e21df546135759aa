"""Self-supervised background-inpainting samples: real photographs with person-shaped holes (issue 6).

The background module must learn to fill the place a person leaves in a *real* photo. Any real frame is a
ground-truth background for a person-shaped hole cut into it: we draw a random pose (or a real one), paint its
silhouette (limbs as thick strokes, torso polygon, head ellipse, ragged outline), and paste into that hole the
pixels of some other image, so the network must learn to remove foreign content, not just fill grey.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from poseeditor.geometry import apply_affine, compose_affine, crop_for_poses
from poseeditor.heatmaps import joint_heatmaps
from poseeditor.priors import segmentation_prior
from poseeditor.skeleton import FLIP_PERMUTATION, NUM_JOINTS, Pose
from trainer.data.dataset_format import IMAGE_SUFFIXES, DatasetError, VideoRecord, read_rgb
from trainer.data.pairs import cut_affine, draw_readable, to_tensor_image

# Limb stroke widths as fractions of the body height (head top to ankles), before random jitter.
_STROKES: tuple[tuple[int, int, float], ...] = (
    (1, 2, 0.06),
    (1, 5, 0.06),  # shoulders (neck to shoulder)
    (2, 3, 0.065),
    (3, 4, 0.05),
    (5, 6, 0.065),
    (6, 7, 0.05),  # arms
    (8, 9, 0.09),
    (9, 10, 0.065),
    (11, 12, 0.09),
    (12, 13, 0.065),  # legs
    (2, 8, 0.07),
    (5, 11, 0.07),
    (8, 11, 0.09),  # torso outline
)


def body_height(xy: np.ndarray, visible: np.ndarray) -> float:
    pts = xy[visible]
    return float(max(np.ptp(pts[:, 1]), np.ptp(pts[:, 0]) * 0.6, 1.0))


def person_silhouette(
    xy: np.ndarray,
    visible: np.ndarray,
    size: int | tuple[int, int],
    rng: np.random.Generator | None = None,
    width_scale: float = 1.0,
) -> np.ndarray:
    """(H, W) uint8 mask (0/255) of a body with joints `xy` (14, 2) px; with `rng`, widths and outline jitter."""
    h, w = (size, size) if isinstance(size, int) else size
    xy = np.asarray(xy, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    mask = np.zeros((h, w), dtype=np.uint8)
    if visible.sum() < 2:
        return mask
    height = body_height(xy, visible) * width_scale
    shift = 4  # sub-pixel precision for cv2 drawing
    f = float(1 << shift)

    def pt(j: int) -> tuple[int, int]:
        return int(round(xy[j, 0] * f)), int(round(xy[j, 1] * f))

    for a, b, frac in _STROKES:
        if visible[a] and visible[b]:
            jitter = rng.uniform(0.8, 1.4) if rng is not None else 1.0
            thickness = max(1, int(round(frac * height * jitter)))
            cv2.line(mask, pt(a), pt(b), 255, thickness, cv2.LINE_AA, shift)
    torso = [j for j in (2, 5, 11, 8) if visible[j]]
    if len(torso) >= 3:
        cv2.fillPoly(mask, [np.array([pt(j) for j in torso], dtype=np.int32)], 255, cv2.LINE_AA, shift)
    if visible[0] and visible[1]:
        centre = 0.5 * (xy[0] + xy[1])
        half = 0.5 * float(np.linalg.norm(xy[0] - xy[1]))
        radius = max(1.15 * half, 0.05 * height) * (rng.uniform(0.9, 1.2) if rng is not None else 1.0)
        angle = math.degrees(math.atan2(xy[0, 1] - xy[1, 1], xy[0, 0] - xy[1, 0]))
        axes = (int(round(radius * f)), int(round(0.8 * radius * f)))
        cv2.ellipse(
            mask,
            (int(round(centre[0] * f)), int(round(centre[1] * f))),
            axes,
            angle,
            0,
            360,
            255,
            -1,
            cv2.LINE_AA,
            shift,
        )
    for j in (4, 7, 10, 13):  # hands and feet
        if visible[j]:
            r = int(round(0.035 * height * f))
            cv2.circle(mask, pt(j), r, 255, -1, cv2.LINE_AA, shift)
    if rng is not None:
        # A ragged outline (clothes, hair): threshold the blurred mask against smooth noise.
        noise = cv2.resize(
            rng.random((max(2, h // 16), max(2, w // 16))).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
        )
        blur = max(3, int(0.03 * height) | 1)
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (blur, blur), 0)
        mask = np.where(soft > 0.35 + 0.3 * (noise - 0.5), 255, 0).astype(np.uint8)
    return mask


def random_pose(rng: np.random.Generator, size: int, height_range: tuple[float, float] = (0.5, 0.95)) -> Pose:
    """A random plausible 14-joint pose in a size×size crop: a body of random height, roughly upright,
    arms and legs at random angles within joint limits, facing towards or away from the camera."""
    height = rng.uniform(*height_range) * size
    facing = 1.0 if rng.random() < 0.7 else -1.0  # +1: facing the camera, so the person's right is image-left
    lean = math.radians(rng.normal(0.0, 8.0))
    up = np.array([math.sin(lean), -math.cos(lean)])
    side = np.array([-up[1], up[0]]) * facing  # points to the person's left in the image
    neck = np.array([0.0, 0.0])
    head = neck + up * 0.14 * height
    mid_hip = neck - up * 0.33 * height
    shoulder_half, hip_half = 0.11 * height * rng.uniform(0.85, 1.1), 0.07 * height * rng.uniform(0.85, 1.1)
    xy = np.zeros((NUM_JOINTS, 2))
    xy[0], xy[1] = head, neck
    xy[2], xy[5] = neck - side * shoulder_half, neck + side * shoulder_half
    xy[8], xy[11] = mid_hip - side * hip_half, mid_hip + side * hip_half

    def limb(start: np.ndarray, angle: float, length: float) -> np.ndarray:
        return start + length * np.array([math.sin(angle), math.cos(angle)])  # angle 0 = straight down

    for shoulder, elbow, wrist, outward in ((2, 3, 4, -1.0), (5, 6, 7, 1.0)):
        a = lean + outward * facing * math.radians(rng.uniform(-40, 170))
        xy[elbow] = limb(xy[shoulder], -a, 0.17 * height)
        b = a + outward * facing * math.radians(rng.uniform(0, 140)) * (1 if rng.random() < 0.5 else -1)
        xy[wrist] = limb(xy[elbow], -b, 0.15 * height)
    for hip, knee, ankle, outward in ((8, 9, 10, -1.0), (11, 12, 13, 1.0)):
        a = lean + outward * facing * math.radians(rng.uniform(-25, 55))
        xy[knee] = limb(xy[hip], -a, 0.24 * height)
        b = a - outward * facing * math.radians(rng.uniform(0, 100)) * (1 if rng.random() < 0.5 else -1)
        xy[ankle] = limb(xy[knee], -b, 0.23 * height)
    # Centre the body's box in the crop with a random offset that keeps most of it inside.
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    centre = (size - 1) / 2.0 + rng.uniform(-0.15, 0.15, size=2) * size
    xy += centre - 0.5 * (lo + hi)
    return Pose(xy, np.ones(NUM_JOINTS, dtype=bool), size, size)


def frames_of(videos: Sequence[VideoRecord], stride: int = 1) -> list[Path]:
    """Frame paths of videos (every `stride`-th), e.g. the ingested real videos, as hole-dataset images."""
    return [p for v in videos for p in v.frame_paths[::stride]]


def images_in(folder: str | os.PathLike[str]) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise DatasetError(f"{folder}: no images (.jpg, .png, ...) in it")
    return found


class PersonHoleDataset(Dataset):
    """(image, input_image, hole_mask, heatmaps, prior) for training the background module on real photos.

    Each item: a random square region of a random image (side 35–100 % of the image's short side, random mirror)
    resized to size×size = `image`, the ground truth; a person-shaped `hole_mask` (1 inside); `input_image` = the
    image with the hole filled by another image's pixels; the pose's `heatmaps` and segmentation `prior`, as the
    source stage sees them. Deterministic by (seed, index).

    Hole shapes, in equal shares of what is given: the real person masks of `shapes` (videos with masks/, e.g.
    ingested or synthetic ones) with their frames' poses; silhouettes painted along the real `poses`; silhouettes
    of synthetic random poses (always part of the mix).
    """

    def __init__(
        self,
        images: Sequence[str | os.PathLike[str]],
        size: int = 256,
        seed: int = 0,
        length: int = 10_000,
        poses: Sequence[Pose] | None = None,
        with_prior: bool = True,
        shapes: Sequence[VideoRecord] | None = None,
    ) -> None:
        self.images = [Path(p) for p in images]
        if not self.images:
            raise DatasetError("the hole dataset needs at least one image")
        missing = [p for p in self.images if not p.is_file()]
        if missing:
            raise DatasetError(f"{len(missing)} image(s) missing, first {missing[0]}")
        self.size, self.seed, self.length, self.with_prior = size, seed, length, with_prior
        self.poses = list(poses) if poses else []
        # (video, frame) of every frame that has a person mask
        self.shape_videos = list(shapes or [])
        self.shape_frames = [
            (v, k)
            for v, video in enumerate(self.shape_videos)
            if video.mask_paths is not None
            for k, path in enumerate(video.mask_paths)
            if path is not None and video.visible[k].sum() >= 4
        ]
        if shapes and not self.shape_frames:
            raise DatasetError("none of the `shapes` videos has person masks (masks/<video>/)")

    def __len__(self) -> int:
        return self.length

    def _random_region(self, rng: np.random.Generator) -> np.ndarray:
        path = self.images[int(rng.integers(len(self.images)))]
        full = read_rgb(path)  # decoding a frame is cheap next to the prior; keep it simple
        h, w = full.shape[:2]
        side = rng.uniform(0.35, 1.0) * min(h, w)
        x0 = rng.uniform(0, w - side)
        y0 = rng.uniform(0, h - side)
        k = self.size / side
        matrix = np.array([[k, 0.0, -k * x0 + 0.5 * k - 0.5], [0.0, k, -k * y0 + 0.5 * k - 0.5]])
        if rng.random() < 0.5:
            matrix = np.array([[-1.0, 0.0, self.size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
        return cut_affine(full, matrix, self.size)

    def _placement(self, pose: Pose, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """A photo->crop affine putting the person somewhere in the crop at 50–100 % of the contract's size,
        possibly mirrored (then joints must be permuted with FLIP_PERMUTATION)."""
        crop = crop_for_poses(pose, size=self.size)
        zoom = rng.uniform(0.5, 1.0)
        c = (self.size - 1) / 2.0
        shift = rng.uniform(-0.15, 0.15, size=2) * self.size
        place = np.array([[zoom, 0.0, c - zoom * c + shift[0]], [0.0, zoom, c - zoom * c + shift[1]]])
        matrix = compose_affine(place, crop.matrix)
        flip = bool(rng.random() < 0.5)
        if flip:
            matrix = compose_affine(np.array([[-1.0, 0.0, self.size - 1.0], [0.0, 1.0, 0.0]]), matrix)
        return matrix, flip

    def _placed_pose(self, pose: Pose, matrix: np.ndarray, flip: bool) -> Pose:
        xy, vis = apply_affine(matrix, pose.xy), pose.visible
        if flip:
            xy, vis = xy[list(FLIP_PERMUTATION)], vis[list(FLIP_PERMUTATION)]
        return Pose(xy, vis, self.size, self.size)

    def _hole(self, rng: np.random.Generator) -> tuple[Pose, np.ndarray]:
        """The pose (crop px) and its person-shaped hole (uint8 0/255)."""
        kinds = ["synthetic"] + (["poses"] if self.poses else []) + (["masks"] if self.shape_frames else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "masks":
            v, k = self.shape_frames[int(rng.integers(len(self.shape_frames)))]
            video = self.shape_videos[v]
            matrix, flip = self._placement(video.pose(k), rng)
            mask = video.load_mask(k)
            assert mask is not None
            hole = cut_affine(mask, matrix, self.size, border=cv2.BORDER_CONSTANT)
            # A low threshold: a hole must rather cover a little more than the person (thin limbs survive zooming out)
            return self._placed_pose(video.pose(k), matrix, flip), np.where(hole > 63, 255, 0).astype(np.uint8)
        if kind == "poses":
            real = self.poses[int(rng.integers(len(self.poses)))]
            matrix, flip = self._placement(real, rng)
            pose = self._placed_pose(real, matrix, flip)
        else:
            pose = random_pose(rng, self.size)
        return pose, person_silhouette(pose.xy, pose.visible, self.size, rng)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Sample `index`; one that hits an unreadable image or mask is drawn again (from (seed, index, attempt),
        so it stays deterministic), with a warning, and counted in `skipped_frames`."""
        def draw(attempt: int) -> dict[str, torch.Tensor]:
            return self._sample(np.random.default_rng([self.seed, int(index)] + ([attempt] if attempt else [])))

        return draw_readable(draw, "hole samples in a row had unreadable images")

    def _sample(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        image = self._random_region(rng)
        filler = self._random_region(rng)
        pose, hole = self._hole(rng)
        grow = int(rng.integers(0, max(1, self.size // 40) + 1))
        if grow:
            hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        inside = (hole > 127)[:, :, None]
        input_image = np.where(inside, filler, image)
        out = {
            "image": to_tensor_image(image),
            "input_image": to_tensor_image(input_image),
            "hole_mask": torch.from_numpy(inside[None, :, :, 0].astype(np.float32)),
            "heatmaps": torch.from_numpy(joint_heatmaps(pose.xy, pose.visible, self.size)),
            "joints": torch.from_numpy(np.column_stack([pose.xy, pose.visible]).astype(np.float32)),
        }
        if self.with_prior:
            out["prior"] = torch.from_numpy(segmentation_prior(pose.xy, pose.visible, self.size))
        return out


def soft_background_mask(hole_mask: torch.Tensor, seed: int, step: int) -> torch.Tensor:
    """The background mask the background module gets for a holed photo: 1 − (blurred hole × depth), depth in
    [0.5, 1] per sample, so part of the foreign content pasted into the hole shows through.

    Why: at inference the segmentation's background channel is soft and never exactly 0 on the person, so the
    person shows faintly through the module's input. Trained only on clean, fully zeroed holes, the module copied
    that faint person into the background (seen on the first run's sheets: a ghost at the person's old place).
    Deterministic by (seed, step), so resumed runs repeat it exactly.
    """
    n, _, size, _ = hole_mask.shape
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    depth = (0.5 + 0.5 * torch.rand(n, 1, 1, 1, generator=g)).to(hole_mask.device, hole_mask.dtype)
    k = max(3, (size // 32) | 1)
    soft = F.avg_pool2d(hole_mask, k, stride=1, padding=k // 2, count_include_pad=False)
    return 1.0 - soft.clamp(0.0, 1.0) * depth
