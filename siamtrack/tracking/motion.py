"""Where to search next: a damped constant-velocity prior on each target's centre.

Without it the search crop and the cosine window are centred on the last position, so a fast
target (a kicked ball, a jumping person) runs towards the crop's edge, where the window weighs it
down, and a look-alike standing where the target was is favoured by the window. With it both are
centred where the target is expected: the last position plus its recent velocity, damped so that
a target that stops is not searched for far ahead. The velocity is an exponential average of the
measured steps, capped at ``motion_max_step`` search sides per frame, and reset to zero when the
target is lost (re-detection searches around the last position, not ahead of it).
"""
from __future__ import annotations

import numpy as np

from siamtrack.config import TrackerConfig


class MotionPrior:
    """Damped constant-velocity prediction for ``num_targets`` centres (frame pixels)."""

    def __init__(self, cfg: TrackerConfig, num_targets: int) -> None:
        self.cfg = cfg
        self.velocity = np.zeros((num_targets, 2))

    def predict(self, centres: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Expected centres ``(len(targets), 2)`` of ``targets`` this frame, from their last ``centres``."""
        return centres + self.cfg.motion_damping * self.velocity[targets]

    def observe(self, targets: np.ndarray, steps: np.ndarray, sides: np.ndarray, lost: np.ndarray) -> None:
        """Update the velocities from this frame's measured ``steps`` ``(len(targets), 2)`` (new centre
        minus last centre); ``sides`` are the search sides (frame px) the cap is relative to; ``lost``
        targets start again from rest."""
        cfg = self.cfg
        limit = cfg.motion_max_step * sides[:, None]
        velocity = (1 - cfg.motion_rate) * self.velocity[targets] + cfg.motion_rate * np.clip(steps, -limit, limit)
        velocity[lost] = 0.0
        self.velocity[targets] = velocity
