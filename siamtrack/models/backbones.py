"""Feature extractors for the Siamese network, chosen by name from the config.

SiamFC's backbones (AlexNet, the parameter-free pixels) are fully convolutional with no padding
and a total stride of 8, so a 127x127 exemplar and a 255x255 search image give feature maps whose
cross-correlation is 17x17. ``efficientnet_lite0`` (ImageNet-pretrained, stride 16, SAME padding)
feeds the box head; it lives in :mod:`siamtrack.models.efficientnet`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from siamtrack.errors import SiamtrackError
from siamtrack.models.efficientnet import EfficientNetLite0


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, groups=groups),
            nn.BatchNorm2d(cout, eps=1e-6, momentum=0.05),
            nn.ReLU(inplace=True)]


class AlexNet(nn.Module):
    """SiamFC's AlexNet with BatchNorm (siamfc-pytorch's ``AlexNetV1``).

    127x127 -> 6x6x256 and 255x255 -> 22x22x256; BN+ReLU after conv1-4, nothing after conv5.

    Args:
        width: channel multiplier; 1.0 is the paper's network, smaller values give lighter variants.
    """

    stride = 8

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (int(round(c * width)) for c in (96, 256, 384, 384, 256))
        self.features = nn.Sequential(
            *_conv_bn_relu(3, c1, 11, stride=2),
            nn.MaxPool2d(3, 2),
            *_conv_bn_relu(c1, c2, 5, groups=2),
            nn.MaxPool2d(3, 2),
            *_conv_bn_relu(c2, c3, 3),
            *_conv_bn_relu(c3, c4, 3, groups=2),
            nn.Conv2d(c4, c5, 3, groups=2),
        )
        self.out_channels = c5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of BGR images (float, 0-255, NCHW)."""
        return self.features(x)


class PixelEmbedding(nn.Module):
    """Parameter-free embedding: 8x8 mean-pooled pixels minus their mean.

    With it the tracker loop becomes a plain template matcher (no learning involved), which makes
    tests of the loop's geometry meaningful without trained weights. 127 -> 15x15, 255 -> 31x31,
    so the score map is still 17x17 with stride 8.
    """

    stride = 8
    out_channels = 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, 8, 8)
        return pooled - pooled.mean(dim=(2, 3), keepdim=True)


BACKBONES: dict[str, Callable[[], nn.Module]] = {
    "alexnet": AlexNet,
    "alexnet_half": lambda: AlexNet(width=0.5),
    "pixels": PixelEmbedding,
    "efficientnet_lite0": EfficientNetLite0,
}


def build_backbone(name: str) -> nn.Module:
    """Instantiate the backbone registered under ``name``."""
    if name not in BACKBONES:
        raise SiamtrackError(f"unknown backbone '{name}' (known: {', '.join(BACKBONES)})")
    return BACKBONES[name]()
