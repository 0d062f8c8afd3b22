"""Benchmark results on disk, one sequence at a time: where the got10k toolkit keeps them, writing each
run as soon as it finishes, and reusing finished runs when the same benchmark runs again.

Boxes and per-frame times go through the toolkit's own writer (``experiment._record``) into its own
layout, so that its ``report`` can re-score them, and a finished run is recognised the way got10k's
experiments recognise it (``ExperimentGOT10k.run``: the box file exists), checked further here: the
box, time and confidence files must each hold one row per frame, or the run is tracked again (a run
interrupted while writing). Each tracker's folder holds ``tracker.json``, what identifies the
tracker (weights and settings digest, library version); results made by another tracker under the
same name are never mixed in: the run is refused, naming the folder.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from got10k.experiments import ExperimentGOT10k, ExperimentOTB

from siamtrack import __version__
from siamtrack.errors import SiamtrackError
from siamtrack.evaluation import compat

log = logging.getLogger(__name__)

IDENTITY_FILE = "tracker.json"


def result_file(experiment, tracker_name: str, seq_name: str) -> str:
    """Where the got10k toolkit expects ``tracker_name``'s boxes for ``seq_name`` in this experiment."""
    if isinstance(experiment, ExperimentGOT10k):
        return os.path.join(experiment.result_dir, tracker_name, seq_name, f"{seq_name}_001.txt")
    if isinstance(experiment, compat.ExperimentVOT):
        return os.path.join(experiment.result_dir, tracker_name, "unsupervised", seq_name, f"{seq_name}_001.txt")
    return os.path.join(experiment.result_dir, tracker_name, f"{seq_name}.txt")


def _side_file(experiment, tracker_name: str, seq_name: str, kind: str) -> str:
    """The file beside the boxes holding per-frame ``kind`` (``time`` as the toolkit names it, or
    ``confidence``): ``<tracker>/times/<seq>_time.txt`` in OTB-style layouts, ``<seq>_time.txt`` beside
    the box file in GOT-10k and VOT ones."""
    path = result_file(experiment, tracker_name, seq_name)
    if isinstance(experiment, ExperimentOTB):
        return os.path.join(os.path.dirname(path), f"{kind}s", f"{seq_name}_{kind}.txt")
    return path[:path.rfind("_")] + f"_{kind}.txt"


def save_result(experiment, tracker_name: str, seq_name: str, boxes: np.ndarray, times: np.ndarray,
                confidences: np.ndarray) -> str:
    """Write one finished run: the tracker's confidence per frame, then boxes and per-frame times with the
    toolkit's own writer (the box file last but for the times: its presence marks the run as done).

    An earlier run of the same tracker and sequence is replaced (the toolkit would append its times).
    VOT results use the toolkit's one-pass ('unsupervised') format: ``1`` on the initialisation frame.
    """
    path = result_file(experiment, tracker_name, seq_name)
    stale_times = _side_file(experiment, tracker_name, seq_name, "time")
    if not isinstance(experiment, ExperimentOTB) and os.path.isfile(stale_times):
        os.remove(stale_times)
    confidence = Path(_side_file(experiment, tracker_name, seq_name, "confidence"))
    try:
        confidence.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(confidence, np.asarray(confidences, dtype=np.float64), fmt="%.6f")
        records = [[1]] + list(boxes[1:]) if isinstance(experiment, compat.ExperimentVOT) else boxes
        with compat.quiet():
            experiment._record(path, records, np.asarray(times))
    except OSError as exc:
        raise SiamtrackError(f"cannot write the results of {tracker_name} on {seq_name} to {path}: "
                             f"{exc.strerror or exc}") from None
    return path


def _rows(path: str, columns: int, skip_first: bool = False) -> np.ndarray | None:
    """The numbers of a result file as ``(N, columns)``, or ``None`` if it is missing or damaged."""
    try:
        lines = Path(path).read_text().split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    lines = [line for line in lines[1 if skip_first else 0:] if line.strip()]
    try:
        values = np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float64)
    except ValueError:
        return None
    return values if values.ndim == 2 and values.shape[1] == columns else None


def load_result(experiment, tracker_name: str, seq_name: str,
                ground_truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A finished run of ``tracker_name`` on ``seq_name`` read back (boxes, seconds, confidences), or
    ``None`` when there is none or a file is short or damaged (an interrupted write)."""
    frames = len(ground_truth)
    vot = isinstance(experiment, compat.ExperimentVOT)
    boxes = _rows(result_file(experiment, tracker_name, seq_name), 4, skip_first=vot)
    if boxes is not None and vot:
        boxes = np.concatenate([ground_truth[:1], boxes])
    times = _rows(_side_file(experiment, tracker_name, seq_name, "time"), 1)
    confidences = _rows(_side_file(experiment, tracker_name, seq_name, "confidence"), 1)
    if any(part is None or len(part) != frames for part in (boxes, times, confidences)):
        return None
    if not np.all(np.isfinite(boxes)):
        return None
    return boxes, times[:, 0], confidences[:, 0]


def tracker_identity(tracker: Any) -> dict[str, str]:
    """What a tracker's results depend on, to tell an earlier run of the same tracker from another one
    under the same name: class, library version and a digest of its network weights and loop settings
    (siamtrack) or of its model files (OpenCV's model trackers)."""
    identity = {"class": type(tracker).__name__}
    digest = hashlib.sha256()
    net = getattr(tracker, "net", None)
    if net is not None:
        identity["siamtrack"] = __version__
        for key, value in sorted(net.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        digest.update(repr(getattr(tracker, "cfg", None)).encode())
        identity["digest"] = digest.hexdigest()
    elif hasattr(tracker, "kind"):
        identity.update(opencv=cv2.__version__, kind=str(tracker.kind))
        for path in sorted(getattr(tracker, "model_files", ())):
            digest.update(Path(path).read_bytes())
        identity["digest"] = digest.hexdigest()
    return identity


def _write_json_atomic(path: Path, document: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def claim_tracker_folder(experiment, tracker: Any) -> None:
    """Record ``tracker``'s identity in its result folder, or refuse when the folder holds results of
    another tracker under the same name (other weights, settings or version)."""
    folder = Path(experiment.result_dir) / tracker.name
    identity = tracker_identity(tracker)
    stored_file = folder / IDENTITY_FILE
    if stored_file.is_file():
        try:
            stored = json.loads(stored_file.read_text())
        except (OSError, ValueError):
            stored = None
        if stored == identity:
            return
    if folder.is_dir() and any(p.name != IDENTITY_FILE for p in folder.iterdir()):
        raise SiamtrackError(f"{folder} holds results of another '{tracker.name}' (other weights, settings or "
                             f"version, or an older siamtrack): give another --report-dir, or delete {folder}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(stored_file, identity)
    except OSError as exc:
        raise SiamtrackError(f"cannot write {stored_file}: {exc.strerror or exc}") from None
