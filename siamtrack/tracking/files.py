"""got10k's one-pass loop over image files, with each frame read the way ``siamtrack track`` reads it.

got10k's ``Tracker.track`` opens frames with PIL and converts them to RGB, which clips 16-bit
grayscale (PIL mode ``I;16``) to white. Every tracker's ``track`` here, and ``siamtrack test`` for
every tracker it runs, reads the files as ``siamtrack track`` reads a folder of frames instead (an
:class:`~siamtrack.data.sources.ImageSequence`): the same depth and channel conversion for siamtrack
and its peers, and for the CLI and the API.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from siamtrack.data.sources import ImageSequence
from siamtrack.errors import SiamtrackError


def _one_box(box: Any) -> np.ndarray:
    """``box`` as 4 floats, or a :class:`SiamtrackError` naming the parameter."""
    try:
        values = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise SiamtrackError(f"track(): box {box!r} is not four numbers x,y,w,h") from None
    if values.shape != (4,):
        raise SiamtrackError(f"track(): box must be one x,y,w,h box (4 numbers), got shape {values.shape}; "
                             "to track several targets call init() with a list of boxes, then update()")
    return values


def track_files(tracker: Any, img_files: Sequence[str | os.PathLike], box: Sequence[float],
                visualize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Run ``tracker`` (``init(frame, box)`` / ``update(frame)``) over ``img_files`` in order, as
    got10k's ``Tracker.track`` does: ``(boxes (N, 4), seconds (N,))``, the given box first.

    Frames are HxWx3 uint8 BGR from an :class:`ImageSequence` of the files, as ``siamtrack track``
    reads them. Each frame's seconds include reading and decoding it, the same for every tracker
    (got10k's loop also decodes inside the timed call).
    """
    if isinstance(img_files, (str, bytes, os.PathLike)):
        raise SiamtrackError(f"track(): img_files must be a list of image files in order, not one path ({img_files!r})")
    files = list(img_files)
    if not files:
        raise SiamtrackError("track(): img_files is empty: give the image files of the frames, in order")
    first = _one_box(box)
    boxes, times = np.zeros((len(files), 4)), np.zeros(len(files))
    boxes[0] = first
    try:
        paths = [Path(os.fsdecode(f)) for f in files]
    except TypeError:
        raise SiamtrackError("track(): img_files must hold the image files' paths (str or Path)") from None
    frames = iter(ImageSequence(paths, name=f"the {len(files)} frames given"))
    for index in range(len(files)):
        start = time.perf_counter()
        frame = next(frames)
        if index == 0:
            tracker.init(frame, first)
        else:
            boxes[index] = tracker.update(frame)
        times[index] = time.perf_counter() - start
        if visualize:
            from got10k.utils.viz import show_frame
            show_frame(frame, boxes[index])
    return boxes, times
