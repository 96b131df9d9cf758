"""The scheduled batch scoring job: every active account scored as of a date.

:func:`score_portfolio` is the pure part: indicators as of the date (the functions training
uses), the health scorecard, the churn model's probability, band and drivers, and the alert
rules of :mod:`serving.alerts`. :func:`run_batch` adds the input and the output: it reads
and validates the input tables (invalid data stops the run before anything is written),
loads the model and writes the run, either to a database (:mod:`serving.scores_db`: scores,
alerts and a runs table in one transaction) or as three files together:

* ``<out>``: one row per active account (Parquet or CSV), run metadata in the Parquet
  schema metadata under ``customer_health``;
* ``<stem>.alerts.<fmt>`` next to it: the call list, one row per account to call
  (:mod:`serving.alerts`);
* ``<out>.meta.json``: the run metadata (as of, model, data fingerprint, package version,
  seconds taken, why churn columns are empty when they are).

``<out>`` may be a folder: each run then goes to a dated folder of its own,
``<out>/<YYYY-MM-DD>/scores.<fmt>``, and the folder keeps every account's history.

The three files are one unit (:mod:`serving.output_set`): a failed, interrupted or killed
run never leaves a partial file nor alerts that belong to another output, and two jobs
writing to one folder take turns. The same inputs give the same rows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from features.churn_definition import ChurnDefinition
from features.clv import COLUMNS as CLV_COLUMNS
from features.contract import TABLE_NAMES, Tables
from features.db_url import is_database_url
from features.health_score import measures_without_data
from features.io import FORMATS, Mapping, describe_input, load_tables
from features.scorecard import Scorecard
from features.scorecard_config import load_scorecard
from features.sentiment import language_report, load_readers
from features.survey_polarity import CommentsRead, start_reading_survey_comments
from features.values import json_list
from models.model_check import model_warnings
from models.scoring import Scored, previous_scores, score_tables
from models.training_set import tables_sha256
from serving import scores_db
from serving.alerts import ALERT_COLUMNS, TYPICAL_KEY, find_alerts, typical_values
from serving.scores_file import (
    SCORE_COLUMNS,
    OutputPaths,
    ScoresFileError,
    latest_run,
    output_paths,
    read_scores,
    write_scores,
)

STEPS = ("read and validate", "indicators", "health scores", "churn risk", "alerts", "write")
PREVIOUS_COLUMNS = ("account_id", "health_score", "health_band", "churn_probability")

Progress = Callable[[int, str], None]


class BatchInputError(ValueError):
    """An argument of the batch job cannot be used (format, as-of date, previous file)."""


class PreviousRunError(BatchInputError):
    """The previous run given exists but cannot be read (cut off, corrupt, not a run)."""


#: ``previous=PREVIOUS_AUTO``: the latest earlier run in the output's folder.
PREVIOUS_AUTO = "auto"


@dataclass(frozen=True)
class BatchResult:
    """What a batch run produced.

    Attributes
    ----------
    scores : DataFrame
        One row per active account, sorted by ``account_id``, columns ``SCORE_COLUMNS``
        then ``group_<group>`` and ``measure_<measure>``. Driver columns hold JSON lists.
    alerts : DataFrame
        The call list: one row per account to call (:data:`serving.alerts.CALL_LIST_COLUMNS`).
    metadata : dict
        The run metadata written with the output.
    paths : dict
        ``{"scores", "alerts", "metadata"}`` file paths once written (empty before, and
        for a database).
    sink : str, optional
        The database written to (password masked), for a database output.
    """

    scores: pd.DataFrame
    alerts: pd.DataFrame
    metadata: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    sink: str | None = None


def _check_as_of(as_of: Any) -> pd.Timestamp:
    if not isinstance(as_of, pd.Timestamp) or pd.isna(as_of):
        raise BatchInputError(
            f"as_of must be a Timestamp parsed once at the edge (the CLI's --as-of option), "
            f"got {as_of!r}"
        )
    return as_of


def package_version() -> str:
    """The installed version of customer-health ("unknown" when not installed)."""
    try:
        return importlib_metadata.version("customer-health")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def band_order(scorecard: Scorecard) -> list[str]:
    """The scorecard's band labels from worst to best, as the alert rules take them."""
    return [band.label for band in sorted(scorecard.bands, key=lambda b: b.low)]


def score_portfolio(
    tables: Tables,
    as_of: pd.Timestamp,
    *,
    model: Any = None,
    scorecard: Scorecard | None = None,
    previous: pd.DataFrame | None = None,
    risk_rise: float = 0.10,
    progress: Progress | None = None,
    no_model_reason: str | None = None,
    currency: str | None = None,
    loaded: Loaded | None = None,
) -> BatchResult:
    """Score every account active at ``as_of``: health, churn risk and the call list.

    Parameters
    ----------
    tables : Tables
        Validated tables (``features.io.load_tables``).
    as_of : Timestamp
        Parsed at the edge; indicators use only rows strictly before it.
    model : LoadedModel, optional
        From ``models.registry.load_model``. Without one the churn columns are null and
        ``no_model_reason`` (or "no model given") is recorded.
    scorecard : Scorecard, optional
        Default scorecard when omitted.
    previous : DataFrame, optional
        A previous output of this job: trend, and the alerts that compare runs.
    risk_rise : float
        Alert when the churn probability rose by more than this (0-1).
    progress : callable, optional
        Called as ``progress(step_number, step_name)`` for the steps of ``STEPS`` 2-5.
    no_model_reason : str, optional
        Why there is no model, for the metadata.
    currency : str, optional
        The currency of ``accounts.mrr``, written beside the call list's revenue.
    loaded : Loaded, optional
        What a backfill read once for all its dates: the comments read and the data
        fingerprint of ``tables``.

    Returns
    -------
    BatchResult
        Scores sorted by ``account_id`` and alerts; metadata without file details.

    Raises
    ------
    BatchInputError
        When ``as_of`` is not a Timestamp or ``previous`` lacks columns of this job's output.
    """
    started = time.perf_counter()
    stamp = _check_as_of(as_of)
    scorecard = scorecard if scorecard is not None else load_scorecard(churn=tables.churn)
    report = progress or (lambda step, name: None)
    if previous is not None:
        _check_previous(previous, "previous scores")

    known = loaded.data_fingerprint if loaded is not None else None
    # The data fingerprint hashes every row (seconds at 100k accounts), mostly outside the
    # GIL (Arrow, numpy, hashlib), so a thread runs it beside the single-threaded steps: from
    # the indicators on when the comments were read beforehand, else from the health scores
    # on. The indicators would start the comment pool, whose workers take every core, and
    # forking them while a thread works is not safe.
    comments_read = loaded.comments_read if loaded is not None else None
    hash_from = STEPS[1] if comments_read is not None else STEPS[2]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-fingerprint") as background:
        hashing: list[Future[str]] = []

        def step(i: int, name: str) -> None:
            if name == hash_from and known is None and not hashing:
                hashing.append(background.submit(tables_sha256, tables))
            report(i + 2, STEPS[i + 1])

        scored = score_tables(
            tables, stamp, scorecard, model=model, previous=previous_scores(previous),
            progress=step, comments_read=comments_read,
        )
        scores = scores_table(scored, model)

        report(5, STEPS[4])
        typical = typical_values(scored.indicators)
        # The rules read the drivers still in memory: parsing their JSON back costs more than them.
        drivers = {c: scored.scores[c].to_numpy(dtype=object) for c in ("health_drivers", "churn_drivers")}
        alerts = call_list(scores.assign(**drivers), tables, typical, previous, scorecard=scorecard,
                           risk_rise=risk_rise, currency=currency)
        fingerprint = known or (hashing[0].result() if hashing else tables_sha256(tables))

    meta: dict[str, Any] = {
        "as_of": stamp.isoformat(),
        "accounts": int(len(scores)),
        "alerts": int(len(alerts)),
        "model": None,
        "churn_unavailable": None,
        "data_fingerprint": fingerprint,
        "scorecard": scorecard.source,
        # Measures no account had data for, by input table: their weight went elsewhere.
        "measures_without_data": measures_without_data(scores, scorecard),
        **(tables.churn or ChurnDefinition()).metadata(),
        "risk_rise": risk_rise,
        "currency": currency,
        "package_version": package_version(),
        # Which languages the comment tone was read in, how, and the share left unsupported.
        "comment_languages": language_report(scored.comments, scored.polarity_models),
        TYPICAL_KEY: typical,  # the report reads drivers against them as the call list did
    }
    if model is not None:
        meta["model"] = {
            "name": model.name, "version": str(model.version), "alias": model.alias,
            "uri": model.uri, "run_id": model.run_id,
        }
        meta["model_warnings"] = model_warnings(
            getattr(model, "params", {}), as_of=stamp, tables=tables,
            data_sha256=meta["data_fingerprint"])
    else:
        meta["churn_unavailable"] = no_model_reason or "no model given"
    meta["seconds"] = round(time.perf_counter() - started, 3)
    return BatchResult(scores, alerts, meta)


def scores_table(scored: Scored, model: Any) -> pd.DataFrame:
    """The rows of a scores file from :func:`models.scoring.score_tables`'s result: columns
    ``SCORE_COLUMNS`` then ``group_<group>`` and ``measure_<measure>``, drivers as JSON."""
    scores = scored.scores.assign(
        as_of=scored.as_of,
        segment=scored.indicators["segment"],
        health_drivers=scored.scores["health_drivers"].map(json_list),
        churn_drivers=_churn_drivers_json(scored.scores["churn_drivers"], model),
        **{name: scored.indicators[name] for name in CLV_COLUMNS},
    )
    # The predictive CLV travels with the scores: value to keep beside the risk of losing it.
    extra = [c for c in scores.columns if c.startswith(("group_", "measure_"))] + list(CLV_COLUMNS)
    return scores.reset_index()[list(SCORE_COLUMNS) + extra]


def call_list(scores: pd.DataFrame, tables: Tables, typical: dict[str, float | None],
              previous: pd.DataFrame | None, *, scorecard: Scorecard, risk_rise: float,
              currency: str | None) -> pd.DataFrame:
    """The run's call list (:func:`serving.alerts.find_alerts`) over every scored account;
    model drivers that read backwards against ``typical`` (the indicators' medians) are left out.
    """
    accounts = tables.accounts.set_index("account_id")
    # Revenue and owner say who calls first and who calls; they are not scores, so they
    # stay out of the scores file.
    listed = scores.assign(**{
        column: scores["account_id"].map(accounts[column])
        for column in ("mrr", "owner") if column in accounts.columns
    })
    return find_alerts(listed, previous, band_order=band_order(scorecard), risk_rise=risk_rise,
                       currency=currency, typical=typical)


def _churn_drivers_json(drivers: pd.Series, model: Any) -> pd.Series:
    """Churn drivers as JSON text; null (not ``[]``) when no model scored them."""
    if model is None:
        return pd.Series(None, index=drivers.index, dtype=object)
    return drivers.map(json_list)


def _check_previous(previous: pd.DataFrame, name: str) -> None:
    missing = [c for c in PREVIOUS_COLUMNS if c not in previous.columns]
    if missing:
        raise BatchInputError(
            f"{name} lack column(s) {missing}; --previous takes a file written by "
            "`customer-health score`"
        )


def read_previous(previous: str | os.PathLike, as_of: pd.Timestamp | None = None) -> pd.DataFrame | None:
    """Read an earlier output of this job for ``--previous``.

    A file is read as it is. A database output (a URL) gives its latest date before
    ``as_of``, or None when it has none yet (the first run).

    Raises
    ------
    BatchInputError
        When the file is missing, of another format, or lacks this job's columns.
    features.db_url.DatabaseError
        When the database cannot be read.
    """
    if is_database_url(previous):
        if as_of is None:
            raise BatchInputError("a database --previous needs the as-of date of the run")
        rows = scores_db.read_previous(scores_db.parse_sink(str(previous), "--previous"), as_of)
        if rows is not None:
            _check_previous(rows, "previous scores")
        return rows
    try:
        return read_scores(previous, required=PREVIOUS_COLUMNS, what="previous scores file").scores
    except ScoresFileError as exc:
        raise PreviousRunError(str(exc)) from None


def find_previous(
    previous: str | os.PathLike | None, paths: OutputPaths, as_of: pd.Timestamp
) -> tuple[Path | None, str | None]:
    """The previous run to compare with, or None and why there is none.

    ``previous`` is a file, :data:`PREVIOUS_AUTO` (the run of the latest as-of date before
    ``as_of`` among the scores files next to the output) or None. A missing run is not an
    error: the first night, or after a missed one, every red account is alerted instead.
    """
    if previous is None:
        return None, None
    if str(previous) == PREVIOUS_AUTO:
        found = latest_run(paths.runs, before=as_of, fmt=paths.fmt)
        if found is None:
            return None, (f"no earlier run in {paths.runs} to compare with; "
                          "every red account is alerted")
        return found, None
    path = Path(previous)
    if not path.exists():
        return None, f"the previous run {path} does not exist; every red account is alerted"
    return path, None


def check_not_an_input(paths: OutputPaths, folder: Path, mapping: Mapping) -> None:
    """Refuse outputs that would replace (or add) a table file of the input folder."""
    folder = folder.resolve()
    inputs = {folder / f"{table}.{ext}" for table in TABLE_NAMES for ext in FORMATS}
    inputs |= {(folder / spec.file).resolve() for spec in mapping.tables.values() if spec.file}
    for path in paths.as_dict().values():
        if path.resolve() in inputs:
            raise BatchInputError(
                f"--out {paths.scores} would write {path.name} over a table of the input "
                f"folder {folder}; write the run elsewhere, e.g. --out runs/{paths.scores.name}"
            )


def write_result(
    result: BatchResult, out: str | os.PathLike, fmt: str | None = None
) -> BatchResult:
    """Write the run (all or nothing) to files or a database; return it with where it went.

    ``out`` is a scores file (``.parquet`` or ``.csv``; alerts and metadata files are
    written next to it) or a database URL (:func:`serving.scores_db.parse_sink`).
    """
    alerts = result.alerts[list(ALERT_COLUMNS)]
    if is_database_url(out):
        sink = _sink(out, fmt)
        meta = scores_db.write_run(result.scores, alerts, result.metadata, sink)
        return BatchResult(result.scores, result.alerts, meta, sink=str(sink))
    paths = _output_paths(out, fmt, pd.Timestamp(result.metadata["as_of"]))
    meta = write_scores(result.scores, alerts, result.metadata, paths)
    return BatchResult(result.scores, result.alerts, meta, paths.as_dict())


def _sink(out: str, fmt: str | None) -> scores_db.DatabaseSink:
    if fmt is not None:
        raise BatchInputError("--format applies to a file output; a database output has tables")
    return scores_db.parse_sink(out, "--out")


def _describe(where: str | os.PathLike | None) -> str | None:
    """A file path as given; a URL with its password masked."""
    if where is None:
        return None
    return str(scores_db.parse_sink(str(where), "--previous")) if is_database_url(where) else str(where)


def _output_paths(out: str | os.PathLike, fmt: str | None, as_of: pd.Timestamp) -> OutputPaths:
    try:
        return output_paths(out, fmt, as_of)
    except ScoresFileError as exc:
        raise BatchInputError(str(exc)) from None


@dataclass(frozen=True)
class PreviousRun:
    """An earlier run already read (:func:`read_previous`), and the file it is named by in
    the metadata: a backfill worker compares its first date with a run another worker is
    still writing, read from a copy scored for it."""

    where: str
    scores: pd.DataFrame


@dataclass(frozen=True)
class Loaded:
    """What a run reads before it scores: the validated tables and the model (or why none)."""

    tables: Tables
    model: Any = None
    no_model_reason: str | None = None
    # Read once for every date of a backfill: the same for each, and costly at every date.
    comments_read: CommentsRead | None = None
    data_fingerprint: str | None = None


def _load(folder: str | os.PathLike | None, mapping: Mapping | None, model_uri: str | None,
          as_of: pd.Timestamp) -> Loaded:
    """The tables, the model and the comments read as of ``as_of``."""
    # A thread loads the model and the comment readers (MLflow, LightGBM, TextBlob and the
    # language models: seconds of imports at every run) while this one reads the tables,
    # much of it in Arrow outside the GIL. It has finished before the comment workers fork:
    # a worker forked while the thread imports could wait forever on a lock the thread held.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load") as background:
        loading = background.submit(_model_and_readers, model_uri)
        tables = load_tables(folder, mapping)[0]
    model, no_model_reason = loading.result()
    # Worker processes read the comments (language, TextBlob): seconds at 100k accounts.
    # The scores are the ones the scoring would read itself.
    with start_reading_survey_comments(tables, as_of) or nullcontext() as reading:
        comments = CommentsRead(reading.result()) if reading is not None else None
    return Loaded(tables, model, no_model_reason, comments_read=comments)


def _model_and_readers(model_uri: str | None) -> tuple[Any, str | None]:
    """:func:`load_model_or_reason`, and the comment readers loaded for the workers to inherit."""
    load_readers()
    return load_model_or_reason(model_uri)


def load_model_or_reason(model_uri: str | None) -> tuple[Any, str | None]:
    """The model to score with, or None and why (nothing registered under the default)."""
    from models.registry import NoModelError, load_model

    try:
        return load_model(model_uri), None
    except NoModelError as exc:
        if model_uri is not None:
            raise  # the user asked for this model: scoring without it would mislead
        return None, f"no model registered: {exc}"


def run_batch(
    folder: str | os.PathLike | None,
    as_of: pd.Timestamp,
    out: str | os.PathLike,
    *,
    model_uri: str | None = None,
    previous: str | os.PathLike | PreviousRun | None = None,
    fmt: str | None = None,
    mapping: Mapping | str | os.PathLike | None = None,
    risk_rise: float = 0.10,
    scorecard: Scorecard | None = None,
    progress: Progress | None = None,
    currency: str | None = None,
    loaded: Loaded | None = None,
) -> BatchResult:
    """Score the tables of ``folder`` as of a date and write scores, call list and metadata.

    Parameters
    ----------
    folder : path, optional
        One file per table (``features.io.load_tables``); None when the mapping reads every
        table from a database.
    as_of : Timestamp
        The scoring moment, parsed at the edge (naive UTC).
    out : path or str
        The scores file (its suffix gives the format unless ``fmt`` does), a folder of
        dated runs (``<out>/<YYYY-MM-DD>/scores.<fmt>``), or a database URL
        (:func:`serving.scores_db.parse_sink`).
    model_uri : str, optional
        MLflow model URI; default the champion. When the default has nothing registered
        the scores are still written with null churn columns and the reason in metadata.
    previous : path, URL, "auto" or PreviousRun, optional
        A previous output, for trends and alerts: a file, a database output (its latest
        date before ``as_of``), or ``"auto"``: the latest earlier run next to ``out`` (or in
        the ``out`` database). When there is none, the run goes on without it and the
        metadata says why under ``previous_missing``. A :class:`PreviousRun` is one read
        already.
    fmt : {"parquet", "csv"}, optional
    mapping : Mapping or path, optional
        The mapping file for the input folder.
    risk_rise : float
        Alert threshold for a rise of churn probability (0-1).
    scorecard : Scorecard, optional
        Default scorecard when omitted.
    progress : callable, optional
        ``progress(step_number, step_name)`` for each of ``STEPS``.
    currency : str, optional
        The currency of ``accounts.mrr``; default the mapping file's ``currency``.
    loaded : Loaded, optional
        The tables of ``folder`` and the model, already read (by
        :func:`serving.backfill.run_backfill`, scoring many dates in one process); read here
        when omitted.

    Returns
    -------
    BatchResult
        With ``paths`` of the three files written, or the ``sink`` written to.

    Raises
    ------
    DataContractError
        Invalid input tables; nothing is written.
    BatchInputError
        Unusable format or date, an output over an input table, or an unreadable previous
        run (:class:`PreviousRunError`); nothing is written.
    features.db_url.DatabaseError
        A source or sink database that cannot be read or written; nothing is written.
    models.registry.NoModelError
        When ``model_uri`` was given and names no registered model.
    """
    started = time.perf_counter()
    report = progress or (lambda step, name: None)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.read(mapping)
    # A bad output stops the run before the work: a format, an input table it would
    # replace, or a database out of reach.
    paths = None
    if is_database_url(out):
        scores_db.check_sink(_sink(str(out), fmt))
    else:
        _check_as_of(as_of)
        paths = _output_paths(out, fmt, as_of)
        if folder is not None:
            check_not_an_input(paths, Path(folder), mapping or Mapping())
    _check_as_of(as_of)
    if not 0 <= risk_rise <= 1:
        raise BatchInputError(f"--risk-rise must lie within 0-1 (0.1 = 10 points), got {risk_rise}")
    report(1, STEPS[0])
    loaded = loaded or _load(folder, mapping, model_uri, as_of)
    tables = loaded.tables
    no_previous = None
    if isinstance(previous, PreviousRun):
        previous, prior = previous.where, previous.scores
    else:
        if previous is not None and str(previous) == PREVIOUS_AUTO and paths is None:
            previous = str(out)  # a database output: its latest date before as_of
        if previous is not None and not is_database_url(previous):
            previous, no_previous = find_previous(previous, paths, as_of)
        prior = read_previous(previous, as_of) if previous is not None else None
    result = score_portfolio(
        tables, as_of, model=loaded.model, scorecard=scorecard, previous=prior,
        risk_rise=risk_rise, progress=progress, no_model_reason=loaded.no_model_reason,
        currency=currency or (mapping.currency if mapping is not None else None), loaded=loaded,
    )
    report(6, STEPS[5])
    meta = dict(result.metadata, previous=_describe(previous), previous_missing=no_previous,
                input=describe_input(folder, mapping), seconds=round(time.perf_counter() - started, 3))
    return write_result(BatchResult(result.scores, result.alerts, meta), out, fmt)
