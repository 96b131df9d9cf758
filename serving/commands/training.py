"""``train``, ``models`` and ``experiment``: fit churn models, list them, search hyperparameters."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.problems import DataContractError
from models.training_config import setting_default
from serving.commands.options import date_option, read_mapping
from serving.errors import InvalidInput, UserError, report_errors

CHOSEN_MODEL = "lightgbm"  # models.fit.CHOSEN, not imported: it would load LightGBM for --help
TRAIN_HELP = (
    "Train the churn model, compare it with the baselines, log everything to MLflow, register it.\n\n"
    "From a folder of tables: observation dates every --every days, indicators as of each "
    "date, label = churned within --horizon days after the date plus --lead; split by time. "
    "LightGBM, a logistic baseline and the health score (100 - score) are reported on the same "
    "out-of-time test. From one flat table (--table, --label): stratified "
    f"{setting_default('folds')}-fold cross-validation.\n\n"
    "The new version becomes the 'champion' alias only if it passes the promotion gates "
    "(calibrated log loss below a constant guess, churn rising with the risk band, close "
    "validation and test ROC AUC) and beats the current champion's ROC AUC on the same window "
    "(else 'challenger'); --promote forces it and logs why it would not have been.\n\n"
    "Labels are kept only up to the last day whose churn is known: --labels-until, else the "
    "last recorded churn; where churn is a lapse in ordering (the mapping file's [churn], or no "
    "churned_at and an orders table), a lapse is known lapse_days after the last order."
)
TRAIN_EPILOG = (
    "Examples:\n\n"
    "  customer-health train demo/data --horizon 90 --every 30\n\n"
    "  customer-health train --table telco.csv --label Churn --id customerID\n\n"
    "Runs go to MLFLOW_TRACKING_URI, by default sqlite:///./mlflow.db with artifacts in "
    "./mlartifacts (browse with: mlflow ui --backend-store-uri sqlite:///mlflow.db)."
)
MODELS_HELP = "List registered churn model versions with their aliases and headline metrics."
MODELS_EPILOG = (
    "Example:\n\n"
    "  customer-health models --name customer-health-churn"
)
EXPERIMENT_EPILOG = (
    "Example:\n\n"
    "  customer-health experiment demo/data --trials 20 --seed 0\n\n"
    "Every trial is a nested MLflow run under one parent run; the same data, seed and code "
    "give the same metrics."
)
EXPERIMENT_HELP = (
    "Search LightGBM hyperparameters (Optuna TPE with pruning, nested MLflow runs), retrain the "
    "best trial and offer it for promotion under the same rule as train."
)


def training_errors():
    """The library's input errors as one clear line (no traceback)."""
    from features.scorecard import ScorecardConfigError
    from models.flat_table import FlatTableError
    from models.registry import NoModelError
    from models.training_config import TrainerError
    from models.training_set import TrainingSetError

    return (FlatTableError, TrainerError, TrainingSetError, NoModelError, ScorecardConfigError)


def stdout_console() -> Console:
    """stdout console; 120 columns when not a terminal (logs, CI) so tables do not wrap."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120
    return console


@contextlib.contextmanager
def progress_bar(console: Console) -> Iterator[Callable[[int, int, str], None] | None]:
    """A transient bar drawing ``progress(done, total, text)`` on a terminal; None elsewhere.

    In a log or a pipe a transient progress bar cannot be erased: it would leave a blank line
    (or a frozen bar) per update, so it is shown only where it can disappear.
    """
    if not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("training", total=1)

        def progress(done: int, total: int, text: str) -> None:
            bar.update(task, total=total, completed=done, description=text)

        yield progress


def _metric(value: float, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def print_trust(console: Console, result) -> None:
    """Until when labels are known, and every warning about the data or the model."""
    ends = getattr(result, "label_end", None)
    if ends is not None:
        console.print(f"labels known until {ends.last_day:%Y-%m-%d} ({ends.source}); "
                      "later label windows are left unlabelled", markup=False)
    for warning in getattr(result, "warnings", []):
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")


def print_comparison(console: Console, result, *, title: str) -> None:
    """The models side by side, the churn rate per band and the promotion decision."""
    table = Table(title=title, title_justify="left")
    table.add_column("model", no_wrap=True)
    columns = [("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("brier", "Brier"),
               ("log_loss", "log loss"), ("lift_top10", "lift top 10%"),
               ("recall_top10", "recall top 10%")]
    for _, header in columns:
        table.add_column(header, justify="right")
    for model, row in result.comparison.iterrows():
        table.add_row(str(model), *(_metric(row[c]) for c, _ in columns))
    console.print(table)
    for kind, bands in result.by_band.items():
        band_table = Table(title=f"churn rate by {kind.replace('_', ' ')}", title_justify="left")
        for header in ("band", "accounts", "churned", "churn rate"):
            band_table.add_column(header, justify="left" if header == "band" else "right")
        for label, row in bands.iterrows():
            rate = row["churn_rate"]
            band_table.add_row(str(label), str(int(row["accounts"])), str(int(row["churned"])),
                               "-" if math.isnan(rate) else f"{rate:.1%}")
        console.print(band_table)
    if result.band_contrast:
        console.print(f"health bands: {result.band_contrast['text']}")
    if "health_score" in result.comparison.index:
        console.print(_scorecard_drift(result.comparison))
    print_trust(console, result)
    decision = result.decision
    console.print(
        f"registered [bold]{decision.name}[/] v{decision.version} as [bold]{decision.alias}[/]: "
        f"{decision.reason}"
    )
    console.print(f"MLflow run {result.run_id} in experiment {result.experiment!r}")


def _scorecard_drift(comparison) -> str:
    """The model, the current scorecard and the one suggested from the data, in one line."""
    auc = comparison["roc_auc"]
    suggested = auc.get("health_score_suggested", math.nan)
    return (f"out-of-time ROC AUC: model {_metric(auc.get(CHOSEN_MODEL, math.nan))}, current "
            f"scorecard {_metric(auc['health_score'])}, scorecard suggested from this data "
            f"{_metric(suggested)} (customer-health scorecard suggest writes it)")


def train(
    folder: Path | None = typer.Argument(
        None, help="Folder of tables (accounts, sessions, ...). Omit with --table, or when "
        "the --mapping file reads every table from a database."),
    table: Path | None = typer.Option(
        None, "--table", help="One-row-per-account CSV/Parquet file (flat-table mode)."),
    label: str | None = typer.Option(None, "--label", help="Flat table: the churn label column."),
    id_column: str | None = typer.Option(None, "--id", help="Flat table: the account id column."),
    positive: str | None = typer.Option(
        None, "--positive", help="Flat table: the label value meaning churned (inferred if omitted)."),
    horizon: int | None = typer.Option(
        None, "--horizon", help=f"Label window in days (default {setting_default('horizon')})."),
    every: int | None = typer.Option(
        None, "--every",
        help=f"Days between observation dates (default {setting_default('every')})."),
    lead: int | None = typer.Option(
        None, "--lead",
        help=f"Days between observation and label window (default {setting_default('lead')})."),
    experiment: str | None = typer.Option(None, "--experiment", help="MLflow experiment name."),
    config: Path | None = typer.Option(
        None, "--config", help="TOML with training options and a [lightgbm] table; options override it."),
    mapping: Path | None = typer.Option(
        None, "--mapping", "-m", help="TOML mapping of your file and column names."),
    promote: bool = typer.Option(
        False, "--promote", help="Make the new version champion regardless (the reason it "
        "would not have been is logged)."),
    seed: int | None = typer.Option(
        None, "--seed", help=f"Random seed (default {setting_default('seed')})."),
    labels_until: str | None = typer.Option(
        None, "--labels-until", help="Last day whose churn is known (YYYY-MM-DD); default: "
        "the last recorded churn. Later label windows stay unlabelled."),
) -> None:
    """Train the churn model and register it."""
    with report_errors():
        until = _labels_until(labels_until)
        try:
            _train(folder, table, label, id_column, positive, horizon, every, lead, experiment,
                   config, mapping, promote, seed, until)
        except training_errors() as exc:
            raise InvalidInput(str(exc)) from exc


def _labels_until(text: str | None):
    """The ``--labels-until`` date, or None; not a date is invalid input (exit code 2)."""
    try:
        return None if text is None else date_option(text, "--labels-until")
    except UserError as exc:
        raise InvalidInput(str(exc)) from exc


def _train(folder, table, label, id_column, positive, horizon, every, lead, experiment, config,
           mapping, promote, seed, labels_until) -> None:
    from models.training_config import TrainingConfig

    settings = TrainingConfig.from_toml(
        config, horizon=horizon, every=every, lead=lead, seed=seed, experiment=experiment,
        label=label, id_column=id_column, positive=positive, labels_until=labels_until,
    )
    if (folder is None and mapping is None) == (table is None):
        raise InvalidInput("give either a folder of tables (train DIR, or --mapping FILE with a "
                           "database source) or --table FILE --label COLUMN")
    console = stdout_console()
    if table is not None:
        if label is None:
            raise InvalidInput("--table needs --label COLUMN: the column that says who churned")
        for name, value in (("--horizon", horizon), ("--every", every), ("--lead", lead),
                            ("--labels-until", labels_until)):
            if value is not None:
                raise InvalidInput(f"{name} applies to a folder of tables, not to --table "
                                   "(a flat table has no dates)")
        from models.trainer import train_flat_table

        with progress_bar(console) as progress:
            result = train_flat_table(table, settings, promote=promote, progress=progress)
        print_comparison(console, result,
                         title=f"{table.name}: stratified {settings.folds}-fold CV (mean)")
        return
    if label or id_column or positive:
        raise InvalidInput("--label, --id and --positive apply to --table, not to a folder of tables")
    from features.io import describe_input, load_tables
    from models.trainer import train_from_tables

    mapping = read_mapping(mapping)
    tables, _ = load_tables(folder, mapping)
    with progress_bar(console) as progress:
        result = train_from_tables(tables, settings, promote=promote, progress=progress)
    print_comparison(console, result, title=f"{describe_input(folder, mapping)}: out-of-time test")


def models(
    name: str | None = typer.Option(None, "--name", help="One registered model (default: all)."),
) -> None:
    """List registered churn model versions with aliases and headline metrics."""
    with report_errors():
        from models.registry import list_versions
        from models.tracking import shown_tracking_uri

        console = stdout_console()
        rows = list_versions(name)
        if not rows:
            console.print(f"no registered model in {shown_tracking_uri()}: train one with "
                          "`customer-health train DIR`")
            return
        table = Table(title=f"registered models ({shown_tracking_uri()})", title_justify="left")
        numeric = ("ROC AUC", "PR AUC", "Brier", "lift top 10%")
        for header in ("model", "version", "aliases", "trained (UTC)", *numeric):
            table.add_column(header, justify="right" if header in numeric else "left")
        for row in rows:
            table.add_row(
                row["name"], row["version"], ", ".join(row["aliases"]) or "-",
                f"{row['created']:%Y-%m-%d %H:%M}", _metric(row["test_roc_auc"]),
                _metric(row["test_pr_auc"]), _metric(row["test_brier"]),
                _metric(row["test_lift_top10"], 2),
            )
        console.print(table)
        console.print("why each version got its alias:")
        for row in rows:
            aliases = f" [{', '.join(row['aliases'])}]" if row["aliases"] else ""
            console.print(f"  {row['name']} v{row['version']}{aliases}: "
                          f"{row['promotion_reason'] or 'no decision recorded'}", markup=False)


def experiment(
    folder: Path | None = typer.Argument(
        None, help="Folder of tables (accounts, sessions, ...); omit when the --mapping file "
        "reads every table from a database."),
    trials: int | None = typer.Option(
        None, "--trials", help=f"Number of Optuna trials (default {setting_default('trials')})."),
    seed: int | None = typer.Option(
        None, "--seed",
        help=f"Seeds the sampler and every fit (default {setting_default('seed')})."),
    experiment_name: str | None = typer.Option(None, "--experiment", help="MLflow experiment name."),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help="TOML mapping of your file and column names."),
    promote: bool = typer.Option(False, "--promote", help="Make the retrained best champion regardless."),
    labels_until: str | None = typer.Option(
        None, "--labels-until", help="Last day whose churn is known (YYYY-MM-DD); default: "
        "the last recorded churn."),
) -> None:
    """Search LightGBM hyperparameters and offer the best for promotion."""
    with report_errors():
        until = _labels_until(labels_until)
        from features.io import load_tables
        from models.experiment import run_experiment
        from models.training_config import TrainingConfig

        try:
            config = TrainingConfig.from_toml(None, trials=trials, seed=seed,
                                              experiment=experiment_name, labels_until=until)
            tables, _ = load_tables(folder, mapping)
            result = run_experiment(tables, config, promote=promote)
        except DataContractError:
            raise  # printed problem by problem by report_errors
        except training_errors() as exc:
            raise InvalidInput(str(exc)) from exc
        except ValueError as exc:  # ExperimentError and other option errors
            raise InvalidInput(str(exc)) from exc
        console = stdout_console()
        console.print(f"best trial {result.best_trial}: validation ROC AUC "
                      f"{result.best_valid_auc:.4f} with {result.best_params}")
        console.print(result.choice, markup=False)
        print_comparison(console, result.final,
                         title=("best trial" if result.kept_best else "default configuration")
                         + " retrained: out-of-time test")
        console.print(f"MLflow parent run {result.parent_run_id} in experiment {result.experiment!r}")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``models`` and ``experiment`` to the CLI."""
    app.command("train", help=TRAIN_HELP, epilog=TRAIN_EPILOG)(train)
    app.command("models", help=MODELS_HELP, epilog=MODELS_EPILOG)(models)
    app.command("experiment", help=EXPERIMENT_HELP, epilog=EXPERIMENT_EPILOG)(experiment)
