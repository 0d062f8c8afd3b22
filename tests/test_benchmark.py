"""The benchmark harness end to end on tiny generated sequences: folder layouts, peers, outputs, sharding."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamtrack.cli import main
from siamtrack.errors import SiamtrackError
from siamtrack.evaluation import compat
from siamtrack.evaluation.benchmark import run_benchmark
from siamtrack.evaluation.peers import OpenCVTracker, build_trackers

NUM_FRAMES = 10


def _write_frames(folder: Path, pattern: str, seed: int) -> np.ndarray:
    """A bright square moving over seeded noise; returns its x,y,w,h boxes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 120, (96, 128, 3), dtype=np.uint8)
    boxes = np.array([[20 + 3 * i, 30 + 2 * i, 24, 20] for i in range(NUM_FRAMES)], dtype=float)
    for i, (x, y, w, h) in enumerate(boxes.astype(int)):
        frame = background.copy()
        frame[y:y + h, x:x + w] = (40, 220, 250)
        frame[y + 5:y + 10, x + 5:x + 15] = (200, 30, 30)
        cv2.imwrite(str(folder / (pattern % (i + 1))), frame)
    return boxes


def write_otb_sequence(root: Path, name: str, seed: int = 0, nan_frame: int | None = None) -> np.ndarray:
    """``<name>/img/0001.jpg...`` + tab-separated ``groundtruth_rect.txt``; optional NaN (absent) frame."""
    boxes = _write_frames(root / name / "img", "%04d.jpg", seed)
    gt = boxes.copy()
    if nan_frame is not None:
        gt[nan_frame] = np.nan
    np.savetxt(root / name / "groundtruth_rect.txt", gt, fmt="%g", delimiter="\t")
    return gt


def write_got10k_sequence(root: Path, name: str, seed: int = 1, absent_frame: int | None = None) -> np.ndarray:
    """``<name>/00000001.jpg...`` + ``groundtruth.txt`` (+ ``absence.label`` marking ``absent_frame``)."""
    boxes = _write_frames(root / name, "%08d.jpg", seed)
    gt = boxes.copy()
    absence = np.zeros(NUM_FRAMES, dtype=int)
    if absent_frame is not None:
        gt[absent_frame], absence[absent_frame] = 0, 1
    np.savetxt(root / name / "groundtruth.txt", gt, fmt="%.4f", delimiter=",")
    np.savetxt(root / name / "absence.label", absence, fmt="%d")
    return gt


def test_folder_benchmark_of_two_trackers_end_to_end(tmp_path, random_weights):
    data = tmp_path / "clips"
    gts = {"otb_clip": write_otb_sequence(data, "otb_clip", nan_frame=4),
           "got_clip": write_got10k_sequence(data, "got_clip", absent_frame=6)}
    out = tmp_path / "report"
    scores = run_benchmark("folder", data, ["cv:KCF", f"siamtrack={random_weights}"], device="cpu", report_dir=out)

    names = ["cv-KCF", "siamtrack-random_alexnet"]
    assert sorted(scores) == sorted(names)
    for name in names:
        for seq, gt in gts.items():
            per_seq = scores[name]["sequences"][seq]
            assert per_seq["frames"] == NUM_FRAMES - 1  # the absent frame is not scored, the first one is
            assert 0 <= per_seq["auc"] <= 1 and per_seq["fps"] > 0
            boxes = np.loadtxt(out / "results" / "clips" / name / f"{seq}.txt", delimiter=",")
            assert boxes.shape == (NUM_FRAMES, 4)  # one box per frame, the given box first
            np.testing.assert_allclose(boxes[0], gt[0], atol=1e-3)
        assert scores[name]["overall"]["sequences"] == 2
    assert scores["cv-KCF"]["overall"]["auc"] > 0.5  # an easy square: a working, deterministic peer follows it

    summary = (out / "summary.md").read_text()
    assert all(f"| {name} |" in summary for name in names) and "| otb_clip | 9 |" in summary
    assert json.loads((out / "scores.json").read_text())["trackers"]["cv-KCF"]["overall"]["frames"] == 18
    for plot in ("success_plot.png", "precision_plot.png"):
        assert cv2.imread(str(out / plot)) is not None


def test_scores_equal_the_got10k_otb_toolkit_on_the_same_result_files(tmp_path, no_downloads):
    for seed, name in enumerate(["Basketball", "Bolt"]):  # a partial OTB-2015 copy: 2 of 100 sequences
        write_otb_sequence(tmp_path / "OTB", name, seed)
    out = tmp_path / "report"
    ours = run_benchmark("otb", tmp_path / "OTB", ["cv:KCF"], report_dir=out)["cv-KCF"]
    toolkit = compat.ExperimentOTB(str(tmp_path / "OTB"), 2015, result_dir=str(out / "results"),
                                   report_dir=str(tmp_path / "toolkit"))
    with compat.quiet():
        theirs = toolkit.report(["cv-KCF"])["cv-KCF"]
    assert ours["overall"]["auc"] == pytest.approx(theirs["overall"]["success_score"], abs=1e-9)
    assert ours["overall"]["precision"] == pytest.approx(theirs["overall"]["precision_score"], abs=1e-9)
    for seq in ("Basketball", "Bolt"):
        assert ours["sequences"][seq]["auc"] == pytest.approx(theirs["seq_wise"][seq]["success_score"], abs=1e-9)


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any got10k download attempt fail loudly."""
    import got10k.datasets

    def refuse(url, filename):
        raise AssertionError(f"download attempted: {url}")
    for module in (got10k.datasets.otb, got10k.datasets.vot, got10k.datasets.tcolor128):
        monkeypatch.setattr(module, "download", refuse)


def test_a_partial_got10k_copy_skips_missing_sequences_with_a_warning(tmp_path, caplog):
    write_got10k_sequence(tmp_path / "GOT" / "val", "GOT-10k_Val_000001")
    (tmp_path / "GOT" / "val" / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    with caplog.at_level(logging.WARNING):
        scores = run_benchmark("got10k", tmp_path / "GOT", ["cv:MIL"], report_dir=tmp_path / "report")
    assert list(scores["cv-MIL"]["sequences"]) == ["GOT-10k_Val_000001"]
    assert "skipping sequence GOT-10k_Val_000002" in caplog.text
    assert "GOT-10k_Val_000002" in (tmp_path / "report" / "summary.md").read_text()
    assert (tmp_path / "report" / "results" / "GOT-10k" / "cv-MIL" / "GOT-10k_Val_000001"
            / "GOT-10k_Val_000001_001.txt").is_file()


def test_opencv_peer_takes_pil_rgb_frames_and_unknown_trackers_are_named(tmp_path):
    from PIL import Image
    write_otb_sequence(tmp_path, "clip")
    frames = sorted((tmp_path / "clip" / "img").glob("*.jpg"))
    tracker = OpenCVTracker("MIL")
    boxes, times = tracker.track([str(f) for f in frames], [20, 30, 24, 20])
    assert boxes.shape == (NUM_FRAMES, 4) and np.all(times > 0)
    tracker.init(Image.open(frames[0]), [20, 30, 24, 20])  # PIL RGB in: converted to BGR
    assert tracker.update(Image.open(frames[1])).shape == (4,)
    with pytest.raises(Exception, match="no tracker 'Boosting'.*MIL"):
        build_trackers(["cv:Boosting"])
    with pytest.raises(Exception, match="missing"):
        build_trackers([f"cv:Nano={tmp_path}"])
    with pytest.raises(Exception, match="unknown tracker 'foo'"):
        build_trackers(["foo"])


def test_cli_reports_bad_input_on_one_line(tmp_path, capsys):
    assert main(["test", "--dataset", "folder", "--root", str(tmp_path / "nowhere"), "--trackers", "cv:MIL"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err and len(err.strip().splitlines()) == 1
    assert main(["test", "--dataset", "otb", "--root", str(tmp_path), "--version", "2099", "--trackers", "cv:MIL"]) == 2
    assert "unknown otb version '2099'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun is not installed beside this Python")
def test_torchrun_shards_sequences_and_rank0_merges(tmp_path):
    for i in range(3):
        write_otb_sequence(tmp_path / "clips", f"clip{i}", seed=i)
    single = run_benchmark("folder", tmp_path / "clips", ["cv:KCF"], report_dir=tmp_path / "one")
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "siamtrack", "test",
                    "--dataset", "folder", "--root", str(tmp_path / "clips"), "--trackers", "cv:KCF",
                    "--device", "cpu", "--report-dir", str(tmp_path / "two")],
                   check=True, capture_output=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    merged = json.loads((tmp_path / "two" / "scores.json").read_text())["trackers"]["cv-KCF"]
    assert list(merged["sequences"]) == ["clip0", "clip1", "clip2"]
    for seq in merged["sequences"]:
        assert merged["sequences"][seq]["auc"] == pytest.approx(single["cv-KCF"]["sequences"][seq]["auc"])


def test_vot_toolkit_evaluates_siamtrack_through_trax(tmp_path, random_weights):
    pytest.importorskip("vot", reason="vot-toolkit is an optional extra (make test installs it): "
                                      "pip install --no-deps -r requirements-vot.txt")
    from siamtrack.evaluation.vot_integration import make_workspace
    write_otb_sequence(tmp_path / "clips", "otb_clip", nan_frame=4)  # one sequence: one tracker process
    workspace = make_workspace(tmp_path / "clips", tmp_path / "ws", weights=str(random_weights), device="cpu")
    assert (workspace / "sequences" / "list.txt").read_text().split() == ["otb_clip"]
    assert "nan" in (workspace / "sequences" / "otb_clip" / "groundtruth.txt").read_text().splitlines()[4]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for command in ("evaluate", "analysis"):
        done = subprocess.run([sys.executable, "-m", "vot", command, "--workspace", str(workspace), "siamtrack"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert (workspace / "results" / "siamtrack" / "baseline" / "otb_clip" / "otb_clip_001.bin").is_file()
    analysis = json.loads(sorted((workspace / "analysis").glob("*.json"))[-1].read_text())
    accuracy = analysis["results"]["baseline"]["results"][0][0][0]
    assert 0 < accuracy <= 1


def _clips(root: Path, count: int = 3) -> Path:
    """``count`` generated OTB-layout sequences under ``root``."""
    for i in range(count):
        write_otb_sequence(root, f"clip{i}", seed=i)
    return root


def test_intervals_and_the_paired_difference_to_the_reference_are_reported(tmp_path, capsys):
    data, out = _clips(tmp_path / "clips"), tmp_path / "report"
    assert main(["test", "--dataset", "folder", "--root", str(data), "--trackers", "cv:KCF,cv:CSRT",
                 "--reference", "cv:KCF", "--report-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    document = json.loads((out / "scores.json").read_text())
    assert document["bootstrap"] == {"level": 0.9, "resamples": 10_000, "seed": 0, "unit": "sequences",
                                     "reference": "cv-KCF"}
    for name in ("cv-KCF", "cv-CSRT"):
        overall = document["trackers"][name]["overall"]
        for metric in ("auc", "precision"):
            low, high = overall[f"{metric}_interval"]
            per_sequence = [s[metric] for s in document["trackers"][name]["sequences"].values()]
            assert min(per_sequence) <= low <= overall[metric] <= high <= max(per_sequence)
    versus = document["trackers"]["cv-CSRT"]["versus"]
    kcf, csrt = (document["trackers"][n]["sequences"] for n in ("cv-KCF", "cv-CSRT"))
    assert versus["tracker"] == "cv-KCF" and "versus" not in document["trackers"]["cv-KCF"]
    assert versus["auc"]["difference"] == pytest.approx(np.mean([csrt[s]["auc"] - kcf[s]["auc"] for s in kcf]))
    assert versus["auc"]["low"] <= versus["auc"]["difference"] <= versus["auc"]["high"]
    csrt_row = next(line for line in printed.splitlines() if line.startswith("| cv-CSRT |"))
    auc = document["trackers"]["cv-CSRT"]["overall"]
    assert f"{auc['auc']:.3f} [{auc['auc_interval'][0]:.3f}, {auc['auc_interval'][1]:.3f}]" in csrt_row
    assert f"{versus['auc']['difference']:+.3f} [{versus['auc']['low']:+.3f}" in csrt_row
    assert "| cv-KCF |" in printed and "(reference)" in printed and "AUC - cv-KCF" in printed
    assert main(["test", "--dataset", "folder", "--root", str(data), "--trackers", "cv:KCF",
                 "--reference", "cv:Nano", "--report-dir", str(out)]) == 2
    assert "--reference 'cv:Nano' is not one of the trackers" in capsys.readouterr().err


def test_nanotrack_is_the_default_reference():
    from siamtrack.evaluation.benchmark import reference_tracker
    try:
        trackers = build_trackers(["cv:KCF", "cv:Nano"])
    except Exception as exc:  # the NanoTrack files are beside the checkout, not in it
        pytest.skip(f"NanoTrack model files not found: {exc}")
    assert reference_tracker(trackers, ["cv:KCF", "cv:Nano"], None) == "cv-Nano"
    assert reference_tracker(trackers, ["cv:KCF", "cv:Nano"], "cv-KCF") == "cv-KCF"
    assert reference_tracker(trackers[:1], ["cv:KCF"], None) is None


def _got10k_root(root: Path, names: list[str]) -> Path:
    for seed, name in enumerate(names):
        write_got10k_sequence(root / "val", name, seed=seed)
    (root / "val" / "list.txt").write_text("\n".join(names) + "\n")
    return root


def test_several_roots_are_benchmarked_as_one_set_and_names_must_differ(tmp_path, capsys):
    first = _got10k_root(tmp_path / "A", ["GOT-10k_Val_000001", "GOT-10k_Val_000002"])
    second = _got10k_root(tmp_path / "B", ["extra_clip"])
    scores = run_benchmark("got10k", [first, second], ["cv:KCF"], report_dir=tmp_path / "out")
    assert list(scores["cv-KCF"]["sequences"]) == ["GOT-10k_Val_000001", "GOT-10k_Val_000002", "extra_clip"]
    assert scores["cv-KCF"]["overall"]["sequences"] == 3
    assert (tmp_path / "out" / "results" / "GOT-10k" / "cv-KCF" / "extra_clip" / "extra_clip_001.txt").is_file()
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert f"at {first} + {second}" in summary and "| extra_clip |" in summary

    clash = _got10k_root(tmp_path / "C", ["GOT-10k_Val_000002"])
    capsys.readouterr()
    assert main(["test", "--dataset", "got10k", "--root", str(first), "--root", str(clash), "--trackers", "cv:KCF",
                 "--report-dir", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sequence names must differ") and "GOT-10k_Val_000002" in err
    assert len(err.strip().splitlines()) == 1


def test_got10k_mini_val_and_the_extra_val_sequences_make_18(shared_data):
    from siamtrack.evaluation.datasets import open_experiment
    extra = Path("~/data/extra").expanduser()  # where the README stages them
    if not (extra / "val" / "list.txt").is_file():
        pytest.skip("the staged extra sequences are not on this machine")
    experiment = open_experiment("got10k", [shared_data / "got10k-mini", extra])
    names = experiment.dataset.seq_names
    assert len(names) == len(set(names)) == 18
    assert names[0] == "DAVIS_kite-surf" and "OTB_Girl" in names
    frames, boxes = experiment.dataset[names.index("OTB_Girl")][:2]
    assert len(frames) == len(boxes) and str(extra) in frames[0]


@pytest.mark.parametrize("kind", ["file", "proc", "read-only"])
def test_an_unwritable_report_dir_is_refused_before_anything_is_tracked(tmp_path, capsys, monkeypatch, kind):
    from siamtrack.evaluation import benchmark
    if kind == "read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    data = _clips(tmp_path / "clips", 1)
    report = {"file": tmp_path / "taken", "proc": Path("/proc/x"), "read-only": tmp_path / "ro" / "report"}[kind]
    if kind == "file":
        report.write_text("not a folder")
    if kind == "read-only":
        report.parent.mkdir()
        report.parent.chmod(0o555)

    def no_tracking(*args, **kwargs):
        raise AssertionError("trackers were built before the report folder was checked")
    monkeypatch.setattr(benchmark, "build_trackers", no_tracking)
    assert main(["test", "--dataset", "folder", "--root", str(data), "--trackers", "cv:KCF",
                 "--report-dir", str(report)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write --report-dir {report}") and len(err.strip().splitlines()) == 1


def test_runs_are_written_as_they_finish_and_an_interrupted_benchmark_resumes(tmp_path, monkeypatch, caplog):
    from siamtrack.evaluation import benchmark
    data, out = _clips(tmp_path / "clips"), tmp_path / "report"
    results = out / "results" / "clips" / "cv-KCF"
    real_track_files, calls = benchmark.track_files, []

    def interrupted_at_the_third(*args, **kwargs):
        calls.append(args[1][0])
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third sequence is tracked
        return real_track_files(*args, **kwargs)
    monkeypatch.setattr(benchmark, "track_files", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark("folder", data, ["cv:KCF"], report_dir=out)
    assert sorted(p.name for p in results.glob("*.txt")) == ["clip0.txt", "clip1.txt"]  # kept on disk
    assert (results / "times" / "clip1_time.txt").is_file() and (results / "confidences" / "clip1_confidence.txt").is_file()

    boxes_file = results / "clip1.txt"
    boxes_file.write_text("\n".join(boxes_file.read_text().splitlines()[:4]))  # as if killed while writing it
    monkeypatch.setattr(benchmark, "track_files", real_track_files)
    tracked = []
    monkeypatch.setattr(benchmark, "track_files", lambda *a, **k: tracked.append(a[1][0]) or real_track_files(*a, **k))
    with caplog.at_level(logging.INFO):
        resumed = run_benchmark("folder", data, ["cv:KCF"], report_dir=out)
    assert [Path(f).parts[-3] for f in tracked] == ["clip1", "clip2"]  # clip0 reused; clip1 was damaged
    assert "reused 1 of 3 runs" in caplog.text
    fresh = run_benchmark("folder", data, ["cv:KCF"], report_dir=tmp_path / "fresh")
    for seq in ("clip0", "clip1", "clip2"):
        assert resumed["cv-KCF"]["sequences"][seq]["auc"] == fresh["cv-KCF"]["sequences"][seq]["auc"]

    identity = results / "tracker.json"
    identity.write_text(identity.read_text().replace('"opencv": "', '"opencv": "0.0-'))
    with pytest.raises(SiamtrackError, match="holds results of another 'cv-KCF'"):
        run_benchmark("folder", data, ["cv:KCF"], report_dir=out)


def _grayscale_copies(source: Path, root: Path, frames: int = 6) -> tuple[Path, Path]:
    """The first ``frames`` frames of a real sequence as 8-bit and as 16-bit grayscale PNGs (the same
    picture: value * 257), each with its ground truth, in GOT-10k layout."""
    gt = np.loadtxt(source / "groundtruth.txt", delimiter=",")[:frames]
    folders = (root / "gray8", root / "gray16")
    for folder in folders:
        folder.mkdir(parents=True)
        np.savetxt(folder / "groundtruth.txt", gt, fmt="%.4f", delimiter=",")
    for i in range(frames):
        gray = cv2.cvtColor(cv2.imread(str(source / f"{i + 1:08d}.jpg")), cv2.COLOR_BGR2GRAY)
        cv2.imwrite(str(folders[0] / f"{i + 1:08d}.png"), gray)
        cv2.imwrite(str(folders[1] / f"{i + 1:08d}.png"), gray.astype(np.uint16) * 257)
    return folders


def test_16_bit_grayscale_frames_are_tracked_like_their_8_bit_copy(shared_data, tmp_path):
    from PIL import Image
    from siamtrack import load_tracker
    gray8, gray16 = _grayscale_copies(shared_data / "got10k-mini" / "val" / "OTB_Dog1", tmp_path / "clips")
    files8, files16 = (sorted(str(p) for p in folder.glob("*.png")) for folder in (gray8, gray16))
    assert cv2.imread(files16[0], cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert np.asarray(Image.open(files16[0]).convert("RGB")).mean() > 250  # what got10k's own loop would track
    box = np.loadtxt(gray8 / "groundtruth.txt", delimiter=",")[0]
    for tracker in (load_tracker("siamfc_fast", device="cpu"), OpenCVTracker("CSRT")):
        boxes8, _ = tracker.track(files8, box)  # the got10k face of the tracker
        boxes16, _ = tracker.track(files16, box)
        np.testing.assert_allclose(boxes16, boxes8, atol=1e-3, err_msg=tracker.name)

    scores = run_benchmark("folder", tmp_path / "clips", ["cv:CSRT", "siamtrack"], weights="siamfc_fast",
                           device="cpu", report_dir=tmp_path / "report")
    for name in ("cv-CSRT", "siamtrack"):
        per_seq = scores[name]["sequences"]
        assert per_seq["gray16"]["auc"] == per_seq["gray8"]["auc"] > 0.5, name


def test_folder_sequences_without_ground_truth_are_named(tmp_path, caplog, capsys):
    from siamtrack.evaluation.datasets import FolderDataset
    data = _clips(tmp_path / "clips", 1)
    for name in ("unlabelled_otb", "unlabelled_got"):
        write_otb_sequence(data, name) if name.endswith("otb") else write_got10k_sequence(data, name)
    (data / "unlabelled_otb" / "groundtruth_rect.txt").unlink()
    (data / "unlabelled_got" / "groundtruth.txt").unlink()
    (data / "notes").mkdir()  # a folder without frames is no sequence: not named
    with caplog.at_level(logging.WARNING):
        assert FolderDataset(data).seq_names == ["clip0"]
    assert "2 sequence folders" in caplog.text and "unlabelled_got, unlabelled_otb" in caplog.text
    assert "notes" not in caplog.text

    shutil.rmtree(data / "clip0")
    assert main(["test", "--dataset", "folder", "--root", str(data), "--trackers", "cv:KCF",
                 "--report-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no sequences in {data} (2 folders of frames have no ground truth: "
                          "unlabelled_got, unlabelled_otb)")


def test_track_refuses_what_is_not_a_list_of_frames_and_one_box(tmp_path):
    write_otb_sequence(tmp_path, "clip")
    frames = sorted(str(p) for p in (tmp_path / "clip" / "img").glob("*.jpg"))
    tracker = OpenCVTracker("KCF")
    for files, box, message in ([], [20, 30, 24, 20], "img_files is empty"),\
            (str(tmp_path / "clip" / "img"), [20, 30, 24, 20], "not one path"),\
            (frames, [[20, 30, 24, 20], [40, 30, 24, 20]], "one x,y,w,h box"),\
            (frames[:2] + [str(tmp_path / "missing.jpg")], [20, 30, 24, 20], "missing.jpg"),\
            ([3, 4], [20, 30, 24, 20], "paths"):
        with pytest.raises(SiamtrackError, match=message):
            tracker.track(files, box)


def test_ctrl_c_keeps_the_finished_runs_and_the_same_command_resumes(shared_data, tmp_path):
    source, names = shared_data / "got10k-mini" / "val", ["OTB_Dog1", "VOT_ball", "DAVIS_soapbox"]
    for name in names:  # three real sequences cut to 12 frames
        (tmp_path / "val" / name).mkdir(parents=True)
        for i in range(1, 13):
            shutil.copy(source / name / f"{i:08d}.jpg", tmp_path / "val" / name)
        lines = (source / name / "groundtruth.txt").read_text().splitlines()[:12]
        (tmp_path / "val" / name / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "val" / "list.txt").write_text("\n".join(names) + "\n")
    out = tmp_path / "report"
    command = [sys.executable, "-m", "siamtrack", "test", "--dataset", "got10k", "--root", str(tmp_path),
               "--trackers", "siamtrack", "--weights", "siamfc_fast", "--device", "cpu", "--report-dir", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first_done = out / "results" / "GOT-10k" / "siamtrack" / "OTB_Dog1" / "OTB_Dog1_time.txt"
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if first_done.exists() and len(first_done.read_text().split()) == 12:  # one time per frame: done
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)  # Ctrl-C once the first sequence is done
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and "Traceback" not in err, err[-2000:]
    finished = sorted(p.parent.name for p in (out / "results" / "GOT-10k" / "siamtrack").glob("*/*_001.txt"))
    assert finished[:1] == ["OTB_Dog1"] and len(finished) < 3

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    reused = re.search(r"reused (\d) of 3 runs", again.stderr)  # a run cut off while being written is redone
    assert reused and 1 <= int(reused.group(1)) <= len(finished), again.stderr[-2000:]
    assert "| siamtrack |" in again.stdout
