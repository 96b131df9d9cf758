"""The health report: one self-contained HTML file for customer-success managers.

:func:`build_report` reads a scores file written by the batch job (``customer-health score``),
optionally the validated input tables (for portfolio metrics and trends) and the model that
produced the churn probabilities (for its model card), and writes one HTML file. Plots are
embedded as base64 PNG and the styles are inline, so the file opens offline, holds no
external script, font or image, and can be mailed as it is.

Sections, in order (``REPORT_SECTIONS``): portfolio headline metrics with their trend
against the previous period, the distribution of health scores, accounts per band by
segment, the call list (with each account's recent scores), the at-risk list, the bands over
the runs and how past call lists did, NPS / CSAT / sentiment over time, and the model card.
A figure that cannot be computed is shown as "n/a (reason)", never as 0.

Three parts, one job each: :mod:`~serving.report.gather` (data to a plain report model,
:mod:`~serving.report.document`; the model card in :mod:`~serving.report.card`),
:mod:`~serving.report.plots` (charts to PNG) and :mod:`~serving.report.render` (HTML).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from features.contract import Tables
from serving.report.calls import read_run_history, relative_href
from serving.report.card import ModelCard, model_card
from serving.report.document import REPORT_SECTIONS, Report, ReportError
from serving.report.gather import (
    at_risk_accounts,
    band_palette,
    driver_texts,
    gather_report,
    headline_cards,
    report_period,
)
from serving.report.inputs import read_alerts, read_scores, scored_by
from serving.report.plots import draw_figures
from serving.report.render import render_report, write_html

__all__ = [
    "REPORT_SECTIONS",
    "ModelCard",
    "Report",
    "ReportError",
    "at_risk_accounts",
    "band_palette",
    "build_report",
    "driver_texts",
    "headline_cards",
    "model_card",
    "read_scores",
    "report_period",
]


def build_report(
    scores_path: str | os.PathLike,
    *,
    tables: Tables | None = None,
    model: Any = None,
    out: str | os.PathLike,
    alerts_path: str | os.PathLike | None = None,
    months: int = 3,
    at_risk_limit: int = 25,
    tracking_uri: str | None = None,
    title: str = "Customer health report",
    split_by: str = "segment",
    as_of: Any = None,
) -> Path:
    """Write the self-contained HTML health report.

    Parameters
    ----------
    scores_path
        Scores file from the batch job (Parquet or CSV); its sidecar ``.meta.json`` gives the
        as-of date and the model used. Or the database the batch job wrote into (the URL
        given to ``score --out``): the run of ``as_of``, its call list and the runs before
        it are read from there.
    tables
        Validated input tables for the portfolio metrics and the trends; without them those
        sections say "n/a" and how to include them.
    model
        The model for the model card: a loaded model, a ``models:/`` URI, or None to use the
        model named in the scores' metadata (no card when there is none).
    out
        HTML file to write, atomically (a failed run leaves no partial file).
    alerts_path
        Alerts file; found next to ``scores_path`` when None.
    months
        Length of the headline period: the last ``months`` months before the as-of date,
        compared with the ``months`` before those.
    at_risk_limit
        How many of the highest churn risks (and of the worst-band accounts) to list.
    tracking_uri
        MLflow tracking URI for the model card; the current one when None.
    title
        The report's title.
    split_by
        The accounts' column the bands are split by (``segment``, ``region``, ``plan`` or a
        column of the user's own); read from ``tables`` when the scores do not carry it.
    as_of : Timestamp, optional
        The run to show of a database; its latest run when None. Not for a scores file.

    Returns
    -------
    Path
        The written report.

    Raises
    ------
    ReportError
        When the scores file is missing or is not a scores file, the database holds no run
        of ``as_of``, or ``model`` is a URI that names no registered version.
    """
    scores = read_scores(scores_path, as_of)
    alerts = read_alerts(scores, alerts_path)
    card = model_card(scored_by(scores.metadata) if model is None else model, tracking_uri=tracking_uri)
    calls_file = alerts_path or scores.alerts_path
    report = gather_report(
        scores, alerts=alerts, card=card, tables=tables, months=months, at_risk_limit=at_risk_limit, title=title,
        history=read_run_history(scores), alerts_href=relative_href(calls_file, out),
        split_by=split_by,
    )
    return write_html(render_report(report, draw_figures(report)), out)
