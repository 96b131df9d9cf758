"""How long the call list takes for a large portfolio: ``find_alerts`` on 100,000 accounts.

Prints the median of several runs (seconds) and how many accounts were listed. The rules are
column-wise; only the listed accounts' drivers are read from JSON.

    python benchmarks/bench_call_list.py [--accounts 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd

from serving.alerts import find_alerts

BANDS = ["red", "yellow", "green"]


def portfolio(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 100, n)
    band = np.where(score < 40, "red", np.where(score < 70, "yellow", "green"))
    drivers = [json.dumps([{"indicator": "csat_90d", "value": float(v), "contribution": 0.3,
                            "text": f"CSAT, last 90 days is {v:.0f}% — raises churn risk"}])
               for v in rng.uniform(0, 100, 50)]
    now = pd.DataFrame({
        "account_id": [f"A{i:07d}" for i in range(n)], "health_score": score, "health_band": band,
        "churn_probability": rng.uniform(0, 1, n), "segment": rng.choice(["SMB", "Enterprise"], n),
        "owner": rng.choice(["Ana", "Ben", "Dev"], n), "mrr": rng.uniform(10, 5000, n),
        "churn_drivers": [drivers[i % 50] for i in range(n)],
    })
    shifted = np.clip(score + rng.normal(0, 10, n), 0, 100)
    before = now.assign(
        health_score=shifted,
        health_band=np.where(shifted < 40, "red", np.where(shifted < 70, "yellow", "green")),
        churn_probability=np.clip(now["churn_probability"] + rng.normal(0, 0.1, n), 0, 1),
    )
    return now, before, {"csat_90d": 50.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    now, before, typical = portfolio(args.accounts, seed=1)
    times, listed = [], 0
    for _ in range(args.runs):
        started = time.perf_counter()
        listed = len(find_alerts(now, before, band_order=BANDS, currency="EUR", typical=typical))
        times.append(time.perf_counter() - started)
    print(f"call list of {args.accounts:,} accounts ({listed:,} listed): median "
          f"{statistics.median(times):.3f} s over {args.runs} runs (min {min(times):.3f} s)")


if __name__ == "__main__":
    main()
