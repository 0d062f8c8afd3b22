"""siamtrack: a fully-convolutional Siamese single-object tracker (SiamFC) in PyTorch.

>>> import siamtrack
>>> tracker = siamtrack.load_tracker()          # shipped weights, best device
>>> tracker.init(frame, (x, y, w, h))           # frame: HxWx3 uint8 BGR, as cv2 reads it
>>> x, y, w, h = tracker.update(next_frame)     # tracker.score: this frame's confidence

The public names are imported on first use, so that tools which fail early on bad arguments do
not pay for importing torch first.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "siamtrack.config",
    "load_config": "siamtrack.config",
    "SiamtrackError": "siamtrack.errors",
    "load_model": "siamtrack.loading",
    "load_tracker": "siamtrack.loading",
    "resolve_device": "siamtrack.loading",
    "SiameseTracker": "siamtrack.tracking.tracker",
    "SiamFCTracker": "siamtrack.tracking.siamfc",
    "BoxTracker": "siamtrack.tracking.boxes",
    "build_tracker": "siamtrack.tracking.builder",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'siamtrack' has no attribute {name!r}")
