"""siamtrack: a fully-convolutional Siamese single-object tracker (SiamFC) in PyTorch.

>>> import siamtrack
>>> tracker = siamtrack.load_tracker()          # shipped weights, best device
>>> tracker.init(frame, (x, y, w, h))           # frame: HxWx3 uint8 BGR, as cv2 reads it
>>> x, y, w, h = tracker.update(next_frame)     # tracker.score: this frame's confidence
"""
from siamtrack.config import Config, load_config
from siamtrack.errors import SiamtrackError
from siamtrack.loading import load_model, load_tracker, resolve_device
from siamtrack.tracking.tracker import SiamFCTracker

__version__ = "0.1.0"
__all__ = ["Config", "load_config", "SiamtrackError", "load_model", "load_tracker", "resolve_device",
           "SiamFCTracker", "__version__"]
