"""``features`` and ``score`` with ``--engine spark``: options checked, progress drawn."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from features.mapping import Mapping
from serving.commands.options import read_mapping
from serving.errors import InvalidInput

# A URL such as s3://bucket/x read as a Path loses a slash (s3:/bucket/x): put it back.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/(?!/)")


def spark_path(path: Path | str) -> str:
    """The path or URL Spark should read, as the user typed it.

    Examples
    --------
    >>> spark_path(Path("s3://bucket/tables"))
    's3://bucket/tables'
    >>> spark_path(Path("demo/data"))
    'demo/data'
    """
    return _SCHEME.sub(r"\1://", str(path))


def check_spark_options(folder: Path | None, mapping: Path | None, out: str) -> tuple[str, Mapping]:
    """The input folder and the mapping for Spark; a CSV output is refused."""
    source, mapped = check_spark_input(folder, mapping)
    if not out.endswith(".parquet"):
        raise InvalidInput(f"--out {out} must end in .parquet with --engine spark (a folder "
                           "of Parquet parts is written there)")
    return source, mapped


def check_spark_input(folder: Path | None, mapping: Path | None) -> tuple[str, Mapping]:
    """The input folder for Spark and the mapping file read, before Spark starts: a mapping
    that reads tables with SQL is refused (:func:`serving.spark.tables.refuse_sql`)."""
    from serving.spark.tables import refuse_sql

    if folder is None:
        raise InvalidInput("--engine spark reads a folder of Parquet tables: give the folder")
    mapped = read_mapping(mapping) or Mapping()
    refuse_sql(mapped)
    return spark_path(folder), mapped


def run_with_progress(console: Console, steps: tuple[str, ...], job: Callable) -> object:
    """``job(progress)`` with a spinner naming its current step."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=console, transient=True)
    with progress:
        task = progress.add_task(steps[0], total=len(steps))

        def advance(step: int, name: str) -> None:
            progress.update(task, completed=step - 1, description=f"spark: {name}")

        return job(advance)


def features_on_spark(folder, mapping, out: Path, stamp, window_days, card, master, buckets) -> None:
    from serving.spark.engine import STEPS, features_run
    from serving.spark.session import spark_session

    source, mapped = check_spark_options(folder, mapping, str(out))
    console = Console(highlight=False)
    spark = spark_session(master)
    result = run_with_progress(console, STEPS, lambda advance: features_run(
        spark, source, stamp, spark_path(out), scorecard=card, windows=window_days,
        buckets=buckets, progress=advance, mapping=mapped))
    console.print(f"[bold green]wrote[/] {spark_path(out)}: {result['accounts']:,} accounts "
                  f"active at {stamp:%Y-%m-%d %H:%M} (Spark, {result['seconds']:.1f} s)")


def score_on_spark(folder, mapping, out: str, stamp, *, model_uri, previous, card, risk_rise,
                   master, buckets, currency=None) -> None:
    from serving.batch import load_model_or_reason
    from serving.spark.engine import SCORE_STEPS, score_run
    from serving.spark.session import spark_session

    source, mapped = check_spark_options(folder, mapping, out)
    previous, missing = _previous_run(previous, out, stamp)
    console = Console(highlight=False)
    spark = spark_session(master)
    model, reason = load_model_or_reason(model_uri)
    meta = run_with_progress(console, SCORE_STEPS, lambda advance: score_run(
        spark, source, stamp, out, model=model, scorecard=card,
        previous=previous, risk_rise=risk_rise, buckets=buckets, progress=advance,
        no_model_reason=reason, currency=currency or mapped.currency, previous_missing=missing,
        mapping=mapped))
    if meta["previous_missing"]:
        console.print(f"[yellow]warning[/]: {meta['previous_missing']}", markup=True)
    for warning in meta.get("model_warnings", []):
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    if meta["churn_unavailable"]:
        console.print(f"[yellow]churn risk not scored[/]: {meta['churn_unavailable']}")
    console.print(f"wrote {meta['accounts']:,} accounts to {meta['output']}, {meta['alerts']:,} "
                  f"alerts to {meta['alerts_file']} (Spark, {meta['seconds']:.1f} s)", markup=False)


def metrics_on_spark(folder, mapping, start, end, *, every: str | None, master, buckets,
                     **options) -> tuple[list[dict], int]:
    """The periods' metrics on Spark and the number of warnings in the input data."""
    from serving.spark.churn import churn_definition
    from serving.spark.metrics import metrics_on_spark as compute
    from serving.spark.session import spark_session
    from serving.spark.tables import read_tables
    from serving.spark.validation import validate

    source, mapped = check_spark_input(folder, mapping)
    spark = spark_session(master)

    def job(advance) -> tuple[list[dict], int]:
        advance(1, METRICS_STEPS[0])
        with read_tables(spark, source, buckets=buckets, mapping=mapped) as tables:
            report = validate(tables)
            advance(2, METRICS_STEPS[1])
            periods = compute(tables, start, end, every, scales=mapped.scales,
                              churn=churn_definition(tables, mapped.churn), **options)
        return periods, len(report.warnings)

    return run_with_progress(Console(highlight=False, stderr=True), METRICS_STEPS, job)


METRICS_STEPS = ("read and validate", "metrics")


def _previous_run(previous: str | None, out: str, stamp) -> tuple[str | None, str | None]:
    """The previous run's path, and why there is none: ``auto`` finds the latest earlier
    run next to ``out`` as the pandas engine does (:func:`serving.batch.find_previous`)."""
    from serving.batch import PREVIOUS_AUTO, find_previous
    from serving.scores_file import output_paths

    if previous != PREVIOUS_AUTO:
        return previous, None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", out):
        raise InvalidInput(f"--previous auto lists the runs of a local folder, and --out {out} is "
                           "not one; fix: give the previous run's path with --previous")
    found, missing = find_previous(previous, output_paths(out, "parquet", stamp), stamp)
    return (None if found is None else str(found)), missing
