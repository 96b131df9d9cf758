"""The run the report reads: a scores file or a run stored in a database, and its call list.

The batch job writes a run as files (:mod:`serving.scores_file`) or into a database
(:mod:`serving.scores_db`); the report reads either through :func:`read_scores`, and
:func:`read_alerts` finds the run's call list where the run was written.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from features.db_url import is_database_url
from features.io import FORMATS
from serving import scores_db
from serving.report.document import ReportError
from serving.scores_file import ScoresFile, ScoresFileError
from serving.scores_file import read_scores as read_scores_file


def read_scores(path: str | os.PathLike, as_of: pd.Timestamp | None = None) -> ScoresFile:
    """A run for the report: a scores file (:func:`serving.scores_file.read_scores`), or the
    run of ``as_of`` in a database output of ``score`` (its URL; the latest run when
    ``as_of`` is None).

    Raises
    ------
    ReportError
        When the file is missing, has an unknown format or lacks a required column, or
        ``as_of`` is given with a file (a file holds one run).
    features.db_url.DatabaseError
        When the database cannot be read or holds no run of ``as_of``.
    """
    if is_database_url(path):
        sink = scores_db.parse_sink(str(path), "SCORES")
        scores, meta = scores_db.read_run(sink, as_of)
        return ScoresFile(scores, meta, None, database=sink)
    path = Path(path)
    if as_of is not None:
        raise ReportError(f"--as-of picks a run in a database; {path} is a scores file of one run "
                          "(as of its own date): leave --as-of out, or give the run's own file")
    try:
        return read_scores_file(path)
    except ScoresFileError as exc:
        message = str(exc)
        if path.is_file() and path.suffix.lstrip(".") not in FORMATS:
            # the report's own wording of this case, which its users and tests know
            message = f"scores file {path}: unknown format {path.suffix!r}; use .parquet or .csv"
        raise ReportError(message) from exc


def read_alerts(scores: ScoresFile, alerts_path: str | os.PathLike | None = None) -> pd.DataFrame | None:
    """The alerts at ``alerts_path``, else the run's own (next to the scores, or in the
    database it was read from); None when there are none.

    Raises
    ------
    ReportError
        When the alerts file is neither Parquet nor CSV.
    features.db_url.DatabaseError
        When the database cannot be read.
    """
    if scores.database is not None and not alerts_path:
        return scores_db.read_calls(scores.database, pd.Timestamp(scores.metadata["as_of"]))
    source = replace(scores, alerts_path=Path(alerts_path)) if alerts_path else scores
    try:
        return source.alerts()
    except ScoresFileError as exc:
        raise ReportError(str(exc)) from exc


def scored_by(metadata: dict) -> str | None:
    """A ``models:/`` URI for the model the scores' metadata names, if any.

    >>> scored_by({"model": {"name": "churn", "version": "3"}}), scored_by({})
    ('models:/churn/3', None)
    """
    model = metadata.get("model")
    if not isinstance(model, dict):
        return None
    if model.get("name") and model.get("version"):
        return f"models:/{model['name']}/{model['version']}"
    uri = model.get("uri")
    return uri if isinstance(uri, str) and uri.startswith("models:/") else None
