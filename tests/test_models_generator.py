"""The four-module generator on a tiny config: shapes, ranges, the prior, the warp against cv2, the stages."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from models.config import get_config
from models.generator import PoseWarpGenerator, SourceStage, TargetStage
from poseeditor.geometry import limb_transforms
from poseeditor.priors import segmentation_prior

S = 64


def random_inputs(n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    prior = torch.rand(n, 11, S, S, generator=g) + 0.01
    angle = torch.rand(n, 10, generator=g) - 0.5
    scale = 0.8 + 0.4 * torch.rand(n, 10, generator=g)
    shift = (torch.rand(n, 10, 2, generator=g) - 0.5) * 10
    transforms = torch.zeros(n, 10, 2, 3)
    transforms[..., 0, 0] = scale * torch.cos(angle)
    transforms[..., 0, 1] = -scale * torch.sin(angle)
    transforms[..., 1, 0] = scale * torch.sin(angle)
    transforms[..., 1, 1] = scale * torch.cos(angle)
    transforms[..., :, 2] = shift
    return {
        "image": torch.rand(n, 3, S, S, generator=g) * 2 - 1,
        "source_heatmaps": torch.rand(n, 14, S, S, generator=g),
        "target_heatmaps": torch.rand(n, 14, S, S, generator=g),
        "prior": prior / prior.sum(1, keepdim=True),
        "transforms": transforms,
    }


@pytest.fixture(scope="module")
def generator() -> PoseWarpGenerator:
    torch.manual_seed(0)
    return PoseWarpGenerator(get_config("tiny")).eval()


def test_forward_shapes_and_ranges(generator: PoseWarpGenerator) -> None:
    with torch.no_grad():
        out = generator(**random_inputs())
    shapes = {"part_logits": 11, "part_masks": 11, "background": 3, "warped_layers": 30, "warped_masks": 10, "foreground": 3,
              "mask": 1, "output": 3}  # fmt: skip
    assert set(out) == set(shapes)
    for name, channels in shapes.items():
        assert out[name].shape == (2, channels, S, S), name
        assert torch.isfinite(out[name]).all(), name
    assert torch.allclose(out["part_masks"].sum(1), torch.ones(2, S, S), atol=1e-5)
    for name in ("background", "foreground", "output"):
        assert out[name].abs().max() <= 1.0
    assert 0.0 <= out["mask"].min() and out["mask"].max() <= 1.0
    expected = out["mask"] * out["foreground"] + (1 - out["mask"]) * out["background"]
    assert torch.allclose(out["output"], expected, atol=1e-6)


def test_zero_logits_give_back_the_prior(generator: PoseWarpGenerator) -> None:
    """masks = softmax(logits + log prior): with the head zeroed, the masks are the (normalised) prior itself."""
    inputs = random_inputs()
    head = generator.segmentation_head
    saved = (head.weight.detach().clone(), head.bias.detach().clone())
    try:
        with torch.no_grad():
            head.weight.zero_()
            head.bias.zero_()
            logits, masks = generator.segment(inputs["image"], inputs["source_heatmaps"], inputs["prior"])
        assert torch.count_nonzero(logits) == 0
        assert torch.allclose(masks, inputs["prior"], atol=1e-5)
    finally:
        with torch.no_grad():
            head.weight.copy_(saved[0])
            head.bias.copy_(saved[1])


def test_zero_prior_stays_finite(generator: PoseWarpGenerator) -> None:
    inputs = random_inputs()
    prior = torch.zeros_like(inputs["prior"])
    prior[:, 0] = 1.0
    with torch.no_grad():
        _, masks = generator.segment(inputs["image"], inputs["source_heatmaps"], prior)
    assert torch.isfinite(masks).all()
    assert masks[:, 0].min() > 0.99  # a (near) zero prior is overruled only by huge logits


def _smooth_image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(-1, 1, (S, S, 3)).astype(np.float32), (0, 0), 2.0) * 3


def test_warp_matches_cv2_warp_affine_inverse_map() -> None:
    image = _smooth_image(1)
    masks = np.random.default_rng(2).uniform(0.1, 1, (11, S, S)).astype(np.float32)
    masks /= masks.sum(0, keepdims=True)
    source_xy = np.random.default_rng(3).uniform(12, 52, (14, 2))
    target_xy = source_xy + np.random.default_rng(4).normal(0, 6, (14, 2))
    transforms = limb_transforms(source_xy, target_xy)  # (10, 2, 3) target pixel -> source pixel
    warped = PoseWarpGenerator.warp(
        torch.from_numpy(image.transpose(2, 0, 1))[None],
        torch.from_numpy(masks)[None],
        torch.from_numpy(transforms).float()[None],
    )[0].numpy()
    for limb in range(10):
        layer = image * masks[limb + 1][:, :, None]
        reference = cv2.warpAffine(
            layer, transforms[limb], (S, S), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )  # fmt: skip
        ours = warped[3 * limb : 3 * limb + 3].transpose(1, 2, 0)
        # cv2 quantises sample positions to 1/32 px; on this smooth image that is a few hundredths at most
        assert np.abs(ours - reference).max() < 0.03, limb
        assert np.abs(ours - reference).mean() < 0.003, limb
        # and the comparison can fail: the forward map (a common mistake) is far off
        forward = cv2.warpAffine(layer, transforms[limb], (S, S), flags=cv2.INTER_LINEAR)
        if np.abs(transforms[limb] - np.eye(2, 3)).max() > 0.05:
            assert np.abs(ours - forward).max() > 0.05, limb


def test_warp_integer_shift_is_exact_with_zeros_outside() -> None:
    image = torch.from_numpy(_smooth_image(5).transpose(2, 0, 1))[None]
    masks = torch.zeros(1, 11, S, S)
    masks[:, 1:] = 0.1
    transforms = torch.zeros(1, 10, 2, 3)
    transforms[:, :, 0, 0] = transforms[:, :, 1, 1] = 1.0
    transforms[:, :, 0, 2] = 3.0  # target (x, y) samples source (x + 3, y)
    warped = PoseWarpGenerator.warp(image, masks, transforms)
    layer = image[0] * 0.1
    assert torch.allclose(warped[0, :3, :, : S - 3], layer[:, :, 3:], atol=1e-6)
    assert torch.count_nonzero(warped[0, :3, :, S - 3 + 1 :]) == 0  # sampled from outside the image: zeros


def test_warp_rejects_wrong_transform_shapes() -> None:
    with pytest.raises(ValueError, match="transforms must be"):
        PoseWarpGenerator.warp(torch.zeros(1, 3, S, S), torch.zeros(1, 11, S, S), torch.zeros(1, 11, 2, 3))


def test_stages_reproduce_forward(generator: PoseWarpGenerator) -> None:
    inputs = random_inputs(n=1, seed=7)
    with torch.no_grad():
        full = generator(**inputs)
        part_masks, background = SourceStage(generator)(inputs["image"], inputs["source_heatmaps"], inputs["prior"])
        warped = generator.warp(inputs["image"], part_masks, inputs["transforms"])
        foreground, mask, output = TargetStage(generator)(warped, inputs["target_heatmaps"], background)
    for name, value in [("part_masks", part_masks), ("background", background), ("warped_layers", warped),
                        ("foreground", foreground), ("mask", mask), ("output", output)]:  # fmt: skip
        assert torch.allclose(value, full[name], atol=1e-6), name


def test_target_pose_changes_only_the_target_stage(generator: PoseWarpGenerator) -> None:
    a = random_inputs(n=1, seed=8)
    b = dict(a, target_heatmaps=torch.roll(a["target_heatmaps"], 5, dims=3))
    with torch.no_grad():
        out_a, out_b = generator(**a), generator(**b)
    assert torch.equal(out_a["part_masks"], out_b["part_masks"])
    assert torch.equal(out_a["background"], out_b["background"])
    assert not torch.allclose(out_a["output"], out_b["output"])


def test_every_module_gets_gradients() -> None:
    torch.manual_seed(1)
    generator = PoseWarpGenerator(get_config("tiny")).train()
    out = generator(**random_inputs(n=2, seed=9))
    loss = out["output"].abs().mean() + out["part_logits"].square().mean()
    loss.backward()
    for name, p in generator.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_prior_from_poseeditor_runs_through(generator: PoseWarpGenerator) -> None:
    xy = np.random.default_rng(10).uniform(10, 54, (14, 2))
    prior = torch.from_numpy(segmentation_prior(xy, np.ones(14, bool), S))[None]
    inputs = random_inputs(n=1)
    with torch.no_grad():
        _, masks = generator.segment(inputs["image"], inputs["source_heatmaps"], prior)
    assert masks.shape == (1, 11, S, S) and torch.isfinite(masks).all()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"prior": torch.zeros(1, 10, S, S)}, "prior must be"),
        ({"source_heatmaps": torch.zeros(1, 13, S, S)}, "source_heatmaps must be"),
        ({"image": torch.zeros(1, 3, 44, 44), "source_heatmaps": torch.zeros(1, 14, 44, 44),
              "target_heatmaps": torch.zeros(1, 14, 44, 44), "prior": torch.zeros(1, 11, 44, 44)}, "divisible by 8"),
    ],
)  # fmt: skip
def test_bad_inputs_are_named(generator: PoseWarpGenerator, change: dict, message: str) -> None:
    inputs = {**random_inputs(n=1), **change}
    with pytest.raises(ValueError, match=message):
        generator(**inputs)


@pytest.mark.parametrize("name", ["compact", "paper"])
def test_named_configs_build_and_run(name: str) -> None:
    """The shipped shapes themselves (at 64² to stay fast; every config is fully convolutional)."""
    torch.manual_seed(0)
    generator = PoseWarpGenerator(get_config(name, S)).eval()
    with torch.no_grad():
        out = generator(**random_inputs(n=1))
    assert out["output"].shape == (1, 3, S, S) and torch.isfinite(out["output"]).all()
    assert torch.allclose(out["part_masks"].sum(1), torch.ones(1, S, S), atol=1e-5)


def test_select_foreground_passes_a_chosen_layer_or_the_composite_through_exactly() -> None:
    """'select' mode: where the selection logits favour one warped layer, the foreground is that layer's own
    colour (un-premultiplied: sharp, full intensity even where its mask is partial); the composite is
    Σ layers / Σ masks; the generated RGB is tanh(rgb)."""
    from dataclasses import replace

    torch.manual_seed(0)
    gen = PoseWarpGenerator(replace(get_config("tiny"), foreground_mode="select")).eval()
    assert gen.foreground_head.out_channels == 4 + 12
    colour = torch.rand(1, 10, 3, 64, 64) * 2 - 1
    masks = torch.rand(1, 10, 64, 64) * 0.5 + 0.25
    layers = (colour * masks[:, :, None]).reshape(1, 30, 64, 64)
    heat, bg = torch.rand(1, 14, 64, 64), torch.zeros(1, 3, 64, 64)

    def pick(channel: int, extra: dict[int, float] | None = None) -> torch.Tensor:
        with torch.no_grad():
            gen.foreground_head.weight.zero_()
            gen.foreground_head.bias.zero_()
            gen.foreground_head.bias[channel] = 50.0
            for c, v in (extra or {}).items():
                gen.foreground_head.bias[c] = v
            return gen.synthesize(layers, heat, bg, masks)[0]

    assert torch.allclose(pick(4 + 6), colour[:, 6], atol=1e-4)  # limb 6's own colour
    composite = (colour * masks[:, :, None]).sum(1) / masks.sum(1, keepdim=True)
    assert torch.allclose(pick(4 + 10), composite.clamp(-1, 1), atol=1e-4)
    fg = pick(4 + 11, {2: 1.0})  # the generated RGB: blue channel's bias 1
    assert torch.allclose(fg[:, 2], torch.full_like(fg[:, 2], float(np.tanh(1.0))), atol=1e-5)
    with pytest.raises(ValueError, match="warped masks"):
        gen.synthesize(layers, heat, bg)


def test_select_mode_starts_at_the_composite_and_trains_every_module() -> None:
    from dataclasses import replace

    torch.manual_seed(0)
    gen = PoseWarpGenerator(replace(get_config("tiny"), foreground_mode="select"))
    weights = torch.softmax(gen.foreground_head.bias[4:].detach(), 0)
    assert 0.8 < float(weights[-2]) < 0.85 and torch.allclose(weights[:-2], weights[-1].expand(10))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    hs, ht = torch.rand(2, 14, 64, 64), torch.rand(2, 14, 64, 64)
    prior = torch.softmax(torch.rand(2, 11, 64, 64), 1)
    transforms = torch.tensor([[1.0, 0, 2], [0, 1, -1]]).expand(2, 10, 2, 3).contiguous()
    out = gen(x, hs, ht, prior, transforms)
    assert out["warped_masks"].shape == (2, 10, 64, 64)
    out["output"].abs().mean().backward()
    assert gen.foreground_head.weight.grad[4:].abs().sum() > 0
    assert gen.segmentation_head.weight.grad.abs().sum() > 0


def test_warped_masks_match_the_engine_warp() -> None:
    """The training warp (grid_sample) and the editor's (cv2, planar) move layers and masks alike."""
    from poseeditor.engine.warp import premultiplied_layers, warp_layers

    torch.manual_seed(1)
    image = torch.rand(1, 3, 48, 48) * 2 - 1
    masks = torch.softmax(torch.rand(1, 11, 48, 48) * 4, 1)
    theta = np.array([[0.9, -0.1, 3.0], [0.12, 1.05, -2.0]], dtype=np.float32)
    transforms = torch.from_numpy(np.tile(theta, (1, 10, 1, 1)))
    layers_t, masks_t = PoseWarpGenerator.warp_with_masks(image, masks, transforms)
    layers_c, masks_c = warp_layers(premultiplied_layers(image[0].numpy(), masks[0].numpy()), transforms[0].numpy())
    inner = (slice(None), slice(4, -4), slice(4, -4))
    assert np.abs(masks_t[0].numpy()[inner] - masks_c[inner]).max() < 1e-3
    assert np.abs(layers_t[0].numpy().reshape(10, 3, 48, 48)[:, :, 4:-4, 4:-4] - layers_c[:, :, 4:-4, 4:-4]).max() < 1e-3


def test_channel_softmax_is_softmax_over_channels() -> None:
    from models.generator import channel_softmax

    logits = torch.randn(2, 12, 5, 7) * 30
    assert torch.allclose(channel_softmax(logits), torch.softmax(logits, dim=1), atol=1e-6)


def test_networks_start_from_the_papers_initialisation() -> None:
    """Glorot-uniform convolutions with zero biases (the paper's Keras defaults), not the framework's default;
    the "select" head then restarts at "mostly the composite"."""
    import math

    from models.baselines import SingleUNet
    from models.discriminator import PatchDiscriminator

    config = replace(get_config("tiny", 32), foreground_mode="select")
    for network in (PoseWarpGenerator(config), SingleUNet(config), PatchDiscriminator(image_size=32)):
        for name, m in network.named_modules():
            if not isinstance(m, torch.nn.Conv2d):
                continue
            fan_in = m.weight[0].numel()
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert float(m.weight.detach().abs().max()) <= bound + 1e-6, name
            if m.bias is not None and not name.startswith("foreground_head"):
                assert not m.bias.any(), name
    head = PoseWarpGenerator(config).foreground_head
    assert not head.bias[:4].any() and float(head.bias[-2].detach()) == 4.0
