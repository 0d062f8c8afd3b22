"""SiamFC's loss: balanced logistic loss against a disc of positives at the score map's centre."""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn
from torch.nn import functional as F


@lru_cache(maxsize=8)
def _labels_on(size: tuple[int, int], radius_px: float, stride: int, device: torch.device) -> torch.Tensor:
    """:func:`logistic_labels` made once per map size and device."""
    return logistic_labels(size, radius_px, stride).to(device)


def logistic_labels(size: tuple[int, int], radius_px: float, stride: int) -> torch.Tensor:
    """``size`` (h, w) map: 1 where the cell's L1 distance to the centre is within ``radius_px``, else 0.

    As siamfc-pytorch (``r_pos = 16`` px at stride 8: the 13 cells around the centre).
    """
    height, width = size
    y = torch.arange(height, dtype=torch.float32) - (height - 1) / 2
    x = torch.arange(width, dtype=torch.float32) - (width - 1) / 2
    distance = y[:, None].abs() + x[None, :].abs()
    return (distance <= radius_px / stride).float()


class BalancedLoss(nn.Module):
    """Binary cross-entropy whose positives and negatives weigh half each (siamfc-pytorch's BalancedLoss).

    Args:
        radius_px: positives lie within this many search-image pixels of the centre.
        stride: pixels of the search image per score-map cell.
    """

    def __init__(self, radius_px: float = 16.0, stride: int = 8) -> None:
        super().__init__()
        self.radius_px = radius_px
        self.stride = stride

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Loss of score maps ``(N, 1, H, W)`` whose target lies at the centre of every map."""
        labels = _labels_on(tuple(logits.shape[-2:]), self.radius_px, self.stride, logits.device)
        positives = labels.sum()
        weights = torch.where(labels > 0, 0.5 / positives, 0.5 / (labels.numel() - positives))
        weights = (weights / logits.shape[0]).expand_as(logits)
        return F.binary_cross_entropy_with_logits(logits.float(), labels.expand_as(logits), weights, reduction="sum")
