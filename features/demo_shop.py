"""Demo data of an online shop: customers, visits, orders, returns and reviews, no churn column.

The shop counterpart of :mod:`features.demo_data` (``demo-data --business transactional``).
Every customer carries a latent *health* that drifts week by week (an AR(1) walk around the
customer's own level). Health drives what the shop sees:

- visits: how often the customer comes to the site, how many pages they read, whether a
  visit converts;
- orders: how often they buy (so the gaps between orders widen as health falls) and how
  much;
- returns: unhappy customers send more back;
- reviews: a 1-5 score (a CSAT answer) after some orders, with a comment now and then.

A customer leaves silently: a weekly hazard that grows as health falls ends their orders
and visits for good. Nothing records it; churn is a lapse in ordering
(:mod:`features.churn_definition`), as in a real shop's export. The calendar is fixed by
``start`` and ``months`` and the only Python loop runs over weeks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.demo_comments import compose_comments
from features.demo_data import (
    _NEVER,
    DAY,
    REGION_SHARE,
    REGIONS,
    WEEK,
    _ids,
    _office_hours,
    _sigmoid,
    _stamps,
    _str_column,
    _width,
    traffic_sources,
)

#: The tables a shop's demo holds (no tickets).
SHOP_TABLES = ("accounts", "sessions", "orders", "returns", "surveys")
SEGMENTS = np.array(["occasional", "regular", "loyal"], dtype=object)
SEGMENT_SHARE = np.array([0.55, 0.33, 0.12])
HEALTH_LEVEL = np.array([-0.2, 0.1, 0.4])
ORDER_RATE = np.array([0.10, 0.22, 0.40])  # orders per week at health 0
BASKET_MEDIAN = np.array([45.0, 60.0, 80.0])


def generate_shop_data(
    *, accounts: int = 2000, months: int = 18, seed: int = 7, start: str = "2025-01-01",
) -> dict[str, pd.DataFrame]:
    """Generate a shop's tables: accounts, sessions, orders, returns and surveys (reviews).

    Parameters are those of :func:`features.demo_data.generate_demo_data`. The accounts
    table has no ``churned_at``: churn is a lapse in ordering.

    Examples
    --------
    >>> tables = generate_shop_data(accounts=50, months=3, seed=1)
    >>> sorted(tables), "churned_at" in tables["accounts"]
    (['accounts', 'orders', 'returns', 'sessions', 'surveys'], False)
    """
    if int(accounts) < 1 or int(months) < 1:
        raise ValueError(f"accounts and months must be at least 1, got {accounts} and {months}")
    origin = pd.Timestamp(start).normalize()
    n = int(accounts)
    rng = np.random.default_rng(seed)
    end_s = int((origin + pd.DateOffset(months=int(months)) - origin).total_seconds())
    weekday = origin.weekday()

    segment = rng.choice(3, size=n, p=SEGMENT_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    existing = rng.random(n) < 0.5
    signup = np.where(existing, -(30 + rng.exponential(400, n)).astype(np.int64) * DAY,
                      (rng.random(n) * 0.8 * end_s).astype(np.int64))
    order = np.argsort(signup, kind="stable")
    segment, region, signup = segment[order], region[order], signup[order]
    level = HEALTH_LEVEL[segment] + 0.6 * rng.standard_normal(n)

    H, gone = _simulate(rng, signup, level, end_s)
    weeks = H.shape[1]
    week_lo = np.arange(weeks, dtype=np.int64) * WEEK
    lo = np.maximum(week_lo[None, :], signup[:, None])
    hi = np.minimum(np.minimum(week_lo + WEEK, end_s)[None, :], gone[:, None])
    exposure = np.clip(hi - lo, 0, None) / WEEK
    ids = _ids("C", n, _width(n))

    orders, order_health, ordered = _orders(rng, H, lo, hi, exposure, segment, ids, origin, weekday)
    return {
        "accounts": pd.DataFrame({
            "account_id": ids, "signup_date": _stamps(origin, np.maximum(signup, -20 * 365 * DAY)),
            "segment": _str_column(segment, SEGMENTS), "region": _str_column(region, REGIONS),
        }).astype({"account_id": "str"}),
        "sessions": _sessions(rng, H, lo, hi, exposure, ids, origin, weekday),
        "orders": orders,
        "returns": _returns(rng, orders, ordered, order_health, end_s, origin),
        "surveys": _reviews(rng, orders, ordered, order_health, end_s, origin),
    }


def _simulate(rng, signup, level, end_s):
    """Weekly latent health, and the moment each customer silently leaves (or never)."""
    n = len(signup)
    weeks = -(-end_s // WEEK)
    health = level + 0.5 * rng.standard_normal(n)
    H = np.empty((n, weeks), dtype=np.float32)
    gone = np.full(n, _NEVER, dtype=np.int64)
    for w in range(weeks):
        health = level + 0.96 * (health - level) + 0.2 * rng.standard_normal(n)
        H[:, w] = health
        alive = (signup < (w + 1) * WEEK) & (gone == _NEVER)
        hazard = np.exp(-4.9 - 1.6 * health)
        leaves = alive & (rng.random(n) < 1.0 - np.exp(-hazard))
        gone[leaves] = np.maximum(w * WEEK, signup[leaves]) + (rng.random(leaves.sum()) * WEEK).astype(np.int64)
    return H, gone


def _orders(rng, H, lo, hi, exposure, segment, ids, origin, weekday):
    weeks = H.shape[1]
    rate = ORDER_RATE[segment][:, None] * np.exp(0.7 * H)
    counts = rng.poisson(rate * exposure).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    account = cell // weeks
    health = H.ravel()[cell].astype(float)
    at = _office_hours(rng, lo.ravel()[cell], hi.ravel()[cell], weekday)
    m = len(cell)
    items = 1 + rng.poisson(1.2, m)
    amount = np.round(items * BASKET_MEDIAN[segment[account]] / 2 * rng.lognormal(0.1 * health, 0.4), 2)
    order = np.argsort(at, kind="stable")
    account, health, at, items, amount = account[order], health[order], at[order], items[order], amount[order]
    frame = pd.DataFrame({
        "order_id": _ids("O", m, _width(m)), "account_id": ids[account],
        "ordered_at": _stamps(origin, at), "amount": amount, "items": items,
    }).astype({"order_id": "str", "account_id": "str"})
    # The order times in seconds go back beside the frame, not in its attrs: pandas
    # carries attrs into the files it writes, and Parquet cannot hold an array there.
    return frame, health, at


def _sessions(rng, H, lo, hi, exposure, ids, origin, weekday) -> pd.DataFrame:
    weeks = H.shape[1]
    counts = rng.poisson(0.8 * np.exp(0.5 * H) * exposure).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    account, health, m = cell // weeks, H.ravel()[cell].astype(float), len(cell)
    at = _office_hours(rng, lo.ravel()[cell], hi.ravel()[cell], weekday)
    order = np.argsort(at, kind="stable")
    account, health, at = account[order], health[order], at[order]
    return pd.DataFrame({
        "account_id": ids[account],
        "user_id": np.char.add("U", ids[account].astype(str)).astype(object),
        "started_at": _stamps(origin, at),
        "duration_seconds": np.round(rng.lognormal(5.3 + 0.2 * health, 0.6)),
        "page_views": 1 + rng.poisson(np.exp(1.3 + 0.25 * health)),
        "converted": rng.random(m) < _sigmoid(-2.0 + 0.6 * health),
        "source": traffic_sources(rng, m),
    }).astype({"account_id": "str", "user_id": "str"})


def _returns(rng, orders, ordered, health, end_s, origin) -> pd.DataFrame:
    items = orders["items"].to_numpy()
    m = len(orders)
    returned = rng.random(m) < _sigmoid(-2.6 - 0.8 * health)
    back = 1 + rng.binomial(items - 1, 0.4)
    at = ordered + np.rint((3 + rng.exponential(7, m)) * DAY).astype(np.int64)
    # A parcel sent back after the customer left still arrives; none after the data ends.
    rows = np.flatnonzero(returned & (at < end_s))
    rows = rows[np.argsort(at[rows], kind="stable")]
    return pd.DataFrame({
        "order_id": orders["order_id"].to_numpy()[rows],
        "returned_at": _stamps(origin, at[rows]),
        "items": back[rows],
        "amount": np.round(orders["amount"].to_numpy()[rows] * back[rows] / items[rows], 2),
    }).astype({"order_id": "str"})


def _reviews(rng, orders, ordered, health, end_s, origin) -> pd.DataFrame:
    m = len(orders)
    at = ordered + np.rint((4 + rng.exponential(5, m)) * DAY).astype(np.int64)
    rows = np.flatnonzero((rng.random(m) < 0.35) & (at < end_s))
    rows = rows[np.argsort(at[rows], kind="stable")]
    k = len(rows)
    mood = health[rows] + rng.normal(0, 0.8, k)
    score = np.clip(np.rint(3.8 + 0.9 * mood), 1, 5)
    tone = np.clip(0.5 * (score - 3) / 2 + 0.5 * health[rows], -1, 1) + rng.normal(0, 0.25, k)
    comment = np.full(k, None, dtype=object)
    written = np.flatnonzero(rng.random(k) < 0.4)
    comment[written] = compose_comments(rng, tone[written], np.zeros(len(written), dtype=int))
    return pd.DataFrame({
        "response_id": _ids("R", k, _width(k)),
        "account_id": orders["account_id"].to_numpy()[rows],
        "survey": np.full(k, "csat", dtype=object),
        "score": score,
        "responded_at": _stamps(origin, at[rows]),
        "channel": np.full(k, "review", dtype=object),
        "touchpoint": np.full(k, "order", dtype=object),
        "comment": comment,
    }).astype({c: "str" for c in ("response_id", "account_id", "survey", "channel", "touchpoint",
                                  "comment")})
