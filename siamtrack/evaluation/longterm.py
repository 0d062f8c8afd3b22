"""Long-term tracking measures (VOT-LT): tracking precision, recall and F-score over the confidence threshold.

As defined by Lukezic et al., "Now you see me: evaluating performance in long-term visual
tracking" (VOT-LT 2018), and computed as the VOT toolkit's ``vot.analysis.longterm`` does:

* a tracker reports its box in a frame when its confidence is at least a threshold ``tau``, and
  "target absent" otherwise;
* tracking precision ``Pr(tau)``: the mean IoU over the frames where it reports a box (IoU 0 where
  the target is in fact absent; 1 when it reports none); tracking recall ``Re(tau)``: the summed
  IoU of the reported boxes over the number of frames where the target is visible;
* both are computed per sequence and averaged over sequences, at thresholds drawn from all the
  tracker's confidences (up to 98 of their order statistics, plus +inf and -inf);
  ``F(tau) = 2 Pr Re / (Pr + Re)``, and the **F-score** is its maximum over ``tau``, reported with
  the precision and recall at that threshold.

Here the first frame (the given box) is left out, and a frame whose ground truth is not a box (NaN,
zero size, or marked absent) counts as target absent. A tracker without a confidence (NaN scores,
e.g. CSRT) reports its box in every frame: always present.

Two more numbers say what a user sees, both at the F-score's threshold: the share of the
target-absent frames in which the tracker reported absence, and the frames the tracker needs after
the target comes back (a target-absent stretch ends) until it reports a box with IoU above
:data:`FOUND_IOU` (median over returns; a return never found counts as infinitely long).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from siamtrack.evaluation.metrics import iou, valid_frames

RESOLUTION = 100  # thresholds per curve, as the VOT toolkit's default (98 order statistics + two infinities)
FOUND_IOU = 0.1  # a returned target counts as found again once a reported box overlaps it more than this


def thresholds(confidences: Iterable[np.ndarray], resolution: int = RESOLUTION) -> np.ndarray:
    """Thresholds of the precision/recall curves, highest first: the VOT toolkit's choice among the
    pooled finite confidences (all of them when few, else ``resolution - 2`` evenly spaced order
    statistics), with +inf before and -inf after."""
    scores = np.sort(np.concatenate([np.ravel(c) for c in confidences] or [np.empty(0)]))[::-1]
    scores = scores[np.isfinite(scores)]
    if len(scores) > resolution - 2:
        delta = len(scores) // (resolution - 2)
        scores = scores[np.round(np.linspace(delta, len(scores) - delta, resolution - 2)).astype(int)]
    return np.concatenate([[np.inf], scores, [-np.inf]])


def _reported(confidence: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """``(thresholds, frames)``: where a box is reported at each threshold (NaN confidence: always)."""
    confidence = np.where(np.isnan(confidence), np.inf, confidence)
    return confidence[None, :] >= taus[:, None]


def pr_curves(pred: np.ndarray, gt: np.ndarray, confidence: np.ndarray,
              taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tracking precision and recall of one sequence at each threshold in ``taus`` (first frame left
    out; recall NaN when the target is never visible after it)."""
    pred, gt = np.atleast_2d(pred)[1:], np.atleast_2d(gt)[1:]
    visible = valid_frames(gt)
    overlaps = np.where(visible, iou(pred, np.where(visible[:, None], gt, 0.0)), 0.0)
    reported = _reported(np.asarray(confidence, dtype=np.float64)[1:], taus)
    count = reported.sum(axis=1)
    total = (reported * overlaps[None, :]).sum(axis=1)
    precision = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    recall = total / visible.sum() if visible.any() else np.full(len(taus), np.nan)
    return precision, recall


def _returns(visible: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` frame ranges of the visible stretches that follow an absent one."""
    edges = np.flatnonzero(np.diff(visible.astype(int)) == 1) + 1
    ends = [int(np.argmin(visible[e:])) + e if not visible[e:].all() else len(visible) for e in edges]
    return list(zip(edges.tolist(), ends))


def reacquisition_frames(pred: np.ndarray, gt: np.ndarray, confidence: np.ndarray, tau: float) -> list[float]:
    """Per return of the target (first frame left out): frames from its return until a box reported at
    threshold ``tau`` overlaps it by more than :data:`FOUND_IOU` (0: at once); inf if never before it
    is gone again or the sequence ends."""
    pred, gt = np.atleast_2d(pred)[1:], np.atleast_2d(gt)[1:]
    visible = valid_frames(gt)
    found = _reported(np.asarray(confidence, dtype=np.float64)[1:], np.array([tau]))[0]
    found &= visible & (iou(pred, np.where(visible[:, None], gt, 0.0)) > FOUND_IOU)
    return [float(np.argmax(found[a:b])) if found[a:b].any() else float("inf") for a, b in _returns(visible)]


def longterm_measures(pred: Sequence[np.ndarray], gt: Sequence[np.ndarray],
                      confidence: Sequence[np.ndarray]) -> dict:
    """The VOT-LT measures of one tracker over sequences (lists of per-frame boxes, ground truth and
    confidences, one entry per sequence): ``precision``, ``recall`` and ``fscore`` at the threshold
    ``threshold`` that maximises F; ``absence`` (share of target-absent frames reported as absent;
    NaN without such frames) and ``absent_frames``; ``reacquire_median`` and ``returns`` (see the
    module docstring); the averaged curves (``curve_precision``, ``curve_recall``, ``thresholds``)."""
    taus = thresholds(confidence)
    curves = [pr_curves(p, g, c, taus) for p, g, c in zip(pred, gt, confidence)]
    precision = np.mean([c[0] for c in curves], axis=0)
    recalls = np.array([c[1] for c in curves])
    recall = np.nanmean(recalls, axis=0) if np.isfinite(recalls).any() else np.zeros(len(taus))
    fscore = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    best = int(np.argmax(fscore))
    tau = float(taus[best])
    absent = np.concatenate([~valid_frames(np.atleast_2d(g)[1:]) for g in gt])
    silent = np.concatenate([~_reported(np.asarray(c, dtype=np.float64)[1:], np.array([tau]))[0] for c in confidence])
    waits = [w for p, g, c in zip(pred, gt, confidence) for w in reacquisition_frames(p, g, c, tau)]
    return {"precision": float(precision[best]), "recall": float(recall[best]), "fscore": float(fscore[best]),
            "threshold": tau, "absence": float(silent[absent].mean()) if absent.any() else float("nan"),
            "absent_frames": int(absent.sum()), "reacquire_median": float(np.median(waits)) if waits else float("nan"),
            "returns": len(waits), "curve_precision": precision, "curve_recall": recall, "thresholds": taus}


def score_runs_longterm(runs: Sequence, name: str) -> dict:
    """:func:`longterm_measures` of tracker ``name`` over benchmark runs (``benchmark.SequenceRuns``)."""
    return longterm_measures([r.boxes[name] for r in runs], [r.ground_truth for r in runs],
                             [r.confidences[name] for r in runs])


def _fmt(value: float, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def markdown_lines(scores: dict, names: Sequence[str]) -> list[str]:
    """The report's long-term section: one row per tracker of ``scores[name]['longterm']``."""
    rows = [n for n in names if scores[n].get("longterm")]
    if not rows:
        return []
    lines = ["", "## Long-term: does it know when the target is gone, and find it again?", "",
             "VOT-LT tracking precision (Pr), recall (Re) and F-score at the confidence threshold that "
             "maximises F (siamtrack/evaluation/longterm.py); trackers without a score count as always "
             "reporting the target. Absences: share of target-absent frames reported as absent at that "
             "threshold. Re-acquire: median frames after the target returns until a reported box overlaps "
             f"it (IoU > {FOUND_IOU}; 'inf': most returns never found).", "",
             "| tracker | F | Pr | Re | threshold | absences reported | absent frames | re-acquire (median) | returns |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in rows:
        m = scores[name]["longterm"]
        wait = "inf" if m["reacquire_median"] == float("inf") else _fmt(m["reacquire_median"], 1)
        lines.append(f"| {name} | {_fmt(m['fscore'])} | {_fmt(m['precision'])} | {_fmt(m['recall'])} "
                     f"| {_fmt(m['threshold'])} | {_fmt(m['absence'])} | {m['absent_frames']} | {wait} "
                     f"| {m['returns']} |")
    return lines
