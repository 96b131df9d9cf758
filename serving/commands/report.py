"""``report`` and ``demo``: the HTML health report, and the whole flow in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from features.db_url import is_database_url
from serving.commands.options import date_option
from serving.errors import InvalidInput, UserError, report_errors

REPORT_HELP = (
    "Write the health report: one self-contained HTML file (no external scripts, fonts or "
    "images; it opens offline and can be mailed as it is).\n\n"
    "Sections: portfolio headline metrics with their trend (needs --metrics-from), the call "
    "list (most revenue at stake first, every reason in words, each account's score over the "
    "last runs), the distribution of health scores, bands by segment, the accounts at risk "
    "with their drivers in words, the bands over the runs and how earlier call lists did "
    "(needs --metrics-from), NPS / CSAT / comment tone over time (needs --metrics-from) and "
    "the churn model's card. docs/report.md explains how to read each.\n\n"
    "With --account ID it writes one account's page instead: score and churn risk over the "
    "runs, every measure with its value and points, drivers, and (with --metrics-from) recent "
    "tickets, survey answers and comments, orders and returns: what to read before a call."
)
REPORT_EPILOG = (
    "Examples:\n\n"
    "  customer-health report demo/scores.parquet --metrics-from demo/data --out report.html\n\n"
    "  customer-health report runs/2026-06-30.parquet --metrics-from exports/ --mapping mapping.toml "
    "--model models:/customer-health-churn@champion --out report.html\n\n"
    "  customer-health report demo/scores.parquet --account A000042 --metrics-from demo/data "
    "--out A000042.html\n\n"
    "  customer-health report 'postgresql://cs:${PGPASSWORD}@db:5432/crm/scores' --as-of 2026-06-30 "
    "--out report.html\n\n"
    "SCORES is the output of `customer-health score`: a scores file, whose call list and "
    "metadata are read from next to it and whose history from its run folder; or the database "
    "URL given to its --out, where the run of --as-of (default: the latest), its call list and "
    "the runs before it are read. Without --model the card shows the model named in the "
    "scores' metadata."
)
DEMO_HELP = (
    "Run the whole flow on demo data: generate and validate the tables, train and register "
    "a churn model (comparing LightGBM, logistic regression and the health score), score "
    "every active account as of the last day, write the alerts and the HTML report, and "
    "print the riskiest accounts.\n\n"
    "A second run reuses the demo data (same parameters) and a registered model trained on "
    "the same data; --fresh redoes everything. The model store is MLFLOW_TRACKING_URI "
    "(default ./mlflow.db)."
)
DEMO_EPILOG = (
    "Examples:\n\n"
    "  customer-health demo\n\n"
    "  customer-health demo --out /tmp/demo --accounts 1000 --seed 3 --fresh\n\n"
    "Then open demo/report.html, and browse the runs with "
    "`mlflow ui --backend-store-uri sqlite:///mlflow.db`."
)


def report(
    scores: str = typer.Argument(
        ..., help="Scores file written by `customer-health score` (.parquet or .csv), or the "
        "database URL given to its --out (postgresql://user@host/db/TABLE, sqlite:///FILE)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write."),
    metrics_from: Path | None = typer.Option(
        None, "--metrics-from", help="Folder of input tables: adds headline metrics and trends."
    ),
    mapping: Path | None = typer.Option(
        None, "--mapping", "-m", help="TOML mapping file for the --metrics-from folder."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model for the model card (models:/NAME@ALIAS or models:/NAME/VERSION)."
    ),
    months: int = typer.Option(3, "--months", min=1, help="Length of the headline period in months."),
    account: str | None = typer.Option(
        None, "--account", help="Write this account's page instead of the portfolio report."
    ),
    by: str = typer.Option(
        "segment", "--by", help="Split the bands by this column of accounts (segment, region, "
        "plan or your own; other than segment it needs --metrics-from)."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="With a database SCORES: the run to show (YYYY-MM-DD); default the latest."
    ),
) -> None:
    """Write the self-contained HTML health report."""
    from features.io import load_tables
    from models.tracking import quiet_artifact_downloads
    from serving.report import ReportError, build_report
    from serving.report.account import UnknownAccountError, build_account_page

    console = Console(highlight=False)
    with report_errors():
        try:
            run_date = date_option(as_of, "--as-of") if as_of is not None else None
        except UserError as exc:  # a date that cannot be read is invalid input: exit 2
            raise InvalidInput(str(exc)) from None
        if run_date is not None and not is_database_url(scores):
            raise InvalidInput(f"--as-of picks a run in a database; {scores} is a scores file of one "
                               "run: leave --as-of out, or give the database URL")
        tables = None
        if metrics_from is not None:
            if not metrics_from.is_dir():
                raise UserError(f"--metrics-from {metrics_from} is not a folder of tables")
            with console.status("reading and validating the tables"):
                tables, _ = load_tables(metrics_from, mapping)
        try:
            if account is not None:
                with console.status(f"writing the page of account {account}"):
                    written = build_account_page(scores, account, tables=tables, out=out, as_of=run_date)
            else:
                with console.status("drawing the report"), quiet_artifact_downloads():
                    written = build_report(scores, tables=tables, model=model, out=out, months=months,
                                           split_by=by, as_of=run_date)
        except UnknownAccountError as exc:
            raise InvalidInput(str(exc)) from None
        except ReportError as exc:
            raise UserError(str(exc)) from None
        what = f"the page of account {account}" if account is not None else "the report"
        console.print(f"wrote {what} to {written} (open it in any browser)")


def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Folder for the demo's data, scores and report."),
    accounts: int = typer.Option(3000, "--accounts", min=100, help="Number of demo accounts."),
    months: int = typer.Option(18, "--months", min=9, help="Months of demo history."),
    seed: int = typer.Option(7, "--seed", help="Seed of the demo data and the models."),
    fresh: bool = typer.Option(False, "--fresh", help="Regenerate the data and retrain even if they exist."),
    business: str = typer.Option(
        "subscription", "--business",
        help="subscription (churn recorded) or transactional (an online shop: churn is a lapse in ordering).",
    ),
) -> None:
    """Run the whole flow on demo data."""
    from models.tracking import quiet_artifact_downloads
    from serving.demo import DemoError, run_demo

    with report_errors(), quiet_artifact_downloads():
        try:
            run_demo(out, accounts=accounts, months=months, seed=seed, fresh=fresh,
                     console=Console(highlight=False), business=business)
        except DemoError as exc:
            raise UserError(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``demo`` to the CLI."""
    app.command("report", help=REPORT_HELP, epilog=REPORT_EPILOG)(report)
    app.command("demo", help=DEMO_HELP, epilog=DEMO_EPILOG)(demo)
