"""How big the boosted trees should be, learnt from the data at hand.

One fixed size underfits some tables and overfits others. :func:`fit_with_capacity` tries a
small, fixed choice of tree shapes (:data:`TREE_SHAPES`; a shape still improving at its last
allowed tree again with a doubled learning rate), each with early stopping on held-out
rows — the validation dates of an out-of-time split, or an inner stratified split of the
training rows of a flat table — keeps the shape with the lowest held-out log loss, and refits
it on the training rows with the number of trees early stopping found.

Every shape is capped so that explaining an account stays cheap: TreeSHAP
(``pred_contrib``) costs about trees x leaves x depth² per row, and no candidate may exceed
:data:`EXPLAIN_BUDGET`, twice the cost of the original default model (200 trees of 8
leaves, depth 4). ``benchmarks/bench_train.py`` measures the largest model this allows on
100,000 rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from models.estimators import LIGHTGBM_DEFAULTS, fit_lightgbm, make_lightgbm
from models.evaluation import binary_log_loss

# Tree shapes tried, smallest first: (leaves, depth, rows per leaf).
TREE_SHAPES = (
    {"num_leaves": 8, "max_depth": 4, "min_child_samples": 40},
    {"num_leaves": 16, "max_depth": 5, "min_child_samples": 20},
    {"num_leaves": 32, "max_depth": 6, "min_child_samples": 10},
)
LEARNING_RATE = 0.1
# A shape still improving at its last allowed tree is tried again with twice the learning
# rate, up to this.
MAX_LEARNING_RATE = 0.4
MAX_TREES = 1000
EARLY_STOPPING_ROUNDS = 50
# Cost of explaining one row (trees x leaves x depth^2) allowed at most: twice the original
# default model's (200 trees of 8 leaves, depth 4, 12.9 s for 100,000 rows), so 100,000
# rows stay well within the benchmark's minute. Early stopping rarely reaches the cap: on
# Telco and the demo data the chosen models used 30-55 trees.
EXPLAIN_BUDGET = 2 * 200 * 8 * 4 ** 2
# Share of a flat table's training rows held out for early stopping.
INNER_SHARE = 0.2
# Fewer churners or survivors than this in the held-out rows: no search, the defaults.
MIN_CLASS_ROWS = 10
# Parameters that fix the capacity: given any of them, the search leaves it to the caller.
CAPACITY_KEYS = frozenset({"n_estimators", "num_leaves", "max_depth", "min_child_samples",
                           "learning_rate"})


@dataclass(frozen=True)
class Capacity:
    """The tree shape chosen and how each candidate did.

    Attributes
    ----------
    params : dict
        The capacity parameters of the model fitted (``n_estimators``, ``num_leaves``, ...).
    text : str
        How it was chosen, in words.
    candidates : DataFrame
        One row per shape tried: its parameters, the trees early stopping kept and the
        held-out log loss; empty when no search ran.
    """

    params: dict
    text: str
    candidates: pd.DataFrame


def max_trees(shape: dict) -> int:
    """Trees a shape may grow within :data:`EXPLAIN_BUDGET` (at most :data:`MAX_TREES`).

    Examples
    --------
    >>> [max_trees(shape) for shape in TREE_SHAPES]
    [400, 128, 44]
    """
    per_tree = shape["num_leaves"] * shape["max_depth"] ** 2
    return int(min(MAX_TREES, EXPLAIN_BUDGET // per_tree))


def explain_cost(params: dict) -> int:
    """Trees x leaves x depth² of LightGBM parameters (defaults filled in)."""
    settings = {**LIGHTGBM_DEFAULTS, **params}
    return int(settings["n_estimators"] * settings["num_leaves"] * settings["max_depth"] ** 2)


def _stopped_fit(X_fit, y_fit, X_stop, y_stop, shape: dict, *, params: dict, seed: int,
                 categorical, learning_rate: float = LEARNING_RATE) -> tuple[int, float]:
    """Trees kept by early stopping and the held-out log loss of one shape."""
    settings = {**params, **shape, "learning_rate": learning_rate,
                "n_estimators": max_trees(shape)}
    pipeline = make_lightgbm(categorical, params=settings, seed=seed)
    encoder = pipeline.named_steps["encode"].fit(X_fit)
    booster = pipeline.named_steps["model"]
    with warnings.catch_warnings():
        # LightGBM 4.7 renamed eval_set (eval_X, eval_y); the project supports 4.3 onwards.
        warnings.filterwarnings("ignore", message=".*'eval_set' is deprecated")
        booster.fit(encoder.transform(X_fit), y_fit,
                    eval_set=[(encoder.transform(X_stop), y_stop)], eval_metric="binary_logloss",
                    callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
    trees = int(booster.best_iteration_ or booster.n_estimators)
    proba = booster.predict_proba(encoder.transform(X_stop), num_iteration=trees)[:, 1]
    return trees, binary_log_loss(y_stop, proba)


def choose_capacity(X_fit: pd.DataFrame, y_fit, X_stop: pd.DataFrame, y_stop, *,
                    params: dict | None = None, seed: int = 0,
                    categorical: list[str] | None = None) -> Capacity:
    """The tree shape and number of trees with the lowest log loss on the held-out rows.

    Parameters
    ----------
    X_fit, y_fit
        Rows to grow the trees on.
    X_stop, y_stop
        Held-out rows for early stopping and the choice.
    params : dict, optional
        Other ``LGBMClassifier`` parameters (sampling, regularisation, threads). With any
        of :data:`CAPACITY_KEYS` the caller has chosen the capacity: no search.
    seed : int
        Seeds every fit.
    categorical : list of str, optional
        Categorical columns.
    """
    params = dict(params or {})
    given = CAPACITY_KEYS & set(params)
    if given:
        chosen = {k: {**LIGHTGBM_DEFAULTS, **params}[k] for k in sorted(CAPACITY_KEYS)}
        return Capacity(chosen, "as configured (" + ", ".join(sorted(given)) + " given)",
                        pd.DataFrame())
    y_stop = np.asarray(y_stop, dtype=int)
    counts = np.bincount(y_stop, minlength=2)
    if counts.min() < MIN_CLASS_ROWS:
        chosen = {k: LIGHTGBM_DEFAULTS[k] for k in sorted(CAPACITY_KEYS)}
        return Capacity(chosen, f"the defaults: only {int(counts.min())} held-out row(s) of "
                        f"one class, fewer than {MIN_CLASS_ROWS} to choose a size on",
                        pd.DataFrame())
    rows = []
    for shape in TREE_SHAPES:
        rate = LEARNING_RATE
        while True:
            trees, loss = _stopped_fit(X_fit, np.asarray(y_fit, dtype=int), X_stop, y_stop,
                                       shape, params=params, seed=seed,
                                       categorical=categorical, learning_rate=rate)
            rows.append({**shape, "learning_rate": rate, "n_estimators": trees,
                         "held_out_log_loss": loss})
            # Still improving when the budget ran out: the same trees with longer steps
            # (at most :data:`MAX_LEARNING_RATE`), rather than more trees to explain.
            if trees < max_trees(shape) or rate * 2 > MAX_LEARNING_RATE:
                break
            rate *= 2
    candidates = pd.DataFrame(rows)
    losses = candidates["held_out_log_loss"].fillna(math.inf)
    best = rows[int(losses.idxmin())]  # ties: the smallest shape (first)
    chosen = {k: best[k] for k in sorted(CAPACITY_KEYS)}
    return Capacity(chosen, (f"{chosen['n_estimators']} trees of {chosen['num_leaves']} leaves "
                             f"(depth {chosen['max_depth']}, learning rate "
                             f"{chosen['learning_rate']:g}), the lowest held-out log loss "
                             f"({best['held_out_log_loss']:.4f}) of {len(rows)} candidates"),
                    candidates)


def fit_with_capacity(X: pd.DataFrame, y, *, stop: tuple | None = None,
                      params: dict | None = None, seed: int = 0,
                      categorical: list[str] | None = None):
    """Choose the capacity (:func:`choose_capacity`) and fit the LightGBM pipeline on X, y.

    Parameters
    ----------
    X, y
        The training rows.
    stop : (X_stop, y_stop), optional
        Held-out rows for the choice (the validation dates); without them a stratified
        :data:`INNER_SHARE` of ``X`` is held out for the choice, and the chosen model is
        then refitted on every row of ``X``.

    Returns
    -------
    pipeline : Pipeline
    capacity : Capacity

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=600), "z": rng.normal(size=600)})
    >>> y = (X["x"] * X["z"] + rng.normal(scale=0.3, size=600) > 0).astype(int)
    >>> model, capacity = fit_with_capacity(X, y)
    >>> len(capacity.candidates) >= 3, capacity.params["num_leaves"] in (8, 16, 32)
    (True, True)
    """
    y = np.asarray(y, dtype=int)
    if stop is None:
        counts = np.bincount(y, minlength=2)
        if counts.min() * INNER_SHARE < MIN_CLASS_ROWS:
            capacity = choose_capacity(X, y, X.iloc[:0], y[:0], params=params, seed=seed,
                                       categorical=categorical)
        else:
            fit_rows, stop_rows = train_test_split(np.arange(len(y)), test_size=INNER_SHARE,
                                                   stratify=y, random_state=seed)
            capacity = choose_capacity(X.iloc[fit_rows], y[fit_rows], X.iloc[stop_rows],
                                       y[stop_rows], params=params, seed=seed,
                                       categorical=categorical)
    else:
        capacity = choose_capacity(X, y, stop[0], stop[1], params=params, seed=seed,
                                   categorical=categorical)
    model = fit_lightgbm(X, y, params={**(params or {}), **capacity.params}, seed=seed,
                         categorical=categorical)
    return model, capacity
