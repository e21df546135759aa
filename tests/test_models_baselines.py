"""The single-U-Net baseline, the PatchGAN discriminator and the U-Net builder on tiny shapes."""

from __future__ import annotations

import pytest
import torch

from models.baselines import SingleUNet
from models.config import UNetConfig, get_config
from models.discriminator import DiscriminatorConfig, PatchDiscriminator
from models.unet import UNet

S = 64


def test_single_unet_output_and_pose_dependence() -> None:
    torch.manual_seed(0)
    model = SingleUNet(get_config("tiny")).eval()
    image = torch.rand(2, 3, S, S) * 2 - 1
    src, tgt = torch.rand(2, 14, S, S), torch.rand(2, 14, S, S)
    with torch.no_grad():
        out = model(image, src, tgt)
        moved = model(image, src, torch.roll(tgt, 7, dims=2))
    assert out.shape == (2, 3, S, S) and out.abs().max() <= 1.0
    assert not torch.allclose(out, moved)  # the target pose reaches the output
    with pytest.raises(ValueError, match="target_heatmaps must be"):
        model(image, src, tgt[:, :13])


def test_paper_single_unet_is_the_papers_baseline_shape() -> None:
    unet = get_config("paper").single_unet_config
    assert unet.widths == (64, 128, 256, 256, 256, 256) and unet.decoder_widths == (256, 256, 256, 128, 64)
    assert get_config("compact").single_unet_config == get_config("compact").foreground


@pytest.mark.parametrize("image_size, layers, grid", [(64, 2, 14), (128, 3, 14)])
def test_discriminator_patches_and_features(image_size: int, layers: int, grid: int) -> None:
    d = PatchDiscriminator(image_size=image_size)
    assert d.config.layers == layers
    logits, features = d(torch.rand(2, 3, image_size, image_size), torch.rand(2, 14, image_size, image_size))
    assert logits.shape == (2, 1, grid, grid)
    assert len(features) == layers + 1 and all(f.shape[0] == 2 for f in features)
    (logits.mean() + sum(f.mean() for f in features)).backward()
    assert all(p.grad is not None for p in d.parameters())


def test_discriminator_is_conditioned_on_the_pose() -> None:
    torch.manual_seed(0)
    d = PatchDiscriminator(DiscriminatorConfig(base_width=8, layers=2, norm="none")).eval()
    image, pose = torch.rand(1, 3, S, S), torch.rand(1, 14, S, S)
    with torch.no_grad():
        assert not torch.allclose(d(image, pose)[0], d(image, torch.roll(pose, 9, dims=3))[0])
    with pytest.raises(ValueError, match="must share"):
        d(image, pose[:, :, :32])
    assert DiscriminatorConfig.from_dict(DiscriminatorConfig().to_dict()) == DiscriminatorConfig()


@pytest.mark.parametrize(
    "config",
    [
        UNetConfig(widths=(4, 8, 8), decoder_widths=(8, 6), stem_kernel=3, condition_level=1),
        UNetConfig(widths=(4, 8, 8), decoder_widths=(8, 6), stem_kernel=3, stem_stride=2, refine_width=5,
                   condition_level=0, separable_levels=3, refine="separable"),
        UNetConfig(widths=(4, 8, 8), decoder_widths=(8, 6), stem_kernel=3, stem_stride=2, refine_width=5,
                   condition_level=0, separable_levels=1, refine="project"),
        UNetConfig(widths=(4, 8, 8, 12), decoder_widths=(8, 8, 6), stem_kernel=5, convs_per_level=2, condition_level=2),
    ],
)  # fmt: skip
@pytest.mark.parametrize("norm", ["none", "batch", "instance"])
def test_unet_keeps_resolution_and_uses_the_condition(config: UNetConfig, norm: str) -> None:
    torch.manual_seed(0)
    net = UNet(5, 14, config, norm=norm).eval()
    x, cond = torch.rand(1, 5, 32, 32), torch.rand(1, 14, 32, 32)
    with torch.no_grad():
        y = net(x, cond)
        y_moved = net(x, torch.roll(cond, 8, dims=3))
    assert y.shape == (1, net.out_channels, 32, 32) and net.out_channels == config.out_width
    assert not torch.allclose(y, y_moved)


def test_mac_count_matches_hand_computation() -> None:
    from benchmarks.generator_cost import count_macs

    conv = torch.nn.Sequential(
        torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6)
    )
    # 16²·6 outputs × 3·3·4 + 8²·6 outputs × 3·3·1 (depthwise)
    assert count_macs(conv, (torch.zeros(2, 4, 16, 16),)) == 16 * 16 * 6 * 36 + 8 * 8 * 6 * 9
