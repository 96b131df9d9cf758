"""Problems found in input data: what the contract reports, and how it reads.

A :class:`Problem` names the table, the column, the rule, a few offending rows with their
values and the fix; a :class:`ValidationReport` holds them all, errors and warnings, so a
user sees every problem of a folder in one pass. Row numbers are 1-based data rows, the
header not counted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_EXAMPLES = 5


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

    def __post_init__(self) -> None:
        # Text from the data (file and column names, values) is shown escaped, never raw.
        for name in ("table", "column", "message", "fix"):
            text = getattr(self, name)
            if text is not None:
                object.__setattr__(self, name, visible(str(text)))

    def describe(self) -> str:
        """One paragraph a user can act on."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"[{self.severity}] {where}: {self.message}"
        if self.n_rows:
            examples = ", ".join(
                f"row {row} ({show_value(value)})" for row, value in zip(self.rows, self.values)
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
            "values": [show_value(v) for v in self.values],
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


# Control and format characters: bidirectional overrides such as U+202E reorder the text a
# terminal or browser shows, so an id or a message could read as something it is not.
_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def visible(text: str) -> str:
    r"""``text`` with control and bidirectional characters written as visible escapes.

    Examples
    --------
    >>> visible("A\u202eevil")
    'A\\u202eevil'
    >>> visible("plain text, é ok")
    'plain text, é ok'
    """
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def show_value(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "empty"
    text = visible(str(value))
    return text if len(text) <= 40 else text[:37] + "..."


def problem_at(
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
