"""Portfolio metrics on Spark (``metrics --engine spark``), with the pandas engine's formulas.

Each account bucket validates its rows with the contract (so timestamps, ids and survey
scales are read exactly as the pandas engine reads them), takes the period's rows with
:func:`features.period_metrics.period_slice`, and sends the driver only what the formulas
need:

* surveys: the count of each (survey, score) of the period, summed over buckets; the
  driver rebuilds the scores from the counts (NPS, CSAT and CES depend on the scores only,
  not their order) and runs :func:`features.period_metrics.survey_metric`;
* accounts: the signup and churn dates, for churn and retention;
* tickets: the five ticket columns of the tickets created before the period's end (their
  medians and the backlog need the rows), and every ticket channel of the whole table.

The driver then runs :func:`features.period_metrics.compute_metric`, the pandas engine's
code, on those frames: one definition of every formula. The other metrics (orders,
returns, sessions, CLV) are not computed on Spark yet: each is undefined with
:data:`NOT_ON_SPARK` as its reason, never 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from features.contract import SURVEY_TYPES, validate_tables
from features.period_metrics import (
    METRIC_KEYS,
    METRIC_TABLES,
    UNITS,
    compute_metric,
    period_bounds,
    period_slice,
    shaped,
    survey_metric,
)
from features.portfolio_metrics import DEFAULT_MAX_LIFETIME_YEARS
from features.support_metrics import ticket_channels
from features.survey_metrics import check_period, undefined
from serving.spark.tables import SparkTables, bucket_tables, table_types

#: The metrics ``metrics --engine spark`` computes; the others are undefined with a reason.
SPARK_METRICS = ("nps", "csat", "ces", "churn_rate", "retention_rate", "ticket_volume",
                 "resolution_time", "first_response_time", "resolution_rate")
NOT_ON_SPARK = "not computed with --engine spark yet; run `customer-health metrics` without it"

_TICKET_TIMES = ("created_at", "first_response_at", "resolved_at")
# Timestamps travel as int64 nanoseconds with NaT as its own int64 code (no nulls, so the
# column stays int64 through Arrow: a nullable long would come back as float and lose ns).
_PARTS_SCHEMA = ("part string, survey string, score double, n long, id string, label string, "
                 "t1 long, t2 long, t3 long")
_NAT = np.iinfo("int64").min


def _ns(times: pd.Series) -> np.ndarray:
    return times.to_numpy("datetime64[ns]").view("int64")


def _times(ns: pd.Series) -> pd.Series:
    return pd.Series(ns.to_numpy("int64").view("datetime64[ns]"))


def _parts(raw: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """One bucket's share of the period: survey score counts, account dates, ticket rows."""
    if raw["accounts"].empty:
        return pd.DataFrame(columns=_PARTS_SCHEMA_COLUMNS)
    wanted = {name: raw[name] for name in ("accounts", "tickets", "surveys") if name in raw}
    typed, _ = validate_tables(wanted)
    frames = period_slice(dataclasses.replace(typed, sessions=None, orders=None, returns=None),
                          start, end)
    out = []
    accounts = typed.accounts
    out.append(pd.DataFrame({"part": "account", "id": accounts["account_id"].astype(str),
                             "t1": _ns(accounts["signup_date"]), "t2": _ns(accounts["churned_at"])}))
    if frames["surveys"] is not None:
        # Unanswered scores (NaN) are counted too: the formulas report them.
        counts = frames["surveys"].groupby(["survey", "score"], dropna=False).size().rename("n").reset_index()
        out.append(counts.assign(part="survey"))
    if typed.tickets is not None:
        tickets = frames["tickets"]
        out.append(pd.DataFrame({"part": "ticket", "id": tickets["ticket_id"].astype(str),
                                 "label": tickets["channel"],
                                 **{f"t{i}": _ns(tickets[c]) for i, c in enumerate(_TICKET_TIMES, 1)}}))
        out.append(pd.DataFrame({"part": "channel", "label": ticket_channels(typed.tickets)}))
    parts = pd.concat(out, ignore_index=True)
    defaults = {"n": 0, "t1": _NAT, "t2": _NAT, "t3": _NAT}
    # Plain numpy types: Arrow-backed text (what validated tables may hold) does not pass
    # through applyInPandas.
    text = {name: object for name in ("part", "survey", "id", "label")}
    parts = parts.reindex(columns=_PARTS_SCHEMA_COLUMNS).astype({**text, "score": "float64"})
    return parts.fillna(defaults).astype({name: "int64" for name in defaults})


_PARTS_SCHEMA_COLUMNS = [field.split()[0] for field in _PARTS_SCHEMA.split(", ")]


def _frames(parts: pd.DataFrame, columns: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The driver's frames for :func:`compute_metric`, from every bucket's parts."""
    accounts = parts[parts["part"] == "account"]
    frames: dict[str, Any] = {name: None for name in METRIC_TABLES_ALL}
    frames["accounts"] = pd.DataFrame({
        "account_id": accounts["id"].to_numpy(), "signup_date": _times(accounts["t1"]),
        "churned_at": _times(accounts["t2"])})
    if "tickets" in columns:
        tickets = parts[parts["part"] == "ticket"]
        frames["tickets"] = pd.DataFrame({
            "ticket_id": tickets["id"].to_numpy(), "channel": tickets["label"].to_numpy(),
            **{c: _times(tickets[f"t{i}"]) for i, c in enumerate(_TICKET_TIMES, 1)}})
    return frames


METRIC_TABLES_ALL = sorted({t for tables in METRIC_TABLES.values() for t in tables})


def period_metrics_on_spark(
    tables: SparkTables, start: Any, end: Any, *, scales, gross_margin: float | None = None,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> dict[str, Any]:
    """:func:`features.period_metrics.period_metrics` (without ``by``) of validated Spark
    tables: the same JSON-ready shape, :data:`SPARK_METRICS` computed, the others undefined
    with :data:`NOT_ON_SPARK` (or the missing table, as the pandas engine says)."""
    start, end = check_period(start, end)
    options = dict(gross_margin=gross_margin, max_lifetime_years=max_lifetime_years)
    columns, types = tables.columns, table_types(tables)

    def share(bucket: pd.DataFrame) -> pd.DataFrame:
        raw, _ = bucket_tables(bucket, columns, types)
        return _parts(raw, start, end)

    parts = tables.long.groupBy("_bucket").applyInPandas(share, _PARTS_SCHEMA).toPandas()
    frames = _frames(parts, columns)
    surveys = (parts[parts["part"] == "survey"].groupby(["survey", "score"], dropna=False)["n"].sum()
               if "surveys" in columns else None)
    channels = sorted(set(parts.loc[parts["part"] == "channel", "label"].dropna()))
    result: dict[str, Any] = {
        "period": {"start": start.isoformat(), "end": end.isoformat(),
                   "days": (end - start) / pd.Timedelta(days=1)},
        "by": None,
    }
    for key in METRIC_KEYS:
        missing = [t for t in METRIC_TABLES[key] if t not in columns and key != "clv"]
        if key in SURVEY_TYPES and surveys is not None:
            counts = surveys.loc[key] if key in surveys.index.get_level_values(0) else surveys.iloc[:0]
            scores = pd.Series(np.repeat(counts.index.to_numpy(float), counts.to_numpy()))
            metric = survey_metric(key, scores, scales)
        elif key in SPARK_METRICS or missing:
            metric = compute_metric(key, frames, scales, start, end, options, channels)
        else:
            metric = undefined(NOT_ON_SPARK, UNITS[key])
        result[key] = shaped(key, metric, scales)
    return result


def metrics_on_spark(tables: SparkTables, start: Any, end: Any, every: str | None,
                     **options: Any) -> list[dict[str, Any]]:
    """One result per period: the whole ``[start, end)`` or its months or weeks."""
    bounds = [check_period(start, end)] if every is None else period_bounds(start, end, every)
    return [period_metrics_on_spark(tables, a, b, **options) for a, b in bounds]
