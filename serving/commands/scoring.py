"""``score``: the nightly batch job (``serve`` is in :mod:`serving.commands.serve`)."""

from __future__ import annotations

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

from features.problems import visible
from features.scorecard import ScorecardConfigError
from features.scorecard_config import load_scorecard
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
from serving.errors import EXIT_INVALID_INPUT, UserError, report_errors
from serving.scores_file import RISKIEST, drivers_text, riskiest

SCORE_HELP = (
    "Score every account active at --as-of: health score and band, churn probability, risk "
    "band and drivers, plus a call-to-action list of alerts.\n\n"
    "Writes FILE (one row per account), <stem>.alerts.<format> next to it (band got worse "
    "since --previous, crossed into red, churn risk rose by more than --risk-rise) and "
    "FILE.meta.json (as-of date, model, data fingerprint, package version, time taken). "
    "The three files are replaced together or not at all; invalid input stops the run "
    "before anything is written.\n\n"
    "--out may also be a database URL (postgresql://user@host:5432/db/TABLE): the scores, "
    "alerts (TABLE_alerts) and run metadata (TABLE_runs) are written in one transaction, "
    "keyed by (account_id, as_of); a re-run for a date replaces that date's rows and keeps "
    "the others, the score history `customer-health history` reads."
)
SCORE_EPILOG = (
    "Examples:\n\n"
    "  customer-health score demo/data --as-of 2026-06-30 --out runs/2026-06-30.parquet\n\n"
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
class InvalidPrevious(UserError):
    """The previous run cannot be read: invalid input, exit code 2."""

    exit_code = EXIT_INVALID_INPUT


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


def _print_summary(console: Console, result: BatchResult) -> None:
    meta = result.metadata
    if meta.get("previous_missing"):
        console.print("[yellow]warning[/]: " + escape(meta['previous_missing']))
    if not meta["accounts"]:
        console.print(f"[yellow]no account is active at {meta['as_of'][:10]}[/]: every "
                      "account signed up later or churned before; check --as-of")
    table = Table(title=f"The {min(RISKIEST, len(result.scores))} riskiest accounts as of "
                        f"{meta['as_of'][:10]}", show_lines=False)
    for column in ("account", "churn", "risk", "health", "band", "drivers"):
        table.add_column(column, overflow="fold")
    for _, row in riskiest(result.scores).iterrows():
        churn = row["churn_probability"]
        health = row["health_score"]
        table.add_row(
            visible(str(row["account_id"])),
            "-" if pd.isna(churn) else f"{100 * churn:.0f}%",
            row["risk_band"] if isinstance(row["risk_band"], str) else "-",
            "-" if pd.isna(health) else f"{health:.0f}",
            str(row["health_band"]),
            drivers_text(row),
        )
    console.print(table)
    model = meta.get("model")
    if model:
        console.print(f"churn model: {model_label(model)}")
        for warning in meta.get("model_warnings", []):
            console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    else:
        console.print(f"[yellow]churn risk not scored[/]: {meta['churn_unavailable']}")
    if result.sink is not None:
        console.print(
            f"wrote {meta['accounts']:,} accounts and {meta['alerts']:,} alerts to "
            f"{result.sink}, run {meta['run_id']} ({meta['seconds']:.1f} s)", markup=False,
        )
        return
    console.print(
        f"wrote {meta['accounts']:,} accounts to {result.paths['scores']}, "
        f"{meta['alerts']:,} alerts to {result.paths['alerts']}, metadata to "
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
        None, "--scorecard", help="Scorecard TOML; default the shipped scorecard."
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
        try:
            card = load_scorecard(scorecard) if scorecard is not None else None
        except (ScorecardConfigError, FileNotFoundError) as exc:
            raise UserError(str(exc)) from None
        if engine is Engine.spark:
            from serving.commands.spark_runs import score_on_spark

            try:
                score_on_spark(folder, mapping, out, stamp, model_uri=model, previous=previous,
                               card=card, risk_rise=risk_rise, master=spark_master,
                               buckets=buckets)
            except NoModelError as exc:
                raise UserError(str(exc)) from None
            return
        progress = Progress(
            TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        with progress:
            task = progress.add_task(STEPS[0], total=len(STEPS))

            def advance(step: int, name: str) -> None:
                progress.update(task, completed=step - 1, description=name)

            try:
                result = run_batch(
                    folder, stamp, out, model_uri=model, previous=previous,
                    fmt=fmt.value if fmt else None, mapping=mapping, risk_rise=risk_rise,
                    scorecard=card, progress=advance,
                )
            except PreviousRunError as exc:
                raise InvalidPrevious(str(exc)) from None
            except (BatchInputError, NoModelError) as exc:
                raise UserError(str(exc)) from None
            except OSError as exc:  # a full disk, a read-only folder: nothing was replaced
                raise UserError(f"could not write the output next to {out}: {exc}; "
                                "the previous files, if any, are unchanged") from None
            progress.update(task, completed=len(STEPS))
        _print_summary(console, result)


def register(app: typer.Typer) -> None:
    """Add ``score`` to the CLI."""
    app.command("score", help=SCORE_HELP, epilog=SCORE_EPILOG)(score)
