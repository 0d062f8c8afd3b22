"""One test per got10k 0.1.3 workaround in siamtrack.evaluation.compat, each beside the defect it covers."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import got10k.datasets
import got10k.experiments
import numpy as np
import pytest
from got10k.trackers import Tracker

from siamtrack.evaluation import compat
from siamtrack.evaluation.datasets import load_sequence, open_experiment

NUM_FRAMES = 12


def _write_frames(folder: Path, pattern: str, num_frames: int = NUM_FRAMES) -> np.ndarray:
    """A bright square moving over seeded noise; returns its x,y,w,h boxes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    background = rng.integers(0, 120, (72, 96, 3), dtype=np.uint8)
    boxes = np.array([[10 + 2 * i, 20 + i // 2, 16, 14] for i in range(num_frames)], dtype=float)
    for i, (x, y, w, h) in enumerate(boxes.astype(int)):
        frame = background.copy()
        frame[y:y + h, x:x + w] = (40, 220, 250)
        cv2.imwrite(str(folder / (pattern % (i + 1))), frame)
    return boxes


def _write_otb_sequence(root: Path, name: str) -> None:
    boxes = _write_frames(root / name / "img", "%04d.jpg")
    np.savetxt(root / name / "groundtruth_rect.txt", boxes, fmt="%d", delimiter=",")


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any got10k download attempt fail loudly."""
    def refuse(url, filename):
        raise AssertionError(f"download attempted: {url}")
    for module in (got10k.datasets.otb, got10k.datasets.vot, got10k.datasets.tcolor128):
        monkeypatch.setattr(module, "download", refuse)


class FailingTracker(Tracker):
    """Follows the ground truth it is given, except on frames 3 and 4 where it jumps away (a VOT failure)."""

    def __init__(self, boxes: np.ndarray) -> None:
        super().__init__(name="failing", is_deterministic=True)
        self.boxes, self.frame = boxes, 0

    def init(self, image, box):
        self.frame = int(np.argmin(np.abs(self.boxes[:, 0] - box[0])))

    def update(self, image):
        self.frame += 1
        return np.array([80.0, 60.0, 8.0, 8.0]) if self.frame in (3, 4) else self.boxes[self.frame]


def test_numpy_nan_alias_and_ragged_iou_fixed_in_the_vot_experiment(tmp_path, no_downloads):
    # 1. np.NaN (gone in numpy 2) marks failure frames in the run; 3. the report's per-frame IoU is ragged.
    boxes = _write_frames(tmp_path / "vot" / "square", "%08d.jpg", num_frames=30)  # beyond the 10-frame burn-in
    np.savetxt(tmp_path / "vot" / "square" / "groundtruth.txt", boxes, fmt="%d", delimiter=",")
    (tmp_path / "vot" / "list.txt").write_text("square\n")
    experiment = compat.ExperimentVOT(str(tmp_path / "vot"), 2018, experiments="supervised",
                                      result_dir=str(tmp_path / "results"), report_dir=str(tmp_path / "reports"))
    with compat.quiet():
        experiment.run(FailingTracker(boxes))
        performance = experiment.report(["failing"])["failing"]
    record = (tmp_path / "results" / "VOT2018" / "failing" / "baseline" / "square" / "square_001.txt").read_text()
    assert record.splitlines()[3] == "2"  # the failure, then re-initialisation 5 frames later
    assert record.splitlines()[8] == "1"
    assert performance["robustness"] > 0 and 0 < performance["accuracy"] <= 1
    assert np.NaN is np.nan


def test_vot_iou_of_a_run_is_a_flat_float_array(tmp_path):
    (tmp_path / "list.txt").write_text("")
    experiment = compat.ExperimentVOT(str(tmp_path), 2018)
    run = [[1], [0.0, 0.0, 10.0, 10.0], [2], [0]]
    anno = np.array([[0, 0, 10, 10]] * 4, dtype=float)
    ious = experiment._calc_iou(run, anno, (100, 100))
    assert ious.dtype == np.float64 and ious.shape == (4,)
    np.testing.assert_allclose(ious, [np.nan, 1.0, np.nan, np.nan])
    with pytest.raises(ValueError):  # the toolkit's own version builds a ragged array
        got10k.experiments.ExperimentVOT._calc_iou(experiment, run, anno, (100, 100))


@pytest.mark.parametrize("name", ["otb", "tcolor128", "vot"])
def test_partial_copies_open_without_downloading(tmp_path, no_downloads, name):
    # 2. got10k's experiments download every sequence missing from a partial copy.
    root = tmp_path / name
    if name == "otb":
        _write_otb_sequence(root, "Basketball")
        toolkit, ours = (lambda: got10k.experiments.ExperimentOTB(str(root)),
                         lambda: compat.ExperimentOTB(str(root)))
    elif name == "tcolor128":
        boxes = _write_frames(root / "Ball_ce1" / "img", "%04d.jpg")
        np.savetxt(root / "Ball_ce1" / "Ball_ce1_gt.txt", boxes, fmt="%d", delimiter=",")
        (root / "Ball_ce1" / "Ball_ce1_frames.txt").write_text(f"1,{NUM_FRAMES}\n")
        toolkit, ours = (lambda: got10k.experiments.ExperimentTColor128(str(root)),
                         lambda: compat.ExperimentTColor128(str(root)))
    else:
        boxes = _write_frames(root / "ball", "%08d.jpg")
        np.savetxt(root / "ball" / "groundtruth.txt", boxes, fmt="%d", delimiter=",")
        (root / "list.txt").write_text("ball\nbag\n")  # 'bag' is missing from this copy
        toolkit, ours = (lambda: got10k.experiments.ExperimentVOT(str(root)),
                         lambda: compat.ExperimentVOT(str(root)))
    with pytest.raises(AssertionError, match="download attempted"):
        toolkit()
    experiment = ours()
    sequences = [load_sequence(experiment, i) for i in range(len(experiment.dataset))]
    assert [s.name for s in sequences if s is not None] == [experiment.dataset.seq_names[0]]
    assert len(sequences[0].frames) == NUM_FRAMES


def test_lasot_dataset_and_experiment_work_on_nested_and_flat_layouts(tmp_path, caplog):
    # 4. got10k's LaSOT cannot be constructed and it has no LaSOT experiment.
    for seq_dir in (tmp_path / "airplane" / "airplane-1", tmp_path / "airplane-13"):
        boxes = _write_frames(seq_dir / "img", "%08d.jpg")
        np.savetxt(seq_dir / "groundtruth.txt", boxes, fmt="%d", delimiter=",")
    with pytest.raises(TypeError):
        got10k.datasets.LaSOT(str(tmp_path))
    experiment = open_experiment("lasot", tmp_path, result_dir=tmp_path / "results")
    assert isinstance(experiment, compat.ExperimentLaSOT) and len(experiment.dataset) == 280
    with caplog.at_level(logging.WARNING):
        found = {s.name: s for s in (load_sequence(experiment, i) for i in range(3)) if s is not None}
    assert sorted(found) == ["airplane-1", "airplane-13"]  # the split's first three: airplane-1, -9, -13
    assert "airplane-9" in caplog.text
    np.testing.assert_allclose(found["airplane-13"].boxes[0], boxes[0])


def test_quiet_sends_toolkit_prints_to_the_debug_log(capsys, caplog):
    # 5. the toolkit prints its progress.
    with caplog.at_level(logging.DEBUG, logger="siamtrack.evaluation.compat"):
        with compat.quiet():
            print("Files already downloaded.")
    assert capsys.readouterr().out == ""
    assert "Files already downloaded." in caplog.text
