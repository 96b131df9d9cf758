"""Portfolio metrics on Spark (``metrics --engine spark``), with the pandas engine's formulas.

Each account bucket validates its rows with the contract (so timestamps, ids and survey
scales are read exactly as the pandas engine reads them), takes each period's rows as the
pandas engine slices them (:func:`features.period_metrics.period_frames`), and sends the
driver only what the formulas need:

* surveys: the count of each (survey, score) of each period; sessions: the count of each
  page-view number and of each duration of each period. The counts are summed over buckets
  and the driver rebuilds the values from them: NPS, CSAT, CES, pages per session and
  session length depend on the values only, not on their order;
* accounts: the signup and churn dates, MRR and acquisition cost, for churn, retention
  and CLV;
* tickets: the five ticket columns of the tickets created before the last period's end
  (their medians and the backlog need the rows), and every ticket channel of the table;
* orders, returns, conversion and organic clicks: each period's counts and sums, from the
  pandas engine's own counting functions (``order_totals``, ``return_totals``,
  ``conversion_counts``, ``organic_counts``) on the bucket's share of the period
  (:func:`features.period_metrics.period_frames`). Buyers and visitors belong to one
  account, so the buckets' counts add up to the portfolio's;
* DAU/MAU: each period's active users of each day and of the 30 days ending each day
  (:func:`features.session_metrics.active_users_by_day`), summed day by day.

The driver then runs the pandas engine's functions (:func:`features.period_metrics.compute_metric`,
:func:`~features.period_metrics.survey_metric`, the ``*_of`` formulas) on those parts: one
definition of every formula. What reaches the driver grows with the accounts (their dates),
the tickets and the distinct values, never with the sessions or orders.

With ``by``, each bucket labels and splits its period rows with the pandas engine's
:func:`~features.period_metrics.row_groups` and :func:`~features.period_metrics.split_rows`
and sends the same parts once more per group; the driver runs the formulas per group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features import commerce_metrics as cm
from features import session_metrics as ses
from features.churn_definition import ChurnDefinition
from features.contract import SURVEY_TYPES, TABLE_NAMES
from features.mapping import Mapping
from features.per_account import as_ns, from_ns
from features.period_metrics import (
    METRIC_KEYS,
    METRIC_TABLES,
    check_split,
    compute_metric,
    conversion_of,
    group_names,
    period_bounds,
    period_frames,
    row_groups,
    shaped,
    split_columns,
    split_columns_of,
    split_rows,
    survey_metric,
    unsplittable_reason,
    visitor_codes_of,
)
from features.portfolio_metrics import DEFAULT_MAX_LIFETIME_YEARS, before, within
from features.session_metrics import avg_session_duration_of, pages_per_session_of
from features.support_metrics import ticket_channels
from features.survey_metrics import check_period
from serving.spark.churn import churn_dated
from serving.spark.tables import SparkTables, per_bucket, validated

#: The session metrics computed from the counts of one column's values, and their formulas.
SESSION_COLUMNS = {"pages_per_session": "page_views", "avg_session_duration": "duration_seconds"}
SESSION_FORMULAS = {"pages_per_session": pages_per_session_of,
                    "avg_session_duration": avg_session_duration_of}

#: The metrics computed by their pandas formula from the buckets' counts added up.
_FROM_TOTALS = ("repeat_purchase_rate", "return_rate", "average_order_value",
                "purchase_frequency", "conversion_rate", "organic_clicks", "dau")
_VISITORS = ("sessions", "users")
_TICKET_TIMES = ("created_at", "first_response_at", "resolved_at")
# Timestamps travel as int64 nanoseconds with NaT as its own int64 code (no nulls, so the
# column stays int64 through Arrow: a nullable long would come back as float and lose ns).
# A bucket's parts in one frame: ``values`` rows count the values of one metric's input in
# one period (id: the period; key: the survey or session metric), ``account`` rows hold an
# account's dates and money, ``ticket`` rows a ticket, ``channel`` rows a ticket channel,
# ``total`` rows one count (label "int", in n) or sum (label "float", in value) of one
# period (id) named "<what>.<count>" (key), ``day`` rows the active users (n) of one day
# (value) of the period (id) on one day (key "daily") or in the 30 days ending it ("rolling").
# With --by, ``group`` holds the group of the rows counted (null: all rows), ``category``
# rows a group label the bucket's tables hold, ``split`` rows a table that splits.
_PARTS_SCHEMA = ("part string, key string, value double, n long, id string, label string, "
                 "t1 long, t2 long, t3 long, mrr double, acquisition_cost double, group string")
_PARTS_COLUMNS = [field.split()[0] for field in _PARTS_SCHEMA.split(", ")]
_NAT = np.iinfo("int64").min


def _parts(raw: dict[str, pd.DataFrame], bounds: list[tuple[pd.Timestamp, pd.Timestamp]],
           by: str | None = None, churn: ChurnDefinition | None = None,
           mapping: Mapping | None = None) -> pd.DataFrame:
    """One bucket's share of every period: survey scores and session page views and
    durations counted per period, order and session counts, the account dates, and the
    ticket rows up to the last period's end (the ticket formulas take their period's rows
    themselves, so one slice serves every period). With ``by``, each group's share again,
    its parts labelled with the group (``group``), as the pandas engine splits the rows."""
    if raw["accounts"].empty:
        return pd.DataFrame(columns=_PARTS_COLUMNS)
    if churn is not None and churn.is_lapse:  # lapse dates read every table's events
        typed = churn_dated(raw, churn, mapping or Mapping())
    else:
        typed, _ = validated(raw, mapping or Mapping())
    tickets = (None if typed.tickets is None
               else typed.tickets.loc[before(typed.tickets["created_at"], bounds[-1][1])])
    out = [_account_rows(typed.accounts), *_ticket_rows(tickets)]
    if typed.tickets is not None:
        out.append(pd.DataFrame({"part": "channel", "label": ticket_channels(typed.tickets)}))
    columns = split_columns(typed) if by is not None else {}
    categories = group_names(typed, by, columns) if by is not None else []
    for period, (start, end) in enumerate(bounds):
        frames = period_frames(typed, start, end)
        out.extend(_period_parts(frames, str(period), start, end))
        if by is None:
            continue
        labels = row_groups(frames, by, columns)
        split = {name: split_rows(frames[name], labels[name], categories)
                 for name in TABLE_NAMES if labels.get(name) is not None}
        for category in categories:
            group = {name: split[name][category] if name in split else None for name in TABLE_NAMES}
            out.extend(part.assign(group=category)
                       for part in _period_parts(group, str(period), start, end))
    if by is not None:
        # Accounts and tickets again with their group; the groups and the tables that split.
        labels = row_groups({"accounts": typed.accounts, "tickets": tickets}, by, columns)
        if labels["accounts"] is not None:
            out.append(_account_rows(typed.accounts).assign(
                group=np.asarray(labels["accounts"], dtype=object)))
        if labels["tickets"] is not None:
            out.extend(rows.assign(group=np.asarray(labels["tickets"], dtype=object))
                       for rows in _ticket_rows(tickets))
        splits = row_groups(period_frames(typed, *bounds[0]), by, columns)
        out.append(pd.DataFrame({"part": "split", "label": [n for n, v in splits.items()
                                                             if v is not None]}))
        out.append(pd.DataFrame({"part": "category", "label": categories}))
    parts = pd.concat(out, ignore_index=True)
    defaults = {"n": 0, "t1": _NAT, "t2": _NAT, "t3": _NAT}
    # Plain numpy types: Arrow-backed text (what validated tables may hold) does not pass
    # through applyInPandas.
    text = {name: object for name in ("part", "key", "id", "label", "group")}
    floats = {name: "float64" for name in ("value", "mrr", "acquisition_cost")}
    parts = parts.reindex(columns=_PARTS_COLUMNS).astype({**text, **floats})
    return parts.fillna(defaults).astype({name: "int64" for name in defaults})


def _account_rows(accounts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"part": "account", "id": accounts["account_id"].astype(str),
                         "t1": as_ns(accounts["signup_date"]), "t2": as_ns(accounts["churned_at"]),
                         "mrr": accounts["mrr"], "acquisition_cost": accounts["acquisition_cost"]})


def _ticket_rows(tickets: pd.DataFrame | None) -> list[pd.DataFrame]:
    if tickets is None:
        return []
    return [pd.DataFrame({"part": "ticket", "id": tickets["ticket_id"].astype(str),
                          "label": tickets["channel"],
                          **{f"t{i}": as_ns(tickets[c]) for i, c in enumerate(_TICKET_TIMES, 1)}})]


def _period_parts(frames: dict, period: str, start, end) -> list[pd.DataFrame]:
    """The counts of one period of :func:`features.period_metrics.period_frames` (all of a
    bucket's rows, or one group's)."""
    out = _totals(frames, period, start, end)
    if frames["surveys"] is not None:
        counts = frames["surveys"].groupby(["survey", "score"], dropna=False).size()
        out.append(pd.DataFrame({"part": "values", "id": period,
                                 "key": counts.index.get_level_values("survey"),
                                 "value": counts.index.get_level_values("score"),
                                 "n": counts.to_numpy()}))
    if frames["sessions"] is not None:
        sessions = frames["sessions"].loc[within(frames["sessions"]["started_at"], start, end)]
        for key, column in SESSION_COLUMNS.items():
            counts = sessions[column].astype("float64").value_counts(dropna=False)
            out.append(pd.DataFrame({"part": "values", "id": period, "key": key,
                                     "value": counts.index, "n": counts.to_numpy()}))
    return out


def _totals(frames: dict, period: str, start, end) -> list[pd.DataFrame]:
    """One bucket's counts of one period (``total`` and ``day`` parts), by the pandas
    engine's counting functions on the bucket's share of the period."""
    counts: dict[str, dict[str, Any]] = {}
    out = []
    if frames["orders"] is not None:
        counts["orders"] = cm.order_totals(frames["orders"], start, end)
        if frames["returns"] is not None:
            counts["returns"] = cm.return_totals(frames["orders"], frames["returns"], start, end)
    sessions = frames["sessions"]
    if sessions is not None:
        codes = visitor_codes_of(sessions)
        for visitors in _VISITORS:
            counts[f"conversion_{visitors}"] = ses.conversion_counts(
                sessions, start, end, visitors=visitors, visitor_codes=codes)
        counts["organic"] = ses.organic_counts(sessions, start, end)
        daily, rolling, users = ses.active_users_by_day(sessions, start, end, visitor_codes=codes)
        counts["active"] = {"period_active_users": users}
        for key, per_day in (("daily", daily), ("rolling", rolling)):
            out.append(pd.DataFrame({"part": "day", "id": period, "key": key,
                                     "value": np.arange(len(per_day), dtype="float64"),
                                     "n": per_day}))
    for what, numbers in counts.items():
        whole = {name: isinstance(number, int) for name, number in numbers.items()}
        out.append(pd.DataFrame({
            "part": "total", "id": period, "key": [f"{what}.{name}" for name in numbers],
            "label": ["int" if whole[name] else "float" for name in numbers],
            "n": [number if whole[name] else 0 for name, number in numbers.items()],
            "value": [0.0 if whole[name] else number for name, number in numbers.items()]}))
    return out


def _frames(parts: pd.DataFrame, columns: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The driver's frames for :func:`compute_metric`, from every bucket's parts."""
    accounts = parts[parts["part"] == "account"]
    frames: dict[str, Any] = {name: None for name in TABLE_NAMES}
    frames["accounts"] = pd.DataFrame({
        "account_id": accounts["id"].to_numpy(), "signup_date": from_ns(accounts["t1"]),
        "churned_at": from_ns(accounts["t2"]), "mrr": accounts["mrr"].to_numpy(),
        "acquisition_cost": accounts["acquisition_cost"].to_numpy()})
    if "tickets" in columns:
        tickets = parts[parts["part"] == "ticket"]
        frames["tickets"] = pd.DataFrame({
            "ticket_id": tickets["id"].to_numpy(), "channel": tickets["label"].to_numpy(),
            **{c: from_ns(tickets[f"t{i}"]) for i, c in enumerate(_TICKET_TIMES, 1)}})
    # The other tables reach the driver as counts; an empty frame marks each as present, so
    # a metric missing one of its tables names the one that is absent, as pandas does.
    for name in columns:
        if frames[name] is None:
            frames[name] = pd.DataFrame()
    return frames


def metrics_on_spark(
    tables: SparkTables, start: Any, end: Any, every: str | None = None, *, scales,
    by: str | None = None, gross_margin: float | None = None,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS, churn: ChurnDefinition | None = None,
) -> list[dict[str, Any]]:
    """:func:`features.period_metrics.period_metrics` of validated Spark tables for the
    whole ``[start, end)`` or each of its months or weeks (one pass over the tables for all
    of them), split by ``by`` when given: the same JSON-ready shape and numbers.

    Raises
    ------
    ValueError
        For a ``by`` column no table can be split by, as pandas says it.
    """
    bounds = [check_period(start, end)] if every is None else period_bounds(start, end, every)
    options = dict(gross_margin=gross_margin, max_lifetime_years=max_lifetime_years)
    columns, mapping = tables.columns, tables.mapping
    if by is not None:
        check_split(split_columns_of(columns), by)

    parts = per_bucket(tables, lambda raw, _: _parts(raw, bounds, by, churn, mapping),
                       _PARTS_SCHEMA).toPandas()
    channels = sorted(set(parts.loc[parts["part"] == "channel", "label"].dropna()))
    overall = _gathered(parts[parts["group"].isna()], columns)
    categories = sorted(set(parts.loc[parts["part"] == "category", "label"]))
    groups = {c: _gathered(parts[parts["group"] == c], columns) for c in categories}
    # Which tables split is the same in every bucket (it hangs on the columns only).
    splits = set(parts.loc[parts["part"] == "split", "label"])
    present = {name: (name if name in columns else None) for name in TABLE_NAMES}
    labels = {name: (name if name in splits else None) for name in TABLE_NAMES}
    out = []
    for period, (a, b) in enumerate(bounds):
        result: dict[str, Any] = {
            "period": {"start": a.isoformat(), "end": b.isoformat(),
                       "days": (b - a) / pd.Timedelta(days=1)},
            "by": by,
        }
        result.update(_period(overall, channels, period, a, b, scales, options, columns,
                              METRIC_KEYS))
        if by is not None:
            reasons = {key: unsplittable_reason(key, present, labels, by) for key in METRIC_KEYS}
            split_keys = [key for key in METRIC_KEYS if not reasons[key]]
            per_group = {c: _period(groups[c], channels, period, a, b, scales, options, columns,
                                    split_keys) for c in categories}
            for key in METRIC_KEYS:
                if reasons[key]:
                    result[key].update(groups=None, groups_reason=reasons[key])
                else:
                    result[key].update(groups={c: per_group[c][key] for c in categories},
                                       groups_reason=None)
        out.append(result)
    return out


def _gathered(parts: pd.DataFrame, columns) -> dict[str, Any]:
    """The driver's inputs from every bucket's parts (of all rows, or of one group's)."""
    return {
        "frames": _frames(parts, columns),
        "counts": parts[parts["part"] == "values"].groupby(
            ["id", "key", "value"], dropna=False)["n"].sum(),
        "totals": _summed_totals(parts),
        "days": parts[parts["part"] == "day"].groupby(["id", "key", "value"])["n"].sum(),
    }


def _summed_totals(parts: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """Period -> what -> count: every bucket's ``total`` parts added up."""
    rows = parts[parts["part"] == "total"]
    summed = rows.groupby(["id", "key", "label"])[["n", "value"]].sum()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (period, key, label), n, value in zip(summed.index, summed["n"], summed["value"]):
        what, name = key.split(".", 1)
        out.setdefault(period, {}).setdefault(what, {})[name] = (
            int(n) if label == "int" else float(value))
    return out


def _per_day(days: pd.Series, period: int, key: str, start, end) -> np.ndarray:
    out = np.zeros(ses.period_days(start, end), dtype="int64")
    if (str(period), key) in days.index.droplevel("value"):
        these = days.loc[(str(period), key)]
        out[these.index.to_numpy(dtype="int64")] = these.to_numpy()
    return out


def _from_totals(key: str, totals: dict, days: pd.Series, period: int, start, end) -> Any:
    """A metric of :data:`_FROM_TOTALS` by its pandas formula on the period's totals."""
    if key == "repeat_purchase_rate":
        return cm.repeat_purchase_rate_of(totals["orders"])
    if key == "average_order_value":
        return cm.average_order_value_of(totals["orders"])
    if key == "purchase_frequency":
        return cm.purchase_frequency_of(totals["orders"], start, end)
    if key == "return_rate":
        return cm.return_rate_of(totals["orders"], totals["returns"])
    if key == "organic_clicks":
        return ses.organic_clicks_of(**totals["organic"])
    if key == "dau":
        return ses.daily_active_users_of(_per_day(days, period, "daily", start, end),
                                         _per_day(days, period, "rolling", start, end),
                                         totals["active"]["period_active_users"])
    by = {v: ses.conversion_rate_of(**totals[f"conversion_{v}"], visitors_are=v)
          for v in _VISITORS}
    return conversion_of(by["sessions"], by["users"])


def _period(gathered: dict, channels, period: int, start, end, scales, options, columns,
            keys) -> dict[str, Any]:
    """The ``keys`` metrics of one period, JSON-ready, from :func:`_gathered` inputs."""
    frames, counts, days = gathered["frames"], gathered["counts"], gathered["days"]
    totals = gathered["totals"].get(str(period), {})
    result: dict[str, Any] = {}
    for key in keys:
        # CLV needs only the accounts (always there); the others every table they read.
        missing = [t for t in METRIC_TABLES[key] if t not in columns and key != "clv"]
        if key in SURVEY_TYPES and "surveys" in columns:
            metric = survey_metric(key, _scores(counts, str(period), key), scales)
        elif key in SESSION_COLUMNS and "sessions" in columns:
            metric = SESSION_FORMULAS[key](_scores(counts, str(period), key))
        elif key in _FROM_TOTALS and not missing:
            metric = _from_totals(key, totals, days, period, start, end)
        elif key == "clv":
            metric = cm.clv_of(frames["accounts"], totals.get("orders"), start, end, **options)
        else:
            metric = compute_metric(key, frames, scales, start, end, options, channels)
        result[key] = shaped(key, metric, scales)
    return result


def _scores(counts: pd.Series, period: str, key: str) -> pd.Series:
    """The period's values of one metric's input (a survey's scores, the sessions' page
    views or durations), rebuilt from their counts."""
    if (period, key) not in counts.index.droplevel("value"):
        return pd.Series([], dtype="float64")
    these = counts.loc[(period, key)]
    return pd.Series(np.repeat(these.index.to_numpy(float), these.to_numpy()))
