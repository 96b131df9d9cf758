"""``history``: one account's scores, bands, churn risk and drivers over time."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from features.values import json_safe
from serving.commands.options import date_option
from serving.errors import InvalidInput, UserError, report_errors
from serving.history import AccountHistory, HistoryError, account_history, plot_history
from serving.scores_file import drivers_text

HISTORY_HELP = (
    "Show one account's health score, band, trend, churn probability, risk band and drivers "
    "over time, one row per scoring run.\n\n"
    "--from is a database output of `customer-health score` (the URL given to its --out) or "
    "a folder of its scores files. --plot draws the same as a PNG."
)
HISTORY_EPILOG = (
    "Examples:\n\n"
    "  customer-health history A000042 --from runs/\n\n"
    "  customer-health history A000042 --from 'postgresql://cs:${PGPASSWORD}@db:5432/crm/scores' "
    "--start 2026-01-01 --plot A000042.png\n\n"
    "  customer-health history A000042 --from runs/ --format json\n\n"
    "${VAR} in a URL reads the environment; passwords are never printed. Exit code 2 when "
    "the source cannot be read or holds no scores of the account."
)


class HistoryFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _percent(value) -> str:
    return "-" if pd.isna(value) else f"{100 * float(value):.0f}%"


def _score(value) -> str:
    return "-" if pd.isna(value) else f"{float(value):.0f}"


def _text(value) -> str:
    return value if isinstance(value, str) and value else "-"


def _print_table(console: Console, history: AccountHistory) -> None:
    table = Table(title=f"Account {history.account_id} in {history.source}",
                  title_justify="left")
    for column in ("as of", "health", "band", "trend", "churn", "risk", "drivers"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("health", "churn") else "left")
    for _, row in history.rows.iterrows():
        band = _text(row["health_band"]).replace("[", r"\[")
        color = row["health_color"]
        table.add_row(
            f"{row['as_of']:%Y-%m-%d}", _score(row["health_score"]),
            f"[{color}]{band}[/]" if isinstance(color, str) and color.startswith("#") else band,
            _text(row["health_trend"]), _percent(row["churn_probability"]),
            _text(row["risk_band"]), drivers_text(row),
        )
    console.print(table)


def _records(history: AccountHistory) -> list[dict]:
    rows = history.rows.assign(as_of=history.rows["as_of"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    records = []
    for record in rows.to_dict("records"):
        for column in ("health_drivers", "churn_drivers"):
            raw = record.get(column)
            record[column] = json.loads(raw) if isinstance(raw, str) and raw else None
        records.append({key: json_safe(value) for key, value in record.items()})
    return records


def history(
    account_id: str = typer.Argument(..., help="The account's id, as in the scores (text)."),
    source: str = typer.Option(
        ..., "--from", help="A database output of `score` (postgresql://user@host/db/TABLE) "
        "or a folder of its scores files."
    ),
    start: str | None = typer.Option(None, "--start", help="First as-of date to show (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Show as-of dates before this day only."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the history as a PNG file."),
    output: HistoryFormat = typer.Option(
        HistoryFormat.table, "--format", "-f", help="table for people, json or csv for scripts."
    ),
) -> None:
    """Show one account's scores over time."""
    with report_errors():
        try:
            start_at = date_option(start, "--start") if start is not None else None
            end_at = date_option(end, "--end") if end is not None else None
        except UserError as exc:  # a date that cannot be read is invalid input: exit 2
            raise InvalidInput(str(exc)) from None
        if plot is not None and plot.suffix.lower() != ".png":
            raise InvalidInput(f"--plot {plot}: give a .png file name")
        try:
            found = account_history(source, account_id, start=start_at, end=end_at)
        except HistoryError as exc:
            raise InvalidInput(str(exc)) from None
        console = Console(highlight=False, soft_wrap=output is not HistoryFormat.table)
        if output is HistoryFormat.json:
            typer.echo(json.dumps({"account_id": account_id, "source": found.source,
                                   "runs": _records(found)}, indent=2, ensure_ascii=False))
        elif output is HistoryFormat.csv:
            typer.echo(found.rows.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S"), nl=False)
        else:
            _print_table(console, found)
        if plot is not None:
            written = plot_history(found, plot)
            Console(stderr=True, highlight=False).print(f"drew the history to {written}")


def register(app: typer.Typer) -> None:
    """Add ``history`` to the CLI."""
    app.command("history", help=HISTORY_HELP, epilog=HISTORY_EPILOG)(history)
