"""Indicators of a shop's customers: order recency, rhythm, basket, returns by value, reviews.

The shop side of :func:`features.indicators.compute_indicators` (the catalogue records are
in :mod:`features.catalogue`, group "commercial" and "satisfaction"). Like every indicator
they read only rows dated strictly before ``as_of`` and are computed with per-account
aggregates over integer account codes (:mod:`features.per_account`), no loop over accounts.

Orders, revenue, repeat purchase and items returned per window are the commercial
indicators of :mod:`features.indicators`; this module adds what a shop needs beyond them.
The share of orders reviewed is not computed: survey answers carry no order id in the
contract, so a review cannot be matched to its order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import per_account as agg

TREND_DAYS = 90


def shop_columns(windows: tuple[int, ...]) -> list[str]:
    """The columns :func:`shop_indicators` returns for ``windows``."""
    return (
        ["days_since_last_order", "lapse_elapsed", "order_gap_days_mean", "orders_trend_90d"]
        + agg.window_names("average_order_value", windows)
        + agg.window_names("returned_value_share", windows)
        + ["csat_latest"]
    )


def shop_indicators(orders: pd.DataFrame | None, returns: pd.DataFrame | None,
                    surveys: pd.DataFrame | None, ids: pd.Index, as_of: pd.Timestamp,
                    windows: tuple[int, ...], lapse_days: int | None = None) -> dict[str, np.ndarray]:
    """Shop indicators of the accounts ``ids`` at ``as_of``, one array per column.

    A missing table makes its columns NaN (unknown, not zero). ``lapse_days`` is the lapse
    of the churn definition (:mod:`features.churn_definition`); without one
    ``lapse_elapsed`` is NaN.

    Examples
    --------
    >>> orders = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "account_id": ["a", "a", "a"],
    ...     "ordered_at": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-01-31"]),
    ...     "amount": [10.0, 30.0, 50.0], "items": [1, 1, 1]})
    >>> out = shop_indicators(orders, None, None, pd.Index(["a", "b"]),
    ...                       pd.Timestamp("2025-02-10"), (30,))
    >>> out["days_since_last_order"], out["order_gap_days_mean"], out["average_order_value_30d"]
    (array([10., nan]), array([15., nan]), array([40., nan]))
    """
    n = len(ids)
    out = agg.nan_columns(shop_columns(windows), n)
    cut = as_of.value
    if orders is not None:
        out.update(_orders(orders, returns, ids, cut, windows))
        if lapse_days:
            # How far along the way to being lost a customer is: comparable across shops
            # whose customers buy weekly or yearly, where days since the last order are not.
            out["lapse_elapsed"] = 100.0 * out["days_since_last_order"] / lapse_days
    if surveys is not None:
        out["csat_latest"] = _latest_csat(surveys, ids, cut)
    return out


def _orders(orders, returns, ids, cut, windows) -> dict[str, np.ndarray]:
    n = len(ids)
    frame, codes, ordered = agg.known_rows_before(orders, "ordered_at", ids, cut)
    amount = agg.as_float(frame["amount"])
    out = {"days_since_last_order": agg.days_since(cut, agg.max_by(codes, ordered, n))}
    # Sorted by account then time, consecutive rows of one account give its gaps; the sort
    # (ties by order id) makes the means independent of the input's row order.
    order = np.lexsort((agg.id_ranks(frame["order_id"]), ordered, codes))
    sorted_codes, sorted_times = codes[order], ordered[order]
    same = sorted_codes[1:] == sorted_codes[:-1]
    gaps = (sorted_times[1:] - sorted_times[:-1])[same] / agg.NS_PER_DAY
    out["order_gap_days_mean"] = agg.mean_by(sorted_codes[1:][same], gaps.astype(float), n)

    bands = agg.Bands(codes, ordered, cut, (*windows, TREND_DAYS, 2 * TREND_DAYS), n)
    counts = bands.count()
    recent, earlier = counts.within(TREND_DAYS), counts.between(TREND_DAYS, 2 * TREND_DAYS)
    out["orders_trend_90d"] = agg.ratio(recent - earlier, earlier, 100.0)

    revenue = bands.sum(amount)
    returned_value = _returned_value(frame, returns, cut)
    returned = None if returned_value is None else bands.sum(returned_value)
    for w in windows:
        out[f"average_order_value_{w}d"] = agg.ratio(revenue.within(w), counts.within(w))
        if returned is not None:
            out[f"returned_value_share_{w}d"] = agg.ratio(returned.within(w), revenue.within(w), 100.0)
    return out


def _returned_value(frame: pd.DataFrame, returns: pd.DataFrame | None, cut: int) -> np.ndarray | None:
    """Per order row of ``frame``, the amount returned before ``cut``; None when unknown.

    Returns belong to their order's window (as items returned do, docs/metrics.md). Without
    ``returns.amount`` the value returned is unknown, not zero.
    """
    if returns is None or "amount" not in returns or not returns["amount"].notna().any():
        return None
    when = agg.as_ns(returns["returned_at"])
    done = (when != agg.NAT) & (when < cut)
    position = pd.Index(frame["order_id"]).get_indexer(returns["order_id"][done])
    matched = position >= 0
    value = np.nan_to_num(agg.as_float(returns["amount"][done])[matched])
    return np.bincount(position[matched], weights=value, minlength=len(frame))


def _latest_csat(surveys: pd.DataFrame, ids: pd.Index, cut: int) -> np.ndarray:
    """The latest CSAT answer (a shop's review score) before ``cut``."""
    frame, codes, responded = agg.known_rows_before(surveys, "responded_at", ids, cut)
    score = agg.as_float(frame["score"])
    rows = (frame["survey"].to_numpy(dtype=object) == "csat") & ~np.isnan(score)
    rank = agg.id_ranks(frame["response_id"])
    latest = agg.latest_row(codes[rows], responded[rows], rank[rows], len(ids))
    return agg.pick(score[rows], latest)
