"""A scorecard suggested from churn and proven out of time: models/scorecard_suggestion.py."""

import tomllib

import numpy as np
import pandas as pd
import pytest

from features.contract import validate_tables
from features.demo_data import generate_demo_data
from features.scorecard_config import load_scorecard, scorecard_from_dict
from models.scorecard_suggestion import SuggestionError, suggest_scorecard
from models.training_set import Split, build_training_set, time_split


@pytest.fixture(scope="module")
def demo_suggestion():
    """The subscription demo at its default size (2000 accounts, 18 months, seed 7)."""
    tables, _ = validate_tables(generate_demo_data(accounts=2000, months=18, seed=7))
    ts = build_training_set(tables, horizon=90, every=30)
    return suggest_scorecard(time_split(ts), ts.feature_columns, load_scorecard())


@pytest.mark.slow
def test_on_the_demo_the_suggestion_beats_the_default_out_of_time_with_bands_in_order(demo_suggestion):
    results = demo_suggestion.results
    assert results["suggested"]["roc_auc"] > results["current"]["roc_auc"]
    rates = demo_suggestion.by_band["suggested"]["churn_rate"]
    assert rates["red"] > rates["yellow"] > rates["green"]
    assert demo_suggestion.monotone["suggested"] is True
    assert demo_suggestion.beats and "beats" in demo_suggestion.verdict


@pytest.mark.slow
def test_the_written_toml_is_the_proven_scorecard_and_says_what_changed(demo_suggestion):
    parsed = scorecard_from_dict(tomllib.loads(demo_suggestion.toml), source="suggested scorecard")
    assert parsed == demo_suggestion.suggested
    changed = [line for line in demo_suggestion.toml.splitlines() if "# was" in line]
    assert any(line.startswith("poor = ") for line in changed)
    assert any(line.startswith("weight = ") for line in changed)
    assert demo_suggestion.changed_bands > 0
    shares = demo_suggestion.by_band["suggested"]["share"]
    assert shares.sum() == pytest.approx(1.0)


def _crafted_split(seed=0, n_accounts=1500):
    """Churn follows active days and CSAT; NPS is pure noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for as_of in pd.date_range("2025-01-01", periods=4, freq="30D"):
        active = rng.uniform(0, 60, n_accounts)
        csat = rng.uniform(20, 100, n_accounts)
        nps = rng.uniform(0, 10, n_accounts)
        logit = -0.5 - 0.08 * active - 0.03 * (csat - 20)
        label = (rng.uniform(size=n_accounts) < 1 / (1 + np.exp(-logit))).astype(float)
        parts.append(pd.DataFrame({"account_id": [f"a{i}" for i in range(n_accounts)], "as_of": as_of,
                                   "active_days_90d": active, "csat_180d": csat, "nps_mean_180d": nps,
                                   "label": label}))
    frame = pd.concat(parts, ignore_index=True)
    dates = sorted(frame["as_of"].unique())
    part = lambda ds: frame[frame["as_of"].isin(ds)].reset_index(drop=True)  # noqa: E731
    return Split(train=part(dates[:2]), valid=part(dates[2:3]), test=part(dates[3:]),
                 unlabelled=frame.iloc[:0], train_dates=dates[:2], valid_dates=dates[2:3],
                 test_dates=dates[3:], dropped_dates=[])


CRAFTED_CARD = {
    "groups": {"engagement": {"weight": 1}, "satisfaction": {"weight": 1}},
    "measures": {
        "active_days": {"group": "engagement", "indicator": "active_days_90d", "poor": 3, "good": 36},
        "csat": {"group": "satisfaction", "indicator": "csat_180d", "poor": 50, "good": 90},
        "nps": {"group": "satisfaction", "indicator": "nps_mean_180d", "poor": 5, "good": 9},
    },
}


def test_a_measure_of_pure_noise_gets_weight_zero_with_a_note():
    split = _crafted_split()
    suggestion = suggest_scorecard(split, ["active_days_90d", "csat_180d", "nps_mean_180d"],
                                   scorecard_from_dict(CRAFTED_CARD))
    weights = suggestion.weights["default"]
    assert weights.loc["nps", "suggested_weight"] == 0
    assert "no clear evidence" in weights.loc["nps", "note"] or "do not go with less churn" in weights.loc["nps", "note"]
    assert weights.loc[["active_days", "csat"], "suggested_weight"].min() > 0.1
    nps_weight = [line for line in suggestion.toml.split("[measures.nps]")[1].splitlines() if line.startswith("weight")]
    assert nps_weight[0].startswith("weight = 0  # was 1: ")


def test_segments_other_than_the_segment_column_are_refused_with_the_fix():
    split = _crafted_split(n_accounts=200)
    with pytest.raises(SuggestionError, match="map your column to accounts.segment"):
        suggest_scorecard(split, ["active_days_90d"], scorecard_from_dict(CRAFTED_CARD), segment_by="plan")
    with pytest.raises(SuggestionError, match="no 'segment' column"):
        suggest_scorecard(split, ["active_days_90d"], scorecard_from_dict(CRAFTED_CARD), segment_by="segment")
