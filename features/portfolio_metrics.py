"""Customer-base, engagement, support, commerce and CLV metrics over a period ``[start, end)``.

Definitions follow ``METRICS.md``. Every function is a pure function of validated tables
(canonical columns, naive-UTC timestamps; see :func:`features.contract.validate_tables`)
and the period; it returns a :class:`~features.survey_metrics.MetricResult` whose
``value`` is None with a ``reason`` when the metric is undefined (an empty denominator),
never 0. Rates are percentages (0-100). The period includes ``start`` and excludes ``end``.

Who counts as a customer at an instant ``t``: signed up before ``t`` and not churned
before ``t``. So over ``[start, end)``:

* S, active at the start: ``signup_date < start`` and not ``churned_at < start``;
* N, acquired: ``start <= signup_date < end``;
* E, active at the end: ``signup_date < end`` and not ``churned_at < end``;
* L, lost from the start cohort: in S with ``start <= churned_at < end``;
* J, acquired and lost: in N with ``start <= churned_at < end`` (reported apart from L).

Everything is vectorised; nothing loops over rows in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.survey_metrics import (
    MetricResult,
    check_frame,
    check_period,
    defined,
    undefined,
)

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: Days of the trailing window of "monthly" active users.
MAU_WINDOW_DAYS = 30
DEFAULT_MAX_LIFETIME_YEARS = 10.0

_DAY = pd.Timedelta(days=1)
_HOUR = pd.Timedelta(hours=1)


def _within(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Rows with ``start <= time < end``; empty times are never within."""
    return (times >= start) & (times < end)


def _before(times: pd.Series, moment: pd.Timestamp) -> pd.Series:
    """Rows with ``time < moment``; empty times are never before (NaT compares False)."""
    return times < moment


def check_number(
    value: Any, *, name: str, low: float | None = None, high: float | None = None,
    low_open: bool = False,
) -> float:
    """``value`` as a float within bounds, or a ValueError naming the argument and the fix.

    Examples
    --------
    >>> check_number(0.8, name="gross_margin", low=0, high=1, low_open=True)
    0.8
    >>> check_number(80, name="gross_margin", low=0, high=1, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: gross_margin must be above 0 and at most 1, got 80; fix: give a share such as 0.8 for 80%
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    bounds = []
    if low is not None:
        bounds.append(f"{'above' if low_open else 'at least'} {low:g}")
    if high is not None:
        bounds.append(f"at most {high:g}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and number > high
    if np.isnan(number) or too_low or too_high:
        fix = "give a share such as 0.8 for 80%" if "margin" in name else "correct the value"
        raise ValueError(f"{name} must be {' and '.join(bounds)}, got {value!r}; fix: {fix}")
    return number


# --- the customer base ---------------------------------------------------------------


def customer_base(accounts: pd.DataFrame, start: Any, end: Any) -> dict[str, pd.Series]:
    """Boolean masks over ``accounts`` for S, N, E, L, J and "active during the period".

    Returns
    -------
    dict of str to boolean Series
        ``active_at_start``, ``acquired``, ``active_at_end``, ``lost``,
        ``acquired_and_lost`` and ``active_during`` (S or N), indexed like ``accounts``.
    """
    check_frame(accounts, table="accounts", columns=["account_id"],
                timestamps=["signup_date", "churned_at"])
    start, end = check_period(start, end)
    signup, churned = accounts["signup_date"], accounts["churned_at"]
    churned_in = _within(churned, start, end)
    active_at_start = _before(signup, start) & ~_before(churned, start)
    acquired = _within(signup, start, end)
    return {
        "active_at_start": active_at_start,
        "acquired": acquired,
        "active_at_end": _before(signup, end) & ~_before(churned, end),
        "lost": active_at_start & churned_in,
        "acquired_and_lost": acquired & churned_in,
        "active_during": active_at_start | acquired,
    }


def _base_counts(accounts: pd.DataFrame, start: Any, end: Any) -> dict[str, int]:
    return {name: int(mask.sum()) for name, mask in customer_base(accounts, start, end).items()}


def churn_rate(accounts: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Start-cohort churn: customers lost in the period / customers active at its start.

    Customers acquired and lost inside the period are not in the numerator (they were
    not in the start cohort); they are reported as ``acquired_and_lost``.

    Parameters
    ----------
    accounts : DataFrame
        With ``account_id``, ``signup_date``, ``churned_at``.
    start, end : date-like
        The period ``[start, end)``.

    Returns
    -------
    MetricResult
        Percent; components ``lost``, ``active_at_start``, ``acquired``,
        ``acquired_and_lost``, ``active_at_end``. Undefined when nobody was active at the start.

    Examples
    --------
    The worked example: 20 customers lost out of 500 at the start.

    >>> accounts = pd.DataFrame({
    ...     "account_id": [f"a{i}" for i in range(500)],
    ...     "signup_date": pd.Timestamp("2024-06-01"),
    ...     "churned_at": [pd.Timestamp("2025-01-15")] * 20 + [pd.NaT] * 480,
    ... })
    >>> churn_rate(accounts, "2025-01-01", "2025-02-01").value
    4.0
    >>> churn_rate(accounts, "2024-01-01", "2024-02-01").reason
    'no customers were active at the start of the period'
    """
    counts = _base_counts(accounts, start, end)
    components = {k: counts[k] for k in
                  ("lost", "active_at_start", "acquired", "acquired_and_lost", "active_at_end")}
    if not counts["active_at_start"]:
        return undefined("no customers were active at the start of the period", "percent",
                         **components)
    return defined(100 * counts["lost"] / counts["active_at_start"], "percent", **components)


def retention_rate(accounts: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Retention ``(E - N) / S * 100``.

    E counts customers active at the end, S those active at the start and N those
    acquired during the period *who are still active at the end*. Counting N this way
    keeps a customer who joined and left inside the period from being subtracted from E
    without ever having been in it (which could make retention negative); when nobody
    joined and left (``acquired_and_lost == 0``) it is exactly (E - N) / S with N all
    acquisitions, and in every case retention + churn rate = 100.

    Returns
    -------
    MetricResult
        Percent; components ``active_at_end``, ``acquired``, ``acquired_and_lost``,
        ``active_at_start``. Undefined when nobody was active at the start.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b", "c", "d", "e"],
    ...     "signup_date": pd.to_datetime(["2024-01-01"] * 4 + ["2025-01-10"]),
    ...     "churned_at": pd.to_datetime([None, None, None, "2025-01-20", None]),
    ... })
    >>> result = retention_rate(accounts, "2025-01-01", "2025-02-01")
    >>> result.value, result["active_at_end"], result["acquired"], result["active_at_start"]
    (75.0, 4, 1, 4)
    """
    counts = _base_counts(accounts, start, end)
    components = {k: counts[k] for k in
                  ("active_at_end", "acquired", "acquired_and_lost", "active_at_start")}
    if not counts["active_at_start"]:
        return undefined("no customers were active at the start of the period", "percent",
                         **components)
    acquired_still_active = counts["acquired"] - counts["acquired_and_lost"]
    retained = counts["active_at_end"] - acquired_still_active
    return defined(100 * retained / counts["active_at_start"], "percent", **components)


# --- orders and returns --------------------------------------------------------------


def _orders_in(orders: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    check_frame(orders, table="orders", columns=["order_id", "account_id", "amount", "items"],
                timestamps=["ordered_at"])
    start, end = check_period(start, end)
    return orders.loc[_within(orders["ordered_at"], start, end)]


def repeat_purchase_rate(orders: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Customers with 2+ orders in the period / customers with 1+ order in it.

    Returns
    -------
    MetricResult
        Percent; components ``repeat_buyers``, ``buyers``, ``orders``. Undefined without buyers.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "order_id": ["o1", "o2", "o3", "o4"], "account_id": ["a", "a", "b", "c"],
    ...     "ordered_at": pd.to_datetime(["2025-01-02", "2025-01-20", "2025-01-05", "2025-03-01"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0], "items": [1, 2, 1, 1],
    ... })
    >>> result = repeat_purchase_rate(orders, "2025-01-01", "2025-02-01")
    >>> result.value, result["repeat_buyers"], result["buyers"]
    (50.0, 1, 2)
    """
    in_period = _orders_in(orders, start, end)
    per_buyer = in_period["account_id"].value_counts()
    components = dict(repeat_buyers=int((per_buyer >= 2).sum()), buyers=len(per_buyer),
                      orders=len(in_period))
    if not len(per_buyer):
        return undefined("no orders in the period", "percent", **components)
    return defined(100 * components["repeat_buyers"] / len(per_buyer), "percent", **components)


def return_rate(orders: pd.DataFrame, returns: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Units returned / units sold, for the orders placed in the period; also by value.

    Returns are matched to the period of their order, not of the return: a January
    order returned in February counts in January. All returns recorded so far count.

    Returns
    -------
    MetricResult
        Percent by units; components ``units_returned``, ``units_sold``, ``orders``,
        ``returns``, ``amount_returned``, ``amount_sold`` and ``by_value`` (the same rate
        by amount, itself undefined when nothing was sold or a matched return has no
        amount). Undefined when no units were sold.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "order_id": ["o1", "o2", "o3"], "account_id": ["a", "b", "c"],
    ...     "ordered_at": pd.to_datetime(["2025-01-05", "2025-01-25", "2024-12-30"]),
    ...     "amount": [100.0, 300.0, 50.0], "items": [2, 6, 1],
    ... })
    >>> returns = pd.DataFrame({
    ...     "order_id": ["o2", "o3"], "items": [2, 1], "amount": [100.0, 50.0],
    ...     "returned_at": pd.to_datetime(["2025-02-03", "2025-01-04"]),
    ... })
    >>> result = return_rate(orders, returns, "2025-01-01", "2025-02-01")
    >>> result.value, result["by_value"].value
    (25.0, 25.0)
    """
    in_period = _orders_in(orders, start, end)
    check_frame(returns, table="returns", columns=["order_id", "items", "amount"],
                timestamps=["returned_at"])
    matched = returns.loc[returns["order_id"].isin(in_period["order_id"])]
    units_sold = float(in_period["items"].sum())
    units_returned = float(matched["items"].sum())
    amount_sold = float(in_period["amount"].sum())
    no_amount = int(matched["amount"].isna().sum())
    amount_returned = float(matched["amount"].sum()) if not no_amount else None
    if not amount_sold:
        by_value = undefined("no sales value in the period", "percent")
    elif no_amount:
        by_value = undefined(
            f"{no_amount} matched return(s) have no amount; fill returns.amount to get the "
            "rate by value", "percent",
        )
    else:
        by_value = defined(100 * amount_returned / amount_sold, "percent")
    components = dict(
        units_returned=units_returned, units_sold=units_sold, orders=len(in_period),
        returns=len(matched), amount_returned=amount_returned, amount_sold=amount_sold,
        by_value=by_value,
    )
    if not units_sold:
        return undefined("no units sold in the period", "percent", **components)
    return defined(100 * units_returned / units_sold, "percent", **components)


# --- sessions ------------------------------------------------------------------------


def _sessions_in(sessions: pd.DataFrame, start: Any, end: Any, columns=()) -> pd.DataFrame:
    check_frame(sessions, table="sessions", columns=["account_id", "user_id", *columns],
                timestamps=["started_at"])
    start, end = check_period(start, end)
    return sessions.loc[_within(sessions["started_at"], start, end)]


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; sorting once beats np.unique's hashing on millions of keys."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def visitor_codes(sessions: pd.DataFrame) -> np.ndarray:
    """Dense integer codes 0..n-1, one per visitor; a visitor is an (account_id, user_id) pair.

    user_id is only required to be unique within an account, so two accounts may both
    have a user "u1" who are different people. Callers that compute several session
    metrics on the same rows (as :func:`features.period_metrics.period_metrics` does) pass
    these codes in rather than paying for the string factorisation each time.

    Examples
    --------
    >>> visitor_codes(pd.DataFrame({"account_id": ["a", "b", "a"], "user_id": ["u1", "u1", "u1"]}))
    array([0, 1, 0])
    """
    account_code, _ = pd.factorize(sessions["account_id"])
    user_code, users = pd.factorize(sessions["user_id"])
    pairs = account_code.astype(np.int64) * (len(users) + 1) + user_code
    return pd.factorize(pairs)[0]


def _codes_for(sessions: pd.DataFrame, rows: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
    """Visitor codes of ``sessions[rows]``, from the caller's codes when given."""
    if codes is None:
        return visitor_codes(sessions.loc[rows])
    codes = np.asarray(codes)
    if len(codes) != len(sessions):
        raise ValueError(
            f"visitor_codes has {len(codes)} values for {len(sessions)} sessions; fix: pass "
            "visitor_codes(sessions) computed on the same rows, or leave it out"
        )
    return codes[rows]


def _distinct(codes: np.ndarray) -> int:
    # Dense codes: marking a boolean per code is O(n), cheaper than hashing or sorting.
    if not len(codes):
        return 0
    seen = np.zeros(int(codes.max()) + 1, dtype=bool)
    seen[codes] = True
    return int(seen.sum())


def conversion_rate(
    sessions: pd.DataFrame, start: Any, end: Any, *, visitors: str = "sessions",
    visitor_codes: np.ndarray | None = None,
) -> MetricResult:
    """Conversions / visitors, with visitors counted as sessions or as users (stated).

    Parameters
    ----------
    sessions : DataFrame
        With ``account_id``, ``user_id``, ``started_at``, ``converted``.
    start, end : date-like
        The period ``[start, end)``.
    visitors : {"sessions", "users"}
        ``"sessions"``: converted sessions / sessions. ``"users"``: users with a converted
        session / users with a session. Sessions whose ``converted`` is empty are unknown
        and left out of both counts (reported as ``unknown``).
    visitor_codes : ndarray, optional
        :func:`visitor_codes` of ``sessions``, to skip recomputing them.

    Returns
    -------
    MetricResult
        Percent; components ``conversions``, ``visitors`` (the count), ``visitors_are``
        and ``unknown``. Undefined without visitors.

    Examples
    --------
    The worked example: 50 conversions from 500 visitors.

    >>> sessions = pd.DataFrame({
    ...     "account_id": "a", "user_id": [f"u{i}" for i in range(500)],
    ...     "started_at": pd.Timestamp("2025-01-10"), "converted": [True] * 50 + [False] * 450,
    ... })
    >>> conversion_rate(sessions, "2025-01-01", "2025-02-01").value
    10.0
    >>> conversion_rate(sessions, "2025-01-01", "2025-02-01", visitors="users")["visitors_are"]
    'users'
    """
    if visitors not in ("sessions", "users"):
        raise ValueError(f"visitors must be 'sessions' or 'users', got {visitors!r}")
    check_frame(sessions, table="sessions", columns=["account_id", "user_id", "converted"],
                timestamps=["started_at"])
    start, end = check_period(start, end)
    rows = _within(sessions["started_at"], start, end).to_numpy()
    in_period = sessions.loc[rows]
    converted = in_period["converted"]
    known = converted.notna().to_numpy()
    flags = converted.to_numpy(dtype=bool, na_value=False)[known]
    if visitors == "sessions":
        n_visitors, n_conversions = int(known.sum()), int(flags.sum())
    else:
        codes = _codes_for(sessions, rows, visitor_codes)[known]
        n_visitors, n_conversions = _distinct(codes), _distinct(codes[flags])
    components = dict(conversions=n_conversions, visitors=n_visitors, visitors_are=visitors,
                      unknown=int((~known).sum()))
    if not n_visitors:
        reason = ("no sessions in the period" if not len(in_period)
                  else "sessions.converted is empty for every session of the period")
        return undefined(reason, "percent", **components)
    return defined(100 * n_conversions / n_visitors, "percent", **components)


def daily_active_users(
    sessions: pd.DataFrame, start: Any, end: Any, *, visitor_codes: np.ndarray | None = None
) -> MetricResult:
    """DAU: distinct active users per day, averaged over the days of the period; MAU, stickiness.

    A day is a UTC calendar day; days without sessions count with 0 active users. MAU
    on a day is the number of distinct users active in the 30 days ending that day
    (sessions before ``start`` count for it); ``mau`` is its mean over the period's days
    and ``stickiness`` = DAU / MAU in percent. ``visitor_codes`` (:func:`visitor_codes` of
    ``sessions``) skips recomputing them.

    Returns
    -------
    MetricResult
        Users; components ``days``, ``active_user_days`` (the sum of the daily counts,
        which adds up over consecutive periods), ``peak_dau``, ``period_active_users``,
        ``mau`` and ``stickiness`` (undefined when MAU is 0).

    Examples
    --------
    >>> sessions = pd.DataFrame({
    ...     "account_id": "a", "user_id": ["u1", "u1", "u2", "u1"],
    ...     "started_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-01 17:00",
    ...                                   "2025-01-02 00:00", "2024-12-25 00:00"]),
    ... })
    >>> result = daily_active_users(sessions, "2025-01-01", "2025-01-03")
    >>> result.value, result["active_user_days"], result["mau"], result["stickiness"].value
    (1.0, 2, 1.5, 66.66666666666667)
    """
    check_frame(sessions, table="sessions", columns=["account_id", "user_id"],
                timestamps=["started_at"])
    start, end = check_period(start, end)
    first_day = start.normalize()
    n_days = ((end - pd.Timedelta(1, "ns")).normalize() - first_day).days + 1
    lookback = first_day - pd.Timedelta(days=MAU_WINDOW_DAYS - 1)
    rows = _within(sessions["started_at"], lookback, end).to_numpy()
    started = sessions["started_at"].to_numpy()[rows]
    span = n_days + MAU_WINDOW_DAYS - 1
    # Integer nanoseconds: floor division of datetime64 arrays is several times slower.
    day = (started.astype("datetime64[ns]").view(np.int64) - lookback.value) // _DAY.value
    # One key per (visitor, day): sorting the unique keys orders them by visitor, then day.
    row_keys = _codes_for(sessions, rows, visitor_codes).astype(np.int64, copy=False) * span + day
    keys = _unique_sorted(row_keys)
    users, days = keys // span, keys % span
    if start == first_day:
        period_keys = keys[days >= MAU_WINDOW_DAYS - 1]
    else:
        # A period starting mid-day: its first day only counts sessions from start on.
        period_keys = _unique_sorted(row_keys[started >= start.to_datetime64()])
    period_users = period_keys // span
    daily = np.bincount(period_keys % span - (MAU_WINDOW_DAYS - 1), minlength=n_days)[:n_days]

    # A user active on day x is in the trailing window of days x .. x+29; cutting each
    # interval at the user's next active day makes the intervals disjoint, so a running
    # sum of +1/-1 counts distinct users per day without a per-user loop.
    same_user_next = np.r_[users[1:] == users[:-1], False]
    next_day = np.r_[days[1:], 0]
    stop = np.minimum(days + MAU_WINDOW_DAYS, np.where(same_user_next, next_day, span + MAU_WINDOW_DAYS))
    change = np.bincount(days, minlength=span + MAU_WINDOW_DAYS + 1).astype(np.int64)
    change -= np.bincount(stop, minlength=span + MAU_WINDOW_DAYS + 1)
    rolling = np.cumsum(change)[MAU_WINDOW_DAYS - 1: MAU_WINDOW_DAYS - 1 + n_days]

    dau = float(daily.sum() / n_days)
    mau = float(rolling.sum() / n_days)
    stickiness = (defined(100 * dau / mau, "percent") if mau
                  else undefined("no users were active in the trailing 30 days", "percent"))
    return defined(
        dau, "users", days=n_days, active_user_days=int(daily.sum()),
        peak_dau=int(daily.max()) if n_days else 0,
        period_active_users=int(np.count_nonzero(np.diff(period_users)) + 1) if len(period_users) else 0,
        mau=mau, stickiness=stickiness,
    )


def pages_per_session(sessions: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Mean page views per session started in the period.

    Returns
    -------
    MetricResult
        Pages; components ``sessions``, ``page_views``. Undefined without sessions.

    Examples
    --------
    >>> sessions = pd.DataFrame({
    ...     "account_id": "a", "user_id": "u", "page_views": [3, 5, 9],
    ...     "started_at": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-02-01"]),
    ... })
    >>> pages_per_session(sessions, "2025-01-01", "2025-02-01").value
    4.0
    """
    in_period = _sessions_in(sessions, start, end, columns=["page_views"])
    n, pages = len(in_period), float(in_period["page_views"].sum())
    if not n:
        return undefined("no sessions in the period", "pages", sessions=0, page_views=0.0)
    return defined(pages / n, "pages", sessions=n, page_views=pages)


def avg_session_duration(sessions: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Mean session duration in seconds over sessions started in the period; also the median.

    Returns
    -------
    MetricResult
        Seconds; components ``sessions``, ``total_seconds``, ``median_seconds``.
        Undefined without sessions.

    Examples
    --------
    >>> sessions = pd.DataFrame({
    ...     "account_id": "a", "user_id": "u", "duration_seconds": [60.0, 120.0, 600.0],
    ...     "started_at": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-04"]),
    ... })
    >>> result = avg_session_duration(sessions, "2025-01-01", "2025-02-01")
    >>> result.value, result["median_seconds"]
    (260.0, 120.0)
    """
    in_period = _sessions_in(sessions, start, end, columns=["duration_seconds"])
    seconds = in_period["duration_seconds"]
    if not len(seconds):
        return undefined("no sessions in the period", "seconds", sessions=0,
                         total_seconds=0.0, median_seconds=None)
    total = float(seconds.sum())
    return defined(total / len(seconds), "seconds", sessions=len(seconds), total_seconds=total,
                   median_seconds=float(seconds.median()))


# --- tickets -------------------------------------------------------------------------

_TICKET_TIMES = ["created_at", "first_response_at", "resolved_at"]


def _checked_tickets(tickets: pd.DataFrame, start: Any, end: Any):
    check_frame(tickets, table="tickets", columns=["ticket_id", "channel"], timestamps=_TICKET_TIMES)
    return check_period(start, end)


def _channels(tickets: pd.DataFrame, channels: Any = None) -> list[str]:
    found = set(tickets["channel"].dropna().astype(str).unique())
    return sorted(found | {str(c) for c in (channels or ())})


def ticket_volume(
    tickets: pd.DataFrame, start: Any, end: Any, *, channels: Any = None
) -> MetricResult:
    """Tickets created in the period, in all and per channel.

    Every channel seen in ``tickets`` or listed in ``channels`` is reported, with 0 when
    it had no tickets in the period (a count, so 0 is a measurement, not a missing value).
    Pass ``channels`` when ``tickets`` is a slice, so that every period lists the same ones.

    Returns
    -------
    MetricResult
        Tickets; component ``by_channel`` (channel -> count).

    Examples
    --------
    >>> tickets = pd.DataFrame({
    ...     "ticket_id": ["t1", "t2", "t3"], "channel": ["email", "chat", "email"],
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-02-03"]),
    ...     "first_response_at": pd.NaT, "resolved_at": pd.NaT,
    ... })
    >>> result = ticket_volume(tickets, "2025-01-01", "2025-02-01")
    >>> result.value, result["by_channel"]
    (2, {'chat': 1, 'email': 1})
    """
    start, end = _checked_tickets(tickets, start, end)
    created = tickets.loc[_within(tickets["created_at"], start, end), "channel"]
    counts = created.astype(str).value_counts()
    by_channel = {channel: int(counts.get(channel, 0)) for channel in _channels(tickets, channels)}
    return defined(len(created), "tickets", by_channel=by_channel)


def _hours_summary(hours: pd.Series) -> dict[str, float | None]:
    if not len(hours):
        return {"mean_hours": None, "median_hours": None}
    return {"mean_hours": float(hours.mean()), "median_hours": float(hours.median())}


def _age_summary(prefix: str, ages: pd.Series) -> dict[str, float | None]:
    if not len(ages):
        return {f"{prefix}_age_days_mean": None, f"{prefix}_age_days_max": None}
    return {f"{prefix}_age_days_mean": float(ages.mean()), f"{prefix}_age_days_max": float(ages.max())}


def resolution_time(tickets: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Mean and median hours from creation to resolution, over tickets resolved in the period.

    Unresolved tickets are not in the mean; they are reported as the open backlog at
    ``end`` (created before ``end`` and not resolved before it) with its age in days.

    Returns
    -------
    MetricResult
        Hours (the mean); components ``resolved``, ``mean_hours``, ``median_hours``,
        ``open_backlog``, ``open_age_days_mean``, ``open_age_days_max``.
        Undefined when no ticket was resolved in the period.

    Examples
    --------
    >>> tickets = pd.DataFrame({
    ...     "ticket_id": ["t1", "t2", "t3"], "channel": "email",
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-21"]),
    ...     "first_response_at": pd.NaT,
    ...     "resolved_at": pd.to_datetime(["2025-01-02 06:00", "2025-01-04 00:00", None]),
    ... })
    >>> result = resolution_time(tickets, "2025-01-01", "2025-02-01")
    >>> result.value, result["median_hours"], result["open_backlog"], result["open_age_days_max"]
    (15.0, 15.0, 1, 11.0)
    """
    start, end = _checked_tickets(tickets, start, end)
    resolved = tickets.loc[_within(tickets["resolved_at"], start, end)]
    hours = (resolved["resolved_at"] - resolved["created_at"]) / _HOUR
    open_at_end = tickets.loc[_before(tickets["created_at"], end)
                              & ~_before(tickets["resolved_at"], end)]
    components = dict(
        resolved=len(resolved), **_hours_summary(hours), open_backlog=len(open_at_end),
        **_age_summary("open", (end - open_at_end["created_at"]) / _DAY),
    )
    if not len(resolved):
        return undefined("no tickets were resolved in the period", "hours", **components)
    return defined(components["mean_hours"], "hours", **components)


def first_response_time(tickets: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Mean and median hours to the first response, over tickets first answered in the period.

    Tickets still waiting at ``end`` (created before it, neither answered nor resolved
    before it) are reported as a count with their age in days, not in the mean.

    Returns
    -------
    MetricResult
        Hours (the mean); components ``responded``, ``mean_hours``, ``median_hours``,
        ``awaiting_response``, ``awaiting_age_days_mean``, ``awaiting_age_days_max``.

    Examples
    --------
    >>> tickets = pd.DataFrame({
    ...     "ticket_id": ["t1", "t2"], "channel": "chat",
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-30"]),
    ...     "first_response_at": pd.to_datetime(["2025-01-02 03:00", None]),
    ...     "resolved_at": pd.NaT,
    ... })
    >>> result = first_response_time(tickets, "2025-01-01", "2025-02-01")
    >>> result.value, result["awaiting_response"]
    (3.0, 1)
    """
    start, end = _checked_tickets(tickets, start, end)
    responded = tickets.loc[_within(tickets["first_response_at"], start, end)]
    hours = (responded["first_response_at"] - responded["created_at"]) / _HOUR
    waiting = tickets.loc[_before(tickets["created_at"], end)
                          & ~_before(tickets["first_response_at"], end)
                          & ~_before(tickets["resolved_at"], end)]
    components = dict(
        responded=len(responded), **_hours_summary(hours), awaiting_response=len(waiting),
        **_age_summary("awaiting", (end - waiting["created_at"]) / _DAY),
    )
    if not len(responded):
        return undefined("no ticket got a first response in the period", "hours", **components)
    return defined(components["mean_hours"], "hours", **components)


def resolution_rate(
    tickets: pd.DataFrame, start: Any, end: Any, *, channels: Any = None
) -> MetricResult:
    """Tickets resolved / tickets created, over the tickets created in the period, per channel.

    A ticket counts as resolved when it was resolved before ``end``, so a period's
    figure does not change as later data arrives. Channels are reported as in
    :func:`ticket_volume`.

    Returns
    -------
    MetricResult
        Percent; components ``resolved``, ``created`` and ``by_channel`` (channel -> the
        same rate, undefined for a channel with no tickets created in the period).

    Examples
    --------
    >>> tickets = pd.DataFrame({
    ...     "ticket_id": ["t1", "t2", "t3", "t4"], "channel": ["email", "email", "chat", "phone"],
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-04", "2024-12-01"]),
    ...     "first_response_at": pd.NaT,
    ...     "resolved_at": pd.to_datetime(["2025-01-05", None, "2025-01-06", "2024-12-02"]),
    ... })
    >>> result = resolution_rate(tickets, "2025-01-01", "2025-02-01")
    >>> result.value, {c: r.value for c, r in result["by_channel"].items()}
    (66.66666666666667, {'chat': 100.0, 'email': 50.0, 'phone': None})
    """
    start, end = _checked_tickets(tickets, start, end)
    created = tickets.loc[_within(tickets["created_at"], start, end)]
    is_resolved = _before(created["resolved_at"], end)
    counts = pd.DataFrame({"created": 1, "resolved": is_resolved.astype(int),
                           "channel": created["channel"].astype(str)}).groupby("channel").sum()
    by_channel = {}
    for channel in _channels(tickets, channels):
        n_created = int(counts["created"].get(channel, 0))
        n_resolved = int(counts["resolved"].get(channel, 0))
        by_channel[channel] = (
            defined(100 * n_resolved / n_created, "percent", resolved=n_resolved, created=n_created)
            if n_created else
            undefined("no tickets created in this channel in the period", "percent",
                      resolved=0, created=0)
        )
    n_created, n_resolved = len(created), int(is_resolved.sum())
    components = dict(resolved=n_resolved, created=n_created, by_channel=by_channel)
    if not n_created:
        return undefined("no tickets created in the period", "percent", **components)
    return defined(100 * n_resolved / n_created, "percent", **components)


# --- customer lifetime value ---------------------------------------------------------


def expected_lifetime_years(
    churn_fraction: float, period_days: float, *, max_years: float = DEFAULT_MAX_LIFETIME_YEARS
) -> tuple[float, bool]:
    """Expected customer lifetime from the churn of one period: ``period length / churn``.

    A churn of 0 (or a lifetime longer than ``max_years``) gives ``max_years``, flagged.

    Returns
    -------
    (float, bool)
        Lifetime in years and whether it was capped.

    Examples
    --------
    A 4% monthly churn: 25 months.

    >>> years, capped = expected_lifetime_years(0.04, DAYS_PER_MONTH)
    >>> round(years * 12, 6), capped
    (25.0, False)
    >>> expected_lifetime_years(0.0, 30)
    (10.0, True)
    """
    churn_fraction = check_number(churn_fraction, name="churn_fraction", low=0, high=1)
    period_days = check_number(period_days, name="period_days", low=0, low_open=True)
    max_years = check_number(max_years, name="max_lifetime_years", low=0, low_open=True)
    if churn_fraction == 0:
        return max_years, True
    years = period_days / DAYS_PER_YEAR / churn_fraction
    return (max_years, True) if years > max_years else (years, False)


def clv_revenue_lifetime(
    annual_revenue: float, lifetime_years: float, *, acquisition_cost: float = 0.0
) -> float:
    """CLV, seed 004: annual revenue per customer x lifetime in years - acquisition cost.

    Examples
    --------
    >>> clv_revenue_lifetime(500.0, 3.0, acquisition_cost=500.0)
    1000.0
    """
    annual_revenue = check_number(annual_revenue, name="annual_revenue", low=0)
    lifetime_years = check_number(lifetime_years, name="lifetime_years", low=0)
    acquisition_cost = check_number(acquisition_cost, name="acquisition_cost", low=0)
    return annual_revenue * lifetime_years - acquisition_cost


def affordable_acquisition_cost(clv_value: float, *, share: float = 0.5) -> float:
    """What acquiring one customer may cost and still pay, by seed 004's rule of half the CLV.

    Examples
    --------
    The worked example of METRICS.md: an average CLV of 1,000 means spending up to 500 to
    acquire a customer still pays.

    >>> affordable_acquisition_cost(1000.0)
    500.0
    """
    share = check_number(share, name="share", low=0, high=1)
    return max(float(clv_value), 0.0) * share


def clv_order_value(
    average_order_value: float, purchases_per_year: float, lifetime_years: float, *,
    gross_margin: float | None = None,
) -> float:
    """CLV from orders: average order value x purchases per year x lifetime (x gross margin).

    Examples
    --------
    >>> clv_order_value(50.0, 4.0, 3.0)
    600.0
    >>> clv_order_value(50.0, 4.0, 3.0, gross_margin=0.5)
    300.0
    """
    value = (check_number(average_order_value, name="average_order_value", low=0)
             * check_number(purchases_per_year, name="purchases_per_year", low=0)
             * check_number(lifetime_years, name="lifetime_years", low=0))
    if gross_margin is not None:
        value *= check_number(gross_margin, name="gross_margin", low=0, high=1, low_open=True)
    return value


def clv_subscription(
    monthly_revenue: float, monthly_churn_rate: float, *, gross_margin: float = 1.0,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> tuple[float, bool]:
    """Subscription CLV: monthly revenue x gross margin / monthly churn rate.

    Parameters
    ----------
    monthly_revenue : float
        Revenue per customer per month (MRR per account).
    monthly_churn_rate : float
        In percent (0-100), as :func:`churn_rate` reports it.
    gross_margin : float
        Share 0-1 (1 = revenue, not margin).
    max_lifetime_years : float
        Lifetime cap when churn is 0 or tiny.

    Returns
    -------
    (float, bool)
        The CLV and whether the lifetime was capped.

    Examples
    --------
    >>> clv_subscription(100.0, 2.0, gross_margin=0.8)
    (4000.0, False)
    >>> clv_subscription(100.0, 0.0)
    (12000.0, True)
    """
    monthly_revenue = check_number(monthly_revenue, name="monthly_revenue", low=0)
    churn = check_number(monthly_churn_rate, name="monthly_churn_rate", low=0, high=100) / 100
    margin = check_number(gross_margin, name="gross_margin", low=0, high=1, low_open=True)
    max_months = 12 * check_number(max_lifetime_years, name="max_lifetime_years", low=0, low_open=True)
    if churn == 0 or 1 / churn > max_months:
        return monthly_revenue * margin * max_months, True
    return monthly_revenue * margin / churn, False


def clv(
    accounts: pd.DataFrame, orders: pd.DataFrame | None, start: Any, end: Any, *,
    gross_margin: float | None = None, max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> MetricResult:
    """Average customer lifetime value over the period, in its three named variants.

    The lifetime comes from the period's start-cohort churn (:func:`churn_rate`):
    ``period length / churn``, capped at ``max_lifetime_years`` and flagged
    (``lifetime_capped``) when churn is 0. Customers are the accounts active at some
    time in the period.

    * ``revenue_lifetime`` (seed 004, the headline ``value``): annual revenue per customer
      x lifetime - mean acquisition cost. Annual revenue is 12 x mean ``mrr`` when
      accounts have it, else order revenue per customer in the period, annualised.
    * ``order_value``: average order value x orders per buyer per year x lifetime
      (x ``gross_margin`` when given).
    * ``subscription``: mean ``mrr`` x ``gross_margin`` (1 when not given) / monthly churn rate.

    Returns
    -------
    MetricResult
        Currency; components ``variants`` (the three, each with its inputs),
        ``lifetime_years``, ``lifetime_capped``, ``max_lifetime_years``, ``customers``,
        ``affordable_acquisition_cost`` (half the CLV, seed 004's rule).

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b", "c", "d"],
    ...     "signup_date": pd.Timestamp("2024-01-01"),
    ...     "churned_at": pd.to_datetime([None, None, None, "2025-03-01"]),
    ...     "mrr": [100.0, 100.0, 100.0, 100.0], "acquisition_cost": [200.0] * 4,
    ... })
    >>> result = clv(accounts, None, "2025-01-01", "2026-01-01")
    >>> round(result["lifetime_years"], 4), round(result.value, 2)
    (3.9973, 4596.71)
    >>> round(result["variants"]["subscription"].value, 2)
    4796.71

    Nobody lost: the lifetime is capped at 10 years and flagged.

    >>> result = clv(accounts, None, "2024-06-01", "2024-07-01")
    >>> result["lifetime_capped"], result.value, result["variants"]["subscription"].value
    (True, 11800.0, 12000.0)
    """
    check_frame(accounts, table="accounts", columns=["account_id", "mrr", "acquisition_cost"],
                timestamps=["signup_date", "churned_at"])
    start, end = check_period(start, end)
    if gross_margin is not None:
        gross_margin = check_number(gross_margin, name="gross_margin", low=0, high=1, low_open=True)
    max_lifetime_years = check_number(max_lifetime_years, name="max_lifetime_years", low=0,
                                      low_open=True)
    base = customer_base(accounts, start, end)
    period_days = (end - start) / _DAY
    customers = accounts.loc[base["active_during"]]
    n_start, n_lost = int(base["active_at_start"].sum()), int(base["lost"].sum())
    mrr = customers["mrr"].dropna()
    cac = customers["acquisition_cost"].dropna()
    in_period = _orders_in(orders, start, end) if orders is not None else None

    common: dict[str, Any] = dict(customers=len(customers), max_lifetime_years=max_lifetime_years)
    if not n_start:
        reason = "no customers were active at the start of the period, so churn and lifetime are undefined"
        variants = {name: undefined(reason, "currency")
                    for name in ("revenue_lifetime", "order_value", "subscription")}
        return undefined(reason, "currency", variants=variants, lifetime_years=None,
                         lifetime_capped=False, affordable_acquisition_cost=None, **common)
    churn_fraction = n_lost / n_start
    lifetime, capped = expected_lifetime_years(churn_fraction, period_days,
                                               max_years=max_lifetime_years)
    per_year = DAYS_PER_YEAR / period_days

    # (a) seed 004
    if len(mrr):
        annual_revenue, source = 12 * float(mrr.mean()), "mrr"
    elif in_period is not None and len(customers):
        annual_revenue = float(in_period["amount"].sum()) / len(customers) * per_year
        source = "orders"
    else:
        annual_revenue, source = None, None
    inputs_a = dict(annual_revenue_per_customer=annual_revenue, revenue_source=source,
                    acquisition_cost=float(cac.mean()) if len(cac) else None)
    if annual_revenue is None:
        variant_a = undefined("no revenue: accounts.mrr is empty and there are no orders",
                              "currency", **inputs_a)
    elif not len(cac):
        variant_a = undefined(
            "accounts.acquisition_cost is empty for every customer of the period; fill it "
            "(gross_value shows the CLV before acquisition cost)", "currency",
            gross_value=annual_revenue * lifetime, **inputs_a,
        )
    else:
        variant_a = defined(clv_revenue_lifetime(annual_revenue, lifetime,
                                                 acquisition_cost=inputs_a["acquisition_cost"]),
                            "currency", **inputs_a)

    # (b) orders
    if in_period is None:
        variant_b = undefined("no orders table", "currency")
    elif not len(in_period):
        variant_b = undefined("no orders in the period", "currency")
    else:
        n_orders, buyers = len(in_period), int(in_period["account_id"].nunique())
        aov = float(in_period["amount"].sum()) / n_orders
        frequency = n_orders / buyers * per_year
        variant_b = defined(
            clv_order_value(aov, frequency, lifetime, gross_margin=gross_margin), "currency",
            average_order_value=aov, purchases_per_year=frequency, buyers=buyers,
            orders=n_orders, gross_margin=gross_margin, margin_applied=gross_margin is not None,
        )

    # (c) subscription
    if not len(mrr):
        variant_c = undefined("accounts.mrr is empty for every customer of the period", "currency")
    else:
        monthly_churn = 100 * churn_fraction * DAYS_PER_MONTH / period_days
        value_c, _ = clv_subscription(
            float(mrr.mean()), min(monthly_churn, 100.0), gross_margin=gross_margin or 1.0,
            max_lifetime_years=max_lifetime_years,
        )
        variant_c = defined(value_c, "currency", monthly_revenue=float(mrr.mean()),
                            monthly_churn_rate=monthly_churn, gross_margin=gross_margin,
                            margin_applied=gross_margin is not None)

    variants = {"revenue_lifetime": variant_a, "order_value": variant_b, "subscription": variant_c}
    components = dict(
        variants=variants, lifetime_years=lifetime, lifetime_capped=capped,
        churn_rate=100 * churn_fraction, **common,
        affordable_acquisition_cost=(affordable_acquisition_cost(variant_a.value)
                                     if variant_a.defined else None),
    )
    if not variant_a.defined:
        return undefined(variant_a.reason, "currency", **components)
    return defined(variant_a.value, "currency", **components)
