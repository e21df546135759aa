"""Issue 11: class-weighted part supervision, the perceptual term at a reduced size, and the arms-in-front
motion mix of the data engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer import losses as L
from trainer.config import ConfigError, config_from_dict
from trainer.synth import motion


def test_class_weights_weight_each_true_class():
    torch.manual_seed(0)
    masks = torch.softmax(torch.randn(1, 11, 6, 6), dim=1)
    labels = torch.zeros(1, 6, 6, dtype=torch.int64)
    labels[0, :2] = 4  # 12 forearm pixels, 24 background pixels
    weights = torch.ones(11)
    weights[4] = 16.0
    log_m = torch.log(masks[0])
    fore, back = -log_m[4, :2].sum(), -log_m[0, 2:].sum()
    expected = (16.0 * fore + back) / (16.0 * 12 + 24)
    got = L.part_cross_entropy(masks, labels, weights)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    unweighted = L.part_cross_entropy(masks, labels)
    assert unweighted.item() == pytest.approx(((fore + back) / 36).item(), rel=1e-5)
    assert got.item() != pytest.approx(unweighted.item(), rel=1e-3)


@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ({"part_ce_class_weights": [1.0] * 10}, "needs 11 entries"),
        ({"part_ce_class_weights": [1.0] * 10 + [-1.0]}, "finite and >= 0"),
        ({"part_ce_class_weights": [0.0] * 11}, "positive sum"),
        ({"part_ce_class_weights": [1.0] * 10 + [float("nan")]}, "finite and >= 0"),
        ({"perceptual_size": 8}, "perceptual_size must be 0"),
        ({"perceptual_size": 512}, "perceptual_size must be 0"),
    ],
)
def test_bad_part_and_perceptual_size_settings_are_refused(loss, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"data": {"train": ["x"]}, "model": {"image_size": 256}, "loss": loss})


def test_objective_passes_the_class_weights():
    from trainer.objective import reconstruction_terms

    cfg = config_from_dict({"data": {"train": ["x"]}, "loss": {
        "l1": 0.0, "ssim": 0.0, "mask_bce": 0.0, "part_ce": 1.0,
        "part_ce_class_weights": [1.0, 10.0, 16.0, 16.0, 16.0, 16.0, 9.0, 11.0, 9.0, 11.0, 6.0]}})
    torch.manual_seed(1)
    masks = torch.softmax(torch.randn(2, 11, 8, 8), dim=1)
    labels = torch.randint(0, 11, (2, 8, 8))
    out = {"output": torch.zeros(2, 3, 8, 8), "part_masks": masks}
    batch = {"image_tgt": torch.zeros(2, 3, 8, 8), "parts_src": labels}
    terms = reconstruction_terms(out, batch, None, cfg, None)
    expected = L.part_cross_entropy(masks, labels, torch.tensor(cfg.loss.part_ce_class_weights))
    assert terms["part_ce"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert terms["part_ce"].item() != pytest.approx(L.part_cross_entropy(masks, labels).item(), rel=1e-3)


def test_v1_mix_draws_exactly_what_synth_v1_drew():
    """Adding the "cross" motion must not change what an old seed renders (synth_v1 reproducible)."""
    old_types = ("walk", "squat", "swing", "serve", "reach", "wave", "random")
    old_p = [0.18, 0.12, 0.16, 0.14, 0.14, 0.1, 0.16]
    for seed in range(30):
        kind, dofs = motion.sample_motion(np.random.default_rng(seed), 6)
        assert kind == str(np.random.default_rng(seed).choice(old_types, p=old_p))
        assert kind != "cross"
    kinds = {motion.sample_motion(np.random.default_rng(s), 4, mix="arms")[0] for s in range(60)}
    assert "cross" in kinds and len(kinds) >= 5
    with pytest.raises(ValueError, match="unknown motion mix"):
        motion.sample_motion(np.random.default_rng(0), 4, mix="nope")


def test_cross_motion_brings_forearms_in_front_and_out():
    """Key poses of "cross" put elbows bent and turned in (hands in front of the torso) and, in other keys, free:
    across frames of one video an arm both sits in front (flexed elbow, inward twist) and leaves it."""
    front = out = 0
    for seed in range(20):
        _, dofs = motion.sample_motion(np.random.default_rng(seed), 12, "cross")
        assert (dofs >= motion.DOF_LOW - 1e-9).all() and (dofs <= motion.DOF_HIGH + 1e-9).all()
        for side in ("r", "l"):
            twist = dofs[:, motion.DOF_INDEX[f"{side}_shoulder_twist"]]
            elbow = dofs[:, motion.DOF_INDEX[f"{side}_elbow_flex"]]
            abd = dofs[:, motion.DOF_INDEX[f"{side}_shoulder_abd"]]
            is_front = (twist > 15) & (elbow > 25) & (abd < 0)
            front += int(is_front.sum())
            out += int((~is_front).sum())
    share = front / (front + out)
    assert 0.25 < share < 0.85, share


def test_export_refuses_an_unknown_assignment_before_loading_anything(tmp_path, capsys):
    from trainer.cli import main

    assert main(["export", str(tmp_path / "no_such_run"), "--out", str(tmp_path / "m"), "--assignment", "bogus"]) == 2
    assert "--assignment must be one of network, nearest, nearest_reach, hybrid" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
