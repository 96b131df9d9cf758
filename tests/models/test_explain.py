"""Per-account drivers from LightGBM's SHAP contributions, in words a CSM reads."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.estimators import fit_lightgbm
from models.explain import (
    SLIGHT_BELOW,
    STRONG_FROM,
    contributions,
    driver_text,
    mean_absolute_contribution,
    strength_word,
    top_drivers,
)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n = 800
    X = pd.DataFrame({
        "csat_90d": rng.uniform(0, 100, n),
        "tenure_days": rng.uniform(0, 1000, n),
        "noise": rng.normal(size=n),
        "plan": rng.choice(["starter", "growth"], n),
    }, index=pd.Index([f"A{i}" for i in range(n)], name="account_id"))
    y = ((X["csat_90d"] < 30) | (X["tenure_days"] < 100)).astype(int)
    return fit_lightgbm(X, y, params={"n_estimators": 60}), X


def test_contributions_add_up_to_the_raw_log_odds(fitted):
    model, X = fitted
    contrib = contributions(model, X)
    raw = model.named_steps["model"].predict(model[:-1].transform(X), raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, atol=1e-9)
    assert list(contrib.index) == list(X.index)


def test_top_drivers_are_the_largest_contributions_named_in_words(fitted):
    model, X = fitted
    risky = X[(X["csat_90d"] < 10) & (X["tenure_days"] > 500)].head(1)
    drivers = top_drivers(model, risky, top=2)[0]
    first = drivers[0]
    assert set(first) == {"indicator", "label", "value", "contribution", "text"}
    assert first["indicator"] == "csat_90d"
    assert first["label"] == "CSAT, last 90 days"
    assert first["value"] == risky["csat_90d"].iloc[0]
    assert first["contribution"] > 0
    shown = f"{risky['csat_90d'].iloc[0]:.0f}%"
    assert first["text"] == driver_text("csat_90d", first["value"], first["contribution"])
    assert first["text"].startswith(f"CSAT, last 90 days is {shown} — raises churn risk")
    sizes = [abs(d["contribution"]) for d in drivers]
    assert sizes == sorted(sizes, reverse=True)


def test_a_missing_value_reads_no_data_and_stays_none_in_the_dict(fitted):
    model, X = fitted
    row = X.head(1).copy()
    row["csat_90d"] = np.nan
    drivers = top_drivers(model, row, top=4)[0]
    by_name = {d["indicator"]: d for d in drivers}
    assert by_name["csat_90d"]["value"] is None
    assert by_name["csat_90d"]["text"].startswith("CSAT, last 90 days: no data — ")
    assert all("nan" not in d["text"].lower() for d in drivers)
    assert all(isinstance(d["contribution"], float) for d in drivers)


def test_a_column_outside_the_catalogue_keeps_its_own_name(fitted):
    model, X = fitted
    everything = top_drivers(model, X.head(50), top=4)
    noise = [d for drivers in everything for d in drivers if d["indicator"] == "noise"]
    assert noise, "the noise column should move some account's risk a little"
    assert all(d["label"] == "noise" and d["text"].startswith("noise is ") for d in noise)


def test_numeric_text_gives_the_value_in_its_unit_and_the_direction():
    assert driver_text("csat_90d", 38.0, 0.9) == "CSAT, last 90 days is 38% — raises churn risk strongly"
    assert driver_text("sessions_30d", 3.0, 0.4) == "Sessions, last 30 days is 3 — raises churn risk"
    assert driver_text("mrr", 1970.0, -0.3) == "Monthly recurring revenue is 1,970 — lowers churn risk"
    assert (driver_text("revenue_trend_90d", -35.2, 1.2)
            == "Revenue trend, last 90 days vs the 90 before is -35% — raises churn risk strongly")


def test_categorical_values_are_printed_as_they_are():
    assert driver_text("segment", "SMB", 0.1) == "Segment is SMB — raises churn risk slightly"
    assert driver_text("plan", "enterprise", -0.25) == "Plan is enterprise — lowers churn risk"


@pytest.mark.parametrize("missing", [None, float("nan"), np.float64("nan"), pd.NA])
def test_missing_values_read_no_data_never_nan(missing):
    assert driver_text("days_since_last_activity", missing, 0.3) == (
        "Days since last activity: no data — raises churn risk"
    )


@pytest.mark.parametrize(("contribution", "word"), [
    (0.0, "slightly"),
    (SLIGHT_BELOW - 1e-9, "slightly"),
    (-(SLIGHT_BELOW - 1e-9), "slightly"),
    (SLIGHT_BELOW, ""),
    (STRONG_FROM - 1e-9, ""),
    (STRONG_FROM, "strongly"),
    (-5.0, "strongly"),
])
def test_the_strength_word_follows_the_documented_log_odds_thresholds(contribution, word):
    assert strength_word(contribution) == word


def test_strongly_means_the_churn_odds_at_least_double_or_halve():
    assert math.exp(STRONG_FROM) == pytest.approx(2.0)
    assert driver_text("open_tickets", 4, -math.log(2)) == "Open tickets is 4 — lowers churn risk strongly"


def test_global_importance_ranks_the_informative_indicators_above_noise(fitted):
    model, X = fitted
    importance = mean_absolute_contribution(model, X)
    assert importance.index[0] in ("csat_90d", "tenure_days")
    assert importance["noise"] < importance["csat_90d"]


def test_drivers_from_a_contribution_matrix_are_the_largest_few_by_size_in_words():
    from models.explain import MIN_CONTRIBUTION, drivers_from_contributions

    rng = np.random.default_rng(5)
    features = ["csat_90d", "tenure_days", "segment", "tickets_90d"]
    values = rng.normal(size=(40, 4))
    values[0] = [0.5, -0.5, MIN_CONTRIBUTION / 2, 0.1]  # a tie, and one too small to matter
    raw = pd.DataFrame({"csat_90d": rng.uniform(0, 100, 40), "tenure_days": np.nan,
                        "segment": ["SMB"] * 40, "tickets_90d": rng.poisson(2, 40)})
    drivers = drivers_from_contributions(values, features, raw, top=3)
    assert [d["indicator"] for d in drivers[0]] == ["csat_90d", "tenure_days", "tickets_90d"]
    for row, items in enumerate(drivers):
        ranked = sorted(range(4), key=lambda j: -abs(values[row, j]))[:3]
        kept = [j for j in ranked if abs(values[row, j]) >= MIN_CONTRIBUTION]
        assert [d["indicator"] for d in items] == [features[j] for j in kept]
        for d, j in zip(items, kept):
            value = raw.iloc[row, j]
            expected_value = None if pd.isna(value) else value
            assert d["value"] == expected_value and d["contribution"] == values[row, j]
            assert d["text"] == driver_text(features[j], expected_value, values[row, j])
    assert drivers_from_contributions(values[:0], features, raw.iloc[:0]) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_the_top_columns_are_a_stable_sort_of_sizes_with_ties_and_nan(rows, columns, top, seed):
    from models.explain import _top_columns

    # Few distinct sizes, signed zeros and NaN, so ties straddle the top places often.
    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, -0.0, 0.1, -0.1, 0.5, -0.5, 1e-7, np.nan, 2.0], size=(rows, columns))
    k = min(top, columns)
    expected = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    assert (_top_columns(values, k) == expected).all()
