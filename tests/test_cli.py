"""``siamtrack track`` end to end, as a user runs it: real clips, image folders, the demo, bad input;
and the ``siamtrack`` command itself: usage errors, what it imports, the tools/ shims.

Every command runs in its own process (``sys.executable -m siamtrack``); they run a few at a
time because each one spends much of its time importing torch.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIP = "tennis.mp4"
CLIP_BOX = "305,112,165,248"
CLIP_FRAMES = 15
FOLDER_SIZE = (240, 180)  # width, height
FOLDER_FRAMES = 5
MOVING_BOX = (190.0, 70.0, 40.0, 30.0)  # leaves the frame on the right
TINY_BOX = (20.0, 150.0, 3.0, 3.0)


def write_frame_folder(folder: Path) -> None:
    """Frames of a textured block moving out of the frame, saved as 8-bit colour, grayscale, RGBA
    and 16-bit PNGs (OpenCV reads them back in these formats)."""
    rng = np.random.default_rng(0)
    width, height = FOLDER_SIZE
    yy, xx = np.mgrid[0:height, 0:width]
    background = (100 + 20 * np.sin(xx / 23.0) + 20 * np.cos(yy / 17.0)).astype(np.uint8)
    block = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    folder.mkdir()
    for index in range(FOLDER_FRAMES):
        frame = cv2.cvtColor(background, cv2.COLOR_GRAY2BGR)
        x = int(MOVING_BOX[0]) + 25 * index
        visible = max(0, min(40, width - x))
        frame[70:100, x:x + visible] = block[:, :visible]
        converted = {1: cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY),
                     2: cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA),
                     3: frame.astype(np.uint16) * 257}.get(index, frame)
        # Unpadded numbers: a natural sort must put frame 2 before frame 10.
        cv2.imwrite(str(folder / f"frame{index * 5}.png"), converted)


def siamtrack(*args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """``siamtrack ARGS...`` in a new process (as ``python -m siamtrack``)."""
    # One torch thread per process: several processes share the cores better than threads do.
    return subprocess.run([sys.executable, "-m", "siamtrack", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def cli(*args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """``siamtrack track ARGS...`` in a new process."""
    return siamtrack("track", *args, cwd=cwd)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data: Path, random_weights: Path) -> dict[str, subprocess.CompletedProcess]:
    """Every command of this module, run a few at a time; results by case name."""
    tmp = tmp_path_factory.mktemp("cli")
    write_frame_folder(tmp / "frames")
    (tmp / "empty").mkdir()
    (tmp / "not_a_video.mp4").write_text("this is text, not a video\n")
    (tmp / "broken.pth").write_bytes(b"not a torch file")
    latin1 = os.fsdecode(os.fsencode(tmp) + b"/\xe9t\xe9")  # a name that is not UTF-8, as sys.argv holds it
    shutil.copytree(tmp / "frames", latin1)
    (tmp / "wide").mkdir()
    cv2.imwrite(str(tmp / "wide" / "0.png"), np.zeros((16, 9000, 3), np.uint8))
    (tmp / "kept.txt").write_text("an earlier run's boxes\n")
    clip = shared_data / "demo" / CLIP
    run_on_folder = (tmp / "frames", "--weights", random_weights, "--device", "cpu")
    cases = {
        "clip": (clip, "--box", CLIP_BOX, "--weights", random_weights, "--device", "cpu",
                 "--max-frames", CLIP_FRAMES, "--out-video", tmp / "clip.mp4", "--out-boxes", tmp / "clip.txt",
                 "--show-response"),
        "folder": (*run_on_folder, "--box", ",".join(map(str, MOVING_BOX)), "--box", ",".join(map(str, TINY_BOX)),
                   "--out-video", tmp / "folder.avi", "--out-boxes", tmp / "folder.txt"),
        "missing path": (tmp / "no_such_clip.mp4", "--box", "1,1,10,10"),
        "undecodable video": (tmp / "not_a_video.mp4", "--box", "1,1,10,10"),
        "empty folder": (tmp / "empty", "--box", "1,1,10,10"),
        "zero width": (*run_on_folder, "--box", "10,10,0,20"),
        "box outside the frame": (*run_on_folder, "--box", "500,10,20,20"),
        "NaN in the box": (*run_on_folder, "--box", "nan,10,20,20"),
        "unreadable weights": (tmp / "frames", "--box", "10,10,20,20", "--weights", tmp / "broken.pth"),
        "names not UTF-8": (latin1, "--box", "10,10,20,20", "--weights", random_weights, "--device", "cpu",
                            "--out-video", latin1 + ".avi", "--out-boxes", latin1 + ".txt"),
        "video too wide for mp4": (tmp / "wide", "--box", "10,4,20,8", "--out-boxes", tmp / "kept.txt",
                                   "--out-video", tmp / "wide.mp4"),
        "output inside the input folder": (tmp / "frames", "--box", "10,10,20,20", "--out-boxes",
                                           tmp / "frames" / "frame5.png"),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(cli, *args) for name, args in cases.items()}
        futures["demo"] = pool.submit(cli, "--demo", "--max-frames", 4, "--weights", random_weights,
                                      "--device", "cpu", cwd=tmp)
        results = {name: future.result() for name, future in futures.items()}
    results["tmp"] = tmp
    return results


def read_boxes(path: Path) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in path.read_text().splitlines()])


def count_video_frames(path: Path | str) -> int:
    capture = cv2.VideoCapture(os.fsencode(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_real_clip_gives_one_box_line_and_one_video_frame_per_frame(runs) -> None:
    result, tmp = runs["clip"], runs["tmp"]
    assert result.returncode == 0, result.stderr
    boxes = read_boxes(tmp / "clip.txt")
    assert boxes.shape == (CLIP_FRAMES, 5)
    np.testing.assert_allclose(boxes[0], [*map(float, CLIP_BOX.split(",")), 1.0])
    assert np.all(np.isfinite(boxes)) and np.all(boxes[:, 2:4] > 0)
    assert np.all((boxes[:, 4] >= 0) & (boxes[:, 4] <= 1))
    assert count_video_frames(tmp / "clip.mp4") == CLIP_FRAMES
    assert f"over {CLIP_FRAMES} frames" in result.stdout and "fps" in result.stdout


def test_image_folder_of_mixed_formats_with_two_targets_one_leaving_one_tiny(runs) -> None:
    result, tmp = runs["folder"], runs["tmp"]
    assert result.returncode == 0, result.stderr
    boxes = read_boxes(tmp / "folder.txt")
    assert boxes.shape == (FOLDER_FRAMES, 10)  # x,y,w,h,score for each of the two targets
    np.testing.assert_allclose(boxes[0], [*MOVING_BOX, 1.0, *TINY_BOX, 1.0])
    assert np.all(np.isfinite(boxes))
    width, height = FOLDER_SIZE
    centers = boxes[:, [0, 5]] + boxes[:, [2, 7]] / 2
    assert np.all((centers >= 0) & (centers <= width))
    assert count_video_frames(tmp / "folder.avi") == FOLDER_FRAMES


def test_demo_needs_no_input_and_reports_mean_iou(runs) -> None:
    result, tmp = runs["demo"], runs["tmp"]
    assert result.returncode == 0, result.stderr
    assert read_boxes(tmp / "out" / "demo_boxes.txt").shape == (4, 5)
    assert count_video_frames(tmp / "out" / "demo.mp4") == 4
    iou_line = [line for line in result.stdout.splitlines() if "mean IoU" in line]
    assert len(iou_line) == 1
    assert 0.0 <= float(iou_line[0].rsplit(":", 1)[1]) <= 1.0


def test_names_that_are_not_utf8_are_tracked_and_written(runs) -> None:
    result, tmp = runs["names not UTF-8"], os.fsencode(runs["tmp"])
    assert result.returncode == 0, result.stderr
    assert len(open(tmp + b"/\xe9t\xe9.txt", "rb").read().splitlines()) == FOLDER_FRAMES
    assert count_video_frames(os.fsdecode(tmp + b"/\xe9t\xe9.avi")) == FOLDER_FRAMES


def test_a_video_too_wide_for_its_codec_is_refused_before_anything_is_emptied(runs) -> None:
    assert (runs["tmp"] / "kept.txt").read_text() == "an earlier run's boxes\n"
    assert cv2.imread(str(runs["tmp"] / "frames" / "frame5.png")) is not None


@pytest.mark.parametrize("case, message", [
    ("video too wide for mp4", "at most 8191 pixels a side, and these are 9000x16; write .avi instead"),
    ("output inside the input folder", "is the input itself"),  # frame5.png: one of the frames
    ("missing path", "no such video"),
    ("undecodable video", "cannot open video"),
    ("empty folder", "holds no images"),
    ("zero width", "width or height <= 0"),
    ("box outside the frame", "outside"),
    ("NaN in the box", "NaN"),
    ("unreadable weights", "cannot read weights"),
])
def test_bad_input_is_one_error_line_and_exit_code_2(runs, case: str, message: str) -> None:
    result = runs[case]
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("args, message", [
    (["track"], "SOURCE is required"),
    (["track", "clip.mp4", "--box", "1,2,3,4", "--max-frames", "0"], "argument --max-frames: must be at least 1"),
    (["test", "--dataset", "imagenet", "--root", "x"], "argument --dataset: invalid choice: 'imagenet'"),
    (["bench", "--frames", "1"], "--frames must be >= 2"),
    (["export", "--no-such-option", "--out", "x"], "unrecognized arguments: --no-such-option"),
    (["no-such-command"], "invalid choice: 'no-such-command'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_usage_errors_are_one_error_line_and_exit_code_2(args: list[str], message: str) -> None:
    result = siamtrack(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr and "--help" in result.stderr


HEAVY = ("torch", "cv2", "matplotlib", "got10k", "numpy")


def imported_by(code: str) -> set[str]:
    """The top-level packages among HEAVY that ``code`` imports, run in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint('IMPORTED:', *sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.rsplit("IMPORTED:", 1)[1].split())


def test_help_and_usage_errors_import_nothing_heavy() -> None:
    for argv in (["--help"], ["track", "--help"], ["test", "--help"], ["track", "--no-such-option"]):
        code = f"from siamtrack.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
        assert imported_by(code) == set(), argv


def test_tracking_does_not_import_matplotlib(random_weights: Path) -> None:
    code = (f"import numpy as np, siamtrack\nt = siamtrack.load_tracker({str(random_weights)!r}, device='cpu')\n"
            "frame = np.zeros((120, 160, 3), np.uint8)\nt.init(frame, (40, 30, 40, 30))\nt.update(frame)\n"
            "import siamtrack.tracking.video, siamtrack.data.sources, siamtrack.visualization")
    assert "matplotlib" not in imported_by(code)


def test_tools_scripts_are_shims_of_the_command() -> None:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "track.py")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("error: SOURCE is required"), result.stderr
    result = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "bench_speed.py"), "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("usage: siamtrack bench"), result.stderr


def test_shipped_weights_and_configs_by_name_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    from siamtrack import load_model, resources

    monkeypatch.chdir(tmp_path)
    net, cfg = load_model("siamfc_fast", "siamfc_fast_int8")  # bare names: the shipped files
    assert cfg.model.backbone == "alexnet_half" and cfg.tracker.backend == "onnx"
    assert resources.resolve(cfg.tracker.onnx_dir) == resources.weights_dir() / "onnx" / "siamfc_fast_int8"
    assert resources.default_weights().is_file() and resources.default_config().is_file()
    assert load_model("weights/siamfc_fast.pth")[1].model.backbone == "alexnet_half"  # the repository's paths
    (tmp_path / "weights").mkdir()
    assert resources.resolve("weights") == Path("weights")  # what is here comes first


def test_release_ships_a_network_with_the_loop_of_a_config(tmp_path: Path, random_weights: Path) -> None:
    import torch

    from siamtrack import load_tracker

    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {REPO_ROOT / 'configs' / 'siamfc_alexnet.yaml'}\ntracker: {{window_influence: 0.3}}\n")
    out = tmp_path / "shipped" / "weights.pth"
    result = siamtrack("release", "--weights", random_weights, "--config", loop, "--out", out)
    assert result.returncode == 0 and str(out) in result.stdout, result.stderr
    assert load_tracker(out, device="cpu").cfg.window_influence == 0.3  # the file runs the config's loop
    shipped, trained = torch.load(out, weights_only=True), torch.load(random_weights, weights_only=True)
    assert all(torch.equal(shipped["model"][k], trained["model"][k]) for k in trained["model"])
    assert shipped["meta"]["tracker"] == str(loop)
    result = siamtrack("release", "--weights", random_weights, "--config", "efficientnet_box", "--out", out)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "describes model" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_leaves_a_playable_video_and_a_boxes_line_per_frame(shared_data, tmp_path, signum) -> None:
    """``timeout``, ``docker stop`` and Slurm send SIGTERM; a closed ssh session SIGHUP. While that
    run lasts, a second run on its boxes file is refused."""
    from siamtrack.cli import main

    clip, video, boxes = shared_data / "demo" / "sam2_01_dog.mp4", tmp_path / "out.mp4", tmp_path / "boxes.txt"
    command = [sys.executable, "-m", "siamtrack", "track", str(clip), "--box", "450,380,250,168", "--weights",
               "siamfc_fast", "--device", "cpu", "--out-video", str(video), "--out-boxes", str(boxes)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 240
        while not boxes.exists() or len(boxes.read_text().splitlines()) < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no 3 frames tracked in 240 s"
            time.sleep(0.05)
        assert main(["track", str(clip), "--box", "1,1,10,10", "--out-boxes", str(boxes)]) == 2  # refused
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signum, stderr
    assert f"interrupted by {signal.Signals(signum).name}" in stderr and "Traceback" not in stderr
    lines = boxes.read_text().splitlines()
    assert len(lines) >= 3 and all(len(line.split(",")) == 5 for line in lines)
    np.testing.assert_allclose([float(v) for v in lines[0].split(",")], [450, 380, 250, 168, 1])
    assert count_video_frames(video) == len(lines)
