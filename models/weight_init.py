"""How every network here starts: the paper's code's initialisation, written out rather than left to the
framework's default (which differs between frameworks and has changed between PyTorch versions).

balakg/posewarp-cvpr2018 builds its layers in Keras with the defaults: Glorot-uniform kernels and zero biases. We
do the same for every convolution; normalisation layers start as the identity (weight 1, bias 0). Heads that need
a particular start (the "select" logits) set it after this.
"""

from __future__ import annotations

from torch import nn

NORM_TYPES = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)


def init_weights(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every convolution in `module`; identity normalisation."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, NORM_TYPES) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
