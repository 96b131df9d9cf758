"""Which indicators the churn model learns from, chosen on the validation dates.

Every indicator table carries every indicator of the catalogue, whatever the business: a
subscription with a few orders still gets a shop's order rhythm, basket value and predicted
CLV. On a small training set an indicator that carries no signal for this business still
offers the trees splits that fit noise; on the subscription demo, 14 such columns cost the
out-of-time ROC AUC more than 0.01.

:func:`select_inputs` measures each indicator's **permutation importance on held-out rows**
(the validation dates, never the test dates): how much the held-out log loss rises when the
indicator's values are shuffled across rows, averaged over :data:`REPEATS` shuffles. The
windows of one indicator (``csat_30d``, ``csat_90d``, ``csat_180d``) are shuffled together:
shuffled one at a time, each would look useless while its siblings stand in for it. A
column outside the catalogue is an indicator of its own. An indicator whose shuffling does
not raise the held-out loss is dropped, and the capacity is chosen again on what is left.

Permutation importance needs no refit per indicator, only predictions, so it costs a few
seconds at any number of columns. Its known weakness is two indicators that stand in for
each other: each looks useless while the other is there, and both could go. So the model
on the kept indicators is checked against the model on all of them on the same held-out
rows, and kept only if its log loss is not worse by more than one standard error of the
per-row difference (the simpler model wins a tie within the noise; :data:`TOLERANCE_SE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.catalogue import lookup
from models.capacity import Capacity, choose_capacity
from models.estimators import fit_lightgbm
from models.evaluation import LOG_LOSS_EPS

# Shuffles per indicator; their mean is the importance.
REPEATS = 5
# The selected model may be worse on the held-out rows than the full one by this many
# standard errors of the per-row log-loss difference.
TOLERANCE_SE = 1.0


@dataclass(frozen=True)
class Selection:
    """The indicators kept and dropped, and how each did on the held-out rows.

    Attributes
    ----------
    kept : list of str
        The columns the model learns from, in their original order.
    dropped : dict of str to str
        The columns left out, with why.
    indicators : DataFrame
        One row per indicator: ``indicator``, ``columns``, ``importance`` (mean rise of the
        held-out log loss when shuffled), ``importance_std`` and ``decision`` (``kept`` or
        ``dropped``); empty when no selection ran.
    text : str
        What was done, in words.
    """

    kept: list
    dropped: dict = field(default_factory=dict)
    indicators: pd.DataFrame = field(default_factory=pd.DataFrame)
    text: str = ""


def indicator_of(column: str) -> str:
    """The catalogue indicator (its stem) of a column; any other column is its own.

    Examples
    --------
    >>> indicator_of("active_days_90d"), indicator_of("p_alive"), indicator_of("my_score")
    ('active_days', 'p_alive', 'my_score')
    """
    found = lookup(column)
    return found[0].stem if found is not None else column


def _row_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def permutation_importance(model, X: pd.DataFrame, y, *, seed: int = 0,
                           repeats: int = REPEATS) -> pd.DataFrame:
    """How much the log loss on ``X, y`` rises when each indicator's columns are shuffled.

    Parameters
    ----------
    model
        A fitted classifier with ``predict_proba`` (the LightGBM pipeline, or any other).
    X, y
        Held-out rows and their 0/1 labels.
    seed : int
        Seeds the shuffles.
    repeats : int
        Shuffles per indicator.

    Returns
    -------
    DataFrame
        One row per indicator, in column order: ``indicator``, ``columns``, ``importance``
        and ``importance_std`` (over the shuffles).
    """
    y = np.asarray(y, dtype=int)
    steps = getattr(model, "named_steps", {})
    if "encode" in steps:
        # The LightGBM pipeline: encode the categories once, not once per shuffle (encoding
        # costs several times the prediction of a small model). Columns keep their names.
        X, model = steps["encode"].transform(X), steps["model"]
    base = float(_row_losses(y, model.predict_proba(X)[:, 1]).mean())
    grouped: dict[str, list[str]] = {}
    for column in X.columns:
        grouped.setdefault(indicator_of(column), []).append(column)
    rng = np.random.default_rng(seed)
    rows = []
    for name, columns in grouped.items():
        rises = []
        for _ in range(repeats):
            order = rng.permutation(len(X))
            # The columns of one indicator move together, so a row keeps a coherent set.
            shuffled = X.assign(**{c: X[c].iloc[order].set_axis(X.index) for c in columns})
            rises.append(float(_row_losses(y, model.predict_proba(shuffled)[:, 1]).mean()) - base)
        rows.append({"indicator": name, "columns": ", ".join(columns),
                     "importance": float(np.mean(rises)), "importance_std": float(np.std(rises))})
    return pd.DataFrame(rows)


def select_inputs(X_fit: pd.DataFrame, y_fit, X_stop: pd.DataFrame, y_stop, *,
                  capacity: Capacity, params: dict | None = None, seed: int = 0,
                  categorical: list[str] | None = None):
    """The indicators whose shuffling raises the held-out log loss, and the model on them.

    Parameters
    ----------
    X_fit, y_fit
        Rows to grow the trees on (the training dates).
    X_stop, y_stop
        Held-out rows that judge each indicator (the validation dates).
    capacity : Capacity
        The tree size chosen on every column (:func:`models.capacity.choose_capacity`).
        Without candidates (the size was configured, or too few held-out rows) every
        column is kept.
    params : dict, optional
        Other ``LGBMClassifier`` parameters, as given to the capacity search.
    seed : int
        Seeds every fit and the shuffles.
    categorical : list of str, optional
        Categorical columns.

    Returns
    -------
    model : Pipeline
        Fitted on ``X_fit`` with the kept columns.
    capacity : Capacity
        Its tree size (chosen again on the kept columns when some were dropped).
    selection : Selection
    """
    params, categorical = dict(params or {}), list(categorical or [])
    y_fit, y_stop = np.asarray(y_fit, dtype=int), np.asarray(y_stop, dtype=int)
    columns = list(X_fit.columns)

    def fit(kept: list[str], size: Capacity):
        return fit_lightgbm(X_fit[kept], y_fit, params={**params, **size.params}, seed=seed,
                            categorical=[c for c in categorical if c in kept])

    full = fit(columns, capacity)
    if capacity.candidates.empty:
        return full, capacity, Selection(
            columns, text=f"every column kept: the tree size is {capacity.text}")
    table = permutation_importance(full, X_stop, y_stop, seed=seed)
    useless = table.loc[table["importance"] <= 0, "indicator"].tolist()
    if len(useless) == len(table):  # never every indicator: keep the most useful
        useless.remove(table.loc[table["importance"].idxmax(), "indicator"])
    if not useless:
        return full, capacity, Selection(
            columns, indicators=table.assign(decision="kept"),
            text=f"every indicator raised the validation log loss when shuffled ({len(table)})")
    drop = {c for c in columns if indicator_of(c) in useless}
    kept = [c for c in columns if c not in drop]
    smaller = choose_capacity(X_fit[kept], y_fit, X_stop[kept], y_stop, params=params,
                              seed=seed, categorical=[c for c in categorical if c in kept])
    selected = fit(kept, smaller)
    difference = (_row_losses(y_stop, selected.predict_proba(X_stop[kept])[:, 1])
                  - _row_losses(y_stop, full.predict_proba(X_stop)[:, 1]))
    worse = float(difference.mean())
    error = float(difference.std(ddof=1) / math.sqrt(len(difference)))
    if worse > TOLERANCE_SE * error:
        # Shuffling one at a time hid indicators that stand in for each other: keep all.
        return full, capacity, Selection(
            columns, indicators=table.assign(decision="kept"),
            text=(f"every column kept: without the {len(useless)} indicator(s) that looked "
                  f"useless the validation log loss rose by {worse:.5f}, more than "
                  f"{TOLERANCE_SE:g} standard error ({error:.5f})"))
    decided = table.assign(decision=np.where(table["indicator"].isin(useless), "dropped", "kept"))
    importance = dict(zip(table["indicator"], table["importance"], strict=True))
    dropped = {c: (f"left out: shuffling {indicator_of(c)} on the validation dates changed "
                   f"the log loss by {importance[indicator_of(c)]:+.5f} (no help)")
               for c in columns if c in drop}
    return selected, smaller, Selection(
        kept, dropped, decided,
        text=(f"{len(kept)} of {len(columns)} columns kept; {len(useless)} indicator(s) did "
              f"not help on the validation dates and were left out "
              f"({', '.join(useless)}); the model without them: validation log loss "
              f"{worse:+.5f} (standard error {error:.5f})"))


def fit_selected(X_fit: pd.DataFrame, y_fit, X_stop: pd.DataFrame, y_stop, *,
                 params: dict | None = None, seed: int = 0,
                 categorical: list[str] | None = None):
    """What ``train`` fits without a search: the tree size chosen on the held-out rows
    (:func:`models.capacity.choose_capacity`), then :func:`select_inputs`.

    Returns
    -------
    model, capacity, selection
        As :func:`select_inputs`.
    """
    capacity = choose_capacity(X_fit, y_fit, X_stop, y_stop, params=params, seed=seed,
                               categorical=categorical)
    return select_inputs(X_fit, y_fit, X_stop, y_stop, capacity=capacity, params=params,
                         seed=seed, categorical=categorical)
