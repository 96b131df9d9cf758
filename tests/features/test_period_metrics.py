"""The assembled period metrics: JSON shape, groups, consecutive periods and invariances."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import portfolio_metrics as pm
from features import survey_metrics as sm
from features.contract import SurveyScale, SurveyScales, Tables, validate_tables
from features.period_metrics import (
    METRIC_KEYS,
    metrics_over_time,
    period_bounds,
    period_metrics,
    split_columns,
)

JAN = ("2025-01-01", "2025-02-01")
Q1 = ("2025-01-01", "2025-04-01")


def raw_tables() -> dict[str, pd.DataFrame]:
    accounts = pd.DataFrame({
        "account_id": ["a1", "a2", "a3", "a4", "a5", "a6", "a7"],
        "signup_date": ["2024-06-01", "2024-06-01", "2024-09-01", "2025-01-05", "2025-02-03",
                        "2024-01-01", "2024-01-01"],
        "churned_at": [None, "2025-01-20", "2025-02-10", "2025-01-25", None, None, "2025-03-05"],
        "segment": ["smb", "smb", "enterprise", "enterprise", "mid", "startup", None],
        "mrr": [100.0, 50.0, 500.0, 10.0, 20.0, 5.0, 5.0],
        "acquisition_cost": [300.0, 300.0, 1000.0, 100.0, 100.0, 50.0, 50.0],
    })
    sessions = pd.DataFrame({
        "account_id": ["a1", "a1", "a1", "a2", "a3", "a1", "a7", "a5"],
        "user_id": ["u1", "u1", "u2", "u1", "u9", "u1", "u1", "u1"],
        "started_at": ["2025-01-02T10:00", "2025-01-02T15:00", "2025-01-03", "2025-01-03",
                       "2025-02-05", "2024-12-20", "2025-03-01", "2025-03-20"],
        "duration_seconds": [60.0, 120.0, 300.0, 30.0, 600.0, 100.0, 50.0, 10.0],
        "page_views": [3, 5, 2, 1, 10, 4, 2, 1],
        "converted": [True, False, False, None, True, False, True, False],
    })
    surveys = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(10)],
        "account_id": ["a1", "a1", "a2", "a3", "a4", "a1", "a3", "a1", "a2", "a5"],
        "survey": ["nps", "nps", "nps", "nps", "nps", "csat", "csat", "ces", "ces", "nps"],
        "score": [10, 9, 3, 7, 6, 5, 2, 4, 2, 9],
        "responded_at": ["2025-01-10", "2025-01-12", "2025-01-15", "2025-02-02", "2025-01-06",
                         "2025-01-11", "2025-01-20", "2025-01-13", "2025-01-14", "2025-03-10"],
        "channel": ["email", "web", "email", "web", "phone", "email", "web", "web", "email", "web"],
        "touchpoint": ["onboarding"] * 5 + ["billing"] * 5,
    })
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4", "t5"],
        "account_id": ["a1", "a2", "a3", "a3", "a7"],
        "channel": ["email", "chat", "email", "chat", "phone"],
        "created_at": ["2025-01-02", "2025-01-10", "2024-12-28", "2025-02-03", "2025-03-02"],
        "first_response_at": ["2025-01-02T02:00", "2025-01-11", "2024-12-28T06:00", "2025-02-03T01:00", None],
        "resolved_at": ["2025-01-02T10:00", None, "2025-01-03", "2025-02-04", None],
    })
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
        "account_id": ["a1", "a1", "a2", "a3", "a1", "a5"],
        "ordered_at": ["2025-01-05", "2025-01-20", "2025-01-10", "2025-02-06", "2024-12-15", "2025-03-03"],
        "amount": [100.0, 50.0, 200.0, 80.0, 30.0, 40.0],
        "items": [2, 1, 4, 1, 1, 2],
    })
    returns = pd.DataFrame({
        "order_id": ["o3", "o5", "o6"],
        "returned_at": ["2025-02-15", "2025-01-03", "2025-03-04"],
        "items": [1, 1, 2], "amount": [50.0, 30.0, 40.0],
    })
    return dict(accounts=accounts, sessions=sessions, surveys=surveys, tickets=tickets,
                orders=orders, returns=returns)


@pytest.fixture(scope="module")
def tables() -> Tables:
    return validate_tables(raw_tables())[0]


def test_the_result_has_a_stable_shape_of_period_by_and_sixteen_metrics(tables):
    result = period_metrics(tables, *JAN)
    assert list(result) == ["period", "by", *METRIC_KEYS]
    assert result["period"] == {"start": "2025-01-01T00:00:00", "end": "2025-02-01T00:00:00", "days": 31.0}
    for key in METRIC_KEYS:
        assert {"value", "unit", "reason"} <= set(result[key]), key
        assert (result[key]["value"] is None) == (result[key]["reason"] is not None), key
    json.dumps(result, allow_nan=False)


def test_period_values_are_the_metric_functions_on_the_periods_rows(tables):
    result = period_metrics(tables, *JAN)
    assert result["nps"]["value"] == sm.nps([10, 9, 3, 6]).value == 0.0
    assert result["csat"]["value"] == 50.0 and result["ces"]["value"] == 3.0
    assert result["churn_rate"] == pm.churn_rate(tables.accounts, *JAN).as_dict()
    assert result["churn_rate"]["value"] == pytest.approx(100 / 5)
    assert result["return_rate"]["value"] == pytest.approx(100 / 7)
    assert result["ticket_volume"]["by_channel"] == {"chat": 1, "email": 1, "phone": 0}
    assert result["conversion_rate"]["value"] == pytest.approx(100 / 3)
    assert result["conversion_rate"]["by_users"]["value"] == 50.0
    assert result["dau"]["active_user_days"] == 3


def test_missing_tables_make_their_metrics_undefined_with_the_reason(tables):
    result = period_metrics(Tables(accounts=tables.accounts), *JAN)
    assert result["nps"]["reason"] == "no surveys table"
    assert result["return_rate"]["reason"] == "no orders table"
    assert result["ticket_volume"]["reason"] == "no tickets table"
    assert result["churn_rate"]["value"] is not None
    assert result["clv"]["variants"]["order_value"]["reason"] == "no orders table"


def test_splitting_by_segment_reports_every_segment_including_those_without_responses(tables):
    result = period_metrics(tables, *JAN, by="segment")
    assert result["by"] == "segment"
    groups = result["nps"]["groups"]
    assert list(groups) == ["(not set)", "enterprise", "mid", "smb", "startup"]
    assert groups["startup"]["value"] is None and groups["startup"]["reason"] == "no responses"
    assert groups["smb"]["value"] == pytest.approx(100 * (2 - 1) / 3)


GROUP_COUNTS = {
    "nps": ["responses", "promoters", "passives", "detractors"],
    "csat": ["responses", "satisfied"], "ces": ["responses"],
    "churn_rate": ["lost", "active_at_start", "acquired", "acquired_and_lost", "active_at_end"],
    "repeat_purchase_rate": ["buyers", "repeat_buyers", "orders"],
    "return_rate": ["units_sold", "units_returned", "returns"],
    "conversion_rate": ["conversions", "visitors", "unknown"],
    "dau": ["active_user_days", "period_active_users"],
    "pages_per_session": ["sessions", "page_views"],
    "ticket_volume": ["value"], "resolution_time": ["resolved", "open_backlog"],
    "first_response_time": ["responded", "awaiting_response"],
    "resolution_rate": ["created", "resolved"], "clv": ["customers"],
}


@pytest.mark.parametrize("by", ["segment", "channel"])
def test_group_counts_add_up_to_the_overall_counts(tables, by):
    result = period_metrics(tables, *Q1, by=by)
    for key, fields in GROUP_COUNTS.items():
        groups = result[key]["groups"]
        if groups is None:
            continue
        for field in fields:
            assert sum(g[field] for g in groups.values()) == result[key][field], (key, field)


def test_splitting_by_channel_splits_surveys_and_tickets_and_says_why_not_the_rest(tables):
    result = period_metrics(tables, *JAN, by="channel")
    assert set(result["nps"]["groups"]) == {"chat", "email", "phone", "web"}
    assert result["nps"]["groups"]["chat"]["reason"] == "no responses"
    assert result["ticket_volume"]["groups"]["email"]["value"] == 1
    assert result["dau"]["groups"] is None
    assert "the sessions table has no 'channel' column" in result["dau"]["groups_reason"]
    assert "accounts table has no 'channel' column" in result["churn_rate"]["groups_reason"]


def test_splitting_by_a_column_no_table_has_names_the_allowed_columns(tables):
    with pytest.raises(ValueError, match=r"by: cannot split by 'mrr'.*segment, region, plan, owner \(accounts\)"):
        period_metrics(tables, *JAN, by="mrr")


def test_extra_columns_of_the_users_files_can_be_split_by(tables):
    raw = raw_tables()
    raw["sessions"]["device"] = ["web", "app", "web", "web", "app", "web", "app", "web"]
    extra = validate_tables(raw)[0]
    assert "device" in split_columns(extra)["sessions"]
    result = period_metrics(extra, *JAN, by="device")
    assert result["pages_per_session"]["groups"]["web"]["sessions"] == 3
    assert result["nps"]["groups"] is None


def test_monthly_periods_cover_the_quarter_and_their_counts_add_up(tables):
    months = metrics_over_time(tables, *Q1, every="month")
    assert [m["period"]["start"][:10] for m in months] == ["2025-01-01", "2025-02-01", "2025-03-01"]
    whole = period_metrics(tables, *Q1)
    additive = {
        "nps": ["responses", "promoters", "detractors"], "csat": ["responses", "satisfied"],
        "ticket_volume": ["value"], "resolution_time": ["resolved"],
        "first_response_time": ["responded"], "resolution_rate": ["created"],
        "repeat_purchase_rate": ["orders"], "return_rate": ["units_sold", "units_returned"],
        "pages_per_session": ["sessions", "page_views"], "conversion_rate": ["conversions"],
        "dau": ["active_user_days", "days"], "churn_rate": ["acquired"],
    }
    for key, fields in additive.items():
        for field in fields:
            assert sum(m[key][field] for m in months) == whole[key][field], (key, field)
    lost = lambda m: m["churn_rate"]["lost"] + m["churn_rate"]["acquired_and_lost"]  # noqa: E731
    assert sum(lost(m) for m in months) == lost(whole)


def test_every_period_lists_the_same_groups(tables):
    periods = metrics_over_time(tables, *Q1, every="month", by="segment")
    assert len({tuple(p["nps"]["groups"]) for p in periods}) == 1


def test_period_bounds_step_by_calendar_month_or_week_and_cut_the_last_period_at_end():
    months = period_bounds("2025-01-31", "2025-04-15")
    assert [(a.strftime("%m-%d"), b.strftime("%m-%d")) for a, b in months] == [
        ("01-31", "02-28"), ("02-28", "03-31"), ("03-31", "04-15")]
    weeks = period_bounds("2025-01-01", "2025-01-20", "week")
    assert [b.day for _, b in weeks] == [8, 15, 20]
    with pytest.raises(ValueError, match="every must be 'month' or 'week', got 'day'"):
        period_bounds(*JAN, "day")


def test_a_declared_reversed_ces_scale_is_reported_normalised():
    raw = raw_tables()
    raw["surveys"]["score"] = [10, 9, 3, 7, 6, 5, 2, 1, 5, 9]  # CES answers 1 (easy) and 5 (hard)
    scales = SurveyScales(ces=SurveyScale(1, 5, higher_is_better=False))
    reversed_tables = validate_tables(raw, scales=scales)[0]
    result = period_metrics(reversed_tables, *JAN)["ces"]
    assert result["value"] == 3.0 and result["reversed_input"] is True
    csat_10 = validate_tables(raw_tables(), scales=SurveyScales(csat=SurveyScale(1, 10)))[0]
    assert period_metrics(csat_10, *JAN)["csat"]["satisfied_at"] == 9


def test_clv_options_reach_the_clv_variants(tables):
    result = period_metrics(tables, *JAN, gross_margin=0.5, max_lifetime_years=3)
    assert result["clv"]["variants"]["subscription"]["gross_margin"] == 0.5
    assert result["clv"]["max_lifetime_years"] == 3.0


def _shuffled(tables: Tables, seed: int) -> Tables:
    frames = {name: frame.sample(frac=1.0, random_state=seed) for name, frame in tables.present().items()}
    return dataclasses.replace(tables, **frames)


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([None, "segment", "channel"]))
def test_shuffling_every_tables_rows_changes_nothing(tables, seed, by):
    assert period_metrics(_shuffled(tables, seed), *Q1, by=by) == period_metrics(tables, *Q1, by=by)


def test_inputs_are_not_changed(tables):
    before = {name: frame.copy(deep=True) for name, frame in tables.present().items()}
    period_metrics(tables, *Q1, by="segment")
    for name, frame in tables.present().items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_on_demo_data_every_rate_is_a_percentage_and_months_add_up(demo_tables):
    months = metrics_over_time(demo_tables, "2025-01-01", "2025-07-01")
    whole = period_metrics(demo_tables, "2025-01-01", "2025-07-01")
    for key in METRIC_KEYS:
        if whole[key]["unit"] == "percent" and whole[key]["value"] is not None:
            assert 0 <= whole[key]["value"] <= 100, key
    assert sum(m["pages_per_session"]["sessions"] for m in months) == whole["pages_per_session"]["sessions"]
    assert sum(m["nps"]["responses"] for m in months) == whole["nps"]["responses"]
    assert sum(m["dau"]["active_user_days"] for m in months) == whole["dau"]["active_user_days"]
