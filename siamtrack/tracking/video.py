"""Run a tracker over a frame source and write what it found: a boxes file and/or an annotated video.

Boxes file format: one line per frame, ``x,y,w,h,score`` per target, targets one after another on
the line (``x0,y0,w0,h0,s0,x1,y1,w1,h1,s1`` for two targets). The first line holds the given
boxes with score 1.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, TextIO

import cv2
import numpy as np
from tqdm import tqdm

from siamtrack.data.sources import FrameSource
from siamtrack.errors import SiamtrackError
from siamtrack.visualization import SearchRegions, Window, draw_response, draw_tracks

if TYPE_CHECKING:
    from siamtrack.tracking.tracker import SiameseTracker

log = logging.getLogger(__name__)

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
DEFAULT_FPS = 25.0  # for sources that do not know theirs (image folders)


def parse_box(text: str) -> tuple[float, ...]:
    """``'x,y,w,h'`` -> floats; their count and validity are checked by ``validate_box``."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise SiamtrackError(f"box '{text}' is not four numbers x,y,w,h") from None


def format_boxes_line(boxes: np.ndarray, scores: np.ndarray) -> str:
    """One line of the boxes file: ``x,y,w,h,score`` for each target, one after another."""
    return ",".join(f"{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.4f}" for (x, y, w, h), s in zip(boxes, scores))


def open_video_writer(path: Path, fps: float, frame_shape: tuple[int, ...]) -> cv2.VideoWriter:
    """A ``cv2.VideoWriter`` for ``path`` (.mp4/.m4v/.mov: MPEG-4, .avi: MJPEG); parents are created."""
    codec = VIDEO_CODECS.get(path.suffix.lower())
    if codec is None:
        raise SiamtrackError(f"cannot write video {path}: use one of {', '.join(VIDEO_CODECS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (frame_shape[1], frame_shape[0]))
    if not writer.isOpened():
        raise SiamtrackError(f"cannot write video {path}")
    return writer


@dataclass
class TrackingRun:
    """What a run produced: ``boxes`` (frames, targets, 4) as x,y,w,h, ``scores`` (frames, targets)."""

    source: str
    boxes: np.ndarray
    scores: np.ndarray
    seconds: float
    tracker_seconds: float
    stopped_by_user: bool = False

    def summary(self) -> str:
        """One line: frames, targets, time and speed."""
        frames, targets = self.scores.shape
        stopped = " (stopped by the user)" if self.stopped_by_user else ""
        return (f"{self.source}: tracked {targets} target{'s' * (targets > 1)} over {frames} frames{stopped} "
                f"in {self.seconds:.1f} s: {frames / max(self.seconds, 1e-9):.1f} fps overall, "
                f"{frames / max(self.tracker_seconds, 1e-9):.1f} fps in the tracker")


def track_source(tracker: SiameseTracker, source: FrameSource, boxes: Sequence[Sequence[float]],
                 out_boxes: str | Path | None = None, out_video: str | Path | None = None,
                 show: bool = False, show_response: bool = False, max_frames: int | None = None,
                 progress: bool = True) -> TrackingRun:
    """Track ``boxes`` (given on the first frame) through ``source``.

    Args:
        tracker: a ready tracker; every target is followed in one pass per frame.
        source: the frames (read once).
        boxes: one or more ``(x, y, w, h)`` boxes on the first frame.
        out_boxes: text file to write, one line per frame (see the module docstring).
        out_video: annotated video to write (boxes, scores, frame numbers).
        show: display the annotated frames in a window (q or Esc stops).
        show_response: blend the score map over the search region in the shown/written frames.
        max_frames: stop after this many frames (the first frame included).
        progress: show a tqdm progress bar with the live frame rate.
    """
    if max_frames is not None and max_frames < 1:
        raise SiamtrackError(f"max_frames must be at least 1, got {max_frames}")
    if show_response and not (show or out_video):
        log.warning("--show-response has no effect without --show or --out-video")
    frames = iter(source)
    first = next(frames)
    start = time.perf_counter()
    tracker.init(first, [list(box) for box in boxes])
    tracker_seconds = time.perf_counter() - start
    all_boxes = [np.asarray([list(box) for box in boxes], dtype=np.float64)]
    all_scores = [np.ones(len(boxes))]
    draw = show or out_video is not None
    total = source.num_frames if max_frames is None else min(max_frames, source.num_frames or max_frames)
    stopped = False
    with contextlib.ExitStack() as stack:
        window = None
        if show:
            window = Window(source.name)
            stack.callback(window.close)
        box_file: TextIO | None = None
        if out_boxes is not None:
            Path(out_boxes).parent.mkdir(parents=True, exist_ok=True)
            box_file = stack.enter_context(open(out_boxes, "w", encoding="utf-8"))
        writer = None
        if out_video is not None:
            writer = open_video_writer(Path(out_video), source.fps or DEFAULT_FPS, first.shape)
            stack.callback(writer.release)
        bar = stack.enter_context(tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True))
        remaining = itertools.islice(frames, None if max_frames is None else max_frames - 1)
        for index, frame in enumerate(itertools.chain([first], remaining)):
            regions = None
            if index > 0:
                regions = SearchRegions(tracker) if show_response and draw else None
                tick = time.perf_counter()
                all_boxes.append(np.atleast_2d(tracker.update(frame)))
                tracker_seconds += time.perf_counter() - tick
                all_scores.append(np.atleast_1d(tracker.score).astype(np.float64))
            if box_file is not None:
                box_file.write(format_boxes_line(all_boxes[-1], all_scores[-1]) + "\n")
            if draw:
                canvas = draw_response(frame, regions) if regions is not None else frame
                canvas = draw_tracks(canvas, all_boxes[-1], all_scores[-1], index)
                if writer is not None:
                    writer.write(canvas)
                if window is not None and not window.show(canvas):
                    stopped = True
            bar.update(1)
            if stopped:
                break
    return TrackingRun(source=source.name, boxes=np.stack(all_boxes), scores=np.stack(all_scores),
                       seconds=time.perf_counter() - start, tracker_seconds=tracker_seconds,
                       stopped_by_user=stopped)
