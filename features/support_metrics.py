"""Support metrics over a period ``[start, end)``: ticket volume, resolution and first-response
time, and resolution rate, in all and per channel.

Definitions and conventions (a :class:`~features.survey_metrics.MetricResult`, undefined
rather than 0, rates in percent) are those of :mod:`features.portfolio_metrics`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.portfolio_metrics import _DAY, _HOUR, _before, _within
from features.survey_metrics import (
    MetricResult,
    check_frame,
    check_period,
    defined,
    undefined,
)

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
