"""OTB-style tracking metrics over one sequence: IoU, centre error, success AUC, precision.

Frames whose ground truth is absent (NaN, or marked invalid) are excluded from every score.
"""
from __future__ import annotations

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)
PRECISION_THRESHOLD_PX = 20.0
PRECISION_THRESHOLDS_PX = np.arange(51, dtype=np.float64)
NORM_PRECISION_THRESHOLD = 0.2


def iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of matching rows of two ``(N, 4)`` arrays of ``(x, y, w, h)`` boxes."""
    pred, gt = np.atleast_2d(pred).astype(np.float64), np.atleast_2d(gt).astype(np.float64)
    left = np.maximum(pred[:, 0], gt[:, 0])
    top = np.maximum(pred[:, 1], gt[:, 1])
    right = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    bottom = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels between box centres, row by row."""
    pred, gt = np.atleast_2d(pred).astype(np.float64), np.atleast_2d(gt).astype(np.float64)
    return np.linalg.norm((pred[:, :2] + pred[:, 2:] / 2) - (gt[:, :2] + gt[:, 2:] / 2), axis=1)


def valid_frames(gt: np.ndarray) -> np.ndarray:
    """Frames with a usable ground-truth box (finite, positive size)."""
    gt = np.atleast_2d(gt).astype(np.float64)
    return np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def success_curve(ious: np.ndarray) -> np.ndarray:
    """Fraction of frames whose IoU exceeds each threshold in ``SUCCESS_THRESHOLDS``."""
    return (np.asarray(ious)[:, None] > SUCCESS_THRESHOLDS[None, :]).mean(axis=0)


def success_auc(ious: np.ndarray) -> float:
    """Area under the success curve (the mean over the 21 OTB thresholds)."""
    return float(success_curve(ious).mean())


def precision_at(errors: np.ndarray, threshold: float = PRECISION_THRESHOLD_PX) -> float:
    """Fraction of frames whose centre error is at most ``threshold`` pixels."""
    return float((np.asarray(errors) <= threshold).mean())


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS_PX) -> np.ndarray:
    """Fraction of frames whose (centre) error is at most each threshold: the precision plot."""
    return (np.asarray(errors)[:, None] <= np.asarray(thresholds)[None, :]).mean(axis=0)


def normalized_center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Centre distance with each axis divided by the ground-truth width or height (TrackingNet, LaSOT)."""
    pred, gt = np.atleast_2d(pred).astype(np.float64), np.atleast_2d(gt).astype(np.float64)
    offset = (pred[:, :2] + pred[:, 2:] / 2) - (gt[:, :2] + gt[:, 2:] / 2)
    return np.linalg.norm(offset / gt[:, 2:], axis=1)


def scored_frames(gt: np.ndarray, skip_first: bool = True) -> np.ndarray:
    """Frames that count in a score: valid ground truth, and not the first frame if ``skip_first``."""
    keep = valid_frames(gt)
    if skip_first:
        keep[0] = False
    return keep


def sequence_curves(pred: np.ndarray, gt: np.ndarray, skip_first: bool = True) -> dict[str, np.ndarray | float]:
    """Success and precision curves and normalised precision (at 0.2) of one sequence.

    Same frames as :func:`sequence_scores`; curves are ``None`` when no frame counts.
    """
    pred, gt = np.atleast_2d(pred), np.atleast_2d(gt)
    keep = scored_frames(gt, skip_first)
    if not keep.any():
        return {"success_curve": None, "precision_curve": None, "norm_precision": float("nan")}
    norm_errors = normalized_center_error(pred[keep], gt[keep])
    return {"success_curve": success_curve(iou(pred[keep], gt[keep])),
            "precision_curve": precision_curve(center_error(pred[keep], gt[keep])),
            "norm_precision": precision_at(norm_errors, NORM_PRECISION_THRESHOLD)}


def sequence_scores(pred: np.ndarray, gt: np.ndarray, skip_first: bool = True) -> dict[str, float]:
    """Success AUC and precision@20 of one sequence, over its frames with valid ground truth.

    The first frame (the given box) is excluded by default, as in the got10k toolkit.
    """
    pred, gt = np.atleast_2d(pred), np.atleast_2d(gt)
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    keep = scored_frames(gt, skip_first)
    if not keep.any():
        return {"auc": float("nan"), "precision": float("nan"), "frames": 0}
    return {"auc": success_auc(iou(pred[keep], gt[keep])),
            "precision": precision_at(center_error(pred[keep], gt[keep])),
            "frames": int(keep.sum())}


TRACKED_IOU = 0.5  # frames above this IoU count as tracked when judging a tracker's confidence score
LOST_IOU = 0.1  # frames below it count as lost


def score_separation(scores: np.ndarray, ious: np.ndarray) -> dict[str, float]:
    """How well a tracker's per-frame confidence tells tracked frames (IoU > 0.5) from lost ones (IoU < 0.1).

    ``auroc``: the probability that a random tracked frame scores higher than a random lost one (ties
    count half; 0.5 = the score says nothing, 1 = it separates them perfectly); mean score of each
    group and their sizes. NaN where a tracker has no score or a group is empty.
    """
    scores, ious = np.asarray(scores, dtype=np.float64), np.asarray(ious, dtype=np.float64)
    known = np.isfinite(scores)
    tracked, lost = scores[known & (ious > TRACKED_IOU)], scores[known & (ious < LOST_IOU)]
    result = {"tracked_frames": int(tracked.size), "lost_frames": int(lost.size),
              "tracked_score": float(tracked.mean()) if tracked.size else float("nan"),
              "lost_score": float(lost.mean()) if lost.size else float("nan"), "auroc": float("nan")}
    if tracked.size and lost.size:
        above = (tracked[:, None] > lost[None, :]).mean() + 0.5 * (tracked[:, None] == lost[None, :]).mean()
        result["auroc"] = float(above)
    return result


BOOTSTRAP_RESAMPLES = 10_000  # resamples of the sequences behind every interval
BOOTSTRAP_SEED = 0  # fixed, so that the same per-sequence scores always give the same interval
INTERVAL_LEVEL = 0.90
_BOOTSTRAP_CHUNK = 1_000  # resamples drawn at a time: memory stays ~8 MB per 1,000 sequences


def bootstrap_means(values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Column means of ``values`` (sequences x columns, e.g. one column per tracker) over ``resamples``
    bootstrap samples of its rows: ``(resamples, columns)``.

    Sequences, not frames, are resampled (with replacement, as many as there are): frames of one
    sequence are far from independent, so a frame bootstrap would give intervals much too narrow.
    Every column is averaged over the SAME resampled sequences, which is what makes differences of
    columns paired. Deterministic: the same ``values``, ``resamples`` and ``seed`` give the same result.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or len(values) == 0:
        raise ValueError(f"need a (sequences, columns) array with at least one sequence, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("bootstrap values must be finite (leave out sequences without a score)")
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, values.shape[1]))
    for start in range(0, resamples, _BOOTSTRAP_CHUNK):
        stop = min(start + _BOOTSTRAP_CHUNK, resamples)
        rows = rng.integers(0, len(values), size=(stop - start, len(values)))
        means[start:stop] = values[rows].mean(axis=1)
    return means


def percentile_interval(samples: np.ndarray, level: float = INTERVAL_LEVEL) -> tuple[float, float]:
    """The central ``level`` interval (percentile method) of bootstrap ``samples`` (1-D)."""
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(np.asarray(samples, dtype=np.float64), [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_interval(values: np.ndarray, level: float = INTERVAL_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """``level`` bootstrap interval of the mean of per-sequence ``values`` (e.g. one tracker's AUCs),
    sequences resampled with replacement (see :func:`bootstrap_means`)."""
    return percentile_interval(bootstrap_means(values, resamples, seed)[:, 0], level)


def paired_difference(values: np.ndarray, reference: np.ndarray, level: float = INTERVAL_LEVEL,
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict[str, float]:
    """Mean of ``values - reference`` (two trackers' scores on the same sequences, in the same order)
    and its ``level`` bootstrap interval, both trackers averaged over the same resampled sequences.

    An interval that excludes 0 is what says one tracker is better on sequences like these; the two
    trackers' separate intervals overlapping says nothing, since they share each sequence's difficulty.
    """
    values, reference = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if values.shape != reference.shape:
        raise ValueError(f"paired scores differ in shape: {values.shape} and {reference.shape}")
    means = bootstrap_means(np.stack([values, reference], axis=1), resamples, seed)
    low, high = percentile_interval(means[:, 0] - means[:, 1], level)
    return {"difference": float(np.mean(values - reference)), "low": low, "high": high}
