"""Tracking metrics against hand-computed cases and against the got10k toolkit's own formulas."""
from __future__ import annotations

import numpy as np
import pytest
from got10k.utils.metrics import center_error as got10k_center_error
from got10k.utils.metrics import rect_iou

from siamtrack.evaluation.metrics import (bootstrap_interval, center_error, iou, normalized_center_error,
                                          paired_difference, precision_at, precision_curve, sequence_curves,
                                          sequence_scores, success_auc, valid_frames)


def test_iou_of_hand_computed_boxes():
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [2, 2, 4, 4]])
    gt = np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10], [0, 0, 10, 10]])
    # overlap 50 of union 150; disjoint; identical; inside (16 of 100)
    np.testing.assert_allclose(iou(pred, gt), [1 / 3, 0.0, 1.0, 0.16])


def test_center_error_is_the_distance_between_box_centres():
    np.testing.assert_allclose(center_error([[0, 0, 10, 10]], [[3, 4, 10, 10]]), [5.0])
    # different sizes: centres (5, 5) and (5, 5)
    np.testing.assert_allclose(center_error([[0, 0, 10, 10]], [[2, 2, 6, 6]]), [0.0])


def test_normalized_center_error_divides_each_axis_by_the_ground_truth_size():
    # centre offset (4, 3) against a 20 x 10 box -> (0.2, 0.3)
    np.testing.assert_allclose(normalized_center_error([[4, 3, 20, 10]], [[0, 0, 20, 10]]), [np.sqrt(0.13)])


def test_precision_counts_errors_up_to_and_including_the_threshold():
    assert precision_at(np.array([0.0, 20.0, 20.5, 100.0])) == 0.5
    np.testing.assert_allclose(precision_curve(np.array([0.0, 1.5, 60.0]), np.array([0, 1, 2, 50])),
                               [1 / 3, 1 / 3, 2 / 3, 2 / 3])


def test_auc_excludes_absent_frames_and_the_first_frame_by_default():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 0, 0], [0, 0, 10, 10]], dtype=float)
    pred = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 10, 10]], dtype=float)
    assert list(valid_frames(gt)) == [True, True, False, False, True]
    # Scored: frame 1 (IoU 1/3, above the 7 thresholds 0..0.30) and frame 4 (IoU 0): AUC = 7 * 0.5 / 21.
    scores = sequence_scores(pred, gt)
    assert scores["frames"] == 2
    assert scores["auc"] == pytest.approx(1 / 6)
    assert scores["precision"] == 0.5
    # The first frame scored too: IoU 1 exceeds 20 of the 21 thresholds (not 1 itself): (20 + 7 + 0) / 3 / 21.
    with_first = sequence_scores(pred, gt, skip_first=False)
    assert with_first["frames"] == 3
    assert with_first["auc"] == pytest.approx(27 / 63)
    assert with_first["precision"] == pytest.approx(2 / 3)


def test_sequence_curves_match_the_scores_on_the_same_frames():
    rng = np.random.default_rng(0)
    gt = np.column_stack([rng.uniform(0, 50, (30, 2)), rng.uniform(5, 30, (30, 2))])
    pred = gt + rng.normal(0, 4, gt.shape)
    gt[7] = np.nan
    scores, curves = sequence_scores(pred, gt, skip_first=False), sequence_curves(pred, gt, skip_first=False)
    assert curves["success_curve"].mean() == pytest.approx(scores["auc"])
    assert curves["precision_curve"][20] == pytest.approx(scores["precision"])
    assert 0 <= curves["norm_precision"] <= 1


def test_metrics_equal_the_got10k_toolkit_formulas():
    rng = np.random.default_rng(1)
    gt = np.column_stack([rng.uniform(0, 100, (50, 2)), rng.uniform(1, 40, (50, 2))])
    pred = np.column_stack([gt[:, :2] + rng.normal(0, 10, (50, 2)), gt[:, 2:] * rng.uniform(0.5, 1.5, (50, 2))])
    np.testing.assert_allclose(iou(pred, gt), rect_iou(pred, gt), atol=1e-12)
    np.testing.assert_allclose(center_error(pred, gt), got10k_center_error(pred, gt), atol=1e-12)
    assert success_auc(iou(pred, gt)) == pytest.approx(np.mean(np.greater(rect_iou(pred, gt)[:, None],
                                                                          np.linspace(0, 1, 21)[None, :])))


def test_bootstrap_interval_resamples_sequences_and_is_deterministic():
    rng = np.random.default_rng(3)
    aucs = rng.uniform(0.2, 0.9, size=40)  # one AUC per sequence
    low, high = bootstrap_interval(aucs)
    assert (low, high) == bootstrap_interval(aucs)  # fixed seed: the same numbers every run
    assert low < aucs.mean() < high
    # 90 % of the mean of 40 sequences: about +-1.645 standard errors (resampling sequences, not frames)
    half_width = 1.645 * aucs.std() / np.sqrt(len(aucs))
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)
    assert bootstrap_interval(np.full(5, 0.6)) == pytest.approx((0.6, 0.6))  # no spread, no interval
    assert bootstrap_interval(aucs, resamples=2_000, seed=1) != (low, high)


def test_paired_difference_uses_the_same_resamples_for_both_trackers():
    rng = np.random.default_rng(4)
    reference = rng.uniform(0.1, 0.9, size=20)  # sequences of very different difficulty...
    better = reference + 0.02 + rng.normal(0, 0.005, size=20)  # ...on which a tracker is always a bit better
    paired = paired_difference(better, reference)
    assert paired["difference"] == pytest.approx(np.mean(better - reference))
    assert 0 < paired["low"] < paired["difference"] < paired["high"] < 0.03  # paired: clearly better
    low_a, high_a = bootstrap_interval(better)
    low_b, high_b = bootstrap_interval(reference)
    assert low_a < high_b and low_b < high_a  # while the separate intervals overlap widely
    assert paired_difference(reference, reference) == {"difference": 0.0, "low": 0.0, "high": 0.0}
    with pytest.raises(ValueError, match="shape"):
        paired_difference(better[:5], reference)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_interval(np.array([0.5, np.nan]))
