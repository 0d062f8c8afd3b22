"""Bring any image a user may hand us to the one format the package works in: HxWx3 uint8 BGR."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from siamtrack.errors import SiamtrackError


def to_bgr(image: Any) -> np.ndarray:
    """Convert a frame to contiguous HxWx3 uint8 BGR.

    Accepts ndarrays as OpenCV reads them (BGR, BGRA, grayscale, 8- or 16-bit, float in [0, 1])
    and PIL images (RGB, RGBA, L, I;16...), whose channel order is converted from RGB.
    """
    if not isinstance(image, np.ndarray):
        if not hasattr(image, "mode") or not hasattr(image, "size"):
            raise SiamtrackError(f"unsupported frame type {type(image).__name__}")
        mode = image.mode
        image = np.asarray(image.convert("RGB") if mode not in ("L", "I;16", "I", "F") else image)
        if image.ndim == 3:
            image = image[..., ::-1]
    if image.size == 0:
        raise SiamtrackError("empty frame")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.floating):
            peak = 1.0 if float(np.nanmax(image)) <= 1.0 else 255.0
            image = np.clip(np.nan_to_num(image) * (255.0 / peak), 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise SiamtrackError(f"unsupported frame shape {image.shape}")
    return np.ascontiguousarray(image)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR, whatever its depth or channel count."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SiamtrackError(f"cannot read image {path} (missing, or not an image OpenCV decodes)")
    return to_bgr(image)
