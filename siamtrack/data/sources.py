"""Where frames come from: a video file, a stream URL, a folder of images, a glob pattern, a camera,
or memory.

Every source yields HxWx3 uint8 BGR frames of one size (grayscale, RGBA, 16-bit and float images
are converted by a :class:`~siamtrack.data.images.FrameFormat`, whose value range is decided once
per source) and says what it knows of its length and frame rate. Problems a user can fix (missing
path, undecodable video, empty folder...) raise :class:`SiamtrackError` when the source is opened,
before any tracking starts. File names need not be UTF-8: OpenCV is handed their bytes.
"""
from __future__ import annotations

import glob
import logging
import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from siamtrack.data.images import FrameFormat, decode_image
from siamtrack.errors import SiamtrackError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp",
                              ".ppm", ".pgm", ".pbm", ".jp2", ".exr"})
GLOB_CHARACTERS = frozenset("*?[")
MAX_CAMERA_INDEX = 2**31 - 1  # OpenCV takes a C int
APPLEDOUBLE_PREFIX = "._"  # macOS metadata files beside the real ones on non-Apple disks: not frames

log = logging.getLogger(__name__)


def natural_key(path: Path | str) -> tuple:
    """Sort key that orders ``frame2.png`` before ``frame10.png``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path)))


def opencv_name(path: str | Path) -> bytes:
    """``path`` as OpenCV's video functions must get it: the file system's bytes. A ``str`` holding a
    name that is not UTF-8 (decoded with surrogate escapes) crashes OpenCV; its bytes do not."""
    return os.fsencode(path)


class FrameSource(ABC):
    """A single pass over frames; use it as a context manager so devices and files are released."""

    name: str
    num_frames: int | None = None
    fps: float | None = None
    inputs: tuple[Path, ...] = ()  # the files and folders read: outputs must not overwrite them

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
    """A video file (or FIFO) OpenCV decodes, a stream URL, or a camera given by its index.

    The first frame is read when the source opens, so an undecodable file fails at once. A file
    that stops decoding before the frame count its header states (truncated, damaged) ends the
    frames there with a warning saying how many were read: what was read is still tracked.
    """

    def __init__(self, video: Path | str | int) -> None:
        if isinstance(video, int):
            if not 0 <= video <= MAX_CAMERA_INDEX:
                raise SiamtrackError(f"camera index {video} is out of range (0 to {MAX_CAMERA_INDEX})")
            self.name, what = f"camera {video}", f"camera {video}"
            self._capture = cv2.VideoCapture(video)
        else:
            self.name = os.fsdecode(video)
            what = f"video {self.name}" if isinstance(video, Path) else f"stream {self.name}"
            self.inputs = (video,) if isinstance(video, Path) else ()
            self._capture = cv2.VideoCapture(opencv_name(video))
        self._format = FrameFormat(self.name)
        if not self._capture.isOpened():
            detail = "" if isinstance(video, int) else " (not a video OpenCV can decode)" if isinstance(video, Path) \
                else " (unreachable, or not a stream OpenCV can decode)"
            raise SiamtrackError(f"cannot open {what}{detail}")
        ok, frame = self._capture.read()
        if not ok or frame is None:
            self.close()
            raise SiamtrackError(f"{self.name} gives no frame (empty or undecodable video)")
        self._first = self._format.convert(frame, f"frame 1 of {self.name}")
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
            yield self._format.convert(frame, f"frame {read} of {self.name}")

    def close(self) -> None:
        self._capture.release()


class ImageSequence(FrameSource):
    """Image files read in the given order; all must have the size of the first one."""

    def __init__(self, paths: Sequence[Path], name: str, folder: Path | None = None) -> None:
        if not paths:
            raise SiamtrackError(f"{name} holds no images")
        self.paths = list(paths)
        self.name = name
        self.num_frames = len(self.paths)
        self.inputs = (*self.paths, *([folder] if folder is not None else []))
        self._format = FrameFormat(name)
        self._first: np.ndarray | None = None

    def first_frame(self) -> np.ndarray:
        if self._first is None:
            self._first = self._read(self.paths[0])
        return self._first

    def _read(self, path: Path) -> np.ndarray:
        return self._format.convert(decode_image(path), f"image {os.fsdecode(path)}")

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.first_frame()
        for path in self.paths[1:]:
            yield self._read(path)


class FrameList(FrameSource):
    """Frames already in memory (e.g. a synthetic clip)."""

    def __init__(self, frames: Sequence[np.ndarray], name: str = "frames in memory", fps: float | None = None) -> None:
        if len(frames) == 0:
            raise SiamtrackError(f"{name}: no frames")
        self.frames = frames
        self.name = name
        self.num_frames = len(frames)
        self.fps = fps
        self._format = FrameFormat(name)

    def first_frame(self) -> np.ndarray:
        return self._format.convert(self.frames[0], "frame 1")

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self._format.convert(frame, f"frame {index}") for index, frame in enumerate(self.frames, 1))


def _image_files(paths: Sequence[str | Path]) -> list[Path]:
    files = [Path(p) for p in paths if Path(p).suffix.lower() in IMAGE_EXTENSIONS
             and not Path(p).name.startswith(APPLEDOUBLE_PREFIX) and Path(p).is_file()]
    return sorted(files, key=natural_key)


def _camera_index(spec: str | Path | int) -> int | None:
    """The camera index ``spec`` names (an int, or ASCII digits that are not a file here), if any."""
    if isinstance(spec, int):
        return spec
    if isinstance(spec, str) and re.fullmatch(r"[0-9]+", spec) and not Path(spec).exists():
        return int(spec)
    return None


def open_source(spec: str | Path | int) -> FrameSource:
    """Open a frame source from what a user typed.

    ``spec`` is a video file (or a FIFO a video is written into), a stream URL (anything with
    ``://``: ``rtsp://host/x?y=1``, ``http://...``), a folder of images (sorted naturally: 2 before
    10; macOS ``._*`` files skipped), a glob pattern such as ``'frames/*.jpg'`` (quote it in the
    shell), a single image, or a camera index (``0``).
    """
    camera = _camera_index(spec)
    if camera is not None:
        return VideoSource(camera)
    path = Path(spec).expanduser()
    if path.is_dir():
        files = _image_files(list(path.iterdir()))
        if not files:
            raise SiamtrackError(f"folder {path} holds no images "
                                 f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
        return ImageSequence(files, name=f"folder {path}", folder=path)
    if path.exists():
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            return ImageSequence([path], name=str(path))
        return VideoSource(path)
    if "://" in str(spec):
        return VideoSource(str(spec))
    if GLOB_CHARACTERS & set(str(spec)):
        files = _image_files(glob.glob(str(path)))
        if not files:
            raise SiamtrackError(f"no image file matches the pattern {spec}")
        return ImageSequence(files, name=str(spec))
    raise SiamtrackError(f"no such video, folder or image: {spec}")
