"""``score`` and ``serve``: the nightly batch job and the HTTP service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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

from features.scorecard import ScorecardConfigError
from features.scorecard_config import load_scorecard
from serving.batch import STEPS, BatchInputError, BatchResult, run_batch
from serving.commands.options import MappingOption, TablesFolder, date_option
from serving.errors import UserError, report_errors
from serving.scores_file import RISKIEST, riskiest

SCORE_HELP = (
    "Score every account active at --as-of: health score and band, churn probability, risk "
    "band and drivers, plus a call-to-action list of alerts.\n\n"
    "Writes FILE (one row per account), <stem>.alerts.<format> next to it (band got worse "
    "since --previous, crossed into red, churn risk rose by more than --risk-rise) and "
    "FILE.meta.json (as-of date, model, data fingerprint, package version, time taken). "
    "The three files are replaced together or not at all; invalid input stops the run "
    "before anything is written."
)
SCORE_EPILOG = (
    "Examples:\n\n"
    "  customer-health score demo/ --as-of 2026-06-30 --out runs/2026-06-30.parquet\n\n"
    "  customer-health score exports/ --as-of 2026-07-01 --out runs/2026-07-01.parquet "
    "--previous runs/2026-06-30.parquet --risk-rise 0.15 --mapping mapping.toml\n\n"
    "  customer-health score demo/ --as-of 2026-06-30 --out scores.csv --model "
    "models:/customer-health-churn/3\n\n"
    "Without --model the champion (models:/customer-health-churn@champion) scores churn; when "
    "none is registered the health scores are still written and the churn columns are empty, "
    "with the reason in the metadata. The model store is MLFLOW_TRACKING_URI (default "
    "./mlflow.db). docs/service.md shows a nightly cron line."
)
SERVE_HELP = (
    "Start the HTTP service (BentoML): /health_score, /churn_risk, /score, /model, plus "
    "/livez, /readyz and /metrics.\n\n"
    "The service loads the model once at start-up: restart it to pick up a new champion. "
    "It starts and answers /health_score even when no model is registered yet."
)
SERVE_EPILOG = (
    "Examples:\n\n"
    "  customer-health serve\n\n"
    "  customer-health serve --port 8080 --host 0.0.0.0 --model models:/customer-health-churn@champion\n\n"
    "  customer-health serve --workers 2 --max-batch 500\n\n"
    "  MLFLOW_TRACKING_URI=http://mlflow:5000 customer-health serve --scorecard my_scorecard.toml\n\n"
    "Then: curl -s localhost:3000/health_score -H 'content-type: application/json' "
    "-d '{\"accounts\": [{\"account_id\": \"A1\", \"csat_90d\": 62.5}]}'. "
    "docs/service.md lists every endpoint."
)


class OutputFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


def _drivers_text(row: pd.Series) -> str:
    for column in ("churn_drivers", "health_drivers"):
        raw = row.get(column)
        if isinstance(raw, str) and raw:
            texts = [d.get("text", "") for d in json.loads(raw)]
            if texts:
                return "; ".join(texts)
    return ""


def _print_summary(console: Console, result: BatchResult) -> None:
    meta = result.metadata
    table = Table(title=f"The {min(RISKIEST, len(result.scores))} riskiest accounts as of "
                        f"{meta['as_of'][:10]}", show_lines=False)
    for column in ("account", "churn", "risk", "health", "band", "drivers"):
        table.add_column(column, overflow="fold")
    for _, row in riskiest(result.scores).iterrows():
        churn = row["churn_probability"]
        health = row["health_score"]
        table.add_row(
            str(row["account_id"]),
            "-" if pd.isna(churn) else f"{100 * churn:.0f}%",
            row["risk_band"] if isinstance(row["risk_band"], str) else "-",
            "-" if pd.isna(health) else f"{health:.0f}",
            str(row["health_band"]),
            _drivers_text(row),
        )
    console.print(table)
    model = meta.get("model")
    if model:
        console.print(f"churn model: {model['name']} v{model['version']}"
                      + (f" (@{model['alias']})" if model.get("alias") else ""))
        for warning in meta.get("model_warnings", []):
            console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    else:
        console.print(f"[yellow]churn risk not scored[/]: {meta['churn_unavailable']}")
    console.print(
        f"wrote {meta['accounts']:,} accounts to {result.paths['scores']}, "
        f"{meta['alerts']:,} alerts to {result.paths['alerts']}, metadata to "
        f"{result.paths['metadata']} ({meta['seconds']:.1f} s)"
    )


def score(
    folder: TablesFolder,
    as_of: str = typer.Option(..., "--as-of", help="Score as of this date (YYYY-MM-DD); only earlier rows count."),
    out: Path = typer.Option(..., "--out", "-o", help="Scores file (.parquet or .csv)."),
    model: str | None = typer.Option(
        None, "--model", help="MLflow model URI; default models:/customer-health-churn@champion."
    ),
    previous: Path | None = typer.Option(
        None, "--previous", help="A previous output of this command: trends and alerts."
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
            except (BatchInputError, NoModelError) as exc:
                raise UserError(str(exc)) from None
            except OSError as exc:  # a full disk, a read-only folder: nothing was replaced
                raise UserError(f"could not write the output next to {out}: {exc}; "
                                "the previous files, if any, are unchanged") from None
            progress.update(task, completed=len(STEPS))
        _print_summary(console, result)


def serve(
    port: int = typer.Option(3000, "--port", "-p", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 for every one."),
    model: str | None = typer.Option(
        None, "--model", help="MLflow model URI; default models:/customer-health-churn@champion."
    ),
    scorecard: Path | None = typer.Option(
        None, "--scorecard", help="Scorecard TOML; default the shipped scorecard."
    ),
    max_batch: int | None = typer.Option(
        None, "--max-batch", min=1, help="Most accounts per request (default 1000)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes (default 1); each loads the model."
    ),
) -> None:
    """Start the HTTP service until interrupted."""
    with report_errors():
        if scorecard is not None:
            try:
                load_scorecard(scorecard)  # fail here, not in a worker's start-up log
            except (ScorecardConfigError, FileNotFoundError) as exc:
                raise UserError(str(exc)) from None
        env = dict(os.environ, BENTOML_DO_NOT_TRACK="true")
        if model:
            env["CUSTOMER_HEALTH_MODEL_URI"] = model
        if scorecard is not None:
            env["CUSTOMER_HEALTH_SCORECARD"] = str(scorecard.resolve())
        if max_batch is not None:
            env["CUSTOMER_HEALTH_MAX_BATCH"] = str(max_batch)
        if workers is not None:
            env["CUSTOMER_HEALTH_WORKERS"] = str(workers)
        command = [sys.executable, "-m", "bentoml", "serve", "serving.service:CustomerHealth",
                   "--port", str(port), "--host", host]
        process = subprocess.Popen(command, env=env)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            process.terminate()
            code = process.wait()
        if code not in (0, -2, -15, 130):
            raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``score`` and ``serve`` to the CLI."""
    app.command("score", help=SCORE_HELP, epilog=SCORE_EPILOG)(score)
    app.command("serve", help=SERVE_HELP, epilog=SERVE_EPILOG)(serve)
