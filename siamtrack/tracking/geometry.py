"""Crops, box conversions and the cosine window: the geometry shared by tracking and training.

Conventions: boxes are ``(x, y, w, h)`` in pixels, 0-based, covering ``[x, x + w) x [y, y + h)``;
centres are continuous coordinates (pixel ``i`` spans ``[i, i + 1)``, its centre is ``i + 0.5``).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def xywh_to_cxcywh(box: Sequence[float] | np.ndarray) -> np.ndarray:
    """``(x, y, w, h)`` -> ``(cx, cy, w, h)``; works on one box or an ``(N, 4)`` array."""
    box = np.asarray(box, dtype=np.float64)
    return np.concatenate([box[..., :2] + box[..., 2:] / 2, box[..., 2:]], axis=-1)


def cxcywh_to_xywh(box: Sequence[float] | np.ndarray) -> np.ndarray:
    """``(cx, cy, w, h)`` -> ``(x, y, w, h)``; works on one box or an ``(N, 4)`` array."""
    box = np.asarray(box, dtype=np.float64)
    return np.concatenate([box[..., :2] - box[..., 2:] / 2, box[..., 2:]], axis=-1)


def context_size(wh: np.ndarray, context: float) -> np.ndarray:
    """Side of the square exemplar region: ``sqrt((w + p)(h + p))`` with ``p = context * (w + h)``."""
    wh = np.asarray(wh, dtype=np.float64)
    pad = context * wh.sum(axis=-1)
    return np.sqrt((wh[..., 0] + pad) * (wh[..., 1] + pad))


def crop_square(image: np.ndarray, center: Sequence[float], size: float | Sequence[float], out_size: int,
                border_value: Sequence[float] | float = 0, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Square region of side ``size`` (pixels) centred at ``(cx, cy)``, resampled to ``out_size``.

    One ``cv2.warpAffine``: the region may leave the image, the outside is filled with
    ``border_value`` (SiamFC pads with the image's mean colour). ``size`` may also be ``(width,
    height)``: a rectangle squeezed into the square output (training's aspect-ratio augmentation).
    """
    scale_x, scale_y = np.broadcast_to(np.asarray(size, dtype=np.float64), (2,)) / out_size
    cx, cy = center
    matrix = np.array([[scale_x, 0.0, cx - 0.5 + scale_x * (0.5 - out_size / 2)],
                       [0.0, scale_y, cy - 0.5 + scale_y * (0.5 - out_size / 2)]])
    if np.ndim(border_value) == 0:
        border_value = (float(border_value),) * 3
    return cv2.warpAffine(image, matrix, (out_size, out_size),
                          flags=interpolation | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in border_value))


def cosine_window(size: int) -> np.ndarray:
    """Normalised 2-D Hann window (sums to 1): SiamFC's prior against large displacements.

    Windows of one or two cells are flat (a Hann window of two cells is all zeros).
    """
    hann = np.hanning(size) if size > 2 else np.ones(size)
    window = np.outer(hann, hann)
    return window / window.sum()
