"""The box-head tracker loop (SiamRPN++ / SiamFC++ style): one search crop per frame, boxes read off the map.

Per frame and target: one search crop around the last centre, the classification probability
and a box per cell; the probability is penalised for changes of scale and aspect ratio against the
current box (SiamRPN's penalty) and blended with a cosine window over displacements; the best
cell's box moves the centre, and the size follows it smoothed by a rate that shrinks with the
cell's penalised probability. A model with a quality branch also weighs each cell by the IoU it
predicts for its own box (SiamFC++), so that of the target-like cells the best-fitting box is read
off. ``score`` is the probability at the chosen cell: low when the target is lost or occluded,
which widens the next frame's search (``redetect_below``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from siamtrack.config import TrackerConfig
from siamtrack.errors import SiamtrackError
from siamtrack.models.heads import DepthwiseBoxHead
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.geometry import context_size, crop_square
from siamtrack.tracking.tracker import SiameseTracker


@dataclass
class BoxGrid:
    """What one search-crop size needs: each cell's position and the cosine window over them."""

    crop_size: int
    offsets: torch.Tensor  # (n,) target-centre position per cell along an axis, crop px from the centre
    window: torch.Tensor  # (n, n), 1 at zero displacement

    @property
    def step(self) -> float:
        """Search-crop pixels between neighbouring cells."""
        return float(self.offsets[1] - self.offsets[0])


def displacement_window(offsets: np.ndarray) -> np.ndarray:
    """2-D Hann window over the cells' displacements (evenly spaced): 1 where the target stays put,
    0 half a map beyond."""
    extent = (offsets[1] - offsets[0]) * len(offsets) / 2
    hann = 0.5 + 0.5 * np.cos(np.pi * np.clip(offsets / extent, -1, 1))
    return np.outer(hann, hann)


def size_measure(w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """SiamRPN's scale of a box: ``sqrt((w + p)(h + p))`` with ``p = (w + h) / 2``."""
    pad = (w + h) / 2
    return torch.sqrt((w + pad) * (h + pad))


def change(ratio: torch.Tensor) -> torch.Tensor:
    """``max(r, 1 / r)``: how far a ratio is from 1, either way."""
    return torch.maximum(ratio, 1 / ratio)


class BoxTracker(SiameseTracker):
    """The box-head loop over one or many targets (see :class:`SiameseTracker` for the arguments)."""

    def __init__(self, net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu",
                 name: str = "siamtrack") -> None:
        if not isinstance(net.head, DepthwiseBoxHead):
            raise SiamtrackError("tracker.loop 'box' needs a model with model.head 'box'")
        super().__init__(net, cfg, device, name)
        self.grids = {size: self._grid(size) for size in self.cfg.search_sizes}

    def _grid(self, crop_size: int) -> BoxGrid:
        offsets = self.net.cell_offsets(self.cfg.exemplar_size, crop_size)
        window = displacement_window(offsets)
        device = self.backend.device
        return BoxGrid(crop_size, torch.as_tensor(offsets, dtype=torch.float32, device=device),
                       torch.as_tensor(window, dtype=torch.float32, device=device))

    def response_cells(self, target: int) -> tuple[float, float]:
        grid = self.grids[int(self.crop_sizes[target])]
        return grid.step, float(grid.offsets[0])

    def _start(self, num_targets: int) -> None:
        self.size_limits = np.stack([self.cfg.min_scale * self.target_size, self.cfg.max_scale * self.target_size])

    def _search(self, frame: np.ndarray, targets: np.ndarray, crop_size: int) -> torch.Tensor:
        grid, cfg = self.grids[crop_size], self.cfg
        sides = self.x_size[targets] * crop_size / cfg.instance_size
        crops = np.stack([crop_square(frame, self.center[t], side, crop_size, self.avg_color)
                          for t, side in zip(targets, sides)])
        logits, ltrb = self.backend.score(self._kernels(targets), crops)
        prob = torch.sigmoid(logits[:, 0].float())
        fit = torch.sigmoid(logits[:, 1].float()) if logits.shape[1] > 1 else 1.0
        left, top, right, bottom = ltrb.float().unbind(1)
        width, height = (left + right) * cfg.box_scale, (top + bottom) * cfg.box_scale
        cx = grid.offsets[None, None, :] + (right - left) / 2
        cy = grid.offsets[None, :, None] + (bottom - top) / 2
        # Current sizes in search-crop pixels, to penalise changes of scale and aspect ratio.
        per_pixel = sides / crop_size
        current = torch.as_tensor(self.target_size[targets] / per_pixel[:, None], dtype=torch.float32,
                                  device=prob.device)[:, :, None, None]
        scale_change = change(size_measure(width, height) / size_measure(current[:, 0], current[:, 1]))
        aspect_change = change((current[:, 0] / current[:, 1]) / (width / height))
        penalty = torch.exp(-(scale_change * aspect_change - 1) * cfg.penalty_k)
        chosen = (penalty * prob * fit * (1 - cfg.window_influence) + grid.window * cfg.window_influence).flatten(1).argmax(1)
        rows = torch.arange(len(targets), device=prob.device)
        picked = torch.stack([m.flatten(1)[rows, chosen] for m in (prob, penalty, cx, cy, width, height)])
        prob_b, penalty_b, cx_b, cy_b, w_b, h_b = picked.double().cpu().numpy()  # the frame's one copy back

        rate = (penalty_b * prob_b * cfg.size_lr)[:, None]
        self.center[targets] += np.stack([cx_b, cy_b], axis=1) * per_pixel[:, None]
        size = self.target_size[targets] * (1 - rate) + np.stack([w_b, h_b], axis=1) * per_pixel[:, None] * rate
        self.target_size[targets] = np.clip(size, self.size_limits[0, targets], self.size_limits[1, targets])
        self.x_size[targets] = context_size(self.target_size[targets], cfg.context) * cfg.instance_size / cfg.exemplar_size
        self.scores[targets] = prob_b
        self.search_side[targets] = sides
        return prob

    def score_tiles(self, frame: np.ndarray, target: int, centres: np.ndarray, sides: np.ndarray,
                    crop_size: int) -> tuple[float, np.ndarray, np.ndarray]:
        """The best peak of ``target``'s kernel over ``crop_size`` px search crops of ``frame`` cut
        ``sides`` frame pixels wide around ``centres`` ``(T, 2)``, all scored in one batched pass:
        ``(score, centre, size)``, in frame pixels. No window and no size penalty, since the target
        may be anywhere at either size: long-term mode's whole-frame search (:mod:`tracking.redetect`)."""
        grid = self.grids[crop_size]
        crops = np.stack([crop_square(frame, c, side, crop_size, self.avg_color) for c, side in zip(centres, sides)])
        logits, ltrb = self.backend.score(self._kernels(np.array([target])), crops)
        prob = torch.sigmoid(logits[:, 0].float())
        fit = torch.sigmoid(logits[:, 1].float()) if logits.shape[1] > 1 else 1.0
        tile, row, col = np.unravel_index(int((prob * fit).argmax()), prob.shape)
        left, top, right, bottom = ltrb[tile, :, row, col].double().cpu().numpy()
        per_pixel = sides[tile] / crop_size
        offset = np.array([float(grid.offsets[col]) + (right - left) / 2, float(grid.offsets[row]) + (bottom - top) / 2])
        size = np.array([left + right, top + bottom]) * self.cfg.box_scale * per_pixel
        return float(prob[tile, row, col]), centres[tile] + offset * per_pixel, size
