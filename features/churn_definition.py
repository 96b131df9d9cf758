"""What churn means for this data: a recorded date, or a lapse in ordering.

Two definitions (the mapping file's ``[churn]`` section, :class:`features.mapping.ChurnSpec`):

* ``recorded``: an account churns on ``accounts.churned_at`` (a subscription cancelled);
* ``lapse``: a shop's customer is lost once they have had no order (``activity = "any"``:
  no event of any table) for ``lapse_days``. The churn date is the last order plus
  ``lapse_days``, and it is known only once that day lies inside the data: a customer whose
  last order is more recent than the lapse is still a customer.

Without a ``[churn]`` section the data decides: no churn recorded and an orders table means
``lapse``, with ``lapse_days`` the 95th percentile of the gaps between a customer's orders,
rounded up to whole months of 30 days.

:func:`apply_churn_definition` writes the churn dates into ``accounts.churned_at``, so every
consumer (churn and retention metrics, training labels, the label end, the accounts a batch
scores) reads one column whichever definition is in force, and the resolved definition
travels with the tables (``Tables.churn``) into every run's metadata.

A customer who went quiet for longer than the lapse and then ordered again was lost and
came back: :func:`churn_as_of` gives the churn dates as known at a date, which training
snapshots and the batch job read, so that a past date sees only what was known then. The
tables as loaded hold the dates seen from the data end (the latest lapse).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import EVENT_COLUMNS, Tables
from features.mapping import ChurnSpec, MappingError

#: The share of repeat-purchase gaps a derived lapse covers.
LAPSE_QUANTILE = 0.95
#: A derived lapse is rounded up to a multiple of this many days.
LAPSE_ROUNDING_DAYS = 30
#: The percentiles ``validate`` prints to help choose a lapse.
GAP_PERCENTILES = (50, 75, 90, 95, 99)


class ChurnDefinitionError(MappingError):
    """The churn definition cannot be used with this data; the message names the setting."""


@dataclass(frozen=True)
class ChurnDefinition:
    """The churn definition in force.

    Attributes
    ----------
    definition : {"recorded", "lapse"}
    lapse_days : int or None
        Days without an order (or any activity) after which a customer is lost.
    activity : {"orders", "any"}
        What keeps a customer alive under ``lapse``.
    source : str
        Why this definition, in words ("the mapping file", "chosen: no churned_at, ...").
    data_end : Timestamp or None
        The end of the whole input (:func:`data_end`) the lapse dates are seen from, when
        the tables it travels with hold only part of it (a Spark bucket); None: the end of
        those tables. Where the data ends is no part of what churn means, so it is not
        compared, shown or recorded.
    """

    definition: str = "recorded"
    lapse_days: int | None = None
    activity: str = "orders"
    source: str = "the default (accounts.churned_at)"
    data_end: pd.Timestamp | None = field(default=None, compare=False, repr=False)

    @property
    def is_lapse(self) -> bool:
        return self.definition == "lapse"

    def describe(self) -> str:
        """One line for people: what churn means here and why.

        Examples
        --------
        >>> ChurnDefinition("lapse", 120, "orders", "the mapping file").describe()
        'churn = a lapse: no order for 120 days (the mapping file)'
        """
        if not self.is_lapse:
            return f"churn = recorded: accounts.churned_at ({self.source})"
        what = "no order" if self.activity == "orders" else "no activity of any kind"
        return f"churn = a lapse: {what} for {self.lapse_days} days ({self.source})"

    @classmethod
    def from_metadata(cls, meta: dict) -> ChurnDefinition:
        """The definition a run's metadata records (:meth:`metadata`); recorded when absent.

        Examples
        --------
        >>> ChurnDefinition.from_metadata(ChurnDefinition("lapse", 60, "any", "x").metadata())
        ChurnDefinition(definition='lapse', lapse_days=60, activity='any', source='x')
        """
        if meta.get("churn_definition") != "lapse":
            return cls(source=meta.get("churn_definition_source") or cls.source)
        return cls("lapse", meta.get("churn_lapse_days"), meta.get("churn_activity") or "orders",
                   meta.get("churn_definition_source") or "the run's metadata")

    def metadata(self) -> dict[str, object]:
        """Plain values for run metadata (batch runs, MLflow run parameters)."""
        return {"churn_definition": self.definition, "churn_lapse_days": self.lapse_days,
                "churn_activity": self.activity if self.is_lapse else None,
                "churn_definition_source": self.source}


# --- the gaps between orders ---------------------------------------------------------


def repeat_gaps(orders: pd.DataFrame) -> pd.Series:
    """Days between each order and the same customer's previous one.

    Examples
    --------
    >>> orders = pd.DataFrame({"account_id": ["a", "a", "b", "a"],
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-31", "2024-02-01", "2024-03-01"])})
    >>> repeat_gaps(orders).tolist()
    [30.0, 30.0]
    """
    # Sorting by account then time makes the gaps independent of the row order.
    ordered = orders[["account_id", "ordered_at"]].dropna().sort_values(["account_id", "ordered_at"])
    ns = ordered["ordered_at"].to_numpy("datetime64[ns]").astype(np.int64)
    same = ordered["account_id"].to_numpy()[1:] == ordered["account_id"].to_numpy()[:-1]
    gaps = (ns[1:] - ns[:-1])[same] / (86400 * 1e9)
    return pd.Series(gaps, name="gap_days", dtype=float)


def gap_percentiles(orders: pd.DataFrame | None) -> dict[int, float] | None:
    """Percentiles (:data:`GAP_PERCENTILES`) of the repeat-purchase gaps in days; None without repeats."""
    if orders is None:
        return None
    gaps = repeat_gaps(orders)
    if not len(gaps):
        return None
    return {p: float(np.percentile(gaps, p)) for p in GAP_PERCENTILES}


def derive_lapse_days(orders: pd.DataFrame) -> int:
    """The lapse that covers 95% of repeat-purchase gaps, rounded up to 30 days.

    Raises
    ------
    ChurnDefinitionError
        When no customer ordered twice: there is no gap to learn from.

    Examples
    --------
    >>> orders = pd.DataFrame({"account_id": ["a", "a", "a", "b", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-02-10", "2024-03-01",
    ...                                   "2024-01-01", "2024-04-01"])})
    >>> derive_lapse_days(orders)
    90
    """
    return lapse_from_gaps(repeat_gaps(orders))


def lapse_from_gaps(gaps: pd.Series | np.ndarray) -> int:
    """:func:`derive_lapse_days` from the repeat-purchase gaps (:func:`repeat_gaps`), in any
    order: the gaps are per customer, so parts of the customers (Spark buckets) can each
    compute theirs and this takes the quantile of them all.

    Raises
    ------
    ChurnDefinitionError
        When there is no gap.

    Examples
    --------
    >>> lapse_from_gaps(pd.Series([40.0, 20.0, 91.0]))
    90
    """
    gaps = np.asarray(gaps, dtype=float)
    if not len(gaps):
        raise ChurnDefinitionError(
            "[churn] lapse_days cannot be derived: no customer in orders ordered twice, so "
            "there is no gap between purchases to learn it from; set lapse_days in the "
            "mapping file's [churn] section (e.g. lapse_days = 365), or use "
            'definition = "recorded" with an accounts.churned_at column'
        )
    quantile = float(np.quantile(gaps, LAPSE_QUANTILE))
    return max(LAPSE_ROUNDING_DAYS, math.ceil(quantile / LAPSE_ROUNDING_DAYS) * LAPSE_ROUNDING_DAYS)


# --- resolving and applying ----------------------------------------------------------


def resolve_churn_definition(
    tables: Tables, spec: ChurnSpec | None = None, *, gaps: Callable[[], pd.Series] | None = None
) -> ChurnDefinition:
    """The churn definition in force for ``tables``: the mapping's, or the data's choice.

    ``gaps`` gives the repeat-purchase gaps of the whole input (:func:`lapse_gaps` of each
    part) when ``tables`` hold only part of it; it is called only when the lapse is derived.

    Raises
    ------
    ChurnDefinitionError
        For a lapse without an orders table (with ``activity = "orders"``), or a lapse to
        derive from orders where no customer repeats.
    """
    spec = spec or ChurnSpec()
    has_orders = tables.orders is not None and len(tables.orders) > 0
    definition, source = spec.definition, "the mapping file"
    if definition is None:
        recorded = tables.accounts["churned_at"].notna().any()
        if recorded or not has_orders:
            return ChurnDefinition(source="chosen: accounts.churned_at is filled" if recorded
                                   else "chosen: no orders table")
        definition, source = "lapse", "chosen: no accounts.churned_at and an orders table"
    if definition == "recorded":
        return ChurnDefinition(source=source)
    if not has_orders and spec.activity == "orders":
        raise ChurnDefinitionError(
            '[churn] definition = "lapse" needs an orders table: a lapse is a time without '
            "orders, and this input has none; add orders (a file or a query in the mapping), "
            'set activity = "any" to count sessions, tickets and surveys, or use '
            'definition = "recorded" with an accounts.churned_at column'
        )
    if spec.lapse_days is not None:
        return ChurnDefinition("lapse", spec.lapse_days, spec.activity, source)
    lapse = lapse_from_gaps(gaps() if gaps is not None else lapse_gaps(tables, has_orders))
    return ChurnDefinition(
        "lapse", lapse, spec.activity,
        f"{source}; lapse_days {lapse} derived: the 95th percentile of the gaps between a "
        f"customer's orders, rounded up to {LAPSE_ROUNDING_DAYS} days",
    )


def lapse_gaps(tables: Tables, from_orders: bool) -> pd.Series:
    """The gaps a derived lapse is learnt from: between a customer's orders, or, for an
    input without orders (``activity = "any"``), between any of their events."""
    return repeat_gaps(tables.orders if from_orders else _activity(tables, "any"))


def _activity(tables: Tables, activity: str) -> pd.DataFrame:
    """Every dated event that keeps a customer alive, as (account_id, ordered_at) rows."""
    names = ("orders",) if activity == "orders" else tuple(
        name for name in EVENT_COLUMNS if name != "returns"  # returns carry no account_id
    )
    parts = [
        getattr(tables, name)[["account_id", EVENT_COLUMNS[name]]].set_axis(
            ["account_id", "ordered_at"], axis=1)
        for name in names if getattr(tables, name) is not None
    ]
    if not parts:
        return pd.DataFrame({"account_id": pd.Series(dtype=object),
                             "ordered_at": pd.Series(dtype="datetime64[ns]")})
    return pd.concat(parts, ignore_index=True)


def last_event(tables: Tables) -> pd.Timestamp:
    """The last event of any table, or the last signup (NaT for tables without either).

    The maximum over parts of the accounts (Spark buckets) is the whole input's.
    """
    lasts = [getattr(tables, name)[column].max() for name, column in EVENT_COLUMNS.items()
             if getattr(tables, name) is not None and getattr(tables, name)[column].notna().any()]
    lasts.append(tables.accounts["signup_date"].max())
    known = [t for t in lasts if pd.notna(t)]
    return pd.Timestamp(max(known)) if known else pd.NaT


def day_after(last: pd.Timestamp) -> pd.Timestamp:
    """The data end that follows a last event: the next midnight."""
    return pd.Timestamp(last).normalize() + pd.Timedelta(days=1)


def data_end(tables: Tables) -> pd.Timestamp:
    """The day after the last event of any table (or the last signup without events)."""
    return day_after(last_event(tables))


def lapse_dates(tables: Tables, definition: ChurnDefinition,
                as_of: pd.Timestamp | None = None) -> pd.Series:
    """Each account's churn date under a lapse, as seen at ``as_of`` (default: the data end).

    A lapse happens ``lapse_days`` after an order (or the signup) that no order follows
    within the lapse; one the data does not reach yet (on or after :func:`data_end`) has not
    happened. Seen at ``as_of``, an account's churn date is its first lapse after its last
    activity before ``as_of``: before ``as_of`` when it had already lapsed then, later when it
    lapses afterwards, NaT when it never does within the data. So a customer who lapsed and
    came back counts as lost at past dates inside the gap, using only what was known then,
    and as a customer again once they order.

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["a", "b", "c"],
    ...     "signup_date": pd.to_datetime(["2024-01-01"] * 3), "churned_at": pd.NaT})
    >>> orders = pd.DataFrame({"account_id": ["a", "b", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-02-01", "2024-01-10", "2024-06-20"])})
    >>> tables, lapse = Tables(accounts, orders=orders), ChurnDefinition("lapse", 60)
    >>> lapse_dates(tables, lapse).tolist()
    [Timestamp('2024-04-01 00:00:00'), NaT, Timestamp('2024-03-01 00:00:00')]
    >>> lapse_dates(tables, lapse, pd.Timestamp("2024-05-01")).tolist()  # b is lost then
    [Timestamp('2024-04-01 00:00:00'), Timestamp('2024-03-10 00:00:00'), Timestamp('2024-03-01 00:00:00')]
    """
    end = data_end(tables) if definition.data_end is None else definition.data_end
    as_of = end if as_of is None else pd.Timestamp(as_of)
    accounts = tables.accounts
    activity = _activity(tables, definition.activity)
    # The signup starts the clock like an order: an account that never orders lapses too.
    events = pd.concat([
        pd.DataFrame({"account_id": accounts["account_id"].to_numpy(),
                      "ordered_at": accounts["signup_date"].to_numpy("datetime64[ns]")}),
        activity.astype({"ordered_at": "datetime64[ns]"}),
    ], ignore_index=True).dropna().sort_values(["account_id", "ordered_at"], kind="stable")
    lapse = pd.Timedelta(days=definition.lapse_days)
    following = events.groupby("account_id", sort=False)["ordered_at"].shift(-1)
    lapsed_at = events["ordered_at"] + lapse
    # A lapse is the end of a gap longer than the lapse, or a last order the lapse has run
    # out after within the data.
    happened = (following - events["ordered_at"] > lapse) | (following.isna() & (lapsed_at < end))
    events["next_lapse"] = lapsed_at.where(happened)
    # The first lapse at or after each event: events follow in time, so lapses do too.
    events["next_lapse"] = events.groupby("account_id", sort=False)["next_lapse"].bfill()
    # tail, not last(): last() would skip a missing lapse and reach back to an earlier one.
    seen = (events.loc[events["ordered_at"] < as_of].groupby("account_id", sort=False).tail(1)
            .set_index("account_id")["next_lapse"])
    churned = seen.reindex(accounts["account_id"].to_numpy())
    return pd.Series(churned.to_numpy("datetime64[ns]"), index=churned.index, name="churned_at")


def churn_as_of(tables: Tables, as_of: pd.Timestamp) -> Tables:
    """``tables`` with ``accounts.churned_at`` as known at ``as_of`` (see :func:`lapse_dates`).

    Point-in-time snapshots (training dates, a batch scoring a past date) read which
    accounts are active, and when they churn after it, from here: under a lapse the churn
    date depends on the date it is seen from. Recorded churn is the same at every date.
    """
    if tables.churn is None or not tables.churn.is_lapse:
        return tables
    accounts = tables.accounts.copy()
    accounts["churned_at"] = lapse_dates(tables, tables.churn, as_of).to_numpy()
    return dataclasses.replace(tables, accounts=accounts)


def apply_churn_definition(tables: Tables, spec: ChurnSpec | None = None) -> Tables:
    """``tables`` with the churn definition in force resolved and applied.

    Under ``lapse`` the accounts' ``churned_at`` holds the lapse dates (any recorded date
    is replaced); under ``recorded`` the tables are unchanged. Either way ``tables.churn``
    says which definition holds. The input is not modified.
    """
    return with_churn_definition(tables, resolve_churn_definition(tables, spec))


def with_churn_definition(tables: Tables, definition: ChurnDefinition) -> Tables:
    """``tables`` with a resolved definition applied (see :func:`apply_churn_definition`):
    under a lapse, ``accounts.churned_at`` as seen from the data end. For part of the
    accounts, ``definition.data_end`` is the whole input's, so each part gets the dates
    the whole would. The input is not modified."""
    if not definition.is_lapse:
        return dataclasses.replace(tables, churn=definition)
    accounts = tables.accounts.copy()
    accounts["churned_at"] = lapse_dates(tables, definition).to_numpy()
    return dataclasses.replace(tables, accounts=accounts, churn=definition)
