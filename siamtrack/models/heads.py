"""Correlation heads: SiamFC's cross-correlation score map, and depthwise correlation with a box head."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def correlate(kernels: torch.Tensor, x: torch.Tensor, depthwise: bool = False) -> torch.Tensor:
    """Every exemplar's kernel slid over its search maps, the whole batch in one grouped ``conv2d``.

    ``x`` holds ``k`` search maps per exemplar, ordered ``(k, nz)``: map ``i * nz + j`` is scored
    against kernel ``j``. Plain: one map per search map ``(nx, 1, h, w)``; depthwise: one per channel
    ``(nx, C, h, w)``, each kernel channel against the same search channel.
    """
    nz, channels = kernels.shape[:2]
    nx, _, height, width = x.shape
    if nx % nz:
        raise ValueError(f"{nx} search maps cannot be split evenly over {nz} exemplars")
    batched = x.reshape(nx // nz, nz * channels, height, width)
    if depthwise:
        out = F.conv2d(batched, kernels.reshape(nz * channels, 1, *kernels.shape[-2:]), groups=nz * channels)
        return out.reshape(nx, channels, *out.shape[-2:])
    out = F.conv2d(batched, kernels, groups=nz)
    return out.reshape(nx, 1, *out.shape[-2:])


class XCorrHead(nn.Module):
    """Score maps ``out_scale * (z ⋆ x) + bias`` for a batch of exemplars and search maps.

    ``x`` holds ``k`` search maps per exemplar, ordered ``(k, nz)`` (see :func:`correlate`).

    Args:
        out_scale: SiamFC's 0.001 keeps the initial logits in the sigmoid's useful range.
    """

    def __init__(self, out_scale: float = 0.001) -> None:
        super().__init__()
        self.out_scale = out_scale
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return correlate(z, x) * self.out_scale + self.bias


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DepthwiseBoxHead(nn.Module):
    """Depthwise correlation, then a classification map and a box map (SiamRPN++ / SiamFC++ style).

    Exemplar and search features go through a shared 1x1 neck; only the ``template_cells`` x
    ``template_cells`` centre of the exemplar features (around cell ``(n - 1) // 2`` of ``n``) is kept
    as the kernel (SiamRPN++'s crop), so
    the padded border of the exemplar crop does not leak into it. Each channel of the kernel is
    correlated with the same channel of the search features (one grouped conv over the whole
    batch), then two small towers give per cell the target-centre logit and the distances
    ``(l, t, r, b)`` from the cell's position to the box sides, in search-crop pixels (FCOS).
    With ``quality``, the box tower also gives a second logit channel: the predicted IoU of the
    cell's box (SiamFC++'s quality assessment), which the tracker multiplies into the cell choice
    so that the cell whose box fits best is read off, not only the most target-like one.

    ``x`` holds ``k`` search maps per exemplar, ordered ``(k, nz)`` as in :class:`XCorrHead`.

    Args:
        in_channels: channels of the backbone's features.
        channels: width of the neck and towers.
        template_cells: side of the exemplar-feature centre used as the kernel.
        stride: search-crop pixels per feature cell (the box distances are multiples of it).
        quality: add the IoU-prediction branch (logits then have two channels: centre, IoU).
    """

    def __init__(self, in_channels: int, channels: int = 96, template_cells: int = 5, stride: int = 16,
                 quality: bool = False) -> None:
        super().__init__()
        self.template_cells, self.stride = template_cells, stride
        self.neck = nn.Sequential(nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.cls_tower = nn.Sequential(*_conv_bn_relu(channels, channels), *_conv_bn_relu(channels, channels))
        self.box_tower = nn.Sequential(*_conv_bn_relu(channels, channels), *_conv_bn_relu(channels, channels))
        self.cls = nn.Conv2d(channels, 1, 3, padding=1)
        self.box = nn.Conv2d(channels, 4, 3, padding=1)
        self.quality = nn.Conv2d(channels, 1, 3, padding=1) if quality else None
        # Start at a low target probability (focal-loss prior) and boxes of about 2 x 2 cells.
        nn.init.constant_(self.cls.bias, -math.log(99.0))
        nn.init.zeros_(self.box.weight)
        nn.init.zeros_(self.box.bias)

    def kernel(self, z: torch.Tensor) -> torch.Tensor:
        """The correlation kernels of exemplar features: neck, then the centre crop."""
        start = (z.shape[-1] - 1) // 2 - self.template_cells // 2
        if start < 0 or start + self.template_cells > z.shape[-1]:
            raise ValueError(f"a {self.template_cells}-cell kernel does not fit {z.shape[-1]}x{z.shape[-1]} exemplar features")
        return self.neck(z)[..., start:start + self.template_cells, start:start + self.template_cells]

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (N, 1 or 2, h, w), ltrb (N, 4, h, w))`` for search features ``x`` against exemplars
        ``z``: centre logits (and IoU logits with ``quality``), box distances."""
        corr = correlate(self.kernel(z), self.neck(x), depthwise=True)
        logits = self.cls(self.cls_tower(corr))
        box_features = self.box_tower(corr)
        ltrb = self.stride * 2 * torch.exp(self.box(box_features).clamp(max=6.0))
        if self.quality is not None:
            logits = torch.cat([logits, self.quality(box_features)], dim=1)
        return logits, ltrb
