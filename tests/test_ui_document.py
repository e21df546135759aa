"""The editor's Qt-free document: every edit the UI makes, headless."""

from __future__ import annotations

import numpy as np
import pytest

from poseeditor.joint_tree import anchor_point
from poseeditor.presets import bone_lengths, load_presets
from poseeditor.document import EditorDocument, mirror_in_place, similarity_about, transform_pose
from poseeditor.montage import build_montage, montage_layout


@pytest.fixture
def document(person_photo, standing_pose):
    doc = EditorDocument()
    doc.set_photo(person_photo, standing_pose)
    return doc


def test_events_fire_and_undo_restores(document, standing_pose):
    poses, history = [], []
    document.pose_changed.connect(poses.append)
    document.history_changed.connect(lambda: history.append(1))
    key = object()
    for x in range(70, 90, 2):
        document.move_joint(4, x, 140, merge_key=key)
    document.end_drag()
    assert len(poses) == 10 and history
    assert document.history.index == 1
    assert document.history.undo_label() == "Move r_wrist"
    assert document.undo()
    assert document.target_pose == standing_pose
    assert poses[-1] == standing_pose
    assert document.redo()
    assert document.target_pose.xy[4].tolist() == [88, 140]


def test_swing_chain_keeps_the_arm_lengths(document, standing_pose):
    document.swing_chain(3, 60.0)  # the forearm (elbow and wrist) about the right shoulder
    pose = document.target_pose
    np.testing.assert_allclose(bone_lengths(pose), bone_lengths(standing_pose), atol=1e-9)
    assert pose.xy[2].tolist() == standing_pose.xy[2].tolist()
    assert not np.allclose(pose.xy[4], standing_pose.xy[4])
    np.testing.assert_allclose(pose.xy[5:], standing_pose.xy[5:])


def test_whole_skeleton_moves_scales_rotates(document, standing_pose):
    document.translate_all(10, -5)
    np.testing.assert_allclose(document.target_pose.xy, standing_pose.xy + (10, -5))
    document.reset_to_source()
    document.scale_rotate_all(2.0, 0.0)
    np.testing.assert_allclose(bone_lengths(document.target_pose), 2 * bone_lengths(standing_pose))
    np.testing.assert_allclose(anchor_point(document.target_pose), anchor_point(standing_pose))
    matrix = similarity_about(np.array([0.0, 0.0]), 1.0, 90.0)
    np.testing.assert_allclose(transform_pose(standing_pose, matrix).xy[:, 0], -standing_pose.xy[:, 1], atol=1e-9)


def test_nudge_and_hide_the_selected_joint(document, standing_pose):
    document.select(7)
    document.nudge(1, 0)
    document.nudge(1, 0)
    assert document.target_pose.xy[7].tolist() == [134, 150]
    assert document.history.index == 1  # consecutive nudges of one joint coalesce
    document.toggle_visible()
    assert not document.target_pose.visible[7]
    document.toggle_visible()
    assert document.target_pose.visible[7]
    document.select(None)
    document.nudge(0, 3)
    np.testing.assert_allclose(document.target_pose.xy[0], standing_pose.xy[0] + (0, 3))


def test_mirror_stays_in_place_and_swaps_sides(standing_pose):
    moved = standing_pose.with_joint(4, 40, 100)
    mirrored = mirror_in_place(moved)
    assert anchor_point(mirrored)[0] == pytest.approx(anchor_point(moved)[0])
    # the raised right wrist becomes a raised left wrist on the other side of the body
    assert mirrored.xy[7, 1] == pytest.approx(100)
    assert mirrored.xy[7, 0] > anchor_point(moved)[0]
    assert mirror_in_place(mirrored) == moved


def test_preset_is_retargeted(document, standing_pose):
    arms_up = next(p for p in load_presets() if p.key == "arms_up")
    document.apply_preset(arms_up)
    pose = document.target_pose
    assert pose.xy[4, 1] < pose.xy[0, 1]  # wrists above the head
    np.testing.assert_allclose(bone_lengths(pose), bone_lengths(standing_pose), atol=1e-6)
    assert document.history.undo_label() == "Preset: Arms up"


def test_session_round_trip_in_the_document(document, person_photo, standing_pose):
    document.move_joint(4, 10, 10)
    document.add_keyframe()
    data = document.to_session()
    other = EditorDocument()
    other.restore_session(person_photo, data)
    assert other.target_pose == document.target_pose
    assert other.keyframes == document.keyframes
    assert other.undo() and other.target_pose == standing_pose


def test_montage_layout_and_tile_lookup():
    (height, width), tiles, _ = montage_layout()
    names = [t.name for t in tiles]
    assert len(names) == 11 + 10 + 7 + 4  # source stage, warped layers, inputs + target stage, the photo side
    assert len({(t.x, t.y) for t in tiles}) == len(tiles)  # no two tiles overlap in place
    assert len(set(names)) == len(names)
    for tile in tiles:
        assert 0 <= tile.x and tile.x + tile.size <= width and tile.y + tile.size <= height

    from poseeditor.engine import RenderResult
    from poseeditor.geometry import Crop

    rng = np.random.default_rng(0)
    size = 16
    fake = RenderResult(  # random planes of the right shapes
        crop=Crop(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), size),
        transforms=np.zeros((10, 2, 3)),
        target_xy=np.zeros((14, 2)),
        timings={},
        part_masks=rng.random((11, size, size), dtype=np.float32),
        warped_planes=rng.random((10, 3, size, size), dtype=np.float32) * 2 - 1,
        warped_masks=rng.random((10, size, size), dtype=np.float32),
        source_image=rng.random((size, size, 3), dtype=np.float32),
        foreground=rng.random((size, size, 3), dtype=np.float32),
        background=rng.random((size, size, 3), dtype=np.float32),
        output=rng.random((size, size, 3), dtype=np.float32),
        mask=rng.random((size, size), dtype=np.float32),
        source_heatmaps=rng.random((14, size, size), dtype=np.float32),
        target_heatmaps=rng.random((14, size, size), dtype=np.float32),
    )
    montage = build_montage(fake)
    first = tiles[0]  # background mask, upscaled with nearest neighbours: its pixels keep their values
    np.testing.assert_array_equal(montage.image[first.y, first.x], [round(fake.part_masks[0, 0, 0] * 255)] * 3)
    assert montage.image.shape == (height, width, 3)
    tile = tiles[15]
    assert montage.tile_at(tile.x + 3, tile.y + 3) == tile
    assert montage.tile_at(0, 0) is None


def test_sidecar_pose_is_used_only_when_it_fits(tmp_path, standing_pose):
    from poseeditor.pose_io import save_pose
    from poseeditor.person import sidecar_pose

    photo = tmp_path / "p.jpg"
    assert sidecar_pose(photo, 200, 300) is None
    save_pose(tmp_path / "p.pose.json", standing_pose)
    assert sidecar_pose(photo, 200, 300) == standing_pose
    assert sidecar_pose(photo, 400, 300) is None  # made for another size of the photo
    (tmp_path / "p.pose.json").write_text("{broken")
    assert sidecar_pose(photo, 200, 300) is None


def test_default_skeleton_fills_the_photo():
    from poseeditor.person import default_pose, detector_region

    pose = default_pose(400, 1000)
    x0, y0, x1, y1 = pose.box()
    assert 0 <= x0 < x1 <= 400 and 0 <= y0 < y1 <= 1000
    assert (y1 - y0) == pytest.approx(800, rel=0.05)
    assert detector_region((50, 60, 51, 61), 400, 1000) == (50.0, 60.0)  # a click is a point
    assert detector_region((300, 900, 100, -20), 400, 1000) == (100.0, 0.0, 200.0, 900.0)  # a box, clipped
