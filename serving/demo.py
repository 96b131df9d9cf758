"""The whole flow in one command: ``customer-health demo`` (and ``make demo``).

:func:`run_demo` generates demo data, validates it, trains and registers a churn model in
the MLflow store (``MLFLOW_TRACKING_URI``, default ``./mlflow.db``), scores every account
active on the last day (after a run a month earlier, so that trends and alerts compare
two runs as the nightly job does), writes the alerts and the HTML report, and prints the
riskiest accounts. Every step calls the same library functions as the separate commands
(``demo-data``, ``validate``, ``train``, ``score``, ``report``), so the demo shows exactly
what a user's own pipeline would do.

A second run reuses what exists: demo data written with the same parameters, and a
registered model trained on data with the same fingerprint. ``fresh=True`` redoes every step.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from features.churn_definition import ChurnDefinition
from features.contract import TABLE_NAMES, Tables
from features.demo_shop import SHOP_TABLES
from features.io import load_tables, write_atomically
from models.evaluation import model_name
from serving.alerts import TYPICAL_KEY, driver_texts
from serving.scores_file import riskiest as select_riskiest

PARAMS_FILE = "demo_params.json"
DEFAULT_OUT = "demo"
DEFAULT_ACCOUNTS = 3000
DEFAULT_MONTHS = 18
DEFAULT_SEED = 7
DEFAULT_START = "2025-01-01"
RISKIEST = 10
#: The currency of the demo's monthly revenue (a team's own sets it in its mapping file).
DEMO_CURRENCY = "USD"
#: Monthly runs before the last one: four, so that two lists are past the 90-day horizon.
HISTORY_MONTHS = 4
STEP_COUNT = 6


class DemoError(ValueError):
    """A demo option that cannot be used; the message says which and what is allowed."""


@dataclass
class DemoResult:
    """What a demo run produced and where it is.

    Attributes
    ----------
    data_dir, scores_path, alerts_path, report_path : Path
        The demo tables, the scores file, the alerts file and the HTML report.
    tracking_uri : str
        The MLflow store that holds the model.
    model_uri : str
        ``models:/NAME/VERSION`` of the model that scored the accounts.
    model_alias : str or None
        Its alias (``champion`` or ``challenger``).
    as_of : Timestamp
        The scoring date: the day after the last day of the data.
    comparison : DataFrame or None
        LightGBM, logistic regression and the health score on the out-of-time test; None
        when the model was reused (its comparison is in its MLflow run).
    riskiest : DataFrame
        The riskiest accounts, riskiest first.
    reused : dict of str to bool
        Which steps reused earlier output (``data``, ``model``).
    seconds : dict of str to float
        Time taken per step.
    """

    data_dir: Path
    scores_path: Path
    alerts_path: Path
    report_path: Path
    tracking_uri: str
    model_uri: str
    model_alias: str | None
    as_of: pd.Timestamp
    comparison: pd.DataFrame | None
    riskiest: pd.DataFrame
    reused: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)


def _check_options(accounts: int, months: int, business: str = "subscription") -> None:
    from features.demo_data import BUSINESSES

    if business not in BUSINESSES:
        raise DemoError(f"--business {business!r} is not a business shape; use {' or '.join(BUSINESSES)}")
    if not isinstance(accounts, int) or accounts < 100:
        raise DemoError(
            f"--accounts must be a whole number of at least 100 (enough churners to train on), got {accounts!r}"
        )
    if not isinstance(months, int) or months < 9:
        raise DemoError(
            f"--months must be at least 9: training needs a few monthly observation dates plus "
            f"a 90-day label window, got {months!r}"
        )


def demo_parameters(*, accounts: int, months: int, seed: int, start: str = DEFAULT_START,
                    business: str = "subscription") -> dict:
    """The parameters that decide the demo data (what a second run compares)."""
    params = {"accounts": int(accounts), "months": int(months), "seed": int(seed), "start": str(start), "format": "csv"}
    if business != "subscription":  # earlier subscription demos keep their parameters
        params["business"] = business
    return params


def ensure_demo_data(folder: str | os.PathLike, params: dict, *, fresh: bool = False) -> bool:
    """Write demo data into ``folder`` unless it already holds data made with ``params``.

    The parameters are written last (``demo_params.json``), so an interrupted run is not
    mistaken for a complete one.

    Returns
    -------
    bool
        True when existing data was reused.
    """
    from features.demo_data import write_demo_data

    folder = Path(folder)
    stamp = folder / PARAMS_FILE
    if not fresh and stamp.is_file():
        try:
            written = json.loads(stamp.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            written = None
        names = SHOP_TABLES if params.get("business") == "transactional" else TABLE_NAMES
        complete = all((folder / f"{name}.{params['format']}").is_file() for name in names)
        if written == params and complete:
            return True
    stamp.unlink(missing_ok=True)
    generator = {k: v for k, v in params.items() if k != "format"}
    write_demo_data(folder, fmt=params["format"], **generator)
    write_atomically(stamp, lambda tmp: tmp.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8"))
    return False


def _as_of(tables: Tables) -> pd.Timestamp:
    """The data end (the day after the last event): every row of the data counts.

    Not ``Tables.date_range``: renewal dates lie in the future and would score accounts as
    of a day no event reaches.
    """
    from models.training_set import data_span

    return data_span(tables)[1]


def _comparison_table(comparison: pd.DataFrame) -> Table:
    table = Table(title="Churn models on the out-of-time test (higher ROC AUC, PR AUC, lift: better)")
    columns = [c for c in ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top10", "recall_top10") if c in comparison]
    table.add_column("model")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    for model, row in comparison.iterrows():
        table.add_row(model_name(model), *("n/a" if pd.isna(row[c]) else f"{row[c]:.3f}" for c in columns))
    return table


def _riskiest_table(riskiest: pd.DataFrame, as_of: pd.Timestamp, typical: dict | None,
                    width: int) -> Table:
    """The riskiest accounts, one line each as ``score`` prints its call list, with the
    drivers read as the call list reads them (none that read backwards)."""
    from serving.commands.scoring import one_line_table

    rows = []
    for row in riskiest.to_dict(orient="records"):
        churn, health = row.get("churn_probability"), row.get("health_score")
        why = driver_texts(row.get("churn_drivers"), typical) or driver_texts(row.get("health_drivers"))
        rows.append((
            str(row["account_id"]),
            str(row.get("segment") or ""),
            "n/a" if pd.isna(churn) else f"{100 * churn:.0f}%",
            "n/a" if pd.isna(health) else f"{health:.0f}",
            str(row["health_band"]),
            "; ".join(why[:2]),
        ))
    return one_line_table(f"The {len(riskiest)} riskiest accounts as of {as_of:%Y-%m-%d}",
                          ("account", "segment", "churn risk", "health", "band", "why"), rows,
                          width=width, left=(0, 1, 4, 5))


def run_demo(
    out: str | os.PathLike = DEFAULT_OUT,
    *,
    accounts: int = DEFAULT_ACCOUNTS,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    fresh: bool = False,
    console: Console | None = None,
    business: str = "subscription",
) -> DemoResult:
    """Run the whole flow on demo data: data, validation, training, scoring, alerts, report.

    Parameters
    ----------
    out : path
        Folder for everything the demo writes: ``data/``, ``scores.parquet`` (with
        ``scores.alerts.parquet`` and ``scores.parquet.meta.json``), the scores of a month
        earlier under ``history/`` (the previous run that trends and alerts compare with)
        and ``report.html``.
    accounts, months, seed : int
        Demo data size and seed (at least 100 accounts and 9 months).
    fresh : bool
        Regenerate the data and retrain even when earlier output could be reused.
    business : {"subscription", "transactional"}
        A subscription service (churn recorded) or an online shop (churn a lapse in
        ordering, the transactional scorecard).
    console : rich Console, optional
        Where progress and results are printed; a quiet console when None.

    Returns
    -------
    DemoResult

    Raises
    ------
    DemoError
        For options out of range.
    """
    from features.scorecard_config import load_scorecard
    from models.registry import DEFAULT_MODEL_NAME, find_trained_model
    from models.tracking import configure_mlflow, tracking_uri
    from models.trainer import train_from_tables
    from models.training_set import tables_sha256
    from serving.batch import run_batch
    from serving.commands.training import progress_bar
    from serving.report import build_report

    _check_options(accounts, months, business)
    console = console or Console(quiet=True)
    out = Path(out)
    data_dir = out / "data"
    scores_path = out / "scores.parquet"
    report_path = out / "report.html"
    seconds: dict[str, float] = {}
    reused: dict[str, bool] = {}

    def step(number: int, text: str) -> float:
        console.rule(f"[bold]{number}/{STEP_COUNT}[/] {text}", align="left")
        return time.perf_counter()

    started = step(1, f"demo data ({business}): {accounts:,} accounts over {months} months (seed {seed})")
    params = demo_parameters(accounts=accounts, months=months, seed=seed, business=business)
    with console.status("generating demo data"):
        reused["data"] = ensure_demo_data(data_dir, params, fresh=fresh)
    console.print(("reused the demo data in " if reused["data"] else "wrote demo data to ") + str(data_dir))
    seconds["data"] = time.perf_counter() - started

    started = step(2, "validating the tables against the data contract")
    with console.status("validating"):
        tables, report = load_tables(data_dir)
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.present().items())
    console.print(f"valid: {counts} rows; {len(report.warnings)} warning(s)")
    console.print((tables.churn or ChurnDefinition()).describe())
    seconds["validate"] = time.perf_counter() - started
    as_of = _as_of(tables)

    started = step(3, "training the churn model (LightGBM vs logistic regression vs the health score)")
    configure_mlflow()
    fingerprint = tables_sha256(tables)
    found = None if fresh else find_trained_model(fingerprint, model_name=DEFAULT_MODEL_NAME)
    comparison = None
    if found is not None:
        model_uri, alias = found
        reused["model"] = True
        console.print(
            f"reused {model_uri}{f' (@{alias})' if alias else ''}: it was trained on this exact data "
            "(same fingerprint); run with --fresh to retrain"
        )
    else:
        reused["model"] = False
        with progress_bar(console) as progress:
            result = train_from_tables(tables, horizon=90, every=30, seed=seed,
                                       scorecard=load_scorecard(churn=tables.churn), progress=progress)
        decision = result.decision
        model_uri, alias = f"models:/{decision.name}/{decision.version}", decision.alias
        comparison = result.comparison
        console.print(_comparison_table(comparison))
        if result.band_contrast:
            console.print(f"health bands on the test dates: {result.band_contrast['text']}")
        console.print(f"registered {model_uri} as @{alias}: {decision.reason}")
    seconds["train"] = time.perf_counter() - started

    started = step(4, f"scoring every active account as of {as_of:%Y-%m-%d} (and a month before, for trends and alerts)")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from serving.batch import STEPS

    # The nightly job compares each run with the previous one; the demo plays monthly runs
    # so that the call list (band got worse, risk rose) shows real changes, the sparklines
    # have a history, and the earliest lists are old enough for their outcome to be known.
    month_before = as_of - pd.DateOffset(months=1)
    runs, previous_path = [], None
    for months_back in range(HISTORY_MONTHS, 0, -1):
        date = as_of - pd.DateOffset(months=months_back)
        path = out / "history" / f"scores-{date:%Y-%m-%d}.parquet"
        runs.append((date, path, previous_path))
        previous_path = path
    runs.append((as_of, scores_path, previous_path))
    with Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task(STEPS[0], total=len(STEPS) * len(runs))
        for run_number, (date, path, previous) in enumerate(runs):

            def advance(number: int, name: str, offset: int = run_number * len(STEPS), date=date) -> None:
                progress.update(task, completed=offset + number - 1, description=f"{date:%Y-%m-%d}: {name}")

            batch = run_batch(data_dir, date, path, model_uri=model_uri, previous=previous, progress=advance,
                              currency=DEMO_CURRENCY)
        progress.update(task, completed=len(STEPS) * len(runs))
    console.print(
        f"scored {len(batch.scores):,} accounts into {batch.paths['scores']}; "
        f"{len(batch.alerts):,} account(s) to call since {month_before:%Y-%m-%d} in {batch.paths['alerts']}"
    )
    seconds["score"] = time.perf_counter() - started

    started = step(5, "writing the report")
    with console.status("drawing the report"):
        build_report(batch.paths["scores"], tables=tables, model=model_uri, out=report_path)
    console.print(f"report: {report_path}")
    seconds["report"] = time.perf_counter() - started

    step(6, "the riskiest accounts")
    riskiest = select_riskiest(batch.scores, RISKIEST)
    console.print(_riskiest_table(riskiest, as_of, batch.metadata.get(TYPICAL_KEY), console.width))
    uri = tracking_uri()
    console.print(f"\n[bold]Open the report:[/] {report_path.resolve().as_uri()}")
    console.print(f"[bold]MLflow store:[/] {uri}")
    if uri.startswith("sqlite:///"):
        console.print(f"[bold]Browse runs and models:[/] mlflow ui --backend-store-uri {uri}")
    return DemoResult(
        data_dir=data_dir,
        scores_path=batch.paths["scores"],
        alerts_path=batch.paths["alerts"],
        report_path=report_path,
        tracking_uri=uri,
        model_uri=model_uri,
        model_alias=alias,
        as_of=as_of,
        comparison=comparison,
        riskiest=riskiest,
        reused=reused,
        seconds=seconds,
    )
