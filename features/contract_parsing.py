"""Raw cells read as the contract's types: numbers, whole numbers, timestamps, true/false.

The contract (:mod:`features.contract`) parses these columns itself rather than leaving it
to pandera, so that each value that cannot be read becomes a problem with its row and value
(:func:`features.problems.problem_at`), and a column of clean values is only compared,
never converted value by value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.problems import Problem, problem_at
from features.timestamps import DATE_RANGE, EARLIEST, LATEST, has_offset, local_to_utc

#: The fix for a value that is not a number (also pandera's ``coerce_dtype`` failures).
NUMBER_FIX = "use a number (dot as the decimal separator, no units or thousands separators)"


def parse_numbers(
    table: str, column: str, values: pd.Series, *, integer: bool
) -> tuple[pd.Series, list[Problem]]:
    """Numbers parsed here, not by pandera, so that each bad value is shown with its row.

    Worked on as numpy arrays: a column of numbers (the usual case) is only compared, never
    converted value by value.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        given = ~np.isnan(numbers)
    else:
        text = values.astype("str").str.strip()
        given = (values.notna() & text.ne("")).to_numpy()
        numbers = pd.to_numeric(text.where(given, None), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
    shown = pd.DataFrame({column: values})
    bad = given & ~np.isfinite(numbers)
    problems = [problem_at(
        shown, bad, table=table, column=column, rule="number", message="values are not numbers",
        fix=NUMBER_FIX,
    )]
    numbers = np.where(bad, np.nan, numbers)
    if not integer:
        return pd.Series(numbers, index=values.index), [p for p in problems if p]
    fractional = given & ~bad & (numbers % 1 != 0)
    problems.append(problem_at(
        shown, fractional, table=table, column=column, rule="integer",
        message="values must be whole numbers", fix="use whole numbers: counts have no decimals",
    ))
    numbers = np.where(fractional, np.nan, numbers)
    empty = np.isnan(numbers)
    whole = pd.arrays.IntegerArray(np.where(empty, 0, numbers).astype(np.int64), empty)
    return pd.Series(whole, index=values.index), [p for p in problems if p]


def parse_timestamps(
    table: str, column: str, values: pd.Series, time_zone: str | None = None
) -> tuple[pd.Series, list[Problem]]:
    """Dates and timestamps as naive UTC, and a problem for each that cannot be read or lies
    outside :data:`features.timestamps.DATE_RANGE` (then it is emptied).

    Offset-aware values are converted to UTC; naive ones are UTC, or local times of
    ``time_zone`` when the table has one.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        bad = np.zeros(len(values), dtype=bool)
        naive = np.full(len(values), getattr(values.dt, "tz", None) is None)
    else:
        text = values.where(values.notna(), None)
        parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        bad = (parsed.isna() & values.notna() & values.astype("str").str.strip().ne("")).to_numpy()
        naive = ~has_offset(values) if time_zone else None
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    # Dates read in micro- or milliseconds can lie beyond what nanoseconds hold (year 2999).
    outside = (parsed.notna() & ((parsed < EARLIEST) | (parsed > LATEST))).to_numpy()
    parsed = parsed.mask(outside).astype("datetime64[ns]")
    if time_zone:
        parsed = local_to_utc(parsed, time_zone, rows=naive & parsed.notna().to_numpy())
    shown = pd.DataFrame({column: values})
    problems = [
        problem_at(
            shown, bad, table=table, column=column, rule="timestamp",
            message="values are not dates or timestamps",
            fix="use ISO 8601, e.g. 2025-03-31 or 2025-03-31T14:05:00Z (naive times mean UTC)",
        ),
        problem_at(
            shown, outside, table=table, column=column, rule="date_range",
            message=f"dates must lie from {DATE_RANGE}",
            fix="correct the year; leave the cell empty for an unknown or open-ended date",
        ),
    ]
    return parsed, [p for p in problems if p]


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def parse_bool(values: pd.Series) -> tuple[pd.Series, Problem | None]:
    """``sessions.converted`` as a nullable boolean, and a problem for the unknown words."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), None
    text = values.astype("str").str.strip().str.lower().str.removesuffix(".0")
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE).to_numpy()] = True
    result[text.isin(_FALSE).to_numpy()] = False
    unknown = (values.notna() & ~text.isin(_TRUE | _FALSE) & text.ne("")).to_numpy()
    problem = problem_at(
        pd.DataFrame({"converted": values}), unknown, table="sessions", column="converted",
        rule="boolean", message="values are not true or false",
        fix="use true/false (yes/no, y/n, t/f and 1/0 are read too) or leave the cell empty",
    )
    return result, problem
