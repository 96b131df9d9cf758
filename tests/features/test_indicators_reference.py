"""The vectorised indicator path equals a frozen, straightforward reference on random tables.

The reference below is written the obvious way (filter the rows of each window, group by
account, aggregate), one indicator at a time: slow, but easy to read and check by eye. Any
faster indicator path must give the same numbers on every table hypothesis draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import Tables
from features.indicators import active_accounts, compute_indicators

AS_OF = pd.Timestamp("2025-06-01")
WINDOWS = (7, 30, 90)
ACCOUNTS = ["A", "B", "C", "D"]

_when = st.integers(min_value=-200 * 86_400, max_value=30 * 86_400).map(
    lambda s: AS_OF + pd.Timedelta(seconds=s))


def _times(stamps: list) -> pd.Series:
    return pd.Series(stamps, dtype="datetime64[ns]")


@st.composite
def portfolios(draw) -> Tables:
    accounts = pd.DataFrame({
        "account_id": ACCOUNTS,
        "signup_date": [AS_OF - pd.Timedelta(days=draw(st.integers(-10, 400))) for _ in ACCOUNTS],
        "churned_at": _times([draw(st.one_of(st.just(pd.NaT), _when)) for _ in ACCOUNTS]),
    })
    n = draw(st.integers(0, 40))
    sessions = pd.DataFrame({
        "account_id": draw(st.lists(st.sampled_from(ACCOUNTS), min_size=n, max_size=n)),
        "user_id": draw(st.lists(st.sampled_from(["u1", "u2", "u3"]), min_size=n, max_size=n)),
        "started_at": _times(draw(st.lists(_when, min_size=n, max_size=n))),
        "duration_seconds": pd.Series(draw(st.lists(
            st.floats(0, 1e4, allow_nan=False), min_size=n, max_size=n)), dtype="float64"),
        "page_views": pd.Series(draw(st.lists(st.integers(0, 60), min_size=n, max_size=n)),
                                dtype="int64"),
    })
    k = draw(st.integers(0, 20))
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i}" for i in range(k)],
        "account_id": draw(st.lists(st.sampled_from(ACCOUNTS), min_size=k, max_size=k)),
        "channel": "email",
        "created_at": _times(draw(st.lists(_when, min_size=k, max_size=k))),
    })
    m = draw(st.integers(0, 20))
    orders = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(m)],
        "account_id": draw(st.lists(st.sampled_from(ACCOUNTS), min_size=m, max_size=m)),
        "ordered_at": _times(draw(st.lists(_when, min_size=m, max_size=m))),
        "amount": pd.Series(draw(st.lists(
            st.floats(0, 1e4, allow_nan=False), min_size=m, max_size=m)), dtype="float64"),
        "items": pd.Series(draw(st.lists(st.integers(1, 5), min_size=m, max_size=m)), dtype="int64"),
    })
    return Tables(accounts, sessions=sessions, tickets=tickets, orders=orders)


def reference(tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
    """The indicators tested here, computed the straightforward way."""
    ids = active_accounts(tables.accounts, as_of)
    out = pd.DataFrame(index=ids)

    def per_account(rows: pd.DataFrame, column: str, how: str, fill=np.nan) -> pd.Series:
        if rows.empty:
            return pd.Series(fill, index=ids, dtype="float64")
        grouped = rows.groupby("account_id")[column].agg(how)
        return grouped.reindex(ids).astype("float64").fillna(fill)

    def before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[(frame[column] < as_of) & frame["account_id"].isin(ids)]

    sessions = before(tables.sessions, "started_at")
    tickets = before(tables.tickets, "created_at")
    orders = before(tables.orders, "ordered_at")
    last = sessions.groupby("account_id")["started_at"].max().reindex(ids)
    out["days_since_last_activity"] = ((as_of - last) / pd.Timedelta(days=1)).astype("float64")
    for w in WINDOWS:
        start = as_of - pd.Timedelta(days=w)
        inside = sessions[sessions["started_at"] >= start].assign(
            day=lambda f: f["started_at"].dt.floor("D"))
        out[f"sessions_{w}d"] = per_account(inside, "user_id", "size", 0.0)
        out[f"active_days_{w}d"] = per_account(inside, "day", "nunique", 0.0)
        out[f"active_users_{w}d"] = per_account(inside, "user_id", "nunique", 0.0)
        out[f"pages_per_session_{w}d"] = per_account(inside, "page_views", "mean")
        out[f"avg_session_minutes_{w}d"] = per_account(inside, "duration_seconds", "mean") / 60
        new = tickets[tickets["created_at"] >= start]
        out[f"tickets_{w}d"] = per_account(new, "ticket_id", "size", 0.0)
        bought = orders[orders["ordered_at"] >= start]
        out[f"orders_{w}d"] = per_account(bought, "order_id", "size", 0.0)
        out[f"revenue_{w}d"] = per_account(bought, "amount", "sum", 0.0)
    return out


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(tables=portfolios())
def test_the_indicator_path_equals_the_straightforward_reference(tables):
    expected = reference(tables, AS_OF)
    got = compute_indicators(tables, AS_OF, windows=WINDOWS)[list(expected.columns)]
    # Means and sums may differ in the last bits: the path adds in a canonical order.
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, atol=1e-9,
                                  check_names=False)
