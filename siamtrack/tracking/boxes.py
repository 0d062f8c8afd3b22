"""The box-head tracker loop (SiamRPN++ / SiamFC++ style): one search crop per frame, boxes read off the map.

Per frame and target: one search crop around the last centre, the classification probability
and a box per cell; the probability is penalised for changes of scale and aspect ratio against the
current box (SiamRPN's penalty) and blended with a cosine window over displacements; the best
cell's box moves the centre, and the size follows it smoothed by a rate that shrinks with the
cell's penalised probability. A model with a quality branch also weighs each cell by the IoU it
predicts for its own box (SiamFC++), so that of the target-like cells the best-fitting box is read
off. ``score`` is the probability at the chosen cell: low when the target is lost or occluded,
which widens the next frame's search (``redetect_below``).

Two optional parts (off unless the config sets them): the online target model
(:mod:`~siamtrack.tracking.target_model`) scales the probability by how much this video's own filter
backs each cell, and vetoes far jumps it does not back; the motion prior
(:mod:`~siamtrack.tracking.motion`) centres the crop and the window where the target is expected.
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
from siamtrack.tracking.motion import MotionPrior
from siamtrack.tracking.target_model import OnlineTargetModel
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

    def _start(self, frame: np.ndarray, num_targets: int) -> None:
        cfg = self.cfg
        self.size_limits = np.stack([cfg.min_scale * self.target_size, cfg.max_scale * self.target_size])
        self.motion = MotionPrior(cfg, num_targets) if cfg.motion_rate > 0 else None
        self.online = None
        if cfg.online_weight > 0:
            self.online = OnlineTargetModel(cfg, self.net.head.template_cells)
            self._start_online(frame)

    def _start_online(self, frame: np.ndarray) -> None:
        """Fit the online filters on the first frame: the search crop around each box and four copies
        shifted by ``online_shift`` of the search side, so the filter sees the target off-centre too."""
        cfg, grid = self.cfg, self.grids[self.cfg.instance_size]
        shift = cfg.online_shift * cfg.instance_size
        places = np.array([[0, 0], [shift, 0], [-shift, 0], [0, shift], [0, -shift]])  # target in each copy, crop px
        per_pixel = self.x_size / cfg.instance_size
        crops = np.stack([crop_square(frame, centre - place * pixel, side, cfg.instance_size, self.avg_color)
                          for place in places for centre, side, pixel in zip(self.center, self.x_size, per_pixel)])
        num_targets = len(self.center)
        sigmas = np.tile(cfg.online_sigma * np.sqrt(self.target_size.prod(axis=1)) / per_pixel, len(places))
        device = grid.offsets.device
        self.online.start(torch.as_tensor(self.backend.embed(crops), device=device), grid.offsets,
                          torch.as_tensor(np.repeat(places, num_targets, axis=0), dtype=torch.float32, device=device),
                          torch.as_tensor(sigmas, dtype=torch.float32, device=device), copies=len(places))

    def _search(self, frame: np.ndarray, targets: np.ndarray, crop_size: int) -> torch.Tensor:
        grid, cfg = self.grids[crop_size], self.cfg
        sides = self.x_size[targets] * crop_size / cfg.instance_size
        expected = self.center[targets] if self.motion is None else self.motion.predict(self.center[targets], targets)
        crops = np.stack([crop_square(frame, centre, side, crop_size, self.avg_color)
                          for centre, side in zip(expected, sides)])
        features = self.backend.embed(crops)
        logits, ltrb = self.backend.score_features(self._kernels(targets), features)
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
        evidence, online = prob, None
        if self.online is not None:
            features = torch.as_tensor(features, device=prob.device)
            online = self.online.response(features, targets)
            evidence = prob * (1 - cfg.online_weight + cfg.online_weight * online)
        objective = (penalty * evidence * fit * (1 - cfg.window_influence) + grid.window * cfg.window_influence).flatten(1)
        chosen = objective.argmax(1)
        stay = np.zeros(len(targets), dtype=bool)
        if online is not None:
            chosen, stay = self._veto(chosen, objective, online, torch.hypot(cx, cy), current, grid)
        rows = torch.arange(len(targets), device=prob.device)
        picked = torch.stack([m.flatten(1)[rows, chosen] for m in (prob, penalty, cx, cy, width, height)])
        prob_b, penalty_b, cx_b, cy_b, w_b, h_b = picked.double().cpu().numpy()  # the frame's one copy back

        rate = np.where(stay, 0.0, penalty_b * prob_b * cfg.size_lr)[:, None]
        move = np.where(stay[:, None], 0.0, np.stack([cx_b, cy_b], axis=1))  # crop px from the crop's centre
        centres = expected + move * per_pixel[:, None]
        if self.motion is not None:
            lost = (prob_b < cfg.redetect_below) | stay | (crop_size != cfg.instance_size)
            self.motion.observe(targets, centres - self.center[targets], sides, lost)
        self.center[targets] = centres
        size = self.target_size[targets] * (1 - rate) + np.stack([w_b, h_b], axis=1) * per_pixel[:, None] * rate
        self.target_size[targets] = np.clip(size, self.size_limits[0, targets], self.size_limits[1, targets])
        self.x_size[targets] = context_size(self.target_size[targets], cfg.context) * cfg.instance_size / cfg.exemplar_size
        self.scores[targets] = prob_b
        self.search_side[targets] = sides
        if online is not None:
            learn = (prob_b >= cfg.online_min_score) & ~stay & self.presence.present[targets]
            if learn.any():
                which = np.flatnonzero(learn)
                sigmas = cfg.online_sigma * np.sqrt(self.target_size[targets[which]].prod(axis=1)) / per_pixel[which]
                self.online.learn(features[which], targets[which], grid.offsets,
                                  torch.as_tensor(move[which], dtype=torch.float32, device=prob.device),
                                  torch.as_tensor(sigmas, dtype=torch.float32, device=prob.device), prob[which])
        return prob

    def _veto(self, chosen: torch.Tensor, objective: torch.Tensor, online: torch.Tensor, distance: torch.Tensor,
              current: torch.Tensor, grid: BoxGrid) -> tuple[torch.Tensor, np.ndarray]:
        """Refuse jumps the online model does not back: a chosen cell more than ``jump_distance`` target
        sizes from the expected centre whose online response is under ``online_veto``. In the normal crop
        the best cell within that distance is taken instead; in a re-detection crop (or when no cell is
        that near) the target stays where it was expected. Returns the cells and which targets stay."""
        cfg = self.cfg
        rows = torch.arange(len(chosen), device=chosen.device)
        radius = torch.clamp(cfg.jump_distance * torch.sqrt(current[:, 0] * current[:, 1]), min=grid.step)
        far = (distance > radius).flatten(1)
        vetoed = far[rows, chosen] & (online.flatten(1)[rows, chosen] < cfg.online_veto)
        wide = grid.crop_size != cfg.instance_size
        has_near = (~far).any(1)
        near_best = objective.masked_fill(far, -torch.inf).argmax(1)
        replace = vetoed & has_near & (not wide)
        stay = (vetoed & ~replace).cpu().numpy()
        return torch.where(replace, near_best, chosen), stay

    def score_tiles(self, frame: np.ndarray, target: int, centres: np.ndarray, sides: np.ndarray,
                    crop_size: int) -> tuple[float, np.ndarray, np.ndarray]:
        """The best peak of ``target``'s kernel over ``crop_size`` px search crops of ``frame`` cut
        ``sides`` frame pixels wide around ``centres`` ``(T, 2)``, all scored in one batched pass:
        ``(score, centre, size)``, in frame pixels. No window and no size penalty, since the target
        may be anywhere at either size: long-term mode's whole-frame search (:mod:`tracking.redetect`).
        With the online target model, its response weighs the peaks as in :meth:`_search`, and a peak
        it does not back (under ``online_veto``) scores 0: a look-alike elsewhere is not taken."""
        grid, cfg = self.grids[crop_size], self.cfg
        crops = np.stack([crop_square(frame, c, side, crop_size, self.avg_color) for c, side in zip(centres, sides)])
        features = self.backend.embed(crops)
        logits, ltrb = self.backend.score_features(self._kernels(np.array([target])), features)
        prob = torch.sigmoid(logits[:, 0].float())
        fit = torch.sigmoid(logits[:, 1].float()) if logits.shape[1] > 1 else 1.0
        evidence, online = prob, None
        if self.online is not None:
            online = self.online.response(torch.as_tensor(features, device=prob.device), np.full(len(crops), target))
            evidence = prob * (1 - cfg.online_weight + cfg.online_weight * online)
        tile, row, col = np.unravel_index(int((evidence * fit).argmax()), prob.shape)
        if online is not None and float(online[tile, row, col]) < cfg.online_veto:
            return 0.0, centres[tile], self.target_size[target].copy()
        left, top, right, bottom = ltrb[tile, :, row, col].double().cpu().numpy()
        per_pixel = sides[tile] / crop_size
        offset = np.array([float(grid.offsets[col]) + (right - left) / 2, float(grid.offsets[row]) + (bottom - top) / 2])
        size = np.array([left + right, top + bottom]) * self.cfg.box_scale * per_pixel
        return float(prob[tile, row, col]), centres[tile] + offset * per_pixel, size
