"""``features``: account indicators and health scores as of a date, written to one file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.catalogue import indicator_columns
from features.churn_definition import ChurnDefinition
from features.clv import COLUMNS as CLV_COLUMNS
from features.clv import ClvFitError, fit_clv
from features.contract import Tables
from features.health_score import measures_without_data
from features.io import FORMATS, describe_input, load_tables, write_frame
from features.scorecard import Scorecard, ScorecardConfigError
from features.scorecard_config import load_scorecard
from features.sentiment import language_report, short_reason
from features.values import json_list
from models.scoring import CHURN_COLUMNS, score_tables
from serving.commands.options import (
    BucketsOption,
    Engine,
    EngineOption,
    MappingOption,
    SparkMasterOption,
    TablesFolder,
    date_option,
    read_mapping,
    validate_hint,
)
from serving.errors import UserError, report_errors

FEATURES_HELP = (
    "Write one row per account active at --as-of: its health indicators over trailing "
    "windows and its health score.\n\n"
    "Only rows dated strictly before --as-of are read, so a snapshot of the past is what was "
    "known then. The columns are documented in docs/indicators.md (indicators) and "
    "docs/scorecard.md (health_score, health_band, health_coverage, group_* and measure_* "
    "scores, and health_drivers: the three measures that cost the most points, as JSON). "
    "The data is validated first."
)
FEATURES_EPILOG = (
    "Examples:\n\n"
    "  customer-health features demo/data --as-of 2026-06-01 --out out/features.parquet\n\n"
    "  customer-health features exports/ --as-of 2026-06-01 --out features.csv "
    "--windows 7,30,90,180 --scorecard my-scorecard.toml --mapping mapping.toml\n\n"
    "The file format follows the suffix of --out (.parquet or .csv); the file is replaced "
    "only once it is complete. Exit codes: 0 done, 1 bad option, 2 invalid data."
)

STEPS = ("reading and validating tables", "computing indicators", "scoring health",
         "writing")


def _parse_windows(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        windows = tuple(int(p) for p in parts)
    except ValueError:
        windows = ()
    if not windows or any(w < 1 for w in windows) or len(set(windows)) != len(windows):
        raise UserError(
            f"--windows {text!r} must be distinct whole numbers of days separated by commas, "
            "e.g. 30,90,180"
        )
    return windows


def _check_out(out: Path) -> str:
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UserError(f"--out {out} must end in .parquet or .csv (the format follows the suffix)")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / 'features.parquet'}")
    return fmt


def _load_card(path: Path | None, windows: tuple[int, ...], churn=None) -> Scorecard:
    try:
        card = load_scorecard(path, known_indicators=None, churn=churn)
    except ScorecardConfigError as exc:
        raise UserError(str(exc)) from None
    produced = set(indicator_columns(windows))
    missing = [name for name in card.indicator_names() if name not in produced]
    if missing:
        raise UserError(
            f"the scorecard {card.source} reads {', '.join(missing)}, which --windows "
            f"{','.join(map(str, windows))} does not produce; add the window(s) to --windows "
            "or pass a --scorecard that reads only indicators of these windows"
        )
    return card


def build_features(
    tables: Tables,
    as_of: pd.Timestamp,
    windows: tuple[int, ...],
    card: Scorecard,
    progress: Callable[[int, str], None] | None = None,
    **portfolio,
) -> tuple[pd.DataFrame, list[dict]]:
    """Indicators plus health-score columns, one row per active account, ``account_id`` first,
    and which languages the comments were read in (:func:`features.sentiment.language_report`).

    ``progress(i, name)`` is called as each step of :data:`models.scoring.STEPS` starts.
    ``health_drivers`` is JSON text, as in the batch job's output; no churn columns.
    ``portfolio`` (``churn_rate``, ``polarity_models``) goes to
    :func:`models.scoring.score_tables` when ``tables`` are one bucket of the portfolio.
    """
    scored = score_tables(tables, as_of, card, windows=windows, progress=progress, **portfolio)
    health = scored.scores.drop(columns=list(CHURN_COLUMNS))
    health = health.assign(health_drivers=health["health_drivers"].map(json_list))
    languages = language_report(scored.comments, scored.polarity_models)
    return pd.concat([scored.indicators, health], axis=1).reset_index(), languages


def features(
    folder: TablesFolder = None,
    as_of: str = typer.Option(
        ..., "--as-of", help="Snapshot moment (UTC), e.g. 2026-06-01; rows at or after it are ignored."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output file, .parquet or .csv."),
    windows: str = typer.Option(
        "30,90,180", "--windows", "-w", help="Trailing windows in days, comma-separated."
    ),
    scorecard: Path | None = typer.Option(
        None, "--scorecard", "-s", help="Scorecard TOML (docs/scorecard.md); default the shipped one that fits the churn definition (a shop's under a lapse)."
    ),
    mapping: MappingOption = None,
    engine: EngineOption = Engine.pandas,
    spark_master: SparkMasterOption = None,
    buckets: BucketsOption = 64,
) -> None:
    """Write indicators and health scores of every active account as of a date."""
    with report_errors():
        stamp = date_option(as_of, "--as-of")
        window_days = _parse_windows(windows)
        fmt = _check_out(out)
        card = _load_card(scorecard, window_days)
        if engine is Engine.spark:
            from serving.commands.spark_runs import features_on_spark

            # Without --scorecard, the packaged one that fits the churn Spark finds.
            chosen = card if scorecard is not None else (
                lambda churn: _load_card(None, window_days, churn))
            features_on_spark(folder, mapping, out, stamp, window_days, chosen, spark_master, buckets)
            return
        console = Console(highlight=False)
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        with progress:
            task = progress.add_task(STEPS[0], total=len(STEPS))

            def advance(i: int) -> None:
                progress.update(task, completed=i, description=STEPS[i])

            mapping_file, mapping = mapping, read_mapping(mapping)
            tables, report = load_tables(folder, mapping)
            if scorecard is None:  # the packaged default that fits the churn definition
                card = _load_card(None, window_days, tables.churn)
            table, languages = build_features(
                tables, stamp, window_days, card, lambda i, name: advance(min(i + 1, 2))
            )
            advance(3)
            write_frame(table, out, fmt)
        _print_summary(console, describe_input(folder, mapping), out, stamp, tables, table, card,
                       len(report.warnings), validate_hint(folder, mapping_file))
        _print_languages(console, languages)
        _print_clv_reason(console, tables, stamp, table)


def _print_summary(console, source, out, stamp, tables, table, card, n_warnings, hint) -> None:
    n_accounts = len(tables.accounts)
    console.print(
        f"[bold green]wrote[/] {out}: {len(table):,} accounts active at {stamp:%Y-%m-%d %H:%M} "
        f"(of {n_accounts:,} in {source}) x {table.shape[1]} columns"
    )
    if len(table):
        summary = Table(title="Health bands", title_justify="left")
        summary.add_column("band")
        summary.add_column("accounts", justify="right")
        summary.add_column("share", justify="right")
        counts = table["health_band"].value_counts()
        labels = [b.label for b in card.bands] + [card.insufficient_label]
        for label in labels:
            count = int(counts.get(label, 0))
            summary.add_row(label, f"{count:,}", f"{count / len(table):.0%}")
        console.print(summary)
    absent = [name for name in ("sessions", "tickets", "orders", "returns", "surveys")
              if getattr(tables, name) is None]
    if absent:
        console.print(f"[yellow]no {', '.join(absent)} table(s)[/]: their indicators are empty (NaN)")
    print_scorecard_in_force(console, card, tables, table)
    if n_warnings:
        console.print(f"[yellow]{n_warnings} data warning(s)[/]: run " + escape(hint))


def print_scorecard_in_force(console, card: Scorecard, tables: Tables, scored) -> None:
    """Which scorecard scored, under which churn definition, and its measures with no data."""
    churn = tables.churn or ChurnDefinition()
    console.print(f"scorecard: {card.source} ({churn.describe()})", markup=False)
    for table, measures in measures_without_data(scored, card).items():
        console.print(f"[yellow]no data at all[/] for measure(s) {', '.join(measures)} "
                      f"({table}): their weight went to the other measures", highlight=False)


def _print_clv_reason(console: Console, tables: Tables, stamp: pd.Timestamp, table: pd.DataFrame) -> None:
    """Why the predictive CLV columns are empty for every account, when they are."""
    if tables.orders is None or not len(table) or table[list(CLV_COLUMNS)].notna().any().any():
        return
    try:
        fit_clv(tables.orders, stamp)
    except ClvFitError as exc:
        console.print(f"[yellow]no predictive CLV[/] ({', '.join(CLV_COLUMNS)} empty): "
                      + escape(str(exc)))


def _print_languages(console: Console, languages: list[dict]) -> None:
    """Which languages the comment tone indicators read, by which method, what was left out."""
    if not languages:
        return
    table = Table(title="Comment tone: languages of the comments before --as-of", title_justify="left")
    for header in ("language", "comments", "read by", "unsupported", "why not read"):
        table.add_column(header, justify="right" if header in ("comments", "unsupported") else "left")
    for row in languages:
        method = {"textblob": "TextBlob", "learnt": "learnt polarity", "none": "-"}.get(
            row["method"], row["method"])
        if row["cv_roc_auc"] is not None:
            method += f" (CV ROC AUC {row['cv_roc_auc']:.2f})"
        table.add_row(f"{row['language']} ({row['name']})", f"{row['comments']:,}", method,
                      f"{row['unsupported_share']:.0%}", short_reason(row["reason"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``features`` to the CLI."""
    app.command("features", help=FEATURES_HELP, epilog=FEATURES_EPILOG)(features)
