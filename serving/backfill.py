"""Backfills: many as-of dates scored in one process, each date the run it would be alone.

The tables are read and validated once, the model loaded once, and what does not depend
on the date is computed once for every date: the survey comments read (language and
TextBlob polarity; the learnt polarity of each date is still applied as of that date) and
the data fingerprint. Each date then goes through :func:`serving.batch.run_batch`, so its
output equals a single-date run's (``tests/serving/test_backfill.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.db_url import is_database_url
from features.io import Mapping, load_tables
from features.scorecard import Scorecard
from features.survey_polarity import read_survey_comments
from models.training_set import tables_sha256
from serving.batch import (
    BatchInputError,
    BatchResult,
    Loaded,
    _check_as_of,
    _output_paths,
    check_not_an_input,
    load_model_or_reason,
    run_batch,
)
from serving.scores_file import is_runs_folder


def backfill_dates(start: pd.Timestamp, until: pd.Timestamp, every_days: int) -> list[pd.Timestamp]:
    """``start``, then every ``every_days`` days up to and including ``until``.

    Raises
    ------
    BatchInputError
        When ``until`` is before ``start`` or ``every_days`` is below 1.

    Examples
    --------
    >>> [d.date().isoformat() for d in backfill_dates(pd.Timestamp("2026-01-01"),
    ...                                                 pd.Timestamp("2026-01-20"), 7)]
    ['2026-01-01', '2026-01-08', '2026-01-15']
    """
    if every_days < 1:
        raise BatchInputError(f"--every must be at least 1 day (e.g. 7d), got {every_days} days")
    if until < start:
        raise BatchInputError(
            f"--until {until.date()} is before --as-of {start.date()}; give the last date to score"
        )
    return list(pd.date_range(start, until, freq=pd.Timedelta(days=every_days)))


def dated_output(out: str | os.PathLike, as_of: pd.Timestamp) -> str | Path:
    """Where a backfill writes the run of ``as_of``: the same folder of dated runs or the
    same database (both keep one run per date), else the file name with its date.

    Examples
    --------
    >>> str(dated_output("runs/scores.parquet", pd.Timestamp("2026-01-08")))
    'runs/scores-2026-01-08.parquet'
    >>> str(dated_output("runs", pd.Timestamp("2026-01-08")))
    'runs'
    """
    if is_database_url(out) or is_runs_folder(Path(out)):
        return out
    out = Path(out)
    return out.with_name(f"{out.stem}-{as_of:%Y-%m-%d}{out.suffix}")


def run_backfill(
    folder: str | os.PathLike | None,
    dates: list[pd.Timestamp],
    out: str | os.PathLike,
    *,
    model_uri: str | None = None,
    previous: str | os.PathLike | None = None,
    fmt: str | None = None,
    mapping: Mapping | str | os.PathLike | None = None,
    risk_rise: float = 0.10,
    scorecard: Scorecard | None = None,
    progress: Callable[[int, pd.Timestamp], None] | None = None,
    currency: str | None = None,
) -> list[BatchResult]:
    """Score many dates in one process: the tables are read, validated and the model loaded
    once, then each date is the run :func:`run_batch` would write on its own.

    Parameters
    ----------
    dates : list of Timestamp
        The as-of dates, in order (:func:`backfill_dates`).
    out : path or str
        As for :func:`run_batch`; a file output gets one file per date
        (:func:`dated_output`), a database output one run per date.
    previous : path, URL or "auto", optional
        As for :func:`run_batch`, for every date; with ``"auto"`` each date compares with
        the run before it, as nightly runs would.
    progress : callable, optional
        Called as ``progress(i, date)`` before the ``i``-th date (0-based) is scored.

    Other parameters are those of :func:`run_batch`.

    Returns
    -------
    list of BatchResult
        One per date, in order.
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.read(mapping)
    for stamp in dates:  # every output checked before the long read
        _check_as_of(stamp)
        if not is_database_url(out):
            paths = _output_paths(dated_output(out, stamp), fmt, stamp)
            if folder is not None:
                check_not_an_input(paths, Path(folder), mapping or Mapping())
    tables = load_tables(folder, mapping)[0]
    loaded = Loaded(tables, *load_model_or_reason(model_uri),
                    comments_read=read_survey_comments(tables, max(dates)),
                    data_fingerprint=tables_sha256(tables))
    results = []
    for i, stamp in enumerate(dates):
        if progress is not None:
            progress(i, stamp)
        results.append(run_batch(
            folder, stamp, dated_output(out, stamp), model_uri=model_uri, previous=previous,
            fmt=fmt, mapping=mapping, risk_rise=risk_rise, scorecard=scorecard, loaded=loaded,
            currency=currency,
        ))
    return results
