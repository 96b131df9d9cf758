"""Account indicators as of a date: hand-computed values, point in time, order invariance."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textblob import TextBlob

from features.catalogue import format_indicator_value, indicator_columns
from features.contract import Tables, validate_tables
from features.demo_data import generate_demo_data
from features.indicators import active_accounts, compute_indicators, trailing_churn_rate
from features.sentiment import score_comments

AS_OF = pd.Timestamp("2025-07-01")
WINDOWS = (30, 90)


def _polarity(text: str) -> float:
    return TextBlob(text).sentiment.polarity


@pytest.fixture(scope="module")
def tables() -> Tables:
    """A small portfolio whose indicators are worked out by hand in the tests below."""
    raw = {
        "accounts": pd.DataFrame({
            "account_id": ["A", "B", "C", "D", "E", "F"],
            "signup_date": ["2024-01-01", "2025-03-01", "2024-01-01", "2025-07-01",
                            "2024-06-01", "2023-01-01"],
            "churned_at": [None, None, "2025-03-01", None, "2025-07-01", None],
            "segment": ["SMB", "SMB", "SMB", "Enterprise", "Mid-Market", "Enterprise"],
            "region": ["Europe"] * 6,
            "plan": ["Pro", "Starter", "Pro", "Pro", "Growth", "Business"],
            "mrr": [100.0, None, 80.0, 500.0, 50.0, 200.0],
            "acquisition_cost": [300.0, 50.0, 10.0, 10.0, None, 0.0],
        }),
        "sessions": pd.DataFrame({
            "account_id": ["A", "A", "A", "A", "A", "A", "E", "F", "F", "C"],
            "user_id": ["u1", "u2", "u1", "u3", "u1", "u1", "e1", "f1", "f1", "c1"],
            "started_at": ["2025-06-30 10:00", "2025-06-30 14:00", "2025-06-20 09:00",
                           "2025-05-15 09:00", "2025-07-01 00:00", "2025-08-01 00:00",
                           "2025-04-10 00:00", "2025-06-10 08:00", "2025-06-10 20:00",
                           "2025-02-01 00:00"],
            "duration_seconds": [600, 1200, 300, 900, 5000, 5000, 60, 60, 120, 60],
            "page_views": [5, 7, 3, 9, 50, 50, 1, 1, 2, 1],
        }),
        "tickets": pd.DataFrame({
            "ticket_id": ["T1", "T2", "T3", "T4", "T5"],
            "account_id": ["A", "A", "A", "A", "B"],
            "channel": ["email", "chat", "email", "email", "phone"],
            "created_at": ["2025-06-10 00:00", "2025-06-20 00:00", "2025-04-01 00:00",
                           "2025-07-05 00:00", "2025-05-01 00:00"],
            "first_response_at": ["2025-06-10 02:00", "2025-06-20 06:00", "2025-04-01 01:00",
                                  "2025-07-05 01:00", None],
            "resolved_at": ["2025-06-11 00:00", "2025-07-02 00:00", "2025-04-03 00:00",
                            None, None],
            "reopened_count": [1, 0, 0, 0, None],
        }),
        "orders": pd.DataFrame({
            "order_id": ["O1", "O2", "O3", "O4", "O5"],
            "account_id": ["A", "A", "A", "A", "F"],
            "ordered_at": ["2025-06-10", "2025-06-20", "2025-03-01", "2025-07-10", "2025-06-05"],
            "amount": [100.0, 50.5, 200.0, 80.0, 10.0],
            "items": [2, 1, 4, 1, 1],
        }),
        "returns": pd.DataFrame({
            "order_id": ["O1", "O2", "O3"],
            "returned_at": ["2025-06-15", "2025-07-03", "2025-03-05"],
            "items": [1, 1, 2],
        }),
        "surveys": pd.DataFrame({
            "response_id": ["S1", "S2", "S3", "S4", "S5", "S6", "S7"],
            "account_id": ["A"] * 7,
            "survey": ["nps", "nps", "csat", "csat", "ces", "nps", "csat"],
            "score": [9, 5, 4, 2, 5, 10, 3],
            "responded_at": ["2025-06-15 12:00", "2025-06-15 12:00", "2025-06-01", "2025-05-01",
                             "2025-06-25", "2025-07-01", "2025-02-01"],
            "comment": ["The dashboard is excellent.", None, "الخدمة ممتازة",
                        "Support is slow and confusing.", "  ", "Awful!", "Good product."],
        }),
    }
    validated, _ = validate_tables(raw)
    return validated


@pytest.fixture(scope="module")
def indicators(tables) -> pd.DataFrame:
    return compute_indicators(tables, AS_OF, windows=WINDOWS)


# --- which accounts -------------------------------------------------------------------


def test_active_accounts_signed_up_before_as_of_and_did_not_churn_before_it(tables):
    # C churned before as_of, D signs up at as_of; E churns at as_of, which is not yet known.
    assert list(active_accounts(tables.accounts, AS_OF)) == ["A", "B", "E", "F"]


def test_one_row_per_active_account_with_the_documented_columns(indicators):
    assert list(indicators.index) == ["A", "B", "E", "F"]
    assert indicators.index.name == "account_id"
    assert list(indicators.columns) == indicator_columns(WINDOWS)


def test_every_column_name_appears_in_the_indicator_document():
    from pathlib import Path

    document = (Path(__file__).parents[2] / "docs" / "indicators.md").read_text(encoding="utf-8")
    for column in indicator_columns((7,)):
        assert f"| {column.replace('_7d', '_{w}d')} " in document.replace(",", " |"), column


# --- hand-computed values -------------------------------------------------------------


def test_account_columns_and_tenure(indicators):
    a = indicators.loc["A"]
    assert (a["segment"], a["region"], a["plan"], a["mrr"]) == ("SMB", "Europe", "Pro", 100.0)
    assert a["tenure_days"] == 547.0  # 2024-01-01 to 2025-07-01
    assert np.isnan(indicators.loc["B", "mrr"])


def test_engagement_counts_sessions_days_and_users_in_each_window(indicators):
    a = indicators.loc["A"]
    # 30 days: the two sessions of 30 June and the one of 20 June (as_of itself excluded).
    assert (a["sessions_30d"], a["active_days_30d"], a["active_users_30d"]) == (3, 2, 2)
    assert a["pages_per_session_30d"] == 5.0
    assert a["avg_session_minutes_30d"] == pytest.approx(2100 / 3 / 60)
    # 90 days adds 15 May (user u3).
    assert (a["sessions_90d"], a["active_days_90d"], a["active_users_90d"]) == (4, 3, 3)
    assert a["pages_per_session_90d"] == 6.0
    assert a["avg_session_minutes_90d"] == 12.5
    assert a["days_since_last_activity"] == pytest.approx(10 / 24)
    # 3 sessions in the last 30 days against 1 in the 30 before: +200%.
    assert a["sessions_trend_30d"] == 200.0
    f = indicators.loc["F"]
    assert (f["sessions_30d"], f["active_days_30d"], f["active_users_30d"]) == (2, 1, 1)


def test_an_account_without_sessions_has_zero_counts_and_undefined_means(indicators):
    b = indicators.loc["B"]
    assert (b["sessions_30d"], b["active_days_90d"], b["active_users_90d"]) == (0, 0, 0)
    for column in ("pages_per_session_30d", "avg_session_minutes_90d",
                   "days_since_last_activity", "sessions_trend_30d"):
        assert np.isnan(b[column]), column
    e = indicators.loc["E"]
    assert e["sessions_30d"] == 0 and e["sessions_90d"] == 1
    assert e["days_since_last_activity"] == 82.0
    assert np.isnan(e["sessions_trend_30d"])  # no sessions in the 30 days before: undefined


def test_support_times_count_only_what_was_resolved_or_answered_before_as_of(indicators):
    a = indicators.loc["A"]
    assert a["tickets_30d"] == 2 and a["tickets_90d"] == 2  # T3 was created before the window
    # T2 is resolved after as_of: open at as_of, not in the resolution times.
    assert a["resolution_hours_mean_30d"] == 24.0
    assert a["resolution_hours_median_30d"] == 24.0
    # T3 was created before the 90-day window but resolved inside it (48 hours).
    assert a["resolution_hours_mean_90d"] == 36.0
    assert a["resolution_hours_median_90d"] == 36.0
    assert a["first_response_hours_mean_30d"] == 4.0  # T1 2 h, T2 6 h
    assert a["open_tickets"] == 1
    assert a["open_ticket_age_days_max"] == 11.0
    assert a["reopened_share_30d"] == 50.0


def test_an_unanswered_ticket_with_unknown_reopen_count_is_open_and_not_in_the_reopened_share(indicators):
    b = indicators.loc["B"]
    assert (b["tickets_30d"], b["tickets_90d"], b["open_tickets"]) == (0, 1, 1)
    assert b["open_ticket_age_days_max"] == 61.0
    assert np.isnan(b["reopened_share_90d"])
    assert np.isnan(b["first_response_hours_mean_90d"])
    f = indicators.loc["F"]
    assert f["open_tickets"] == 0 and np.isnan(f["open_ticket_age_days_max"])


def test_satisfaction_latest_nps_breaks_equal_times_by_response_id(indicators):
    a = indicators.loc["A"]
    # S1 (9) and S2 (5) were answered at the same moment; S2 sorts last. S6 is at as_of.
    assert a["nps_latest"] == 5 and a["nps_category_latest"] == "detractor"
    assert a["nps_mean_30d"] == 7.0
    assert a["csat_30d"] == 100.0 and a["csat_90d"] == 50.0
    assert a["csat_mean_90d"] == 3.0
    assert a["ces_mean_30d"] == 5.0
    b = indicators.loc["B"]
    assert np.isnan(b["nps_latest"]) and b["nps_category_latest"] is None
    assert np.isnan(b["csat_30d"])


def test_sentiment_aggregates_leave_out_unsupported_comments_and_count_them(indicators):
    a = indicators.loc["A"]
    excellent = _polarity("The dashboard is excellent.")
    slow = _polarity("Support is slow and confusing.")
    good = _polarity("Good product.")
    assert slow < -0.1 < excellent
    # 30 days: S1 read, S3 (Arabic) not read; S5 is blank and is no comment at all.
    assert a["comments_30d"] == 1
    assert a["sentiment_mean_30d"] == excellent
    assert a["unsupported_comment_share_30d"] == 50.0
    assert a["negative_comment_share_30d"] == 0.0
    assert a["comments_90d"] == 2
    assert a["sentiment_mean_90d"] == (excellent + slow) / 2
    assert a["negative_comment_share_90d"] == 50.0
    assert a["unsupported_comment_share_90d"] == pytest.approx(100 / 3)
    assert a["sentiment_latest"] == excellent
    assert a["sentiment_trend_90d"] == pytest.approx((excellent + slow) / 2 - good)
    b = indicators.loc["B"]
    assert b["comments_30d"] == 0
    assert np.isnan(b["sentiment_mean_30d"]) and np.isnan(b["unsupported_comment_share_30d"])


def test_commercial_indicators_and_returns_known_before_as_of(indicators):
    a = indicators.loc["A"]
    assert a["orders_30d"] == 2 and a["repeat_purchase_30d"] == 1.0
    assert a["revenue_30d"] == 150.5
    # O1 had 1 of 2 items returned; the return of O2 comes after as_of.
    assert a["return_rate_30d"] == pytest.approx(100 / 3)
    assert a["revenue_trend_90d"] == pytest.approx((150.5 - 200.0) / 200.0 * 100)
    f = indicators.loc["F"]
    assert f["repeat_purchase_30d"] == 0.0 and f["return_rate_30d"] == 0.0
    b = indicators.loc["B"]
    assert b["orders_90d"] == 0 and b["revenue_90d"] == 0.0
    for column in ("repeat_purchase_90d", "return_rate_90d", "revenue_trend_90d"):
        assert np.isnan(b[column]), column


def test_clv_uses_the_trailing_year_churn_rate_for_the_lifetime(tables, indicators):
    # Active on 2024-07-01: A, C, E, F; C churned since (E churns at as_of): 1 in 4.
    assert trailing_churn_rate(tables.accounts, AS_OF) == 0.25
    assert indicators.loc["A", "clv"] == 100 * 12 * 4 - 300
    assert np.isnan(indicators.loc["B", "clv"])  # no mrr
    assert indicators.loc["E", "clv"] == 50 * 12 * 4  # unknown acquisition cost
    assert indicators.loc["F", "clv"] == 200 * 12 * 4


def test_clv_lifetime_is_capped_at_ten_years_when_nobody_churned(tables):
    accounts = tables.accounts[tables.accounts["account_id"].isin(["A", "F"])]
    out = compute_indicators(Tables(accounts), AS_OF, windows=WINDOWS)
    assert out.loc["A", "clv"] == 100 * 12 * 10 - 300


def test_clv_is_undefined_without_accounts_a_year_before(tables):
    young = tables.accounts[tables.accounts["account_id"] == "B"]
    out = compute_indicators(Tables(young), AS_OF, windows=WINDOWS)
    assert np.isnan(out.loc["B", "clv"])


# --- missing tables -------------------------------------------------------------------


def test_a_missing_table_makes_its_indicators_missing_not_zero(tables):
    out = compute_indicators(Tables(tables.accounts), AS_OF, windows=WINDOWS)
    account = ["segment", "region", "plan", "tenure_days", "mrr", "clv"]
    others = [c for c in out.columns if c not in account]
    assert out[others].isna().all().all()
    assert out["tenure_days"].notna().all()


def test_each_table_only_feeds_its_own_indicators(tables, indicators):
    without = compute_indicators(dataclasses.replace(tables, tickets=None), AS_OF, windows=WINDOWS)
    support = [c for c in indicators.columns if "ticket" in c or "resolution" in c
               or "first_response" in c or "reopened" in c]
    assert without[support].isna().all().all()
    rest = [c for c in indicators.columns if c not in support]
    pd.testing.assert_frame_equal(without[rest], indicators[rest])


def test_without_returns_the_return_rate_is_unknown_but_orders_still_count(tables, indicators):
    out = compute_indicators(dataclasses.replace(tables, returns=None), AS_OF, windows=WINDOWS)
    assert out["return_rate_30d"].isna().all()
    assert out.loc["A", "orders_30d"] == 2


# --- comment scores passed in ---------------------------------------------------------


def test_precomputed_comment_scores_give_the_same_indicators(tables, indicators):
    scores = score_comments(tables.surveys["comment"])
    out = compute_indicators(tables, AS_OF, windows=WINDOWS, comment_scores=scores)
    pd.testing.assert_frame_equal(out, indicators, check_exact=True)


def test_comment_scores_that_miss_comments_are_refused(tables):
    scores = score_comments(tables.surveys["comment"]).iloc[1:]
    with pytest.raises(ValueError, match="comment_scores lacks 1 survey row"):
        compute_indicators(tables, AS_OF, windows=WINDOWS, comment_scores=scores)


def test_comment_scores_of_the_wrong_shape_are_refused(tables):
    with pytest.raises(ValueError, match="comment_scores must be the DataFrame returned by"):
        compute_indicators(tables, AS_OF, comment_scores=pd.DataFrame({"x": [1]}))


# --- input errors ---------------------------------------------------------------------


def test_an_as_of_that_is_not_a_date_is_refused(tables):
    with pytest.raises(ValueError, match="as_of must be a date or timestamp"):
        compute_indicators(tables, "next tuesday")


@pytest.mark.parametrize("windows", [(0,), (30, -1), (30.5,), (), (30, 30), ("30",)])
def test_windows_that_are_not_distinct_positive_whole_days_are_refused(tables, windows):
    with pytest.raises(ValueError, match="windows must"):
        compute_indicators(tables, AS_OF, windows=windows)


def test_tables_that_are_not_a_tables_object_are_refused(tables):
    with pytest.raises(TypeError, match="tables must be a features.contract.Tables"):
        compute_indicators({"accounts": tables.accounts}, AS_OF)


def test_unvalidated_tables_are_refused_with_the_column_named(tables):
    raw = tables.sessions.assign(started_at=tables.sessions["started_at"].astype(str))
    with pytest.raises(ValueError, match=r"sessions.started_at must hold naive UTC timestamps"):
        compute_indicators(dataclasses.replace(tables, sessions=raw), AS_OF)
    with pytest.raises(ValueError, match="orders lacks column"):
        compute_indicators(dataclasses.replace(tables, orders=tables.orders.drop(columns="amount")), AS_OF)


def test_an_aware_as_of_is_read_in_utc(tables, indicators):
    aware = pd.Timestamp("2025-07-01 02:00", tz="Europe/Paris")
    out = compute_indicators(tables, aware, windows=WINDOWS)
    pd.testing.assert_frame_equal(out, indicators, check_exact=True)


# --- properties: point in time and order invariance -----------------------------------

DEMO_AS_OF = pd.Timestamp("2025-05-17 13:00")


@pytest.fixture(scope="module")
def demo():
    """A small demo portfolio with its comment scores (scored once for all examples)."""
    tables, _ = validate_tables(generate_demo_data(accounts=60, months=6, seed=11))
    return tables, score_comments(tables.surveys["comment"])


@pytest.fixture(scope="module")
def demo_indicators(demo):
    tables, scores = demo
    return compute_indicators(tables, DEMO_AS_OF, comment_scores=scores)


_SECONDS = st.integers(min_value=0, max_value=400 * 86_400)


def _future_rows(draw, tables: Tables, n: int, as_of: pd.Timestamp):
    """Rows of every table dated at or after ``as_of`` (new accounts sign up at/after it)."""
    ids = list(tables.accounts["account_id"]) + ["NEW1", "NEW2"]
    orders = list(tables.orders["order_id"])
    when = lambda: as_of + pd.Timedelta(seconds=draw(_SECONDS))  # noqa: E731
    account = lambda: draw(st.sampled_from(ids))  # noqa: E731
    rows = {name: [] for name in ("accounts", "sessions", "tickets", "orders", "returns", "surveys")}
    for i in range(n):
        rows["accounts"].append({"account_id": f"NEW{i}", "signup_date": when()})
        rows["sessions"].append({
            "account_id": account(), "user_id": draw(st.sampled_from(["u1", "x9"])),
            "started_at": when(), "duration_seconds": draw(st.floats(0, 1e4)),
            "page_views": draw(st.integers(0, 50)),
        })
        created = when()
        rows["tickets"].append({
            "ticket_id": f"FT{i}", "account_id": account(), "channel": "email",
            "created_at": created, "first_response_at": created + pd.Timedelta(hours=1),
            "resolved_at": draw(st.sampled_from([pd.NaT, created + pd.Timedelta(days=2)])),
            "reopened_count": draw(st.integers(0, 3)),
        })
        rows["orders"].append({
            "order_id": f"FO{i}", "account_id": account(), "ordered_at": when(),
            "amount": draw(st.floats(0, 1e4)), "items": draw(st.integers(1, 5)),
        })
        # Late returns of orders placed before as_of: not known at as_of.
        if orders:
            rows["returns"].append({
                "order_id": draw(st.sampled_from(orders)), "returned_at": when(), "items": 1,
            })
        rows["surveys"].append({
            "response_id": f"FS{i}", "account_id": account(),
            "survey": draw(st.sampled_from(["nps", "csat", "ces"])),
            "score": draw(st.integers(1, 5)), "responded_at": when(),
            "comment": draw(st.sampled_from([None, "Terrible!", "Great support", "رائع"])),
        })
    return rows


def _append(tables: Tables, rows: dict) -> Tables:
    changes = {}
    for name, new in rows.items():
        frame = getattr(tables, name)
        if frame is None or not new:
            continue
        extra = pd.DataFrame(new).reindex(columns=frame.columns)
        extra = extra.astype({c: frame[c].dtype for c in frame.columns if c in extra})
        extra.index = range(len(frame) + 10_000, len(frame) + 10_000 + len(extra))
        changes[name] = pd.concat([frame, extra])
    return dataclasses.replace(tables, **changes)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), n=st.integers(1, 4))
def test_rows_dated_at_or_after_as_of_change_nothing(demo, demo_indicators, data, n):
    tables, _ = demo
    later = _append(tables, _future_rows(data.draw, tables, n, DEMO_AS_OF))
    out = compute_indicators(later, DEMO_AS_OF)
    pd.testing.assert_frame_equal(out, demo_indicators, check_exact=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), reset_index=st.booleans())
def test_shuffling_the_rows_of_every_table_changes_nothing(demo, demo_indicators, seed, reset_index):
    tables, scores = demo
    rng = np.random.default_rng(seed)
    shuffled = {}
    for name, frame in tables.present().items():
        frame = frame.iloc[rng.permutation(len(frame))]
        if reset_index and name != "surveys":
            frame = frame.reset_index(drop=True)
        shuffled[name] = frame
    out = compute_indicators(
        dataclasses.replace(tables, **shuffled), DEMO_AS_OF, comment_scores=scores.iloc[::-1]
    )
    pd.testing.assert_frame_equal(out, demo_indicators, check_exact=True)


def test_the_demo_snapshot_is_deterministic_and_has_no_infinite_values(demo, demo_indicators):
    tables, scores = demo
    again = compute_indicators(tables, DEMO_AS_OF, comment_scores=scores)
    pd.testing.assert_frame_equal(again, demo_indicators, check_exact=True)
    numbers = demo_indicators.select_dtypes("number")
    assert not np.isinf(numbers.to_numpy()).any()
    assert len(demo_indicators) == len(active_accounts(tables.accounts, DEMO_AS_OF)) > 20


def test_a_user_id_seen_in_two_accounts_counts_as_a_user_of_each(tables):
    shared = tables.sessions.copy()
    shared.loc[shared["account_id"] == "F", "user_id"] = "u1"  # also a user of A
    out = compute_indicators(dataclasses.replace(tables, sessions=shared), AS_OF, windows=WINDOWS)
    assert out.loc["F", "active_users_30d"] == 1
    assert out.loc["A", "active_users_30d"] == 2 and out.loc["A", "active_users_90d"] == 3


def test_a_date_before_any_signup_gives_an_empty_table_with_every_column(tables):
    out = compute_indicators(tables, "2020-01-01", windows=WINDOWS)
    assert out.empty and list(out.columns) == indicator_columns(WINDOWS)


def test_empty_tables_give_zero_counts_and_undefined_means(tables):
    empty = dataclasses.replace(tables, **{
        name: getattr(tables, name).iloc[:0]
        for name in ("sessions", "tickets", "orders", "returns", "surveys")
    })
    out = compute_indicators(empty, AS_OF, windows=WINDOWS)
    assert (out[["sessions_30d", "tickets_90d", "orders_30d", "comments_90d"]] == 0).all().all()
    assert out[["pages_per_session_30d", "nps_latest", "return_rate_30d"]].isna().all().all()


# --- values for people ---------------------------------------------------------------


def test_every_column_of_a_computed_snapshot_formats_without_nan(indicators):
    for column in indicators.columns:
        for value in indicators[column]:
            text = format_indicator_value(column, value)
            assert text and "nan" not in text.lower(), (column, value, text)
