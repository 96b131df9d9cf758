"""Predictive CLV: the published CDNOW fits, point in time, and NaN with a reason."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from features import clv
from features.clv import (
    COLUMNS,
    MIN_CUSTOMERS,
    MIN_REPEATERS,
    BetaGeo,
    ClvFitError,
    GammaGamma,
    clv_columns,
    fit_clv,
    purchase_history,
)
from features.indicators import compute_indicators

REPO_ROOT = Path(__file__).resolve().parents[2]
CDNOW = REPO_ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
# The calibration period of the published fits ends on 1997-09-30 (inclusive).
CALIBRATION_END = pd.Timestamp("1997-10-01")
PUBLISHED_BG_NBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow_orders() -> pd.DataFrame:
    if not CDNOW.is_file():
        pytest.skip(f"the CDNOW sample is not at {CDNOW} (../shared/data/cdnow relative to the "
                    "repository root); put CDNOW_sample.txt there to run this test")
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, dtype={0: str, 2: str},
                      names=["customer", "full_id", "date", "cds", "amount"])
    return pd.DataFrame({
        "order_id": [f"O{i}" for i in range(len(raw))],
        "account_id": raw["customer"],
        "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["amount"].astype(float),
        "items": raw["cds"].astype(int),
    })


@pytest.fixture(scope="module")
def cdnow_fit(cdnow_orders) -> clv.ClvFit:
    return fit_clv(cdnow_orders, CALIBRATION_END)


def test_the_cdnow_fit_reproduces_the_published_bg_nbd_parameters_within_2_percent(cdnow_fit):
    fitted = cdnow_fit.parameters()["bg_nbd"]
    for name, published in PUBLISHED_BG_NBD.items():
        assert fitted[name] == pytest.approx(published, rel=0.02), name
    assert cdnow_fit.diagnostics["customers"] == 2357
    # The paper reports a log-likelihood of -9582.4 at its estimates.
    assert cdnow_fit.diagnostics["bg_nbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.5)
    assert cdnow_fit.diagnostics["bg_nbd"]["converged"]


def test_the_cdnow_fit_reproduces_the_published_gamma_gamma_parameters_within_5_percent(cdnow_fit):
    fitted = cdnow_fit.parameters()["gamma_gamma"]
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert fitted[name] == pytest.approx(published, rel=0.05), name
    assert cdnow_fit.diagnostics["repeat_customers"] == 946


def test_the_cdnow_calibration_chart_expects_about_as_many_customers_per_count_as_observed(cdnow_fit):
    table = cdnow_fit.calibration()
    assert table["actual"].sum() == 2357
    assert table["expected"].sum() == pytest.approx(2357)
    # The BG/NBD fits CDNOW well (the paper's figure 1): fewer than 5% of the customers
    # sit in another bucket than expected; a model 20% off in r and a fails this.
    assert (table["expected"] - table["actual"]).abs().sum() < 0.05 * 2357
    off = dataclasses.replace(cdnow_fit, beta_geo=dataclasses.replace(
        cdnow_fit.beta_geo, r=cdnow_fit.beta_geo.r * 1.2, a=cdnow_fit.beta_geo.a * 1.2))
    wrong = off.calibration()
    assert (wrong["expected"] - wrong["actual"]).abs().sum() > 0.05 * 2357


def test_orders_at_or_after_as_of_change_nothing(cdnow_orders):
    before = cdnow_orders[cdnow_orders["ordered_at"] < CALIBRATION_END]
    assert len(before) < len(cdnow_orders)  # the rest of the sample is the future
    ids = pd.Index(sorted(cdnow_orders["account_id"].unique()))
    known = clv_columns(before, ids, CALIBRATION_END)
    everything = clv_columns(cdnow_orders, ids, CALIBRATION_END)
    for name in COLUMNS:
        np.testing.assert_array_equal(known[name], everything[name])


def test_shuffling_the_orders_changes_no_bit(cdnow_orders):
    shuffled = cdnow_orders.sample(frac=1.0, random_state=3)
    ids = pd.Index(sorted(cdnow_orders["account_id"].unique()))
    for name, values in clv_columns(cdnow_orders, ids, CALIBRATION_END).items():
        np.testing.assert_array_equal(values, clv_columns(shuffled, ids, CALIBRATION_END)[name])


def test_predictions_are_in_range_and_one_off_buyers_are_certainly_alive(cdnow_fit):
    predicted = cdnow_fit.predict(365)
    assert predicted["p_alive"].between(0, 1).all()
    assert (predicted["expected_orders"] >= 0).all()
    assert (predicted["predicted_clv"] >= 0).all()
    one_off = cdnow_fit.history["frequency"] == 0
    assert (predicted.loc[one_off, "p_alive"] == 1.0).all()
    # More of the same customers' future in a longer horizon.
    assert (cdnow_fit.predict(730)["expected_orders"] > predicted["expected_orders"]).all()


def test_the_conditional_expectation_matches_the_papers_worked_example():
    # Fader, Hardie and Lee (2005), section 4: a CDNOW customer with 2 repeat purchases,
    # the last at week 30.43 of 38.86, is expected to buy 1.226 times in the next 39 weeks.
    model = BetaGeo(**PUBLISHED_BG_NBD)
    assert model.expected_orders(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_a_customer_silent_for_long_after_many_orders_is_less_likely_alive():
    model = BetaGeo(r=0.243, alpha=4.414, a=0.793, b=2.426)
    recent, silent = model.p_alive([5, 5], [38.0, 10.0], [39.0, 39.0])
    assert silent < recent < 1.0


def test_the_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, 60).astype(float)
    T = rng.uniform(5, 40, 60)
    t_x = np.where(x > 0, rng.uniform(0, 1, 60) * T, 0.0)
    weights = np.ones(60)
    point = np.log([0.5, 5.0, 0.8, 2.5])
    value, gradient = clv._beta_geo_objective(point, x, t_x, T, weights)
    numeric = approx_fprime(point, lambda p: clv._beta_geo_objective(p, x, t_x, T, weights)[0], 1e-7)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-7)
    m = rng.uniform(5, 50, 60)[x > 0]
    point = np.log([3.0, 2.0, 10.0])
    _, gradient = clv._gamma_gamma_objective(point, x[x > 0], m)
    numeric = approx_fprime(point, lambda p: clv._gamma_gamma_objective(p, x[x > 0], m)[0], 1e-7)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-7)



def test_the_objectives_on_distinct_values_equal_the_row_by_row_likelihoods_bit_for_bit():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, 500).astype(float)
    T = rng.integers(1, 30, 500) / 7.0
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 500) * T * 7) / 7.0, 0.0)
    weights = rng.integers(1, 5, 500).astype(float)
    point = np.log([0.5, 5.0, 0.8, 2.5])
    value, _ = clv._beta_geo_objective(point, x, t_x, T, weights)
    row_by_row = BetaGeo(*np.exp(point)).log_likelihood(x, t_x, T)
    assert value == -float(np.dot(weights, row_by_row)) / weights.sum()
    m = rng.uniform(5, 50, 500)[x > 0]
    point = np.log([3.0, 2.0, 10.0])
    value, _ = clv._gamma_gamma_objective(point, x[x > 0], m)
    assert value == -float(GammaGamma(*np.exp(point)).log_likelihood(x[x > 0], m).sum()) / len(m)

# --- NaN with a reason ---------------------------------------------------------------


def _orders(customers: int, repeaters: int) -> pd.DataFrame:
    """``customers`` one-off buyers, ``repeaters`` of whom came back a week later."""
    rows = []
    for i in range(customers):
        day = pd.Timestamp("2025-01-01") + pd.Timedelta(days=i % 20)
        rows.append((f"C{i}", day, 20.0 + i))
        if i < repeaters:
            rows.append((f"C{i}", day + pd.Timedelta(days=7 + i % 5), 25.0 + i))
    frame = pd.DataFrame(rows, columns=["account_id", "ordered_at", "amount"])
    return frame.assign(order_id=[f"O{i}" for i in range(len(frame))], items=1)


AS_OF = pd.Timestamp("2025-03-01")


def test_without_an_orders_table_the_fit_names_the_table():
    with pytest.raises(ClvFitError, match="needs an orders table"):
        fit_clv(None, AS_OF)


def test_when_no_customer_repeats_the_fit_says_repeat_purchases_are_missing():
    with pytest.raises(ClvFitError, match=r"ordered again on a later day .* 0 did"):
        fit_clv(_orders(200, 0), AS_OF)


def test_too_few_customers_before_as_of_is_an_error_naming_the_minimum():
    with pytest.raises(ClvFitError, match=f"at least {MIN_CUSTOMERS} customers .* has 12"):
        fit_clv(_orders(12, 12), AS_OF)


def test_the_minimum_of_repeat_customers_is_enough():
    fit = fit_clv(_orders(MIN_CUSTOMERS, MIN_REPEATERS), AS_OF)
    assert fit.diagnostics["repeat_customers"] == MIN_REPEATERS


def test_an_impossible_fit_gives_nan_columns_for_every_account():
    ids = pd.Index(["C1", "C2"])
    out = clv_columns(_orders(200, 0), ids, AS_OF)
    assert all(np.isnan(values).all() for values in out.values())


def test_accounts_without_an_order_before_as_of_get_nan(demo_tables):
    as_of = pd.Timestamp("2025-10-01")
    indicators = compute_indicators(dataclasses.replace(demo_tables, surveys=None), as_of,
                                    windows=(30,))
    ordered = purchase_history(demo_tables.orders, as_of).index
    has_orders = indicators.index.isin(ordered)
    assert has_orders.any() and (~has_orders).any()
    for name in COLUMNS:
        assert indicators.loc[~has_orders, name].isna().all(), name
    p_alive, expected_orders, predicted_clv = COLUMNS
    assert indicators.loc[has_orders, [p_alive, expected_orders]].notna().all().all()
    fit = fit_clv(demo_tables.orders, as_of)
    repeaters = fit.history.index[fit.history["frequency"] > 0]
    assert indicators.loc[indicators.index.isin(repeaters), predicted_clv].notna().all()
    if fit.gamma_gamma.q <= 1:  # no population mean spend: one-off buyers' value unknown
        assert any("q = " in note for note in fit.diagnostics["notes"])


def test_the_purchase_history_counts_purchase_days_and_the_last_day_observed():
    orders = pd.DataFrame({
        "account_id": ["a", "a", "a", "b", "a"],
        "ordered_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-01 18:00", "2025-01-15 00:00",
                                      "2025-01-29 23:00", "2025-01-30 00:00"]),
        "amount": [10.0, 5.0, 30.0, 20.0, 99.0],
    })
    history = purchase_history(orders, pd.Timestamp("2025-01-30"))
    # Two orders on 1 January are one purchase day; the order on as_of is not read.
    assert history.loc["a"].tolist() == [1.0, 2.0, 4.0, 30.0]
    # A first purchase on the last day observed: T is 0, not a day.
    assert history.loc["b", "T"] == 0.0


def test_parameters_gone_to_a_limit_case_are_named_and_predictions_still_hold():
    # Every repeat customer came back once, a week later, spending 5 more than the first
    # time: the data cannot tell the drop-out and spend spreads from limit cases.
    fit = fit_clv(_orders(200, 60), AS_OF)
    assert fit.diagnostics["bg_nbd"]["converged"]
    assert fit.diagnostics["bg_nbd"]["limit_parameters"]
    assert any("went to a limit" in note for note in fit.diagnostics["notes"])
    predicted = fit.predict()
    assert predicted.notna().all().all()
    repeat_spend = _orders(200, 60).groupby("account_id")["amount"].last()
    spend = predicted["predicted_clv"] / predicted["expected_orders"]
    repeaters = fit.history.index[fit.history["frequency"] > 0]
    assert spend[repeaters].mean() == pytest.approx(repeat_spend[repeaters].mean(), rel=0.05)
