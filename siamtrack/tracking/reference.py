"""A plain, unoptimised SiamFC-3s for one target: the yardstick of speed and the oracle of equality.

Written the way SiamFC is usually first written: one crop and one eager forward per scale, the
network as trained (BatchNorm not folded), float NCHW input, every scale's map upsampled with
``F.interpolate`` and post-processed in NumPy. :class:`SiamFCTracker` must give the same boxes
(``tests/test_speed_paths.py``) while doing far less work (``siamtrack bench``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from siamtrack.config import TrackerConfig
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.geometry import context_size, cosine_window, crop_square, cxcywh_to_xywh


class ReferenceSiamFC:
    """SiamFC-3s (Bertinetto et al. 2016) for a single target, computed scale by scale."""

    def __init__(self, net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        steps = np.arange(cfg.scale_num) - (cfg.scale_num - 1) / 2
        self.scale_factors = cfg.scale_step ** steps
        self.scale_penalties = np.where(steps == 0, 1.0, cfg.scale_penalty)
        self.response_stride = net.backbone.stride / cfg.response_up

    def _tensor(self, crop: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(crop).to(self.device).permute(2, 0, 1)[None].float()

    @torch.inference_mode()
    def init(self, frame: np.ndarray, box: np.ndarray) -> None:
        """Start tracking the ``(x, y, w, h)`` box on a BGR uint8 frame."""
        box = np.asarray(box, dtype=np.float64)
        self.center = box[:2] + box[2:] / 2
        self.target_size = box[2:].copy()
        self.avg_color = frame.reshape(-1, 3).mean(axis=0)
        z_size = float(context_size(self.target_size, self.cfg.context))
        self.x_size = z_size * self.cfg.instance_size / self.cfg.exemplar_size
        self.x_size_limits = (self.cfg.min_scale * self.x_size, self.cfg.max_scale * self.x_size)
        self.image_size = np.array(frame.shape[1::-1], dtype=np.float64)
        self.kernel = self.net.embed(self._tensor(
            crop_square(frame, self.center, z_size, self.cfg.exemplar_size, self.avg_color)))

    @torch.inference_mode()
    def update(self, frame: np.ndarray) -> np.ndarray:
        """The target's ``(x, y, w, h)`` in the next frame."""
        responses = []
        for factor, penalty in zip(self.scale_factors, self.scale_penalties):
            crop = crop_square(frame, self.center, factor * self.x_size, self.cfg.instance_size, self.avg_color)
            score = self.net.score(self.kernel, self.net.embed(self._tensor(crop)))
            upsampled = F.interpolate(score, scale_factor=self.cfg.response_up, mode="bicubic", align_corners=False)
            responses.append(upsampled[0, 0].cpu().numpy() * penalty)
        best = int(np.argmax([r.max() for r in responses]))
        response = responses[best]
        window = cosine_window(response.shape[0])
        normalised = response - response.min()
        normalised /= normalised.sum() + 1e-16
        normalised = (1 - self.cfg.window_influence) * normalised + self.cfg.window_influence * window
        row, col = np.unravel_index(normalised.argmax(), normalised.shape)
        offset = (np.array([col, row]) - (response.shape[0] - 1) / 2) * self.response_stride
        self.center += offset * self.scale_factors[best] * self.x_size / self.cfg.instance_size
        scale = (1 - self.cfg.scale_lr) + self.cfg.scale_lr * self.scale_factors[best]
        new_x_size = float(np.clip(self.x_size * scale, *self.x_size_limits))
        self.target_size = self.target_size * new_x_size / self.x_size
        self.x_size = new_x_size
        self.center = np.clip(self.center, 0, self.image_size)
        return cxcywh_to_xywh(np.concatenate([self.center, self.target_size]))
