"""The table contract: the six input tables, their schemas and every validation rule.

Schemas are declared once here (pandera) and enforced by :func:`validate_tables`. Every
problem names the table, the column, a few offending rows with their values and the fix;
errors are collected together (not one at a time) and raised as one
:class:`DataContractError`. Legal but suspicious data becomes a warning in the report.

Row numbers in problems are 1-based data rows, the header not counted: row 1 is the first
record of the file (line 2 of a CSV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

TABLE_NAMES = ("accounts", "sessions", "tickets", "orders", "returns", "surveys")
SURVEY_TYPES = ("csat", "nps", "ces")
MAX_EXAMPLES = 5


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
    """Scales of the three survey types; METRICS.md gives the defaults."""

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

    def present(self) -> dict[str, pd.DataFrame]:
        """The tables that were given, by name."""
        return {
            name: getattr(self, name) for name in TABLE_NAMES if getattr(self, name) is not None
        }

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last timestamp over every table (signup dates included)."""
        stamps = []
        for name, frame in self.present().items():
            for column in TIMESTAMP_COLUMNS[name]:
                values = frame[column].dropna()
                if len(values):
                    stamps += [values.min(), values.max()]
        return min(stamps), max(stamps)


# --- problems and the report ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One broken (or suspicious) rule, with where it is broken and how to fix it."""

    severity: str  # "error" or "warning"
    table: str
    column: str | None
    rule: str
    message: str
    fix: str
    n_rows: int = 0
    rows: tuple[int, ...] = ()
    values: tuple[object, ...] = ()

    def describe(self) -> str:
        """One paragraph a user can act on."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"[{self.severity}] {where}: {self.message}"
        if self.n_rows:
            examples = ", ".join(
                f"row {row} ({_show(value)})" for row, value in zip(self.rows, self.values)
            )
            more = f" and {self.n_rows - len(self.rows)} more" if self.n_rows > len(self.rows) else ""
            text += f"\n    {self.n_rows} row(s): {examples}{more}"
        return text + f"\n    fix: {self.fix}"

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "table": self.table,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
            "fix": self.fix,
            "n_rows": self.n_rows,
            "rows": list(self.rows),
            "values": [_show(v) for v in self.values],
        }


@dataclass(frozen=True)
class ValidationReport:
    problems: tuple[Problem, ...] = ()
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        if not self.problems:
            return "all tables pass the contract"
        return "\n".join(p.describe() for p in self.problems)


class DataContractError(ValueError):
    """Input tables break the contract. ``problems`` holds each broken rule in detail."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} problem(s) in the input tables"
        super().__init__(head + ":\n" + "\n".join(p.describe() for p in errors))


class DataContractWarning(UserWarning):
    """Legal but suspicious input (for example activity after an account churned)."""


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "empty"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _problem_at(
    frame: pd.DataFrame, mask: pd.Series | np.ndarray, *, severity: str = "error",
    table: str, column: str | None, rule: str, message: str, fix: str,
    value_column: str | None = None,
) -> Problem | None:
    """A problem for the rows where ``mask`` holds, or None when it holds nowhere."""
    mask = np.asarray(mask, dtype=bool)
    n_rows = int(mask.sum())
    if not n_rows:
        return None
    positions = np.flatnonzero(mask)[:MAX_EXAMPLES]
    shown = frame[value_column or column] if (value_column or column) in frame else None
    values = tuple(shown.iloc[positions]) if shown is not None else ()
    return Problem(
        severity=severity, table=table, column=column, rule=rule, message=message, fix=fix,
        n_rows=n_rows, rows=tuple(int(p) + 1 for p in positions), values=values,
    )


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

TEXT_COLUMNS = {
    "accounts": ("segment", "region", "plan"),
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
    "coerce_dtype": "use a number (dot as the decimal separator, no units or thousands separators)",
    "dtype": "use the documented type for this column (see docs/data-contract.md)",
    "isin": "use one of the allowed values",
    "must be zero or more": "correct the value: negative counts, durations and amounts are not allowed",
    "must be at least 1": "a return must have at least one item; drop rows with none",
    "must be csat, nps or ces": "use csat, nps or ces in the survey column (any letter case)",
}


def _schema_problems(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """The frame typed by its schema (as given when it fails) and the schema's problems."""
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
            missing = str(group["failure_case"].iloc[0])
            problems.append(Problem(
                "error", table, missing, "required_column",
                "required column is missing", _FIXES["column_in_dataframe"],
            ))
            continue
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int)
        n_rows = int(index.nunique()) if len(index) else len(group)
        positions = index.drop_duplicates().head(MAX_EXAMPLES)
        values = tuple(group["failure_case"].head(len(positions))) if len(positions) else ()
        if rule == "field_uniqueness":
            message = "values must be unique (it is the table's key)"
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


def _prepare(table: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Canonical dtypes for ids, text and timestamps, before the schema checks.

    Timestamps are parsed here rather than by pandera so that an unparseable value is
    reported with its row, and so that offset-aware values are converted to UTC (naive
    values already mean UTC).
    """
    frame = raw.reset_index(drop=True).copy()
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
        parsed, problem = _parse_timestamps(table, column, frame[column])
        frame[column] = parsed
        if problem:
            problems.append(problem)
    for column, integer in NUMBER_COLUMNS[table]:
        if column not in frame:
            continue
        parsed, number_problems = _parse_numbers(table, column, frame[column], integer=integer)
        frame[column] = parsed
        problems += number_problems
    if table == "sessions" and "converted" in frame:
        frame["converted"], problem = _parse_bool(frame["converted"])
        if problem:
            problems.append(problem)
    return frame, problems


def _parse_numbers(
    table: str, column: str, values: pd.Series, *, integer: bool
) -> tuple[pd.Series, list[Problem]]:
    """Numbers parsed here, not by pandera, so that each bad value is shown with its row."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        given = values.notna()
    else:
        text = values.astype("str").str.strip()
        given = values.notna() & text.ne("")
        numbers = pd.to_numeric(text.where(given, None), errors="coerce").astype("float64")
    shown = pd.DataFrame({column: values})
    bad = (given & (numbers.isna() | np.isinf(numbers))).to_numpy()
    problems = [_problem_at(
        shown, bad, table=table, column=column, rule="number", message="values are not numbers",
        fix=_FIXES["coerce_dtype"],
    )]
    numbers = numbers.mask(bad)
    if integer:
        fractional = (numbers.notna() & (numbers % 1 != 0)).to_numpy()
        problems.append(_problem_at(
            shown, fractional, table=table, column=column, rule="integer",
            message="values must be whole numbers", fix="use whole numbers: counts have no decimals",
        ))
        numbers = numbers.mask(fractional).astype("Int64")
    return numbers, [p for p in problems if p]


def _parse_timestamps(table: str, column: str, values: pd.Series) -> tuple[pd.Series, Problem | None]:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        bad = np.zeros(len(values), dtype=bool)
    else:
        text = values.where(values.notna(), None)
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        bad = parsed.isna() & values.notna() & values.astype("str").str.strip().ne("")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    parsed = parsed.astype("datetime64[ns]")
    problem = _problem_at(
        pd.DataFrame({column: values}), bad, table=table, column=column, rule="timestamp",
        message="values are not dates or timestamps",
        fix="use ISO 8601, e.g. 2025-03-31 or 2025-03-31T14:05:00Z (naive times mean UTC)",
    )
    return parsed, problem


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _parse_bool(values: pd.Series) -> tuple[pd.Series, Problem | None]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), None
    text = values.astype("str").str.strip().str.lower().str.removesuffix(".0")
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE).to_numpy()] = True
    result[text.isin(_FALSE).to_numpy()] = False
    unknown = (values.notna() & ~text.isin(_TRUE | _FALSE) & text.ne("")).to_numpy()
    problem = _problem_at(
        pd.DataFrame({"converted": values}), unknown, table="sessions", column="converted",
        rule="boolean", message="values are not true or false",
        fix="use true/false (yes/no, y/n, t/f and 1/0 are read too) or leave the cell empty",
    )
    return result, problem


# --- rules across columns and tables -------------------------------------------------


def _survey_scale_problems(surveys: pd.DataFrame, scales: SurveyScales) -> list[Problem]:
    problems = []
    score = pd.to_numeric(surveys["score"], errors="coerce")
    for survey in SURVEY_TYPES:
        scale = scales.of(survey)
        of_type = surveys["survey"].eq(survey).to_numpy()
        outside = of_type & ((score < scale.low) | (score > scale.high)).to_numpy()
        problem = _problem_at(
            surveys, outside, table="surveys", column="score", rule="scale",
            message=f"{survey} scores must lie on the {survey} scale {scale.low}-{scale.high}",
            fix=f"correct the scores, or declare the real {survey} scale in the mapping file "
                f"([surveys.{survey}] low/high)",
        )
        if problem:
            problems.append(problem)
        if survey == "nps":
            fractional = of_type & (score.notna() & (score % 1 != 0)).to_numpy()
            problem = _problem_at(
                surveys, fractional, table="surveys", column="score", rule="integer",
                message="nps scores must be whole numbers 0-10",
                fix="use the raw 0-10 answer, not an average",
            )
            if problem:
                problems.append(problem)
    return problems


def _reference_problems(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    problems = []
    known_accounts = pd.Index(frames["accounts"]["account_id"].dropna().unique())
    for table in ("sessions", "tickets", "orders", "surveys"):
        frame = frames.get(table)
        if frame is None or "account_id" not in frame:
            continue
        unknown = frame["account_id"].notna() & ~frame["account_id"].isin(known_accounts)
        problem = _problem_at(
            frame, unknown, table=table, column="account_id", rule="reference",
            message="account_id not found in accounts",
            fix="add the accounts to the accounts table, or drop rows of accounts you do not track",
        )
        if problem:
            problems.append(problem)
    returns, orders = frames.get("returns"), frames.get("orders")
    if returns is not None and "order_id" in returns:
        known_orders = orders["order_id"] if orders is not None and "order_id" in orders else []
        unknown = returns["order_id"].notna() & ~returns["order_id"].isin(known_orders)
        problem = _problem_at(
            returns, unknown, table="returns", column="order_id", rule="reference",
            message="order_id not found in orders"
            + ("" if orders is not None else " (there is no orders table)"),
            fix="give the orders table every returned order, or drop returns of unknown orders",
        )
        if problem:
            problems.append(problem)
    return problems


def _ordering_problems(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    problems = []
    tickets = frames.get("tickets")
    if tickets is not None and "created_at" in tickets:
        for column in ("resolved_at", "first_response_at"):
            if column in tickets:
                early = (tickets[column] < tickets["created_at"]).fillna(False)
                problem = _problem_at(
                    tickets, early, table="tickets", column=column, rule="order",
                    message=f"{column} is before created_at",
                    fix=f"check the time zones of both columns; {column} must not precede created_at",
                )
                if problem:
                    problems.append(problem)
    accounts = frames["accounts"]
    if "churned_at" in accounts and "signup_date" in accounts:
        early = (accounts["churned_at"] < accounts["signup_date"]).fillna(False)
        problem = _problem_at(
            accounts, early, table="accounts", column="churned_at", rule="order",
            message="churned_at is before signup_date", fix="correct one of the two dates",
        )
        if problem:
            problems.append(problem)
    returns, orders = frames.get("returns"), frames.get("orders")
    if returns is not None and orders is not None and {"order_id", "items"} <= set(returns) \
            and {"order_id", "items", "ordered_at"} <= set(orders):
        ordered = orders.drop_duplicates("order_id").set_index("order_id")
        returned_items = pd.to_numeric(returns["items"], errors="coerce").groupby(returns["order_id"]).transform("sum")
        ordered_items = pd.to_numeric(returns["order_id"].map(ordered["items"]), errors="coerce")
        too_many = (returned_items > ordered_items).fillna(False)
        problem = _problem_at(
            returns, too_many, table="returns", column="items", rule="order",
            message="more items returned than the order had",
            fix="check the order_id of these returns and the items ordered",
        )
        if problem:
            problems.append(problem)
        if "returned_at" in returns:
            before = (returns["returned_at"] < returns["order_id"].map(ordered["ordered_at"])).fillna(False)
            problem = _problem_at(
                returns, before, table="returns", column="returned_at", rule="order",
                message="returned before the order was placed",
                fix="check the order_id and the time zone of returned_at",
            )
            if problem:
                problems.append(problem)
    return problems


_ACTIVITY = {"sessions": "started_at", "tickets": "created_at", "orders": "ordered_at",
             "surveys": "responded_at"}


def _after_churn_warnings(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    accounts = frames["accounts"]
    if "churned_at" not in accounts or accounts["churned_at"].isna().all():
        return []
    churned_at = accounts.drop_duplicates("account_id").set_index("account_id")["churned_at"].dropna()
    warnings = []
    for table, column in _ACTIVITY.items():
        frame = frames.get(table)
        if frame is None or column not in frame or "account_id" not in frame:
            continue
        late = (frame[column] > frame["account_id"].map(churned_at)).fillna(False)
        problem = _problem_at(
            frame, late, severity="warning", table=table, column=column, rule="after_churn",
            message="activity after the account's churned_at", value_column="account_id",
            fix="check churned_at of these accounts; if they came back, clear churned_at",
        )
        if problem:
            warnings.append(problem)
    return warnings


# --- the entry point -----------------------------------------------------------------


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
    raw: dict[str, pd.DataFrame], *, scales: SurveyScales | None = None
) -> tuple[Tables, ValidationReport]:
    """Check raw tables against the contract and return them typed.

    Parameters
    ----------
    raw : dict of str to DataFrame
        Tables by canonical name, with canonical column names (the mapping file has
        already been applied). Unknown names are an error; missing ones are allowed except
        ``accounts``.
    scales : SurveyScales, optional
        Survey answer scales; METRICS.md defaults when omitted.

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
        frame, parse_problems = _prepare(name, raw[name])
        problems += parse_problems
        # A value that failed to parse is reported once, not again as empty or mistyped.
        unparsed = {p.column for p in parse_problems}
        frame, schema_problems = _schema_problems(name, frame)
        problems += [p for p in schema_problems if p.column not in unparsed]
        frames[name] = frame

    if not any(p.severity == "error" for p in problems):
        problems += _reference_problems(frames)
        problems += _ordering_problems(frames)
        if "surveys" in frames:
            problems += _survey_scale_problems(frames["surveys"], scales)
        problems += _after_churn_warnings(frames)
    elif "surveys" in frames and not any(
        p.severity == "error" and p.table == "surveys" for p in problems
    ):
        # Cross-table rules need every table typed; the scale check needs only surveys.
        problems += _survey_scale_problems(frames["surveys"], scales)

    if any(p.severity == "error" for p in problems):
        raise DataContractError(problems)
    if "surveys" in frames:
        frames["surveys"] = normalise_survey_scores(frames["surveys"], scales)
    frames = {name: _with_optional_columns(name, frame) for name, frame in frames.items()}
    report = ValidationReport(tuple(problems), {n: len(f) for n, f in frames.items()})
    return Tables(**frames, scales=scales), report


def _with_optional_columns(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Add absent optional columns as empty ones, so downstream code can rely on them."""
    for name, column in SCHEMAS[table].columns.items():
        if name not in frame:
            dtype = str(column.dtype)
            frame[name] = pd.Series(None, index=frame.index, dtype=object).astype(
                "str" if dtype == "str" else dtype
            ) if dtype != "str" else pd.Series(None, index=frame.index, dtype=object)
    return frame
