"""Customer-base, session, ticket, order and CLV metrics over [start, end), computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.commerce_metrics import (
    affordable_acquisition_cost,
    clv,
    clv_order_value,
    clv_revenue_lifetime,
    clv_subscription,
    expected_lifetime_years,
    repeat_purchase_rate,
    return_rate,
)
from features.portfolio_metrics import (
    DAYS_PER_MONTH,
    churn_rate,
    customer_base,
    retention_rate,
)
from features.session_metrics import (
    avg_session_duration,
    conversion_rate,
    daily_active_users,
    pages_per_session,
    visitor_codes,
)
from features.support_metrics import (
    first_response_time,
    resolution_rate,
    resolution_time,
    ticket_volume,
)

JAN = ("2025-01-01", "2025-02-01")
T = pd.Timestamp


def accounts_frame(rows):
    """rows: (account_id, signup_date, churned_at or None, mrr, acquisition_cost)."""
    return pd.DataFrame({
        "account_id": [r[0] for r in rows],
        "signup_date": pd.to_datetime([r[1] for r in rows]),
        "churned_at": pd.to_datetime([r[2] for r in rows]),
        "mrr": [r[3] if len(r) > 3 else None for r in rows],
        "acquisition_cost": [r[4] if len(r) > 4 else None for r in rows],
    })


def sessions_frame(rows):
    """rows: (account_id, user_id, started_at, duration_seconds, page_views, converted)."""
    return pd.DataFrame({
        "account_id": [r[0] for r in rows], "user_id": [r[1] for r in rows],
        "started_at": pd.to_datetime([r[2] for r in rows], format="mixed"),
        "duration_seconds": [r[3] for r in rows],
        "page_views": pd.array([r[4] for r in rows], dtype="Int64"),
        "converted": pd.array([r[5] for r in rows], dtype="boolean"),
    })


def tickets_frame(rows):
    """rows: (ticket_id, channel, created_at, first_response_at, resolved_at)."""
    return pd.DataFrame({
        "ticket_id": [r[0] for r in rows], "account_id": "a", "channel": [r[1] for r in rows],
        "created_at": pd.to_datetime([r[2] for r in rows], format="mixed"),
        "first_response_at": pd.to_datetime([r[3] for r in rows], format="mixed"),
        "resolved_at": pd.to_datetime([r[4] for r in rows], format="mixed"),
    })


def orders_frame(rows):
    """rows: (order_id, account_id, ordered_at, amount, items)."""
    return pd.DataFrame({
        "order_id": [r[0] for r in rows], "account_id": [r[1] for r in rows],
        "ordered_at": pd.to_datetime([r[2] for r in rows]),
        "amount": [float(r[3]) for r in rows], "items": pd.array([r[4] for r in rows], dtype="Int64"),
    })


def returns_frame(rows):
    """rows: (order_id, returned_at, items, amount)."""
    return pd.DataFrame({
        "order_id": [r[0] for r in rows], "returned_at": pd.to_datetime([r[1] for r in rows]),
        "items": pd.array([r[2] for r in rows], dtype="Int64"), "amount": [r[3] for r in rows],
    })


# A start cohort of 5, one lost in January, one joining and leaving inside it, one joining
# and staying, one churned before, one joining after.
BASE = accounts_frame([
    ("a1", "2024-06-01", None, 100.0, 300.0),
    ("a2", "2024-06-01", "2025-01-20", 50.0, 300.0),
    ("a3", "2024-09-01", "2025-02-10", 500.0, 1000.0),
    ("a4", "2025-01-05", "2025-01-25", 10.0, 100.0),
    ("a5", "2025-01-01", None, 20.0, 100.0),
    ("a6", "2024-01-01", None, None, None),
    ("a7", "2024-01-01", "2025-01-01", None, None),
    ("a8", "2024-01-01", "2024-12-31", None, None),
    ("a9", "2025-02-03", None, None, None),
])


# --- customer base -------------------------------------------------------------------


def test_customer_base_sorts_accounts_into_start_cohort_acquired_and_end():
    base = {k: set(BASE.loc[v, "account_id"]) for k, v in customer_base(BASE, *JAN).items()}
    assert base["active_at_start"] == {"a1", "a2", "a3", "a6", "a7"}
    assert base["acquired"] == {"a4", "a5"}
    assert base["active_at_end"] == {"a1", "a3", "a5", "a6"}
    assert base["lost"] == {"a2", "a7"}
    assert base["acquired_and_lost"] == {"a4"}


def test_churn_worked_example_20_lost_of_500_is_4_percent():
    accounts = accounts_frame(
        [(f"a{i}", "2024-01-01", "2025-01-15" if i < 20 else None) for i in range(500)]
    )
    result = churn_rate(accounts, *JAN)
    assert result.value == 4.0
    assert (result["lost"], result["active_at_start"]) == (20, 500)


def test_churn_counts_accounts_who_joined_and_left_apart_from_the_start_cohort():
    result = churn_rate(BASE, *JAN)
    # a2 and a7 (churned exactly at the start) of a1, a2, a3, a6, a7; a4 reported apart.
    assert result.value == 40.0
    assert result["acquired_and_lost"] == 1
    assert result["lost"] == 2


def test_churn_is_not_start_minus_end_over_start():
    # 5 at the start, 4 at the end: (S - E) / S would say 20%, but 2 were lost.
    assert churn_rate(BASE, *JAN).value != 100 * (5 - 4) / 5


def test_churn_with_nobody_active_at_the_start_is_undefined():
    result = churn_rate(BASE, "2023-01-01", "2023-02-01")
    assert result.value is None
    assert result.reason == "no customers were active at the start of the period"


def test_retention_is_end_minus_acquired_over_start():
    result = retention_rate(BASE, *JAN)
    # E = 4 (a1, a3, a5, a6), N still active = 1 (a5), S = 5 -> 60%.
    assert result.value == 60.0
    assert result["active_at_end"] == 4 and result["acquired"] == 2 and result["acquired_and_lost"] == 1


def test_retention_without_anyone_joining_and_leaving_is_exactly_e_minus_n_over_s():
    accounts = accounts_frame([
        ("a", "2024-01-01", None), ("b", "2024-01-01", "2025-01-10"),
        ("c", "2024-01-01", None), ("d", "2024-01-01", None), ("e", "2025-01-15", None),
    ])
    result = retention_rate(accounts, *JAN)
    e, n, s = result["active_at_end"], result["acquired"], result["active_at_start"]
    assert result.value == 100 * (e - n) / s == 75.0


def test_retention_and_churn_add_up_to_100():
    assert retention_rate(BASE, *JAN).value + churn_rate(BASE, *JAN).value == 100.0


def test_retention_with_nobody_active_at_the_start_is_undefined():
    assert retention_rate(BASE, "2023-01-01", "2023-02-01").value is None


# --- orders and returns --------------------------------------------------------------

ORDERS = orders_frame([
    ("o1", "a1", "2025-01-05", 100, 2), ("o2", "a1", "2025-01-20", 50, 1),
    ("o3", "a2", "2025-01-10", 200, 4), ("o4", "a3", "2025-02-06", 80, 1),
    ("o5", "a1", "2024-12-15", 30, 1),
])


def test_repeat_purchase_rate_counts_buyers_with_two_or_more_orders():
    result = repeat_purchase_rate(ORDERS, *JAN)
    assert result.value == 50.0
    assert (result["repeat_buyers"], result["buyers"], result["orders"]) == (1, 2, 3)


def test_repeat_purchase_rate_without_buyers_is_undefined():
    assert repeat_purchase_rate(ORDERS, "2023-01-01", "2023-02-01").reason == "no orders in the period"


def test_returns_are_matched_to_the_period_of_their_order():
    returns = returns_frame([
        ("o3", "2025-02-15", 1, 50.0),   # January order returned in February: counts in January
        ("o5", "2025-01-03", 1, 30.0),   # December order returned in January: not January's
    ])
    result = return_rate(ORDERS, returns, *JAN)
    assert result.value == pytest.approx(100 * 1 / 7)
    assert result["by_value"].value == pytest.approx(100 * 50 / 350)
    assert (result["units_returned"], result["units_sold"], result["returns"]) == (1, 7, 1)
    assert return_rate(ORDERS, returns, "2024-12-01", "2025-01-01").value == 100.0


def test_return_rate_without_units_sold_is_undefined():
    result = return_rate(ORDERS, returns_frame([]), "2023-01-01", "2023-02-01")
    assert result.reason == "no units sold in the period"
    assert result["by_value"].value is None


def test_return_rate_by_value_is_undefined_when_a_matched_return_has_no_amount():
    result = return_rate(ORDERS, returns_frame([("o1", "2025-01-06", 1, None)]), *JAN)
    assert result.value == pytest.approx(100 / 7)
    assert "1 matched return(s) have no amount" in result["by_value"].reason


# --- sessions ------------------------------------------------------------------------

SESSIONS = sessions_frame([
    ("a1", "u1", "2025-01-02 10:00", 60.0, 3, True),
    ("a1", "u1", "2025-01-02 15:00", 120.0, 5, False),
    ("a1", "u2", "2025-01-03 00:00", 300.0, 2, False),
    ("a2", "u1", "2025-01-03 00:00", 30.0, 1, None),
    ("a3", "u9", "2025-02-05 00:00", 600.0, 10, True),
    ("a1", "u1", "2024-12-20 00:00", 100.0, 4, False),
])


def test_conversion_worked_example_50_of_500_visitors_is_10_percent():
    sessions = sessions_frame(
        [("a", f"u{i}", "2025-01-10", 1.0, 1, i < 50) for i in range(500)]
    )
    result = conversion_rate(sessions, *JAN)
    assert result.value == 10.0 and result["visitors_are"] == "sessions"


def test_conversion_by_sessions_leaves_unknown_sessions_out():
    result = conversion_rate(SESSIONS, *JAN)
    assert (result["conversions"], result["visitors"], result["unknown"]) == (1, 3, 1)


def test_conversion_by_users_counts_each_account_user_pair_once():
    result = conversion_rate(SESSIONS, *JAN, visitors="users")
    # a1/u1 converted once in two sessions; a1/u2 did not; a2/u1 is unknown.
    assert (result["conversions"], result["visitors"]) == (1, 2)
    assert result.value == 50.0


def test_conversion_without_visitors_is_undefined_and_says_why():
    assert conversion_rate(SESSIONS, "2023-01-01", "2023-02-01").reason == "no sessions in the period"
    blank = SESSIONS.assign(converted=pd.array([None] * len(SESSIONS), dtype="boolean"))
    assert "converted is empty" in conversion_rate(blank, *JAN).reason


def test_conversion_rejects_an_unknown_kind_of_visitor():
    with pytest.raises(ValueError, match="visitors must be 'sessions' or 'users', got 'people'"):
        conversion_rate(SESSIONS, *JAN, visitors="people")


def test_dau_averages_distinct_users_over_every_day_of_the_period():
    result = daily_active_users(SESSIONS, "2025-01-01", "2025-01-05")
    # Jan 1: 0, Jan 2: a1/u1, Jan 3: a1/u2 and a2/u1, Jan 4: 0.
    assert result.value == 3 / 4
    assert (result["active_user_days"], result["peak_dau"], result["period_active_users"]) == (3, 2, 3)


def test_mau_counts_users_of_the_trailing_30_days_including_before_the_period():
    result = daily_active_users(SESSIONS, "2025-01-01", "2025-01-05")
    # a1/u1 was active on Dec 20, so it is in every window; a1/u2 and a2/u1 from Jan 3.
    assert result["mau"] == (1 + 1 + 3 + 3) / 4
    assert result["stickiness"].value == pytest.approx(100 * (3 / 4) / (8 / 4))


def test_stickiness_is_undefined_when_nobody_was_active():
    result = daily_active_users(SESSIONS, "2023-01-01", "2023-01-03")
    assert result.value == 0.0
    assert result["stickiness"].value is None


def test_the_same_user_id_in_two_accounts_is_two_visitors():
    codes = visitor_codes(pd.DataFrame({"account_id": ["a", "b", "a"], "user_id": ["u", "u", "u"]}))
    assert codes[0] == codes[2] != codes[1]


def test_dau_accepts_precomputed_visitor_codes_of_the_same_rows_only():
    codes = visitor_codes(SESSIONS)
    assert (daily_active_users(SESSIONS, *JAN, visitor_codes=codes).as_dict()
            == daily_active_users(SESSIONS, *JAN).as_dict())
    with pytest.raises(ValueError, match="visitor_codes has 2 values for 6 sessions"):
        daily_active_users(SESSIONS, *JAN, visitor_codes=codes[:2])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["u1", "u2", "u3"]),
                          st.integers(0, 80)), max_size=40),
       st.integers(30, 60), st.integers(1, 20))
def test_dau_and_mau_match_a_day_by_day_count(rows, first, length):
    origin = T("2025-01-01")
    sessions = sessions_frame([(a, u, origin + pd.Timedelta(days=d, hours=5), 1.0, 1, True)
                               for a, u, d in rows])
    start, end = origin + pd.Timedelta(days=first), origin + pd.Timedelta(days=first + length)
    result = daily_active_users(sessions, start, end)
    active = {(a, u, d) for a, u, d in rows}
    daily = [len({(a, u) for a, u, x in active if x == day}) for day in range(first, first + length)]
    monthly = [len({(a, u) for a, u, x in active if day - 29 <= x <= day})
               for day in range(first, first + length)]
    assert result["active_user_days"] == sum(daily)
    assert result.value == pytest.approx(sum(daily) / length)
    assert result["mau"] == pytest.approx(sum(monthly) / length)


def test_pages_per_session_and_duration_are_means_over_the_periods_sessions():
    assert pages_per_session(SESSIONS, *JAN).value == (3 + 5 + 2 + 1) / 4
    duration = avg_session_duration(SESSIONS, *JAN)
    assert duration.value == (60 + 120 + 300 + 30) / 4
    assert duration["median_seconds"] == 90.0


def test_session_means_without_sessions_are_undefined():
    assert pages_per_session(SESSIONS, "2023-01-01", "2023-02-01").reason == "no sessions in the period"
    assert avg_session_duration(SESSIONS, "2023-01-01", "2023-02-01").value is None


# --- tickets -------------------------------------------------------------------------

TICKETS = tickets_frame([
    ("t1", "email", "2025-01-02 00:00", "2025-01-02 02:00", "2025-01-02 10:00"),
    ("t2", "chat", "2025-01-10 00:00", "2025-01-11 00:00", None),
    ("t3", "email", "2024-12-28 00:00", "2024-12-28 06:00", "2025-01-03 00:00"),
    ("t4", "chat", "2025-02-03 00:00", "2025-02-03 01:00", "2025-02-04 00:00"),
    ("t5", "phone", "2025-01-30 00:00", None, None),
    ("t6", "portal", "2024-11-01 00:00", None, None),
])


def test_ticket_volume_counts_tickets_created_in_the_period_per_channel():
    result = ticket_volume(TICKETS, *JAN)
    assert result.value == 3
    assert result["by_channel"] == {"chat": 1, "email": 1, "phone": 1, "portal": 0}


def test_resolution_time_uses_tickets_resolved_in_the_period_even_if_created_before():
    result = resolution_time(TICKETS, *JAN)
    # t1: 10 h, t3: 6 days = 144 h.
    assert result.value == 77.0 and result["median_hours"] == 77.0 and result["resolved"] == 2


def test_unresolved_tickets_are_left_out_of_the_mean_and_reported_as_open_backlog_with_age():
    result = resolution_time(TICKETS, *JAN)
    # Open at Feb 1: t2 (22 days), t5 (2 days), t6 (92 days).
    assert result["open_backlog"] == 3
    assert result["open_age_days_max"] == 92.0
    assert result["open_age_days_mean"] == pytest.approx((22 + 2 + 92) / 3)


def test_resolution_time_without_resolved_tickets_is_undefined_but_still_reports_the_backlog():
    result = resolution_time(TICKETS, "2024-12-01", "2025-01-01")
    assert result.value is None and result.reason == "no tickets were resolved in the period"
    assert result["open_backlog"] == 2


def test_first_response_time_is_mean_and_median_over_tickets_first_answered_in_the_period():
    result = first_response_time(TICKETS, *JAN)
    # t1: 2 h, t2: 24 h; t5 and t6 wait (t3 was answered in December).
    assert result.value == 13.0 and result["median_hours"] == 13.0
    assert result["awaiting_response"] == 2


def test_resolution_rate_is_resolved_over_created_per_channel():
    result = resolution_rate(TICKETS, *JAN)
    assert result.value == pytest.approx(100 / 3)
    by_channel = result["by_channel"]
    assert by_channel["email"].value == 100.0 and by_channel["chat"].value == 0.0
    assert by_channel["portal"].value is None
    assert by_channel["portal"].reason == "no tickets created in this channel in the period"


def test_resolution_rate_without_tickets_is_undefined():
    assert resolution_rate(TICKETS, "2023-01-01", "2023-02-01").reason == "no tickets created in the period"


# --- CLV -----------------------------------------------------------------------------


def test_clv_seed_004_worked_example_1000_pays_for_up_to_500_of_acquisition():
    value = clv_revenue_lifetime(500.0, 3.0, acquisition_cost=500.0)
    assert value == 1000.0
    assert affordable_acquisition_cost(value) == 500.0


def test_lifetime_is_period_length_over_churn_and_capped_when_nobody_churns():
    years, capped = expected_lifetime_years(0.02, DAYS_PER_MONTH)
    assert years == pytest.approx(50 / 12) and not capped
    assert expected_lifetime_years(0.0, 31) == (10.0, True)
    assert expected_lifetime_years(0.0, 31, max_years=5) == (5.0, True)
    assert expected_lifetime_years(0.001, 31) == (10.0, True)


def test_lifetime_inputs_are_checked():
    with pytest.raises(ValueError, match=r"churn_fraction must be at least 0 and at most 1, got 1.5"):
        expected_lifetime_years(1.5, 30)
    with pytest.raises(ValueError, match=r"period_days must be a number, got 'a month'"):
        expected_lifetime_years(0.1, "a month")


def test_order_and_subscription_variants_follow_their_formulas():
    assert clv_order_value(40.0, 6.0, 2.0) == 480.0
    assert clv_order_value(40.0, 6.0, 2.0, gross_margin=0.25) == 120.0
    assert clv_subscription(200.0, 5.0, gross_margin=0.5) == (2000.0, False)
    assert clv_subscription(200.0, 0.0, max_lifetime_years=2) == (4800.0, True)


def test_clv_variants_on_tables_with_a_churn_of_zero_are_capped_and_flagged():
    accounts = accounts_frame([("a", "2024-01-01", None, 100.0, 400.0),
                               ("b", "2024-01-01", None, 300.0, 600.0)])
    orders = orders_frame([("o1", "a", "2025-01-05", 60, 1), ("o2", "a", "2025-01-09", 20, 1)])
    result = clv(accounts, orders, *JAN, gross_margin=0.5, max_lifetime_years=4)
    assert result["lifetime_capped"] is True and result["lifetime_years"] == 4.0
    assert result.value == 12 * 200.0 * 4 - 500.0
    variants = result["variants"]
    assert variants["revenue_lifetime"]["revenue_source"] == "mrr"
    # 2 orders of mean 40 by one buyer in 31 days, annualised, over 4 years, at 50% margin.
    assert variants["order_value"].value == pytest.approx(40.0 * (2 * 365.25 / 31) * 4 * 0.5)
    assert variants["subscription"].value == 200.0 * 0.5 * 48
    assert result["affordable_acquisition_cost"] == result.value / 2


def test_clv_lifetime_comes_from_the_periods_churn():
    accounts = accounts_frame([("a", "2024-01-01", None, 100.0, 0.0),
                               ("b", "2024-01-01", "2025-01-15", 100.0, 0.0)])
    result = clv(accounts, None, *JAN)
    assert result["churn_rate"] == 50.0
    assert result["lifetime_years"] == pytest.approx(31 / 365.25 / 0.5)
    assert result["variants"]["order_value"].reason == "no orders table"


def test_clv_without_a_start_cohort_is_undefined():
    result = clv(BASE, None, "2023-01-01", "2023-02-01")
    assert result.value is None and "no customers were active at the start" in result.reason


def test_clv_without_acquisition_costs_is_undefined_but_shows_the_gross_value():
    accounts = accounts_frame([("a", "2024-01-01", None, 100.0, None)])
    result = clv(accounts, None, *JAN)
    assert result.value is None and "acquisition_cost is empty" in result.reason
    assert result["variants"]["revenue_lifetime"]["gross_value"] == 12 * 100.0 * 10


def test_clv_falls_back_to_order_revenue_when_there_is_no_mrr():
    accounts = accounts_frame([("a", "2024-01-01", None, None, 10.0)])
    orders = orders_frame([("o1", "a", "2025-01-05", 31, 1)])
    result = clv(accounts, orders, *JAN, max_lifetime_years=1)
    assert result["variants"]["revenue_lifetime"]["revenue_source"] == "orders"
    assert result.value == pytest.approx(365.25 - 10.0)
    assert result["variants"]["subscription"].value is None


def test_clv_rejects_a_margin_given_in_percent():
    with pytest.raises(ValueError, match=r"gross_margin must be above 0 and at most 1, got 80; fix: give a share"):
        clv(BASE, None, *JAN, gross_margin=80)


# --- inputs --------------------------------------------------------------------------


def test_metrics_name_the_table_and_column_a_frame_is_missing():
    with pytest.raises(ValueError, match=r"tickets is missing column\(s\) \['resolved_at'\]"):
        resolution_time(TICKETS.drop(columns="resolved_at"), *JAN)
    with pytest.raises(ValueError, match=r"orders.ordered_at must hold timestamps"):
        repeat_purchase_rate(ORDERS.assign(ordered_at=ORDERS["ordered_at"].astype(str)), *JAN)


def test_metrics_leave_their_inputs_unchanged():
    frames = [BASE, SESSIONS, TICKETS, ORDERS]
    before = [f.copy(deep=True) for f in frames]
    churn_rate(BASE, *JAN), clv(BASE, ORDERS, *JAN), daily_active_users(SESSIONS, *JAN)
    conversion_rate(SESSIONS, *JAN, visitors="users"), resolution_rate(TICKETS, *JAN)
    for frame, copy in zip(frames, before):
        pd.testing.assert_frame_equal(frame, copy)


@pytest.mark.parametrize("metric, frame", [
    (churn_rate, BASE), (retention_rate, BASE), (repeat_purchase_rate, ORDERS),
    (daily_active_users, SESSIONS), (conversion_rate, SESSIONS), (resolution_time, TICKETS),
    (first_response_time, TICKETS), (resolution_rate, TICKETS), (ticket_volume, TICKETS),
    (avg_session_duration, SESSIONS),
])
def test_shuffling_rows_changes_no_metric(metric, frame):
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert metric(shuffled, *JAN).as_dict() == metric(frame, *JAN).as_dict()
