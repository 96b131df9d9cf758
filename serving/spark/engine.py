"""Features and scores on Spark: each account bucket through the laptop's scoring path.

:func:`score_run` is the ``score`` command's job on Spark, :func:`features_run` the
``features`` command's: read and bucket the tables (:mod:`serving.spark.tables`), check the
contract on every bucket (:mod:`serving.spark.validation`; invalid data writes nothing),
compute the portfolio's own facts once on the driver (:func:`portfolio_facts`), then give
each bucket's accounts and all their rows to :func:`models.scoring.score_tables`, and write
partitioned Parquet plus the same metadata and alerts (:mod:`serving.spark.output`).

The churn model is loaded once on the driver (:func:`models.registry.load_model`) and
shipped to the executors with the bucket function, not through ``mlflow.pyfunc.spark_udf``:
the drivers (SHAP explanations in words) and the learnt comment polarity come from the
native :class:`models.registry.LoadedModel`, which a UDF returning one column per row could
not give, and one implementation of the churn scoring (``score_tables``) must serve both
engines. The executors then need no access to the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from features.catalogue import DEFAULT_WINDOWS, numeric_columns
from features.churn_definition import ChurnDefinition
from features.clv import ClvFit, ClvFitError, fit_histories, purchase_history
from features.contract import TIMESTAMP_COLUMNS, Tables
from features.indicators import trailing_churn_rate
from features.mapping import Mapping
from features.polarity import PolarityModels
from features.scorecard import Scorecard
from features.scorecard_config import load_scorecard
from features.survey_polarity import score_survey_comments
from models.model_check import model_warnings
from models.scoring import previous_scores, score_tables
from serving.alerts import CALL_LIST_INPUTS, TYPICAL_KEY, find_alerts
from serving.batch import PREVIOUS_COLUMNS, band_order, package_version, scores_table
from serving.scores_file import output_paths
from serving.spark.churn import account_dates, churn_dated, churn_definition
from serving.spark.fingerprint import Fingerprint, data_fingerprint
from serving.spark.medians import medians
from serving.spark.output import Staged, conform, spark_schema
from serving.spark.tables import (
    SparkTables,
    bucket_tables,
    packs,
    path_exists,
    per_bucket,
    read_tables,
    restored,
    table_types,
    validated,
)
from serving.spark.validation import validate

# Columns a bucket adds for the call list made on the driver (dropped from the scores).
_CALL, _TYPICAL = "_call_", "_typical_"

STEPS = ("read and validate", "portfolio facts", "score buckets", "write")
# Scoring also records the data fingerprint, as the pandas batch does.
SCORE_STEPS = (STEPS[0], "data fingerprint", *STEPS[1:])
PREVIOUS = "_previous"
SAMPLE_ACCOUNTS = 20
Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Portfolio:
    """What every bucket needs to know of the whole portfolio."""

    churn_rate: float
    polarity_models: PolarityModels | None
    clv_fit: ClvFit | ClvFitError


def portfolio_facts(tables: SparkTables, as_of: pd.Timestamp, model: Any = None,
                    churn: ChurnDefinition | None = None) -> Portfolio:
    """The trailing churn rate (the CLV's lifetime) and the learnt comment polarity, from
    the whole input, with the functions the pandas engine uses.

    Only the accounts' dates and the commented survey answers reach the driver.
    """
    from pyspark.sql import functions as F

    if churn is not None and churn.is_lapse:
        # Lapse dates come from each account's orders, so each bucket computes its own.
        accounts = account_dates(tables, churn, as_of)
    else:
        wanted = [c for c in ("account_id", "signup_date", "churned_at")
                  if c in tables.columns["accounts"]]
        accounts = _rows(tables.frames["accounts"], "accounts", wanted)
    typed, _ = validated({"accounts": accounts}, tables.mapping)
    churn_rate = trailing_churn_rate(typed.accounts, as_of)
    polarity = getattr(model, "polarity_models", None)
    usable = polarity is not None and (polarity.examples_before is None
                                       or polarity.examples_before <= as_of)
    if not usable and "comment" in tables.columns.get("surveys", ()):
        commented = tables.frames["surveys"].filter(F.col("comment").isNotNull())
        surveys = _rows(commented, "surveys", tables.columns["surveys"])
        typed, _ = validated({"accounts": accounts, "surveys": surveys}, tables.mapping)
        _, polarity = score_survey_comments(typed, as_of, None)
    return Portfolio(churn_rate, polarity, _clv_fit(tables, as_of))


def _clv_fit(tables: SparkTables, as_of: pd.Timestamp) -> ClvFit | ClvFitError:
    """The predictive-CLV fit of the whole portfolio: each bucket sums up its customers'
    purchase histories, and only those (one row per customer) reach the driver."""
    if "orders" not in tables.columns:
        return ClvFitError("predictive CLV needs an orders table (account_id, ordered_at, amount)")
    mapping = tables.mapping
    names = ["account_id", "frequency", "recency", "T", "monetary_value"]

    def histories(raw: dict[str, pd.DataFrame], _) -> pd.DataFrame:
        typed, _ = validated({name: raw[name] for name in ("accounts", "orders") if name in raw},
                             mapping)
        return purchase_history(typed.orders, as_of).reset_index()[names]

    schema = "account_id string, frequency double, recency double, T double, monetary_value double"
    history = per_bucket(tables, histories, schema).toPandas()
    try:
        return fit_histories(history.set_index("account_id").sort_index(), as_of)
    except ClvFitError as exc:
        return exc


def _rows(frame, table: str, columns: Iterable[str]) -> pd.DataFrame:
    """Columns of one table's frame, in file order, as pandas."""
    from pyspark.sql import functions as F

    picked = frame.orderBy("_row").select(*[F.col(f"`{c}`") for c in columns])
    types = dict(picked.dtypes)
    rows = picked.toPandas()
    return rows.assign(**{c: restored(rows[c], types[c], c in TIMESTAMP_COLUMNS[table])
                          for c in rows.columns})


def _scored_buckets(tables: SparkTables, work: Callable[[dict[str, pd.DataFrame]], pd.DataFrame]):
    """``work`` on every bucket's raw tables, as one Spark DataFrame.

    The output schema is taken from ``work`` on one bucket run on the driver, so the columns
    and types are those of the pandas engine, whatever the scorecard's groups.
    """
    from pyspark.sql import functions as F

    # A few accounts with their rows, run on the driver, are enough for the schema: a whole
    # bucket would cost the driver a bucket's memory and time.
    ids = [r[0] for r in tables.frames["accounts"].select("account_id")
           .limit(SAMPLE_ACCOUNTS).collect()]
    sample = packs({name: frame.filter(F.col("account_id").isin(ids))
                    for name, frame in tables.frames.items() if "account_id" in frame.columns})
    raw, _ = bucket_tables(sample.toPandas(), tables.columns, table_types(tables), tables.mapping)
    schema = spark_schema(work(raw))
    return per_bucket(tables, lambda raw, _: conform(work(raw), schema), schema)


def _bucket_tables(raw: dict[str, pd.DataFrame], churn: ChurnDefinition,
                   mapping: Mapping) -> Tables | None:
    """A bucket's validated tables under the churn definition; None for a bucket without
    accounts (only earlier scores)."""
    return churn_dated({name: frame for name, frame in raw.items() if name != PREVIOUS}, churn,
                       mapping)


def _start(spark, folder: str, buckets: int, report: Progress, mapping: Mapping | None,
           extra: dict[str, Any] | None = None) -> tuple[SparkTables, ChurnDefinition]:
    """The validated tables (release them when done) and the data's churn definition."""
    report(1, STEPS[0])
    tables = read_tables(spark, folder, buckets=buckets, mapping=mapping, extra=extra)
    try:
        validate(tables)
        return tables, churn_definition(tables, tables.mapping.churn)
    except BaseException:
        tables.release()
        raise


def features_run(
    spark, folder: str, as_of: pd.Timestamp, out: str, *,
    scorecard: Scorecard | Callable[[ChurnDefinition], Scorecard],
    windows: tuple[int, ...] = DEFAULT_WINDOWS, buckets: int, progress: Progress | None = None,
    mapping: Mapping | None = None,
) -> dict:
    """The ``features`` command on Spark: indicators and health scores to partitioned Parquet.

    ``scorecard`` is the scorecard, or how to choose it from the data's churn definition
    (the packaged default that fits it, as the pandas engine chooses).

    Returns the run's figures (accounts written, seconds). Raises
    :class:`features.problems.DataContractError` on invalid data, before anything is written.
    """
    started = time.perf_counter()
    report = progress or (lambda step, name: None)
    tables, churn = _start(spark, folder, buckets, report, mapping)
    with tables:
        return _features(spark, tables, churn, as_of, out, scorecard, windows, report, started)


def _features(spark, tables: SparkTables, churn: ChurnDefinition, as_of: pd.Timestamp, out: str,
              scorecard, windows: tuple[int, ...], report: Progress, started: float) -> dict:
    from serving.commands.features import build_features

    if callable(scorecard):
        scorecard = scorecard(churn)
    report(2, STEPS[1])
    facts = portfolio_facts(tables, as_of, churn=churn)
    mapping = tables.mapping  # the buckets' closure must not hold Spark frames

    def work(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
        typed = _bucket_tables(raw, churn, mapping)
        if typed is None:
            return pd.DataFrame()
        table, _ = build_features(typed, as_of, windows, scorecard, churn_rate=facts.churn_rate,
                                  clv_fit=facts.clv_fit, polarity_models=facts.polarity_models)
        return table

    report(3, STEPS[2])
    frame = _scored_buckets(tables, work)
    report(4, STEPS[3])
    staged = Staged(spark)
    try:
        staged.parquet(frame, out)
        staged.commit()
    finally:
        staged.discard()
    accounts = spark.read.parquet(out).count()
    return {"accounts": accounts, "seconds": round(time.perf_counter() - started, 3)}


def score_run(
    spark, folder: str, as_of: pd.Timestamp, out: str, *, model: Any = None,
    scorecard: Scorecard | None = None, previous: str | None = None, risk_rise: float = 0.10,
    buckets: int, progress: Progress | None = None, no_model_reason: str | None = None,
    currency: str | None = None, previous_missing: str | None = None,
    mapping: Mapping | None = None,
) -> dict:
    """The ``score`` command on Spark: scores (partitioned Parquet at ``out``), the alerts
    (``<stem>.alerts.parquet``) and the metadata (``<out>.meta.json``), written together.

    Returns the metadata. Raises :class:`features.problems.DataContractError` on invalid
    data, before anything is written.
    """

    started = time.perf_counter()
    report = progress or (lambda step, name: None)
    missing = previous_missing  # why no previous run was found (``--previous auto``)
    if previous is not None and not path_exists(spark, previous):
        # As with the pandas engine: the first night, or after a missed one, is no error.
        previous, missing = None, f"the previous run {previous} does not exist; every red account is alerted"
    # The previous run's scores travel with the tables: each bucket gets its accounts'.
    extra = ({} if previous is None
             else {PREVIOUS: spark.read.parquet(previous).select(*PREVIOUS_COLUMNS)})
    tables, churn = _start(spark, folder, buckets, report, mapping, extra)
    with tables:
        return _score(spark, tables, churn, as_of, output_paths(out, "parquet"), model=model,
                      scorecard=scorecard, previous=previous, missing=missing,
                      risk_rise=risk_rise, report=report, no_model_reason=no_model_reason,
                      currency=currency, folder=folder, started=started)


def _score(spark, tables: SparkTables, churn: ChurnDefinition, as_of: pd.Timestamp, paths, *,
           model, scorecard, previous, missing, risk_rise, report, no_model_reason, currency,
           folder, started) -> dict:
    # As the pandas batch: without a scorecard, the packaged one that fits the churn.
    scorecard = scorecard or load_scorecard(churn=churn)
    report(2, SCORE_STEPS[1])
    fingerprint = data_fingerprint(tables)
    report(3, SCORE_STEPS[2])
    facts = portfolio_facts(tables, as_of, model, churn)
    mapping = tables.mapping  # the buckets' closure must not hold Spark frames
    bands = band_order(scorecard)

    def work(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
        typed = _bucket_tables(raw, churn, mapping)
        if typed is None:
            return pd.DataFrame()
        prior = raw.get(PREVIOUS)
        scored = score_tables(typed, as_of, scorecard, model=model,
                              previous=previous_scores(prior),
                              churn_rate=facts.churn_rate, clv_fit=facts.clv_fit,
                              polarity_models=facts.polarity_models)
        scores = scores_table(scored, model)
        # The call list compares every account with the whole portfolio (its typical
        # values, its order of urgency): it is made once on the driver from what each
        # bucket adds here, its indicators and the accounts' revenue and owner.
        ids = scores["account_id"]
        accounts = typed.accounts.set_index("account_id")
        extra = {f"{_CALL}{c}": ids.map(accounts[c]) for c in ("mrr", "owner") if c in accounts}
        indicators = scored.indicators.reindex(ids)
        extra.update({f"{_TYPICAL}{c}": indicators[c].to_numpy(dtype=float)
                      for c in numeric_columns() if c in indicators})
        return scores.assign(**extra)

    from pyspark import StorageLevel

    report(4, SCORE_STEPS[3])
    # On disk: the call list's collect needs the driver's memory (in local mode, the
    # executors' too).
    result = _scored_buckets(tables, work).persist(StorageLevel.DISK_ONLY)
    try:
        report(5, SCORE_STEPS[4])
        alerts, typical = _call_list(spark, result, previous, bands=bands, risk_rise=risk_rise,
                                     currency=currency)
        meta = _metadata(result.count(), len(alerts), as_of, scorecard, risk_rise, model,
                         no_model_reason, previous, folder, fingerprint, churn)
        # The report reads drivers against the same typical values the call list did.
        meta.update(previous_missing=missing, currency=currency, **{TYPICAL_KEY: typical})
        staged = Staged(spark)
        try:
            helpers = [c for c in result.columns if c.startswith((_CALL, _TYPICAL))]
            staged.parquet(result.drop(*helpers), str(paths.scores))
            staged.parquet(spark.createDataFrame(alerts, schema=spark_schema(alerts)).coalesce(1),
                           str(paths.alerts))
            meta.update(format="parquet", output=str(paths.scores), alerts_file=str(paths.alerts),
                        seconds=round(time.perf_counter() - started, 3))
            staged.json(meta, str(paths.metadata))
            staged.commit()
        finally:
            staged.discard()
    finally:
        result.unpersist()
    return meta


def _call_list(spark, result, previous: str | None, *, bands, risk_rise: float,
               currency: str | None) -> tuple[pd.DataFrame, dict[str, float | None]]:
    """The run's call list, made on the driver as the pandas engine makes it, and the
    typical values it read the drivers against (:func:`serving.alerts.typical_values`).

    The typical values are the indicators' exact medians, taken in Spark
    (:func:`serving.spark.medians.medians`): only the call list's own columns reach the
    driver, not every account's indicators. The drivers (about 1 KB an account in words)
    are collected only for the accounts the rules list: the rules read one account at a
    time and rank the listed ones among themselves, so the list of the listed accounts
    alone is the whole portfolio's.
    """
    from pyspark.sql import functions as F

    typical = medians(result, {c[len(_TYPICAL):]: c for c in result.columns
                               if c.startswith(_TYPICAL)})
    drivers = [c for c in ("churn_drivers", "health_drivers") if c in result.columns]
    wanted = [c for c in result.columns
              if (c in CALL_LIST_INPUTS or c.startswith(_CALL)) and c not in drivers]
    collected = result.select(*wanted).toPandas()
    prior = (spark.read.parquet(previous).select(*PREVIOUS_COLUMNS).toPandas()
             if previous is not None else None)

    def call_list(scores: pd.DataFrame) -> pd.DataFrame:
        scores = scores.rename(columns={c: c[len(_CALL):] for c in scores if c.startswith(_CALL)})
        scores = scores.sort_values("account_id", kind="stable").reset_index(drop=True)
        return find_alerts(scores, prior, band_order=bands, risk_rise=risk_rise,
                           currency=currency, typical=typical)

    unspoken = call_list(collected)
    if not drivers or unspoken.empty:
        return unspoken, typical
    listed = unspoken["account_id"].astype(str).to_numpy(object)
    ids = spark.createDataFrame(pd.DataFrame({"account_id": listed}))
    spoken = (result.select("account_id", *drivers)
              .join(F.broadcast(ids), "account_id").toPandas().set_index("account_id"))
    subset = collected[collected["account_id"].isin(listed)]
    return call_list(subset.join(spoken, on="account_id")), typical


def _metadata(accounts, alerts, as_of, scorecard, risk_rise, model, no_model_reason,
              previous, folder, fingerprint: Fingerprint, churn: ChurnDefinition) -> dict:
    meta: dict[str, Any] = {
        "as_of": as_of.isoformat(), "accounts": int(accounts), "alerts": int(alerts),
        "model": None, "churn_unavailable": None, "engine": "spark",
        "data_fingerprint": fingerprint.sha256,
        "scorecard": scorecard.source, **churn.metadata(), "risk_rise": risk_rise,
        "package_version": package_version(), "previous": previous, "input": folder,
    }
    if model is not None:
        meta["model"] = {"name": model.name, "version": str(model.version), "alias": model.alias,
                         "uri": model.uri, "run_id": model.run_id}
        meta["model_warnings"] = model_warnings(
            getattr(model, "params", {}), as_of=as_of, tables=fingerprint.extremes,
            data_sha256=fingerprint.sha256)
    else:
        meta["churn_unavailable"] = no_model_reason or "no model given"
    return meta
