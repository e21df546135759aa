"""posetrain eval: metrics, held-out selection, baselines, JSON schema; and the losses it shares with training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from trainer import losses as L


def test_ssim_and_ms_ssim_known_values():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 64, 64, generator=g)
    assert L.ssim(a, a).item() == pytest.approx(1.0, abs=1e-5)
    assert L.ms_ssim(a, a).item() == pytest.approx(1.0, abs=1e-5)
    noisy = (a + 0.2 * torch.rand(a.shape, generator=g)).clamp(0, 1)
    assert L.ssim(a, noisy).item() < L.ssim(a, (a + 0.05 * torch.rand(a.shape, generator=g)).clamp(0, 1)).item()
    assert L.ssim(a, torch.rand(a.shape, generator=g)).item() < 0.1
    # a constant shift lowers only luminance: SSIM stays high but below 1
    assert 0.8 < L.ssim(a * 0.5 + 0.25, a * 0.5 + 0.35).item() < 1.0


def _photo_like_pair(size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A smooth picture with edges and texture, and a blurred, shifted, noisy copy: SSIM well inside (0, 1)."""
    import cv2

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    a = np.stack([0.5 + 0.4 * np.sin(6 * xx + c) * np.cos(4 * yy) for c in range(3)], axis=-1)
    a[size // 4 : size // 2, size // 3 : 2 * size // 3] = 0.9
    a = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    b = cv2.GaussianBlur(np.roll(a, 2, axis=1), (5, 5), 1.0) + 0.03 * rng.standard_normal(a.shape)
    return a, np.clip(b, 0, 1).astype(np.float32)


def test_ssim_matches_scikit_image_and_counts_the_border():
    """The SSIM map is scikit-image's (Wang et al. 2004: Gaussian window 11, sigma 1.5, data range 1, population
    covariance) wherever the window fits; the convention differs only at the 5-pixel border, which our means count
    (reflect padding) and scikit-image's mean leaves out (docs/design.md "Code layout")."""
    metrics = pytest.importorskip("skimage.metrics")
    a, b = _photo_like_pair()
    reference_mean, reference_map = metrics.structural_similarity(
        a.astype(np.float64), b.astype(np.float64), channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        full=True,
    )
    # in float64: the float32 map differs by up to ~1e-4 from E[x²] − μ² cancellation alone, not the convention
    ours = L.ssim_map(*(torch.from_numpy(x).double().permute(2, 0, 1)[None] for x in (a, b)))
    ours = ours[0].permute(1, 2, 0).double().numpy()
    assert 0.3 < reference_mean < 0.9  # a pair where the metric has room to disagree
    inner = (slice(5, -5), slice(5, -5))
    np.testing.assert_allclose(ours[inner], reference_map[inner], atol=2e-5)
    assert ours[inner].mean() == pytest.approx(reference_mean, abs=2e-5)
    # whole-crop means (what `posetrain eval` reports) count the border: close to, but not, the reference's
    assert abs(ours.mean() - reference_mean) < 0.02


def test_photo_ssim_matches_scikit_image_inside_the_border():
    metrics = pytest.importorskip("skimage.metrics")
    photo_metrics = pytest.importorskip("trainer.photo_metrics")
    a, b = _photo_like_pair()
    reference_mean, reference_map = metrics.structural_similarity(
        a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        full=True,
    )
    ours = photo_metrics.ssim_map(np.round(a * 255).astype(np.uint8), np.round(b * 255).astype(np.uint8))
    quantised = metrics.structural_similarity(
        np.round(a * 255) / 255, np.round(b * 255) / 255, channel_axis=2, data_range=1.0, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False, full=True,
    )[1]
    inner = (slice(5, -5), slice(5, -5))
    np.testing.assert_allclose(ours[inner], quantised.mean(axis=2)[inner], atol=1e-4)


def test_part_cross_entropy_ignores_unknown_and_mask_bce_skips_maskless():
    masks = torch.softmax(torch.randn(2, 11, 8, 8), dim=1).requires_grad_()
    unknown = torch.full((2, 8, 8), 255, dtype=torch.int64)
    assert L.part_cross_entropy(masks, unknown).item() == 0.0
    labels = unknown.clone()
    labels[0, :4] = 3
    expected = -torch.log(masks[0, 3, :4]).mean()
    assert L.part_cross_entropy(masks, labels).item() == pytest.approx(expected.item(), rel=1e-5)
    mask = torch.full((2, 1, 8, 8), 0.5)
    assert L.mask_bce(mask, torch.ones_like(mask), torch.tensor([False, False])).item() == 0.0
    assert L.mask_bce(mask, torch.ones_like(mask), torch.tensor([True, False])).item() == pytest.approx(np.log(2), 1e-5)


def test_vgg19_loads_a_user_state_dict_and_rejects_others(tmp_path):
    from safetensors.torch import save_file

    from trainer.config import TrainerError

    net = L.VGG19Features()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(tmp_path / "vgg19.safetensors"))
    torch.save({k.removeprefix("features."): v for k, v in state.items()}, tmp_path / "vgg19.pth")
    for name in ("vgg19.safetensors", "vgg19.pth"):
        vgg = L.load_vgg19(tmp_path / name)
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        assert L.vgg_loss(vgg, x, x).item() == 0.0
        assert L.vgg_loss(vgg, x, -x).item() > 0.0
    save_file({"features.0.weight": torch.zeros(3)}, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(TrainerError, match="not a VGG19"):
        L.load_vgg19(tmp_path / "wrong.safetensors")
    with pytest.raises(TrainerError, match="not found"):
        L.load_vgg19(tmp_path / "missing.safetensors")


def test_gan_losses_prefer_the_right_answer():
    high, low = [torch.full((2, 1, 4, 4), 3.0)], [torch.full((2, 1, 4, 4), -3.0)]
    for mode in ("lsgan", "hinge", "bce"):
        assert L.discriminator_loss(high, low, mode) < L.discriminator_loss(low, high, mode)
        assert L.generator_gan_loss(high, mode) < L.generator_gan_loss(low, mode)


def test_pair_metrics_whole_and_person_region():
    from trainer.evaluate import pair_metrics

    target = torch.rand(1, 3, 32, 32)
    output = target.clone()
    region = torch.zeros(1, 1, 32, 32)
    region[..., 8:16, 8:16] = 1
    output[..., 8:16, 8:16] = (output[..., 8:16, 8:16] + 0.5).clamp(max=1.0)
    m = pair_metrics(output, target, region)
    err = (output - target).abs().mean(dim=1)
    assert m["l1"][0] == pytest.approx(err.mean().item(), rel=1e-5)
    assert m["l1_person"][0] == pytest.approx(err[..., 8:16, 8:16].mean().item(), rel=1e-5)
    assert m["l1_person"][0] > 10 * m["l1"][0] / 16 * 0.9
    assert m["ssim_person"][0] < m["ssim"][0] <= 1.0


def test_warp_only_moves_the_arm(standing_pose, arm_up_pose, person_photo):
    from poseeditor.geometry import crop_for_poses
    from trainer.baselines import warp_only

    crop = crop_for_poses(standing_pose, arm_up_pose, size=64)
    image = crop.cut(person_photo).astype(np.float32) / 255.0
    out = warp_only(image, crop.to_crop(standing_pose.xy), standing_pose.visible,
                    crop.to_crop(arm_up_pose.xy), arm_up_pose.visible)
    assert out["output"].shape == (64, 64, 3) and out["mask"].shape == (64, 64)
    wrist = np.round(crop.to_crop(arm_up_pose.xy)[4]).astype(int)
    same = warp_only(image, crop.to_crop(standing_pose.xy), standing_pose.visible,
                     crop.to_crop(standing_pose.xy), standing_pose.visible)
    assert out["mask"][wrist[1], wrist[0]] > 0.5  # the forearm is drawn at its new place
    assert same["mask"][wrist[1], wrist[0]] < 0.2  # where nothing is without the pose change
    person = same["mask"] > 0.99
    assert np.abs(same["output"] - image)[person].mean() < 0.02  # no pose change: the person stays put


@pytest.fixture(scope="module")
def eval_setup(tmp_path_factory):
    from trainer.config import config_from_dict
    from trainer.data.toy import write_toy_dataset
    from trainer.loop import train

    base = tmp_path_factory.mktemp("eval")
    write_toy_dataset(base / "toy", videos=4, frames=4, width=48, height=64)
    write_toy_dataset(base / "other", videos=1, frames=3, width=48, height=64, seed=5)
    common = {"data": {"train": [str(base / "toy")], "workers": 0, "held_out_fraction": 0.25},
              "train": {"batch_size": 2, "steps": 2, "hole_batch_size": 0, "threads": 1, "adversarial_start": 100},
              "log": {"progress": False, "sample_count": 1}}
    train(config_from_dict({"name": "m", "out_dir": str(base / "model"), "model": {"config": "tiny", "image_size": 32},
                            **common}))
    train(config_from_dict({"name": "u", "out_dir": str(base / "unet"),
                            "model": {"architecture": "unet", "config": "tiny", "image_size": 32}, **common}))
    return base


def test_eval_cli_table_and_json_schema(eval_setup, capsys):
    from trainer.cli import main

    base = eval_setup
    out_json = base / "eval.json"
    code = main(["eval", "--model", str(base / "model"), "--unet", str(base / "unet"), "--data", str(base / "toy"),
                 "--json", str(out_json), "--size", "64", "--quiet", "--sheet", str(base / "sheet.png")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "held-out videos of the training split" in printed and "| warp_only |" in printed
    result = json.loads(out_json.read_text())
    assert set(result) == {"pairs", "rows"}
    assert result["pairs"] == 12  # one held-out video of 4 frames: all 12 ordered pairs
    assert [r["method"] for r in result["rows"]] == ["identity", "warp_only", "unet", "model"]
    for row in result["rows"]:
        assert set(row) == {"method", "l1", "ssim", "l1_person", "ssim_person"}
        assert 0 <= row["l1"] <= 1 and -1 <= row["ssim"] <= 1
    assert (base / "sheet.png").is_file()


def test_eval_uses_every_video_of_a_dataset_never_trained_on(eval_setup):
    from trainer.evaluate import evaluate, load_model

    result = evaluate(eval_setup / "other", {"model": load_model(eval_setup / "model")}, size=32, progress=False)
    assert result.pairs == 6 and "never trained on" in result.settings["videos"]
    fixed = evaluate(eval_setup / "other", {"model": load_model(eval_setup / "model")}, pairs=2, size=32,
                     progress=False)
    assert fixed.pairs == 2


def test_eval_errors(eval_setup, tmp_path):
    from poseeditor.errors import PoseEditorError
    from trainer.cli import main
    from trainer.evaluate import load_model

    with pytest.raises(PoseEditorError):
        load_model(tmp_path)  # an empty folder: no model, no checkpoints
    assert main(["eval", "--model", str(eval_setup / "model"), "--data", str(tmp_path / "none")]) == 2
    assert main(["eval", "--model", str(eval_setup / "model"), "--data", str(eval_setup / "toy"), "--pairs", "0"]) == 2


def test_eval_drag_preview_row_is_the_model_at_the_drag_time_side(eval_setup):
    from trainer.evaluate import evaluate, load_model

    model = load_model(eval_setup / "model")
    result = evaluate(eval_setup / "other", {"model": model}, pairs=2, size=32, progress=False, drag_preview=True)
    rows = {r["method"]: r for r in result.rows}
    assert list(rows) == ["identity", "warp_only", "model", "model_drag"]
    assert rows["model_drag"]["l1"] != rows["model"]["l1"]  # a different render, scored on the same pairs
    assert 0 <= rows["model_drag"]["l1"] <= 1


def test_photo_eval_drag_preview_rows(random_model_dir, person_photo, standing_pose, arm_up_pose):
    from poseeditor.engine import load_engine
    from trainer.photo_eval import DRAG_ROWS, Frame, render_rows, source_layers

    engine = load_engine(str(random_model_dir), backend="onnx")
    person = np.zeros(person_photo.shape[:2], bool)
    person[40:260, 60:140] = True
    frame = Frame(person_photo, standing_pose, person, None)
    layers = source_layers(engine, frame)
    plain = render_rows(engine, frame, arm_up_pose, layers)
    rows = render_rows(engine, frame, arm_up_pose, layers, drag_preview=True)
    assert set(rows) == set(plain) | set(DRAG_ROWS)
    for name in DRAG_ROWS:
        assert rows[name].shape == person_photo.shape
    np.testing.assert_array_equal(rows["photo_true"], plain["photo_true"])  # the settled rows are unchanged
