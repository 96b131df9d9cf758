"""Flat-table accuracy: our 5-fold ROC AUC beside an untouched LightGBM and a logistic regression.

For every table given, the same stratified folds (seeded) score three models:

- **ours**: the trainer's LightGBM as ``customer-health train --table`` fits it (tree size
  chosen per fold on an inner split, :mod:`models.capacity`);
- **LGBMClassifier()**: LightGBM with its library defaults (100 trees of 31 leaves, no depth
  limit, learning rate 0.1), on the same encoded columns: what a five-line notebook does.
  ``n_jobs=1`` and ``verbose=-1`` only, which change neither trees nor scores;
- **logistic**: the trainer's logistic-regression baseline (imputation, scaling, one-hot).

Prints the mean ROC AUC over folds of each, ours minus the better of the other two (target:
never below -0.005), and the median wall time of each model over the folds.

Usage::

    python benchmarks/bench_flat.py TABLE.csv:LABEL[:ID] [...] [--demo] [--folds 5]

``--demo`` adds the demo flat export: the demo data's indicators as of its last labelled
observation date, one row per account, with the churn label of the following 90 days.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

TARGET = -0.005


def demo_flat_export(folder: Path, *, accounts: int = 3000, months: int = 18, seed: int = 42) -> Path:
    """Write the demo flat export to ``folder`` and return its path."""
    from features.contract import validate_tables
    from features.demo_data import generate_demo_data
    from models.training_set import LABEL, build_training_set

    tables, _ = validate_tables(generate_demo_data(accounts=accounts, months=months, seed=seed))
    ts = build_training_set(tables, horizon=90, every=30)
    last = max(ts.labelled_dates)
    rows = ts.frame[ts.frame["as_of"] == last].drop(columns=["as_of"])
    rows = rows.assign(churned=rows.pop(LABEL).map({1.0: "yes", 0.0: "no"}))
    path = folder / "demo_flat_export.csv"
    rows.to_csv(path, index=False)
    return path


def compare(path: Path, label: str, id_column: str | None, *, folds: int, seed: int) -> dict:
    """Mean ROC AUC over the same folds of ours, LGBMClassifier() and logistic regression."""
    import numpy as np
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline

    from models.capacity import fit_with_capacity
    from models.estimators import FrameEncoder, fit_logistic
    from models.evaluation import roc_auc
    from models.flat_table import prepare_flat_table, read_flat_table

    table = prepare_flat_table(read_flat_table(path), label=label, id_column=id_column,
                               source=path.name)
    X, y = table.X, table.y.to_numpy()
    scores = {"ours": [], "LGBMClassifier()": [], "logistic": []}
    seconds = {name: [] for name in scores}
    chosen = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(X, y):
        fits = {
            "ours": lambda train=train: fit_with_capacity(X.iloc[train], y[train], seed=seed,
                                              categorical=table.categorical),
            "LGBMClassifier()": lambda train=train: (Pipeline([
                ("encode", FrameEncoder(table.categorical)),
                ("model", LGBMClassifier(n_jobs=1, verbose=-1)),
            ]).fit(X.iloc[train], y[train]), None),
            "logistic": lambda train=train: (fit_logistic(X.iloc[train], y[train], seed=seed,
                                              categorical=table.categorical), None),
        }
        for name, fit in fits.items():
            start = time.perf_counter()
            model, capacity = fit()
            seconds[name].append(time.perf_counter() - start)
            scores[name].append(roc_auc(y[test], model.predict_proba(X.iloc[test])[:, 1]))
            if capacity is not None:
                chosen.append(f"{capacity.params['n_estimators']}x{capacity.params['num_leaves']}")
    return {"table": path.name, "rows": len(y), "churn_rate": float(y.mean()),
            "auc": {k: float(np.mean(v)) for k, v in scores.items()},
            "seconds": {k: statistics.median(v) for k, v in seconds.items()},
            "chosen": chosen}


def _parse(spec: str) -> tuple[Path, str, str | None]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise SystemExit(f"{spec!r}: give TABLE:LABEL or TABLE:LABEL:ID")
    return Path(parts[0]), parts[1], parts[2] if len(parts) == 3 else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="TABLE.csv:LABEL[:ID]")
    parser.add_argument("--demo", action="store_true", help="add the demo flat export")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    specs = [_parse(spec) for spec in args.tables]
    with tempfile.TemporaryDirectory(prefix="bench-flat-") as tmp:
        if args.demo:
            specs.append((demo_flat_export(Path(tmp)), "churned", "account_id"))
        if not specs:
            parser.error("give at least one TABLE:LABEL or --demo")
        print(f"{args.folds}-fold ROC AUC (mean over the same stratified folds, seed {args.seed})")
        header = (f"{'table':<28}{'rows':>7}{'churn':>7}{'ours':>8}{'LGBM()':>8}{'logistic':>9}"
                  f"{'ours - best':>12}  verdict   median fit s (ours / LGBM() / logistic)")
        print(header)
        for path, label, id_column in specs:
            r = compare(path, label, id_column, folds=args.folds, seed=args.seed)
            auc = r["auc"]
            delta = auc["ours"] - max(auc["LGBMClassifier()"], auc["logistic"])
            verdict = "ok" if delta >= TARGET else "BELOW"
            s = r["seconds"]
            print(f"{r['table']:<28}{r['rows']:>7}{r['churn_rate']:>7.1%}{auc['ours']:>8.4f}"
                  f"{auc['LGBMClassifier()']:>8.4f}{auc['logistic']:>9.4f}{delta:>+12.4f}  "
                  f"{verdict:<8}  {s['ours']:.1f} / {s['LGBMClassifier()']:.1f} / "
                  f"{s['logistic']:.1f}")
            print(f"{'':<28}trees x leaves chosen per fold: {', '.join(r['chosen'])}")
    print(f"target: ours never more than {-TARGET:.3f} below the better of the two")


if __name__ == "__main__":
    main()
