"""Frame sources: which files a folder or pattern yields, in which order, in which format."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamtrack.data.sources import FrameList, ImageSequence, VideoSource, open_source
from siamtrack.errors import SiamtrackError


def write_images(folder: Path, names: list[str], shape: tuple[int, ...] = (24, 32, 3)) -> None:
    folder.mkdir(exist_ok=True)
    for value, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full(shape, 10 * value, np.uint8))


def test_folder_is_read_in_natural_order_and_skips_other_files(tmp_path: Path) -> None:
    write_images(tmp_path / "seq", ["f1.png", "f2.png", "f10.png"])  # values 0, 10, 20
    (tmp_path / "seq" / "groundtruth.txt").write_text("1,2,3,4\n")
    with open_source(tmp_path / "seq") as source:
        assert source.num_frames == 3 and source.fps is None
        first = source.first_frame()
        frames = list(source)
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 10, 20]
    np.testing.assert_array_equal(first, frames[0])


def test_glob_pattern_selects_matching_images(tmp_path: Path) -> None:
    write_images(tmp_path, ["a10.jpg", "a9.jpg", "b1.jpg"])
    source = open_source(str(tmp_path / "a*.jpg"))
    assert isinstance(source, ImageSequence)
    assert [path.name for path in source.paths] == ["a9.jpg", "a10.jpg"]
    with pytest.raises(SiamtrackError, match="no image file matches"):
        open_source(str(tmp_path / "c*.jpg"))


def test_grayscale_16_bit_and_rgba_images_become_bgr_uint8(tmp_path: Path) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), np.full((24, 32), 40000, np.uint16))
    cv2.imwrite(str(folder / "1.png"), np.full((24, 32), 90, np.uint8))
    cv2.imwrite(str(folder / "2.png"), np.dstack([np.full((24, 32, 3), 70, np.uint8), np.zeros((24, 32), np.uint8)]))
    frames = list(open_source(folder))
    assert all(frame.shape == (24, 32, 3) and frame.dtype == np.uint8 for frame in frames)
    assert [int(frame[0, 0, 0]) for frame in frames] == [40000 >> 8, 90, 70]


def test_frames_of_different_sizes_are_refused(tmp_path: Path) -> None:
    write_images(tmp_path / "seq", ["0.png"])
    write_images(tmp_path / "seq", ["1.png"], shape=(30, 32, 3))
    with pytest.raises(SiamtrackError, match="must share one size"):
        list(open_source(tmp_path / "seq"))


def test_video_reports_length_and_frame_rate(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (64, 48))
    for value in range(6):
        writer.write(np.full((48, 64, 3), 40 * value, np.uint8))
    writer.release()
    with open_source(str(path)) as source:
        assert source.num_frames == 6 and source.fps == pytest.approx(12.0)
        frames = list(source)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert abs(int(frames[3].mean()) - 120) < 8


def test_unusable_sources_raise_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "empty").mkdir()
    for spec, message in ((tmp_path / "missing.mp4", "no such"), (tmp_path / "text.mp4", "cannot open video"),
                          (tmp_path / "empty", "holds no images")):
        with pytest.raises(SiamtrackError, match=message):
            open_source(spec)


def test_frame_list_converts_frames() -> None:
    source = FrameList([np.zeros((8, 8), np.uint8)], name="one gray frame")
    assert next(iter(source)).shape == (8, 8, 3)


def write_png(path: bytes | Path, image: np.ndarray) -> None:
    """``cv2.imwrite`` for any file name (it takes str names, which must be UTF-8)."""
    ok, data = cv2.imencode(".png", image)
    assert ok
    with open(path, "wb") as handle:
        handle.write(data.tobytes())


def test_frames_and_videos_with_names_that_are_not_utf8_are_read(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path / "l\xe9gumes")  # a UTF-8 folder name...
    os.mkdir(folder)
    for index in (10, 2):  # ...holding Latin-1 file names
        write_png(folder + b"/\xe9t\xe9_%d.png" % index, np.full((24, 32, 3), index, np.uint8))
    with open_source(os.fsdecode(folder)) as source:
        assert [int(frame[0, 0, 0]) for frame in source] == [2, 10]
    video = os.fsencode(tmp_path) + b"/\xe9t\xe9.avi"
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for _ in range(3):
        writer.write(np.full((24, 32, 3), 90, np.uint8))
    writer.release()
    with open_source(os.fsdecode(video)) as source:
        assert len(list(source)) == 3


def test_jpeg_frames_are_turned_as_their_exif_orientation_says(tmp_path: Path) -> None:
    from PIL import Image, ImageOps

    image = np.zeros((40, 60, 3), np.uint8)
    image[:10, :20] = 255  # a white block in the top-left corner of the stored pixels
    photo = Image.fromarray(image)
    exif = photo.getexif()
    exif[0x0112] = 6  # EXIF orientation 6: shown turned 90 degrees clockwise, as phones store portrait photos
    photo.save(tmp_path / "0.jpg", exif=exif.tobytes())
    with open_source(tmp_path) as source:
        frame = source.first_frame()
    shown = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "0.jpg")))
    assert frame.shape == (60, 40, 3) == shown.shape
    white = np.argwhere(frame.mean(axis=2) > 128)
    np.testing.assert_array_equal([white.min(axis=0), white.max(axis=0)], [[0, 30], [19, 39]])  # top right


def test_16_bit_frames_share_the_scale_of_the_first_one(tmp_path: Path) -> None:
    """12-bit data: a hot pixel in one frame does not darken it, a dark frame is not brightened."""
    base = np.full((24, 32), 2000, np.uint16)  # 12-bit values: shown as 2000 >> 4 = 125
    hot = base.copy()
    hot[0, 0] = 65535
    dark = np.full((24, 32), 1000, np.uint16)  # fits in 10 bits, but it is the 12-bit source's dark frame
    for index, frame in enumerate((base, hot, dark)):
        write_png(tmp_path / f"{index}.png", frame)
    frames = list(open_source(tmp_path))
    assert [int(frame[5, 5, 0]) for frame in frames] == [125, 125, 62]
    assert int(frames[1][0, 0, 0]) == 255


def test_float_frames_share_the_scale_of_the_first_one_and_must_be_images() -> None:
    unit = np.full((8, 8), 0.5, np.float32)  # a [0, 1] source...
    bright = unit.copy()
    bright[0, 0] = 3.0  # ...with a frame whose peak is over 1: still [0, 1], the peak clipped
    frames = list(FrameList([unit, bright]))
    assert [int(frame[4, 4, 0]) for frame in frames] == [127, 127] and int(frames[1][0, 0, 0]) == 255
    normalised = np.full((8, 8), -2.1, np.float32)  # an ImageNet-normalised frame
    with pytest.raises(SiamtrackError, match=r"\[0, 1\] or \[0, 255\].*-2\.1"):
        list(FrameList([normalised]))


def test_urls_are_streams_not_glob_patterns(tmp_path: Path) -> None:
    written = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(written), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for _ in range(2):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    clip = written.rename(tmp_path / "clip.avi?x=1")  # what FFmpeg's file:// protocol opens for file://.../clip.avi?x=1
    with open_source(f"file://{clip}") as source:
        assert isinstance(source, VideoSource) and len(list(source)) == 2
    with pytest.raises(SiamtrackError, match=r"cannot open stream rtsp://127\.0\.0\.1:9/x\?x=1"):
        open_source("rtsp://127.0.0.1:9/x?x=1")  # the discard port: nothing answers


def test_a_fifo_is_read_as_a_video(tmp_path: Path) -> None:
    clip, fifo = tmp_path / "clip.avi", tmp_path / "pipe"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for value in range(4):
        writer.write(np.full((24, 32, 3), 50 * value, np.uint8))
    writer.release()
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(clip.read_bytes()))
    feeder.start()
    try:
        with open_source(fifo) as source:
            assert isinstance(source, VideoSource)
            frames = list(source)
    finally:
        feeder.join(timeout=30)
    assert len(frames) == 4 and abs(int(frames[2].mean()) - 100) < 8


def test_a_huge_camera_index_is_a_clear_error() -> None:
    with pytest.raises(SiamtrackError, match="camera index 12345678901234567890 is out of range"):
        open_source("12345678901234567890")


def test_macos_appledouble_files_are_not_frames(tmp_path: Path) -> None:
    write_images(tmp_path, ["0.jpg", "1.jpg"])
    (tmp_path / "._0.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble metadata, not an image")
    with open_source(tmp_path) as source:
        assert [path.name for path in source.paths] == ["0.jpg", "1.jpg"]
