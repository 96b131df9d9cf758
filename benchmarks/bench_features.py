"""Indicator and health-score speed: one snapshot of 10,000 and of 100,000 demo accounts.

For each size, a demo base over ``--months`` months (about 100 sessions per account, so
about 10 million sessions at 100,000 accounts, plus tickets, orders, returns and surveys)
is generated once, validated and cached as Parquet under the system temp folder
(``customer-health-bench/``, outside the repository), or ``--cache``.

Each size runs in a fresh Python process that

1. reads and validates the tables (``features.io.load_tables``; timed, not part of the target);
2. scores the comments before ``as_of`` once (``score_comments``; timed, not part of the
   target: the target excludes comments not seen before, which a service caches);
3. computes :func:`features.indicators.compute_indicators` with those comment scores and
   :func:`features.health_score.score_accounts` with the default scorecard, ``--runs`` times,
   each beside the anchor of ``bench_batch.py`` (a bare 90-day window + group-by with 4
   aggregates over the sessions; target: at most 8x it, peak memory at most 2x the RSS
   with the tables loaded).

It prints the median and spread of step 3 and the peak resident memory (RSS) of the
process, which includes the loaded tables. Target at 100,000 accounts on 2 cores: under
20 seconds and under 6 GB.

Usage::

    python benchmarks/bench_features.py                        # 10,000 and 100,000 accounts
    python benchmarks/bench_features.py --accounts 10000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "customer-health-bench"
SEED = 7
START = "2025-01-01"


def demo_folder(accounts: int, months: int, cache: Path) -> Path:
    """The cached demo tables of this size (generated on first use)."""
    from features.demo_data import write_demo_data

    folder = cache / f"demo-{accounts}-{months}m-seed{SEED}"
    if not (folder / "accounts.parquet").exists():
        tmp = folder.with_name(folder.name + ".partial")
        write_demo_data(tmp, fmt="parquet", accounts=accounts, months=months, seed=SEED, start=START)
        tmp.rename(folder)
    return folder


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure(folder: Path, as_of: str, runs: int) -> dict:
    import pandas as pd

    from features.health_score import score_accounts
    from features.indicators import compute_indicators
    from features.io import load_tables
    from features.scorecard_config import load_scorecard
    from features.sentiment import score_comments

    started = time.perf_counter()
    tables, _ = load_tables(folder)
    load_seconds = time.perf_counter() - started
    rows = {name: len(frame) for name, frame in tables.present().items()}

    started = time.perf_counter()
    surveys = tables.surveys
    comments = surveys["comment"][surveys["responded_at"] < pd.Timestamp(as_of)].dropna()
    scores = score_comments(comments)
    sentiment_seconds = time.perf_counter() - started
    card = load_scorecard()
    rss_before = _rss_mb()

    from bench_batch import bare_group_by

    times, cpu, anchor, anchor_cpu = [], [], [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        indicators = compute_indicators(tables, as_of, comment_scores=scores)
        health = score_accounts(indicators, card)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        # The anchor, measured beside each run: one 90-day window, one group-by, 4 aggregates.
        started, cpu_started = time.perf_counter(), time.process_time()
        bare_group_by(tables.sessions, pd.Timestamp(as_of))
        anchor.append(time.perf_counter() - started)
        anchor_cpu.append(time.process_time() - cpu_started)
    return {
        "cpu": cpu, "anchor": anchor, "anchor_cpu": anchor_cpu,
        "tables_mb": sum(f.memory_usage(deep=True).sum() for f in tables.present().values()) / 2**20,
        "rows": rows,
        "active_accounts": len(indicators),
        "columns": indicators.shape[1] + health.shape[1],
        "load_seconds": load_seconds,
        "sentiment_seconds": sentiment_seconds,
        "comments_scored": len(scores),
        "times": times,
        "rss_before_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--as-of", default="2026-06-01", help="inside the demo months")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.as_of, args.runs)))
        return

    for accounts in args.accounts:
        started = time.perf_counter()
        folder = demo_folder(accounts, args.months, args.cache)
        prepared = time.perf_counter() - started
        command = [sys.executable, __file__, "--child", str(folder), "--as-of", args.as_of,
                   "--runs", str(args.runs)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        times = result["times"]
        rows = ", ".join(f"{name} {n:,}" for name, n in result["rows"].items())
        print(
            f"{accounts:,} accounts ({rows}), as of {args.as_of}:\n"
            f"  data: {prepared:.1f} s to generate or find in {folder}, "
            f"{result['load_seconds']:.1f} s to read and validate\n"
            f"  comment sentiment (not in the target): {result['comments_scored']:,} comments "
            f"in {result['sentiment_seconds']:.1f} s\n"
            f"  indicators + scorecard: median {statistics.median(times):.2f} s over "
            f"{len(times)} runs (min {min(times):.2f}, max {max(times):.2f}) for "
            f"{result['active_accounts']:,} active accounts x {result['columns']} columns\n"
            f"  beside a bare 90-day window + group-by over the sessions (median "
            f"{statistics.median(result['anchor']):.2f} s): "
            f"{statistics.median(times) / statistics.median(result['anchor']):.1f}x wall, "
            f"{statistics.median(result['cpu']) / statistics.median(result['anchor_cpu']):.1f}x "
            f"CPU (target <= 8x)\n"
            f"  memory: tables {result['tables_mb']:,.0f} MB in pandas, "
            f"{result['rss_before_mb']:,.0f} MB RSS with them loaded, peak RSS "
            f"{result['peak_rss_mb']:,.0f} MB = "
            f"{result['peak_rss_mb'] / result['rss_before_mb']:.2f}x (target <= 2x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
