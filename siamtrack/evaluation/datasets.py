"""Benchmark folders on disk: which got10k experiment reads each dataset, any folder of sequences
(OTB or GOT-10k layout), and several folders of one dataset kind as one experiment.

Everything works offline on the folders a user has: a sequence missing from a partial copy, or whose
files do not add up, is skipped with a warning. Where results go: :mod:`siamtrack.evaluation.results`.
"""
from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence as Seq

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


def _frames_dir(seq_dir: Path) -> Path | None:
    """The folder holding a sequence's frames (``img/`` in OTB layout, else the folder itself), or
    ``None`` when neither holds an image."""
    for folder in (seq_dir / "img", seq_dir):
        if folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
            return folder
    return None


def _listing(names: list[str], shown: int = 10) -> str:
    """``names`` joined by commas, the first ``shown`` of them and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


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
        unlabelled = [d.name for d in candidates if not _ground_truth_file(d) and _frames_dir(d) is not None]
        expected = ("expected <seq>/img/*.jpg + groundtruth_rect.txt (OTB layout) or <seq>/*.jpg + "
                    "groundtruth.txt (GOT-10k layout)")
        if not self.seq_dirs:
            found = f" ({len(unlabelled)} folders of frames have no ground truth: {_listing(unlabelled)})" \
                if unlabelled else ""
            raise SiamtrackError(f"no sequences in {root}{found}: {expected}")
        if unlabelled:
            log.warning("%d sequence folders in %s have no ground-truth file and are not benchmarked: %s "
                        "(%s)", len(unlabelled), root, _listing(unlabelled), expected)
        self.seq_names = [d.name for d in self.seq_dirs]
        self.anno_files = [str(_ground_truth_file(d)) for d in self.seq_dirs]

    def __len__(self) -> int:
        return len(self.seq_dirs)

    def __getitem__(self, index: int) -> tuple[list[str], np.ndarray]:
        image_dir = _frames_dir(self.seq_dirs[index]) or self.seq_dirs[index]
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


def open_experiment(dataset: str, root: str | os.PathLike | Seq[str | os.PathLike], version: str | None = None,
                    result_dir: str | os.PathLike = "results", report_dir: str | os.PathLike = "reports"):
    """The got10k experiment (offline) for ``dataset`` at ``root``; results and toolkit reports go under
    ``result_dir`` and ``report_dir`` in the toolkit's own layout.

    ``root`` may be several folders of the same dataset kind: the experiment then holds the union of
    their sequences (the first folder's first), whose names must differ.
    """
    roots = [root] if isinstance(root, (str, os.PathLike)) else list(root)
    if not roots:
        raise SiamtrackError("no dataset folder given: pass --root")
    experiments = [_open_one(dataset, r, version, result_dir, report_dir) for r in roots]
    return _union(experiments, [str(r) for r in roots])


def _open_one(dataset: str, root: str | os.PathLike, version: str | None, result_dir: str | os.PathLike,
              report_dir: str | os.PathLike):
    """The got10k experiment for one dataset folder (see :func:`open_experiment`)."""
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


def _union(experiments: list, roots: list[str]):
    """The first experiment, its dataset extended by the sequences of the others (every per-sequence
    list of the toolkit's dataset object: names, folders, annotation files...). A sequence name found
    in two folders is refused: results are filed by name."""
    first = experiments[0].dataset
    origin = {name: roots[0] for name in first.seq_names}
    for experiment, root in zip(experiments[1:], roots[1:]):
        clashes = [name for name in experiment.dataset.seq_names if name in origin]
        if clashes:
            raise SiamtrackError(f"sequence names must differ between the --root folders: {_listing(clashes)} "
                                 f"in both {origin[clashes[0]]} and {root}")
        origin.update((name, root) for name in experiment.dataset.seq_names)
    count = len(first.seq_names)
    per_sequence = [key for key, value in vars(first).items() if isinstance(value, list) and len(value) == count]
    for experiment, root in zip(experiments[1:], roots[1:]):
        other = experiment.dataset
        for key in per_sequence:
            values = getattr(other, key, None)
            if not isinstance(values, list) or len(values) != len(other.seq_names):
                raise SiamtrackError(f"cannot combine {root} with {roots[0]}: the toolkit's dataset objects differ")
            setattr(first, key, getattr(first, key) + values)
    return experiments[0]


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
