"""Training losses: SiamFC's balanced logistic loss, and the box head's focal + GIoU loss.

SiamFC's targets sit at the centre of every search crop, so its labels are a fixed disc; the box
head trains on shifted crops, so its labels come from each pair's box.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn
from torch.nn import functional as F

from siamtrack.config import Config
from siamtrack.models.siamese import SiameseNet


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

    def forward(self, logits: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of score maps ``(N, 1, H, W)`` whose target lies at the centre of every map (``boxes`` unused)."""
        labels = _labels_on(tuple(logits.shape[-2:]), self.radius_px, self.stride, logits.device)
        positives = labels.sum()
        weights = torch.where(labels > 0, 0.5 / positives, 0.5 / (labels.numel() - positives))
        weights = (weights / logits.shape[0]).expand_as(logits)
        return F.binary_cross_entropy_with_logits(logits.float(), labels.expand_as(logits), weights, reduction="sum")


def box_labels(positions: torch.Tensor, boxes: torch.Tensor, pos_ellipse: float) -> torch.Tensor:
    """Per cell: 1 (target centre), 0 (background) or -1 (ignored), for target ``boxes`` ``(N, 4)``.

    ``positions`` ``(n,)`` are the cells' pixel coordinates in the search crop along either axis.
    Cells inside the ellipse of ``pos_ellipse`` times the box's half-sides are positive, as is the
    cell nearest the box centre (small targets); the rest of the box's inscribed ellipse is ignored
    (neither clearly the centre nor background); everything else is negative. A NaN box (negative
    pair: the target is not in the crop) makes every cell negative.
    """
    cx, cy = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, None, None], ((boxes[:, 1] + boxes[:, 3]) / 2)[:, None, None]
    half_w = ((boxes[:, 2] - boxes[:, 0]) / 2).clamp(min=1)[:, None, None]
    half_h = ((boxes[:, 3] - boxes[:, 1]) / 2).clamp(min=1)[:, None, None]
    dx, dy = positions[None, None, :] - cx, positions[None, :, None] - cy
    radius = (dx / half_w) ** 2 + (dy / half_h) ** 2
    labels = torch.where(radius <= 1, -1.0, 0.0)
    labels = torch.where(radius <= pos_ellipse ** 2, 1.0, labels)
    present = torch.isfinite(boxes).all(1)
    nearest = (dx.abs() + dy.abs()).flatten(1)[present].argmin(1)
    labels.flatten(1)[torch.nonzero(present)[:, 0], nearest] = 1.0
    return labels


def box_overlaps(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(IoU, GIoU)`` of ``(x1, y1, x2, y2)`` boxes ``(..., 4)`` (Rezatofighi et al. 2019), elementwise."""
    area_p = (pred[..., 2] - pred[..., 0]) * (pred[..., 3] - pred[..., 1])
    area_t = (target[..., 2] - target[..., 0]) * (target[..., 3] - target[..., 1])
    inter_wh = (torch.minimum(pred[..., 2:], target[..., 2:]) - torch.maximum(pred[..., :2], target[..., :2])).clamp(min=0)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    union = area_p + area_t - inter
    hull_wh = torch.maximum(pred[..., 2:], target[..., 2:]) - torch.minimum(pred[..., :2], target[..., :2])
    hull = hull_wh[..., 0] * hull_wh[..., 1]
    iou = inter / union.clamp(min=1e-6)
    return iou, iou - (hull - union) / hull.clamp(min=1e-6)


class BoxLoss(nn.Module):
    """Sigmoid focal loss on the classification map (Lin et al. 2017) + GIoU loss on the boxes of positive
    cells; with a quality branch, also binary cross-entropy of its IoU logits against the IoU each positive
    cell's box actually has (as IoU-aware detectors and SiamFC++'s quality assessment).

    Args:
        positions: pixel coordinate of each map cell in the training search crop (either axis).
        pos_ellipse: see :func:`box_labels`.
        box_weight: weight of the GIoU term.
        alpha, gamma: focal-loss parameters (RetinaNet's values).
        quality_weight: weight of the IoU-prediction term (used when the logits have a second channel).
    """

    def __init__(self, positions: torch.Tensor, pos_ellipse: float = 0.5, box_weight: float = 2.0,
                 alpha: float = 0.25, gamma: float = 2.0, quality_weight: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("positions", torch.as_tensor(positions, dtype=torch.float32), persistent=False)
        self.pos_ellipse, self.box_weight, self.alpha, self.gamma = pos_ellipse, box_weight, alpha, gamma
        self.quality_weight = quality_weight

    def forward(self, output: tuple[torch.Tensor, torch.Tensor], boxes: torch.Tensor) -> torch.Tensor:
        """Loss of the head's ``(logits (N, 1 or 2, h, w), ltrb (N, 4, h, w))`` for target ``boxes`` ``(N, 4)``."""
        logits, ltrb = output[0][:, 0].float(), output[1].float()
        labels = box_labels(self.positions, boxes.float(), self.pos_ellipse)
        positive, counted = labels > 0, labels >= 0
        prob = torch.sigmoid(logits)
        ce = F.binary_cross_entropy_with_logits(logits, positive.float(), reduction="none")
        p_t = torch.where(positive, prob, 1 - prob)
        alpha_t = torch.where(positive, self.alpha, 1 - self.alpha)
        focal = (alpha_t * (1 - p_t) ** self.gamma * ce)[counted].sum()
        num_pos = positive.sum().clamp(min=1)
        px = self.positions[None, None, :].expand_as(logits)
        py = self.positions[None, :, None].expand_as(logits)
        pred = torch.stack([px - ltrb[:, 0], py - ltrb[:, 1], px + ltrb[:, 2], py + ltrb[:, 3]], dim=-1)
        target = boxes.float()[:, None, None, :].expand_as(pred)
        iou, giou = box_overlaps(pred[positive], target[positive])
        loss = focal + self.box_weight * (1 - giou).sum()
        if output[0].shape[1] > 1:
            quality = output[0][:, 1].float()[positive]
            loss = loss + self.quality_weight * F.binary_cross_entropy_with_logits(
                quality, iou.detach(), reduction="sum")
        return loss / num_pos


def build_loss(cfg: Config, net: SiameseNet) -> nn.Module:
    """The loss of ``cfg.model.head``: balanced logistic (xcorr) or focal + GIoU (box)."""
    if cfg.model.head == "box":
        offsets = net.cell_offsets(cfg.tracker.exemplar_size, cfg.data.search_size)
        return BoxLoss(torch.as_tensor(offsets + cfg.data.search_size / 2), cfg.train.pos_ellipse, cfg.train.box_weight,
                       quality_weight=cfg.train.quality_weight)
    return BalancedLoss(cfg.train.pos_radius, net.backbone.stride)
