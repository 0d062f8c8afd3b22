"""Long-term tracking: is each target in the picture, and where is it when it comes back?

A short-term tracker takes every frame's best peak near the last position, so when the target
leaves the picture (or the video cuts away) its box wanders onto whatever looks most alike, the
template memory learns that, and a target that returns elsewhere is never found. In long-term
mode (``tracker.longterm``) the tracker calls :class:`Presence` once per frame, after its local
search:

* **present / absent** with hysteresis on the score: a present target turns absent when its score
  falls under ``present_below``, an absent one turns present when its score reaches
  ``present_above``; in between it keeps its state, so the flag does not flicker. While absent,
  the box is held where it was last seen (not moved by a weak peak) and no template is learnt.
* **whole-frame search** while absent: on the first absent frame and every ``global_every``
  frames after, the frame is tiled with search crops at the target's last size and at its
  first-frame size, all scored in one batched pass (at most ``global_max_tiles`` crops; a larger
  tiling is covered over successive searches); the best peak anywhere is taken only when its
  score reaches the stricter ``global_accept``. Then the target is present there, and the normal
  local search resumes from it. While a target is present none of this costs a network call.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from siamtrack.tracking.geometry import context_size

if TYPE_CHECKING:
    from siamtrack.tracking.tracker import SiameseTracker

log = logging.getLogger(__name__)

SAME_SIZE = 1.25  # a first-frame size within this factor of the last one is not searched a second time


@dataclass
class Held:
    """Where the targets were before a frame's search (what an absent target keeps)."""

    center: np.ndarray
    target_size: np.ndarray
    x_size: np.ndarray


def tile_centres(image_size: np.ndarray, span: float) -> np.ndarray:
    """Centres ``(T, 2)`` of search crops whose score maps, each covering ``span`` frame pixels
    square, cover an ``(width, height)`` frame edge to edge: evenly spread, row by row."""
    counts = np.maximum(1, np.ceil(np.asarray(image_size, dtype=np.float64) / span)).astype(int)
    xs, ys = ((np.arange(n) + 0.5) * size / n for n, size in zip(counts, image_size))
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def search_sizes(last: np.ndarray, first: np.ndarray) -> list[np.ndarray]:
    """Target sizes the whole frame is searched at: the last one, and the first frame's unless it is
    within :data:`SAME_SIZE` of it."""
    ratio = np.sqrt(np.prod(first) / np.prod(last))
    return [last] if 1 / SAME_SIZE <= ratio <= SAME_SIZE else [last, first]


class Presence:
    """Per-target present/absent state and the whole-frame search of the absent ones.

    Args:
        target_size: ``(N, 2)`` the targets' sizes on the first frame (the second search size).
    """

    def __init__(self, target_size: np.ndarray) -> None:
        self.first_size = np.array(target_size, dtype=np.float64)
        self.present = np.ones(len(self.first_size), dtype=bool)
        self.absent_for = np.zeros(len(self.first_size), dtype=int)  # frames since a target turned absent
        self._next_tile = np.zeros(len(self.first_size), dtype=int)  # where a chunked tiling resumes

    @staticmethod
    def hold(tracker: SiameseTracker) -> Held:
        """The targets' state before a frame's search."""
        return Held(tracker.center.copy(), tracker.target_size.copy(), tracker.x_size.copy())

    def step(self, tracker: SiameseTracker, frame: np.ndarray, held: Held) -> None:
        """After ``tracker``'s local search of ``frame``: decide presence from the scores (hysteresis),
        put absent targets back where ``held`` has them, and search the whole frame for those due."""
        cfg = tracker.cfg
        was_present = self.present.copy()
        self.present = np.where(self.present, tracker.scores >= cfg.present_below, tracker.scores >= cfg.present_above)
        self.absent_for = np.where(self.present, 0, self.absent_for + 1)
        absent = ~self.present
        tracker.center[absent] = held.center[absent]
        tracker.target_size[absent] = held.target_size[absent]
        tracker.x_size[absent] = held.x_size[absent]
        for target in np.flatnonzero(was_present & absent):
            log.debug("target %d absent (score %.3f)", target, tracker.scores[target])
        if cfg.global_every:
            for target in np.flatnonzero(absent & ((self.absent_for - 1) % cfg.global_every == 0)):
                self._search_frame(tracker, frame, int(target))

    def _search_frame(self, tracker: SiameseTracker, frame: np.ndarray, target: int) -> None:
        """Tile ``frame`` at ``target``'s search sizes, score every tile in one pass, and take the best
        peak if it reaches ``global_accept``."""
        cfg = tracker.cfg
        crop_size = max(cfg.search_sizes)
        grid = tracker.grids[crop_size]
        centres, sides = [], []
        for size in search_sizes(tracker.target_size[target], self.first_size[target]):
            side = float(context_size(size, cfg.context)) * crop_size / cfg.exemplar_size
            span = grid.step * (len(grid.offsets) - 1) * side / crop_size  # neighbouring maps overlap by a cell
            tiles = tile_centres(tracker.image_size, span)
            centres.append(tiles)
            sides.append(np.full(len(tiles), side))
        centres, sides = np.concatenate(centres), np.concatenate(sides)
        if len(centres) > cfg.global_max_tiles:
            chosen = (self._next_tile[target] + np.arange(cfg.global_max_tiles)) % len(centres)
            self._next_tile[target] = (chosen[-1] + 1) % len(centres)
            centres, sides = centres[chosen], sides[chosen]
        score, centre, size = tracker.score_tiles(frame, target, centres, sides, crop_size)
        if score < cfg.global_accept:
            return
        limits = np.stack([cfg.min_scale * self.first_size[target], cfg.max_scale * self.first_size[target]])
        tracker.center[target] = np.clip(centre, 0, tracker.image_size)
        tracker.target_size[target] = np.clip(size, limits[0], limits[1])
        tracker.x_size[target] = context_size(tracker.target_size[target], cfg.context) * cfg.instance_size / cfg.exemplar_size
        tracker.scores[target] = score
        self.present[target], self.absent_for[target] = True, 0
        log.debug("target %d found again at (%.0f, %.0f), score %.3f", target, *centre, score)
