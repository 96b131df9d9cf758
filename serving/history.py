"""The score history of one account: from a database sink or a folder of scores files.

Each run of ``customer-health score`` leaves one row per account and as-of date, in a
database (:mod:`serving.scores_db`) or in a scores file (:mod:`serving.scores_file`).
:func:`account_history` gathers one account's rows over time, oldest first, one per as-of
date; :func:`plot_history` draws them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.db_url import is_database_url
from features.io import write_atomically
from serving import scores_db
from serving.scores_file import read_account, scores_files

#: What the history shows of each run, in this order.
HISTORY_COLUMNS = (
    "as_of", "health_score", "health_band", "health_color", "health_trend", "health_delta",
    "churn_probability", "risk_band", "health_drivers", "churn_drivers",
)


class HistoryError(ValueError):
    """No history to show: the message names the source and what to check."""


@dataclass(frozen=True)
class AccountHistory:
    """One account's scores over time.

    Attributes
    ----------
    account_id : str
    source : str
        Where they were read (a folder, or a database with its password masked).
    rows : DataFrame
        One row per as-of date, oldest first, columns :data:`HISTORY_COLUMNS`.
    """

    account_id: str
    source: str
    rows: pd.DataFrame


def account_history(
    source: str | os.PathLike | scores_db.DatabaseSink, account_id: str, *, start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> AccountHistory:
    """One account's scores, bands, churn risk and drivers over time.

    Parameters
    ----------
    source : str, path or DatabaseSink
        A database output of ``score`` (its URL, or the sink parsed from it) or a folder of
        its scores files.
    account_id : str
    start, end : Timestamp, optional
        Only as-of dates in ``[start, end)``.

    Raises
    ------
    HistoryError
        When the folder holds no scores files or no run scored the account.
    features.db_url.DatabaseError
        When the database cannot be read.
    """
    if isinstance(source, scores_db.DatabaseSink) or is_database_url(source):
        sink = source if isinstance(source, scores_db.DatabaseSink) else scores_db.parse_sink(str(source), "--from")
        rows = scores_db.read_account(sink, account_id, start=start, end=end)
        described = str(sink)
        if rows.empty:
            dates = scores_db.run_dates(sink)
            searched = (f"{len(dates)} as-of date(s)" + (
                f", {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}" if dates else ""))
    else:
        files = _scores_files(Path(source))
        rows = _within(_from_files(files, account_id), start, end)
        described = str(source)
        searched = f"{len(files)} scores file(s)"
    if rows.empty:
        raise HistoryError(_not_found(account_id, described, searched, start, end))
    rows = rows.sort_values("as_of", kind="stable").reset_index(drop=True)
    return AccountHistory(account_id, described, _plain(rows))


_NUMBERS = ("health_score", "health_delta", "churn_probability")


def _plain(rows: pd.DataFrame) -> pd.DataFrame:
    """The history columns with one type each, whatever the source: files and databases
    hand back missing text as NaN, None or NA."""
    out = pd.DataFrame({"as_of": pd.to_datetime(rows["as_of"]).astype("datetime64[ns]")})
    for column in HISTORY_COLUMNS[1:]:
        values = rows[column] if column in rows else pd.Series(None, index=rows.index, dtype=object)
        if column in _NUMBERS:
            out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            out[column] = values.astype(object).where(values.notna(), None)
    return out


def _scores_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise HistoryError(
            f"--from {folder} is neither a folder of scores files nor a database URL; fix: give "
            "the folder that `customer-health score --out` writes into, or postgresql://.../TABLE"
        )
    files = scores_files(folder)
    if not files:
        raise HistoryError(
            f"{folder} holds no scores files; fix: give the folder that "
            "`customer-health score --out FOLDER/DATE.parquet` writes into"
        )
    return files


def _from_files(files: list[Path], account_id: str) -> pd.DataFrame:
    """The account's rows of every run; a date scored twice keeps the newer file's row."""
    found = [read_account(path, account_id)
             for path in sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))]
    found = [rows for rows in found if len(rows)]
    if not found:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    return pd.concat(found, ignore_index=True).drop_duplicates("as_of", keep="last")


def _within(rows: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    when = pd.to_datetime(rows["as_of"])
    keep = pd.Series(True, index=rows.index)
    if start is not None:
        keep &= when >= start
    if end is not None:
        keep &= when < end
    return rows[keep]


def _not_found(account_id: str, source: str, searched: str, start, end) -> str:
    period = ""
    if start is not None or end is not None:
        low = "the first run" if start is None else f"{start:%Y-%m-%d}"
        high = "the last run" if end is None else f"{end:%Y-%m-%d}"
        period = f" from {low} to {high}"
    return (
        f"account {account_id!r} has no scores in {source}{period} ({searched} searched); "
        "fix: check the id (it is compared as text, so 00123 and 123 differ) and the period"
    )


# --- the plot ------------------------------------------------------------------------


def plot_history(history: AccountHistory, path: str | os.PathLike) -> Path:
    """Draw the health score (coloured by band) and the churn probability over time as a PNG.

    The file is written atomically. Runs without a score (insufficient data) leave a gap.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = history.rows
    figure, health_axis = plt.subplots(figsize=(8, 3.6), dpi=110)
    health_axis.plot(rows["as_of"], rows["health_score"], color="#555555", linewidth=1.2, zorder=1)
    colors = rows["health_color"].where(rows["health_color"].notna(), "grey")
    health_axis.scatter(rows["as_of"], rows["health_score"], c=list(colors), s=36, zorder=2,
                        label="health score (band colour)")
    health_axis.set_ylim(0, 100)
    health_axis.set_ylabel("health score (0-100)")
    handles = [health_axis.collections[0]]
    if rows["churn_probability"].notna().any():
        risk_axis = health_axis.twinx()
        (line,) = risk_axis.plot(rows["as_of"], 100 * rows["churn_probability"].astype(float),
                                 color="#1f77b4", linestyle="--", marker="s", markersize=3,
                                 label="churn probability (%)")
        risk_axis.set_ylim(0, 100)
        risk_axis.set_ylabel("churn probability (%)")
        handles.append(line)
    health_axis.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    health_axis.set_title(f"Account {history.account_id}: health and churn risk over time",
                          fontsize=10)
    figure.autofmt_xdate()
    figure.tight_layout()

    def write(tmp: Path) -> None:
        figure.savefig(tmp, format="png")

    try:
        return write_atomically(path, write)
    finally:
        plt.close(figure)
