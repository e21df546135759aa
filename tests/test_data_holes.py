"""Person-shaped holes in real images: shapes, the hole is person-like and only the hole is changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseeditor.skeleton import NUM_JOINTS
from trainer.data.dataset_format import DatasetError, write_video
from trainer.data.holes import PersonHoleDataset, frames_of, images_in, person_silhouette, random_pose
from trainer.data.toy import write_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("holes"), videos=2, frames=3, width=96, height=72, seed=2)


def test_items_have_the_documented_shapes_and_only_the_hole_changes(toy):
    ds = PersonHoleDataset(
        frames_of(toy), size=48, seed=0, length=20, poses=[toy[0].pose(k) for k in range(3)], shapes=toy
    )
    assert len(ds) == 20 and len(ds.shape_frames) == 6
    for i in range(12):
        s = ds[i]
        assert s["image"].shape == s["input_image"].shape == (3, 48, 48)
        assert s["hole_mask"].shape == (1, 48, 48) and s["heatmaps"].shape == (NUM_JOINTS, 48, 48)
        assert s["prior"].shape == (11, 48, 48) and s["joints"].shape == (NUM_JOINTS, 3)
        hole = s["hole_mask"][0] > 0.5
        assert set(s["hole_mask"].unique().tolist()) <= {0.0, 1.0}
        assert 0.02 < hole.float().mean() < 0.7  # a person, not a speck and not the whole picture
        assert torch.equal(s["input_image"][:, ~hole], s["image"][:, ~hole])
        assert s["image"].min() >= -1 and s["image"].max() <= 1
        # the heatmaps' joints lie in (or within a pixel of) the hole
        near = torch.nn.functional.max_pool2d(hole[None, None].float(), 3, 1, 1)[0, 0] > 0
        on = [
            bool(near[int(round(y)), int(round(x))])
            for x, y, _ in s["joints"].tolist()
            if 0 <= round(x) < 48 and 0 <= round(y) < 48
        ]
        assert np.mean(on) > 0.8


def test_deterministic_by_seed(toy):
    a = PersonHoleDataset(frames_of(toy), size=32, seed=5, length=4)
    b = PersonHoleDataset(frames_of(toy), size=32, seed=5, length=4)
    c = PersonHoleDataset(frames_of(toy), size=32, seed=6, length=4)
    assert torch.equal(a[2]["input_image"], b[2]["input_image"])
    assert not torch.equal(a[2]["hole_mask"], c[2]["hole_mask"])


def test_silhouette_covers_joints_and_limbs():
    rng = np.random.default_rng(1)
    for _ in range(5):
        pose = random_pose(rng, 128)
        mask = person_silhouette(pose.xy, pose.visible, 128)
        xy = np.round(pose.xy).astype(int)
        ok = [(0 <= x < 128 and 0 <= y < 128) and mask[y, x] > 127 for x, y in xy if 0 <= x < 128 and 0 <= y < 128]
        assert all(ok)
        # mid-points of the thighs are covered too (limbs are strokes, not dots)
        mid = np.round(0.5 * (pose.xy[8] + pose.xy[9])).astype(int)
        if 0 <= mid[0] < 128 and 0 <= mid[1] < 128:
            assert mask[mid[1], mid[0]] > 127


def test_bad_inputs(tmp_path):
    with pytest.raises(DatasetError, match="at least one image"):
        PersonHoleDataset([], size=32)
    with pytest.raises(DatasetError, match="missing"):
        PersonHoleDataset([tmp_path / "nope.jpg"], size=32)
    with pytest.raises(DatasetError, match="no images"):
        images_in(tmp_path)
    no_masks = write_video(
        tmp_path / "d", "plain", [np.zeros((40, 30, 3), np.uint8)] * 2, np.full((2, 14, 2), 9.0), np.ones((2, 14), bool)
    )
    with pytest.raises(DatasetError, match="has person masks"):
        PersonHoleDataset(no_masks.frame_paths, size=32, shapes=[no_masks])


def test_real_mask_holes_follow_the_mask_and_its_pose(toy):
    ds = PersonHoleDataset(frames_of(toy), size=48, seed=3, length=30, shapes=toy)
    masks_seen = 0
    for i in range(30):
        rng = np.random.default_rng([3, i])
        pose, hole = ds._hole(rng)
        if not 0.02 < (hole > 0).mean() < 0.7:
            continue
        xy = np.round(pose.xy).astype(int)
        on = [hole[y, x] > 0 for x, y in xy if 0 <= x < 48 and 0 <= y < 48]
        assert np.mean(on) > 0.8
        masks_seen += 1
    assert masks_seen > 10
