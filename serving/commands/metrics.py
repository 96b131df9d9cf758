"""``metrics``: the portfolio metrics of a period, overall, by group or as a time series."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from features.io import load_tables
from features.period_metrics import (
    METRIC_KEYS,
    check_by,
    metrics_over_time,
    period_metrics,
)
from features.portfolio_metrics import DEFAULT_MAX_LIFETIME_YEARS, check_number
from features.survey_metrics import check_period
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
from serving.errors import UserError, err_console, report_errors
from serving.metric_text import cell_text, detail_line
from serving.metric_text import label as metric_label

METRICS_HELP = (
    "Print the survey and customer-base metrics of a period [START, END).\n\n"
    "NPS, CSAT, CES, churn and retention, repeat purchases, returns, conversion, DAU/MAU, "
    "session depth and length, ticket volume and times, resolution rate and CLV, as defined "
    "in docs/metrics.md. Split them by an accounts column (segment, region, plan) or a survey, "
    "ticket or session column (channel, touchpoint) with --by, or give consecutive periods "
    "with --every. The data is validated first. --engine spark reads Parquet tables at any "
    "path Spark reads and computes every metric there, with the same numbers (docs/scale.md)."
)
METRICS_EPILOG = (
    "Examples:\n\n"
    "  customer-health metrics demo/data --start 2025-01-01 --end 2025-07-01\n\n"
    "  customer-health metrics demo/data --start 2025-01-01 --end 2026-01-01 --by segment --format json\n\n"
    "  customer-health metrics demo/data --start 2025-01-01 --end 2026-01-01 --every month --format csv\n\n"
    "END is excluded. Rates are percentages 0-100; an undefined metric shows no value and a "
    "reason. The JSON shape is documented in docs/metrics.md. Exit codes: 0 done, 1 bad "
    "option, 2 invalid data."
)


class Every(str, Enum):
    month = "month"
    week = "week"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def metrics(
    folder: TablesFolder = None,
    start: str = typer.Option(..., "--start", help="First day of the period, e.g. 2025-01-01."),
    end: str = typer.Option(..., "--end", help="Day after the period (excluded), e.g. 2025-07-01."),
    by: str | None = typer.Option(
        None, "--by", help="Split by this column: segment, region, plan, channel, touchpoint, source, ..."
    ),
    every: Every | None = typer.Option(
        None, "--every", help="Give consecutive periods of a month or a week instead of one."
    ),
    output: OutputFormat = typer.Option(
        OutputFormat.table, "--format", "-f", help="table for people, json (stable) or csv (flat)."
    ),
    mapping: MappingOption = None,
    gross_margin: float | None = typer.Option(
        None, "--gross-margin", help="Gross margin 0-1 for the CLV variants that use one."
    ),
    max_lifetime_years: float = typer.Option(
        DEFAULT_MAX_LIFETIME_YEARS, "--max-lifetime-years",
        help="CLV lifetime cap when nobody churned.",
    ),
    engine: EngineOption = Engine.pandas,
    spark_master: SparkMasterOption = None,
    buckets: BucketsOption = 64,
) -> None:
    """Print the survey and customer-base metrics of a period [START, END)."""
    with report_errors():
        try:
            start_at, end_at = check_period(
                date_option(start, "--start"), date_option(end, "--end"), names=("--start", "--end")
            )
            if gross_margin is not None:
                check_number(gross_margin, name="--gross-margin", low=0, high=1, low_open=True)
            check_number(max_lifetime_years, name="--max-lifetime-years", low=0, low_open=True)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        options = dict(gross_margin=gross_margin, max_lifetime_years=max_lifetime_years)
        if engine is Engine.spark:
            from serving.commands.spark_runs import metrics_on_spark

            try:
                periods, warnings = metrics_on_spark(
                    folder, mapping, start_at, end_at, every=every and every.value,
                    master=spark_master, buckets=buckets, by=by, **options)
            except ValueError as exc:
                # The one ValueError left once Spark runs: a --by column no table has.
                if not str(exc).startswith("by:"):
                    raise
                raise UserError(str(exc).replace("by:", "--by:", 1)) from None
            _warn(warnings, folder, mapping)
            _print(periods, every=every is not None, output=output)
            return
        mapping_file, mapping = mapping, read_mapping(mapping)
        tables, report = load_tables(folder, mapping)
        _warn(len(report.warnings), folder, mapping_file)
        if by is not None:
            try:
                check_by(tables, by)
            except ValueError as exc:
                raise UserError(str(exc).replace("by:", "--by:", 1)) from None
        if every is None:
            periods = [period_metrics(tables, start_at, end_at, by=by, **options)]
        else:
            periods = metrics_over_time(tables, start_at, end_at, every.value, by=by, **options)
        _print(periods, every=every is not None, output=output)


def _warn(count: int, folder, mapping_file) -> None:
    if count:
        err_console.print(
            f"[yellow]{count} warning(s)[/] in the input data; "
            f"run `{escape(validate_hint(folder, mapping_file))}` for details", highlight=False,
        )


def _print(periods: list[dict], *, every: bool, output: OutputFormat) -> None:
    """The periods in the chosen format; JSON gives one object without --every, else a list."""
    if output is OutputFormat.json:
        results: Any = periods if every else periods[0]
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
    elif output is OutputFormat.csv:
        typer.echo(to_csv(periods), nl=False)
    else:
        print_tables(periods, every=every)


# --- CSV -----------------------------------------------------------------------------

CSV_COLUMNS = ("period_start", "period_end", "by", "group", "metric", "field", "value")


def _flatten(prefix: str, item: Any) -> list[tuple[str, Any]]:
    if isinstance(item, dict):
        rows = []
        for key, value in item.items():
            if key in ("groups", "groups_reason") and not prefix:
                continue
            rows += _flatten(f"{prefix}.{key}" if prefix else key, value)
        return rows
    return [(prefix, item)]


def to_csv(periods: list[dict]) -> str:
    """Long, flat CSV: one row per period, group, metric and field (nested fields dotted).

    The overall figures have an empty ``group``; ``groups_reason`` rows say why a metric
    was not split.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in periods:
        head = (result["period"]["start"], result["period"]["end"], result["by"] or "")
        for key in METRIC_KEYS:
            metric = result[key]
            scopes = [("", metric)]
            if result["by"] is not None:
                if metric.get("groups") is None:
                    writer.writerow((*head, "", key, "groups_reason", metric.get("groups_reason")))
                else:
                    scopes += list(metric["groups"].items())
            for group, values in scopes:
                for field, value in _flatten("", values):
                    writer.writerow((*head, group, key, field, "" if value is None else value))
    return buffer.getvalue()


# --- tables for people ---------------------------------------------------------------


def print_tables(periods: list[dict], *, every: bool) -> None:
    """Rich tables: one period with details, groups side by side, or periods side by side."""
    console = Console(highlight=False)
    first = periods[0]
    by = first["by"]
    if not every or by is not None:
        for result in periods:
            period = f"{result['period']['start'][:10]} to {result['period']['end'][:10]} (end excluded)"
            if by is None:
                table = Table(title=f"Portfolio metrics, {period}", title_justify="left")
                for column in ("metric", "value", "details"):
                    table.add_column(column, justify="right" if column == "value" else "left")
                for key in METRIC_KEYS:
                    table.add_row(metric_label(key), cell_text(result[key]), detail_line(key, result[key]))
            else:
                groups = _group_names(result)
                table = Table(title=f"Portfolio metrics by {by}, {period}", title_justify="left")
                table.add_column("metric", no_wrap=True)
                table.add_column("all", justify="right")
                for group in groups:
                    table.add_column(group, justify="right")
                for key in METRIC_KEYS:
                    metric = result[key]
                    cells = ([cell_text(metric["groups"].get(g, {})) for g in groups]
                             if metric["groups"] is not None else ["·"] * len(groups))
                    table.add_row(metric_label(key), cell_text(metric), *cells)
            console.print(table)
        _print_reasons(console, periods)
        return
    # One row per period; metrics in tables of a few columns so they stay readable at 80 columns.
    for first_key in range(0, len(METRIC_KEYS), _PER_TABLE):
        keys = METRIC_KEYS[first_key:first_key + _PER_TABLE]
        table = Table(title="Portfolio metrics over time (period start; end excluded)"
                      if first_key == 0 else None, title_justify="left")
        table.add_column("period", no_wrap=True)
        for key in keys:
            table.add_column(metric_label(key), justify="right")
        for result in periods:
            table.add_row(result["period"]["start"][:10], *(cell_text(result[k]) for k in keys))
        console.print(table)
    _print_reasons(console, periods)


_PER_TABLE = 4


def _group_names(result: dict) -> list[str]:
    names: set[str] = set()
    for key in METRIC_KEYS:
        names.update((result[key].get("groups") or {}).keys())
    return sorted(names)


def _print_reasons(console: Console, periods: list[dict]) -> None:
    """Why values are missing, once per distinct reason (tables only show "—")."""
    reasons: dict[str, set[str]] = {}
    for result in periods:
        for key in METRIC_KEYS:
            metric = result[key]
            if metric.get("groups_reason"):
                reasons.setdefault(metric_label(key), set()).add(metric["groups_reason"])
            if result["by"] is not None or len(periods) > 1:
                if metric.get("reason"):
                    reasons.setdefault(metric_label(key), set()).add(metric["reason"])
                for group, values in (metric.get("groups") or {}).items():
                    if values.get("reason"):
                        reasons.setdefault(metric_label(key), set()).add(f"{group}: {values['reason']}")
    for label, texts in reasons.items():
        console.print(f"[dim]{label}: {'; '.join(sorted(texts))}[/]")


def register(app: typer.Typer) -> None:
    """Add ``metrics`` to the CLI."""
    app.command("metrics", help=METRICS_HELP, epilog=METRICS_EPILOG)(metrics)
