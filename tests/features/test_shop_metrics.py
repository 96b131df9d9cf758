"""A shop's portfolio metrics: average order value, purchase frequency, traffic sources."""

from __future__ import annotations

import pandas as pd
import pytest

from features.contract import validate_tables
from features.period_metrics import METRIC_KEYS, period_metrics

START, END = "2025-02-01", "2025-03-01"


@pytest.fixture
def raw() -> dict[str, pd.DataFrame]:
    accounts = pd.DataFrame({"account_id": ["a", "b", "c"], "signup_date": ["2024-06-01"] * 3,
                             "region": ["north", "south", "south"]})
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4"], "account_id": ["a", "a", "b", "c"],
        "ordered_at": ["2025-02-03", "2025-02-20", "2025-02-10", "2025-01-15"],
        "amount": [30.0, 10.0, 50.0, 99.0], "items": [1, 1, 2, 1],
    })
    sessions = pd.DataFrame({
        "account_id": ["a", "a", "b", "b", "c"], "user_id": ["u1", "u1", "u2", "u2", "u3"],
        "started_at": ["2025-01-10", "2025-02-02", "2025-02-05", "2025-02-06", "2025-02-07"],
        "duration_seconds": [60.0, 120.0, 300.0, 30.0, 90.0], "page_views": [2, 4, 10, 1, 3],
        "converted": [False, True, False, False, True],
        "source": ["organic_search", "organic_search", "organic_search", "email", "paid_search"],
    })
    return {"accounts": accounts, "orders": orders, "sessions": sessions}


def _metrics(raw, **kwargs):
    tables, _ = validate_tables(raw)
    return period_metrics(tables, START, END, **kwargs)


def test_average_order_value_and_purchase_frequency_are_metrics_of_their_own(raw):
    result = _metrics(raw)
    assert result["average_order_value"]["value"] == pytest.approx(90.0 / 3)
    assert result["average_order_value"]["unit"] == "currency"
    assert result["purchase_frequency"]["value"] == 1.5  # 3 orders by 2 buyers
    assert result["purchase_frequency"]["per_year"] == pytest.approx(1.5 * 365.25 / 28)


def test_without_orders_the_keys_stay_with_null_and_the_reason(raw):
    result = _metrics({"accounts": raw["accounts"]})
    assert list(result) == ["period", "by", *METRIC_KEYS]
    for key in ("average_order_value", "purchase_frequency"):
        assert result[key]["value"] is None and result[key]["reason"] == "no orders table"
    quiet = _metrics(dict(raw, orders=raw["orders"].iloc[3:]))  # orders, none in February
    assert quiet["average_order_value"]["reason"] == "no orders in the period"


def test_organic_clicks_count_organic_sessions_and_their_growth(raw):
    organic = _metrics(raw)["organic_clicks"]
    assert organic["value"] == 2 and organic["sessions"] == 4 and organic["share"] == 50.0
    assert organic["previous"] == 1 and organic["growth"]["value"] == 100.0


def test_without_a_source_column_organic_clicks_are_null_with_the_reason_not_0(raw):
    organic = _metrics(dict(raw, sessions=raw["sessions"].drop(columns="source")))["organic_clicks"]
    assert organic["value"] is None
    assert organic["reason"].startswith("sessions has no source column")


def test_web_metrics_split_by_traffic_source(raw):
    result = _metrics(raw, by="source")
    pages = result["pages_per_session"]["groups"]
    assert pages["organic_search"]["value"] == 7.0 and pages["email"]["value"] == 1.0
    assert result["conversion_rate"]["groups"]["paid_search"]["value"] == 100.0
    assert result["avg_session_duration"]["groups"]["email"]["value"] == 30.0
    assert result["dau"]["groups"]["organic_search"]["value"] is not None
    assert result["average_order_value"]["groups"] is None  # orders carry no source


def test_metrics_split_by_any_text_column_of_accounts(raw):
    aov = _metrics(raw, by="region")["average_order_value"]["groups"]
    assert aov["north"]["value"] == 20.0 and aov["south"]["value"] == 50.0
