"""The cross-correlation head: every exemplar slides over its search maps in one grouped conv."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class XCorrHead(nn.Module):
    """Score maps ``out_scale * (z ⋆ x) + bias`` for a batch of exemplars and search maps.

    ``x`` holds ``k`` search maps per exemplar, ordered ``(k, nz)``: map ``i * nz + j`` is scored
    against exemplar ``j``. One ``conv2d`` call with ``groups = nz`` does the whole batch.

    Args:
        out_scale: SiamFC's 0.001 keeps the initial logits in the sigmoid's useful range.
    """

    def __init__(self, out_scale: float = 0.001) -> None:
        super().__init__()
        self.out_scale = out_scale
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        nz, channels = z.shape[:2]
        nx, _, height, width = x.shape
        if nx % nz:
            raise ValueError(f"{nx} search maps cannot be split evenly over {nz} exemplars")
        out = F.conv2d(x.reshape(nx // nz, nz * channels, height, width), z, groups=nz)
        return out.reshape(nx, 1, out.shape[-2], out.shape[-1]) * self.out_scale + self.bias
