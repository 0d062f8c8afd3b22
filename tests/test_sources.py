"""Frame sources: which files a folder or pattern yields, in which order, in which format."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from siamtrack.data.sources import FrameList, ImageSequence, open_source
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
