import numpy as np
import pytest

from poseeditor.geometry import apply_affine, crop_for_poses, fit_similarity, limb_transforms, person_scale
from poseeditor.skeleton import LIMBS, Pose


def test_two_joint_limb_transform_is_exact_hand_computed():
    # target segment (0,0)-(10,0) must map onto source segment (5,5)-(5,25): scale 2, rotation +90°, shift (5,5)
    m = fit_similarity(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[5.0, 5.0], [5.0, 25.0]]))
    expected = np.array([[0.0, -2.0, 5.0], [2.0, 0.0, 5.0]])
    np.testing.assert_allclose(m, expected, atol=1e-12)


def test_torso_transform_is_least_squares_hand_computed():
    # Target torso: a unit square. Source: the square scaled by 2 and shifted by (3,4), except one corner off by
    # (+1, 0). The LS similarity (a,b,tx,ty) has the normal equations solved by hand:
    # a = 2 + 1·x_c / Σ|p-c|² ..., computed here via the closed form for centred points.
    dst = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    src = dst * 2 + [3, 4]
    src[3] += [1.0, 0.0]
    m = fit_similarity(dst, src)
    # closed form: centre both sets, a = Σ(x·x' + y·y')/Σ(x²+y²), b = Σ(x·y' − y·x')/Σ(x²+y²)
    dc, sc = dst - dst.mean(0), src - src.mean(0)
    den = (dc**2).sum()
    a = (dc[:, 0] * sc[:, 0] + dc[:, 1] * sc[:, 1]).sum() / den
    b = (dc[:, 0] * sc[:, 1] - dc[:, 1] * sc[:, 0]).sum() / den
    t = src.mean(0) - np.array([[a, -b], [b, a]]) @ dst.mean(0)
    np.testing.assert_allclose(m, [[a, -b, t[0]], [b, a, t[1]]], atol=1e-12)
    # by hand: centred dst (±.5, ±.5), centred src (-1.25,-1), (.75,-1), (-1.25,1), (1.75,1); Σ|dc|² = 2
    # a = 4.5/2 = 2.25, b = -0.5/2 = -0.25, t = (4.25, 5) − [[2.25, .25], [−.25, 2.25]]·(.5, .5) = (3, 4)
    np.testing.assert_allclose(m, [[2.25, 0.25, 3.0], [-0.25, 2.25, 4.0]], atol=1e-12)


def test_limb_transforms_map_target_joints_onto_source(standing_pose, arm_up_pose):
    ms = limb_transforms(standing_pose.xy, arm_up_pose.xy)
    assert ms.shape == (10, 2, 3)
    for m, joints in zip(ms, LIMBS):
        if len(joints) == 2:
            np.testing.assert_allclose(apply_affine(m, arm_up_pose.xy[list(joints)]), standing_pose.xy[list(joints)], atol=1e-9)
    np.testing.assert_allclose(ms[9], [[1, 0, 0], [0, 1, 0]], atol=1e-9)  # torso unchanged -> identity


def test_hidden_joint_falls_back_to_translation(standing_pose, arm_up_pose):
    vis = np.ones(14, bool)
    vis[4] = False  # r_wrist hidden in the target
    ms = limb_transforms(standing_pose.xy, arm_up_pose.xy, None, vis)
    m = ms[2]  # r forearm [3, 4]: only the elbow is usable -> translation
    np.testing.assert_allclose(m[:, :2], np.eye(2))
    np.testing.assert_allclose(apply_affine(m, arm_up_pose.xy[3]), standing_pose.xy[3])


def test_person_scale_matches_paper_formula(standing_pose):
    xy = standing_pose.xy
    upper = (xy[8, 1] + xy[11, 1]) / 2 - xy[0, 1]
    calf = (np.linalg.norm(xy[9] - xy[10]) + np.linalg.norm(xy[12] - xy[13])) / 2
    assert person_scale(standing_pose) == pytest.approx(max(2.5 * upper, 5 * calf) / 200)


def test_crop_centres_and_scales_the_person(standing_pose):
    crop = crop_for_poses(standing_pose, size=256)
    pts = crop.to_crop(standing_pose.xy)
    centre = (pts.min(0) + pts.max(0)) / 2
    np.testing.assert_allclose(centre, [127.5, 127.5], atol=1e-9)
    assert crop.scale == pytest.approx(1.14 / person_scale(standing_pose))
    # the person spans about 228 px of 256 vertically (head to ankle is ~0.9 of 2.5·upper body here)
    assert 150 < np.ptp(pts[:, 1]) < 256


def test_crop_round_trip_under_half_a_pixel(standing_pose, person_photo):
    import cv2

    rng = np.random.default_rng(1)
    for k in range(5):
        pose = standing_pose.with_xy(standing_pose.xy * rng.uniform(0.5, 3.0) + rng.uniform(-40, 40, 2))
        crop = crop_for_poses(pose, size=256)
        pts = rng.uniform(0, 300, (50, 2))
        np.testing.assert_allclose(crop.to_photo(crop.to_crop(pts)), pts, atol=1e-9)
    # image round trip: a bright dot in the photo lands on the mapped pixel and maps back within 0.5 px
    photo = np.zeros((300, 200, 3), np.uint8)
    cv2.circle(photo, (120, 130), 3, (255, 255, 255), -1)
    crop = crop_for_poses(standing_pose, size=256)
    cut = crop.cut(photo)[:, :, 0].astype(float)
    ys, xs = np.nonzero(cut > 30)
    w = cut[ys, xs]
    found = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    back = crop.to_photo(found[None])[0]
    assert np.linalg.norm(back - [120, 130]) < 0.5


def test_downscaled_crop_round_trip_under_half_a_pixel(standing_pose):
    import cv2

    big = standing_pose.with_xy(standing_pose.xy * 6).__class__(standing_pose.xy * 6, standing_pose.visible, 1200, 1800)
    photo = np.zeros((1800, 1200, 3), np.uint8)
    cv2.circle(photo, (700, 900), 14, (255, 255, 255), -1)
    crop = crop_for_poses(big, size=256)
    assert crop.scale < 0.75  # exercises the area-filtered path
    cut = crop.cut(photo)[:, :, 0].astype(float)
    ys, xs = np.nonzero(cut > 20)
    w = cut[ys, xs]
    found = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    assert np.linalg.norm(crop.to_photo(found[None])[0] - [700, 900]) < 0.5 / crop.scale
    assert np.linalg.norm(found - crop.to_crop(np.array([[700.0, 900.0]]))[0]) < 0.5


def test_mirrored_pose_swaps_sides(standing_pose):
    m = standing_pose.mirrored()
    assert m.xy[2, 0] == pytest.approx(199 - standing_pose.xy[5, 0])
    assert m.mirrored() == standing_pose


def test_pose_rejects_nan_and_wrong_count():
    from poseeditor.errors import PoseFileError

    xy = np.zeros((14, 2))
    xy[3] = np.nan
    with pytest.raises(PoseFileError, match="NaN"):
        Pose(xy, np.ones(14, bool), 10, 10)
    with pytest.raises(PoseFileError, match="14"):
        Pose(np.zeros((13, 2)), np.ones(13, bool), 10, 10)
