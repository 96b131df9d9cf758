"""``score``: the nightly batch job (``serve`` is in :mod:`serving.commands.serve`)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from features.churn_definition import ChurnDefinition
from features.problems import visible
from features.scorecard import ScorecardConfigError
from features.scorecard_config import load_scorecard
from serving.backfill import BackfillWorkerError, backfill_dates, run_backfill
from serving.batch import (
    STEPS,
    BatchInputError,
    BatchResult,
    PreviousRunError,
    run_batch,
)
from serving.commands.options import (
    BucketsOption,
    Engine,
    EngineOption,
    MappingOption,
    SparkMasterOption,
    TablesFolder,
    date_option,
)
from serving.errors import InvalidInput, UserError, report_errors

#: Accounts of the call list printed by ``score`` (the whole list is in the alerts file).
PRINTED_CALLS = 15

SCORE_HELP = (
    "Score every account active at --as-of: health score and band, churn probability, risk "
    "band and drivers, plus the call list: who to call, and why.\n\n"
    "Writes FILE (one row per account), <stem>.alerts.<format> next to it (the call list: "
    "one row per account whose band got worse since --previous, that crossed into red, whose "
    "churn risk rose by more than --risk-rise or that fell from red to too little data; most "
    "revenue at stake first) and FILE.meta.json (as-of date, model, data fingerprint, package "
    "version, time taken). The three files are replaced together or not at all; invalid "
    "input stops the run before anything is written. --out FOLDER (no suffix) keeps every "
    "run: FOLDER/<as-of>/scores.parquet, the history the report's sparklines read.\n\n"
    "--out may also be a database URL (postgresql://user@host:5432/db/TABLE): the scores, "
    "alerts (TABLE_alerts) and run metadata (TABLE_runs) are written in one transaction, "
    "keyed by (account_id, as_of); a re-run for a date replaces that date's rows and keeps "
    "the others, the score history `customer-health history` reads.\n\n"
    "Backfill: with --until, every date from --as-of to --until, --every days apart (7d by "
    "default), is scored in one run that reads the tables once (runs of consecutive dates "
    "side by side in --workers processes); each date is written as its own run (FILE with "
    "the date in its name, e.g. scores-2026-06-30.parquet), the same as a run of that date "
    "alone."
)
SCORE_EPILOG = (
    "Examples:\n\n"
    "  customer-health score demo/data --as-of 2026-06-30 --out runs/2026-06-30.parquet\n\n"
    "  customer-health score exports/ --mapping mapping.toml --as-of 2026-07-01 --out runs/ "
    "--previous auto --currency EUR --quiet\n\n"
    "  customer-health score exports/ --as-of 2026-07-01 --out runs/2026-07-01.parquet "
    "--previous runs/2026-06-30.parquet --risk-rise 0.15 --mapping mapping.toml\n\n"
    "  customer-health score demo/data --as-of 2026-06-30 --out scores.csv --model "
    "models:/customer-health-churn/3\n\n"
    "  customer-health score --mapping warehouse.toml --as-of 2026-07-01 "
    "--out 'postgresql://cs:${PGPASSWORD}@db:5432/crm/scores' "
    "--previous 'postgresql://cs:${PGPASSWORD}@db:5432/crm/scores'\n\n"
    "Without --model the champion (models:/customer-health-churn@champion) scores churn; when "
    "none is registered the health scores are still written and the churn columns are empty, "
    "with the reason in the metadata. The model store is MLFLOW_TRACKING_URI (default "
    "./mlflow.db). docs/service.md shows a nightly cron line. ${VAR} in a URL reads the "
    "environment; passwords are never printed."
)
class OutputFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


def model_label(model: dict) -> str:
    """The model that scored, in words: registered name and version, else its URI.

    Examples
    --------
    >>> model_label({"name": "churn", "version": "3", "alias": "champion", "uri": "models:/churn@champion"})
    'churn v3 (@champion)'
    >>> model_label({"name": None, "version": "None", "alias": None, "uri": "/srv/models/churn"})
    'the model at /srv/models/churn (not from the registry: no name or version)'
    """
    if not model.get("name"):
        return f"the model at {model['uri']} (not from the registry: no name or version)"
    alias = f" (@{model['alias']})" if model.get("alias") else ""
    return f"{model['name']} v{model['version']}{alias}"


def _money(value: float, currency: str | None) -> str:
    return "-" if pd.isna(value) else f"{value:,.0f}" + (f" {currency}" if currency else "")


def one_line_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                   width: int, left: Collection[int]) -> Table:
    """A table of one line per row, nothing wrapped: the short columns keep their full width
    and only the last one (the words, which can be long) is cut with an ellipsis to fit
    ``width`` (the terminal's). ``left`` holds the indices of the left-aligned columns.
    """
    widths = [max([len(header)] + [len(r[i]) for r in rows]) for i, header in enumerate(headers[:-1])]
    room = max(width - sum(widths) - 2 * len(widths) - 1, 10)
    rows = [(*r[:-1], r[-1] if len(r[-1]) <= room else r[-1][:room - 1] + "…") for r in rows]
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i in left else "right", no_wrap=True,
                         min_width=widths[i] if i < len(widths) else None)
    for r in rows:
        table.add_row(*r)
    return table


def call_list_table(calls: pd.DataFrame, as_of: str, limit: int = PRINTED_CALLS, *,
                    width: int = 120) -> Table:
    """The first ``limit`` accounts of the call list, one line each (:func:`one_line_table`);
    the whole list, with every reason and driver, is the alerts file.
    """
    shown = calls.head(limit)
    rows = []
    for row in shown.to_dict(orient="records"):
        churn, score = row["churn_probability"], row["health_score"]
        rows.append((
            str(row["rank"]), visible(str(row["account_id"]))[:18],
            "-" if not isinstance(row["owner"], str) else visible(row["owner"])[:14],
            "-" if pd.isna(churn) else f"{100 * churn:.0f}%",
            "-" if pd.isna(score) else f"{score:.0f} {row['health_band']}",
            _money(row["revenue_at_stake"], row["currency"]),
            visible(str(row["reasons"])),
        ))
    return one_line_table(
        f"Call first: {len(shown)} of {len(calls):,} account(s) to call as of {as_of[:10]}",
        ("#", "account", "owner", "churn", "score", "at stake/mo", "why"), rows,
        width=width, left=(1, 2, 6))


def _print_warnings(console: Console, meta: dict) -> None:
    if meta.get("previous_missing"):
        console.print("[yellow]warning[/]: " + escape(meta['previous_missing']))
    if not meta["accounts"]:
        console.print(f"[yellow]no account is active at {meta['as_of'][:10]}[/]: every "
                      "account signed up later or churned before; check --as-of")
    for warning in meta.get("model_warnings", []):
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    migrated = meta.get("migrated_alerts")
    if migrated:  # once, on the first run into a database an older version wrote
        console.print(
            f"migrated {migrated['table']} to the call list: its {migrated['rows']:,} alert rows "
            f"became {migrated['call_list_rows']:,} call list rows; the old table is kept as "
            f"{migrated['backup']} (drop it once you no longer need it)", markup=False)


def _print_summary(console: Console, result: BatchResult) -> None:
    meta = result.metadata
    _print_warnings(console, meta)
    if len(result.alerts):
        console.print(call_list_table(result.alerts, meta["as_of"], width=console.width))
    else:
        console.print("nobody to call: no account got worse since the previous run")
    churn = ChurnDefinition.from_metadata(meta).describe()
    console.print(f"scorecard: {meta['scorecard']} ({churn})", markup=False, highlight=False)
    for table, measures in (meta.get("measures_without_data") or {}).items():
        console.print(f"[yellow]no data at all[/] for measure(s) {', '.join(measures)} ({table}): "
                      "their weight went to the other measures", highlight=False)
    model = meta.get("model")
    if model:
        console.print(f"churn model: {model_label(model)}")
    else:
        console.print(f"[yellow]churn risk not scored[/]: {meta['churn_unavailable']}")
    if result.sink is not None:
        console.print(
            f"wrote {meta['accounts']:,} accounts and {meta['alerts']:,} to call to "
            f"{result.sink}, run {meta['run_id']} ({meta['seconds']:.1f} s)", markup=False,
        )
        return
    console.print(
        f"wrote {meta['accounts']:,} accounts to {result.paths['scores']}, the call list "
        f"({meta['alerts']:,} accounts) to {result.paths['alerts']}, metadata to "
        f"{result.paths['metadata']} ({meta['seconds']:.1f} s)"
    )


def score(
    folder: TablesFolder = None,
    as_of: str = typer.Option(..., "--as-of", help="Score as of this date (YYYY-MM-DD); only earlier rows count."),
    out: str = typer.Option(
        ..., "--out", "-o", help="Scores file (.parquet or .csv), or a database URL "
        "(postgresql://user@host/db/TABLE)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="MLflow model URI; default models:/customer-health-churn@champion."
    ),
    previous: str | None = typer.Option(
        None, "--previous", help="A previous output of this command (trends and alerts), or "
        "'auto': the latest earlier run next to --out (or in the --out database). A database "
        "output gives its latest date before --as-of. A missing one is a warning.",
    ),
    fmt: OutputFormat | None = typer.Option(
        None, "--format", "-f", help="Output format; default from the --out suffix."
    ),
    risk_rise: float = typer.Option(
        0.10, "--risk-rise", help="Alert when churn probability rose by more than this (0-1)."
    ),
    mapping: MappingOption = None,
    scorecard: Path | None = typer.Option(
        None, "--scorecard", help="Scorecard TOML; default the shipped one that fits the churn definition (a shop's under a lapse)."
    ),
    currency: str | None = typer.Option(
        None, "--currency", help="Currency of accounts.mrr shown on the call list (EUR, USD, ...); "
        "default the mapping file's currency."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only warnings and errors (for cron): no progress, no list."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Backfill: score every --every days from --as-of up to this "
        "date (YYYY-MM-DD) in one run that reads the tables once, one output per date."
    ),
    every: str = typer.Option("7d", "--every", help="Days between backfill dates with --until, e.g. 7d."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Backfill: processes scoring dates side by side (default "
        "one per core, at least 4 dates each). The workers share the tables read; each adds one "
        "date's work (3.8 GB in all with 2 workers at 100,000 accounts). A database --out is "
        "written by one."
    ),
    engine: EngineOption = Engine.pandas,
    spark_master: SparkMasterOption = None,
    buckets: BucketsOption = 64,
) -> None:
    """Score every active account and write scores, alerts and run metadata."""
    from models.registry import NoModelError

    console = Console(highlight=False)
    with report_errors():
        # A bad date is named by its option before any table is read.
        stamp = date_option(as_of, "--as-of")
        card = _scorecard(scorecard)
        if engine is Engine.spark:
            from serving.commands.spark_runs import score_on_spark

            if until is not None:
                raise InvalidInput("--until (a backfill) runs on the pandas engine only; "
                                   "fix: leave out --engine spark, or score one date at a time")
            try:
                score_on_spark(folder, mapping, out, stamp, model_uri=model, previous=previous,
                               card=card, risk_rise=risk_rise, master=spark_master,
                               buckets=buckets, currency=currency)
            except NoModelError as exc:
                raise UserError(str(exc)) from None
            return
        if until is not None:
            try:
                dates = backfill_dates(stamp, date_option(until, "--until"), _days(every))
            except BatchInputError as exc:
                raise InvalidInput(str(exc)) from None
            _backfill(console, folder, dates, out, model=model, previous=previous, fmt=fmt,
                      risk_rise=risk_rise, mapping=mapping, card=card, currency=currency,
                      workers=workers)
            return
        progress = Progress(
            TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True, disable=quiet,
        )
        with progress:
            task = progress.add_task(STEPS[0], total=len(STEPS))

            def advance(step: int, name: str) -> None:
                progress.update(task, completed=step - 1, description=name)

            with _batch_errors(out, "the previous files, if any, are unchanged"):
                result = run_batch(
                    folder, stamp, out, model_uri=model, previous=previous,
                    fmt=fmt.value if fmt else None, mapping=mapping, risk_rise=risk_rise,
                    scorecard=card, progress=advance, currency=currency,
                )
            progress.update(task, completed=len(STEPS))
        if quiet:
            _print_warnings(Console(stderr=True, highlight=False), result.metadata)
        else:
            _print_summary(console, result)


@contextmanager
def _batch_errors(out: str, when_writing_fails: str):
    """The batch job's errors as the CLI reports them (exit 2 for the user's input)."""
    from models.registry import NoModelError

    try:
        yield
    except PreviousRunError as exc:
        raise InvalidInput(str(exc)) from None
    except BackfillWorkerError as exc:
        raise UserError(str(exc)) from None
    except (BatchInputError, NoModelError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:  # a full disk, a read-only folder: nothing was replaced
        raise UserError(f"could not write the output next to {out}: {exc}; "
                        f"{when_writing_fails}") from None


def _scorecard(path: Path | None):
    try:
        return load_scorecard(path) if path is not None else None
    except (ScorecardConfigError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None


def _days(text: str) -> int:
    """``--every`` in days: ``7d`` or ``7``."""
    match = re.fullmatch(r"\s*(\d+)\s*d?\s*", text)
    if match is None or int(match.group(1)) < 1:
        raise InvalidInput(f"--every: could not read {text!r} as a number of days; "
                        "fix: give whole days of at least 1, e.g. 7d")
    return int(match.group(1))


def _backfill(console: Console, folder, dates, out: str, *, model, previous, fmt, risk_rise,
              mapping, card, currency, workers) -> None:
    progress = Progress(
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
    )
    with progress:
        task = progress.add_task("read and validate", total=len(dates))

        def advance(done: int, date: pd.Timestamp) -> None:
            progress.update(task, completed=done, description=f"as of {date:%Y-%m-%d}")

        with _batch_errors(out, "the runs written before it are kept"):
            results = run_backfill(
                folder, dates, out, model_uri=model, previous=previous,
                fmt=fmt.value if fmt else None, mapping=mapping, risk_rise=risk_rise,
                scorecard=card, progress=advance, currency=currency, workers=workers,
            )
        progress.update(task, completed=len(dates))
    table = Table(title=f"{len(results)} runs from {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}")
    for column in ("as of", "accounts", "alerts", "written to"):
        table.add_column(column, overflow="fold")
    for result in results:
        meta = result.metadata
        table.add_row(meta["as_of"][:10], f"{meta['accounts']:,}", f"{meta['alerts']:,}",
                      escape(result.sink or str(result.paths["scores"])))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``score`` to the CLI."""
    app.command("score", help=SCORE_HELP, epilog=SCORE_EPILOG)(score)
