"""Data-driven measure weights: models/weights.py."""

import numpy as np
import pandas as pd
import pytest

from features.scorecard_config import load_scorecard, scorecard_from_dict
from models.weights import (
    current_weights,
    suggest_measure_weights,
    weights_as_scorecard,
)


def _accounts(n=600, seed=1):
    """Churn driven by measure `strong` (a lot) and `weak` (a little); `noise` is unrelated."""
    rng = np.random.default_rng(seed)
    strong, weak, noise = (rng.uniform(0, 100, n) for _ in range(3))
    logit = 2.0 - 0.06 * strong - 0.015 * weak
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    index = pd.Index([f"a{i}" for i in range(n)], name="account_id")
    scores = pd.DataFrame({"measure_strong": strong, "measure_weak": weak, "measure_noise": noise}, index=index)
    return scores, pd.Series(churned, index=index)


def test_the_measure_that_drives_churn_gets_the_largest_weight():
    scores, churned = _accounts()
    table = suggest_measure_weights(scores, churned)
    assert table.index[0] == "strong"
    assert table.loc["strong", "suggested_weight"] > table.loc["weak", "suggested_weight"]
    assert table.loc["strong", "roc_auc"] > 0.7
    assert table["suggested_weight"].sum() == pytest.approx(1.0)


def test_a_measure_that_points_the_wrong_way_gets_weight_zero_with_a_note():
    scores, churned = _accounts()
    scores["measure_backwards"] = 100 - scores["measure_strong"] + np.random.default_rng(3).normal(0, 1, len(scores))
    scores = scores.drop(columns="measure_strong")
    table = suggest_measure_weights(scores, churned)
    assert table.loc["backwards", "suggested_weight"] == 0
    assert "review its thresholds" in table.loc["backwards", "note"]
    assert table.loc["backwards", "roc_auc"] < 0.5


def test_missing_measure_values_are_not_read_as_zero():
    scores, churned = _accounts()
    with_gaps = scores.copy()
    with_gaps.loc[with_gaps.index[::3], "measure_strong"] = np.nan
    table = suggest_measure_weights(with_gaps, churned)
    assert table.loc["strong", "coverage"] == pytest.approx(2 / 3, abs=0.01)
    assert table.index[0] == "strong"


def test_suggestion_does_not_depend_on_row_order_and_does_not_mutate_inputs():
    scores, churned = _accounts()
    before = scores.copy()
    first = suggest_measure_weights(scores, churned)
    order = np.random.default_rng(0).permutation(len(scores))
    shuffled = suggest_measure_weights(scores.iloc[order], churned.iloc[order])
    pd.testing.assert_series_equal(first["suggested_weight"], shuffled["suggested_weight"], atol=1e-6)
    pd.testing.assert_frame_equal(scores, before)


def test_with_a_scorecard_the_table_shows_groups_and_current_weights():
    card = scorecard_from_dict({
        "groups": {"satisfaction": {"weight": 3}, "engagement": {"weight": 1}},
        "measures": {
            "csat": {"group": "satisfaction", "indicator": "csat_90d", "label": "CSAT", "poor": 50, "good": 90},
            "nps": {"group": "satisfaction", "indicator": "nps_latest", "label": "NPS", "poor": 5, "good": 9},
            "active_days": {"group": "engagement", "indicator": "active_days_30d", "label": "Active days", "poor": 2, "good": 15},
        },
    })
    scores, churned = _accounts()
    scores.columns = ["measure_csat", "measure_nps", "measure_active_days"]
    table = suggest_measure_weights(scores, churned, scorecard=card)
    assert table.loc["csat", "group"] == "satisfaction"
    assert table.loc["csat", "current_weight"] == pytest.approx(0.375)
    assert table.loc["active_days", "current_weight"] == pytest.approx(0.25)
    toml_keys = weights_as_scorecard(table)
    share = table["suggested_weight"]
    assert toml_keys["groups"]["satisfaction"]["weight"] == pytest.approx(100 * (share["csat"] + share["nps"]), abs=0.1)
    # active_days holds the noise column: its group keeps no weight at all.
    assert toml_keys["measures"]["active_days"]["weight"] == 0.0
    assert toml_keys["groups"]["engagement"]["weight"] == 0.0


def test_current_weights_of_the_default_scorecard_sum_to_one():
    weights = current_weights(load_scorecard())
    assert weights.sum() == pytest.approx(1.0)
    assert (weights > 0).all()


def test_labels_other_than_zero_and_one_are_refused():
    scores, churned = _accounts(n=50)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        suggest_measure_weights(scores, churned.replace({1: "yes", 0: "no"}))


def test_labels_of_one_class_are_refused():
    scores, churned = _accounts(n=50)
    with pytest.raises(ValueError, match="every label is the same"):
        suggest_measure_weights(scores, churned * 0)


def test_labels_missing_for_some_accounts_are_refused():
    scores, churned = _accounts(n=50)
    with pytest.raises(ValueError, match="no label for 5 account"):
        suggest_measure_weights(scores, churned.iloc[5:])


def test_a_table_without_measure_columns_is_refused():
    _, churned = _accounts(n=50)
    with pytest.raises(ValueError, match="no measure column"):
        suggest_measure_weights(pd.DataFrame({"segment": ["SMB"] * 50}, index=churned.index), churned)


def test_a_non_positive_regularisation_is_refused():
    scores, churned = _accounts(n=50)
    with pytest.raises(ValueError, match="regularisation must be > 0"):
        suggest_measure_weights(scores, churned, regularisation=0)


def test_scorecard_keys_need_the_group_column():
    scores, churned = _accounts(n=50)
    with pytest.raises(ValueError, match="no group column"):
        weights_as_scorecard(suggest_measure_weights(scores, churned))


def test_applied_weights_give_a_scorecard_without_the_measures_that_got_zero():
    from models.weights import apply_weights

    card = load_scorecard()
    names = [m.name for m in card.measures]
    shares = [0.5, 0.5] + [0.0] * (len(names) - 2)
    suggestion = pd.DataFrame({"group": [m.group for m in card.measures], "suggested_weight": shares}, index=names)
    reweighted = apply_weights(card, suggestion)
    assert [m.name for m in reweighted.measures] == names[:2]
    assert {g.name for g in reweighted.groups} == {m.group for m in reweighted.measures}
    assert reweighted.bands == card.bands
    for segment in reweighted.segments.values():
        assert {m.name for m in segment.measures} <= set(names[:2])


def test_applying_weights_that_are_all_zero_is_refused():
    from models.weights import apply_weights

    card = load_scorecard()
    suggestion = pd.DataFrame({"group": [m.group for m in card.measures], "suggested_weight": 0.0},
                              index=[m.name for m in card.measures])
    with pytest.raises(ValueError, match="no measure got a positive suggested weight"):
        apply_weights(card, suggestion)


def test_a_measure_of_pure_noise_gets_weight_zero_with_a_note():
    scores, churned = _accounts(n=3000, seed=5)
    table = suggest_measure_weights(scores, churned)
    assert table.loc["noise", "suggested_weight"] == 0
    assert "no clear evidence" in table.loc["noise", "note"] or "do not go with less churn" in table.loc["noise", "note"]
    assert abs(table.loc["noise", "evidence_z"]) < 2
    assert table.loc["strong", "evidence_z"] > 10
    assert table.loc[["strong", "weak"], "suggested_weight"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_noise_gets_weight_zero_whatever_the_seed(seed):
    scores, churned = _accounts(n=1500, seed=seed)
    assert suggest_measure_weights(scores, churned).loc["noise", "suggested_weight"] == 0
