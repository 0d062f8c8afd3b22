"""Where frames come from: a video file, a folder of images, a glob pattern, a camera, or memory.

Every source yields HxWx3 uint8 BGR frames (grayscale, RGBA and 16-bit images are converted by
:func:`siamtrack.data.images.to_bgr`) and says what it knows of its length and frame rate.
Problems a user can fix (missing path, undecodable video, empty folder...) raise
:class:`SiamtrackError` when the source is opened, before any tracking starts.
"""
from __future__ import annotations

import glob
import logging
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from siamtrack.data.images import read_image, to_bgr
from siamtrack.errors import SiamtrackError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp",
                              ".ppm", ".pgm", ".pbm", ".jp2", ".exr"})
GLOB_CHARACTERS = frozenset("*?[")

log = logging.getLogger(__name__)


def natural_key(path: Path | str) -> tuple:
    """Sort key that orders ``frame2.png`` before ``frame10.png``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path)))


class FrameSource(ABC):
    """A single pass over frames; use it as a context manager so devices and files are released."""

    name: str
    num_frames: int | None = None
    fps: float | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield the frames in order, as HxWx3 uint8 BGR."""

    @abstractmethod
    def first_frame(self) -> np.ndarray:
        """The first frame, without consuming it (e.g. to select a box before tracking starts)."""

    def close(self) -> None:
        """Release whatever the source holds open."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class VideoSource(FrameSource):
    """A video file OpenCV decodes, or a camera given by its index.

    The first frame is read when the source opens, so an undecodable file fails at once. A file
    that stops decoding before the frame count its header states (truncated, damaged) ends the
    frames there with a warning saying how many were read: what was read is still tracked.
    """

    def __init__(self, video: Path | int) -> None:
        self.name = f"camera {video}" if isinstance(video, int) else str(video)
        self._capture = cv2.VideoCapture(video if isinstance(video, int) else str(video))
        if not self._capture.isOpened():
            if isinstance(video, int):
                raise SiamtrackError(f"cannot open camera {video}")
            raise SiamtrackError(f"cannot open video {video} (not a video OpenCV can decode)")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            self.close()
            raise SiamtrackError(f"{self.name} gives no frame (empty or undecodable video)")
        self._first = to_bgr(frame)
        count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.num_frames = int(count) if isinstance(video, Path) and count > 0 else None
        self.fps = float(fps) if np.isfinite(fps) and fps > 0 else None

    def first_frame(self) -> np.ndarray:
        if self._first is None:
            raise RuntimeError(f"{self.name} was already read; open the source again")
        return self._first

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is None:
            raise RuntimeError(f"{self.name} was already read; open the source again")
        first, self._first = self._first, None
        yield first
        read = 1
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                if self.num_frames is not None and read < self.num_frames:
                    log.warning("%s stopped decoding after %d of the %d frames its header states "
                                "(truncated or damaged file): only those %d frames are tracked",
                                self.name, read, self.num_frames, read)
                return
            read += 1
            yield to_bgr(frame)

    def close(self) -> None:
        self._capture.release()


class ImageSequence(FrameSource):
    """Image files read in the given order; all must have the size of the first one."""

    def __init__(self, paths: Sequence[Path], name: str) -> None:
        if not paths:
            raise SiamtrackError(f"{name} holds no images")
        self.paths = list(paths)
        self.name = name
        self.num_frames = len(self.paths)

    def first_frame(self) -> np.ndarray:
        return read_image(self.paths[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        first_shape = None
        for path in self.paths:
            frame = read_image(path)
            if first_shape is None:
                first_shape = frame.shape
            elif frame.shape != first_shape:
                raise SiamtrackError(f"image {path} is {frame.shape[1]}x{frame.shape[0]}, but the first "
                                     f"image is {first_shape[1]}x{first_shape[0]}: frames must share one size")
            yield frame


class FrameList(FrameSource):
    """Frames already in memory (e.g. a synthetic clip)."""

    def __init__(self, frames: Sequence[np.ndarray], name: str = "frames in memory", fps: float | None = None) -> None:
        if len(frames) == 0:
            raise SiamtrackError(f"{name}: no frames")
        self.frames = frames
        self.name = name
        self.num_frames = len(frames)
        self.fps = fps

    def first_frame(self) -> np.ndarray:
        return to_bgr(self.frames[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        return (to_bgr(frame) for frame in self.frames)


def _image_files(paths: Sequence[str | Path]) -> list[Path]:
    files = [Path(p) for p in paths if Path(p).suffix.lower() in IMAGE_EXTENSIONS and Path(p).is_file()]
    return sorted(files, key=natural_key)


def open_source(spec: str | Path | int) -> FrameSource:
    """Open a frame source from what a user typed.

    ``spec`` is a video file, a folder of images (sorted naturally: 2 before 10), a glob pattern
    such as ``'frames/*.jpg'`` (quote it in the shell), a single image, or a camera index (``0``).
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not Path(spec).exists()):
        return VideoSource(int(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        files = _image_files(list(path.iterdir()))
        if not files:
            raise SiamtrackError(f"folder {path} holds no images "
                                 f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        return ImageSequence(files, name=f"folder {path}")
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return ImageSequence([path], name=str(path))
        return VideoSource(path)
    if GLOB_CHARACTERS & set(str(spec)):
        files = _image_files(glob.glob(str(path)))
        if not files:
            raise SiamtrackError(f"no image file matches the pattern {spec}")
        return ImageSequence(files, name=str(spec))
    raise SiamtrackError(f"no such video, folder or image: {spec}")
