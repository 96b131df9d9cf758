"""The churn definition on Spark: decided from the whole input, applied in every bucket.

Recorded churn needs only to know whether any ``accounts.churned_at`` is filled. A lapse in
ordering (:mod:`features.churn_definition`) hangs on two facts of the whole input: the gaps
between each customer's orders (a derived ``lapse_days`` is their 95th percentile) and the
last event of any table (the data end its churn dates are seen from). Both are per account
or a maximum, so one pass over the buckets gives them: each bucket counts its gaps by value
and sends its last event, Spark sums the counts and takes the maximum, and the driver
rebuilds the gaps from their counts for the quantile (the same values, so the same lapse as
the pandas engine, bit for bit). The definition then carries the data end into every
bucket, where :func:`features.churn_definition.with_churn_definition` and
:func:`~features.churn_definition.churn_as_of` give the churn dates the pandas engine gives.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from features.churn_definition import (
    ChurnDefinition,
    churn_as_of,
    day_after,
    lapse_gaps,
    last_event,
    resolve_churn_definition,
    with_churn_definition,
)
from features.contract import Tables
from features.mapping import ChurnSpec, Mapping
from features.per_account import as_ns, from_ns
from serving.spark.tables import SparkTables, per_bucket, validated

# A bucket's gaps counted by value (``last`` unused: int64's minimum, as no time), and one
# row with its last event in nanoseconds (``gap`` NaN, which Spark groups as one value).
_FACTS_SCHEMA = "gap double, n long, last long"
_NONE = np.iinfo("int64").min
_DATES = ["account_id", "signup_date", "churned_at"]


def churn_definition(tables: SparkTables, spec: ChurnSpec | None = None) -> ChurnDefinition:
    """The data's churn definition, decided as the pandas engine decides it.

    :func:`features.churn_definition.resolve_churn_definition` reads whether any churn is
    recorded and whether there are orders (both counted here) and, for a derived lapse, the
    gaps between orders; under a lapse the definition also carries the input's data end.

    Raises
    ------
    features.churn_definition.ChurnDefinitionError
        When the mapping's ``[churn]`` cannot be used with this data (as with pandas).
    """
    from pyspark.sql import functions as F

    recorded = None
    if "churned_at" in tables.columns["accounts"]:
        recorded = (tables.accounts.filter(F.col("churned_at").isNotNull())
                    .select("churned_at").limit(1).collect())
    orders = ("orders" in tables.columns
              and tables.frames["orders"].limit(1).count() > 0)
    churned = [recorded[0][0]] if recorded else [pd.NaT]
    seen = Tables(accounts=pd.DataFrame({"churned_at": churned}),
                  orders=pd.DataFrame({"order_id": ["seen"]}) if orders else None)
    facts = functools.cache(lambda: _lapse_facts(tables, from_orders=orders))
    definition = resolve_churn_definition(seen, spec, gaps=lambda: facts()[0])
    if not definition.is_lapse:
        return definition
    return dataclasses.replace(definition, data_end=day_after(facts()[1]))


def _lapse_facts(tables: SparkTables, *, from_orders: bool) -> tuple[np.ndarray, pd.Timestamp]:
    """The repeat-purchase gaps of the whole input (in no order) and its last event."""
    from pyspark.sql import functions as F

    mapping = tables.mapping

    def share(raw: dict[str, pd.DataFrame], _) -> pd.DataFrame:
        typed = bucket_validated(raw, mapping)
        if typed is None:
            return pd.DataFrame({"gap": [], "n": [], "last": []}).astype(
                {"gap": "float64", "n": "int64", "last": "int64"})
        counts = lapse_gaps(typed, from_orders).value_counts()
        last = last_event(typed)
        return pd.DataFrame({
            "gap": np.append(counts.index.to_numpy(float), np.nan),
            "n": np.append(counts.to_numpy("int64"), 0),
            "last": np.append(np.full(len(counts), _NONE), _NONE if pd.isna(last) else last.value),
        })

    rows = (per_bucket(tables, share, _FACTS_SCHEMA)
            .groupBy("gap").agg(F.sum("n").alias("n"), F.max("last").alias("last")).collect())
    counted = [(r["gap"], r["n"]) for r in rows if r["n"]]
    gaps = np.repeat([g for g, _ in counted], [n for _, n in counted]).astype(float)
    lasts = [r["last"] for r in rows if r["last"] is not None and r["last"] != _NONE]
    return gaps, pd.Timestamp(max(lasts)) if lasts else pd.NaT


def bucket_validated(raw: dict[str, pd.DataFrame], mapping: Mapping) -> Tables | None:
    """A bucket's validated tables; None for a bucket without accounts."""
    if raw["accounts"].empty:
        return None
    return validated(raw, mapping)[0]


def churn_dated(raw: dict[str, pd.DataFrame], churn: ChurnDefinition,
                mapping: Mapping) -> Tables | None:
    """A bucket's validated tables with the churn definition applied, as
    :func:`features.io.load_tables` gives the pandas engine the whole input's."""
    typed = bucket_validated(raw, mapping)
    return None if typed is None else with_churn_definition(typed, churn)


def account_dates(tables: SparkTables, churn: ChurnDefinition, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every account's signup and churn dates as known at ``as_of`` (the lapse dates of
    :func:`features.churn_definition.churn_as_of` under a lapse), in no particular order.

    Only these three columns reach the driver: the portfolio's trailing churn rate reads them.
    """
    mapping = tables.mapping

    def share(raw: dict[str, pd.DataFrame], _) -> pd.DataFrame:
        typed = churn_dated(raw, churn, mapping)
        if typed is None:
            return pd.DataFrame({c: pd.Series(dtype="int64") for c in ("signup", "churned")}
                                ).assign(account_id=pd.Series(dtype=object))
        accounts = churn_as_of(typed, as_of).accounts
        # Nanoseconds travel exactly through Arrow (a timestamp would be cut to microseconds).
        return pd.DataFrame({
            "account_id": accounts["account_id"].astype(str).to_numpy(object),
            "signup": as_ns(accounts["signup_date"]), "churned": as_ns(accounts["churned_at"])})

    schema = "account_id string, signup long, churned long"
    dates = per_bucket(tables, share, schema).toPandas()
    return pd.DataFrame({"account_id": dates["account_id"].to_numpy(object),
                         "signup_date": from_ns(dates["signup"]),
                         "churned_at": from_ns(dates["churned"])})

