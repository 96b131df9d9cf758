"""Predictive CLV speed: fit BG/NBD and Gamma-Gamma on 100,000 customers and score them.

The orders are drawn from the models' own story (seeded), so that the benchmark also shows
whether the fit recovers the parameters it was drawn with: each customer orders as a
Poisson process with a Gamma(r, alpha) rate per week, drops out after each repeat order
with a Beta(a, b) probability, and spends a Gamma(p, nu) amount per order with nu ~ Gamma(q, v).
First orders fall in the first 12 weeks; the fit reads the orders before week 52.

Each run times what the indicators do for predictive CLV
(:func:`features.clv.clv_columns`: purchase histories, both fits, P(alive), expected
orders and CLV over 365 days for every customer). It prints the median and spread of
``--runs`` runs and the fitted parameters beside the true ones. Target at 100,000 customers
on 2 cores: 60 seconds or less.

Usage::

    python benchmarks/bench_clv.py                     # 100,000 customers, 3 runs
    python benchmarks/bench_clv.py --customers 10000 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

TRUE_BG_NBD = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}
START = pd.Timestamp("2025-01-06")
AS_OF = START + pd.Timedelta(weeks=52)


def draw_orders(customers: int, seed: int) -> pd.DataFrame:
    """Orders of ``customers`` customers following BG/NBD and Gamma-Gamma, until ``AS_OF``."""
    rng = np.random.default_rng(seed)
    bg, gg = TRUE_BG_NBD, TRUE_GAMMA_GAMMA
    rate = rng.gamma(bg["r"], 1.0 / bg["alpha"], customers)  # orders per week
    drop = rng.beta(bg["a"], bg["b"], customers)
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], customers)
    horizon = (AS_OF - START) / pd.Timedelta(weeks=1)
    # Whole days: the models count purchase days, so draw each order on a distinct day.
    now = rng.integers(0, 12 * 7, customers) / 7.0
    alive = np.ones(customers, dtype=bool)
    who, when = [np.arange(customers)], [now.copy()]
    while alive.any():
        wait = rng.exponential(1.0, customers) / np.maximum(rate, 1e-12)
        now = now + np.maximum(np.ceil(wait * 7.0) / 7.0, 1.0 / 7.0)
        alive &= now < horizon
        who.append(np.flatnonzero(alive))
        when.append(now[alive])
        # The BG/NBD's drop-out follows a repeat order, never the first one.
        alive &= rng.random(customers) >= drop
    who, when = np.concatenate(who), np.concatenate(when)
    amount = rng.gamma(gg["p"], 1.0 / nu[who])
    return pd.DataFrame({
        "account_id": pd.Series(who).map("C{:07d}".format),
        "ordered_at": START + pd.to_timedelta(np.round(when * 7.0), unit="D"),
        "amount": np.round(amount, 2),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    from features.clv import clv_columns, fit_clv

    started = time.perf_counter()
    orders = draw_orders(options.customers, options.seed)
    ids = pd.Index(sorted(orders["account_id"].unique()), name="account_id")
    print(f"{options.customers:,} customers, {len(orders):,} orders drawn in "
          f"{time.perf_counter() - started:.1f} s; fit on orders before {AS_OF:%Y-%m-%d}")
    seconds = []
    for _ in range(options.runs):
        started = time.perf_counter()
        columns = clv_columns(orders, ids, AS_OF)
        seconds.append(time.perf_counter() - started)
    print(f"fit + score (clv_columns), {options.runs} runs: median {statistics.median(seconds):.2f} s "
          f"(min {min(seconds):.2f}, max {max(seconds):.2f}); target <= 60 s")
    fit = fit_clv(orders, AS_OF)
    fitted = fit.parameters()
    for name, true in (("bg_nbd", TRUE_BG_NBD), ("gamma_gamma", TRUE_GAMMA_GAMMA)):
        pairs = ", ".join(f"{k} {fitted[name][k]:.3f} (true {v})" for k, v in true.items())
        print(f"{name}: {pairs}")
    defined = {k: int(np.isfinite(v).sum()) for k, v in columns.items()}
    print(f"customers with a value: {defined}")


if __name__ == "__main__":
    main()
