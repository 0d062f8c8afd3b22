"""Frames in (sources, image formats), training pairs out (datasets, pair sampling, transforms)."""
