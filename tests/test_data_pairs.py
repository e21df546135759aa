"""The pair dataset: shapes/ranges, flip with L/R swap, limb transforms, held-out split, loader determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from poseeditor.skeleton import JOINT_INDEX, LIMBS
from trainer.data.dataset_format import read_dataset, write_video
from trainer.data.pairs import (
    IGNORE_LABEL,
    Augmentation,
    InfinitePairSampler,
    PosePairDataset,
    all_ordered_pairs,
    fixed_pairs,
    make_loader,
    split_by_video,
)
from trainer.data.toy import paint_parts, write_toy_dataset

TENNIS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "posewarp-tennis"
SIZE = 64


@pytest.fixture(scope="module")
def toy_videos(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy"), videos=3, frames=4, width=72, height=96, seed=5)


def test_sample_shapes_dtypes_and_ranges(toy_videos):
    ds = PosePairDataset(toy_videos, size=SIZE, augment=True, pairs_per_video=5, seed=1)
    assert len(ds) == 15
    s = ds[4]
    shapes = {
        "image_src": (3, SIZE, SIZE),
        "image_tgt": (3, SIZE, SIZE),
        "heatmaps_src": (14, SIZE, SIZE),
        "heatmaps_tgt": (14, SIZE, SIZE),
        "prior_src": (11, SIZE, SIZE),
        "transforms": (10, 2, 3),
        "joints_src": (14, 3),
        "joints_tgt": (14, 3),
        "parts_src": (SIZE, SIZE),
        "mask_tgt": (1, SIZE, SIZE),
        "has_mask": (),
        "person_box_tgt": (4,),
        "video": (),
    }
    for key, shape in shapes.items():
        assert tuple(s[key].shape) == shape, key
    for key in ("image_src", "image_tgt", "heatmaps_src", "prior_src", "transforms", "mask_tgt", "person_box_tgt"):
        assert s[key].dtype == torch.float32, key
    assert s["parts_src"].dtype == torch.int64 and s["has_mask"].dtype == torch.bool and bool(s["has_mask"])
    assert -1.0 <= s["image_src"].min() and s["image_tgt"].max() <= 1.0
    assert s["image_src"].std() > 0.1  # a real picture, not a constant
    assert 0.0 <= s["heatmaps_tgt"].min() and 0.9 < s["heatmaps_tgt"].max() <= 1.0
    assert 0.0 < s["prior_src"].min() and s["prior_src"].max() <= 1.0
    labels = set(s["parts_src"].unique().tolist())
    assert labels <= set(range(11)) | {IGNORE_LABEL} and len(labels - {0, IGNORE_LABEL}) >= 3
    assert set(s["mask_tgt"].unique().tolist()) - {0.0, 1.0} == set() or s["mask_tgt"].max() <= 1.0
    x0, y0, x1, y1 = s["person_box_tgt"].tolist()
    vis = s["joints_tgt"][:, 2] > 0
    assert x0 <= s["joints_tgt"][vis, 0].min() and s["joints_tgt"][vis, 0].max() <= x1 and y0 < y1
    # the target mask covers the target joints (the figure is painted along them)
    mask = s["mask_tgt"][0]
    inside = [
        mask[int(round(y)), int(round(x))]
        for x, y, v in s["joints_tgt"].tolist()
        if v and 0 <= x < SIZE - 0.5 and 0 <= y < SIZE - 0.5
    ]
    assert np.mean(np.asarray(inside) > 0.5) > 0.8


def test_deterministic_by_seed_and_index(toy_videos):
    a = PosePairDataset(toy_videos, size=SIZE, seed=7)
    b = PosePairDataset(toy_videos, size=SIZE, seed=7)
    c = PosePairDataset(toy_videos, size=SIZE, seed=8)
    for key in ("image_src", "joints_tgt", "transforms"):
        assert torch.equal(a[3][key], b[3][key])
    assert not torch.equal(a[3]["joints_tgt"], c[3]["joints_tgt"])


def test_transforms_map_target_joints_onto_source_joints(toy_videos):
    ds = PosePairDataset(toy_videos, size=SIZE, augment=True, seed=2)
    for i in range(6):
        s = ds[i]
        m = s["transforms"].double().numpy()
        src, tgt = s["joints_src"].double().numpy(), s["joints_tgt"].double().numpy()
        for limb, joints in enumerate(LIMBS):
            mapped = tgt[list(joints), :2] @ m[limb, :, :2].T + m[limb, :, 2]
            err = np.abs(mapped - src[list(joints), :2]).max()
            # two-joint limbs are exact; the torso's similarity is a least-squares fit of four joints
            assert err < (1e-3 if len(joints) == 2 else 0.25 * SIZE), (i, limb, err)


def test_same_crop_for_both_frames_keeps_the_background_aligned(toy_videos):
    ds = PosePairDataset(toy_videos, size=SIZE, augment=True, seed=3)
    s = ds[0]
    background = s["mask_tgt"][0] == 0
    # toy background is static: where neither frame has the person, source and target pixels agree
    src_person = torch.from_numpy(np.isin(s["parts_src"].numpy(), range(1, 11)))
    still = background & ~src_person
    still[:2] = still[-2:] = False
    diff = (s["image_src"] - s["image_tgt"]).abs().amax(0)[still]
    assert diff.float().median() < 0.05


def _raised_right_wrist_video(root):
    """A figure facing the camera (its right on the image left) with the right wrist above the head."""
    w, h = 120, 160
    xy = np.array(
        [
            [60, 20],
            [60, 40],
            [48, 44],
            [40, 30],
            [38, 8],
            [72, 44],
            [76, 64],
            [78, 84],
            [52, 88],
            [51, 118],
            [50, 148],
            [68, 88],
            [69, 118],
            [70, 148],
        ],
        dtype=np.float64,
    )
    frames, parts = [], []
    for dx in (0.0, 6.0):
        moved = xy + [dx, 0.0]
        label = paint_parts(moved, h, w, 140.0)
        img = np.full((h, w, 3), 90, np.uint8)
        img[:, : w // 3] = (200, 60, 60)  # a background that is not symmetric
        img[label > 0] = (250, 250, 250)
        frames.append(img)
        parts.append(label)
    joints = np.stack([xy, xy + [6.0, 0.0]])
    return write_video(root, "raised", frames, joints, np.ones((2, 14), bool), parts=parts, frame_suffix=".png")


def test_flip_mirrors_the_image_and_swaps_left_and_right(tmp_path):
    video = _raised_right_wrist_video(tmp_path)
    ds = PosePairDataset([video], size=SIZE, augment=False, pairs=[(0, 0, 1)])
    plain = ds.sample(0, 0, 1, Augmentation())
    flipped = ds.sample(0, 0, 1, Augmentation(flip=True))
    r_wrist, l_wrist = JOINT_INDEX["r_wrist"], JOINT_INDEX["l_wrist"]
    for key in ("joints_src", "joints_tgt"):
        p, f = plain[key].numpy(), flipped[key].numpy()
        # unflipped: the raised wrist is the right one, on the image's left; flipped: the left one, on the right
        assert p[:, 1].argmin() == r_wrist and p[r_wrist, 0] < SIZE / 2
        assert f[:, 1].argmin() == l_wrist and f[l_wrist, 0] > SIZE / 2
        np.testing.assert_allclose(f[l_wrist, 0], SIZE - 1 - p[r_wrist, 0], atol=1e-4)
        np.testing.assert_allclose(f[l_wrist, 1], p[r_wrist, 1], atol=1e-4)
    # pixels are the mirror image; heatmaps follow the swapped joints
    np.testing.assert_allclose(flipped["image_src"].numpy(), plain["image_src"].numpy()[:, :, ::-1], atol=2 / 255)
    np.testing.assert_allclose(
        flipped["heatmaps_tgt"][l_wrist].numpy(), plain["heatmaps_tgt"][r_wrist].numpy()[:, ::-1], atol=1e-4
    )
    # part labels: the right forearm (label 3) becomes the left forearm (label 5) on the mirrored side
    p_parts, f_parts = plain["parts_src"].numpy(), flipped["parts_src"].numpy()
    assert (p_parts == 3).sum() > 5 and (p_parts == 5).sum() > 5
    np.testing.assert_array_equal(f_parts == 5, (p_parts == 3)[:, ::-1])
    np.testing.assert_array_equal(f_parts == 3, (p_parts == 5)[:, ::-1])
    np.testing.assert_array_equal(f_parts == 10, (p_parts == 10)[:, ::-1])
    x, y = plain["joints_src"][r_wrist, :2].round().int().tolist()
    assert p_parts[y + 1, x] == 3 and f_parts[y + 1, SIZE - 1 - x] == 5


def test_split_by_video_never_shares_a_video_or_group(toy_videos, tmp_path):
    records = write_toy_dataset(tmp_path, videos=8, frames=2, width=32, height=48, seed=1)
    for r in records[:3]:
        r.group = "same_person"  # e.g. three camera views of one recording
    train, held = split_by_video(records, 0.3, seed=0)
    assert train and held
    assert {v.name for v in train}.isdisjoint({v.name for v in held})
    assert {v.group for v in train}.isdisjoint({v.group for v in held})
    assert len(train) + len(held) == 8
    again = split_by_video(records, 0.3, seed=0)
    assert [v.name for v in again[1]] == [v.name for v in held]
    ds_train = PosePairDataset(train, size=32, seed=0, pairs_per_video=3)
    used = {int(ds_train[i]["video"]) for i in range(len(ds_train))}
    assert {train[v].name for v in used}.isdisjoint({v.name for v in held})


def test_evaluation_pairs_are_fixed_and_complete(toy_videos):
    pairs = fixed_pairs(toy_videos, 10, seed=4)
    assert pairs == fixed_pairs(toy_videos, 10, seed=4) and pairs != fixed_pairs(toy_videos, 10, seed=5)
    assert all(a != b for _, a, b in pairs)
    ordered = all_ordered_pairs(toy_videos)
    assert len(ordered) == 3 * 4 * 3
    ds = PosePairDataset(toy_videos, size=32, augment=False, pairs=ordered)
    s = ds[5]
    assert (int(s["video"]), int(s["frame_src"]), int(s["frame_tgt"])) == ordered[5]


@pytest.mark.skipif(not TENNIS.is_dir(), reason="posewarp-tennis fixture not present")
def test_real_tennis_pairs_put_the_player_in_the_middle_of_the_crop():
    videos = read_dataset(TENNIS)
    ds = PosePairDataset(videos, size=128, augment=False, pairs=all_ordered_pairs(videos))
    assert len(ds) == 56
    s = ds[0]
    xy = s["joints_tgt"][:, :2]
    assert xy.min() > 0 and xy.max() < 128
    height = float(xy[:, 1].max() - xy[:, 1].min())
    assert 50 < height < 128


@pytest.mark.slow  # starts worker processes (~10 s)
def test_loader_gives_the_same_batches_with_or_without_workers(toy_videos):
    ds = PosePairDataset(toy_videos, size=32, seed=0, pairs_per_video=4)
    batches = []
    for workers in (0, 2):
        loader = make_loader(ds, batch_size=4, workers=workers, sampler=InfinitePairSampler(len(ds), seed=1))
        it = iter(loader)
        batches.append([next(it) for _ in range(4)])  # 16 items: crosses an epoch boundary (12 items)
        del it, loader
    for b0, b2 in zip(*batches):
        assert torch.equal(b0["joints_tgt"], b2["joints_tgt"]) and torch.equal(b0["image_src"], b2["image_src"])


def test_infinite_sampler_resumes_and_splits_ranks():
    full = InfinitePairSampler(10, seed=3)
    stream = [i for _, i in zip(range(25), full)]
    resumed = [i for _, i in zip(range(12), InfinitePairSampler(10, seed=3, start=13))]
    assert resumed == stream[13:25]
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:20]) == list(range(10, 20))
    r0 = [i for _, i in zip(range(5), InfinitePairSampler(10, seed=3, rank=0, world_size=2))]
    r1 = [i for _, i in zip(range(5), InfinitePairSampler(10, seed=3, rank=1, world_size=2))]
    assert set(r0).isdisjoint(r1) and sorted(r0 + r1) == list(range(10))


@pytest.mark.skipif(not TENNIS.is_dir(), reason="posewarp-tennis fixture not present")
def test_reduced_jpeg_decode_cuts_the_same_crop_as_the_full_frame():
    from poseeditor.geometry import crop_for_poses
    from trainer.data.pairs import _jpeg_reduction, affine_scale, cut_affine

    [video] = read_dataset(TENNIS)
    ds = PosePairDataset([video], size=64, augment=False, pairs=[(0, 0, 1)])
    crop = crop_for_poses(video.pose(0), video.pose(1), size=64)
    matrix = Augmentation(angle_deg=4.0, scale=0.95).matrix(64) @ np.vstack([crop.matrix, [0, 0, 1]])
    assert _jpeg_reduction(video.frame_paths[0], affine_scale(matrix)) >= 2  # the fast path is taken
    fast = ds._cut_frame(video.frame_paths[0], matrix).astype(float)
    reference = cut_affine(video.load_frame(0), matrix, 64).astype(float)
    assert np.abs(fast - reference).mean() < 4.0  # same place (a shifted crop differs by tens of levels)
    shifted = cut_affine(video.load_frame(0), matrix + [[0, 0, 1.5], [0, 0, 0]], 64).astype(float)
    assert np.abs(shifted - reference).mean() > np.abs(fast - reference).mean()
