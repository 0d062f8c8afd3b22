"""Every workaround the PyPI got10k 0.1.3 toolkit needs, in one place (no fork, no site-packages edits).

Each item below is a defect of got10k 0.1.3 (checked in its source) and what this module does about it;
``tests/test_compat.py`` has one test per item.

1. numpy 2 removed the ``np.NaN`` alias, which ``got10k.experiments.vot`` uses for failure frames and
   in its report: importing this module restores ``np.NaN = np.nan`` (the same float object).
2. ``ExperimentOTB``, ``ExperimentVOT`` and ``ExperimentTColor128`` open their dataset with
   ``download=True``, which fetches every sequence missing from a partial copy. The classes of the same
   names here open it with ``download=False``; missing sequences are then skipped by the caller.
3. ``ExperimentVOT._calc_iou`` builds one array out of 1-element IoU arrays and NaN scalars: a ragged
   array, an error since numpy 1.24. :meth:`ExperimentVOT._calc_iou` here builds a flat float array.
4. got10k has no LaSOT experiment, and its ``LaSOT`` dataset cannot even be constructed (it passes
   ``_check_integrity`` an argument too many and takes ``basename`` of a generator).
   :class:`LaSOT` and :class:`ExperimentLaSOT` here work, on the official ``<class>/<class-N>/`` layout
   or on a flat ``<class-N>/`` one.
5. The toolkit reports progress (and missing sequences) with ``print``; :func:`quiet` sends that text
   to the log instead (its 'Warning' lines as warnings, the rest at debug level), so it cannot break a
   progress bar or a CLI's output.

One more lives in :mod:`siamtrack.lazy_viz`, since importing this module loads got10k's experiments and
with them matplotlib: ``got10k.trackers`` imports matplotlib for a plot only ``visualize=True`` draws.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Iterator

import numpy as np
from got10k.datasets import OTB, VOT, TColor128
from got10k.datasets import LaSOT as _LaSOT
from got10k.datasets import lasot as got10k_lasot
from got10k.experiments import ExperimentOTB as _ExperimentOTB
from got10k.experiments import ExperimentTColor128 as _ExperimentTColor128
from got10k.experiments import ExperimentVOT as _ExperimentVOT
from got10k.utils.metrics import poly_iou

from siamtrack.errors import SiamtrackError

log = logging.getLogger(__name__)

if not hasattr(np, "NaN"):
    np.NaN = np.nan  # 1.

@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Run toolkit code with its ``print`` output sent to the log (5.)."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in filter(None, (text.strip() for text in buffer.getvalue().splitlines())):
            log.log(logging.WARNING if line.lower().startswith("warning") else logging.DEBUG, "got10k: %s", line)


def _require_dir(root_dir: str) -> None:
    if not os.path.isdir(root_dir):
        raise SiamtrackError(f"dataset folder {root_dir} does not exist")


class ExperimentOTB(_ExperimentOTB):
    """got10k's OTB experiment on the sequences present under ``root_dir``, never downloading (2.)."""

    def __init__(self, root_dir: str, version: int | str = 2015, result_dir: str = "results",
                 report_dir: str = "reports") -> None:
        _require_dir(root_dir)
        with quiet():
            self.dataset = OTB(root_dir, version, download=False)
        self.result_dir = os.path.join(result_dir, "OTB" + str(version))
        self.report_dir = os.path.join(report_dir, "OTB" + str(version))
        self.nbins_iou, self.nbins_ce = 21, 51  # as in got10k's OTB-style experiments


class ExperimentTColor128(_ExperimentTColor128):
    """got10k's TColor-128 experiment on the sequences present, never downloading (2.)."""

    def __init__(self, root_dir: str, result_dir: str = "results", report_dir: str = "reports") -> None:
        _require_dir(root_dir)
        with quiet():
            self.dataset = TColor128(root_dir, download=False)
        self.result_dir = os.path.join(result_dir, "TColor128")
        self.report_dir = os.path.join(report_dir, "TColor128")
        self.nbins_iou, self.nbins_ce = 21, 51  # as in got10k's OTB-style experiments


class ExperimentVOT(_ExperimentVOT):
    """got10k's VOT experiment, never downloading (2.), with a report that works on numpy 2 (1., 3.)."""

    def __init__(self, root_dir: str, version: int | str = 2017, read_image: bool = True,
                 experiments: str | tuple[str, ...] = ("supervised", "unsupervised", "realtime"),
                 result_dir: str = "results", report_dir: str = "reports") -> None:
        _require_dir(root_dir)
        with quiet():
            self.dataset = VOT(root_dir, version, anno_type="default", download=False, return_meta=True)
        # The same settings as got10k's ExperimentVOT.__init__.
        self.experiments = (experiments,) if isinstance(experiments, str) else tuple(experiments)
        self.read_image = read_image
        suffix = "-" + version if version == "LT2018" else str(version)
        self.result_dir = os.path.join(result_dir, "VOT" + suffix)
        self.report_dir = os.path.join(report_dir, "VOT" + suffix)
        self.skip_initialize, self.burnin, self.repetitions = 5, 10, 15
        self.sensitive, self.nbins_eao = 100, 1500
        self.tags = ["camera_motion", "illum_change", "occlusion", "size_change", "motion_change", "empty"]

    def _calc_iou(self, boxes: list, anno: np.ndarray, bound: tuple[int, int], burnin: bool = False) -> np.ndarray:
        """Per-frame polygon IoU of one run; NaN on init/failure/skipped frames (3.)."""
        if burnin:
            boxes = list(boxes)
            for start in [i for i, box in enumerate(boxes) if box == [1.0]]:
                end = min(start + self.burnin, len(boxes))
                boxes[start:end] = [[0]] * (end - start)
        return np.array([float(poly_iou(np.array(box), gt, bound)[0]) if len(box) > 1 else np.nan
                         for box, gt in zip(boxes, anno)], dtype=np.float64)


class LaSOT(_LaSOT):
    """got10k's LaSOT dataset, constructible (4.): the sequences of the official split, found under
    ``root_dir/<class>/<class-N>/`` or ``root_dir/<class-N>/``."""

    def __init__(self, root_dir: str, subset: str = "test", return_meta: bool = False) -> None:
        _require_dir(root_dir)
        if subset not in ("train", "test"):
            raise SiamtrackError(f"LaSOT subset must be 'train' or 'test', not {subset!r}")
        self.root_dir, self.subset, self.return_meta = root_dir, subset, return_meta
        with open(os.path.join(os.path.dirname(got10k_lasot.__file__), "lasot.json")) as f:
            self.seq_names = json.load(f)[subset]
        nested = [os.path.join(root_dir, n[:n.rfind("-")], n) for n in self.seq_names]
        flat = [os.path.join(root_dir, n) for n in self.seq_names]
        seq_roots = [a if os.path.isdir(a) or not os.path.isdir(b) else b for a, b in zip(nested, flat)]
        self.seq_dirs = [os.path.join(d, "img") for d in seq_roots]
        self.anno_files = [os.path.join(d, "groundtruth.txt") for d in seq_roots]


class ExperimentLaSOT(_ExperimentOTB):
    """An OTB-style (one-pass) experiment on LaSOT, which got10k lacks (4.)."""

    def __init__(self, root_dir: str, subset: str = "test", result_dir: str = "results",
                 report_dir: str = "reports") -> None:
        self.dataset = LaSOT(root_dir, subset)
        self.result_dir = os.path.join(result_dir, "LaSOT")
        self.report_dir = os.path.join(report_dir, "LaSOT")
        self.nbins_iou, self.nbins_ce = 21, 51  # as in got10k's OTB-style experiments
