"""Per-account drivers from LightGBM's SHAP contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.estimators import fit_lightgbm
from models.explain import contributions, driver_text, mean_absolute_contribution, top_drivers


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


def test_top_drivers_are_the_largest_contributions_named_in_indicator_terms(fitted):
    model, X = fitted
    risky = X[(X["csat_90d"] < 10) & (X["tenure_days"] > 500)].head(1)
    drivers = top_drivers(model, risky, top=2)[0]
    assert drivers[0]["indicator"] == "csat_90d"
    assert drivers[0]["contribution"] > 0
    assert drivers[0]["text"].startswith(f"csat_90d = {risky['csat_90d'].iloc[0]:.3g} raised risk by")
    sizes = [abs(d["contribution"]) for d in drivers]
    assert sizes == sorted(sizes, reverse=True)


def test_driver_values_are_plain_and_missing_values_say_so(fitted):
    model, X = fitted
    row = X.head(1).copy()
    row["csat_90d"] = np.nan
    drivers = top_drivers(model, row, top=4)[0]
    by_name = {d["indicator"]: d for d in drivers}
    assert by_name["csat_90d"]["value"] is None
    assert "csat_90d = missing" in by_name["csat_90d"]["text"]
    assert all(isinstance(d["contribution"], float) for d in drivers)


def test_driver_text_reads_as_a_sentence():
    assert driver_text("open_tickets", 4, 0.5) == "open_tickets = 4 raised risk by 0.50"
    assert driver_text("plan", "enterprise", -0.25) == "plan = enterprise lowered risk by 0.25"


def test_global_importance_ranks_the_informative_indicators_above_noise(fitted):
    model, X = fitted
    importance = mean_absolute_contribution(model, X)
    assert importance.index[0] in ("csat_90d", "tenure_days")
    assert importance["noise"] < importance["csat_90d"]
