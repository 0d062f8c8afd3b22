"""The SiamFC-3s tracker loop: exemplar once, then per frame a scale pyramid scored in one pass.

All targets' scales go through the network as one batch, and the response maps are
post-processed on the network's device, so each frame copies only the crops to the device and a
few numbers per target back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from siamtrack.config import TrackerConfig
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.geometry import cosine_window, crop_square
from siamtrack.tracking.tracker import SiameseTracker


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


class SiamFCTracker(SiameseTracker):
    """SiamFC-3s over one or many targets (see :class:`SiameseTracker` for the arguments)."""

    def __init__(self, net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu",
                 name: str = "siamtrack") -> None:
        super().__init__(net, cfg, device, name)
        steps = np.arange(cfg.scale_num) - (cfg.scale_num - 1) / 2
        self.scale_factors = cfg.scale_step ** steps
        self.scale_penalties = np.where(steps == 0, 1.0, cfg.scale_penalty)
        self._penalties = torch.as_tensor(self.scale_penalties, dtype=torch.float32,
                                          device=self.backend.device).reshape(-1, 1, 1, 1)
        # Pixels of the search crop per cell of the upsampled response.
        self.response_stride = net.backbone.stride / cfg.response_up
        self.grids = {size: self._grid(size) for size in self.cfg.search_sizes}

    @torch.inference_mode()
    def _grid(self, crop_size: int) -> SearchGrid:
        exemplar = np.zeros((1, self.cfg.exemplar_size, self.cfg.exemplar_size, 3), np.uint8)
        search = np.zeros((1, crop_size, crop_size, 3), np.uint8)
        size = int(self.backend.score(self.backend.embed(exemplar), search).shape[-1])
        up = self.cfg.response_up
        device = self.backend.device
        return SearchGrid(crop_size, size, bicubic_matrix(size, up).float().to(device),
                          torch.as_tensor(cosine_window(size * up), device=device))

    def response_cells(self, target: int) -> tuple[float, float]:
        size = self.grids[int(self.crop_sizes[target])].upscale_size
        return self.response_stride, -(size - 1) / 2 * self.response_stride

    def _start(self, frame: np.ndarray, num_targets: int) -> None:
        self.best_scale = np.full(num_targets, len(self.scale_factors) // 2)

    def _search(self, frame: np.ndarray, targets: np.ndarray, crop_size: int) -> torch.Tensor:
        """Score ``targets`` at every scale in one batch; move their centres and scales; return their responses."""
        grid = self.grids[crop_size]
        num_scales, num_targets = len(self.scale_factors), len(targets)
        # Search regions ordered (scale, target), as the correlation head expects.
        sides = self.scale_factors[:, None] * self.x_size[None, targets] * (grid.crop_size / self.cfg.instance_size)
        crops = np.stack([crop_square(frame, self.center[t], sides[s, j], grid.crop_size, self.avg_color)
                          for s in range(num_scales) for j, t in enumerate(targets)])
        maps = self.backend.score(self._kernels(targets), crops).reshape(num_scales, num_targets, grid.response_size,
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
        scale = (1 - self.cfg.scale_lr) + self.cfg.scale_lr * self.scale_factors[best_scale]
        new_x_size = np.clip(self.x_size[targets] * scale, self.x_size_limits[0, targets], self.x_size_limits[1, targets])
        self.target_size[targets] *= (new_x_size / self.x_size[targets])[:, None]
        self.x_size[targets] = new_x_size
        return best
