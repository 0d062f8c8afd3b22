"""One-pass benchmark of several trackers on the same frames, optionally sharded over processes.

Every tracker runs the got10k toolkit's one-pass loop (:func:`~siamtrack.tracking.files.track_files`,
frames read as ``siamtrack track`` reads them) on each sequence of a got10k experiment's dataset (one
or several dataset folders). Each finished run is written at once, in the toolkit's result layout (so
the toolkit can re-score it); running the same benchmark again reuses the finished runs
(:mod:`siamtrack.evaluation.results`). Under ``torchrun`` each process takes every N-th sequence and
rank 0 merges the scores and writes the reports.

Scoring convention (one for every dataset): success AUC (mean success over 21 IoU thresholds),
precision at 20 px and normalised precision at 0.2, per sequence and then averaged over sequences,
with 90 % bootstrap intervals over sequences (:func:`~siamtrack.evaluation.metrics.bootstrap_means`),
and each tracker's paired difference to a reference tracker (NanoTrack when it runs) on the same
resamples. The first frame (the given box) IS scored, as in the OTB toolkit, so the numbers equal those
of got10k's ``ExperimentOTB.report`` on the same result files; frames without ground truth (NaN, zero
size, or marked absent) are not scored. fps = frames / total seconds to read each frame and run
``init`` or ``update`` on it, the same for every tracker.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence as Seq

import numpy as np
from got10k.experiments import ExperimentGOT10k
from got10k.trackers import Tracker
from tqdm import tqdm

from siamtrack import distributed
from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError
from siamtrack.evaluation import compat
from siamtrack.evaluation.datasets import Sequence, check_version, load_sequence, open_experiment
from siamtrack.evaluation.longterm import score_runs_longterm
from siamtrack.evaluation.metrics import (bootstrap_interval, iou, paired_difference, score_separation, scored_frames,
                                          sequence_curves, sequence_scores)
from siamtrack.evaluation.peers import OpenCVTracker, build_trackers
from siamtrack.evaluation.report import check_report_dir, write_report
from siamtrack.evaluation.results import claim_tracker_folder, load_result, save_result
from siamtrack.loading import resolve_device
from siamtrack.tracking.files import track_files
from siamtrack.tracking.tracker import validate_box

log = logging.getLogger(__name__)

SCORE_FIRST_FRAME = True


@dataclass
class SequenceRuns:
    """Every tracker's boxes, per-frame seconds and confidence scores on one sequence, with its ground truth."""

    name: str
    ground_truth: np.ndarray
    boxes: dict[str, np.ndarray]
    times: dict[str, np.ndarray]
    confidences: dict[str, np.ndarray]


class ScoreRecorder(Tracker):
    """``tracker`` unchanged, with its ``score`` kept after every frame of the loop
    (NaN for trackers without one; the first frame, the given box, scores NaN too)."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__(name=tracker.name, is_deterministic=tracker.is_deterministic)
        self.tracker = tracker
        self.scores: list[float] = []

    def init(self, image, box) -> None:
        self.tracker.init(image, box)
        self.scores = [float("nan")]

    def update(self, image) -> np.ndarray:
        box = self.tracker.update(image)
        self.scores.append(float(getattr(self.tracker, "score", float("nan"))))
        return box


def _first_box_usable(seq: Sequence) -> bool:
    """Whether the first box can start a tracker on the first frame (read as the trackers will read it)."""
    try:
        first = read_image(seq.frames[0])
    except SiamtrackError as exc:
        log.warning("skipping sequence %s: %s", seq.name, exc)
        return False
    try:
        validate_box(seq.boxes[0], first.shape)
    except SiamtrackError as exc:
        log.warning("skipping sequence %s: its first box cannot start a tracker (%s)", seq.name, exc)
        return False
    return True


def track_sequences(experiment, trackers: Seq[Tracker], indices: Seq[int],
                    show_progress: bool = True) -> list[SequenceRuns]:
    """Run every tracker over the sequences ``indices`` of ``experiment.dataset`` (unusable ones skipped).

    Each run is written as soon as it finishes; a run finished by an earlier benchmark into the same
    result folder is read back instead of tracked again (a log line says how many were).
    """
    runs, reused, total = [], 0, 0
    bar = tqdm(indices, desc="sequences", unit="seq", disable=not show_progress, dynamic_ncols=True)
    for index in bar:
        seq = load_sequence(experiment, index)
        if seq is None or not _first_box_usable(seq):
            continue
        bar.set_postfix_str(seq.name)
        boxes, times, confidences = {}, {}, {}
        for tracker in trackers:
            total += 1
            finished = load_result(experiment, tracker.name, seq.name, seq.boxes)
            if finished is not None:
                reused += 1
                boxes[tracker.name], times[tracker.name], confidences[tracker.name] = finished
                continue
            recorder = ScoreRecorder(tracker)
            try:
                boxes[tracker.name], times[tracker.name] = track_files(recorder, seq.frames, seq.boxes[0])
            except SiamtrackError as exc:  # a frame that cannot be read, or of another size
                log.warning("skipping sequence %s: %s", seq.name, exc)
                break
            confidences[tracker.name] = np.asarray(recorder.scores)
            save_result(experiment, tracker.name, seq.name, boxes[tracker.name], times[tracker.name],
                        confidences[tracker.name])
            written = load_result(experiment, tracker.name, seq.name, seq.boxes)
            if written is None:
                raise SiamtrackError(f"the results of {tracker.name} on {seq.name} just written to "
                                     f"{experiment.result_dir} cannot be read back")
            # scored as written (the toolkit rounds boxes), so a resumed benchmark scores the same
            boxes[tracker.name], times[tracker.name], confidences[tracker.name] = written
        else:
            runs.append(SequenceRuns(seq.name, seq.boxes, boxes, times, confidences))
    if reused:
        log.info("reused %d of %d runs (tracker x sequence) finished by an earlier benchmark in %s; "
                 "tracked the other %d", reused, total, experiment.result_dir, total - reused)
    return runs


def _sequence_score(pred: np.ndarray, gt: np.ndarray, times: np.ndarray) -> dict:
    skip_first = not SCORE_FIRST_FRAME
    seconds = float(np.sum(times))
    return {**sequence_scores(pred, gt, skip_first), **sequence_curves(pred, gt, skip_first),
            "seconds": seconds, "length": len(gt), "fps": len(gt) / max(seconds, 1e-12)}


def _overall(per_seq: dict[str, dict]) -> dict:
    scored = [s for s in per_seq.values() if s["frames"] > 0]
    seconds = sum(s["seconds"] for s in per_seq.values())
    overall = {key: float(np.mean([s[key] for s in scored])) if scored else float("nan")
               for key in ("auc", "precision", "norm_precision")}
    overall.update({key: np.mean([s[key] for s in scored], axis=0) if scored else None
                    for key in ("success_curve", "precision_curve")})
    overall.update(fps=sum(s["length"] for s in per_seq.values()) / max(seconds, 1e-12),
                   sequences=len(scored), frames=sum(s["frames"] for s in scored))
    return overall


def _confidence(runs: Seq[SequenceRuns], name: str) -> dict[str, float]:
    """:func:`score_separation` of tracker ``name``'s scores over the frames of all ``runs`` (pooled;
    frames without ground truth and first frames left out)."""
    scores, ious = [], []
    for run in runs:
        keep = scored_frames(run.ground_truth, skip_first=True)
        scores.append(run.confidences[name][keep])
        ious.append(iou(run.boxes[name][keep], run.ground_truth[keep]))
    return score_separation(np.concatenate(scores), np.concatenate(ious))


def _add_intervals(scores: dict, reference: str | None) -> None:
    """Each tracker's bootstrap interval of the mean AUC and P@20 (``overall['auc_interval']``...),
    and, against ``reference``, the paired difference with its interval (``versus``). The scored
    sequences are the same for every tracker (they share the ground truth), so with the fixed seed every
    interval here is computed on the same resampled sets of sequences."""
    names = list(scores)
    sequences = [seq for seq, s in scores[names[0]]["sequences"].items() if s["frames"] > 0]
    if not sequences:
        return
    for metric in ("auc", "precision"):
        values = {n: np.array([scores[n]["sequences"][seq][metric] for seq in sequences]) for n in names}
        for name in names:
            scores[name]["overall"][f"{metric}_interval"] = list(bootstrap_interval(values[name]))
            if reference is not None and name != reference:
                versus = scores[name].setdefault("versus", {"tracker": reference})
                versus[metric] = paired_difference(values[name], values[reference])


def score_runs(runs: Seq[SequenceRuns], tracker_names: Seq[str], reference: str | None = None) -> dict:
    """Per-sequence and overall scores of each tracker (see the module docstring for the convention),
    their bootstrap intervals, the paired difference of each to ``reference`` (a tracker name), and how
    well each tracker's confidence separates tracked from lost frames (``confidence``)."""
    scores = {}
    for name in tracker_names:
        per_seq = {run.name: _sequence_score(run.boxes[name], run.ground_truth, run.times[name]) for run in runs}
        scores[name] = {"overall": _overall(per_seq), "sequences": per_seq, "confidence": _confidence(runs, name),
                        "longterm": score_runs_longterm(runs, name)}
    _add_intervals(scores, reference)
    return scores


def reference_tracker(trackers: Seq[Tracker], specs: Seq[str], reference: str | None) -> str | None:
    """The name of the tracker the others are paired with: ``reference`` (a spec such as ``cv:Nano`` or a
    result name such as ``cv-Nano``), else NanoTrack when it runs, else none."""
    if reference is None:
        nano = [t.name for t in trackers if isinstance(t, OpenCVTracker) and t.kind == "Nano"]
        return nano[0] if nano else None
    given = [s.strip() for s in specs if s.strip()]
    for spec, tracker in zip(given, trackers):
        if reference.strip() in (spec, tracker.name):
            return tracker.name
    raise SiamtrackError(f"--reference {reference!r} is not one of the trackers benchmarked: "
                         f"{', '.join(t.name for t in trackers)}")


def got10k_toolkit_scores(experiment, tracker_names: Seq[str]) -> dict | None:
    """GOT-10k's official AO and SR, computed by the toolkit itself from the result files (GOT-10k only)."""
    if not isinstance(experiment, ExperimentGOT10k):
        return None
    try:
        with compat.quiet():
            performance = experiment.report(list(tracker_names))
    except Exception as exc:  # the toolkit raises bare Exceptions, e.g. on a partial copy
        log.warning("GOT-10k toolkit AO/SR not computed: %s", exc)
        return None
    return {n: {"ao": float(performance[n]["overall"]["ao"]), "sr": float(performance[n]["overall"]["sr"])}
            for n in tracker_names}


def run_benchmark(dataset: str, root: str | Path | Seq[str | Path], tracker_specs: Seq[str],
                  version: str | None = None, weights: str | None = None, config: str | None = None,
                  device: str | None = None, report_dir: str | Path = "benchmark",
                  reference: str | None = None) -> dict | None:
    """Benchmark the trackers ``tracker_specs`` on ``dataset`` at ``root`` (one folder or several, whose
    sequences are pooled); write results and reports under ``report_dir``, which is checked before
    anything is tracked. ``reference`` names the tracker the others are paired with (default: NanoTrack
    when it runs). Returns the scores on rank 0, ``None`` on other ranks."""
    report_dir = Path(report_dir)
    roots = [Path(root)] if isinstance(root, (str, Path)) else [Path(r) for r in root]
    check_report_dir(report_dir)
    torch_device = resolve_device(device)
    rank, world = distributed.setup(torch_device)
    try:
        experiment = open_experiment(dataset, roots, version, report_dir / "results", report_dir / "toolkit")
        trackers = build_trackers(tracker_specs, weights, config, distributed.local_device(torch_device))
        names = [t.name for t in trackers]
        reference_name = reference_tracker(trackers, tracker_specs, reference)
        # Rank 0 alone claims the result folders, before any rank writes into them: a rank that looked
        # while another was writing its claim would take the half-written claim for another tracker's results.
        problem = None
        if distributed.is_main():
            try:
                for tracker in trackers:
                    claim_tracker_folder(experiment, tracker)
            except SiamtrackError as exc:
                problem = str(exc)
        problem = distributed.broadcast_object(problem)
        if problem:
            raise SiamtrackError(problem)
        order = list(experiment.dataset.seq_names)
        shard = list(range(len(order)))[rank::world]
        gathered = distributed.gather_objects(track_sequences(experiment, trackers, shard, distributed.is_main()))
        if not distributed.is_main():
            return None
        runs = sorted((r for part in gathered for r in part), key=lambda r: order.index(r.name))
        if not runs:
            raise SiamtrackError(f"no usable sequence in {' + '.join(map(str, roots))} (see the warnings above)")
        scores = score_runs(runs, names, reference_name)
        skipped = [n for n in order if n not in {r.name for r in runs}]
        where = "at " + " + ".join(str(r) for r in roots)
        title = " ".join(filter(None, [dataset, check_version(dataset, version), where]))
        write_report(report_dir, scores, title=title,
                     skipped=skipped, toolkit=got10k_toolkit_scores(experiment, names),
                     result_dir=experiment.result_dir, reference=reference_name)
        log.info("%d sequences scored (%d skipped), %d processes; report in %s",
                 len(runs), len(skipped), world, report_dir)
        return scores
    finally:
        distributed.cleanup()
