"""Benchmark of the demo-data generator (and, optionally, writing its files).

Each run is ``features.demo_data.generate_demo_data`` in a fresh child process, so the
peak RSS of a run is its own. With ``--write csv|parquet`` the child also writes the six
tables to a temporary folder and reports that time separately.

Prints each run, the median generation time and the peak RSS over the runs.
Target on 2 cores (issue 2): 100,000 accounts x 18 months (about 10 million sessions)
in under 2 minutes and under 4 GB.

    python benchmarks/bench_demo_data.py [--accounts 100000] [--months 18] [--runs 3]
                                         [--write csv|parquet]
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def child(accounts: int, months: int, seed: int, write: str | None) -> None:
    """One measured run; prints a JSON line."""
    from features.demo_data import generate_demo_data
    from features.io import write_tables

    started = time.perf_counter()
    tables = generate_demo_data(accounts=accounts, months=months, seed=seed)
    generated = time.perf_counter()
    result = {
        "generate_seconds": round(generated - started, 2),
        "rows": {name: len(frame) for name, frame in tables.items()},
    }
    if write:
        with tempfile.TemporaryDirectory() as folder:
            write_tables(tables, folder, write)
            result["write_seconds"] = round(time.perf_counter() - generated, 2)
            result["megabytes_written"] = round(
                sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20, 1
            )
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", choices=("csv", "parquet"), default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.accounts, args.months, args.seed, args.write)
        return

    print(f"demo data: {args.accounts:,} accounts x {args.months} months, {args.runs} run(s)")
    runs = []
    for run in range(args.runs):
        command = [sys.executable, __file__, "--child", "--accounts", str(args.accounts),
                   "--months", str(args.months), "--seed", str(args.seed)]
        if args.write:
            command += ["--write", args.write]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
        result = json.loads(output.stdout.strip().splitlines()[-1])
        runs.append(result)
        extra = (f", write {args.write} {result['write_seconds']:.1f} s "
                 f"({result['megabytes_written']:,} MB)") if args.write else ""
        print(f"  run {run + 1}: generate {result['generate_seconds']:.1f} s{extra}, "
              f"peak RSS {result['peak_rss_mb']:,} MB")
    rows = runs[0]["rows"]
    print("rows: " + ", ".join(f"{name} {count:,}" for name, count in rows.items()))
    print(f"median generate time: {statistics.median(r['generate_seconds'] for r in runs):.1f} s")
    if args.write:
        print(f"median write time ({args.write}): "
              f"{statistics.median(r['write_seconds'] for r in runs):.1f} s")
    print(f"peak RSS: {max(r['peak_rss_mb'] for r in runs):,} MB")


if __name__ == "__main__":
    main()
