"""The contract's rules across tables: references, time order, survey scales, activity.

Each rule returns the :class:`~features.problems.Problem` list of what it found; the
contract (:func:`features.contract.validate_tables`) runs them once every table is typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.per_account import NAT, account_codes, as_ns
from features.problems import MAX_EXAMPLES, Problem, problem_at

if TYPE_CHECKING:
    from features.contract import SurveyScales


def survey_scale_problems(
    surveys: pd.DataFrame, scales: SurveyScales, survey_types: Sequence[str]
) -> list[Problem]:
    """Scores outside their survey's scale, and NPS answers that are not whole numbers."""
    problems = []
    if not {"survey", "score"} <= set(surveys):
        return problems  # a missing column is reported by the schema
    score = pd.to_numeric(surveys["score"], errors="coerce")
    for survey in survey_types:
        scale = scales.of(survey)
        of_type = surveys["survey"].eq(survey).to_numpy()
        outside = of_type & ((score < scale.low) | (score > scale.high)).to_numpy()
        problem = problem_at(
            surveys, outside, table="surveys", column="score", rule="scale",
            message=f"{survey} scores must lie on the {survey} scale {scale.low}-{scale.high}",
            fix=f"correct the scores, or declare the real {survey} scale in the mapping file "
                f"([surveys.{survey}] low/high)",
        )
        if problem:
            problems.append(problem)
        if survey == "nps":
            fractional = of_type & (score.notna() & (score % 1 != 0)).to_numpy()
            problem = problem_at(
                surveys, fractional, table="surveys", column="score", rule="integer",
                message="nps scores must be whole numbers 0-10",
                fix="use the raw 0-10 answer, not an average",
            )
            if problem:
                problems.append(problem)
    return problems


class AccountLookup:
    """Each row's account among the accounts table's, looked up once per table.

    The rules that need a row's account (its reference, its churn date) share one hash
    lookup per row (Arrow's own for Arrow text): ``Series.isin`` and ``Series.map`` on Arrow
    strings go through Python objects and took 17 s over 10 million sessions.
    """

    def __init__(self, accounts: pd.DataFrame) -> None:
        rows = accounts.dropna(subset=["account_id"]).drop_duplicates("account_id")
        self.ids = pd.Index(rows["account_id"])
        self.churned_at = as_ns(rows["churned_at"]) if "churned_at" in rows else None
        self._codes: dict[str, np.ndarray] = {}

    def codes(self, table: str, frame: pd.DataFrame) -> np.ndarray:
        """Position of each row's account in :attr:`ids`, -1 when unknown or empty."""
        if table not in self._codes:
            self._codes[table] = account_codes(frame["account_id"], self.ids)
        return self._codes[table]


def reference_problems(
    frames: dict[str, pd.DataFrame], lookup: AccountLookup | None = None
) -> list[Problem]:
    problems = []
    if "account_id" not in frames["accounts"]:
        return problems  # a missing column is reported by the schema
    lookup = lookup or AccountLookup(frames["accounts"])
    for table in ("sessions", "tickets", "orders", "surveys"):
        frame = frames.get(table)
        if frame is None or "account_id" not in frame:
            continue
        unknown = frame["account_id"].notna().to_numpy() & (lookup.codes(table, frame) < 0)
        problem = problem_at(
            frame, unknown, table=table, column="account_id", rule="reference",
            message="account_id not found in accounts",
            fix="add the accounts to the accounts table, or drop rows of accounts you do not track",
        )
        if problem:
            problems.append(problem)
    returns, orders = frames.get("returns"), frames.get("orders")
    if returns is not None and "order_id" in returns:
        known_orders = pd.Index(
            orders["order_id"].dropna().unique() if orders is not None and "order_id" in orders else []
        )
        found = account_codes(returns["order_id"], known_orders) >= 0
        unknown = returns["order_id"].notna().to_numpy() & ~found
        problem = problem_at(
            returns, unknown, table="returns", column="order_id", rule="reference",
            message="order_id not found in orders"
            + ("" if orders is not None else " (there is no orders table)"),
            fix="give the orders table every returned order, or drop returns of unknown orders",
        )
        if problem:
            problems.append(problem)
    return problems


def ordering_problems(frames: dict[str, pd.DataFrame]) -> list[Problem]:
    problems = []
    tickets = frames.get("tickets")
    if tickets is not None and "created_at" in tickets:
        for column in ("resolved_at", "first_response_at"):
            if column in tickets:
                early = (tickets[column] < tickets["created_at"]).fillna(False)
                problem = problem_at(
                    tickets, early, table="tickets", column=column, rule="order",
                    message=f"{column} is before created_at",
                    fix=f"check the time zones of both columns; {column} must not precede created_at",
                )
                if problem:
                    problems.append(problem)
    accounts = frames["accounts"]
    if "churned_at" in accounts and "signup_date" in accounts:
        early = (accounts["churned_at"] < accounts["signup_date"]).fillna(False)
        problem = problem_at(
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
        problem = problem_at(
            returns, too_many, table="returns", column="items", rule="order",
            message="more items returned than the order had",
            fix="check the order_id of these returns and the items ordered",
        )
        if problem:
            problems.append(problem)
        if "returned_at" in returns:
            # reindex, not map: mapping no rows (a header-only file) casts the dates to float.
            ordered_at = pd.Series(
                ordered["ordered_at"].reindex(returns["order_id"]).to_numpy(), index=returns.index
            )
            before = (returns["returned_at"] < ordered_at).fillna(False)
            problem = problem_at(
                returns, before, table="returns", column="returned_at", rule="order",
                message="returned before the order was placed",
                fix="check the order_id and the time zone of returned_at",
            )
            if problem:
                problems.append(problem)
    return problems


def after_churn_warnings(
    frames: dict[str, pd.DataFrame], activity: Mapping[str, str],
    lookup: AccountLookup | None = None,
) -> list[Problem]:
    """Warnings for rows dated after their account's churn (``activity``: table -> time)."""
    accounts = frames["accounts"]
    if {"account_id", "churned_at"} - set(accounts) or accounts["churned_at"].isna().all():
        return []
    lookup = lookup or AccountLookup(accounts)
    warnings = []
    for table, column in activity.items():
        frame = frames.get(table)
        if frame is None or column not in frame or "account_id" not in frame:
            continue
        codes = lookup.codes(table, frame)
        when = as_ns(frame[column])
        churned = np.append(lookup.churned_at, NAT)[codes]  # code -1 (no account) reads NaT
        late = (codes >= 0) & (when != NAT) & (churned != NAT) & (when > churned)
        problem = problem_at(
            frame, late, severity="warning", table=table, column=column, rule="after_churn",
            message="activity after the account's churned_at", value_column="account_id",
            fix="check churned_at of these accounts; if they came back, clear churned_at",
        )
        if problem:
            warnings.append(problem)
    return warnings


# --- the entry point -----------------------------------------------------------------


def unknown_value_warnings(
    frames: dict[str, pd.DataFrame], known: Mapping[tuple[str, str], Sequence[str]],
) -> list[Problem]:
    """Warnings for labels outside the contract's values (``known``: (table, column) -> values).

    The rows stay: their other columns still count, and only a split by the column (e.g.
    ``metrics --by source``) shows the label as its own group.
    """
    warnings = []
    for (table, column), values in known.items():
        frame = frames.get(table)
        if frame is None or column not in frame:
            continue
        unknown = frame[column].notna() & ~frame[column].isin(values)
        counts = frame.loc[unknown, column].value_counts()
        shown = ", ".join(f"{value!r} ({n} row{'s' if n > 1 else ''})" for value, n in counts.head(MAX_EXAMPLES).items())
        more = f" and {len(counts) - MAX_EXAMPLES} more" if len(counts) > MAX_EXAMPLES else ""
        first = counts.index[0] if len(counts) else "google"
        problem = problem_at(
            frame, unknown, severity="warning", table=table, column=column, rule="unknown_value",
            message=f"{len(counts)} value(s) that are none of {', '.join(values)}: {shown}{more}",
            fix=f"map them in the mapping file, e.g. [tables.{table}.values.{column}] with "
                f'"{first}" = "{values[0]}" (whichever of the values above it is); '
                "until then the rows are kept with their own label",
        )
        if problem:
            warnings.append(problem)
    return warnings
