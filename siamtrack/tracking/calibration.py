"""Crops for int8 calibration: exemplars and search pyramids cut exactly as the tracker cuts them.

Quantisation ranges are only as good as the inputs they were measured on, so the calibration set
is made of real frames and the crops the tracker would feed the backbone around their true boxes.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence, Union

import numpy as np

from siamtrack.config import TrackerConfig
from siamtrack.data.images import read_image
from siamtrack.tracking.geometry import context_size, crop_square


Frames = Sequence[Union[str, np.ndarray]]


def _frame(item: str | np.ndarray) -> np.ndarray:
    return item if isinstance(item, np.ndarray) else read_image(item)


def calibration_crops(sequences: Iterable[tuple[Frames, np.ndarray]], cfg: TrackerConfig,
                      frames_per_sequence: int = 3) -> Iterator[np.ndarray]:
    """Batches of uint8 crops from ``(frames, boxes)`` sequences: image files (e.g. a got10k
    dataset's) or decoded BGR frames, with one ``(x, y, w, h)`` box per frame.

    Per sequence: the first frame's exemplar, then for ``frames_per_sequence`` frames spread over the
    sequence the search pyramid at every search size the tracker uses, centred on the true box.
    """
    steps = np.arange(cfg.scale_num) - (cfg.scale_num - 1) / 2
    factors = cfg.scale_step ** steps
    for frames, boxes in sequences:
        boxes = np.asarray(boxes, dtype=np.float64)
        usable = np.flatnonzero((boxes[:, 2] > 1) & (boxes[:, 3] > 1))
        if usable.size == 0:
            continue
        first = _frame(frames[usable[0]])
        avg_color = first.reshape(-1, 3).mean(axis=0)
        center = boxes[usable[0], :2] + boxes[usable[0], 2:] / 2
        z_size = float(context_size(boxes[usable[0], 2:], cfg.context))
        yield crop_square(first, center, z_size, cfg.exemplar_size, avg_color)[None]
        for index in usable[np.linspace(0, usable.size - 1, frames_per_sequence).astype(int)]:
            frame = _frame(frames[index])
            center = boxes[index, :2] + boxes[index, 2:] / 2
            # Search crops have the exemplar's resolution: side = z_size * crop_size / exemplar_size.
            side_per_pixel = float(context_size(boxes[index, 2:], cfg.context)) / cfg.exemplar_size
            for size in cfg.search_sizes:
                yield np.stack([crop_square(frame, center, f * side_per_pixel * size, size, avg_color)
                                for f in factors])
