"""Every portfolio metric of a period in one stable, JSON-ready shape, overall and by group.

:func:`period_metrics` is what ``customer-health metrics`` prints and what reports read; its
shape is documented in ``docs/metrics.md``::

    {"period": {"start": ..., "end": ..., "days": ...}, "by": None,
     "nps": {"value": 30.0, "unit": "points", "reason": None, "promoters": 5, ...},
     "csat": {...}, ..., "clv": {...}}

With ``by``, each metric also carries ``groups`` (group label -> the same object) or, when
the metric cannot be split by that column, ``groups: None`` and ``groups_reason``.
:func:`metrics_over_time` gives the same dicts for consecutive periods.

A split column is looked up where each metric's rows live: a table's own column first
(``channel`` of surveys for NPS, ``channel`` of tickets for ticket metrics), otherwise
the account's value through ``account_id`` (``segment``, ``region``, ``plan``). Returns
take the group of their order. Group labels are every value the column takes anywhere in
the tables (not just in the period), so consecutive periods list the same groups, and a
group with nothing to measure is reported undefined rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from features import commerce_metrics as cm
from features import portfolio_metrics as pm
from features import session_metrics as ses
from features import support_metrics as sup
from features import survey_metrics as sm
from features.contract import ALL_COLUMNS, TABLE_NAMES, TEXT_COLUMNS, Tables
from features.survey_metrics import MetricResult, check_period, group_labels, undefined

#: The metric keys of the JSON shape, in display order.
METRIC_KEYS = (
    "nps", "csat", "ces", "churn_rate", "retention_rate", "repeat_purchase_rate", "return_rate",
    "average_order_value", "purchase_frequency", "conversion_rate", "organic_clicks", "dau", "pages_per_session", "avg_session_duration", "ticket_volume",
    "resolution_time", "first_response_time", "resolution_rate", "clv",
)

#: The tables each metric reads; a metric splits by a column only when all of them can.
METRIC_TABLES: dict[str, tuple[str, ...]] = {
    "nps": ("surveys",), "csat": ("surveys",), "ces": ("surveys",),
    "churn_rate": ("accounts",), "retention_rate": ("accounts",),
    "repeat_purchase_rate": ("orders",), "return_rate": ("orders", "returns"),
    "average_order_value": ("orders",), "purchase_frequency": ("orders",),
    "conversion_rate": ("sessions",), "organic_clicks": ("sessions",), "dau": ("sessions",), "pages_per_session": ("sessions",),
    "avg_session_duration": ("sessions",), "ticket_volume": ("tickets",),
    "resolution_time": ("tickets",), "first_response_time": ("tickets",),
    "resolution_rate": ("tickets",), "clv": ("accounts", "orders"),
}
# CLV still has three variants' worth of answer without orders; the others need all.
_OPTIONAL_TABLES = {"clv": ("orders",)}

EVERY = ("month", "week")

# Text columns that describe a row rather than group it.
_NOT_GROUPS = {"comment", "survey"}


def split_columns(tables: Tables) -> dict[str, list[str]]:
    """The columns each present table can be split by.

    Those are the descriptive text columns of the contract (``segment``, ``region``,
    ``plan``, ``owner``; ``channel``, ``touchpoint`` of surveys; ``channel`` of tickets) and any
    extra column the user's files carry beyond the contract.

    Examples
    --------
    >>> from features.contract import validate_tables
    >>> tables, _ = validate_tables({"accounts": pd.DataFrame(
    ...     {"account_id": ["a"], "signup_date": ["2024-01-01"], "tier": ["gold"]})})
    >>> split_columns(tables)
    {'accounts': ['segment', 'region', 'plan', 'owner', 'tier']}
    """
    return split_columns_of({name: frame.columns for name, frame in tables.present().items()})


def split_columns_of(columns: dict[str, Any]) -> dict[str, list[str]]:
    """:func:`split_columns` of the tables' column names (table -> names), validated or not:
    validation adds only the contract's columns, which count whether present or not."""
    out = {}
    for name, names in columns.items():
        text = [c for c in TEXT_COLUMNS.get(name, ()) if c not in _NOT_GROUPS]
        extra = [c for c in names if c not in ALL_COLUMNS[name]]
        out[name] = text + extra
    return out


def check_by(tables: Tables, by: str) -> None:
    """Raise a ValueError naming the allowed columns when no table can be split by ``by``."""
    check_split(split_columns(tables), by)


def check_split(columns: dict[str, list[str]], by: str) -> None:
    """:func:`check_by` of :func:`split_columns`."""
    if any(by in names for names in columns.values()):
        return
    allowed = "; ".join(f"{', '.join(names)} ({table})" for table, names in columns.items() if names)
    raise ValueError(
        f"by: cannot split by {by!r}, it is not a grouping column of any table; fix: use one of "
        f"{allowed}"
    )


# --- one metric on (possibly sliced) tables --------------------------------------------


def _survey(frames, scales, start, end, survey: str) -> MetricResult:
    surveys = frames["surveys"]
    rows = surveys.loc[surveys["survey"].eq(survey)
                       & pm.within(surveys["responded_at"], start, end), "score"]
    return survey_metric(survey, rows, scales)


def survey_metric(survey: str, scores: pd.Series, scales) -> MetricResult:
    """NPS, CSAT or CES of one survey's validated scores of the period.

    The result depends only on the scores, not on their order, so an engine may pass them
    rebuilt from counts per score (the Spark engine does).
    """
    if survey == "nps":
        return sm.nps(scores)
    if survey == "csat":
        return sm.csat(scores, scale=scales.csat)
    # Validated tables hold CES already flipped to higher-is-better.
    return sm.ces(scores, scale=sm.replace_scale(scales.ces, higher_is_better=True))


def compute_metric(key: str, frames: dict, scales, start, end, options: dict,
             channels: list[str] = ()) -> MetricResult:
    need = [t for t in METRIC_TABLES[key] if t not in _OPTIONAL_TABLES.get(key, ())]
    missing = [t for t in need if frames.get(t) is None]
    unit = UNITS[key]
    if missing:
        return undefined(f"no {missing[0]} table", unit)
    f = frames
    compute: dict[str, Callable[[], MetricResult]] = {
        "nps": lambda: _survey(f, scales, start, end, "nps"),
        "csat": lambda: _survey(f, scales, start, end, "csat"),
        "ces": lambda: _survey(f, scales, start, end, "ces"),
        "churn_rate": lambda: pm.churn_rate(f["accounts"], start, end),
        "retention_rate": lambda: pm.retention_rate(f["accounts"], start, end),
        "repeat_purchase_rate": lambda: cm.repeat_purchase_rate(f["orders"], start, end),
        "return_rate": lambda: cm.return_rate(f["orders"], f["returns"], start, end),
        "average_order_value": lambda: cm.average_order_value(f["orders"], start, end),
        "purchase_frequency": lambda: cm.purchase_frequency(f["orders"], start, end),
        "conversion_rate": lambda: _conversion(f["sessions"], start, end),
        "organic_clicks": lambda: ses.organic_clicks(f["sessions"], start, end),
        "dau": lambda: ses.daily_active_users(f["sessions"], start, end,
                                              visitor_codes=visitor_codes_of(f["sessions"])),
        "pages_per_session": lambda: ses.pages_per_session(f["sessions"], start, end),
        "avg_session_duration": lambda: ses.avg_session_duration(f["sessions"], start, end),
        "ticket_volume": lambda: sup.ticket_volume(f["tickets"], start, end, channels=channels),
        "resolution_time": lambda: sup.resolution_time(f["tickets"], start, end),
        "first_response_time": lambda: sup.first_response_time(f["tickets"], start, end),
        "resolution_rate": lambda: sup.resolution_rate(f["tickets"], start, end, channels=channels),
        "clv": lambda: cm.clv(f["accounts"], f.get("orders"), start, end, **options),
    }
    return compute[key]()


_VISITOR = "_visitor_code"


def visitor_codes_of(sessions: pd.DataFrame):
    """The visitor codes :func:`period_frames` put on its sessions (None on other frames)."""
    return sessions[_VISITOR].to_numpy() if _VISITOR in sessions else None


def _conversion(sessions, start, end) -> MetricResult:
    by_sessions = ses.conversion_rate(sessions, start, end, visitors="sessions")
    by_users = ses.conversion_rate(sessions, start, end, visitors="users",
                                   visitor_codes=visitor_codes_of(sessions))
    return conversion_of(by_sessions, by_users)


def conversion_of(by_sessions: MetricResult, by_users: MetricResult) -> MetricResult:
    """The conversion rate as the metrics show it: by sessions, the rate by users inside."""
    return MetricResult(by_sessions.value, by_sessions.unit, by_sessions.reason,
                        {**by_sessions.components, "by_users": by_users})


UNITS = {
    "nps": "points", "csat": "percent", "ces": "score", "churn_rate": "percent",
    "retention_rate": "percent", "repeat_purchase_rate": "percent", "return_rate": "percent",
    "average_order_value": "currency", "purchase_frequency": "orders",
    "conversion_rate": "percent", "organic_clicks": "sessions", "dau": "users", "pages_per_session": "pages",
    "avg_session_duration": "seconds", "ticket_volume": "tickets", "resolution_time": "hours",
    "first_response_time": "hours", "resolution_rate": "percent", "clv": "currency",
}


# --- slicing and splitting -------------------------------------------------------------


def period_frames(tables: Tables, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame | None]:
    """Only the rows the period's metrics can read, so large tables are split cheaply (the
    Spark engine takes each account bucket's share of a period with it too)."""
    frames: dict[str, pd.DataFrame | None] = {name: getattr(tables, name) for name in TABLE_NAMES}
    # Sessions reach back for the monthly active users and for the period before (growth).
    lookback = min(start.normalize() - pd.Timedelta(days=ses.MAU_WINDOW_DAYS - 1),
                   start - (end - start))
    if frames["sessions"] is not None:
        s = frames["sessions"]
        s = s.loc[pm.within(s["started_at"], lookback, end)]
        # Visitor codes once for every session metric and group (a new column on a new frame).
        frames["sessions"] = s.assign(**{_VISITOR: ses.visitor_codes(s)})
    if frames["tickets"] is not None:
        t = frames["tickets"]
        frames["tickets"] = t.loc[pm.before(t["created_at"], end)]
    if frames["orders"] is not None:
        o = frames["orders"]
        frames["orders"] = o.loc[pm.within(o["ordered_at"], start, end)]
        if frames["returns"] is not None:
            r = frames["returns"]
            frames["returns"] = r.loc[r["order_id"].isin(frames["orders"]["order_id"])]
    if frames["surveys"] is not None:
        v = frames["surveys"]
        frames["surveys"] = v.loc[pm.within(v["responded_at"], start, end)]
    return frames


def _lookup(keys: pd.Series, known_keys: pd.Series, labels: pd.Series) -> pd.Categorical:
    """Label of each key from a (key -> label) table; unknown keys get :data:`UNSET_GROUP`.

    Only the distinct keys are looked up, and the result is categorical, so that neither
    the lookup nor the later group-by hashes millions of strings.
    """
    codes, uniques = pd.factorize(keys)
    found = pd.Index(known_keys).get_indexer(uniques)
    values = np.asarray(labels, dtype=object)
    distinct = np.full(len(uniques) + 1, sm.UNSET_GROUP, dtype=object)
    if len(values):
        distinct[:-1] = np.where(found >= 0, values[found], sm.UNSET_GROUP)
    # codes of -1 (an empty key) pick the last slot, which is UNSET_GROUP.
    label_codes, categories = pd.factorize(distinct)
    return pd.Categorical.from_codes(label_codes[codes], categories=categories)


def row_groups(frames: dict, by: str, columns: dict[str, list[str]]) -> dict[str, pd.Categorical | None]:
    """Group label per row of each frame (positional), or None when it cannot be split by
    ``by`` (the Spark engine labels each account bucket's rows with it too)."""
    accounts = frames["accounts"]
    account_labels = (group_labels(accounts[by]) if by in columns.get("accounts", ()) else None)
    labels: dict[str, pd.Categorical | None] = {}
    for name in ("accounts", "sessions", "tickets", "orders", "surveys", "returns"):
        frame = frames.get(name)
        if frame is None:
            labels[name] = None
        elif by in columns.get(name, ()):
            labels[name] = pd.Categorical(group_labels(frame[by]).to_numpy())
        elif name == "returns" and labels.get("orders") is not None:
            labels[name] = _lookup(frame["order_id"], frames["orders"]["order_id"], labels["orders"])
        elif account_labels is not None and "account_id" in frame:
            labels[name] = _lookup(frame["account_id"], accounts["account_id"], account_labels)
        else:
            labels[name] = None
    return labels


def group_names(tables: Tables, by: str, columns: dict[str, list[str]]) -> list[str]:
    """Every label ``by`` takes in the whole tables, so each period lists the same groups."""
    found: set[str] = set()
    for name, frame in tables.present().items():
        if by in columns.get(name, ()):
            found.update(group_labels(frame[by]).unique())
    return sorted(found)


def unsplittable_reason(key: str, frames: dict, labels: dict, by: str) -> str | None:
    for table in METRIC_TABLES[key]:
        if frames.get(table) is None:
            continue
        if labels.get(table) is None:
            return (f"cannot split by {by!r}: the {table} table has no {by!r} column and "
                    f"accounts has none to join through account_id")
    return None


def split_rows(frame: pd.DataFrame, labels: pd.Categorical, categories: list[str]) -> dict[str, pd.DataFrame]:
    # One pass of groupby splits the rows; groups without rows get an empty frame.
    parts = {str(k): part for k, part in frame.groupby(labels, sort=False, observed=True)}
    empty = frame.iloc[:0]
    return {c: parts.get(c, empty) for c in categories}


# --- the public entry points ---------------------------------------------------------


def period_metrics(
    tables: Tables, start: Any, end: Any, *, by: str | None = None,
    gross_margin: float | None = None,
    max_lifetime_years: float = pm.DEFAULT_MAX_LIFETIME_YEARS,
) -> dict[str, Any]:
    """All portfolio metrics of the period ``[start, end)``, JSON-ready.

    Parameters
    ----------
    tables : Tables
        Validated tables (:func:`features.contract.validate_tables` or
        :func:`features.io.load_tables`).
    start, end : date-like
        The period, ``end`` excluded.
    by : str, optional
        Split every metric that can be split by this column (an accounts column such as
        ``segment``, or a surveys/tickets/sessions column such as ``channel``).
    gross_margin : float, optional
        Share 0-1 applied by the CLV variants that use a margin.
    max_lifetime_years : float
        CLV lifetime cap when churn is 0.

    Returns
    -------
    dict
        ``period``, ``by`` and one object per key of :data:`METRIC_KEYS`; see docs/metrics.md.

    Raises
    ------
    ValueError
        For a bad period, an unknown ``by`` column or bad CLV options.

    Examples
    --------
    >>> from features.contract import validate_tables
    >>> tables, _ = validate_tables({
    ...     "accounts": pd.DataFrame({"account_id": ["a", "b"], "signup_date": ["2024-01-01"] * 2,
    ...                               "segment": ["smb", "enterprise"]}),
    ...     "surveys": pd.DataFrame({"response_id": ["r1", "r2", "r3"], "account_id": ["a", "a", "b"],
    ...                              "survey": "nps", "score": [10, 9, 2],
    ...                              "responded_at": ["2025-01-05"] * 3}),
    ... })
    >>> result = period_metrics(tables, "2025-01-01", "2025-02-01", by="segment")
    >>> round(result["nps"]["value"], 2), result["nps"]["promoters"]
    (33.33, 2)
    >>> {g: m["value"] for g, m in result["nps"]["groups"].items()}
    {'enterprise': -100.0, 'smb': 100.0}
    >>> result["dau"]["value"], result["dau"]["reason"]
    (None, 'no sessions table')
    """
    start, end = check_period(start, end)
    options = dict(gross_margin=gross_margin, max_lifetime_years=max_lifetime_years)
    if by is not None:
        check_by(tables, by)
    frames = period_frames(tables, start, end)
    result: dict[str, Any] = {
        "period": {"start": start.isoformat(), "end": end.isoformat(),
                   "days": (end - start) / pd.Timedelta(days=1)},
        "by": by,
    }
    # Channels of the whole tickets table, so every period and group lists the same ones.
    channels = sup.ticket_channels(tables.tickets) if tables.tickets is not None else []
    overall = {key: compute_metric(key, frames, tables.scales, start, end, options, channels)
               for key in METRIC_KEYS}
    for key in METRIC_KEYS:
        result[key] = _shape(key, overall[key], tables)
    if by is None:
        return result

    columns = split_columns(tables)
    labels = row_groups(frames, by, columns)
    categories = group_names(tables, by, columns)
    parts = {name: split_rows(frames[name], labels[name], categories)
             for name in TABLE_NAMES if labels.get(name) is not None}
    for key in METRIC_KEYS:
        reason = unsplittable_reason(key, frames, labels, by)
        if reason:
            result[key].update(groups=None, groups_reason=reason)
            continue
        groups = {}
        for category in categories:
            group_frames = {name: (parts[name][category] if name in parts else frames[name])
                            for name in TABLE_NAMES}
            groups[category] = _shape(
                key, compute_metric(key, group_frames, tables.scales, start, end, options, channels),
                tables)
        result[key].update(groups=groups, groups_reason=None)
    return result


def _shape(key: str, metric: MetricResult, tables: Tables) -> dict[str, Any]:
    return shaped(key, metric, tables.scales)


def shaped(key: str, metric: MetricResult, scales) -> dict[str, Any]:
    """``metric`` as the JSON-ready object of ``key`` in :func:`period_metrics`."""
    out = metric.as_dict()
    if key == "ces" and "reversed_input" in out:
        out["reversed_input"] = not scales.ces.higher_is_better
    return out


def period_bounds(start: Any, end: Any, every: str = "month") -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive periods from ``start``: calendar steps of one month or one week.

    The last period ends at ``end`` even when that cuts it short, so the periods cover
    ``[start, end)`` exactly once.

    Examples
    --------
    >>> [(a.date().isoformat(), b.date().isoformat())
    ...  for a, b in period_bounds("2025-01-15", "2025-03-01")]
    [('2025-01-15', '2025-02-15'), ('2025-02-15', '2025-03-01')]
    """
    start, end = check_period(start, end)
    if every not in EVERY:
        raise ValueError(f"every must be 'month' or 'week', got {every!r}")
    step = pd.DateOffset(months=1) if every == "month" else pd.DateOffset(weeks=1)
    bounds, k = [start], 1
    # One step per period (a few dozen), not per row; offsets from start avoid drift
    # (Jan 31 + 1 month + 1 month would otherwise end on the 28th forever).
    while bounds[-1] < end:
        bounds.append(min(start + step * k, end))
        k += 1
    return list(zip(bounds[:-1], bounds[1:]))


def metrics_over_time(
    tables: Tables, start: Any, end: Any, every: str = "month", by: str | None = None, **options: Any
) -> list[dict[str, Any]]:
    """:func:`period_metrics` for each consecutive period of :func:`period_bounds`.

    Returns
    -------
    list of dict
        One :func:`period_metrics` result per period, oldest first.

    Examples
    --------
    >>> from features.contract import validate_tables
    >>> tables, _ = validate_tables({"accounts": pd.DataFrame(
    ...     {"account_id": ["a", "b"], "signup_date": ["2024-01-01", "2025-01-10"],
    ...      "churned_at": [None, "2025-02-10"]})})
    >>> [p["churn_rate"]["acquired_and_lost"] + p["churn_rate"]["lost"]
    ...  for p in metrics_over_time(tables, "2025-01-01", "2025-03-01")]
    [0, 1]
    """
    if by is not None:
        check_by(tables, by)
    return [period_metrics(tables, a, b, by=by, **options) for a, b in period_bounds(start, end, every)]
