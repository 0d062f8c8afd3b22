"""The tracker loop a config names (as pysot's tracker builder): ``tracker.loop`` -> class."""
from __future__ import annotations

import torch

from siamtrack.config import TrackerConfig
from siamtrack.errors import SiamtrackError
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.boxes import BoxTracker
from siamtrack.tracking.siamfc import SiamFCTracker
from siamtrack.tracking.tracker import SiameseTracker

LOOPS: dict[str, type[SiameseTracker]] = {"siamfc": SiamFCTracker, "box": BoxTracker}


def build_tracker(net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu",
                  name: str = "siamtrack") -> SiameseTracker:
    """The ``cfg.loop`` tracker over ``net`` on ``device``."""
    if cfg.loop not in LOOPS:
        raise SiamtrackError(f"unknown tracker.loop '{cfg.loop}' (known: {', '.join(LOOPS)})")
    try:
        return LOOPS[cfg.loop](net, cfg, device, name)
    except RuntimeError as exc:  # the network rejects crops of these sizes (too small for its layers)
        if "size" not in str(exc).lower():
            raise
        raise SiamtrackError(f"tracker.exemplar_size {cfg.exemplar_size} / tracker.instance_size {cfg.instance_size} "
                             f"do not fit the network: {str(exc).splitlines()[0]}") from None
