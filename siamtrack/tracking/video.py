"""Run a tracker over a frame source and write what it found: a boxes file and/or an annotated video.

Boxes file format: one line per frame, ``x,y,w,h,score`` per target, targets one after another on
the line (``x0,y0,w0,h0,s0,x1,y1,w1,h1,s1`` for two targets). The first line holds the given
boxes with score 1. Lines are flushed frame by frame: a run that fails or is killed mid-way
leaves the boxes of every frame tracked so far.

Output paths are checked by :func:`check_outputs` before any work, so that a path that cannot
be written fails at once rather than after the model is loaded.
"""
from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

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


def check_outputs(outputs: dict[str, str | Path | None], inputs: Sequence[str | Path | int] = ()) -> None:
    """Create or refuse each output path now, with the reason: a folder, a parent that is a file,
    a place that cannot be written, an unknown video type, two outputs on one file, or an output
    that is one of ``inputs``. ``outputs`` maps an option name (``--out-boxes``) to its path.

    Parent folders are created; a probe file that did not exist before is removed again.
    """
    given = {label: Path(path).expanduser() for label, path in outputs.items() if path is not None}
    protected = {Path(p).expanduser().resolve() for p in inputs if not isinstance(p, int)}
    seen: dict[Path, str] = {}
    for label, path in given.items():
        where = f"{label} {path}"
        if label == "--out-video" and path.suffix.lower() not in VIDEO_CODECS:
            raise SiamtrackError(f"cannot write video {path}: use one of {', '.join(VIDEO_CODECS)}")
        if path.is_dir():
            raise SiamtrackError(f"{where} is a folder: give a file name inside it")
        resolved = path.resolve()
        if resolved in protected:
            raise SiamtrackError(f"{where} is the input itself: writing it would destroy it")
        if resolved in seen:
            raise SiamtrackError(f"{where} is also {seen[resolved]}: give each output its own file")
        seen[resolved] = label
        _probe_writable(path, where)


def _probe_writable(path: Path, where: str) -> None:
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise SiamtrackError(f"cannot write {where}: {parent} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOENT and path.parent.is_dir():
            reason = f"files cannot be created in {path.parent}"
        raise SiamtrackError(f"cannot write {where}: {reason}") from None


class BoxesFile:
    """The boxes file of a run, written and flushed line by line; it knows how many frames it holds."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lines = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise SiamtrackError(f"cannot write boxes file {self.path}: {exc.strerror or exc}") from None

    def write(self, boxes: np.ndarray, scores: np.ndarray) -> None:
        """One frame's line (see the module docstring), on disk before the next frame is tracked."""
        try:
            self._handle.write(format_boxes_line(boxes, scores) + "\n")
            self._handle.flush()
        except OSError as exc:
            raise SiamtrackError(f"cannot write boxes file {self.path}: {exc.strerror or exc}") from None
        self.lines += 1

    def holds(self) -> str:
        """What the file holds now, in words: for messages about a run that stopped early."""
        return f"{self.path} holds the boxes of the first {self.lines} frame{'s' * (self.lines != 1)}"

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.close()


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
        box_file: BoxesFile | None = None
        if out_boxes is not None:
            box_file = BoxesFile(out_boxes)
            stack.callback(box_file.close)
        writer = None
        if out_video is not None:
            writer = open_video_writer(Path(out_video), source.fps or DEFAULT_FPS, first.shape)
            stack.callback(writer.release)
        bar = stack.enter_context(tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True))
        remaining = itertools.islice(frames, None if max_frames is None else max_frames - 1)
        try:
            for index, frame in enumerate(itertools.chain([first], remaining)):
                regions = None
                if index > 0:
                    regions = SearchRegions(tracker) if show_response and draw else None
                    tick = time.perf_counter()
                    all_boxes.append(np.atleast_2d(tracker.update(frame)))
                    tracker_seconds += time.perf_counter() - tick
                    all_scores.append(np.atleast_1d(tracker.score).astype(np.float64))
                if box_file is not None:
                    box_file.write(all_boxes[-1], all_scores[-1])
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
        except SiamtrackError as exc:
            if box_file is None:
                raise
            raise SiamtrackError(f"{exc} ({box_file.holds()})") from None
        except KeyboardInterrupt:
            if box_file is not None:
                log.warning("interrupted: %s", box_file.holds())
            raise
    return TrackingRun(source=source.name, boxes=np.stack(all_boxes), scores=np.stack(all_scores),
                       seconds=time.perf_counter() - start, tracker_seconds=tracker_seconds,
                       stopped_by_user=stopped)
