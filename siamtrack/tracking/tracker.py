"""The SiamFC-3s tracker loop: exemplar once, then per frame a scale pyramid scored in one pass.

One tracker follows one or many targets; all their scales go through the network as one batch, and
the response maps are post-processed on the network's device, so each frame copies only the crops
to the device and a few numbers per target back. It is also a ``got10k.trackers.Tracker``, so the
got10k experiments can run it as it is.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from got10k.trackers import Tracker
from torch.nn import functional as F

from siamtrack.config import TrackerConfig
from siamtrack.data.images import to_bgr
from siamtrack.errors import SiamtrackError
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.backends import build_backend
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
        raise SiamtrackError(f"box {tuple(values.tolist())} contains NaN or infinity")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise SiamtrackError(f"box {tuple(values.tolist())} has width or height <= 0")
    height, width = frame_shape[:2]
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise SiamtrackError(f"box {tuple(values.tolist())} lies wholly outside the {width}x{height} frame")
    return values


def bicubic_matrix(size: int, factor: int) -> torch.Tensor:
    """``(size * factor, size)`` matrix ``A`` with ``A @ S @ A.T == F.interpolate(S, bicubic)``.

    Bicubic upsampling is separable and linear, so two small matrix products replace the
    interpolation kernel (about ten times faster on a CPU); ``F.interpolate`` of the identity
    gives the exact weights PyTorch uses, border handling included.
    """
    identity = torch.eye(size, dtype=torch.float64).reshape(size, 1, size, 1)
    columns = F.interpolate(identity, scale_factor=(factor, 1), mode="bicubic", align_corners=False)
    return columns[:, 0, :, 0].T.contiguous()


@dataclass
class SearchGrid:
    """What one search-crop size needs: its score-map side, upsampling matrix and cosine window."""

    crop_size: int
    response_size: int
    upsample: torch.Tensor
    window: torch.Tensor

    @property
    def upscale_size(self) -> int:
        """Side of the upsampled response."""
        return self.upsample.shape[0]


class SiamFCTracker(Tracker):
    """SiamFC-3s over one or many targets.

    Args:
        net: the Siamese network (its weights are used as they are; the tracker sets eval mode).
        cfg: tracking hyper-parameters, inference backend included.
        device: where the network runs.
        name: the name got10k reports results under.
    """

    def __init__(self, net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu",
                 name: str = "siamtrack") -> None:
        super().__init__(name=name, is_deterministic=True)
        if cfg.redetect_instance_size and cfg.redetect_instance_size < cfg.instance_size:
            raise SiamtrackError(f"tracker.redetect_instance_size ({cfg.redetect_instance_size}) must be 0 "
                                 f"or at least tracker.instance_size ({cfg.instance_size})")
        self.cfg = cfg
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.backend = build_backend(self.net, cfg, self.device)
        steps = np.arange(cfg.scale_num) - (cfg.scale_num - 1) / 2
        self.scale_factors = cfg.scale_step ** steps
        self.scale_penalties = np.where(steps == 0, 1.0, cfg.scale_penalty)
        self._penalties = torch.as_tensor(self.scale_penalties, dtype=torch.float32,
                                          device=self.backend.device).reshape(-1, 1, 1, 1)
        # Pixels of the search crop per cell of the upsampled response.
        self.response_stride = net.backbone.stride / cfg.response_up
        sizes = {cfg.instance_size, cfg.redetect_instance_size or cfg.instance_size}
        self.grids = {size: self._grid(size) for size in sorted(sizes)}
        self.score: float | np.ndarray = 0.0
        self._responses: list[torch.Tensor] = []
        self._response_cache: np.ndarray | list[np.ndarray] | None = None
        self._single = True

    @torch.inference_mode()
    def _grid(self, crop_size: int) -> SearchGrid:
        exemplar = np.zeros((1, self.cfg.exemplar_size, self.cfg.exemplar_size, 3), np.uint8)
        search = np.zeros((1, crop_size, crop_size, 3), np.uint8)
        size = int(self.backend.score(self.backend.embed(exemplar), search).shape[-1])
        up = self.cfg.response_up
        device = self.backend.device
        return SearchGrid(crop_size, size, bicubic_matrix(size, up).float().to(device),
                          torch.as_tensor(cosine_window(size * up), device=device))

    @property
    def response(self) -> np.ndarray | list[np.ndarray] | None:
        """Upsampled, scale-penalised score maps of each target's chosen scale in the last frame.

        ``(N, U, U)``; a list of per-target maps in the frames where re-detection searched some
        targets at a larger size than others. Copied from the device only when asked for.
        """
        if self._response_cache is None and self._responses:
            maps = [r.cpu().numpy() for r in self._responses]
            same = len({m.shape for m in maps}) == 1
            self._response_cache = np.stack(maps) if same else maps
        return self._response_cache

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
        crops = np.stack([crop_square(frame, c, s, self.cfg.exemplar_size, self.avg_color)
                          for c, s in zip(self.center, z_size)])
        self.kernel = self.backend.embed(crops)
        num_targets = len(box_list)
        self.scores = np.ones(num_targets)
        self.score = 1.0 if self._single else self.scores.copy()
        self.best_scale = np.full(num_targets, len(self.scale_factors) // 2)
        self.search_side = self.x_size.copy()
        self.crop_sizes = np.full(num_targets, self.cfg.instance_size)
        self._responses, self._response_cache = [], None

    def _crop_sizes(self) -> np.ndarray:
        """Search-crop size of each target this frame: wider for those lost in the last one."""
        sizes = np.full(len(self.center), self.cfg.instance_size)
        if self.cfg.redetect_instance_size:
            sizes[self.scores < self.cfg.redetect_below] = self.cfg.redetect_instance_size
        return sizes

    @torch.inference_mode()
    def update(self, image: Any) -> np.ndarray:
        """Locate the target(s) in the next frame: ``(x, y, w, h)`` or an ``(N, 4)`` array."""
        frame = to_bgr(image)
        self.crop_sizes = self._crop_sizes()
        responses: list[torch.Tensor | None] = [None] * len(self.center)
        for crop_size in np.unique(self.crop_sizes):
            targets = np.flatnonzero(self.crop_sizes == crop_size)
            for t, response in zip(targets, self._search(frame, targets, self.grids[int(crop_size)])):
                responses[t] = response
        self._responses, self._response_cache = responses, None

        scale = (1 - self.cfg.scale_lr) + self.cfg.scale_lr * self.scale_factors[self.best_scale]
        new_x_size = np.clip(self.x_size * scale, self.x_size_limits[0], self.x_size_limits[1])
        self.target_size = self.target_size * (new_x_size / self.x_size)[:, None]
        self.x_size = new_x_size
        self.center = np.clip(self.center, 0, self.image_size)
        boxes = cxcywh_to_xywh(np.concatenate([self.center, self.target_size], axis=1))
        if self._single:
            self.score = float(self.scores[0])
            return boxes[0]
        self.score = self.scores.copy()
        return boxes

    def _search(self, frame: np.ndarray, targets: np.ndarray, grid: SearchGrid) -> torch.Tensor:
        """Score ``targets`` at every scale in one batch; move their centres; return their responses."""
        num_scales, num_targets = len(self.scale_factors), len(targets)
        # Search regions ordered (scale, target), as the correlation head expects.
        sides = self.scale_factors[:, None] * self.x_size[None, targets] * (grid.crop_size / self.cfg.instance_size)
        crops = np.stack([crop_square(frame, self.center[t], sides[s, j], grid.crop_size, self.avg_color)
                          for s in range(num_scales) for j, t in enumerate(targets)])
        kernels = self.kernel if num_targets == len(self.center) else self.kernel[targets]
        maps = self.backend.score(kernels, crops).reshape(num_scales, num_targets, grid.response_size,
                                                          grid.response_size)
        responses = grid.upsample @ maps @ grid.upsample.T * self._penalties
        best_scale = responses.flatten(2).amax(dim=2).argmax(dim=0)
        best = responses[best_scale, torch.arange(num_targets, device=responses.device)]
        peaks = best.flatten(1).amax(dim=1) / self._penalties.flatten()[best_scale]
        # Displacement prior: normalised response blended with the cosine window (in float64,
        # as SiamFC computes it, so near-ties between neighbouring cells resolve the same way).
        normalised = best.double() - best.flatten(1).amin(dim=1).double()[:, None, None]
        normalised /= normalised.flatten(1).sum(dim=1)[:, None, None] + 1e-16
        normalised = (1 - self.cfg.window_influence) * normalised + self.cfg.window_influence * grid.window
        peak_cells = normalised.flatten(1).argmax(dim=1)
        # The one device-to-host copy of the frame: three numbers per target.
        summary = torch.stack([best_scale.double(), peaks.double(), peak_cells.double()]).cpu().numpy()
        best_scale, peaks, peak_cells = summary[0].astype(int), summary[1], summary[2].astype(int)

        rows, cols = np.divmod(peak_cells, grid.upscale_size)
        offsets = (np.stack([cols, rows], axis=1) - (grid.upscale_size - 1) / 2) * self.response_stride
        sides = sides[best_scale, np.arange(num_targets)]
        self.center[targets] += offsets * (sides / grid.crop_size)[:, None]
        self.best_scale[targets] = best_scale
        self.search_side[targets] = sides
        self.scores[targets] = 1 / (1 + np.exp(-peaks))
        return best
