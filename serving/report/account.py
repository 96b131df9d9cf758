"""The account page: everything a customer-success manager opens before a call, on one page.

:func:`account_report` gathers one account of a scores file into a
:class:`~serving.report.document.Report`: its score and churn risk now and over the runs,
every measure of its scorecard with the value read and the points given, its drivers, and
(with the input tables) its recent tickets, survey answers and comments, orders and
returns. The page is rendered by the report's own template, so text from the data (a
customer's comment) is escaped like every other cell.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import Tables
from features.values import is_missing
from serving.alerts import TYPICAL_KEY
from serving.history import HistoryError, account_history
from serving.metric_text import format_value
from serving.report.calls import money, sparkline
from serving.report.document import Report, ReportError, Section, Table, Text
from serving.report.gather import band_palette, driver_texts
from serving.scores_file import ScoresFile, runs_folder


class UnknownAccountError(ReportError):
    """The account asked for has no row in the scores file."""


#: Rows of each event table shown, newest first.
RECENT_ROWS = 10
_EVENTS = {  # table -> (title, time column, columns shown)
    "tickets": ("Recent tickets", "created_at",
                ("created_at", "channel", "first_response_at", "resolved_at", "reopened_count")),
    "surveys": ("Survey answers and comments", "responded_at",
                ("responded_at", "survey", "score", "channel", "touchpoint", "comment")),
    "orders": ("Orders", "ordered_at", ("ordered_at", "order_id", "amount", "items")),
    "returns": ("Returns", "returned_at", ("returned_at", "order_id", "items", "amount")),
}


def _history(scores: ScoresFile, account_id: str) -> pd.DataFrame:
    """The account's rows in every run: of the scores file's run folder, or of the database
    the run was read from; oldest first."""
    source = scores.database if scores.database is not None else runs_folder(scores.path)
    try:
        return account_history(source, account_id).rows
    except HistoryError:  # the run itself was read, so only an empty folder gets here
        return pd.DataFrame(columns=["as_of", "health_score", "health_band", "churn_probability"])


def _percent(value) -> str:
    return format_value(None if is_missing(value) else 100 * float(value), unit="%", digits=0,
                        reason="no model score")


def _summary(row: pd.Series, history: pd.DataFrame, palette: dict, currency: str | None,
             mrr) -> list:
    band = row["health_band"]
    cells = {
        "health score": {"band": f"{format_value(row['health_score'], digits=0, reason='too little data')} "
                                 f"{band}", "color": palette.get(band, "#9aa5b1")},
        "trend": "n/a (no previous score)" if is_missing(row.get("health_trend")) else str(row["health_trend"]),
        "churn risk": _percent(row.get("churn_probability")),
        "risk band": "n/a" if is_missing(row.get("risk_band")) else str(row["risk_band"]),
        "monthly revenue": money(mrr, currency),
        "score over the runs": sparkline(history["health_score"].astype(float).tolist(),
                                         list(history["as_of"])),
    }
    blocks = [Table("summary", list(cells), [], [cells])]
    if len(history) > 1:
        rows = [{"as of": f"{r.as_of:%d %b %Y}",
                 "health score": format_value(r.health_score, digits=0, reason="too little data"),
                 "band": str(r.health_band), "churn risk": _percent(r.churn_probability)}
                for r in history.itertuples()]
        blocks.append(Table("history", list(rows[0]), ["health score", "churn risk"], rows[::-1],
                            caption=f"Every run that scored the account ({len(rows)}), newest first."))
    return blocks


def _measures(row: pd.Series, indicators: pd.Series | None, scorecard) -> list:
    card = scorecard.for_segment(row.get("segment"))
    rows = []
    for measure in card.measures:
        value = None if indicators is None else indicators.get(measure.indicator)
        points = row.get(f"measure_{measure.name}")
        rows.append({
            "group": measure.group,
            "measure": measure.label,
            "value": ("n/a (pass --metrics-from to read it)" if indicators is None else
                      "n/a (no data)" if is_missing(value) else measure.format_value(float(value))),
            "points (0-100)": format_value(points, digits=0, reason="no data"),
            "poor / good": f"{measure.format_value(measure.poor)} / {measure.format_value(measure.good)}",
        })
    return [Table("measures", list(rows[0]), ["value", "points (0-100)"], rows,
                  caption="Each measure of the account's scorecard: the value read as of the run, "
                          "and the points it earns (0 at poor, 100 at good).")] if rows else [
        Text("n/a (the scorecard has no measures)")]


def _events(tables: Tables | None, account_id: str, as_of: pd.Timestamp) -> list[Section]:
    sections = []
    for table, (title, when, columns) in _EVENTS.items():
        frame = None if tables is None else getattr(tables, table, None)
        if tables is None:
            blocks = [Text("n/a (pass --metrics-from DIR: the input tables hold them)")]
        elif frame is None:
            blocks = [Text(f"n/a (there is no {table} table)")]
        else:
            if "account_id" not in frame.columns:  # returns name their order, not the account
                owners = tables.orders.set_index("order_id")["account_id"] if tables.orders is not None else {}
                frame = frame.assign(account_id=frame["order_id"].map(owners))
            mine = frame[(frame["account_id"] == account_id) & (frame[when] < as_of)]
            mine = mine.sort_values(when, ascending=False)
            shown = mine.head(RECENT_ROWS)[[c for c in columns if c in mine.columns]]
            if shown.empty:
                blocks = [Text(f"None before {as_of:%d %b %Y}.")]
            else:
                cells = shown.astype(object).where(shown.notna(), "")
                for column in cells.columns:
                    if pd.api.types.is_datetime64_any_dtype(shown[column]):
                        cells[column] = [f"{v:%Y-%m-%d %H:%M}" if not is_missing(v) else "" for v in shown[column]]
                cells.columns = [str(c).replace("_", " ") for c in cells.columns]
                blocks = [Table.from_frame(table, cells, caption=f"The latest {len(shown)} of {len(mine)}.")]
        sections.append(Section(table, title, None, blocks))
    return sections


def account_report(scores: ScoresFile, account_id: str, *, tables: Tables | None = None) -> Report:
    """One account's page as plain data.

    Raises
    ------
    UnknownAccountError
        When the scores file has no row for ``account_id``.
    """
    from features.scorecard_config import load_scorecard

    frame = scores.scores
    found = frame[frame["account_id"].astype(str) == str(account_id)]
    if found.empty:
        near = sorted(frame["account_id"].astype(str))[:5]
        raise UnknownAccountError(f"account {account_id!r} is not in {scores.name} ({len(frame):,} accounts, "
                          f"e.g. {', '.join(near)}); fix: give an id of an account active on the run's date")
    row = found.iloc[-1]
    meta = scores.metadata
    as_of = pd.Timestamp(meta["as_of"]) if meta.get("as_of") else pd.Timestamp(row["as_of"])
    indicators, mrr, owner = None, np.nan, None
    if tables is not None:
        from features.indicators import compute_indicators

        accounts = tables.accounts.set_index("account_id")
        if account_id in accounts.index:
            mrr = accounts.at[account_id, "mrr"] if "mrr" in accounts else np.nan
            owner = accounts.at[account_id, "owner"] if "owner" in accounts else None
        computed = compute_indicators(tables, as_of)
        indicators = computed.loc[account_id] if account_id in computed.index else None
    scorecard = load_scorecard(meta["scorecard"]) if Path(str(meta.get("scorecard"))).is_file() else load_scorecard()
    palette = band_palette(frame)
    history = _history(scores, str(account_id))
    drivers = [{"what pulls the score down": driver_texts(row.get("health_drivers")),
                "what drives the churn risk": driver_texts(row.get("churn_drivers"), meta.get(TYPICAL_KEY))}]
    sections = [
        Section("account", "Health and churn risk", None,
                _summary(row, history, palette, meta.get("currency"), mrr)),
        Section("drivers", "Why", None, [Table("drivers", list(drivers[0]), [], drivers)]),
        Section("measures", "Every measure", None, _measures(row, indicators, scorecard)),
        *_events(tables, str(account_id), as_of),
    ]
    who = [f"segment {row['segment']}" if not is_missing(row.get("segment")) else None,
           f"owner {owner}" if not is_missing(owner) else None, f"as of {as_of:%d %b %Y}"]
    return Report(f"Account {account_id}", ", ".join(w for w in who if w), f"From {scores.name}.",
                  sections)


def build_account_page(scores_path: str | os.PathLike, account_id: str, *, tables: Tables | None = None,
                       out: str | os.PathLike, as_of: pd.Timestamp | None = None) -> Path:
    """Write one account's page as a self-contained HTML file (atomically).

    ``scores_path`` is a scores file, or a database output of ``score`` whose run of
    ``as_of`` (the latest when None) is shown.
    """
    from serving.report.inputs import read_scores
    from serving.report.render import render_report, write_html

    report = account_report(read_scores(scores_path, as_of), str(account_id), tables=tables)
    return write_html(render_report(report, {}), out)
