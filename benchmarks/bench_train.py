"""Training speed: end-to-end training on demo data, and SHAP explanations of 100,000 rows.

Prints the median wall time over ``--runs`` runs, the CPU time (all threads) and the peak
resident memory (RSS) of each measurement, and the load average: on a shared machine wall
time stretches while CPU time does not. Every run is a fresh Python process, so one run's
caches and memory peak do not leak into the next.

(a) ``train``: read a folder of ``--accounts`` demo accounts over ``--months`` months,
    validate it, build the point-in-time training set (monthly observation dates, indicators
    included) and train, evaluate, log and register the model in a temporary MLflow store,
    as ``customer-health train DIR`` does. Target: under 5 minutes on 2 cores for 20,000
    accounts over 18 months.
(b) ``explain``: LightGBM ``pred_contrib`` SHAP contributions for ``--explain-rows`` rows
    with the largest models the trainer may choose (:mod:`models.capacity`: every tree size
    it tries, grown to the most trees the explanation budget allows), fitted on the demo
    training set (fit time not counted). The slowest of them bounds the cost at any
    capacity. Target: under 60 seconds for 100,000 rows.

Usage::

    python benchmarks/bench_train.py                      # both, 3 runs each, full size
    python benchmarks/bench_train.py --accounts 2000 --runs 1
    python benchmarks/bench_train.py --only explain
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


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(folder: Path):
    from features.io import load_tables

    loaded = load_tables(folder, None)
    return loaded[0] if isinstance(loaded, tuple) else loaded


def measure_train(folder: Path, store: Path) -> dict:
    """One end-to-end training run; returns seconds per phase and the peak RSS."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlflow.db'}"
    from models.trainer import train_from_training_set
    from models.training_set import build_training_set

    phases = {}
    cpu = time.process_time()
    start = time.perf_counter()
    tables = _load(folder)
    phases["load_and_validate"] = time.perf_counter() - start
    mark = time.perf_counter()
    ts = build_training_set(tables, horizon=90, every=30)
    phases["training_set"] = time.perf_counter() - mark
    mark = time.perf_counter()
    train_from_training_set(ts, seed=0, experiment="bench")
    phases["fit_evaluate_log"] = time.perf_counter() - mark
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "phases": phases,
        "rows": int(len(ts.frame)),
        "peak_rss_mb": _peak_rss_mb(),
    }


def measure_explain(folder: Path, rows: int) -> dict:
    """Fit each tree size at its budget on the demo training set; time ``pred_contrib``.

    The reported ``seconds`` are those of the slowest size (the bound at any capacity).
    """
    import numpy as np

    from models.capacity import LEARNING_RATE, TREE_SHAPES, max_trees
    from models.estimators import fit_lightgbm, usable_feature_columns
    from models.explain import contributions
    from models.training_set import LABEL, build_training_set

    tables = _load(folder)
    ts = build_training_set(tables, horizon=90, every=30)
    labelled = ts.labelled
    columns, _ = usable_feature_columns(labelled, ts.feature_columns)
    rng = np.random.default_rng(0)
    X = ts.frame[columns].iloc[rng.integers(0, len(ts.frame), rows)].reset_index(drop=True)
    shapes = []
    for shape in TREE_SHAPES:
        params = {**shape, "learning_rate": LEARNING_RATE, "n_estimators": max_trees(shape)}
        model = fit_lightgbm(labelled[columns], labelled[LABEL].astype(int), params=params,
                             seed=0)
        booster = model.named_steps["model"].booster_
        cpu = time.process_time()
        start = time.perf_counter()
        contrib = contributions(model, X)
        shapes.append({"seconds": time.perf_counter() - start,
                       "cpu_seconds": time.process_time() - cpu,
                       "trees": int(booster.num_trees()), "max_leaves": shape["num_leaves"],
                       "depth": shape["max_depth"]})
    slowest = max(shapes, key=lambda r: r["seconds"])
    return {**slowest, "rows": int(len(contrib)), "shapes": shapes,
            "peak_rss_mb": _peak_rss_mb()}


def _child(args) -> None:
    folder = Path(args.folder)
    if args.child == "train":
        with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as store:
            result = measure_train(folder, Path(store))
    else:
        result = measure_explain(folder, args.explain_rows)
    print("RESULT " + json.dumps(result))


def _run_child(kind: str, folder: Path, args) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--folder", str(folder),
               "--explain-rows", str(args.explain_rows)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {kind} benchmark failed (exit code {done.returncode})")
    line = next(row for row in done.stdout.splitlines() if row.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--explain-rows", type=int, default=100_000)
    parser.add_argument("--only", choices=("train", "explain"), default=None)
    parser.add_argument("--child", choices=("train", "explain"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return

    from features.demo_data import write_demo_data

    kinds = [args.only] if args.only else ["train", "explain"]
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        folder = Path(tmp) / "demo"
        start = time.perf_counter()
        write_demo_data(folder, fmt="parquet", accounts=args.accounts, months=args.months)
        print(f"demo data: {args.accounts} accounts x {args.months} months written in "
              f"{time.perf_counter() - start:.1f} s (not counted)")
        for kind in kinds:
            results = []
            for run in range(1, args.runs + 1):
                result = _run_child(kind, folder, args)
                results.append(result)
                extra = ", ".join(
                    f"{k} {v:.1f} s" for k, v in result.get("phases", {}).items()
                ) or ", ".join(f"{r['trees']} trees x {r['max_leaves']} leaves (depth "
                               f"{r['depth']}) {r['seconds']:.1f} s"
                               for r in result.get("shapes", []))
                print(f"  {kind} run {run}: {result['seconds']:.1f} s wall, "
                      f"{result['cpu_seconds']:.1f} s CPU, peak RSS "
                      f"{result['peak_rss_mb']:.0f} MB" + (f" ({extra})" if extra else ""))
            median = statistics.median(r["seconds"] for r in results)
            median_cpu = statistics.median(r["cpu_seconds"] for r in results)
            peak = max(r["peak_rss_mb"] for r in results)
            if kind == "train":
                target = 300
                what = (f"train end to end, {args.accounts} accounts x {args.months} months, "
                        f"{results[0]['rows']} rows")
            else:
                target = 60
                what = (f"pred_contrib, {results[0]['rows']} rows, slowest tree size the "
                        f"trainer may choose ({results[0]['trees']} trees of <= "
                        f"{results[0]['max_leaves']} leaves)")
            verdict = "within" if median < target else "OVER"
            print(f"{what}: median {median:.1f} s wall ({verdict} the {target} s target), "
                  f"{median_cpu:.1f} s CPU, over {len(results)} run(s); peak RSS {peak:.0f} MB")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} CPUs (wall times stretch when the machine is shared)")


if __name__ == "__main__":
    main()
