"""The benchmark harness end to end on tiny generated sequences: folder layouts, peers, outputs, sharding."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamtrack.cli import main
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
