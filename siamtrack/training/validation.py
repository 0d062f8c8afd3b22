"""Validation by tracking: run the configured tracker loop over a GOT-10k-layout split with the current network.

The loss says how well the network scores pairs; tracking says how well it tracks. Each epoch
the tracker runs over every validation sequence (optionally its first frames only) and reports the
mean success AUC and precision@20 px. Under torchrun, sequences are shared out over the ranks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from siamtrack import distributed
from siamtrack.config import TrackerConfig
from siamtrack.data.datasets import BoxLimits, VideoSequence, load_sequence, open_got10k_split
from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError
from siamtrack.evaluation.metrics import sequence_scores, valid_frames
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.builder import build_tracker
from siamtrack.tracking.tracker import SiameseTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationSet:
    """Validation sequences, each cut to start at its first valid box and to at most ``max_frames`` frames."""

    sequences: list[VideoSequence]

    @classmethod
    def open(cls, split: str | Path, max_frames: int = 0) -> "ValidationSet":
        """Read a GOT-10k split folder (``.../val`` with ``list.txt``)."""
        dataset = open_got10k_split(split)
        sequences = []
        for i in range(len(dataset)):
            sequence = load_sequence(dataset, i, BoxLimits())
            valid = np.flatnonzero(valid_frames(sequence.boxes))
            if not len(valid):
                continue
            end = len(sequence.boxes) if max_frames <= 0 else valid[0] + max_frames
            keep = slice(int(valid[0]), int(end))
            sequences.append(VideoSequence(sequence.name, sequence.frames[keep], sequence.boxes[keep],
                                           np.empty(0, int)))
        return cls(sequences)

    @classmethod
    def open_many(cls, splits: Sequence[str | Path], max_frames: int = 0) -> "ValidationSet":
        """The sequences of several GOT-10k split folders together; names must not repeat."""
        sequences = [s for split in splits for s in cls.open(split, max_frames).sequences]
        names = [s.name for s in sequences]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise SiamtrackError(f"validation splits {', '.join(map(str, splits))} share sequence name(s) "
                                 f"{', '.join(clashes[:10])}: the same sequence would be scored twice")
        return cls(sequences)

    def __len__(self) -> int:
        return len(self.sequences)


def track_sequence(tracker: SiameseTracker, sequence: VideoSequence) -> np.ndarray:
    """Boxes ``(N, 4)`` the tracker gives over ``sequence``, started from its first ground-truth box."""
    tracker.init(read_image(sequence.frame(0)), sequence.boxes[0])
    boxes = [sequence.boxes[0]]
    boxes += [tracker.update(read_image(sequence.frame(i))) for i in range(1, len(sequence.boxes))]
    return np.stack(boxes)


def validate(net: SiameseNet, cfg: TrackerConfig, val_set: ValidationSet, device: torch.device) -> dict[str, float]:
    """Mean success AUC and precision@20 over the validation set (sequences shared out over ranks).

    Leaves ``net`` in eval mode; the caller puts it back to training.
    """
    tracker = build_tracker(net, cfg, device, name="validation")
    rank, world = distributed.rank(), distributed.world_size()
    mine = [sequence_scores(track_sequence(tracker, s), s.boxes) for s in val_set.sequences[rank::world]]
    scores = [s for part in distributed.gather_objects(mine) for s in part if s["frames"] > 0]
    if not scores:
        return {"auc": float("nan"), "precision": float("nan")}
    return {"auc": float(np.mean([s["auc"] for s in scores])),
            "precision": float(np.mean([s["precision"] for s in scores]))}
