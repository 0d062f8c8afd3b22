"""The tracker loop and the crop geometry it relies on."""
from siamtrack.lazy_viz import defer_got10k_viz

defer_got10k_viz()  # before tracker.py imports got10k.trackers: no matplotlib import when tracking
