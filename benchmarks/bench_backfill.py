"""Backfill speed: N weekly dates scored in one run against one date, same code path.

Each measurement is :func:`serving.backfill.run_backfill` in a fresh child process (read,
validate, model, then every date: indicators, scores, churn, call list, write; many dates
in one worker process per core, as the command does), timed from the call to its return,
in wall and CPU seconds (the workers' included); one date is measured ``--runs`` times and
N dates ``--runs-many`` times, medians printed with the ratio. Target: 52 weekly dates at
100,000 accounts <= 10x one date. With N below 52, the ratio is also carried to 52 dates at
the measured cost of each date after the first.

The model is the champion of ``MLFLOW_TRACKING_URI`` or, without one, a small model trained
first on a 2,000-account demo (not timed), as in ``bench_batch.py``.

    python benchmarks/bench_backfill.py --folder /tmp/demo --dates 52 [--runs 3] [--runs-many 1]
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

from bench_batch import AS_OF, ensure_model  # noqa: E402  (the same date and model)

TARGET_DATES, TARGET_RATIO = 52, 10


def child(folder: str, out: str, dates: int) -> None:
    """``dates`` weekly dates ending at AS_OF in one process; prints wall and CPU seconds."""
    import pandas as pd

    from serving.backfill import backfill_dates, backfill_workers, run_backfill

    last = pd.Timestamp(AS_OF)
    days = backfill_dates(last - pd.Timedelta(days=7 * (dates - 1)), last, 7)
    started, cpu = time.perf_counter(), _cpu()
    run_backfill(folder, days, out, previous="auto")
    print(json.dumps({"dates": len(days), "seconds": time.perf_counter() - started,
                      "cpu": _cpu() - cpu, "workers": backfill_workers(len(days))}))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (comment reading and the
    polarity's folds run in worker processes): on a shared machine wall time follows the
    neighbours' load, CPU time much less."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _run(folder: Path, out: Path, dates: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(folder), str(out), str(dates)],
                          capture_output=True, text=True, env=dict(os.environ), cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=False, help="a Parquet demo folder")
    parser.add_argument("--dates", type=int, default=TARGET_DATES)
    parser.add_argument("--runs", type=int, default=3, help="runs of one date")
    parser.add_argument("--runs-many", type=int, default=1, help="runs of --dates dates")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if args.folder is None:
        parser.error("--folder is required (e.g. a folder written by demo-data --format parquet)")

    with tempfile.TemporaryDirectory(prefix="bench_backfill_") as tmp:
        ensure_model(Path(tmp))
        one, many = [], []
        for run in range(args.runs):
            one.append(_run(args.folder, Path(tmp) / f"one{run}" / "scores.parquet", 1))
            print(f"1 date, run {run + 1}: {one[-1]['seconds']:.1f} s ({one[-1]['cpu']:.1f} s CPU)",
                  flush=True)
        for run in range(args.runs_many):
            many.append(_run(args.folder, Path(tmp) / f"many{run}" / "scores.parquet", args.dates))
            print(f"{args.dates} dates, run {run + 1}: {many[-1]['seconds']:.1f} s "
                  f"({many[-1]['cpu']:.1f} s CPU) in {many[-1]['workers']} worker process(es)",
                  flush=True)

    print(f"\nbackfill of {args.folder}, weekly dates ending {AS_OF}; load average at the end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for unit in ("seconds", "cpu"):
        single = statistics.median(r[unit] for r in one)
        total = statistics.median(r[unit] for r in many)
        ratio = total / single
        each = (total - single) / (args.dates - 1) if args.dates > 1 else float("nan")
        line = (f"  {'wall' if unit == 'seconds' else 'CPU':<5} 1 date {single:7.1f} s (median of "
                f"{len(one)}); {args.dates} dates {total:7.1f} s (median of {len(many)}) = "
                f"{ratio:.1f}x; each further date {each:.1f} s")
        if args.dates != TARGET_DATES:
            line += (f"; {TARGET_DATES} dates at this pace "
                     f"{(single + each * (TARGET_DATES - 1)) / single:.1f}x")
        print(line + f" (target <= {TARGET_RATIO}x for {TARGET_DATES} dates)")


if __name__ == "__main__":
    main()
