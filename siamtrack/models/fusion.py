"""Inference-only rewrites of a trained network: BatchNorm folded into the convolution before it.

In eval mode a BatchNorm is a per-channel affine map, so ``bn(conv(x))`` equals one convolution with
rescaled weights and a shifted bias: one pass over the feature map instead of two, same outputs.
"""
from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` with every ``Conv2d -> BatchNorm2d`` pair fused into one conv.

    Pairs are found inside ``nn.Sequential`` containers (where the order of layers is the order of
    computation); the BatchNorm's place is taken by ``nn.Identity`` so that indices stay stable.
    The original module is left untouched.
    """
    folded = copy.deepcopy(module).eval()
    for sequential in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        layers = list(sequential.children())
        for i, (layer, following) in enumerate(zip(layers, layers[1:])):
            if isinstance(layer, nn.Conv2d) and isinstance(following, nn.BatchNorm2d):
                sequential[i] = fuse_conv_bn_eval(layer, following)
                sequential[i + 1] = nn.Identity()
    return folded

