"""Run a tracker over a frame source and write what it found: a boxes file and/or an annotated video.

Boxes file format: one line per frame, ``x,y,w,h,score`` per target, targets one after another on
the line (``x0,y0,w0,h0,s0,x1,y1,w1,h1,s1`` for two targets). The first line holds the given
boxes with score 1. Lines are flushed frame by frame: a run that fails or is killed mid-way
leaves the boxes of every frame tracked so far.

Outputs are claimed by :class:`RunOutputs` before any work: paths checked (:func:`check_outputs`),
files locked against a second run, the video size checked against the codec's limits. Nothing is
emptied until tracking starts, and then only after the video writer opened.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import logging
import os
import signal
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from siamtrack import signals
from siamtrack.data.sources import FrameSource, opencv_name
from siamtrack.errors import SiamtrackError
from siamtrack.visualization import SearchRegions, Window, draw_response, draw_tracks

if TYPE_CHECKING:
    from siamtrack.tracking.tracker import SiameseTracker

log = logging.getLogger(__name__)

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
# The largest frame side each codec's FFmpeg encoder takes (MPEG-4 part 2: 13-bit sizes; JPEG).
CODEC_MAX_SIDE = {"mp4v": 8191, "MJPG": 65500}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C; timeout, docker stop, Slurm; closed terminal
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
    a place that cannot be written, an unknown video type, two outputs on one file, an output
    that is one of ``inputs`` or lies inside an input folder. ``outputs`` maps an option name
    (``--out-boxes``) to its path.

    Parent folders are created; a probe file that did not exist before is removed again.
    """
    given = {label: Path(path).expanduser() for label, path in outputs.items() if path is not None}
    protected = [Path(p).expanduser().resolve() for p in inputs if not isinstance(p, int)]
    seen: dict[Path, str] = {}
    for label, path in given.items():
        where = f"{label} {path}"
        if label == "--out-video" and path.suffix.lower() not in VIDEO_CODECS:
            raise SiamtrackError(f"cannot write video {path}: use one of {', '.join(VIDEO_CODECS)}")
        if path.is_dir():
            raise SiamtrackError(f"{where} is a folder: give a file name inside it")
        resolved = path.resolve()
        for source in protected:
            if resolved == source:
                raise SiamtrackError(f"{where} is the input itself: writing it would destroy it")
            if source in resolved.parents and source.is_dir():
                raise SiamtrackError(f"{where} lies inside the input folder {source}: writing there would change "
                                     "the frames being read; write it elsewhere")
        if resolved in seen:
            raise SiamtrackError(f"{where} is also {seen[resolved]}: give each output its own file")
        seen[resolved] = label
        _probe_writable(path, where)


def check_video_size(path: str | Path, frame_shape: tuple[int, ...]) -> None:
    """Refuse frames larger than the codec of ``path``'s type can encode, saying which type can."""
    codec = VIDEO_CODECS[Path(path).suffix.lower()]
    height, width = frame_shape[:2]
    if max(width, height) > CODEC_MAX_SIDE[codec]:
        fits = [ext for ext, other in VIDEO_CODECS.items() if CODEC_MAX_SIDE[other] >= max(width, height)]
        instead = f"; write {' or '.join(fits)} instead" if fits else ""
        raise SiamtrackError(f"cannot write video {path}: its codec ({codec}) takes frames of at most "
                             f"{CODEC_MAX_SIDE[codec]} pixels a side, and these are {width}x{height}{instead}")


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
    """The boxes file of a run, written and flushed line by line; it knows how many frames it holds.

    It writes through ``fd``, an open descriptor of ``path`` (the locked one of :class:`RunOutputs`),
    which it empties first.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.lines = 0
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # not /dev/stdout or a pipe
                os.ftruncate(fd, 0)
        except OSError as exc:
            raise SiamtrackError(f"cannot write boxes file {path}: {exc.strerror or exc}") from None
        self._handle = open(fd, "w", encoding="utf-8", closefd=False)

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
    check_video_size(path, frame_shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = (frame_shape[1], frame_shape[0])
    writer = cv2.VideoWriter(opencv_name(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        raise SiamtrackError(f"cannot write video {path}: OpenCV's video writer did not open a {codec} encoder "
                             f"for {size[0]}x{size[1]} frames at {fps:g} fps")
    return writer


class Stopped(KeyboardInterrupt):
    """A stop signal, raised where the run is, so that it unwinds like Ctrl-C: outputs finished."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class _Hold:
    """Whether stop signals are held back now (a frame's outputs are being written), and the one that came."""

    holding: bool = False
    pending: int | None = None


_HOLD = _Hold()


@contextlib.contextmanager
def stop_signals_unwind() -> Iterator[None]:
    """In the block, SIGINT, SIGTERM and SIGHUP raise :class:`Stopped` (a ``KeyboardInterrupt``);
    once one came, the others are ignored until the block ends, so that the outputs are finished
    (a second Ctrl-C must not cut the video's index short). Only the main thread gets signals:
    elsewhere the block runs as it is."""
    def handler(signum: int, _frame: Any) -> None:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        if _HOLD.holding:
            _HOLD.pending = signum
        else:
            raise Stopped(signum)

    with signals.handling(STOP_SIGNALS, handler):
        yield


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """A stop signal that comes during the block (see :func:`stop_signals_unwind`) stops the run
    after it. (Masking the signal would not do: the kernel may hand it to another thread.)"""
    _HOLD.holding = True
    try:
        yield
    finally:
        _HOLD.holding = False
    if _HOLD.pending is not None:
        signum, _HOLD.pending = _HOLD.pending, None
        raise Stopped(signum)


class RunOutputs:
    """The output files of one run, claimed up front and emptied only when tracking starts.

    Creating it checks the paths (:func:`check_outputs`, ``inputs`` protected), checks the video
    size against the codec when ``frame_shape`` is known, and locks each file (``flock``), so a
    second run on the same output is refused while this one lasts; nothing is emptied yet.
    :meth:`start` opens the video writer, and only then empties the boxes file: a writer that
    cannot open leaves an existing boxes file as it was. Files that this run created but never
    started writing are removed when it ends. Use it as a context manager.
    """

    def __init__(self, out_boxes: str | Path | None = None, out_video: str | Path | None = None,
                 inputs: Sequence[str | Path | int] = (), frame_shape: tuple[int, ...] | None = None) -> None:
        check_outputs({"--out-boxes": out_boxes, "--out-video": out_video}, inputs)
        self.boxes_path = None if out_boxes is None else Path(out_boxes).expanduser()
        self.video_path = None if out_video is None else Path(out_video).expanduser()
        if self.video_path is not None and frame_shape is not None:
            check_video_size(self.video_path, frame_shape)
        self._locks: dict[Path, int] = {}
        self._created: list[Path] = []
        self.started = False
        self.boxes: BoxesFile | None = None
        self.writer: cv2.VideoWriter | None = None
        try:
            for label, path in (("--out-boxes", self.boxes_path), ("--out-video", self.video_path)):
                if path is not None:
                    self._lock(label, path)
        except BaseException:
            self.close()
            raise

    def _lock(self, label: str, path: Path) -> None:
        existed = path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)  # the umask decides the mode
        except OSError as exc:
            raise SiamtrackError(f"cannot write {label} {path}: {exc.strerror or exc}") from None
        if not existed:
            self._created.append(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SiamtrackError(f"{label} {path} is being written by another run (it holds a lock on the file): "
                                 "wait for that run to end, or give another path") from None
        except OSError as exc:  # a file system without locks: the run goes on unprotected
            log.warning("cannot lock %s (%s): a second run on it would not be refused", path, exc.strerror or exc)
        self._locks[path] = fd

    def start(self, fps: float, frame_shape: tuple[int, ...]) -> None:
        """Open the video writer, then empty the boxes file: the run writes from here on."""
        if self.video_path is not None:
            self.writer = open_video_writer(self.video_path, fps, frame_shape)
        self.started = True
        if self.boxes_path is not None:
            self.boxes = BoxesFile(self.boxes_path, self._locks[self.boxes_path])

    def write(self, boxes: np.ndarray, scores: np.ndarray, canvas: np.ndarray | None) -> None:
        """One frame's boxes line and video frame, both or neither: stop signals that come while
        they are written are held until both are, so the two files always hold the same frames."""
        with _signals_held():
            if self.writer is not None and canvas is not None:
                self.writer.write(canvas)
            if self.boxes is not None:
                self.boxes.write(boxes, scores)

    def close(self) -> None:
        """Finish the video (its index is written here), close the files, release the locks."""
        if self.writer is not None:
            self.writer.release()
        if self.boxes is not None:
            self.boxes.close()
        for path, fd in self._locks.items():
            if not self.started and path in self._created:
                with contextlib.suppress(OSError):
                    path.unlink()
            os.close(fd)
        self._locks.clear()

    def __enter__(self) -> "RunOutputs":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
                 outputs: RunOutputs | None = None, show: bool = False, show_response: bool = False,
                 max_frames: int | None = None, progress: bool = True) -> TrackingRun:
    """Track ``boxes`` (given on the first frame) through ``source``.

    Args:
        tracker: a ready tracker; every target is followed in one pass per frame.
        source: the frames (read once).
        boxes: one or more ``(x, y, w, h)`` boxes on the first frame.
        outputs: the boxes file (one line per frame, see the module docstring) and annotated video
            (boxes, scores, frame numbers) to write; started here, closed by its owner.
        show: display the annotated frames in a window (q or Esc stops).
        show_response: blend the score map over the search region in the shown/written frames.
        max_frames: stop after this many frames (the first frame included).
        progress: show a tqdm progress bar with the live frame rate.
    """
    if max_frames is not None and max_frames < 1:
        raise SiamtrackError(f"max_frames must be at least 1, got {max_frames}")
    video_out = outputs is not None and outputs.video_path is not None
    if show_response and not (show or video_out):
        log.warning("--show-response has no effect without --show or --out-video")
    frames = iter(source)
    first = next(frames)
    start = time.perf_counter()
    tracker.init(first, [list(box) for box in boxes])
    tracker_seconds = time.perf_counter() - start
    all_boxes = [np.asarray([list(box) for box in boxes], dtype=np.float64)]
    all_scores = [np.ones(len(boxes))]
    draw = show or video_out
    total = source.num_frames if max_frames is None else min(max_frames, source.num_frames or max_frames)
    stopped = False
    with contextlib.ExitStack() as stack:
        window = None
        if show:
            window = Window(source.name)
            stack.callback(window.close)
        box_file = None
        if outputs is not None:
            outputs.start(source.fps or DEFAULT_FPS, first.shape)
            box_file = outputs.boxes
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
                canvas = None
                if draw:
                    canvas = draw_response(frame, regions) if regions is not None else frame
                    canvas = draw_tracks(canvas, all_boxes[-1], all_scores[-1], index, np.atleast_1d(tracker.present))
                if outputs is not None:
                    outputs.write(all_boxes[-1], all_scores[-1], canvas)
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
