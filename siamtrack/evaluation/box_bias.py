"""How far a box head's sides are from the truth, measured where the tracker's size is right.

Per sequence the first usable frame gives the exemplar; on frames spread over the sequence the
search crop is cut around the true box exactly as the tracker would cut it, and the box of the cell
the tracker would prefer (highest probability x predicted IoU) is compared with the true one. The
medians of ``log(predicted / true)`` per side are what ``tracker.box_scale`` cancels: a head trained
with an IoU loss hedges towards boxes a few per cent too large, and in the loop the excess feeds
back (a larger box, a larger crop, a smaller-looking target).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from siamtrack.config import TrackerConfig
from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError
from siamtrack.models.heads import DepthwiseBoxHead
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.geometry import context_size, crop_square


@dataclass(frozen=True)
class BoxBias:
    """Medians over frames of ``log(predicted / true)`` for the width and height, and the frame count."""

    log_width: float
    log_height: float
    frames: int

    @property
    def box_scale(self) -> float:
        """The ``tracker.box_scale`` that cancels the bias (the mean of both sides' medians)."""
        return float(np.exp(-(self.log_width + self.log_height) / 2))


def _crop(image: np.ndarray, box: np.ndarray, side: float, size: int) -> torch.Tensor:
    crop = crop_square(image, box[:2] + box[2:] / 2, side, size, image.reshape(-1, 3).mean(axis=0))
    return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float()[None]


@torch.no_grad()
def box_bias(net: SiameseNet, cfg: TrackerConfig, sequences: Iterable[tuple[Sequence[str], np.ndarray]],
             frames_per_sequence: int = 20) -> BoxBias:
    """The raw head's size bias (``tracker.box_scale`` not applied) on ``(frame paths, boxes)`` sequences."""
    if not isinstance(net.head, DepthwiseBoxHead):
        raise SiamtrackError("the box bias is measured for a box head (model.head 'box')")
    ratios = []
    for frames, boxes in sequences:
        boxes = np.asarray(boxes, dtype=np.float64)
        usable = np.flatnonzero(np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 1) & (boxes[:, 3] > 1))
        if usable.size < 2:
            continue
        first = usable[0]
        kernel = net.embed(_crop(read_image(frames[first]), boxes[first],
                                 float(context_size(boxes[first, 2:], cfg.context)), cfg.exemplar_size))
        for index in np.unique(np.linspace(1, usable.size - 1, frames_per_sequence).astype(int)):
            box = boxes[usable[index]]
            side = float(context_size(box[2:], cfg.context)) * cfg.instance_size / cfg.exemplar_size
            logits, ltrb = net.score(kernel, net.embed(_crop(read_image(frames[usable[index]]), box, side,
                                                             cfg.instance_size)))
            preference = torch.sigmoid(logits[0]).prod(0).flatten()
            cell = int(preference.argmax())
            left, top, right, bottom = (ltrb[0, k].flatten()[cell].item() for k in range(4))
            per_pixel = side / cfg.instance_size
            ratios.append((np.log((left + right) * per_pixel / box[2]), np.log((top + bottom) * per_pixel / box[3])))
    if not ratios:
        raise SiamtrackError("no sequence with at least two usable boxes to measure the box bias on")
    log_w, log_h = np.median(np.asarray(ratios), axis=0)
    return BoxBias(float(log_w), float(log_h), len(ratios))
