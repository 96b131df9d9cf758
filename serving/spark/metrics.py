"""Portfolio metrics on Spark (``metrics --engine spark``), with the pandas engine's formulas.

Each account bucket validates its rows with the contract (so timestamps, ids and survey
scales are read exactly as the pandas engine reads them), takes each period's rows with the
period helpers of :mod:`features.portfolio_metrics`, and sends the driver only what the
formulas need:

* surveys: the count of each (survey, score) of each period; sessions: the count of each
  page-view number and of each duration of each period. The counts are summed over buckets
  and the driver rebuilds the values from them: NPS, CSAT, CES, pages per session and
  session length depend on the values only, not on their order;
* accounts: the signup and churn dates, for churn and retention;
* tickets: the five ticket columns of the tickets created before the last period's end
  (their medians and the backlog need the rows), and every ticket channel of the table.

The driver then runs the pandas engine's functions (:func:`features.period_metrics.compute_metric`,
:func:`~features.period_metrics.survey_metric`, the session ``*_of`` formulas) on those
parts: one definition of every formula. The other metrics (orders, returns, conversion,
organic clicks, DAU/MAU, CLV) are not computed on Spark yet: each is undefined with
:data:`NOT_ON_SPARK` as its reason, never 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.churn_definition import ChurnDefinition
from features.contract import SURVEY_TYPES, TABLE_NAMES
from features.mapping import Mapping
from features.period_metrics import (
    METRIC_KEYS,
    METRIC_TABLES,
    UNITS,
    compute_metric,
    period_bounds,
    shaped,
    survey_metric,
)
from features.portfolio_metrics import DEFAULT_MAX_LIFETIME_YEARS, before, within
from features.session_metrics import avg_session_duration_of, pages_per_session_of
from features.support_metrics import ticket_channels
from features.survey_metrics import check_period, undefined
from serving.spark.churn import churn_dated
from serving.spark.tables import SparkTables, bucket_tables, table_types, validated

#: The metrics ``metrics --engine spark`` computes; the others are undefined with a reason.
SPARK_METRICS = ("nps", "csat", "ces", "churn_rate", "retention_rate", "pages_per_session",
                 "avg_session_duration", "ticket_volume", "resolution_time",
                 "first_response_time", "resolution_rate")
#: The session metrics computed from the counts of one column's values, and their formulas.
SESSION_COLUMNS = {"pages_per_session": "page_views", "avg_session_duration": "duration_seconds"}
SESSION_FORMULAS = {"pages_per_session": pages_per_session_of,
                    "avg_session_duration": avg_session_duration_of}
NOT_ON_SPARK = "not computed with --engine spark yet; run `customer-health metrics` without it"

_TICKET_TIMES = ("created_at", "first_response_at", "resolved_at")
# Timestamps travel as int64 nanoseconds with NaT as its own int64 code (no nulls, so the
# column stays int64 through Arrow: a nullable long would come back as float and lose ns).
# A bucket's parts in one frame: ``values`` rows count the values of one metric's input in
# one period (id: the period; key: the survey or session metric), ``account`` rows hold an
# account's dates, ``ticket`` rows a ticket, ``channel`` rows a ticket channel.
_PARTS_SCHEMA = ("part string, key string, value double, n long, id string, label string, "
                 "t1 long, t2 long, t3 long")
_PARTS_COLUMNS = [field.split()[0] for field in _PARTS_SCHEMA.split(", ")]
_NAT = np.iinfo("int64").min


def _ns(times: pd.Series) -> np.ndarray:
    return times.to_numpy("datetime64[ns]").view("int64")


def _times(ns: pd.Series) -> pd.Series:
    return pd.Series(ns.to_numpy("int64").view("datetime64[ns]"))


def _parts(raw: dict[str, pd.DataFrame], bounds: list[tuple[pd.Timestamp, pd.Timestamp]],
           churn: ChurnDefinition | None = None, mapping: Mapping | None = None) -> pd.DataFrame:
    """One bucket's share of every period: survey scores and session page views and
    durations counted per period, the account dates, and the ticket rows up to the last
    period's end (the ticket formulas take their period's rows themselves, so one slice
    serves every period)."""
    if raw["accounts"].empty:
        return pd.DataFrame(columns=_PARTS_COLUMNS)
    if churn is not None and churn.is_lapse:  # lapse dates read every table's events
        typed = churn_dated(raw, churn, mapping or Mapping())
    else:
        wanted = {name: raw[name] for name in ("accounts", "tickets", "surveys", "sessions")
                  if name in raw}
        typed, _ = validated(wanted, mapping or Mapping())
    out = []
    accounts = typed.accounts
    out.append(pd.DataFrame({"part": "account", "id": accounts["account_id"].astype(str),
                             "t1": _ns(accounts["signup_date"]), "t2": _ns(accounts["churned_at"])}))
    for period, (start, end) in enumerate(bounds):
        if typed.surveys is not None:
            surveys = typed.surveys.loc[within(typed.surveys["responded_at"], start, end)]
            counts = surveys.groupby(["survey", "score"], dropna=False).size()
            out.append(pd.DataFrame({"part": "values", "id": str(period),
                                     "key": counts.index.get_level_values("survey"),
                                     "value": counts.index.get_level_values("score"),
                                     "n": counts.to_numpy()}))
        if typed.sessions is not None:
            sessions = typed.sessions.loc[within(typed.sessions["started_at"], start, end)]
            for key, column in SESSION_COLUMNS.items():
                counts = sessions[column].astype("float64").value_counts(dropna=False)
                out.append(pd.DataFrame({"part": "values", "id": str(period), "key": key,
                                         "value": counts.index, "n": counts.to_numpy()}))
    if typed.tickets is not None:
        tickets = typed.tickets.loc[before(typed.tickets["created_at"], bounds[-1][1])]
        out.append(pd.DataFrame({"part": "ticket", "id": tickets["ticket_id"].astype(str),
                                 "label": tickets["channel"],
                                 **{f"t{i}": _ns(tickets[c]) for i, c in enumerate(_TICKET_TIMES, 1)}}))
        out.append(pd.DataFrame({"part": "channel", "label": ticket_channels(typed.tickets)}))
    parts = pd.concat(out, ignore_index=True)
    defaults = {"n": 0, "t1": _NAT, "t2": _NAT, "t3": _NAT}
    # Plain numpy types: Arrow-backed text (what validated tables may hold) does not pass
    # through applyInPandas.
    text = {name: object for name in ("part", "key", "id", "label")}
    parts = parts.reindex(columns=_PARTS_COLUMNS).astype({**text, "value": "float64"})
    return parts.fillna(defaults).astype({name: "int64" for name in defaults})


def _frames(parts: pd.DataFrame, columns: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The driver's frames for :func:`compute_metric`, from every bucket's parts."""
    accounts = parts[parts["part"] == "account"]
    frames: dict[str, Any] = {name: None for name in TABLE_NAMES}
    frames["accounts"] = pd.DataFrame({
        "account_id": accounts["id"].to_numpy(), "signup_date": _times(accounts["t1"]),
        "churned_at": _times(accounts["t2"])})
    if "tickets" in columns:
        tickets = parts[parts["part"] == "ticket"]
        frames["tickets"] = pd.DataFrame({
            "ticket_id": tickets["id"].to_numpy(), "channel": tickets["label"].to_numpy(),
            **{c: _times(tickets[f"t{i}"]) for i, c in enumerate(_TICKET_TIMES, 1)}})
    return frames


def metrics_on_spark(
    tables: SparkTables, start: Any, end: Any, every: str | None = None, *, scales,
    gross_margin: float | None = None, max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
    churn: ChurnDefinition | None = None,
) -> list[dict[str, Any]]:
    """:func:`features.period_metrics.period_metrics` (without ``by``) of validated Spark
    tables for the whole ``[start, end)`` or each of its months or weeks (one pass over the
    tables for all of them): the same JSON-ready shape, :data:`SPARK_METRICS` computed, the
    others undefined with :data:`NOT_ON_SPARK` (or the missing table, as pandas says).
    ``churn`` (:func:`serving.spark.churn.churn_definition`) dates the accounts' churn."""
    bounds = [check_period(start, end)] if every is None else period_bounds(start, end, every)
    options = dict(gross_margin=gross_margin, max_lifetime_years=max_lifetime_years)
    columns, types, mapping = tables.columns, table_types(tables), tables.mapping

    def share(bucket: pd.DataFrame) -> pd.DataFrame:
        raw, _ = bucket_tables(bucket, columns, types, mapping)
        return _parts(raw, bounds, churn, mapping)

    parts = tables.long.groupBy("_bucket").applyInPandas(share, _PARTS_SCHEMA).toPandas()
    frames = _frames(parts, columns)
    counts = parts[parts["part"] == "values"].groupby(["id", "key", "value"], dropna=False)["n"].sum()
    channels = sorted(set(parts.loc[parts["part"] == "channel", "label"].dropna()))
    return [_period(frames, counts, channels, period, a, b, scales, options, columns)
            for period, (a, b) in enumerate(bounds)]


def _period(frames, counts, channels, period: int, start, end, scales, options, columns) -> dict:
    result: dict[str, Any] = {
        "period": {"start": start.isoformat(), "end": end.isoformat(),
                   "days": (end - start) / pd.Timedelta(days=1)},
        "by": None,
    }
    for key in METRIC_KEYS:
        # CLV needs only the accounts (always there); the others every table they read.
        missing = [t for t in METRIC_TABLES[key] if t not in columns and key != "clv"]
        if key in SURVEY_TYPES and "surveys" in columns:
            metric = survey_metric(key, _scores(counts, str(period), key), scales)
        elif key in SESSION_COLUMNS and "sessions" in columns:
            metric = SESSION_FORMULAS[key](_scores(counts, str(period), key))
        elif key in SPARK_METRICS or missing:
            metric = compute_metric(key, frames, scales, start, end, options, channels)
        else:
            metric = undefined(NOT_ON_SPARK, UNITS[key])
        result[key] = shaped(key, metric, scales)
    return result


def _scores(counts: pd.Series, period: str, key: str) -> pd.Series:
    """The period's values of one metric's input (a survey's scores, the sessions' page
    views or durations), rebuilt from their counts."""
    if (period, key) not in counts.index.droplevel("value"):
        return pd.Series([], dtype="float64")
    these = counts.loc[(period, key)]
    return pd.Series(np.repeat(these.index.to_numpy(float), these.to_numpy()))
