"""Outputs are checked and locked before any work, a run that fails or is stopped mid-way keeps what it
wrote (a playable video, a boxes line per frame), and a video that ends early says so."""
from __future__ import annotations

import logging
import os
import signal
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamtrack.data.sources import FrameList, ImageSequence, VideoSource, open_source
from siamtrack.errors import SiamtrackError
from siamtrack.tracking.video import RunOutputs, Stopped, check_outputs, stop_signals_unwind, track_source


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


def test_a_second_run_on_the_same_output_is_refused_while_the_first_lasts(tmp_path) -> None:
    boxes, video = tmp_path / "boxes.txt", tmp_path / "video.avi"
    boxes.write_text("the first run's line\n")
    with RunOutputs(out_boxes=boxes, out_video=video):
        for second in ({"out_boxes": boxes}, {"out_video": video}, {"out_boxes": video}):
            with pytest.raises(SiamtrackError, match="is being written by another run"):
                RunOutputs(**second)
        assert boxes.read_text() == "the first run's line\n"
    with RunOutputs(out_boxes=boxes):  # the first run ended: its lock is gone
        pass


def test_a_video_writer_that_cannot_open_says_why_and_leaves_the_boxes_file(pixel_tracker, tmp_path) -> None:
    boxes = tmp_path / "boxes.txt"
    boxes.write_text("an earlier run's boxes\n")
    wide = FrameList([np.zeros((16, 9000, 3), np.uint8)] * 2)
    with pytest.raises(SiamtrackError, match=r"at most 8191 pixels a side, and these are 9000x16; write \.avi"), \
            RunOutputs(out_boxes=boxes, out_video=tmp_path / "wide.mp4") as outputs:
        track_source(pixel_tracker, wide, [(10, 4, 20, 8)], outputs=outputs, progress=False)
    assert boxes.read_text() == "an earlier run's boxes\n"
    with pytest.raises(SiamtrackError, match="at most 8191 pixels"):  # known before the model loads
        RunOutputs(out_boxes=boxes, out_video=tmp_path / "wide.mp4", frame_shape=(16, 9000, 3))


def test_outputs_inside_an_input_folder_are_refused(tmp_path) -> None:
    paths = write_frames(tmp_path / "frames", 2)
    source = open_source(tmp_path / "frames")
    for output in (paths[1], tmp_path / "frames" / "boxes.txt"):
        with pytest.raises(SiamtrackError, match="lies inside the input folder|is the input itself"):
            RunOutputs(out_boxes=output, inputs=source.inputs)
    assert cv2.imread(str(paths[1])) is not None


def test_outputs_get_the_umask_mode_and_unstarted_new_files_are_removed(pixel_tracker, tmp_path) -> None:
    boxes, video = tmp_path / "boxes.txt", tmp_path / "video.mp4"
    with RunOutputs(out_boxes=boxes, out_video=video):
        assert boxes.exists()
    assert not boxes.exists() and not video.exists()  # the run never started: nothing left behind
    previous = os.umask(0o022)
    try:
        with RunOutputs(out_boxes=boxes, out_video=video) as outputs:
            track_source(pixel_tracker, FrameList([np.zeros((48, 64, 3), np.uint8)] * 3), [(10, 10, 20, 20)],
                         outputs=outputs, progress=False)
    finally:
        os.umask(previous)
    assert [stat.S_IMODE(path.stat().st_mode) for path in (boxes, video)] == [0o644, 0o644]
    assert len(boxes.read_text().splitlines()) == 3


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
@pytest.mark.parametrize("moment", ["reading a frame", "tracking", "writing"])
def test_a_stop_signal_at_any_moment_leaves_matching_boxes_and_video(pixel_tracker, tmp_path, suffix, moment) -> None:
    """SIGTERM to this process while frame 4 is read, tracked or written: the run unwinds, the
    video plays and holds as many frames as the boxes file has lines."""
    frames = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8) for i in range(8)]

    def terminate() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    class SignallingFrames(FrameList):
        def __iter__(self):
            for index, frame in enumerate(super().__iter__()):
                if moment == "reading a frame" and index == 4:
                    terminate()
                yield frame

    class SignallingWriter:  # the signal comes between frame 4's video frame and its boxes line
        def __init__(self, writer: cv2.VideoWriter) -> None:
            self.writer, self.frames = writer, 0

        def write(self, canvas: np.ndarray) -> None:
            self.writer.write(canvas)
            self.frames += 1
            if moment == "writing" and self.frames == 5:
                terminate()

        def release(self) -> None:
            self.writer.release()

    class SignallingOutputs(RunOutputs):
        def start(self, fps, frame_shape):
            super().start(fps, frame_shape)
            self.writer = SignallingWriter(self.writer)

    update = pixel_tracker.update
    calls = []

    def signalling_update(frame):
        calls.append(1)
        if moment == "tracking" and len(calls) == 4:
            terminate()
        return update(frame)

    pixel_tracker.update = signalling_update
    boxes, video = tmp_path / "boxes.txt", tmp_path / f"video{suffix}"
    with pytest.raises(Stopped) as stopped, stop_signals_unwind(), \
            SignallingOutputs(out_boxes=boxes, out_video=video) as outputs:
        track_source(pixel_tracker, SignallingFrames(frames), [(10, 10, 20, 20)], outputs=outputs, progress=False)
    assert stopped.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers put back
    lines = boxes.read_text().splitlines()
    assert 4 <= len(lines) <= 5 and all(len(line.split(",")) == 5 for line in lines)
    capture = cv2.VideoCapture(str(video))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == len(lines)
