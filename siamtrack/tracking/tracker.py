"""The SiamFC-3s tracker loop: exemplar once, then per frame a scale pyramid scored in one pass.

One tracker follows one or many targets; all their scales go through the network as one batch.
It is also a ``got10k.trackers.Tracker``, so the got10k experiments can run it as it is.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch
from got10k.trackers import Tracker
from torch.nn import functional as F

from siamtrack.config import TrackerConfig
from siamtrack.data.images import to_bgr
from siamtrack.errors import SiamtrackError
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.geometry import context_size, cosine_window, crop_square, cxcywh_to_xywh

log = logging.getLogger(__name__)

Box = Sequence[float]


def validate_box(box: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Check one ``(x, y, w, h)`` box against a frame; raise :class:`SiamtrackError` if unusable."""
    try:
        values = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SiamtrackError(f"box {box!r} is not four numbers x,y,w,h") from None
    if values.size != 4:
        raise SiamtrackError(f"box {box!r} must have four numbers x,y,w,h, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise SiamtrackError(f"box {tuple(box)} contains NaN or infinity")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise SiamtrackError(f"box {tuple(values)} has width or height <= 0")
    height, width = frame_shape[:2]
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise SiamtrackError(f"box {tuple(values)} lies wholly outside the {width}x{height} frame")
    return values


class SiamFCTracker(Tracker):
    """SiamFC-3s over one or many targets.

    Args:
        net: the Siamese network (its weights are used as they are; the tracker sets eval mode).
        cfg: tracking hyper-parameters.
        device: where the network runs.
        name: the name got10k reports results under.
    """

    def __init__(self, net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu",
                 name: str = "siamtrack") -> None:
        super().__init__(name=name, is_deterministic=True)
        self.cfg = cfg
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        steps = np.arange(cfg.scale_num) - (cfg.scale_num - 1) / 2
        self.scale_factors = cfg.scale_step ** steps
        self.scale_penalties = np.where(steps == 0, 1.0, cfg.scale_penalty)
        self.upscale_size = cfg.response_up * self._response_size()
        self.window = cosine_window(self.upscale_size)
        # Pixels of the search crop per cell of the upsampled response.
        self.response_stride = net.backbone.stride / cfg.response_up
        self.score: float | np.ndarray = 0.0
        self.response: np.ndarray | None = None
        self._single = True

    def _response_size(self) -> int:
        with torch.inference_mode():
            z = torch.zeros(1, 3, self.cfg.exemplar_size, self.cfg.exemplar_size, device=self.device)
            x = torch.zeros(1, 3, self.cfg.instance_size, self.cfg.instance_size, device=self.device)
            return int(self.net(z, x).shape[-1])

    def _to_tensor(self, crops: list[np.ndarray]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack(crops)).to(self.device)
        return batch.permute(0, 3, 1, 2).float()

    @torch.inference_mode()
    def init(self, image: Any, box: Box | Sequence[Box]) -> None:
        """Start tracking ``box`` (or a list of boxes) on ``image`` (BGR ndarray or PIL image)."""
        frame = to_bgr(image)
        boxes = np.asarray(box, dtype=object)
        self._single = boxes.ndim == 1 or (boxes.ndim == 0)
        box_list = [box] if self._single else list(box)
        if not box_list:
            raise SiamtrackError("no box given")
        xywh = np.stack([validate_box(b, frame.shape) for b in box_list])
        self.center = xywh[:, :2] + xywh[:, 2:] / 2
        self.target_size = xywh[:, 2:].copy()
        self.avg_color = frame.reshape(-1, 3).mean(axis=0)
        z_size = context_size(self.target_size, self.cfg.context)
        self.x_size = z_size * self.cfg.instance_size / self.cfg.exemplar_size
        self.x_size_limits = np.stack([self.cfg.min_scale * self.x_size, self.cfg.max_scale * self.x_size])
        self.image_size = np.array(frame.shape[1::-1], dtype=np.float64)
        crops = [crop_square(frame, c, s, self.cfg.exemplar_size, self.avg_color)
                 for c, s in zip(self.center, z_size)]
        self.kernel = self.net.embed(self._to_tensor(crops))
        self.score = 1.0 if self._single else np.ones(len(box_list))

    @torch.inference_mode()
    def update(self, image: Any) -> np.ndarray:
        """Locate the target(s) in the next frame: ``(x, y, w, h)`` or an ``(N, 4)`` array."""
        frame = to_bgr(image)
        num_targets, num_scales = len(self.center), len(self.scale_factors)
        # Search regions ordered (scale, target), as the correlation head expects.
        sizes = self.scale_factors[:, None] * self.x_size[None, :]
        crops = [crop_square(frame, self.center[t], sizes[s, t], self.cfg.instance_size, self.avg_color)
                 for s in range(num_scales) for t in range(num_targets)]
        scores = self.net.score(self.kernel, self.net.embed(self._to_tensor(crops)))
        scores = F.interpolate(scores, scale_factor=self.cfg.response_up, mode="bicubic", align_corners=False)
        responses = scores.reshape(num_scales, num_targets, self.upscale_size, self.upscale_size).cpu().numpy()
        responses = responses * self.scale_penalties[:, None, None, None]

        best_scale = responses.reshape(num_scales, num_targets, -1).max(axis=2).argmax(axis=0)
        peaks = np.empty(num_targets)
        best_responses = []
        for t, s in enumerate(best_scale):
            response = responses[s, t]
            peaks[t] = response.max() / self.scale_penalties[s]
            normalised = response - response.min()
            normalised /= normalised.sum() + 1e-16
            normalised = (1 - self.cfg.window_influence) * normalised + self.cfg.window_influence * self.window
            row, col = np.unravel_index(normalised.argmax(), normalised.shape)
            offset = (np.array([col, row]) - (self.upscale_size - 1) / 2) * self.response_stride
            self.center[t] += offset * sizes[s, t] / self.cfg.instance_size
            best_responses.append(response)
        self.response = np.stack(best_responses)

        scale = (1 - self.cfg.scale_lr) + self.cfg.scale_lr * self.scale_factors[best_scale]
        new_x_size = np.clip(self.x_size * scale, self.x_size_limits[0], self.x_size_limits[1])
        self.target_size = self.target_size * (new_x_size / self.x_size)[:, None]
        self.x_size = new_x_size
        self.center = np.clip(self.center, 0, self.image_size)
        self.score = 1 / (1 + np.exp(-peaks))
        boxes = cxcywh_to_xywh(np.concatenate([self.center, self.target_size], axis=1))
        if self._single:
            self.score = float(self.score[0])
            return boxes[0]
        return boxes
