"""The online target model: a small discriminative filter per target, learnt from this video while tracking.

The Siamese map scores how much each place looks like the exemplar; it was learnt offline and knows
nothing of this video, so a look-alike (a player among players) scores as high as the target. The
online model learns the opposite lesson from the current video: the target is positive and
everything else in the search region is negative, the places where the Siamese map peaked away from
the target (distractors) above all (DaSiamRPN's distractor-aware training, ATOM/DiMP's online
classifier). It is a linear filter over the backbone's search features, centred on the cells the
Siamese kernel is centred on (``online_cells`` square, at most the kernel's side), so its response
lies on the same cells as the Siamese map.

How it is fitted (a ridge regression in closed form, as DCF trackers fit theirs, solved in the
spatial domain because the features are few):

- features are projected to ``online_dims`` channels by a PCA of the first frame's search features
  (ECO's factorised convolution): ``D = online_dims * online_cells^2`` unknowns per target (144 by
  default: the solve costs less than a millisecond);
- each training crop contributes ``U^T S U`` and ``U^T S y`` (``U``: the ``k x k`` feature patch of
  every cell; ``y``: a Gaussian label at the target's place; ``S``: per-cell weights, larger where
  the Siamese map peaked on something that is not the target);
- the first frame (the crop and shifted copies of it) stays in memory with weight
  ``online_anchor``; confident frames (score >= ``online_min_score``) are blended in at rate
  ``online_rate``;
- the filter is ``(A + lambda * mean(diag A) I)^-1 b``, all targets in one batched solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from siamtrack.config import TrackerConfig


@dataclass
class OnlineState:
    """One filter per target and the statistics it is solved from (all batched over targets)."""

    projection: torch.Tensor  # (N, C, d): PCA of the first frame's search features
    first_a: torch.Tensor  # (N, D, D): the first frame's U^T S U
    first_b: torch.Tensor  # (N, D)
    recent_a: torch.Tensor  # (N, D, D): confident frames, exponentially forgotten
    recent_b: torch.Tensor  # (N, D)
    filters: torch.Tensor  # (N, D)


def gaussian_labels(offsets: torch.Tensor, centres: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """``(B, n, n)`` labels: 1 at each sample's target centre ``(B, 2)`` (crop px from the crop centre,
    x then y), falling off with ``sigmas`` ``(B,)`` px over the cells placed at ``offsets`` ``(n,)``."""
    dx = offsets[None, None, :] - centres[:, 0, None, None]
    dy = offsets[None, :, None] - centres[:, 1, None, None]
    return torch.exp(-(dx ** 2 + dy ** 2) / (2 * sigmas[:, None, None] ** 2))


class OnlineTargetModel:
    """The online filters of all targets of one tracker (see the module docstring).

    Args:
        cfg: the tracker's config (the ``online_*`` keys).
        kernel_cells: the side of the Siamese kernel, in feature cells (``model.template_cells``): the
            filter's ``online_cells`` square sits at its centre, so both maps have the same cells.
    """

    def __init__(self, cfg: TrackerConfig, kernel_cells: int) -> None:
        self.cfg, self.cells = cfg, min(cfg.online_cells, kernel_cells)
        self.trim = (kernel_cells - self.cells) // 2
        self.state: OnlineState | None = None

    def patches(self, features: torch.Tensor, projection: torch.Tensor) -> torch.Tensor:
        """``(B, cells_out^2, D)``: every cell's patch of the projected features ``(B, C, H, W)``."""
        height, width = features.shape[-2:]
        inner = features[..., self.trim:height - self.trim, self.trim:width - self.trim].float()
        projected = torch.einsum("bchw,bcd->bdhw", inner, projection)
        return F.unfold(projected, self.cells).transpose(1, 2)

    def start(self, features: torch.Tensor, offsets: torch.Tensor, centres: torch.Tensor, sigmas: torch.Tensor,
              copies: int) -> None:
        """Fit the first filters from ``copies`` crops per target (``features`` ordered (copy, target)),
        each with its target centre ``centres`` and label width ``sigmas`` in crop px."""
        num_targets = features.shape[0] // copies
        first = features.float().reshape(copies, num_targets, *features.shape[1:])[0]
        pixels = first.flatten(2).transpose(1, 2)  # (N, HW, C)
        centred = pixels - pixels.mean(dim=1, keepdim=True)
        dims = min(self.cfg.online_dims, pixels.shape[-1])
        projection = torch.linalg.svd(centred, full_matrices=False).Vh[:, :dims].transpose(1, 2)  # (N, C, d)
        per_sample = projection.repeat(copies, 1, 1)
        u = self.patches(features, per_sample)
        labels = gaussian_labels(offsets, centres, sigmas).flatten(1)
        a, b = self._statistics(u, labels, torch.ones_like(labels))
        a = a.reshape(copies, num_targets, *a.shape[1:]).mean(0)
        b = b.reshape(copies, num_targets, -1).mean(0)
        self.state = OnlineState(projection, a, b, a.clone(), b.clone(), self._solve(a, b))

    def response(self, features: torch.Tensor, targets: np.ndarray) -> torch.Tensor:
        """``(len(targets), n, n)``: the filters of ``targets`` over their search features, clipped to [0, 1]."""
        state = self.state
        u = self.patches(features, state.projection[targets])
        side = int(round(u.shape[1] ** 0.5))
        return torch.einsum("bcd,bd->bc", u, state.filters[targets]).clamp(0, 1).reshape(-1, side, side)

    def learn(self, features: torch.Tensor, targets: np.ndarray, offsets: torch.Tensor, centres: torch.Tensor,
              sigmas: torch.Tensor, siamese: torch.Tensor) -> None:
        """Blend one crop per target of ``targets`` into their filters: label at ``centres``, cells where
        the Siamese map ``siamese`` ``(B, n, n)`` is high away from the target weighted up as distractors."""
        state, cfg = self.state, self.cfg
        u = self.patches(features, state.projection[targets])
        labels = gaussian_labels(offsets, centres, sigmas).flatten(1)
        distractors = (siamese.flatten(1).float() * (1 - labels)).clamp(min=0)
        a, b = self._statistics(u, labels, 1 + cfg.online_distractor_weight * distractors)
        rate = cfg.online_rate
        state.recent_a[targets] = (1 - rate) * state.recent_a[targets] + rate * a
        state.recent_b[targets] = (1 - rate) * state.recent_b[targets] + rate * b
        anchor = cfg.online_anchor
        state.filters[targets] = self._solve(anchor * state.first_a[targets] + (1 - anchor) * state.recent_a[targets],
                                             anchor * state.first_b[targets] + (1 - anchor) * state.recent_b[targets])

    @staticmethod
    def _statistics(u: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``U^T S U`` and ``U^T S y`` per sample, averaged over cells (so that ``lambda`` does not depend on the map size)."""
        weighted = u * weights[..., None]
        cells = u.shape[1]
        return weighted.transpose(1, 2) @ u / cells, (weighted * labels[..., None]).sum(1) / cells

    def _solve(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Ridge solution per target; the regulariser scales with the features' energy."""
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        ridge = self.cfg.online_lambda * a.diagonal(dim1=1, dim2=2).mean(1).clamp(min=1e-12)
        return torch.linalg.solve(a + ridge[:, None, None] * eye, b.unsqueeze(-1)).squeeze(-1)
