"""Outputs are checked before any work, a run that fails mid-way keeps what it wrote, and a video
that ends early says so."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamtrack.data.sources import ImageSequence, VideoSource, open_source
from siamtrack.errors import SiamtrackError
from siamtrack.tracking.video import RunOutputs, check_outputs, track_source


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "clip.mp4").write_bytes(b"not really a video")
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.mark.parametrize("outputs, message", [
    ({"--out-boxes": "folder"}, "is a folder"),
    ({"--out-video": "folder"}, "use one of"),
    ({"--out-video": "folder.mp4/"}, None),  # a plain new file name: fine
    ({"--out-boxes": "/proc/x.txt"}, "cannot be created in /proc"),
    ({"--out-video": "/proc/x.mp4"}, "cannot be created in /proc"),
    ({"--out-boxes": "clip.mp4/sub/v.txt"}, "clip.mp4 is a file, not a folder"),
    ({"--out-video": "clip.mp4/sub/v.mp4"}, "clip.mp4 is a file, not a folder"),
    ({"--out-video": "out.mkv"}, "use one of .mp4"),
    ({"--out-boxes": "same.mp4", "--out-video": "same.mp4"}, "give each output its own file"),
    ({"--out-video": "clip.mp4"}, "is the input itself"),
])
def test_outputs_are_created_or_refused_up_front(workdir, monkeypatch, outputs, message) -> None:
    monkeypatch.chdir(workdir)
    if message is None:
        check_outputs(outputs, inputs=["clip.mp4"])
        assert not Path("folder.mp4").exists(), "the probe file is removed again"
        return
    with pytest.raises(SiamtrackError, match=message):
        check_outputs(outputs, inputs=["clip.mp4"])


def test_parent_folders_are_created_and_existing_files_kept(tmp_path) -> None:
    existing = tmp_path / "old.txt"
    existing.write_text("keep me until the run writes")
    check_outputs({"--out-boxes": tmp_path / "a" / "b" / "boxes.txt", "--out-video": existing.with_suffix(".avi")})
    check_outputs({"--out-boxes": existing})
    assert (tmp_path / "a" / "b").is_dir() and existing.read_text() == "keep me until the run writes"


def write_frames(folder: Path, count: int, size: tuple[int, int] = (96, 72)) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    for index in range(count):
        path = folder / f"{index:03d}.png"
        cv2.imwrite(str(path), rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        paths.append(path)
    return paths


def test_a_run_failing_mid_way_keeps_the_boxes_so_far_and_says_how_many(pixel_tracker, tmp_path) -> None:
    paths = write_frames(tmp_path / "frames", 6)
    paths[3].write_bytes(b"")  # frame 4 of 6 is damaged
    out = tmp_path / "boxes.txt"
    with pytest.raises(SiamtrackError, match=r"cannot read image .*003\.png.*holds the boxes of the first 3 frames"), \
            RunOutputs(out_boxes=out) as outputs:
        track_source(pixel_tracker, ImageSequence(paths, "frames"), [(20, 20, 30, 30)], outputs=outputs, progress=False)
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(len(line.split(",")) == 5 for line in lines)


def test_a_video_ending_before_its_stated_length_warns_with_the_count(pixel_tracker, tmp_path, caplog) -> None:
    whole, cut = tmp_path / "whole.avi", tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    source = open_source(cut)
    assert isinstance(source, VideoSource) and source.num_frames == 30
    with caplog.at_level(logging.WARNING), source:
        run = track_source(pixel_tracker, source, [(10, 10, 20, 20)], progress=False)
    read = len(run.boxes)
    assert 1 < read < 30
    assert f"stopped decoding after {read} of the 30 frames" in caplog.text
