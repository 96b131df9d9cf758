"""Comment sentiment throughput: comments per second of ``score_comments`` on demo comments.

Takes ``--comments`` comments (default 200,000) written by the demo generator
(``features.demo_data``: English, Arabic and Persian comments composed from fragment pools, so
most texts are distinct) and times :func:`features.sentiment.score_comments` on all of them,
``--runs`` times, each run in a fresh Python process (nothing cached from the previous run;
TextBlob's import and lexicon load are counted). Prints the median comments per second, the
share of distinct texts, and the peak resident memory. Target: at least 10,000 comments/s
on 2 cores.

The comments are generated once and cached under the system temp folder
(``customer-health-bench/``, outside the repository), or ``--cache``.

Usage::

    python benchmarks/bench_sentiment.py
    python benchmarks/bench_sentiment.py --comments 50000 --runs 3 --jobs 1
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

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "customer-health-bench"


def demo_comments(n: int, cache: Path) -> Path:
    """A parquet file of ``n`` demo comments (generated once, then reused)."""
    import pandas as pd

    from features.demo_data import generate_demo_data

    path = cache / f"comments-{n}.parquet"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    parts, total, seed = [], 0, 100
    while total < n:
        surveys = generate_demo_data(accounts=40_000, months=18, seed=seed)["surveys"]
        comments = surveys["comment"].dropna()
        parts.append(comments)
        total += len(comments)
        seed += 1
    frame = pd.DataFrame({"comment": pd.concat(parts, ignore_index=True).iloc[:n]})
    frame.to_parquet(path, index=False)
    return path


def measure(path: Path, jobs: int | None) -> dict:
    """One timed run in this process."""
    import pandas as pd

    comments = pd.read_parquet(path)["comment"]
    start = time.perf_counter()
    from features.sentiment import score_comments

    scores = score_comments(comments, n_jobs=jobs)
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "comments": len(comments),
        "distinct": int(comments.nunique()),
        "unsupported": int((scores["supported"] == False).sum()),  # noqa: E712 (nullable)
        "peak_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, children) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.jobs)))
        return

    path = demo_comments(args.comments, args.cache)
    runs = []
    for i in range(args.runs):
        command = [sys.executable, __file__, "--child", str(path)]
        if args.jobs:
            command += ["--jobs", str(args.jobs)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        run = json.loads(output.strip().splitlines()[-1])
        runs.append(run)
        print(f"run {i + 1}: {run['comments'] / run['seconds']:,.0f} comments/s "
              f"({run['seconds']:.2f} s, peak RSS {run['peak_rss_mb']:,.0f} MB)", flush=True)
    rates = [r["comments"] / r["seconds"] for r in runs]
    first = runs[0]
    print(
        f"\nscore_comments on {first['comments']:,} demo comments "
        f"({first['distinct']:,} distinct, {first['unsupported']:,} unsupported), "
        f"jobs={args.jobs or os.cpu_count()}, {len(runs)} runs:\n"
        f"  median {statistics.median(rates):,.0f} comments/s "
        f"(median {statistics.median(r['seconds'] for r in runs):.2f} s), "
        f"peak RSS {max(r['peak_rss_mb'] for r in runs):,.0f} MB"
    )


if __name__ == "__main__":
    main()
