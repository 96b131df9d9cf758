"""``scorecard suggest``: weights and thresholds learnt from churn, proven out of time."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from models.training_config import setting_default
from serving.commands.options import MappingOption, TablesFolder
from serving.commands.training import InvalidInput, progress_bar, stdout_console, training_errors
from serving.errors import report_errors

SUGGEST_HELP = (
    "Suggest scorecard weights and thresholds from churn, and prove them out of time.\n\n"
    "Builds point-in-time snapshots as `train` does, learns each measure's poor and good "
    "values (where churn actually changes) and its weight (how much it separates churners) "
    "on the training dates, then compares the current and the suggested scorecard on the "
    "later, out-of-time dates: ROC AUC, churn rate and share of accounts per band, accounts "
    "that change band. The suggestion is written as a complete scorecard TOML with a comment "
    "per changed value, only when it beats the current scorecard (or with --force)."
)
SUGGEST_EPILOG = (
    "Example:\n\n"
    "  customer-health scorecard suggest demo/ --out suggested.toml\n\n"
    "  customer-health scorecard suggest demo/ --scorecard my.toml --segment-by segment "
    "--out suggested.toml\n\n"
    "Review the file as a diff against the current one (docs/scorecard.md, 'Suggested "
    "scorecards'), then pass it to `features --scorecard` or `score --scorecard`."
)

app = typer.Typer(help="Review the health scorecard against churn.", no_args_is_help=True)


def _pct(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _auc(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


@app.command("suggest", help=SUGGEST_HELP, epilog=SUGGEST_EPILOG)
def suggest(
    folder: TablesFolder,
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the suggested scorecard TOML."),
    scorecard: Path | None = typer.Option(
        None, "--scorecard", help="The current scorecard TOML (default: the packaged one)."),
    segment_by: str | None = typer.Option(
        None, "--segment-by",
        help="'segment': learn one scorecard per segment with enough churners. "
             "Default: one scorecard for every account."),
    horizon: int | None = typer.Option(
        None, "--horizon", help=f"Label window in days (default {setting_default('horizon')})."),
    every: int | None = typer.Option(
        None, "--every", help=f"Days between observation dates (default {setting_default('every')})."),
    lead: int | None = typer.Option(
        None, "--lead", help=f"Days between observation and label window (default {setting_default('lead')})."),
    mapping: MappingOption = None,
    force: bool = typer.Option(
        False, "--force", help="Write the suggestion even when it does not beat the current scorecard."),
) -> None:
    """Suggest scorecard weights and thresholds from churn."""
    with report_errors():
        from models.scorecard_suggestion import SuggestionError

        try:
            _suggest(folder, out, scorecard, segment_by, horizon, every, lead, mapping, force)
        except (*training_errors(), SuggestionError) as exc:
            raise InvalidInput(str(exc)) from exc


def _suggest(folder, out, scorecard_path, segment_by, horizon, every, lead, mapping, force) -> None:
    from features.io import load_tables, write_atomically
    from features.scorecard_config import load_scorecard
    from models.scorecard_suggestion import suggest_scorecard
    from models.training_config import TrainingConfig
    from models.training_set import build_training_set, time_split

    config = TrainingConfig.from_toml(None, horizon=horizon, every=every, lead=lead)
    current = load_scorecard(scorecard_path)  # a bad file fails before the long part
    if out.exists() and out.is_dir():
        raise InvalidInput(f"--out {out}: is a folder; give a file name, e.g. {out / 'suggested.toml'}")
    tables, _ = load_tables(folder, mapping)
    if scorecard_path is None:  # the packaged default that fits the churn definition
        current = load_scorecard(churn=tables.churn)
    console = stdout_console()
    with progress_bar(console) as progress:
        def dates(done, total, as_of):
            if progress is not None:
                progress(done, total, f"indicators as of {as_of:%Y-%m-%d}")

        ts = build_training_set(tables, horizon=config.horizon, every=config.every,
                                lead=config.lead, windows=tuple(config.windows), progress=dates)
        split = time_split(ts, valid_dates=config.valid_dates, test_dates=config.test_dates)
        suggestion = suggest_scorecard(split, ts.feature_columns, current, segment_by=segment_by,
                                       progress=progress)
    print_suggestion(console, suggestion)
    if not suggestion.beats and not force:
        console.print(f"[bold]not written[/]: {suggestion.verdict}; --force writes it anyway")
        raise typer.Exit(1)
    write_atomically(out, lambda path: Path(path).write_text(suggestion.toml, "utf-8"))
    console.print(f"wrote {out}: {suggestion.verdict}")


def print_suggestion(console, suggestion) -> None:
    """Weights, thresholds that moved, and the out-of-time proof side by side."""
    for name, weights in suggestion.weights.items():
        table = Table(title=f"weights ({name} scorecard): share of the health score", title_justify="left")
        for header in ("measure", "group", "current", "suggested", "evidence (z)", "note"):
            table.add_column(header, justify="right" if header in ("current", "suggested", "evidence (z)") else "left")
        for measure, row in weights.iterrows():
            table.add_row(str(measure), str(row["group"]), _pct(row["current_weight"]),
                          _pct(row["suggested_weight"]), "-" if math.isnan(row["evidence_z"]) else f"{row['evidence_z']:.1f}",
                          row["note"] if isinstance(row["note"], str) else "")
        console.print(table)
    for name, thresholds in suggestion.thresholds.items():
        table = Table(title=f"thresholds ({name} scorecard)", title_justify="left")
        for header in ("measure", "poor", "good", "suggested poor", "suggested good",
                       "churn at poor", "churn at good", "note"):
            table.add_column(header, justify="left" if header in ("measure", "note") else "right")
        for measure, row in thresholds.iterrows():
            kept = math.isnan(row["suggested_poor"])
            table.add_row(str(measure), f"{row['poor']:g}", f"{row['good']:g}",
                          "kept" if kept else f"{row['suggested_poor']:g}",
                          "kept" if kept else f"{row['suggested_good']:g}",
                          _pct(row["churn_at_poor"]), _pct(row["churn_at_good"]),
                          row["note"] if isinstance(row["note"], str) else "")
        console.print(table)
    for name, reason in suggestion.kept.items():
        console.print(f"segment {name}: {reason}")
    dates = suggestion.test_dates
    proof = Table(title=f"out-of-time proof: {min(dates):%Y-%m-%d} to {max(dates):%Y-%m-%d}",
                  title_justify="left")
    proof.add_column("")
    proof.add_column("current", justify="right")
    proof.add_column("suggested", justify="right")
    results = suggestion.results
    proof.add_row("ROC AUC", _auc(results["current"]["roc_auc"]), _auc(results["suggested"]["roc_auc"]))
    current, suggested = suggestion.by_band["current"], suggestion.by_band["suggested"]
    for band in current.index:
        proof.add_row(f"{band}: churn rate", _pct(current.loc[band, "churn_rate"]),
                      _pct(suggested["churn_rate"].get(band, math.nan)))
        proof.add_row(f"{band}: share of accounts", _pct(current.loc[band, "share"]),
                      _pct(suggested["share"].get(band, math.nan)))
    order = {True: "yes", False: "no", None: "- (a band is empty)"}
    proof.add_row("bands in order (red > yellow > green)", order[suggestion.monotone["current"]],
                  order[suggestion.monotone["suggested"]])
    console.print(proof)
    rows = int(suggestion.band_changes.to_numpy().sum())
    console.print(f"{suggestion.changed_bands} of {rows} accounts × dates change band")


def register(main: typer.Typer) -> None:
    """Add the ``scorecard`` group to the CLI."""
    main.add_typer(app, name="scorecard")
