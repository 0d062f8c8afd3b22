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

import cv2
import numpy as np
import torch

from siamtrack.config import TrackerConfig
from siamtrack.data.images import read_image
from siamtrack.data.transforms import PairTransform, to_chw
from siamtrack.errors import SiamtrackError
from siamtrack.models.heads import DepthwiseBoxHead
from siamtrack.models.siamese import SiameseNet


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


@torch.no_grad()
def box_bias(net: SiameseNet, cfg: TrackerConfig, sequences: Iterable[tuple[Sequence[str], np.ndarray]],
             frames_per_sequence: int = 20) -> BoxBias:
    """The raw head's size bias (``tracker.box_scale`` not applied) on ``(frame paths, boxes)`` sequences."""
    if not isinstance(net.head, DepthwiseBoxHead):
        raise SiamtrackError("the box bias is measured for a box head (model.head 'box')")
    crops = PairTransform(cfg.exemplar_size, cfg.instance_size, cfg.context)

    def crop(path: str, box: np.ndarray, size: int) -> tuple[torch.Tensor, np.ndarray]:
        """The tracker's crop around the true box (no stretch, no shift), and the box in it."""
        image, in_crop = crops.crop(read_image(path), box, size, 1.0, np.zeros(2), cv2.INTER_LINEAR)
        return to_chw(image).float()[None], in_crop

    ratios = []
    for frames, boxes in sequences:
        boxes = np.asarray(boxes, dtype=np.float64)
        usable = np.flatnonzero(np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 1) & (boxes[:, 3] > 1))
        if usable.size < 2:
            continue
        kernel = net.embed(crop(frames[usable[0]], boxes[usable[0]], cfg.exemplar_size)[0])
        for index in np.unique(np.linspace(1, usable.size - 1, frames_per_sequence).astype(int)):
            search, truth = crop(frames[usable[index]], boxes[usable[index]], cfg.instance_size)
            logits, ltrb = net.score(kernel, net.embed(search))
            cell = int(torch.sigmoid(logits[0]).prod(0).argmax())  # probability x predicted IoU
            left, top, right, bottom = ltrb[0].flatten(1)[:, cell].tolist()
            true_w, true_h = truth[2:] - truth[:2]
            ratios.append((np.log((left + right) / true_w), np.log((top + bottom) / true_h)))
    if not ratios:
        raise SiamtrackError("no sequence with at least two usable boxes to measure the box bias on")
    log_w, log_h = np.median(np.asarray(ratios), axis=0)
    return BoxBias(float(log_w), float(log_h), len(ratios))
