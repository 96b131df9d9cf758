"""Session and engagement metrics over a period ``[start, end)``: conversion, daily and
monthly active users, pages per session and session duration.

Definitions and conventions (a :class:`~features.survey_metrics.MetricResult`, undefined
rather than 0, rates in percent) are those of :mod:`features.portfolio_metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.contract import ORGANIC_SEARCH
from features.portfolio_metrics import ONE_DAY, within
from features.survey_metrics import (
    MetricResult,
    check_frame,
    check_period,
    defined,
    undefined,
)

#: Days of the trailing window of "monthly" active users.
MAU_WINDOW_DAYS = 30


def _sessions_in(sessions: pd.DataFrame, start: Any, end: Any, columns=()) -> pd.DataFrame:
    check_frame(sessions, table="sessions", columns=["account_id", "user_id", *columns],
                timestamps=["started_at"])
    start, end = check_period(start, end)
    return sessions.loc[within(sessions["started_at"], start, end)]


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
    counts = conversion_counts(sessions, start, end, visitors=visitors,
                               visitor_codes=visitor_codes)
    return conversion_rate_of(**counts, visitors_are=visitors)


def conversion_counts(
    sessions: pd.DataFrame, start: Any, end: Any, *, visitors: str = "sessions",
    visitor_codes: np.ndarray | None = None,
) -> dict[str, int]:
    """What :func:`conversion_rate` counts: ``conversions``, ``visitors``, ``unknown`` and
    ``sessions`` (all sessions of the period). A visitor belongs to one account, so the
    counts of disjoint sets of accounts add up to the counts of their union."""
    if visitors not in ("sessions", "users"):
        raise ValueError(f"visitors must be 'sessions' or 'users', got {visitors!r}")
    check_frame(sessions, table="sessions", columns=["account_id", "user_id", "converted"],
                timestamps=["started_at"])
    start, end = check_period(start, end)
    rows = within(sessions["started_at"], start, end).to_numpy()
    converted = sessions.loc[rows, "converted"]
    known = converted.notna().to_numpy()
    flags = converted.to_numpy(dtype=bool, na_value=False)[known]
    if visitors == "sessions":
        n_visitors, n_conversions = int(known.sum()), int(flags.sum())
    else:
        codes = _codes_for(sessions, rows, visitor_codes)[known]
        n_visitors, n_conversions = _distinct(codes), _distinct(codes[flags])
    return dict(conversions=n_conversions, visitors=n_visitors, unknown=int((~known).sum()),
                sessions=len(converted))


def conversion_rate_of(*, conversions: int, visitors: int, unknown: int, sessions: int,
                       visitors_are: str) -> MetricResult:
    """:func:`conversion_rate` of its :func:`conversion_counts`."""
    components = dict(conversions=conversions, visitors=visitors, visitors_are=visitors_are,
                      unknown=unknown)
    if not visitors:
        reason = ("no sessions in the period" if not sessions
                  else "sessions.converted is empty for every session of the period")
        return undefined(reason, "percent", **components)
    return defined(100 * conversions / visitors, "percent", **components)


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
    daily, rolling, period_active_users = active_users_by_day(
        sessions, start, end, visitor_codes=visitor_codes)
    return daily_active_users_of(daily, rolling, period_active_users)


def period_days(start: pd.Timestamp, end: pd.Timestamp) -> int:
    """The UTC calendar days ``[start, end)`` touches, the days :func:`daily_active_users`
    averages over."""
    return ((end - pd.Timedelta(1, "ns")).normalize() - start.normalize()).days + 1


def active_users_by_day(
    sessions: pd.DataFrame, start: Any, end: Any, *, visitor_codes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """What :func:`daily_active_users` counts: the active users of each day of the period,
    the users active in the 30 days ending each day, and the users active in the period.

    A visitor belongs to one account, so the counts of disjoint sets of accounts add up,
    day by day, to the counts of their union.
    """
    check_frame(sessions, table="sessions", columns=["account_id", "user_id"],
                timestamps=["started_at"])
    start, end = check_period(start, end)
    first_day = start.normalize()
    n_days = period_days(start, end)
    lookback = first_day - pd.Timedelta(days=MAU_WINDOW_DAYS - 1)
    rows = within(sessions["started_at"], lookback, end).to_numpy()
    started = sessions["started_at"].to_numpy()[rows]
    span = n_days + MAU_WINDOW_DAYS - 1
    # Integer nanoseconds: floor division of datetime64 arrays is several times slower.
    day = (started.astype("datetime64[ns]").view(np.int64) - lookback.value) // ONE_DAY.value
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

    period_active_users = (int(np.count_nonzero(np.diff(period_users)) + 1)
                           if len(period_users) else 0)
    return daily, rolling, period_active_users


def daily_active_users_of(daily: np.ndarray, rolling: np.ndarray,
                          period_active_users: int) -> MetricResult:
    """:func:`daily_active_users` of its :func:`active_users_by_day`."""
    n_days = len(daily)
    dau = float(daily.sum() / n_days)
    mau = float(rolling.sum() / n_days)
    stickiness = (defined(100 * dau / mau, "percent") if mau
                  else undefined("no users were active in the trailing 30 days", "percent"))
    return defined(
        dau, "users", days=n_days, active_user_days=int(daily.sum()),
        peak_dau=int(daily.max()) if n_days else 0,
        period_active_users=period_active_users, mau=mau, stickiness=stickiness,
    )


def organic_clicks(sessions: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Sessions that arrived from organic search in the period, and their growth.

    Growth compares with the period of the same length just before ``start``, so
    ``sessions`` must reach back that far.

    Returns
    -------
    MetricResult
        Sessions; components ``sessions`` (all sources), ``share`` (percent of them),
        ``previous`` (organic sessions of the period before) and ``growth``
        (``{value, unit, reason}`` in percent). Undefined without a ``source`` column.

    Examples
    --------
    >>> sessions = pd.DataFrame({"account_id": "a", "user_id": "u",
    ...     "source": ["organic_search", "organic_search", "email", "organic_search"],
    ...     "started_at": pd.to_datetime(["2024-12-20", "2025-01-02", "2025-01-03", "2025-01-20"])})
    >>> result = organic_clicks(sessions, "2025-01-01", "2025-02-01")
    >>> result.value, result["share"], result["previous"], result["growth"]["value"]
    (2, 66.66666666666667, 1, 100.0)
    """
    return organic_clicks_of(**organic_counts(sessions, start, end))


def organic_counts(sessions: pd.DataFrame, start: Any, end: Any) -> dict[str, int]:
    """What :func:`organic_clicks` counts: ``organic`` and all ``sessions`` of the period,
    ``previous`` organic sessions of the period before, and ``with_source`` (the sessions
    given that carry a source). Counts of disjoint sets of sessions add up."""
    start, end = check_period(start, end)
    if "source" not in sessions or not sessions["source"].notna().any():
        return dict(organic=0, sessions=0, previous=0, with_source=0)
    in_period = _sessions_in(sessions, start, end, columns=["source"])
    before = sessions.loc[within(sessions["started_at"], start - (end - start), start)]
    return dict(organic=int(in_period["source"].eq(ORGANIC_SEARCH).sum()),
                sessions=len(in_period), previous=int(before["source"].eq(ORGANIC_SEARCH).sum()),
                with_source=int(sessions["source"].notna().sum()))


def organic_clicks_of(*, organic: int, sessions: int, previous: int,
                      with_source: int) -> MetricResult:
    """:func:`organic_clicks` of its :func:`organic_counts`."""
    if not with_source:
        return undefined("sessions has no source column; add one (organic_search, paid_search, "
                         "social, referral, email, direct) or map yours in the mapping file",
                         "sessions")
    growth = (defined(100.0 * (organic - previous) / previous, "percent") if previous else
              undefined("no organic search sessions in the period before", "percent"))
    share = 100.0 * organic / sessions if sessions else None
    return defined(organic, "sessions", sessions=sessions, share=share, previous=previous,
                   growth=growth.as_dict())


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
    return pages_per_session_of(in_period["page_views"])


def pages_per_session_of(page_views: pd.Series) -> MetricResult:
    """:func:`pages_per_session` of the page views of the period's sessions (one per
    session, in any order)."""
    n, pages = len(page_views), float(page_views.sum())
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
    return avg_session_duration_of(in_period["duration_seconds"])


def avg_session_duration_of(seconds: pd.Series) -> MetricResult:
    """:func:`avg_session_duration` of the durations of the period's sessions (one per
    session, in any order)."""
    if not len(seconds):
        return undefined("no sessions in the period", "seconds", sessions=0,
                         total_seconds=0.0, median_seconds=None)
    total = float(seconds.sum())
    return defined(total / len(seconds), "seconds", sessions=len(seconds), total_seconds=total,
                   median_seconds=float(seconds.median()))
