import numpy as np

from poseeditor.heatmaps import joint_heatmaps
from poseeditor.priors import segmentation_prior


def test_heatmap_peaks_at_the_joints(standing_pose):
    xy = standing_pose.xy * 0.8
    vis = np.ones(14, bool)
    vis[5] = False
    maps = joint_heatmaps(xy, vis, 256)
    assert maps.shape == (14, 256, 256) and maps.dtype == np.float32
    for j in range(14):
        if not vis[j]:
            assert maps[j].max() == 0.0
            continue
        y, x = np.unravel_index(np.argmax(maps[j]), maps[j].shape)
        assert abs(x - xy[j, 0]) <= 0.5 and abs(y - xy[j, 1]) <= 0.5
        # value one sigma away along x is exp(-1/2)
        xi, yi = int(round(xy[j, 0])), int(round(xy[j, 1]))
        assert maps[j][yi, xi] > 0.9


def test_heatmap_sigma_is_contract_value():
    maps = joint_heatmaps(np.full((14, 2), 100.0), np.ones(14, bool), 256)
    assert maps[0, 100, 100] == 1.0
    assert np.isclose(maps[0, 100, 100 + 7], np.exp(-49 / (2 * 3.5**2)), rtol=1e-5)


def test_prior_follows_limbs(standing_pose):
    prior = segmentation_prior(standing_pose.xy, standing_pose.visible, 256)
    assert prior.shape == (11, 256, 256)
    # forearm prior highest between elbow and wrist; background prior low there, high far away
    mid = ((standing_pose.xy[3] + standing_pose.xy[4]) / 2).round().astype(int)
    assert prior[3][mid[1], mid[0]] > 0.9
    assert prior[0][mid[1], mid[0]] < 0.1
    assert prior[0][250, 250] > 0.99
