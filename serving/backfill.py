"""Backfills: many as-of dates scored in one run, each date the run it would be alone.

The tables are read and validated once, the model loaded once, and what does not depend
on the date is computed once for every date: the survey comments read (language and
TextBlob polarity; the learnt polarity of each date is still applied as of that date, and
learnt once a month: :func:`features.survey_polarity.polarity_cut`), the rows of each
table coded by account (:func:`features.per_account.columns_coded_once`) and the data
fingerprint. Each date then goes through :func:`serving.batch.run_batch`, so its output
equals a single-date run's (``tests/serving/test_backfill.py``).

With several cores, runs of consecutive dates are scored side by side by worker processes
forked once everything is read, sharing it copy-on-write (:func:`backfill_workers`).
With ``previous="auto"`` a date compares with the run of the date before it, which for a
worker's first date another worker writes last: the worker scores a copy of that run
first, whose scores, bands and probabilities (all the comparison reads) are the same.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.db_url import is_database_url
from features.io import Mapping, load_tables
from features.per_account import columns_coded_once
from features.scorecard import Scorecard
from features.survey_polarity import read_survey_comments
from models.training_set import tables_sha256
from serving.batch import (
    PREVIOUS_AUTO,
    BatchInputError,
    BatchResult,
    Loaded,
    PreviousRun,
    _check_as_of,
    _output_paths,
    check_not_an_input,
    load_model_or_reason,
    read_previous,
    run_batch,
)
from serving.scores_file import is_runs_folder, latest_run_as_of


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


@dataclass(frozen=True)
class DatedRun:
    """A date of a backfill as written: its metadata and where it went. Its scores and
    call list are in the files (or the database), not held in memory: at 100,000 accounts
    a date's scores take about 200 MB, and a year has 52 dates."""

    metadata: dict
    paths: dict[str, Path]
    sink: str | None = None

    @classmethod
    def of(cls, result: BatchResult) -> DatedRun:
        return cls(result.metadata, result.paths, result.sink)


# A worker after the first also scores the date before its own dates: below this many dates
# each, forking and that extra date cost more than working side by side saves.
MIN_DATES_PER_WORKER = 4


def backfill_workers(dates: int, cores: int | None = None) -> int:
    """Worker processes for a backfill of ``dates`` dates: one per core, each with at least
    :data:`MIN_DATES_PER_WORKER` dates (a worker after the first also scores the date
    before its own, to compare its first date with).

    Examples
    --------
    >>> backfill_workers(52, cores=2), backfill_workers(5, cores=2), backfill_workers(52, cores=1)
    (2, 1, 1)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, dates // MIN_DATES_PER_WORKER))


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
    workers: int | None = None,
) -> list[DatedRun]:
    """Score many dates in one run: the tables are read, validated and the model loaded
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
        Called as ``progress(done, date)`` as each date starts, with the number of dates
        finished so far.
    workers : int, optional
        Processes scoring runs of consecutive dates side by side, forked once everything
        is read (default :func:`backfill_workers`). A database output is written by one.

    Other parameters are those of :func:`run_batch`.

    Returns
    -------
    list of DatedRun
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
    dated = _DatedRuns(folder, out, loaded, dict(
        model_uri=model_uri, previous=previous, fmt=fmt, mapping=mapping, risk_rise=risk_rise,
        scorecard=scorecard, currency=currency))
    workers = 1 if is_database_url(out) else min(workers or backfill_workers(len(dates)), len(dates))
    if workers <= 1:
        return dated.score(dates, started=progress or (lambda done, stamp: None))
    runs = [(part, before if before is not None and dated.copies_before(part[0], before) else None)
            for part, before in _split(dates, workers)]
    return _in_workers(dated, runs, progress)


@dataclass(frozen=True)
class _DatedRuns:
    """What every date of a backfill is scored with: the input, the output, what was read
    once, and :func:`run_batch`'s options."""

    folder: str | os.PathLike | None
    out: str | os.PathLike
    loaded: Loaded
    options: dict

    def score(self, dates: list[pd.Timestamp], *, before: pd.Timestamp | None = None,
              started: Callable[[int, pd.Timestamp], None], stop=None) -> list[DatedRun]:
        """Each of ``dates`` in turn, as :func:`run_batch` would score it alone.

        ``before`` is the backfill's date before ``dates`` when another worker scores it
        (:meth:`copies_before`): the first date compares with a copy of it scored here.
        ``started(i, date)`` is called before the ``i``-th date; ``stop`` (an event) ends
        the loop between dates once set.
        """
        results: list[DatedRun] = []
        with columns_coded_once(), tempfile.TemporaryDirectory(prefix="backfill-") as scratch:
            previous = self.options["previous"]
            first_previous = previous
            if before is not None:
                first_previous = self._run_before(before, Path(scratch))
            for i, stamp in enumerate(dates):
                if stop is not None and stop.is_set():
                    break
                started(i, stamp)
                results.append(DatedRun.of(run_batch(
                    self.folder, stamp, dated_output(self.out, stamp), loaded=self.loaded,
                    **{**self.options, "previous": first_previous if i == 0 else previous})))
        return results

    def copies_before(self, first: pd.Timestamp, before: pd.Timestamp) -> bool:
        """Whether a worker starting at ``first`` compares it with a copy of the backfill's
        run of ``before``: with ``previous="auto"``, unless a run already written lies
        between the two dates (auto finds that one). Asked before any worker writes."""
        if str(self.options["previous"]) != PREVIOUS_AUTO:
            return False
        paths = _output_paths(dated_output(self.out, first), self.options["fmt"], first)
        found = latest_run_as_of(paths.runs, before=first, fmt=paths.fmt)
        return found is None or found[0] <= before

    def _run_before(self, before: pd.Timestamp, scratch: Path) -> PreviousRun:
        """The run of ``before`` as ``"auto"`` will read it once another worker wrote it."""
        fmt = self.options["fmt"]
        where = _output_paths(dated_output(self.out, before), fmt, before).scores
        # The trend and the alerts read only its scores, bands and probabilities, which do
        # not depend on the run before it: scored here without one, they are the same.
        copy = run_batch(self.folder, before, scratch / where.name, loaded=self.loaded,
                         **{**self.options, "previous": None})
        return PreviousRun(str(where), read_previous(copy.paths["scores"]))


def _split(dates: list[pd.Timestamp], workers: int) -> list[tuple[list[pd.Timestamp], pd.Timestamp | None]]:
    """``dates`` in ``workers`` runs of consecutive dates, each with the date before it."""
    bounds = np.linspace(0, len(dates), workers + 1).round().astype(int)
    return [(dates[a:b], dates[a - 1] if a else None) for a, b in zip(bounds[:-1], bounds[1:])]


class BackfillWorkerError(RuntimeError):
    """A worker process of a backfill stopped without finishing its dates (killed, e.g. for
    memory); the runs written before are kept."""


# What the forked workers inherit instead of receiving it pickled: the tables above all.
_INHERITED: dict = {}


def _in_workers(dated: _DatedRuns, runs: list, progress) -> list[DatedRun]:
    """Each run of consecutive dates in a forked worker process; results in date order.

    The workers share the loaded tables, model and comments copy-on-write. The first error
    stops every worker after its current date and is raised here; the runs written before
    it are kept, as in one process.
    """
    context = multiprocessing.get_context("fork")
    _INHERITED.update(dated=dated, messages=context.SimpleQueue(), stop=context.Event())
    messages, stop = _INHERITED["messages"], _INHERITED["stop"]
    finished = 0
    try:
        with ProcessPoolExecutor(len(runs), mp_context=context) as pool:
            futures = [pool.submit(_score_in_worker, dates, before) for dates, before in runs]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while not messages.empty():
                    kind, stamp = messages.get()
                    if kind == "done":
                        finished += 1
                    elif progress is not None:
                        progress(finished, stamp)
                if any(f.exception() is not None for f in done):
                    stop.set()
            return [result for future in futures for result in future.result()]
    except BrokenProcessPool:
        stop.set()
        raise BackfillWorkerError(
            f"a backfill worker stopped before its dates were scored (killed, perhaps for "
            f"memory), {finished} of {sum(len(d) for d, _ in runs)} dates done; the runs "
            "written are kept; fix: run again with fewer --workers (1 scores one date at a "
            "time)") from None
    finally:
        _INHERITED.clear()


def _score_in_worker(dates: list[pd.Timestamp], before: pd.Timestamp | None) -> list[DatedRun]:
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    dated, messages, stop = _INHERITED["dated"], _INHERITED["messages"], _INHERITED["stop"]
    # OpenMP's threads (LightGBM's) stay in the parent when a process forks: a parallel
    # region of more than one thread here would wait for them forever. One thread per
    # worker, each worker on its own core; for the same reason the polarity's
    # cross-validation folds run one after the other here, not in processes of their own
    # (which would also outlive the worker, idle, for minutes).
    threadpool_limits(1, user_api="openmp")

    def started(i: int, stamp: pd.Timestamp) -> None:
        if i:
            messages.put(("done", dates[i - 1]))
        messages.put(("started", stamp))

    with parallel_config(backend="sequential"):
        results = dated.score(dates, before=before, started=started, stop=stop)
    if results:
        messages.put(("done", dates[len(results) - 1]))
    return results
