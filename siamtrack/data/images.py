"""Bring any image a user may hand us to the one format the package works in: HxWx3 uint8 BGR."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from siamtrack.errors import SiamtrackError


FRAME_TYPES = ("an HxWx3 uint8 BGR numpy array as cv2 reads it (also grayscale HxW, HxWx1, gray+alpha "
               "HxWx2, BGRA HxWx4, bool, 8/16-bit integer and float arrays)", "a PIL image",
               "a torch.Tensor of the same layout (HxWxC, not CxHxW)")


def to_bgr(image: Any) -> np.ndarray:
    """Convert a frame to contiguous HxWx3 uint8 BGR; anything else is a :class:`SiamtrackError`
    that says which frames work (:data:`FRAME_TYPES`).

    Arrays are taken as OpenCV reads them (BGR channel order); PIL images are converted from RGB;
    tensors are copied to the CPU and read like arrays. Floats in [0, 1] or [0, 255] are scaled
    (NaN becomes 0); 16-bit frames are scaled by the bit depth their values use (10, 12, 14 or 16
    bits), so 12-bit data in a 16-bit container keeps its contrast.
    """
    if _is_torch_tensor(image):
        tensor = image.detach().cpu()
        try:
            image = tensor.numpy()
        except TypeError:  # bfloat16 has no numpy dtype
            image = tensor.float().numpy()
    elif not isinstance(image, np.ndarray):
        if not hasattr(image, "mode") or not hasattr(image, "size") or not hasattr(image, "convert"):
            raise SiamtrackError(f"unsupported frame type {type(image).__name__}: give {'; or '.join(FRAME_TYPES)}")
        mode = image.mode
        image = np.asarray(image.convert("RGB") if mode not in ("L", "I;16", "I", "F") else image)
        if image.ndim == 3:
            image = image[..., ::-1]
    if image.size == 0:
        raise SiamtrackError(f"empty frame (shape {image.shape})")
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[2] not in (1, 2, 3, 4):
        raise SiamtrackError(f"unsupported frame shape {image.shape}: it looks channels-first (CxHxW); "
                             "give HxWxC (tensor.permute(1, 2, 0))")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise SiamtrackError(f"unsupported frame shape {image.shape}: give HxW (gray) or HxWxC with 1 to 4 channels")
    image = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 2:  # gray + alpha
        image = image[..., 0]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    image = np.ascontiguousarray(image)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _is_torch_tensor(value: Any) -> bool:
    """``isinstance(value, torch.Tensor)`` without importing torch for callers that never use it."""
    return type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach") and hasattr(value, "numpy")


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Values of any real dtype brought to uint8 (see :func:`to_bgr`)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    if image.dtype == np.uint16:
        peak = int(image.max())
        bits = next(b for b in (8, 10, 12, 14, 16) if peak < 1 << b)
        return (image >> (bits - 8)).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        finite = np.isfinite(image)
        peak = float(image[finite].max()) if finite.any() else 0.0
        scale = 255.0 if peak <= 1.0 else 1.0
        return np.clip(np.where(finite, image, 0.0) * scale, 0, 255).astype(np.uint8)
    raise SiamtrackError(f"unsupported frame dtype {image.dtype}: give uint8 (or bool, integer, float) values")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR, whatever its depth or channel count."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SiamtrackError(f"cannot read image {path} (missing, or not an image OpenCV decodes)")
    return to_bgr(image)
