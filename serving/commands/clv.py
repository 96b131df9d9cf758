"""``clv``: the fitted BG/NBD and Gamma-Gamma models of a folder's orders, as of a date."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.catalogue import CLV_HORIZON_DAYS
from features.clv import TIME_UNIT_DAYS, ClvFit, ClvFitError, fit_clv
from features.io import load_tables, write_atomically
from features.values import json_safe
from serving.commands.options import MappingOption, TablesFolder, date_option, read_mapping
from serving.errors import InvalidInput, UserError, report_errors

CLV_HELP = (
    "Fit the predictive CLV models on the orders before --as-of and print their parameters "
    "and fit diagnostics.\n\n"
    "BG/NBD (how often customers order, and the chance each is still active) and "
    "Gamma-Gamma (how much they spend per order), as in docs/metrics.md. The same fit gives "
    "the p_alive, expected_orders_365d and predicted_clv_365d indicators of `features` and "
    "`score`. The JSON holds the parameters (time in weeks), the fit diagnostics, the "
    "calibration check (customers by repeat purchases: actual and expected) and portfolio "
    "totals over --horizon-days."
)
CLV_EPILOG = (
    "Examples:\n\n"
    "  customer-health clv demo/data --as-of 2026-06-01\n\n"
    "  customer-health clv demo/data --as-of 2026-06-01 --format table --plot clv-calibration.png\n\n"
    "Without --as-of, the day after the last order. Exit codes: 0 done, 1 bad option, 2 "
    "invalid data or data the models cannot be fitted on (no orders table, too few "
    "customers, too few who ordered again; the message says which)."
)


class ClvFormat(str, Enum):
    json = "json"
    table = "table"


def clv_summary(fit: ClvFit, horizon_days: int) -> dict:
    """The fit as plain JSON-ready data: parameters, diagnostics, calibration, totals."""
    predicted = fit.predict(horizon_days)
    value = predicted["predicted_clv"]
    return json_safe({
        "as_of": fit.as_of,
        "horizon_days": horizon_days,
        "time_unit_days": TIME_UNIT_DAYS,
        "parameters": fit.parameters(),
        "diagnostics": fit.diagnostics,
        "calibration": fit.calibration().to_dict("records"),
        "portfolio": {
            "customers": len(predicted),
            "mean_p_alive": float(predicted["p_alive"].mean()),
            "expected_orders": float(predicted["expected_orders"].sum()),
            "predicted_clv": float(value.sum()) if value.notna().any() else None,
            "customers_without_predicted_clv": int(value.isna().sum()),
        },
    })


def clv(
    folder: TablesFolder = None,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Fit on orders before this moment (UTC), e.g. 2026-06-01; "
                              "default: the day after the last order."),
    horizon_days: int = typer.Option(
        CLV_HORIZON_DAYS, "--horizon-days", help="Days after --as-of that expected orders and CLV cover."),
    mapping: MappingOption = None,
    output: ClvFormat = typer.Option(
        ClvFormat.json, "--format", "-f", help="json (stable, for programs) or table (for people)."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Also draw the calibration chart (customers by repeat purchases, "
                             "actual vs expected) to this .png or .svg file."),
) -> None:
    """Print the fitted CLV models' parameters and diagnostics."""
    with report_errors():
        stamp = None if as_of is None else date_option(as_of, "--as-of")
        if horizon_days < 1:
            raise UserError(f"--horizon-days {horizon_days}: must be a whole number of days of "
                            f"at least 1, e.g. {CLV_HORIZON_DAYS}")
        if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
            raise UserError(f"--plot {plot}: must end in .png or .svg (the format follows the suffix)")
        console = Console(stderr=True, highlight=False)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("reading and validating tables")
            tables, _ = load_tables(folder, read_mapping(mapping))
            stamp = stamp if stamp is not None else _after_last_order(tables.orders)
            try:
                fit = fit_clv(tables.orders, stamp,
                              progress=lambda step: progress.update(task, description=step))
            except ClvFitError as exc:
                raise InvalidInput(str(exc)) from None
            summary = clv_summary(fit, horizon_days)
            if plot is not None:
                progress.update(task, description="drawing the calibration chart")
                plot_calibration(fit, plot)
        if output is ClvFormat.json:
            typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        else:
            _print_tables(Console(highlight=False), summary)
        if plot is not None:
            console.print(f"[bold green]wrote[/] {plot}")


def _after_last_order(orders: pd.DataFrame | None) -> pd.Timestamp:
    if orders is None or orders["ordered_at"].notna().sum() == 0:
        # fit_clv names what is missing; any date does for that.
        return pd.Timestamp.now().normalize()
    return orders["ordered_at"].max().normalize() + pd.Timedelta(days=1)


def _print_tables(console: Console, summary: dict) -> None:
    params = summary["parameters"]
    diagnostics = summary["diagnostics"]
    head = Table(title=f"Predictive CLV fitted on orders before {summary['as_of'][:10]} "
                       f"({diagnostics['customers']:,} customers, "
                       f"{diagnostics['repeat_customers']:,} who ordered again)",
                 title_justify="left")
    for column in ("model", "parameters", "log-likelihood", "converged"):
        head.add_column(column)
    for key, name in (("bg_nbd", "BG/NBD (time in weeks)"), ("gamma_gamma", "Gamma-Gamma")):
        head.add_row(name, ", ".join(f"{k} = {v:.4g}" for k, v in params[key].items()),
                     f"{diagnostics[key]['log_likelihood']:,.1f}",
                     "yes" if diagnostics[key]["converged"] else "no")
    console.print(head)
    check = Table(title="Calibration: customers by repeat purchases before --as-of",
                  title_justify="left")
    for column in ("repeat purchases", "actual", "expected"):
        check.add_column(column, justify="right")
    for row in summary["calibration"]:
        check.add_row(row["repeat_purchases"], f"{row['actual']:,}", f"{row['expected']:,.1f}")
    console.print(check)
    totals = summary["portfolio"]
    clv_text = "no value" if totals["predicted_clv"] is None else f"{totals['predicted_clv']:,.0f}"
    console.print(
        f"Next {summary['horizon_days']} days: {totals['expected_orders']:,.0f} expected orders, "
        f"predicted CLV {clv_text} (not discounted; "
        f"{totals['customers_without_predicted_clv']:,} customers without a value); "
        f"mean P(alive) {totals['mean_p_alive']:.2f}")
    for note in diagnostics["notes"]:
        console.print(f"[yellow]note[/]: {note}")


def plot_calibration(fit: ClvFit, path: Path) -> Path:
    """Bars of customers by repeat purchases, actual beside the BG/NBD's expectation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = fit.calibration()
    positions = np.arange(len(table))
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.bar(positions - 0.2, table["actual"], width=0.4, label="actual", color="#4c72b0")
    axis.bar(positions + 0.2, table["expected"], width=0.4, label="expected by BG/NBD",
             color="#dd8452")
    axis.set_xticks(positions, table["repeat_purchases"])
    axis.set_xlabel("repeat purchases (purchase days after the first) before as_of")
    axis.set_ylabel("customers")
    axis.set_title(f"BG/NBD calibration, orders before {fit.as_of:%Y-%m-%d} "
                   f"({len(fit.history):,} customers)", fontsize=10)
    axis.legend(frameon=False)
    figure.tight_layout()
    fmt = path.suffix.lower().lstrip(".")
    try:
        return write_atomically(path, lambda tmp: figure.savefig(tmp, format=fmt))
    finally:
        plt.close(figure)


def register(app: typer.Typer) -> None:
    """Add ``clv`` to the CLI."""
    app.command("clv", help=CLV_HELP, epilog=CLV_EPILOG)(clv)
