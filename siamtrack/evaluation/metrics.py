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
