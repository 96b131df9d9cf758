"""The customer base over a period ``[start, end)``, its churn and retention, and the helpers
every portfolio metric shares.

Definitions follow ``docs/metrics.md``. Every portfolio metric is a pure function of validated
tables (canonical columns, naive-UTC timestamps; see :func:`features.contract.validate_tables`)
and the period; it returns a :class:`~features.survey_metrics.MetricResult` whose
``value`` is None with a ``reason`` when the metric is undefined (an empty denominator),
never 0. Rates are percentages (0-100). The period includes ``start`` and excludes ``end``.
The metrics live by job: the customer base here, orders, returns and CLV in
:mod:`features.commerce_metrics`, sessions in :mod:`features.session_metrics`, tickets in
:mod:`features.support_metrics` and surveys in :mod:`features.survey_metrics`.

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
#: CLV lifetime cap when churn is 0 (used by :func:`features.commerce_metrics.clv`).
DEFAULT_MAX_LIFETIME_YEARS = 10.0

ONE_DAY = pd.Timedelta(days=1)
ONE_HOUR = pd.Timedelta(hours=1)


def within(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Rows with ``start <= time < end``; empty times are never within."""
    return (times >= start) & (times < end)


def before(times: pd.Series, moment: pd.Timestamp) -> pd.Series:
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
    churned_in = within(churned, start, end)
    active_at_start = before(signup, start) & ~before(churned, start)
    acquired = within(signup, start, end)
    return {
        "active_at_start": active_at_start,
        "acquired": acquired,
        "active_at_end": before(signup, end) & ~before(churned, end),
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
