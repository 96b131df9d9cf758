"""Indicators of a shop's customers: features/shop_indicators.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import indicator_columns
from features.contract import validate_tables
from features.indicators import compute_indicators
from features.shop_indicators import shop_columns, shop_indicators

AS_OF = pd.Timestamp("2025-04-01")
IDS = pd.Index(["a", "b", "c"], name="account_id")


@pytest.fixture
def orders() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "late"],
        "account_id": ["a", "a", "a", "b", "b", "a"],
        "ordered_at": pd.to_datetime(["2024-11-01", "2025-01-20", "2025-03-22",
                                      "2025-03-01", "2025-03-11", "2025-04-01"]),
        "amount": [100.0, 50.0, 30.0, 20.0, 40.0, 999.0],
        "items": [2, 1, 1, 1, 2, 9],
    })


@pytest.fixture
def returns() -> pd.DataFrame:
    return pd.DataFrame({"order_id": ["o3", "o5", "o4"],
                         "returned_at": pd.to_datetime(["2025-03-28", "2025-03-20", "2025-04-02"]),
                         "items": [1, 1, 1], "amount": [30.0, 20.0, 20.0]})


@pytest.fixture
def surveys() -> pd.DataFrame:
    return pd.DataFrame({
        "response_id": ["r1", "r2", "r3", "r4"], "account_id": ["a", "a", "b", "a"],
        "survey": ["csat", "csat", "nps", "csat"], "score": [5.0, 2.0, 9.0, 1.0],
        "responded_at": pd.to_datetime(["2025-01-25", "2025-03-25", "2025-03-20", "2025-04-05"]),
    })


def test_recency_rhythm_and_basket_read_only_orders_before_as_of(orders):
    out = shop_indicators(orders, None, None, IDS, AS_OF, (30, 90))
    assert out["days_since_last_order"].tolist()[:2] == [10.0, 21.0]
    assert np.isnan(out["days_since_last_order"][2])  # never ordered: unknown, not 0
    # a: gaps of 80 and 61 days; b: 10 days; c: no order.
    np.testing.assert_allclose(out["order_gap_days_mean"], [70.5, 10.0, np.nan])
    # b's order of 2025-03-01 lies 31 days back, outside the 30-day window.
    np.testing.assert_allclose(out["average_order_value_30d"], [30.0, 40.0, np.nan])
    np.testing.assert_allclose(out["average_order_value_90d"], [40.0, 30.0, np.nan])


def test_the_orders_trend_compares_the_last_90_days_with_the_90_before(orders):
    out = shop_indicators(orders, None, None, IDS, AS_OF, (30,))
    # a: 2 orders in the last 90 days, 1 in the 90 before: +100%; b: none before: undefined.
    np.testing.assert_allclose(out["orders_trend_90d"], [100.0, np.nan, np.nan])


def test_the_value_returned_counts_returns_before_as_of_in_their_orders_window(orders, returns):
    out = shop_indicators(orders, returns, None, IDS, AS_OF, (30,))
    # a: 30 of 30 returned; b: o5's 20 of 40 (o4 lies outside the window, and its return
    # comes after as_of anyway).
    np.testing.assert_allclose(out["returned_value_share_30d"], [100.0, 50.0, np.nan])
    without_amount = shop_indicators(orders, returns.drop(columns="amount"), None, IDS, AS_OF, (30,))
    assert np.isnan(without_amount["returned_value_share_30d"]).all()


def test_the_latest_review_score_is_the_latest_csat_answer_before_as_of(orders, surveys):
    out = shop_indicators(orders, None, surveys, IDS, AS_OF, (30,))
    np.testing.assert_allclose(out["csat_latest"], [2.0, np.nan, np.nan])


def test_missing_tables_give_nan_columns_not_zero():
    out = shop_indicators(None, None, None, IDS, AS_OF, (30,))
    assert set(out) == set(shop_columns((30,)))
    assert all(np.isnan(values).all() for values in out.values())


def test_results_do_not_depend_on_the_row_order(orders, returns, surveys):
    forward = shop_indicators(orders, returns, surveys, IDS, AS_OF, (30, 90))
    backward = shop_indicators(orders.iloc[::-1], returns.iloc[::-1], surveys.iloc[::-1], IDS,
                               AS_OF, (30, 90))
    for name, values in forward.items():
        np.testing.assert_array_equal(values, backward[name], err_msg=name)


def test_compute_indicators_writes_every_shop_column_of_the_catalogue(orders, returns, surveys):
    accounts = pd.DataFrame({"account_id": list(IDS), "signup_date": ["2024-01-01"] * 3})
    tables, _ = validate_tables({"accounts": accounts, "orders": orders, "returns": returns,
                                 "surveys": surveys})
    out = compute_indicators(tables, AS_OF, windows=(30, 90))
    assert list(out.columns) == indicator_columns((30, 90))
    assert set(shop_columns((30, 90))) <= set(out.columns)
    assert out.loc["a", "days_since_last_order"] == 10.0
