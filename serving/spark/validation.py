"""The table contract on Spark: :func:`features.contract.validate_tables` on every bucket.

Each bucket holds whole accounts with all their rows, so the rules on one row (types,
ranges), on one account (its key, its rows' references, time order) hold or break within a
bucket. The problems of the buckets are merged into those of the whole input: the same
rule counts its rows over every bucket and shows the first rows of the files (row numbers
are those of the files, see :mod:`serving.spark.tables`), so the messages and example rows
are the ones the pandas engine prints.

A key other than the account's (``ticket_id``, ``order_id``, ``response_id``) can repeat
across accounts, so across buckets: its uniqueness is checked once over the whole table
(:func:`key_problems`) instead of in each bucket.
"""

from __future__ import annotations

import json

import pandas as pd

from features.contract import SCHEMAS, TABLE_NAMES, repeated_key_problem, validate_tables
from features.contract_rules import reference_problems
from features.mapping import Mapping
from features.problems import (
    MAX_EXAMPLES,
    DataContractError,
    Problem,
    ValidationReport,
    show_value,
)
from serving.spark.tables import SparkTables, per_bucket, validated

_KEY = ("severity", "table", "column", "rule", "message", "fix")
_UNIQUE = "field_uniqueness"
#: The keys that must be unique over a whole table; the accounts' own key is that of the
#: buckets, so each bucket sees all of its repeats.
SPLIT_KEYS = tuple((table, column) for table, schema in SCHEMAS.items()
                   for column, spec in schema.columns.items()
                   if spec.unique and (table, column) != ("accounts", "account_id"))
PROBLEM_SCHEMA = ("severity string, table string, column string, rule string, message string, "
                  "fix string, n_rows long, rows string, `values` string")


def bucket_problems(raw: dict[str, pd.DataFrame], rows: dict,
                    mapping: Mapping | None = None) -> list[Problem]:
    """The problems of one bucket's tables (under the mapping's scales and time zones), rows
    numbered as in the files."""
    try:
        _, report = validated(raw, mapping or Mapping())
        found = list(report.problems)
    except DataContractError as exc:
        found = list(exc.problems)
    if raw["accounts"].empty:
        # A bucket of rows whose account is nowhere: only the input as a whole can be empty
        # (checked on the driver); here those rows break the reference rule.
        found = [p for p in found if p.rule != "empty_table"] + reference_problems(raw)
    return [_renumbered(p, rows) for p in found
            if not (p.rule == _UNIQUE and (p.table, p.column) in SPLIT_KEYS)]


def key_problems(tables: SparkTables) -> list[Problem]:
    """Repeated values of :data:`SPLIT_KEYS` over whole tables: every row of a repeated
    value, counted, and the first rows of the files shown, as the pandas engine does."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    problems = []
    for table, column in SPLIT_KEYS:
        if column not in tables.columns.get(table, ()):
            continue
        key = F.col(f"`{column}`").cast("string")
        rows = tables.frames[table].filter(key.isNotNull()).select(
            "_row", key.alias("value"), F.count("*").over(Window.partitionBy(key)).alias("n"))
        repeated = rows.filter(F.col("n") > 1)
        found = repeated.agg(F.count("*").alias("n_rows")).first()["n_rows"]
        if not found:
            continue
        shown = repeated.orderBy("_row").limit(MAX_EXAMPLES).collect()
        problems.append(repeated_key_problem(
            table, column, n_rows=int(found), rows=tuple(int(r["_row"]) for r in shown),
            values=tuple(r["value"] for r in shown),
        ))
    return problems


def _renumbered(problem: Problem, rows: dict) -> Problem:
    if not problem.rows or problem.table not in rows:
        return problem
    numbers = tuple(int(rows[problem.table][r - 1]) for r in problem.rows)
    return Problem(problem.severity, problem.table, problem.column, problem.rule,
                   problem.message, problem.fix, problem.n_rows, numbers, problem.values)


def _as_row(problem: Problem) -> dict:
    return {**{k: getattr(problem, k) for k in _KEY}, "n_rows": problem.n_rows,
            "rows": json.dumps(list(problem.rows)),
            "values": json.dumps([show_value(v) for v in problem.values])}


def merge_problems(found: pd.DataFrame) -> list[Problem]:
    """The problems of every bucket as those of one input: rows summed, first rows shown."""
    merged = []
    for key, group in found.groupby(list(_KEY), dropna=False, sort=False):
        examples = sorted(
            (row, value) for rows, values in zip(group["rows"], group["values"])
            for row, value in zip(json.loads(rows), json.loads(values))
        )[:MAX_EXAMPLES]
        fields = dict(zip(_KEY, (None if pd.isna(k) else k for k in key)))
        merged.append(Problem(
            **fields, n_rows=int(group["n_rows"].sum()),
            rows=tuple(r for r, _ in examples), values=tuple(v for _, v in examples),
        ))
    # The pandas engine's order: tables and their rules as validate_tables meets them.
    first = {key: i for i, key in enumerate(found[list(_KEY)].itertuples(index=False, name=None))}
    return sorted(merged, key=lambda p: first.get(tuple(getattr(p, k) for k in _KEY), 0))


def validate(tables: SparkTables) -> ValidationReport:
    """Check the whole input against the contract; nothing is written here.

    Raises
    ------
    DataContractError
        With every problem of every bucket, merged, when any is an error.
    """
    if tables.accounts.limit(1).count() == 0:
        validate_tables({"accounts": tables.accounts.limit(0).toPandas()})  # raises empty_table
    mapping = tables.mapping

    def check(raw: dict[str, pd.DataFrame], rows: dict) -> pd.DataFrame:
        return pd.DataFrame([_as_row(p) for p in bucket_problems(raw, rows, mapping)],
                            columns=[*_KEY, "n_rows", "rows", "values"])

    found = per_bucket(tables, check, PROBLEM_SCHEMA).toPandas()
    keys = key_problems(tables)
    if keys:
        found = pd.concat([found, pd.DataFrame([_as_row(p) for p in keys])], ignore_index=True)
    problems = merge_problems(found) if len(found) else []
    if any(p.severity == "error" for p in problems):
        raise DataContractError(problems)
    counts = {name: frame.count() for name, frame in tables.frames.items() if name in TABLE_NAMES}
    return ValidationReport(tuple(problems), counts)
