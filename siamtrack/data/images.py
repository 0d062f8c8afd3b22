"""Bring any image a user may hand us to the one format the package works in: HxWx3 uint8 BGR.

Value ranges (what becomes black and white): uint8 as is; bool False/True; other integers 0..255
(clipped); uint16 by the bit depth its values use (8, 10, 12, 14 or 16 bits), so 12-bit data in a
16-bit container keeps its contrast; floats in [0, 1] (when the largest finite value is at most 1)
or else [0, 255], values outside clipped and NaN taken as 0. Floats below -0.05 are refused:
they are not an image in either range (an ImageNet-normalised tensor, say). The range of a frame
source is decided once, on its first frame of each dtype (:class:`FrameFormat`), so that a hot
pixel or a dark frame does not change the brightness of the frames around it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from siamtrack.errors import SiamtrackError


FRAME_TYPES = ("an HxWx3 uint8 BGR numpy array as cv2 reads it (also grayscale HxW, HxWx1, gray+alpha "
               "HxWx2, BGRA HxWx4, bool, 8/16-bit integer and float arrays)", "a PIL image",
               "a torch.Tensor of the same layout (HxWxC, not CxHxW)")
# Any depth and channel count, alpha dropped, and turned as the file's EXIF orientation tag says
# (IMREAD_UNCHANGED would ignore the tag: phone photos would be tracked sideways).
READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
LOWEST_FLOAT = -0.05  # float frames may dip this far below 0 (interpolation overshoot), no further


class FrameFormat:
    """What the frames of one source share: their size, and for each dtype the factor that brings
    its values to 0..255, decided on the first frame of that dtype (see the module docstring).

    ``convert`` is :func:`to_bgr` with those decisions kept; a frame of another size is refused.
    """

    def __init__(self, name: str = "the source") -> None:
        self.name = name
        self.shape: tuple[int, int] | None = None
        self._scales: dict[np.dtype, float] = {}

    def scale(self, image: np.ndarray) -> float:
        """The factor for ``image``'s dtype: this source's, or decided from ``image`` when it is the first."""
        if image.dtype not in self._scales:
            self._scales[image.dtype] = value_scale(image)
        return self._scales[image.dtype]

    def convert(self, image: Any, where: str = "a frame") -> np.ndarray:
        """``image`` as HxWx3 uint8 BGR on this source's scale; ``where`` names it in errors."""
        frame = to_bgr(image, self)
        if self.shape is None:
            self.shape = frame.shape[:2]
        elif frame.shape[:2] != self.shape:
            raise SiamtrackError(f"{where} is {frame.shape[1]}x{frame.shape[0]}, but the first frame of {self.name} "
                                 f"is {self.shape[1]}x{self.shape[0]}: frames must share one size")
        return frame


def to_bgr(image: Any, frame_format: FrameFormat | None = None) -> np.ndarray:
    """Convert a frame to contiguous HxWx3 uint8 BGR; anything else is a :class:`SiamtrackError`
    that says which frames work (:data:`FRAME_TYPES`).

    Arrays are taken as OpenCV reads them (BGR channel order); PIL images are converted from RGB;
    tensors are copied to the CPU and read like arrays. Values are scaled as the module docstring
    says: by ``frame_format``'s factor for the dtype when given, else by one decided from this frame.
    """
    image = _as_array(image)
    if image.size == 0:
        raise SiamtrackError(f"empty frame (shape {image.shape})")
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[2] not in (1, 2, 3, 4):
        raise SiamtrackError(f"unsupported frame shape {image.shape}: it looks channels-first (CxHxW); "
                             "give HxWxC (tensor.permute(1, 2, 0))")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise SiamtrackError(f"unsupported frame shape {image.shape}: give HxW (gray) or HxWxC with 1 to 4 channels")
    scale = frame_format.scale(image) if frame_format is not None else value_scale(image)
    image = _to_uint8(image, scale)
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


def _as_array(image: Any) -> np.ndarray:
    """A numpy array of ``image`` (array, tensor or PIL image), BGR where it has colour."""
    if _is_torch_tensor(image):
        tensor = image.detach().cpu()
        try:
            return tensor.numpy()
        except TypeError:  # bfloat16 has no numpy dtype
            return tensor.float().numpy()
    if isinstance(image, np.ndarray):
        return image
    if not hasattr(image, "mode") or not hasattr(image, "size") or not hasattr(image, "convert"):
        raise SiamtrackError(f"unsupported frame type {type(image).__name__}: give {'; or '.join(FRAME_TYPES)}")
    array = np.asarray(image.convert("RGB") if image.mode not in ("L", "I;16", "I", "F") else image)
    return array[..., ::-1] if array.ndim == 3 else array


def _is_torch_tensor(value: Any) -> bool:
    """``isinstance(value, torch.Tensor)`` without importing torch for callers that never use it."""
    return type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach") and hasattr(value, "numpy")


def value_scale(image: np.ndarray) -> float:
    """The factor that brings the values of ``image``'s kind of frame to 0..255 (module docstring)."""
    if image.dtype == np.bool_:
        return 255.0
    if image.dtype == np.uint16:
        peak = int(image.max())
        bits = next(b for b in (8, 10, 12, 14, 16) if peak < 1 << b)
        return 2.0 ** (8 - bits)  # a power of two: the same as a right shift by bits - 8
    if np.issubdtype(image.dtype, np.integer):
        return 1.0
    if np.issubdtype(image.dtype, np.floating):
        finite = image[np.isfinite(image)]
        return 255.0 if finite.size == 0 or float(finite.max()) <= 1.0 else 1.0
    raise SiamtrackError(f"unsupported frame dtype {image.dtype}: give uint8 (or bool, integer, float) values")


def _to_uint8(image: np.ndarray, scale: float) -> np.ndarray:
    """Values of any real dtype times ``scale``, clipped to uint8 (see the module docstring)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image * scale, 0, 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        finite = np.isfinite(image)
        lowest = float(image[finite].min()) if finite.any() else 0.0
        if lowest < LOWEST_FLOAT:
            raise SiamtrackError(f"float frame values must lie in [0, 1] or [0, 255]; this frame reaches {lowest:.3g} "
                                 "(normalised? undo the normalisation first)")
        values = np.clip(np.where(finite, image, 0), 0, 255 / scale).astype(np.float32)
        return np.clip(values * np.float32(scale), 0, 255).astype(np.uint8)
    raise SiamtrackError(f"unsupported frame dtype {image.dtype}: give uint8 (or bool, integer, float) values")


def decode_image(path: str | bytes | Path) -> np.ndarray:
    """An image file's pixels as OpenCV decodes them (any depth, alpha dropped, EXIF orientation
    applied), not yet converted. The bytes are read by Python, so any file name works, UTF-8 or not."""
    shown = os.fsdecode(path)
    try:
        with open(path, "rb") as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
    except OSError as exc:
        raise SiamtrackError(f"cannot read image {shown}: {exc.strerror or exc}") from None
    image = None
    if data.size:
        try:
            image = cv2.imdecode(data, READ_FLAGS)
        except cv2.error:
            image = None
    if image is None:
        raise SiamtrackError(f"cannot read image {shown} (empty, or not an image OpenCV decodes)")
    return image


def read_image(path: str | bytes | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR, whatever its depth, channel count or orientation tag."""
    return to_bgr(decode_image(path))
