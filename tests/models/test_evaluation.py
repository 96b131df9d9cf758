"""Evaluation metrics, checked against scikit-learn's own, and the band tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from models import evaluation as ev


def _data(seed: int, n: int = 300, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    if ties:
        p = np.round(p, 1)  # many equal scores: the tie handling must match too
    return y, p


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_scikit_learn(seed, ties):
    y, p = _data(seed, ties=ties)
    assert ev.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pr_auc_matches_scikit_learn_average_precision(seed, ties):
    y, p = _data(seed, ties=ties)
    assert ev.pr_auc(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brier_loss_matches_scikit_learn(seed):
    y, p = _data(seed)
    assert ev.brier_loss(y, p) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_loss_matches_scikit_learn(seed):
    y, p = _data(seed)
    assert ev.binary_log_loss(y, p) == pytest.approx(skm.log_loss(y, p), abs=1e-12)


def test_log_loss_stays_finite_for_confidently_wrong_predictions():
    assert math.isfinite(ev.binary_log_loss([1, 0], [0.0, 1.0]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=60))
def test_ranking_metrics_match_scikit_learn_on_arbitrary_inputs(rows):
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    if len(set(y)) < 2:
        assert math.isnan(ev.roc_auc(y, p))
        return
    assert ev.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-9)
    assert ev.pr_auc(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-9)


def test_lift_and_recall_in_the_riskiest_tenth_count_the_top_rows():
    # 20 rows, 4 churners; the riskiest 2 rows hold 1 churner.
    y = np.array([1, 0] + [0] * 15 + [1, 1, 1])
    p = np.array([0.99, 0.98] + [0.5] * 15 + [0.1, 0.1, 0.1])
    assert ev.recall_at_top(y, p) == pytest.approx(1 / 4)
    assert ev.lift_at_top(y, p) == pytest.approx((1 / 2) / (4 / 20))


def test_lift_is_one_for_a_constant_model_on_average():
    y, _ = _data(3, n=1000)
    lifts = [ev.lift_at_top(y, np.random.default_rng(s).uniform(size=1000)) for s in range(30)]
    assert np.mean(lifts) == pytest.approx(1.0, abs=0.15)


def test_metrics_do_not_change_when_rows_are_shuffled():
    y, p = _data(4)
    order = np.random.default_rng(0).permutation(len(y))
    first, shuffled = ev.evaluate(y, p), ev.evaluate(y[order], p[order])
    for metric in ("roc_auc", "pr_auc", "brier", "log_loss", "recall_top10"):
        assert first[metric] == pytest.approx(shuffled[metric])


def test_metrics_without_a_churner_are_nan_with_a_reason_not_zero():
    result = ev.evaluate([0, 0, 0], [0.1, 0.2, 0.3])
    for metric in ("roc_auc", "pr_auc", "lift_top10", "recall_top10"):
        assert math.isnan(result[metric])
        assert "churner" in result["undefined"][metric]
    assert result["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.09]))


@pytest.mark.parametrize("y, p, match", [
    ([0, 1], [0.2], "same length"),
    ([0, 2], [0.2, 0.3], "only 0 and 1"),
    ([0, np.nan], [0.2, 0.3], "only 0 and 1"),
    ([0, 1], [0.2, 1.3], r"\[0, 1\]"),
    ([0, 1], [0.2, np.nan], "without NaN"),
])
def test_invalid_inputs_are_rejected_with_a_clear_message(y, p, match):
    with pytest.raises(ValueError, match=match):
        ev.evaluate(y, p)


def test_churn_rate_by_band_keeps_band_order_and_marks_empty_bands_undefined():
    table = ev.churn_rate_by_band([1, 0, 1, 0], ["red", "red", "green", "green"],
                                  order=["red", "yellow", "green"])
    assert list(table.index) == ["red", "yellow", "green"]
    assert table.loc["yellow", "accounts"] == 0
    assert math.isnan(table.loc["yellow", "churn_rate"])
    assert table.loc["red", "churn_rate"] == pytest.approx(0.5)


def test_band_contrast_says_in_numbers_whether_red_is_riskier_than_green():
    table = ev.churn_rate_by_band([1, 1, 0, 0, 1, 0, 0, 0], list("rrrrgggg"), order=["r", "g"])
    contrast = ev.band_contrast(table, "r", "g")
    assert contrast["riskier"] is True
    assert contrast["ratio"] == pytest.approx(2.0)
    assert "50.0% vs 25.0%" in contrast["text"]


def test_band_contrast_cannot_compare_an_empty_band():
    table = ev.churn_rate_by_band([1, 0], ["r", "r"], order=["r", "g"])
    assert ev.band_contrast(table, "r", "g")["riskier"] is None


def test_comparison_table_has_one_row_per_model():
    y, p = _data(5)
    table = ev.comparison_table({"a": ev.evaluate(y, p), "b": ev.evaluate(y, 1 - p)})
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "roc_auc"] > 0.5 > table.loc["b", "roc_auc"]


def test_reliability_table_bins_hold_every_row():
    y, p = _data(6)
    table = ev.reliability_table(y, p, bins=10)
    assert table["accounts"].sum() == len(y)
    assert table["predicted"].is_monotonic_increasing
