"""Comment sentiment throughput: language identification + polarity, comments per second.

Takes ``--comments`` comments (default 200,000) written by the demo generator
(``features.demo_data``: English, Arabic and Persian comments composed from fragment pools, so
most texts are distinct) and times :func:`features.sentiment.score_comments` on all of them
with learnt polarity models for Arabic and Persian (fitted once, before timing, from the same
demo survey answers: :func:`features.polarity.fit_languages`), ``--runs`` times, each run in a
fresh Python process (nothing cached from the previous run; the imports and the loading of
TextBlob's lexicon, the two language models and the polarity models are counted). Every
comment gets a language (fastText, py3langid when unsure), English is read by TextBlob, Arabic
and Persian by their learnt models. Prints the median comments per second, the share of
distinct texts, the languages and methods, the peak resident memory, and the CPU time (this
process and its workers): on a machine shared with other work the wall-clock rate depends on
the load, comments per CPU second does not. Target: at least 10,000 comments/s on 2 cores.

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


def demo_comments(n: int, cache: Path) -> tuple[Path, Path]:
    """A parquet file of ``n`` demo comments and the polarity models learnt from them
    (generated once, then reused)."""
    import pandas as pd

    from features.demo_data import generate_demo_data
    from features.languages import identify_languages
    from features.polarity import fit_languages
    from features.survey_polarity import survey_labels

    path = cache / f"comments-v4-{n}.parquet"
    models = cache / f"polarity-v4-{n}.json"
    if path.exists() and models.exists():
        return path, models
    cache.mkdir(parents=True, exist_ok=True)
    parts, total, seed = [], 0, 100
    while total < n:
        surveys = generate_demo_data(accounts=40_000, months=18, seed=seed)["surveys"]
        surveys = surveys[surveys["comment"].notna() & (surveys["comment"] != "None")]
        parts.append(surveys[["survey", "score", "comment"]])
        total += len(surveys)
        seed += 1
    frame = pd.concat(parts, ignore_index=True).iloc[:n]
    frame[["comment"]].to_parquet(path, index=False)
    labels = survey_labels(frame)
    labelled = frame[labels.notna()]
    fitted = fit_languages(labelled["comment"], labels[labels.notna()],
                           identify_languages(labelled["comment"]))
    models.write_text(json.dumps(fitted.to_dict()), encoding="utf-8")
    return path, models


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker pool)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(path: Path, models_path: Path, jobs: int | None) -> dict:
    """One timed run in this process."""
    import pandas as pd

    comments = pd.read_parquet(path)["comment"]
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    from features.polarity import PolarityModels
    from features.sentiment import score_comments

    models = PolarityModels.from_dict(json.loads(models_path.read_text(encoding="utf-8")))
    scores = score_comments(comments, models, n_jobs=jobs)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    methods = scores.groupby(["language", "method"], dropna=False).size()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "comments": len(comments),
        "distinct": int(comments.nunique()),
        "unsupported": int((scores["supported"] == False).sum()),  # noqa: E712 (nullable)
        "methods": {f"{lang}/{method}": int(count) for (lang, method), count in methods.items()},
        "peak_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, children) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.models, args.jobs)))
        return

    path, models = demo_comments(args.comments, args.cache)
    runs = []
    for i in range(args.runs):
        command = [sys.executable, __file__, "--child", str(path), "--models", str(models)]
        if args.jobs:
            command += ["--jobs", str(args.jobs)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        run = json.loads(output.strip().splitlines()[-1])
        runs.append(run)
        print(f"run {i + 1}: {run['comments'] / run['seconds']:,.0f} comments/s "
              f"({run['seconds']:.2f} s, {run['cpu_seconds']:.2f} CPU s, "
              f"peak RSS {run['peak_rss_mb']:,.0f} MB, load average {os.getloadavg()[0]:.1f})",
              flush=True)
    rates = [r["comments"] / r["seconds"] for r in runs]
    first = runs[0]
    shown = ", ".join(f"{k} {v:,}" for k, v in sorted(first["methods"].items(), key=lambda kv: -kv[1]))
    print(
        f"\nscore_comments on {first['comments']:,} demo comments "
        f"({first['distinct']:,} distinct, {first['unsupported']:,} unsupported; "
        f"language/method: {shown}), "
        f"jobs={args.jobs or os.cpu_count()}, {len(runs)} runs:\n"
        f"  median {statistics.median(rates):,.0f} comments/s "
        f"(median {statistics.median(r['seconds'] for r in runs):.2f} s), "
        f"median {statistics.median(r['comments'] / r['cpu_seconds'] for r in runs):,.0f} "
        f"comments per CPU second, "
        f"peak RSS {max(r['peak_rss_mb'] for r in runs):,.0f} MB, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
