"""Benchmark folders on disk: which got10k experiment reads each dataset, any folder of sequences
(OTB or GOT-10k layout), and where results go in the got10k result layout.

Everything works offline on the folders a user has: a sequence missing from a partial copy, or whose
files do not add up, is skipped with a warning.
"""
from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from got10k.experiments import ExperimentDTB70, ExperimentGOT10k, ExperimentNfS, ExperimentOTB, ExperimentUAV123

from siamtrack.errors import SiamtrackError
from siamtrack.evaluation import compat
from siamtrack.evaluation.layouts import DATASETS, LAYOUTS, VERSIONS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
GROUND_TRUTH_NAMES = ("groundtruth_rect.txt", "groundtruth.txt")


@dataclass
class Sequence:
    """One sequence ready to track: frame paths and ``(N, 4)`` boxes, NaN rows where the target is absent."""

    name: str
    frames: list[str]
    boxes: np.ndarray


def read_boxes(path: str | os.PathLike) -> np.ndarray:
    """``(N, 4)`` x,y,w,h boxes from a text file separated by commas, tabs or spaces (``NaN`` allowed)."""
    text = Path(path).read_text().replace(",", " ").replace("\t", " ")
    boxes = np.loadtxt(io.StringIO(text), ndmin=2)
    if boxes.shape[1] != 4:
        raise ValueError(f"{path} has {boxes.shape[1]} numbers per line, expected 4 (x, y, w, h)")
    return boxes


def _ground_truth_file(seq_dir: Path) -> Path | None:
    for name in GROUND_TRUTH_NAMES:
        if (seq_dir / name).is_file():
            return seq_dir / name
    others = sorted(seq_dir.glob("groundtruth*.txt"))
    return others[0] if others else None


class FolderDataset:
    """Sequences in any folder: ``<seq>/img/*.jpg`` + ``groundtruth_rect.txt`` (OTB layout) or
    ``<seq>/*.jpg`` + ``groundtruth.txt`` (GOT-10k layout); ``root`` may also be one sequence itself.

    It has the interface of a got10k dataset (``seq_names``, ``anno_files``, ``[i] -> (frames, boxes)``).
    """

    def __init__(self, root_dir: str | os.PathLike) -> None:
        root = Path(root_dir)
        if not root.is_dir():
            raise SiamtrackError(f"dataset folder {root} does not exist")
        candidates = [root] if _ground_truth_file(root) else sorted(p for p in root.iterdir() if p.is_dir())
        self.seq_dirs = [d for d in candidates if _ground_truth_file(d)]
        if not self.seq_dirs:
            raise SiamtrackError(f"no sequences in {root}: expected <seq>/img/*.jpg + groundtruth_rect.txt "
                                 "(OTB layout) or <seq>/*.jpg + groundtruth.txt (GOT-10k layout)")
        self.seq_names = [d.name for d in self.seq_dirs]
        self.anno_files = [str(_ground_truth_file(d)) for d in self.seq_dirs]

    def __len__(self) -> int:
        return len(self.seq_dirs)

    def __getitem__(self, index: int) -> tuple[list[str], np.ndarray]:
        seq_dir = self.seq_dirs[index]
        image_dir = seq_dir / "img" if (seq_dir / "img").is_dir() else seq_dir
        frames = sorted(str(p) for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return frames, read_boxes(self.anno_files[index])


class ExperimentFolder(ExperimentOTB):
    """got10k's OTB experiment (one pass, OTB result layout) over a :class:`FolderDataset`."""

    def __init__(self, root_dir: str, result_dir: str = "results", report_dir: str = "reports") -> None:
        self.dataset = FolderDataset(root_dir)
        name = Path(root_dir).resolve().name
        self.result_dir = os.path.join(result_dir, name)
        self.report_dir = os.path.join(report_dir, name)
        self.nbins_iou, self.nbins_ce = 21, 51


def check_version(dataset: str, version: str | None) -> str | None:
    """The version to use for ``dataset``: its default when ``None``; a clear error when unknown."""
    if dataset not in VERSIONS:
        raise SiamtrackError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    default, accepted = VERSIONS[dataset]
    if version is None:
        return default
    if dataset == "got10k" and version == "test":
        raise SiamtrackError("GOT-10k test ground truth is withheld: benchmark on 'val', or run the official "
                             "toolkit and submit to the GOT-10k server")
    if accepted is None:
        raise SiamtrackError(f"--version does not apply to dataset {dataset!r}")
    matches = [v for v in accepted if v.lower() == str(version).lower()]
    if not matches:
        raise SiamtrackError(f"unknown {dataset} version {version!r}; choose one of {', '.join(accepted)}")
    return matches[0]


def open_experiment(dataset: str, root: str | os.PathLike, version: str | None = None,
                    result_dir: str | os.PathLike = "results", report_dir: str | os.PathLike = "reports"):
    """The got10k experiment (offline) for ``dataset`` at ``root``; results and toolkit reports go under
    ``result_dir`` and ``report_dir`` in the toolkit's own layout."""
    version = check_version(dataset, version)
    root, dirs = str(root), {"result_dir": str(result_dir), "report_dir": str(report_dir)}
    if not os.path.isdir(root):
        raise SiamtrackError(f"dataset folder {root} does not exist")
    try:
        experiment = _experiment(dataset, root, version, dirs)
    except SiamtrackError:
        raise
    except Exception as exc:  # the toolkit signals a wrong folder with bare Exceptions and asserts
        raise SiamtrackError(f"{root} is not a {dataset} dataset folder ({exc or type(exc).__name__}); "
                             f"expected {LAYOUTS[dataset]}") from None
    if len(experiment.dataset) == 0:
        raise SiamtrackError(f"no {dataset} sequences in {root}; expected {LAYOUTS[dataset]}")
    return experiment


def _experiment(dataset: str, root: str, version: str | None, dirs: dict[str, str]):
    """The (offline) got10k experiment object for a checked dataset name and version."""
    with compat.quiet():
        if dataset == "otb":
            return compat.ExperimentOTB(root, int(version) if version.isdigit() else version, **dirs)
        if dataset == "vot":
            return compat.ExperimentVOT(root, int(version) if version.isdigit() else version,
                                        experiments="unsupervised", **dirs)
        if dataset == "got10k":
            return ExperimentGOT10k(root, subset=version, **dirs)
        if dataset == "uav123":
            return ExperimentUAV123(root, version, **dirs)
        if dataset == "dtb70":
            return ExperimentDTB70(root, **dirs)
        if dataset == "nfs":
            return ExperimentNfS(root, int(version), **dirs)
        if dataset == "tcolor128":
            return compat.ExperimentTColor128(root, **dirs)
        if dataset == "lasot":
            return compat.ExperimentLaSOT(root, version, **dirs)
        return ExperimentFolder(root, **dirs)


def absent_frames(seq_dir: str | os.PathLike, num_frames: int) -> np.ndarray:
    """Frames marked absent by GOT-10k-style labels beside the ground truth (``absence.label`` = 1 or
    ``cover.label`` = 0); all False when there are none."""
    seq_dir, absent = Path(seq_dir), np.zeros(num_frames, dtype=bool)
    for name, is_absent in (("absence.label", lambda v: v == 1), ("cover.label", lambda v: v == 0)):
        label_file = seq_dir / name
        if label_file.is_file():
            values = np.loadtxt(label_file, ndmin=1)
            if len(values) == num_frames:
                absent |= is_absent(values)
    return absent


def load_sequence(experiment, index: int) -> Sequence | None:
    """Sequence ``index`` of ``experiment.dataset`` as rectangles, or ``None`` (with a warning) when its
    files are missing or inconsistent. Frames marked absent get NaN boxes (excluded from scores)."""
    dataset = experiment.dataset
    name = dataset.seq_names[index]
    try:
        with compat.quiet():
            item = dataset[index]
        frames, boxes = list(item[0]), np.atleast_2d(np.asarray(item[1], dtype=np.float64))
        if boxes.shape[1] == 8:  # VOT polygons -> their bounding rectangles, the toolkit's way
            boxes = dataset._corner2rect(boxes)
    except (OSError, ValueError, AssertionError, IndexError, KeyError) as exc:
        log.warning("skipping sequence %s: %s", name, str(exc) or "its files do not match")
        return None
    if not frames or not all(os.path.isfile(f) for f in frames):
        log.warning("skipping sequence %s: frames missing (partial copy?)", name)
        return None
    if len(frames) != len(boxes):
        log.warning("skipping sequence %s: %d frames but %d ground-truth boxes", name, len(frames), len(boxes))
        return None
    boxes = boxes.copy()
    boxes[absent_frames(os.path.dirname(dataset.anno_files[index]), len(boxes))] = np.nan
    return Sequence(name, frames, boxes)


def result_file(experiment, tracker_name: str, seq_name: str) -> str:
    """Where the got10k toolkit expects ``tracker_name``'s boxes for ``seq_name`` in this experiment."""
    if isinstance(experiment, ExperimentGOT10k):
        return os.path.join(experiment.result_dir, tracker_name, seq_name, f"{seq_name}_001.txt")
    if isinstance(experiment, compat.ExperimentVOT):
        return os.path.join(experiment.result_dir, tracker_name, "unsupervised", seq_name, f"{seq_name}_001.txt")
    return os.path.join(experiment.result_dir, tracker_name, f"{seq_name}.txt")


def save_result(experiment, tracker_name: str, seq_name: str, boxes: np.ndarray, times: np.ndarray) -> str:
    """Write one run with the toolkit's own writer (boxes + per-frame times); returns the box file.

    An earlier run of the same tracker and sequence is replaced (the toolkit would append its times).
    VOT results use the toolkit's one-pass ('unsupervised') format: ``1`` on the initialisation frame.
    """
    path = result_file(experiment, tracker_name, seq_name)
    stale_times = path[:path.rfind("_")] + "_time.txt"
    if not isinstance(experiment, ExperimentOTB) and os.path.isfile(stale_times):
        os.remove(stale_times)
    records = [[1]] + list(boxes[1:]) if isinstance(experiment, compat.ExperimentVOT) else boxes
    with compat.quiet():
        experiment._record(path, records, np.asarray(times))
    return path
