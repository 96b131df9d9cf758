"""``validate`` and ``demo-data``: check a folder of tables, or write a realistic one."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from features.churn_definition import ChurnDefinition, gap_percentiles
from features.contract import TABLE_NAMES, Tables
from features.demo_data import BUSINESSES, generate_business_data
from features.io import FORMATS, describe_input, load_tables, write_frame
from features.problems import DataContractError, Problem, ValidationReport
from serving.commands.options import MappingOption, TablesFolder, read_mapping
from serving.errors import EXIT_INVALID_INPUT, UserError, report_errors

VALIDATE_HELP = (
    "Check a folder of tables against the data contract and print every problem.\n\n"
    "Each problem names the table, the column, the first offending rows with their values "
    "and how to fix it. Warnings (legal but suspicious data) are shown but do not fail."
)
DEMO_HELP = (
    "Write realistic demo data: accounts, sessions, tickets, orders, returns and surveys.\n\n"
    "A latent health per account drives usage, support, purchases, survey answers and churn, "
    "so the scorecard and the churn model have something real to find."
)
VALIDATE_EPILOG = (
    "Examples:\n\n"
    "  customer-health validate demo/data\n\n"
    "  customer-health validate exports/ --mapping mapping.toml --format json\n\n"
    "Exit codes: 0 valid (warnings allowed), 2 invalid. Row numbers count data rows from 1, "
    "the header not counted (row 1 is line 2 of a CSV). See docs/data-contract.md."
)
DEMO_EPILOG = (
    "Example:\n\n"
    "  customer-health demo-data --out demo/ --accounts 5000 --months 12 --seed 3 --format parquet\n\n"
    "  customer-health demo-data --out shop/ --business transactional\n\n"
    "The same seed gives byte-identical files; dates run from 2025-01-01 for --months months."
)


DEMO_START = "2025-01-01"


class ReportFormat(str, Enum):
    text = "text"
    json = "json"


class FileFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


def validate(
    folder: TablesFolder = None,
    mapping: MappingOption = None,
    output: ReportFormat = typer.Option(
        ReportFormat.text, "--format", "-f", help="text for people, json for scripts."
    ),
) -> None:
    """Check a folder of tables against the data contract and print every problem."""
    with report_errors():
        mapping = read_mapping(mapping)
        tables = None
        try:
            tables, report = load_tables(folder, mapping)
        except DataContractError as exc:
            report = ValidationReport(exc.problems)
        _print_report(folder, describe_input(folder, mapping), report, output, tables)
        if not report.ok:
            raise typer.Exit(EXIT_INVALID_INPUT)


def _churn_facts(tables: Tables | None) -> dict | None:
    """The churn definition in force and the gaps between repeat orders, to help choose."""
    if tables is None:
        return None
    gaps = gap_percentiles(tables.orders)
    return {**(tables.churn or ChurnDefinition()).metadata(),
            "repeat_gap_days": None if gaps is None else {f"p{p}": round(v, 1) for p, v in gaps.items()}}


def _print_churn(console: Console, tables: Tables | None) -> None:
    if tables is None:
        return
    console.print((tables.churn or ChurnDefinition()).describe(), markup=False)
    gaps = gap_percentiles(tables.orders)
    if gaps is None:
        if tables.orders is not None:
            console.print("days between a customer's orders: no customer ordered twice")
        return
    listed = ", ".join(f"p{p} {v:,.0f}" for p, v in gaps.items())
    console.print(f"days between a customer's orders: {listed}; a lapse (the mapping file's "
                  "[churn] lapse_days) above most of them counts only true departures",
                  markup=False)


def _print_report(
    folder: Path | None, source: str, report: ValidationReport, output: ReportFormat,
    tables: Tables | None = None,
) -> None:
    console = Console(soft_wrap=True, highlight=False)
    if output is ReportFormat.json:
        document = {
            "folder": None if folder is None else str(folder),
            "input": source,
            "valid": report.ok,
            "row_counts": report.row_counts,
            "errors": [p.as_dict() for p in report.errors],
            "warnings": [p.as_dict() for p in report.warnings],
            "churn": _churn_facts(tables),
        }
        console.print_json(json.dumps(document, ensure_ascii=False))
        return
    if report.row_counts:
        table = Table(title=f"Tables in {source}", title_justify="left")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name in TABLE_NAMES:
            rows = report.row_counts.get(name)
            table.add_row(name, f"{rows:,}" if rows is not None else "[dim]absent[/]")
        console.print(table)
    for problem in report.errors + report.warnings:
        _print_problem(console, problem)
    _print_churn(console, tables)
    n_errors, n_warnings = len(report.errors), len(report.warnings)
    if report.ok:
        note = f" ({n_warnings} warning(s))" if n_warnings else ""
        console.print(f"[bold green]valid[/]: {source} passes the data contract{note}")
    else:
        console.print(
            f"[bold red]invalid[/]: {n_errors} error(s), {n_warnings} warning(s) in {source}. "
            "Row numbers count data rows from 1 (row 1 is line 2 of a CSV)."
        )


def _print_problem(console: Console, problem: Problem) -> None:
    colour = "red" if problem.severity == "error" else "yellow"
    where = f"{problem.table}.{problem.column}" if problem.column else problem.table
    console.print(f"[bold {colour}]{problem.severity}[/] [bold]{where}[/]: ", end="")
    console.print(problem.message, markup=False)
    if problem.n_rows:
        examples = ", ".join(
            f"row {row} ({value})" for row, value in zip(problem.rows, problem.as_dict()["values"])
        )
        more = problem.n_rows - len(problem.rows)
        console.print(
            f"    {problem.n_rows:,} row(s): {examples}" + (f" and {more:,} more" if more > 0 else ""),
            markup=False,
        )
    console.print(f"    fix: {problem.fix}", markup=False)


def demo_data(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the six tables into."),
    accounts: int = typer.Option(2000, "--accounts", min=1, help="Number of accounts."),
    months: int = typer.Option(18, "--months", min=1, max=120, help="Months of history from 2025-01-01."),
    seed: int = typer.Option(7, "--seed", help="Random seed; the same seed gives the same files."),
    file_format: FileFormat = typer.Option(FileFormat.csv, "--format", "-f", help="csv or parquet."),
    business: str = typer.Option(
        "subscription", "--business",
        help="subscription (churn recorded in accounts.churned_at) or transactional (an online "
             "shop: customers, visits, orders, returns, reviews; churn is a lapse in ordering).",
    ),
    chunk: int | None = typer.Option(
        None, "--chunk", min=1, help="Write very large sets N accounts at a time, as a folder "
        "of Parquet parts per table (bounded memory; needs --format parquet).",
    ),
) -> None:
    """Write realistic demo data: accounts, sessions, tickets, orders, returns and surveys."""
    with report_errors():
        if business not in BUSINESSES:
            raise UserError(f"--business {business!r} is not a business shape; use "
                            f"{' or '.join(BUSINESSES)}")
        fmt = file_format.value
        _check_out_folder(out, fmt)
        console = Console(highlight=False)
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )
        if chunk is not None:
            if business != "subscription":
                raise UserError("--chunk writes the subscription demo only; "
                                "fix: leave out --chunk or --business")
            _write_chunks(console, progress, out, fmt, accounts, chunk, months, seed)
            return
        with progress:
            task = progress.add_task(f"generating {accounts:,} accounts x {months} months", total=None)
            tables = generate_business_data(business, accounts=accounts, months=months, seed=seed,
                                            start=DEMO_START)
            progress.update(task, total=len(tables), completed=0, description="writing tables")
            paths = {}
            for name, frame in tables.items():
                progress.update(task, description=f"writing {name} ({len(frame):,} rows)")
                paths[name] = write_frame(frame, out / f"{name}.{fmt}", fmt)
                progress.advance(task)
        _print_summary(console, out, tables, paths, seed, months)


def _write_chunks(console, progress, out, fmt, accounts, chunk, months, seed) -> None:
    from features.demo_chunks import write_demo_chunks

    if fmt != "parquet":
        raise UserError("--chunk writes a folder of Parquet parts per table: add --format parquet")
    with progress:
        task = progress.add_task(f"generating {accounts:,} accounts x {months} months",
                                 total=-(-accounts // chunk))
        paths = write_demo_chunks(out, accounts=accounts, chunk=chunk, months=months, seed=seed,
                                  start=DEMO_START,
                                  progress=lambda done, total: progress.update(task, completed=done))
    console.print(f"wrote {accounts:,} accounts in {-(-accounts // chunk)} chunk(s) of up to "
                  f"{chunk:,}: {', '.join(p.name for p in paths.values())} in {out}")
    console.print(f"next: customer-health score {out} --engine spark --as-of ... --out ...")


def _check_out_folder(out: Path, fmt: str) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder (it is created when missing)")
    other = [f for f in FORMATS if f != fmt]
    clashing = [
        out / f"{name}.{ext}" for name in TABLE_NAMES for ext in other
        if (out / f"{name}.{ext}").exists()
    ]
    if clashing:
        # Two formats of one table in a folder make it ambiguous to read back.
        raise UserError(
            f"{out} already holds {clashing[0].name}; writing {fmt} next to it would make the "
            f"folder ambiguous. Use --format {clashing[0].suffix.lstrip('.')}, another --out, "
            "or delete the old files"
        )


def _print_summary(
    console: Console, out: Path, tables: dict, paths: dict, seed: int, months: int
) -> None:
    accounts = tables["accounts"]
    start = DEMO_START
    end = pd.Timestamp(start) + pd.DateOffset(months=months)
    table = Table(title=f"Demo data in {out} (seed {seed})", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, frame in tables.items():
        table.add_row(name, f"{len(frame):,}", paths[name].name)
    console.print(table)
    if "churned_at" in accounts:
        churned = accounts["churned_at"].notna()
        console.print(
            f"{churned.sum():,} of {len(accounts):,} accounts churned during the period "
            f"({churned.mean():.1%}), {start} to {end:%Y-%m-%d}."
        )
    else:
        console.print(f"{len(accounts):,} customers, {start} to {end:%Y-%m-%d}; no churn column: "
                      "churn is a lapse in ordering (docs/metrics.md)")
    console.print(f"next: customer-health validate {out}")


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``demo-data`` to the CLI."""
    app.command("validate", help=VALIDATE_HELP, epilog=VALIDATE_EPILOG)(validate)
    app.command("demo-data", help=DEMO_HELP, epilog=DEMO_EPILOG)(demo_data)
