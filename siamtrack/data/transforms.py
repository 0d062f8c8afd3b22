"""SiamFC training crops: exemplar and search region cut exactly as the tracker cuts them, then augmented.

As in siamfc-pytorch: each crop is the tracker's context region (``context_size``) around the box,
randomly stretched by a few percent (the search crop by tens of percent for a box head, whose
regressor otherwise learns the one size a crop shows when the tracker's size is right), the search
crop shifted by a few pixels (and, with ``aspect_stretch``, its width and height scaled apart, so
that the target's aspect ratio changes between the crops as when it turns), resampled with a
random interpolation. Colour gain, grayscale and blur
augment appearance. Crops stay BGR uint8 (0-255, what the tracker feeds the network once cast to
float): no normalisation. The target's box
in the search crop comes along for heads that regress it; for those, ``max_shift`` is large (tens of
pixels) so that the target is not always in the middle, the position bias padding would let a
network learn, and ``part_prob`` of the pairs may track a part of the object instead of all of it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from siamtrack.config import DataConfig, TrackerConfig
from siamtrack.data.datasets import PairSample
from siamtrack.tracking.geometry import context_size, crop_square

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4)


@dataclass(frozen=True)
class PairTransform:
    """``(sample, rng) -> (z, x, box)``: uint8 CHW tensors of the exemplar and search crops, and the
    target's ``(x1, y1, x2, y2)`` in the search crop (float32, continuous pixel coordinates; NaN for
    a negative pair, whose search crop does not show the target)."""

    exemplar_size: int = 127
    search_size: int = 239
    context: float = 0.5
    max_stretch: float = 0.05
    search_stretch: float = 0.05
    still_stretch: float = 0.15
    max_shift: int = 4
    color_jitter: float = 0.1
    gray_prob: float = 0.1
    blur_prob: float = 0.1
    part_prob: float = 0.0
    aspect_stretch: float = 0.0

    @classmethod
    def from_config(cls, data: DataConfig, tracker: TrackerConfig) -> "PairTransform":
        return cls(tracker.exemplar_size, data.search_size, tracker.context, data.max_stretch,
                   data.search_stretch, data.still_stretch, data.max_shift, data.color_jitter, data.gray_prob,
                   data.blur_prob, data.part_prob, data.aspect_stretch)

    def crop(self, image: np.ndarray, box: np.ndarray, out_size: int, stretch: float | np.ndarray,
             shift: np.ndarray, interpolation: int) -> tuple[np.ndarray, np.ndarray]:
        """The tracker's crop of ``box`` at ``out_size`` px, its scale multiplied by ``stretch`` (one
        factor, or one per axis ``(x, y)``), moved by ``shift`` px; and ``box`` as ``(x1, y1, x2, y2)``
        in the crop."""
        box = np.asarray(box, dtype=np.float64)
        size = float(context_size(box[2:], self.context)) * out_size / self.exemplar_size / np.asarray(stretch)
        centre = box[:2] + box[2:] / 2 + np.asarray(shift) * size / out_size
        mean = image.reshape(-1, 3).mean(axis=0)
        corner = (box[:2] - centre) * out_size / size + out_size / 2
        in_crop = np.concatenate([corner, corner + box[2:] * out_size / size])
        return crop_square(image, centre, size, out_size, mean, interpolation), in_crop

    def _appearance(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gain = 1 + rng.uniform(-self.color_jitter, self.color_jitter, 3)
        return np.clip(crop * gain.astype(np.float32), 0, 255).astype(np.uint8)

    def __call__(self, sample: PairSample, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.part_prob and sample.kind != "negative" and rng.random() < self.part_prob:
            sample = part_of_object(sample, rng)
        x_stretch = self.still_stretch if sample.kind == "stills" else self.search_stretch
        shift = rng.integers(-self.max_shift, self.max_shift + 1, 2)
        z, _ = self.crop(sample.z_image, sample.z_box, self.exemplar_size,
                      1 + rng.uniform(-self.max_stretch, self.max_stretch), np.zeros(2),
                      INTERPOLATIONS[rng.integers(len(INTERPOLATIONS))])
        stretch = 1 + rng.uniform(-x_stretch, x_stretch)
        if self.aspect_stretch:  # drawn only when used: recipes without it keep their pairs
            aspect = np.sqrt(np.exp(rng.uniform(-1, 1) * np.log1p(self.aspect_stretch)))
            stretch = stretch * np.array([aspect, 1 / aspect])
        x, box = self.crop(sample.x_image, sample.x_box, self.search_size, stretch, shift,
                      INTERPOLATIONS[rng.integers(len(INTERPOLATIONS))])
        z, x = self._appearance(z, rng), self._appearance(x, rng)
        if rng.random() < self.blur_prob:
            x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.5))
        if rng.random() < self.gray_prob:
            z, x = (cv2.cvtColor(cv2.cvtColor(c, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) for c in (z, x))
        if sample.kind == "negative":
            box = np.full(4, np.nan)  # the crop shows another object: no cell is the target
        return to_chw(z), to_chw(x), torch.from_numpy(box.astype(np.float32))


def part_of_object(sample: PairSample, rng: np.random.Generator) -> PairSample:
    """The same random part (half to nine tenths of each side) of the target's box in both frames.

    Users box parts of objects (a face, a dog's head); trained on whole objects only, the box head
    answers the whole object's extent whatever the exemplar's box was.
    """
    fraction = rng.uniform(0.5, 0.9, 2)
    offset = rng.uniform(0, 1, 2) * (1 - fraction)

    def part(box: np.ndarray) -> np.ndarray:
        box = np.asarray(box, dtype=np.float64)
        return np.concatenate([box[:2] + offset * box[2:], fraction * box[2:]])

    return replace(sample, z_box=part(sample.z_box), x_box=part(sample.x_box))


def to_chw(crop: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> 3xHxW uint8 tensor (the trainer casts to float on the device)."""
    return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))
