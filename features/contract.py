"""The table contract: the six input tables, their schemas and every validation rule.

Schemas are declared once here (pandera) and enforced by :func:`validate_tables`. Every
problem names the table, the column, a few offending rows with their values and the fix;
errors are collected together (not one at a time) and raised as one
:class:`DataContractError`. Legal but suspicious data becomes a warning in the report.

Row numbers in problems are 1-based data rows, the header not counted: row 1 is the first
record of the file (line 2 of a CSV). Raw cells are read as numbers, timestamps and
booleans by :mod:`features.contract_parsing`; rules across tables are in
:mod:`features.contract_rules`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors

from features import contract_rules
from features.contract_parsing import NUMBER_FIX, parse_bool, parse_numbers, parse_timestamps
from features.problems import (
    MAX_EXAMPLES,
    DataContractError,
    Problem,
    ValidationReport,
)

if TYPE_CHECKING:  # the definition module reads Tables: import for the annotation only
    from features.churn_definition import ChurnDefinition

TABLE_NAMES = ("accounts", "sessions", "tickets", "orders", "returns", "surveys")
SURVEY_TYPES = ("csat", "nps", "ces")
#: The usual values of ``sessions.source`` (any other label is kept as it is).
TRAFFIC_SOURCES = ("organic_search", "paid_search", "social", "referral", "email", "direct")
# Columns with a closed set of values, which the mapping file may map the user's labels onto.
MAPPED_VALUES = {("sessions", "source"): TRAFFIC_SOURCES}
ORGANIC_SEARCH = "organic_search"


# --- survey scales -------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyScale:
    """The answer scale of one survey type.

    Parameters
    ----------
    low, high : int
        Lowest and highest possible answer.
    satisfied_at : int, optional
        CSAT only: answers at or above it count as satisfied. Defaults to the top two boxes
        on a 1-5 scale and to the top 20% of the scale otherwise (9-10 on 1-10).
    higher_is_better : bool
        False when the source scale runs the other way (a CES where 1 = very easy). The
        loader flips such scores so that higher is better everywhere downstream.
    """

    low: int
    high: int
    satisfied_at: int | None = None
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ValueError(f"survey scale low ({self.low}) must be below high ({self.high})")
        if self.satisfied_at is None:
            points = self.high - self.low + 1
            top = 2 if (self.low, self.high) == (1, 5) else max(1, math.ceil(0.2 * points))
            object.__setattr__(self, "satisfied_at", self.high - top + 1)
        if not self.low <= self.satisfied_at <= self.high:
            raise ValueError(
                f"satisfied_at ({self.satisfied_at}) must lie on the scale {self.low}-{self.high}"
            )


@dataclass(frozen=True)
class SurveyScales:
    """Scales of the three survey types; docs/metrics.md gives the defaults."""

    nps: SurveyScale = SurveyScale(0, 10)
    csat: SurveyScale = SurveyScale(1, 5, satisfied_at=4)
    ces: SurveyScale = SurveyScale(1, 5)

    def of(self, survey: str) -> SurveyScale:
        return getattr(self, survey)


# --- the tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Tables:
    """The validated input tables, canonical column names, timestamps as naive UTC.

    Only ``accounts`` is required; a missing table is ``None`` and its indicators are
    missing, not zero. Survey scores are already normalised so that higher is better.
    """

    accounts: pd.DataFrame
    sessions: pd.DataFrame | None = None
    tickets: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None
    scales: SurveyScales = field(default_factory=SurveyScales)
    # What churn means for these tables (features.churn_definition); None: recorded.
    churn: ChurnDefinition | None = None

    def present(self) -> dict[str, pd.DataFrame]:
        """The tables that were given, by name."""
        return {
            name: getattr(self, name) for name in TABLE_NAMES if getattr(self, name) is not None
        }


# --- schemas -------------------------------------------------------------------------

ID_COLUMNS = {
    "accounts": ("account_id",),
    "sessions": ("account_id", "user_id"),
    "tickets": ("ticket_id", "account_id"),
    "orders": ("order_id", "account_id"),
    "returns": ("order_id",),
    "surveys": ("response_id", "account_id"),
}

TIMESTAMP_COLUMNS = {
    "accounts": ("signup_date", "churned_at", "renewal_date"),
    "sessions": ("started_at",),
    "tickets": ("created_at", "first_response_at", "resolved_at"),
    "orders": ("ordered_at",),
    "returns": ("returned_at",),
    "surveys": ("responded_at",),
}

# The timestamp that places a row of each event table in time. renewal_date is left out
# on purpose: it is a scheduled date, often in the future, not something that happened.
EVENT_COLUMNS = {
    "sessions": "started_at",
    "tickets": "created_at",
    "orders": "ordered_at",
    "returns": "returned_at",
    "surveys": "responded_at",
}

TEXT_COLUMNS = {
    "accounts": ("segment", "region", "plan", "owner"),
    "sessions": ("source",),
    "tickets": ("channel",),
    "surveys": ("survey", "channel", "touchpoint", "comment"),
}

_non_negative = pa.Check.ge(0, error="must be zero or more")


def _id(unique: bool = False) -> pa.Column:
    return pa.Column(str, nullable=False, unique=unique)


def _when(required: bool) -> pa.Column:
    return pa.Column("datetime64[ns]", nullable=not required, required=required, coerce=True)


def _text(required: bool = False) -> pa.Column:
    return pa.Column(str, nullable=not required, required=required)


def _number(required: bool, *checks: pa.Check, integer: bool = False) -> pa.Column:
    dtype = "Int64" if integer else float
    return pa.Column(dtype, list(checks), nullable=not required, required=required, coerce=True)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "accounts": pa.DataFrameSchema(
        {
            "account_id": _id(unique=True),
            "signup_date": _when(True),
            "churned_at": _when(False),
            "segment": _text(),
            "region": _text(),
            "plan": _text(),
            "owner": _text(),  # the customer-success manager who calls the account
            "mrr": _number(False, _non_negative),
            "acquisition_cost": _number(False, _non_negative),
            "renewal_date": _when(False),
        },
        name="accounts",
    ),
    "sessions": pa.DataFrameSchema(
        {
            "account_id": _id(),
            "user_id": _id(),
            "started_at": _when(True),
            "duration_seconds": _number(True, _non_negative),
            "page_views": _number(True, _non_negative, integer=True),
            "converted": pa.Column("boolean", nullable=True, required=False, coerce=True),
            "source": _text(),  # where the visit came from: TRAFFIC_SOURCES (or mapped labels)
        },
        name="sessions",
    ),
    "tickets": pa.DataFrameSchema(
        {
            "ticket_id": _id(unique=True),
            "account_id": _id(),
            "channel": _text(required=True),
            "created_at": _when(True),
            "first_response_at": _when(False),
            "resolved_at": _when(False),
            "reopened_count": _number(False, _non_negative, integer=True),
        },
        name="tickets",
    ),
    "orders": pa.DataFrameSchema(
        {
            "order_id": _id(unique=True),
            "account_id": _id(),
            "ordered_at": _when(True),
            "amount": _number(True, _non_negative),
            "items": _number(True, _non_negative, integer=True),
        },
        name="orders",
    ),
    "returns": pa.DataFrameSchema(
        {
            "order_id": _id(),
            "returned_at": _when(True),
            "items": _number(True, pa.Check.ge(1, error="must be at least 1"), integer=True),
            "amount": _number(False, _non_negative),
        },
        name="returns",
    ),
    "surveys": pa.DataFrameSchema(
        {
            "response_id": _id(unique=True),
            "account_id": _id(),
            "survey": pa.Column(
                str, pa.Check.isin(SURVEY_TYPES, error="must be csat, nps or ces"),
                nullable=False,
            ),
            "score": _number(True),
            "responded_at": _when(True),
            "channel": _text(),
            "touchpoint": _text(),
            "comment": _text(),
        },
        name="surveys",
    ),
}

REQUIRED_COLUMNS = {
    name: tuple(c for c, col in schema.columns.items() if col.required and not col.nullable)
    for name, schema in SCHEMAS.items()
}
ALL_COLUMNS = {name: tuple(schema.columns) for name, schema in SCHEMAS.items()}
NUMBER_COLUMNS = {  # (column, is integer) of every numeric column
    name: tuple(
        (c, str(col.dtype) == "Int64") for c, col in schema.columns.items()
        if str(col.dtype) in ("float64", "Int64")
    )
    for name, schema in SCHEMAS.items()
}

_FIXES = {
    "column_in_dataframe": "add the column, or map your own column name to it in the mapping file",
    "not_nullable": "fill in the value, or drop the row if it is not a real record",
    "field_uniqueness": "keep one row per key: remove the duplicates or give them their own ids",
    "coerce_dtype": NUMBER_FIX,
    "dtype": "use the documented type for this column (see docs/data-contract.md)",
    "isin": "use one of the allowed values",
    "must be zero or more": "correct the value: negative counts, durations and amounts are not allowed",
    "must be at least 1": "a return must have at least one item; drop rows with none",
    "must be csat, nps or ces": "use csat, nps or ces in the survey column (any letter case)",
}


#: The message of a repeated key, wherever the repeat is found (here, or across Spark's buckets).
REPEATED_KEY = "values must be unique (it is the table's key)"


def repeated_key_problem(table: str, column: str, n_rows: int, rows: tuple[int, ...],
                         values: tuple) -> Problem:
    """The problem a key column with repeated values gives: one message and fix everywhere."""
    return Problem("error", table, column, "field_uniqueness", REPEATED_KEY,
                   _FIXES["field_uniqueness"], n_rows=n_rows, rows=rows, values=values)


def _passes_schema(table: str, frame: pd.DataFrame) -> bool:
    """Whether ``frame`` (as :func:`_prepare` leaves it) already meets its schema as it is.

    The usual case, checked column by column with one vectorised test per rule: types once,
    each key with one hash, each range with one comparison. Only a frame that fails (or
    would need converting) goes through pandera's own validation, whose report gives the
    problems their messages; a frame that passes here passes pandera unchanged.
    """
    for name, column in SCHEMAS[table].columns.items():
        if name not in frame:
            if column.required:
                return False
            continue
        values = frame[name]
        if not column.dtype.check(pandas_engine.Engine.dtype(values.dtype)):
            return False
        if not column.nullable and values.isna().any():
            return False
        if column.unique and values.duplicated().any():
            return False
        if not all(_holds(check, values) for check in column.checks):
            return False
    return True


def _holds(check: pa.Check, values: pd.Series) -> bool:
    """Whether a column check holds for every given value (empty values pass, as in pandera).

    The contract's two kinds of check are one comparison each; calling pandera's check
    object costs ten times more (it wraps the result for its report).
    """
    stats = check.statistics
    if check.name == "greater_than_or_equal_to":
        return not bool((values < stats["min_value"]).any())  # NaN compares False
    if check.name == "isin":
        return bool((values.isin(stats["allowed_values"]) | values.isna()).all())
    return bool(check(values).check_passed)


def _schema_problems(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """The frame typed by its schema (as given when it fails) and the schema's problems."""
    if _passes_schema(table, frame):
        return frame, []
    try:
        return SCHEMAS[table].validate(frame, lazy=True), []
    except SchemaErrors as exc:
        return frame, _problems_from_pandera(table, frame, exc.failure_cases)


def _problems_from_pandera(table: str, frame: pd.DataFrame, cases: pd.DataFrame) -> list[Problem]:
    problems = []
    cases = cases.copy()
    cases["column"] = cases["column"].where(cases["column"].notna(), None)
    coerce_failed = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"])
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        check = str(check)
        rule = check.split("(")[0]
        if column in coerce_failed and rule != "coerce_dtype":
            continue  # the same values again, already reported as not convertible
        if check.startswith("column_in_dataframe"):
            problems += [
                Problem("error", table, str(missing), "required_column",
                        "required column is missing", _FIXES["column_in_dataframe"])
                for missing in group["failure_case"].drop_duplicates()
            ]
            continue
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int)
        n_rows = int(index.nunique()) if len(index) else len(group)
        positions = index.drop_duplicates().head(MAX_EXAMPLES)
        values = tuple(group["failure_case"].head(len(positions))) if len(positions) else ()
        if rule == "field_uniqueness":
            message = REPEATED_KEY
        elif rule == "not_nullable":
            message = "required value is empty"
        elif rule in ("coerce_dtype", "dtype"):
            message = f"values are not of the expected type ({check})"
        else:
            message = check
        problems.append(Problem(
            "error", table, None if column is None else str(column), rule, message,
            _FIXES.get(rule, _FIXES.get(check, "correct the values shown")),
            n_rows=n_rows, rows=tuple(int(p) + 1 for p in positions), values=values,
        ))
    return problems


# --- preparing raw frames ------------------------------------------------------------


def _prepare(
    table: str, raw: pd.DataFrame, time_zone: str | None = None
) -> tuple[pd.DataFrame, list[Problem]]:
    """Canonical dtypes for ids, text and timestamps, before the schema checks.

    Timestamps are parsed here rather than by pandera so that an unparseable value is
    reported with its row, and so that offset-aware values are converted to UTC (naive
    values mean UTC, or local times of ``time_zone`` when the table has one).
    """
    # A shallow copy is enough: columns are replaced, never written into (copy-on-write).
    frame = raw.reset_index(drop=True).copy(deep=False)
    problems: list[Problem] = []
    for column in ID_COLUMNS[table] + TEXT_COLUMNS.get(table, ()):
        if column in frame:
            values = frame[column]
            text = values.astype("str").str.strip()
            frame[column] = text.where(values.notna(), None)
            if column in ID_COLUMNS[table] or column == "survey":
                frame[column] = frame[column].mask(frame[column].eq(""), None)
    if table == "surveys" and "survey" in frame:
        frame["survey"] = frame["survey"].str.lower()
    for column in TIMESTAMP_COLUMNS[table]:
        if column not in frame:
            continue
        frame[column], date_problems = parse_timestamps(table, column, frame[column], time_zone)
        problems += date_problems
    for column, integer in NUMBER_COLUMNS[table]:
        if column not in frame:
            continue
        parsed, number_problems = parse_numbers(table, column, frame[column], integer=integer)
        frame[column] = parsed
        problems += number_problems
    if table == "sessions" and "converted" in frame:
        frame["converted"], problem = parse_bool(frame["converted"])
        if problem:
            problems.append(problem)
    return frame, problems


# --- rules across columns and tables -------------------------------------------------


def normalise_survey_scores(surveys: pd.DataFrame, scales: SurveyScales) -> pd.DataFrame:
    """Flip the scores of reversed scales so that higher is better downstream."""
    surveys = surveys.copy()
    for survey in SURVEY_TYPES:
        scale = scales.of(survey)
        if not scale.higher_is_better:
            rows = surveys["survey"].eq(survey)
            surveys.loc[rows, "score"] = scale.low + scale.high - surveys.loc[rows, "score"]
    return surveys


def validate_tables(
    raw: dict[str, pd.DataFrame], *, scales: SurveyScales | None = None,
    time_zones: dict[str, str] | None = None,
) -> tuple[Tables, ValidationReport]:
    """Check raw tables against the contract and return them typed.

    Parameters
    ----------
    raw : dict of str to DataFrame
        Tables by canonical name, with canonical column names (the mapping file has
        already been applied). Unknown names are an error; missing ones are allowed except
        ``accounts``.
    scales : SurveyScales, optional
        Survey answer scales; docs/metrics.md defaults when omitted.
    time_zones : dict of str to str, optional
        Per table, the IANA time zone its naive timestamps are local times of (the
        mapping file's ``timezone``); they are converted to UTC. Naive means UTC otherwise.

    Returns
    -------
    (Tables, ValidationReport)
        The typed tables and a report that holds the warnings.

    Raises
    ------
    DataContractError
        When any rule is broken; it lists every problem, not just the first.
    """
    scales = scales or SurveyScales()
    problems: list[Problem] = []
    unknown = sorted(set(raw) - set(TABLE_NAMES))
    for name in unknown:
        problems.append(Problem(
            "error", name, None, "unknown_table", "is not a table of the contract",
            f"rename the file to one of {', '.join(TABLE_NAMES)}, map it in the mapping file, "
            "or move it out of the folder",
        ))
    if "accounts" not in raw:
        problems.append(Problem(
            "error", "accounts", None, "required_table", "the accounts table is required",
            "add accounts.csv (or accounts.parquet) with at least account_id and signup_date",
        ))
        raise DataContractError(problems)

    frames: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        if name not in raw:
            continue
        frame, parse_problems = _prepare(name, raw[name], (time_zones or {}).get(name))
        problems += parse_problems
        # A value that failed to parse is reported once, not again as empty or mistyped.
        unparsed = {p.column for p in parse_problems}
        frame, schema_problems = _schema_problems(name, frame)
        problems += [p for p in schema_problems if p.column not in unparsed]
        frames[name] = frame

    # Every rule runs on what could be read, so one pass shows every problem; a column with
    # an error takes no part in the rules across tables, which would only repeat it.
    ruled = _without_failed_columns(frames, problems)
    lookup = (contract_rules.AccountLookup(ruled["accounts"])
              if "account_id" in ruled["accounts"] else None)
    if "account_id" in frames["accounts"] and frames["accounts"].empty:
        problems.append(Problem(
            "error", "accounts", None, "empty_table", "accounts is empty: a header but no rows",
            "export the accounts again with their rows; every other table refers to them",
        ))
    else:
        problems += contract_rules.reference_problems(ruled, lookup)
    problems += contract_rules.ordering_problems(ruled)
    if "surveys" in frames:
        problems += contract_rules.survey_scale_problems(ruled["surveys"], scales, SURVEY_TYPES)
    problems += contract_rules.after_churn_warnings(ruled, EVENT_COLUMNS, lookup)
    problems += contract_rules.unknown_value_warnings(ruled, MAPPED_VALUES)

    if any(p.severity == "error" for p in problems):
        raise DataContractError(problems)
    if "surveys" in frames:
        frames["surveys"] = normalise_survey_scores(frames["surveys"], scales)
    frames = {name: with_optional_columns(name, frame) for name, frame in frames.items()}
    report = ValidationReport(tuple(problems), {n: len(f) for n, f in frames.items()})
    return Tables(**frames, scales=scales), report


def _without_failed_columns(
    frames: dict[str, pd.DataFrame], problems: list[Problem]
) -> dict[str, pd.DataFrame]:
    """``frames`` with each column that has an error emptied (keys excepted: a duplicate or
    empty id is still the id other tables refer to)."""
    failed = {(p.table, p.column) for p in problems if p.severity == "error" and p.column}
    ruled = {}
    for name, frame in frames.items():
        columns = [c for c in frame.columns
                   if (name, c) in failed and c not in ID_COLUMNS[name]]
        empty = np.zeros(len(frame), dtype=bool)
        ruled[name] = frame.assign(**{c: frame[c].where(empty) for c in columns}) if columns else frame
    return ruled


def with_optional_columns(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the contract's absent optional columns added empty (a copy when any is).

    Downstream code can then rely on every column of the contract being there.
    """
    absent = [name for name in SCHEMAS[table].columns if name not in frame]
    if not absent:
        return frame
    frame = frame.copy(deep=False)
    for name in absent:
        dtype = str(SCHEMAS[table].columns[name].dtype)
        empty = pd.Series(None, index=frame.index, dtype=object)
        frame[name] = empty if dtype == "str" else empty.astype(dtype)
    return frame
