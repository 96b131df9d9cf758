"""Benchmark of the batch scoring job on 100,000 demo accounts, end to end.

Each measured run is ``serving.batch.run_batch`` in a fresh child process: load, validate,
indicators, scorecard, churn probability and drivers, alerts, write (Parquet). The demo
data is generated once (not timed); the model is the champion of ``MLFLOW_TRACKING_URI``
or, without one, a small model trained first on a 2,000-account demo (not timed).

Prints per-step seconds of each run, the median total and the peak RSS of the runs.
Target on 2 cores: under 2 minutes and under 8 GB.

    python benchmarks/bench_batch.py [--accounts 100000] [--runs 3] [--months 12]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AS_OF = "2025-12-01"


def child(folder: str, out: str) -> None:
    """One measured run; prints a JSON line with step times and the peak RSS."""
    started = time.perf_counter()
    import pandas as pd

    from serving.batch import run_batch

    marks: list[tuple[str, float]] = []
    result = run_batch(folder, pd.Timestamp(AS_OF), out,
                       progress=lambda step, name: marks.append((name, time.perf_counter())))
    end = time.perf_counter()
    steps = {}
    for (name, at), (_, after) in zip(marks, marks[1:] + [("end", end)]):
        steps[name] = round(after - at, 2)
    print(json.dumps({
        "total": round(end - started, 2),
        "steps": steps,
        "accounts": result.metadata["accounts"],
        "model": result.metadata["model"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def ensure_model(workdir: Path) -> None:
    from models.registry import NoModelError, load_model

    if os.environ.get("MLFLOW_TRACKING_URI"):
        try:
            load_model()
            return
        except NoModelError:
            pass
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    from features.contract import validate_tables
    from features.demo_data import generate_demo_data
    from models.trainer import train_from_tables

    print("training a small model into a temporary store (not timed) ...", flush=True)
    tables, _ = validate_tables(generate_demo_data(accounts=2000, months=12, seed=5))
    train_from_tables(tables, every=45, seed=0, promote=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from features.demo_data import write_demo_data

    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        write_demo_data(workdir / "demo", fmt="parquet", accounts=args.accounts,
                        months=args.months, seed=7)
        sizes = {p.name: p.stat().st_size for p in (workdir / "demo").iterdir()}
        print(f"demo data: {args.accounts:,} accounts x {args.months} months in "
              f"{time.perf_counter() - start:.0f} s ({sum(sizes.values()) / 2**20:.0f} MB parquet)",
              flush=True)
        ensure_model(workdir)

        totals, peaks = [], []
        for run in range(args.runs):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(workdir / "demo"),
                 str(workdir / f"scores_{run}.parquet")],
                capture_output=True, text=True, env=dict(os.environ), cwd=REPO,
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
            report = json.loads(done.stdout.strip().splitlines()[-1])
            totals.append(report["total"])
            peaks.append(report["peak_rss_mb"])
            print(f"run {run + 1}: {report['total']:.1f} s for {report['accounts']:,} active "
                  f"accounts, peak RSS {report['peak_rss_mb']:,.0f} MB; steps {report['steps']}",
                  flush=True)

    total, peak = statistics.median(totals), max(peaks)
    print()
    print(f"batch scoring end to end, {args.accounts:,} demo accounts: median {total:.1f} s "
          f"(target < 120 s: {'met' if total < 120 else 'NOT met'}), peak RSS {peak / 1024:.2f} GB "
          f"(target < 8 GB: {'met' if peak < 8 * 1024 else 'NOT met'}); {args.runs} runs")


if __name__ == "__main__":
    main()
