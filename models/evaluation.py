"""Evaluation of churn predictions: ranking, calibration, the riskiest 10%, churn per band.

Metric functions are small and pure, take the true 0/1 labels first and the predicted churn
probability second, and return a plain float. Names carry direction: :func:`roc_auc`,
:func:`pr_auc`, :func:`lift_at_top` and :func:`recall_at_top` are higher-is-better;
:func:`brier_loss` and :func:`binary_log_loss` are lower-is-better. The names differ from
scikit-learn's (``roc_auc_score``, ``average_precision_score``, ``brier_score_loss``,
``log_loss``) on purpose, because the edge cases differ: a metric that is undefined for the
data (a single class, no churner) is NaN here, never an error, a warning or 0, and
:func:`evaluate` says why under ``"undefined"``.

The figures of a run are drawn by :mod:`models.plots`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The models a training run compares, as a reader names them (plots, model card, demo).
MODEL_NAMES = {
    "lightgbm": "LightGBM (calibrated)",
    "lightgbm_uncalibrated": "LightGBM before calibration",
    "logistic": "logistic regression",
    "health_score": "health scorecard (100 − score)",
    "health_score_suggested": "suggested scorecard (100 − score)",
}


def model_name(key: str) -> str:
    """A run's model key in words; an unknown key as it is.

    Examples
    --------
    >>> model_name("lightgbm_uncalibrated")
    'LightGBM before calibration'
    >>> model_name("my_model")
    'my_model'
    """
    return MODEL_NAMES.get(str(key), str(key))

TOP_SHARE = 0.10
LOG_LOSS_EPS = 1e-15
HEADLINE_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top10", "recall_top10")


def _validated(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(
            f"y_true and proba must be 1-d and of the same length, got {y.shape} and {p.shape}"
        )
    if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold only 0 and 1 (drop unlabelled rows first)")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        bad = np.flatnonzero(np.isnan(p) | (p < 0) | (p > 1))[:5]
        raise ValueError(
            f"proba must lie in [0, 1] without NaN; rows {bad.tolist()} hold {p[bad].tolist()}"
        )
    return y, p


def roc_auc(y_true, proba) -> float:
    """Area under the ROC curve: the chance a churner is ranked above a non-churner.

    Higher is better (0.5 is a random ranking). Computed from average ranks (the
    Mann-Whitney statistic), ties counting one half: the same figure as scikit-learn's
    ``roc_auc_score``. Labels of a single class give NaN, without a warning
    (:func:`evaluate` records the reason).

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 0], [0.1, 0.4])
    nan
    """
    y, p = _validated(y_true, proba)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y_true, proba) -> float:
    """Area under the precision-recall curve as average precision (step-wise, no interpolation).

    Higher is better (the churn rate is a random ranking's figure). Sum over distinct
    thresholds of (recall gain) × precision: the same figure as scikit-learn's
    ``average_precision_score``, except that labels without a churner give NaN where
    scikit-learn warns and returns 0 (:func:`evaluate` records the reason).

    Examples
    --------
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    >>> pr_auc([0, 0], [0.1, 0.4])
    nan
    """
    y, p = _validated(y_true, proba)
    n_pos = y.sum()
    if n_pos == 0:
        return math.nan
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    # Only the last row of a run of equal scores is a threshold: ties enter together.
    last_of_tie = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last_of_tie]
    predicted = (np.arange(1, len(y) + 1))[last_of_tie]
    precision = tp / predicted
    recall = tp / n_pos
    gains = np.diff(np.r_[0.0, recall])
    return float(np.sum(gains * precision))


def brier_loss(y_true, proba) -> float:
    """Mean squared difference between probability and outcome (lower is better).

    The figure of scikit-learn's ``brier_score_loss``; defined for labels of one class too.
    Logged and shown as ``brier``.

    Examples
    --------
    >>> round(brier_loss([0, 1], [0.2, 0.6]), 6)
    0.1
    """
    y, p = _validated(y_true, proba)
    return float(np.mean((p - y) ** 2))


def binary_log_loss(y_true, proba) -> float:
    """Mean negative log-likelihood of 0/1 outcomes (lower is better).

    Probabilities are clipped to [1e-15, 1 − 1e-15], so a confidently wrong prediction
    costs a large but finite amount. Unlike scikit-learn's ``log_loss``, which raises on
    labels of one class unless given the list of labels, it is defined for them. Logged and
    shown as ``log_loss``.

    Examples
    --------
    >>> round(binary_log_loss([0, 1], [0.2, 0.6]), 4)
    0.367
    """
    y, p = _validated(y_true, proba)
    p = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _top(p: np.ndarray, share: float) -> np.ndarray:
    """Indices of the riskiest ``ceil(share × n)`` rows; ties broken by row order (stable)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    k = max(1, math.ceil(share * len(p)))
    return np.argsort(-p, kind="mergesort")[:k]


def recall_at_top(y_true, proba, *, share: float = TOP_SHARE) -> float:
    """Share of all churners found among the riskiest ``share`` of accounts. NaN without churners.

    Examples
    --------
    >>> recall_at_top([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0.9] + [0.1] * 9, share=0.1)
    0.5
    """
    y, p = _validated(y_true, proba)
    if y.sum() == 0:
        return math.nan
    return float(y[_top(p, share)].sum() / y.sum())


def lift_at_top(y_true, proba, *, share: float = TOP_SHARE) -> float:
    """Churn rate among the riskiest ``share`` of accounts divided by the overall churn rate.

    1 means no better than picking at random. NaN without churners.

    Examples
    --------
    >>> lift_at_top([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0.9] + [0.1] * 9, share=0.1)
    5.0
    """
    y, p = _validated(y_true, proba)
    if y.sum() == 0:
        return math.nan
    return float(y[_top(p, share)].mean() / y.mean())


def churn_rate_by_band(y_true, bands, *, order: list[str] | None = None) -> pd.DataFrame:
    """Accounts, churners and churn rate per band (health band or risk band).

    Parameters
    ----------
    y_true : array-like of 0/1
    bands : array-like of labels, aligned with ``y_true``
    order : list of str, optional
        Band order for the table (e.g. red, yellow, green); bands without accounts get a row
        with ``accounts = 0`` and a NaN rate (undefined, not 0).

    Examples
    --------
    >>> table = churn_rate_by_band([1, 0, 0, 1, 0], ["red", "red", "green", "red", "green"],
    ...                            order=["red", "yellow", "green"])
    >>> table["accounts"].tolist(), table["churn_rate"].round(3).tolist()
    ([3, 0, 2], [0.667, nan, 0.0])
    """
    y = np.asarray(y_true, dtype=float)
    frame = pd.DataFrame({"band": pd.Series(list(bands), dtype=object), "y": y})
    grouped = frame.groupby("band", sort=False)["y"].agg(["size", "sum"])
    labels = list(order) if order is not None else list(grouped.index)
    extra = [b for b in grouped.index if b not in labels]
    table = grouped.reindex(labels + extra)
    accounts = table["size"].fillna(0).astype(int)
    churned = table["sum"].fillna(0).astype(int)
    rate = (churned / accounts.where(accounts > 0)).astype(float)
    out = pd.DataFrame({"accounts": accounts, "churned": churned, "churn_rate": rate})
    out.index.name = "band"
    return out


def band_contrast(table: pd.DataFrame, riskiest: str, safest: str) -> dict:
    """Compare churn in the riskiest band against the safest, in numbers and in words.

    Examples
    --------
    >>> table = churn_rate_by_band([1, 1, 0, 0, 0, 1, 0, 0], list("rrrrgggg"), order=["r", "g"])
    >>> band_contrast(table, "r", "g")["text"]
    'r accounts churned at 50.0% vs 25.0% for g: 2.0x the rate'
    >>> band_contrast(churn_rate_by_band([1, 0, 0, 0], list("rrgg")), "r", "g")["text"]
    'r accounts churned at 50.0% vs 0.0% for g: no g account churned'
    """
    risky = table["churn_rate"].get(riskiest, math.nan)
    safe = table["churn_rate"].get(safest, math.nan)
    if math.isnan(risky) or math.isnan(safe):
        empty = riskiest if math.isnan(risky) else safest
        return {"ratio": math.nan, "riskier": None,
                "text": f"cannot compare: no labelled account in band {empty!r}"}
    ratio = risky / safe if safe > 0 else math.inf
    if safe == 0:
        times = (f"no {safest} account churned" if risky > 0
                 else "neither band had a churner")
    else:
        times = f"{ratio:.1f}x the rate"
    return {
        "ratio": ratio if risky > 0 or safe > 0 else math.nan,
        "riskier": bool(risky > safe),
        "text": f"{riskiest} accounts churned at {risky:.1%} vs {safe:.1%} for {safest}: {times}",
    }


def evaluate(y_true, proba, *, bands=None, band_order: list[str] | None = None,
             share: float = TOP_SHARE) -> dict:
    """Every headline metric of one model on one set of labelled rows.

    Parameters
    ----------
    y_true : array-like of 0/1
    proba : array-like of churn probabilities in [0, 1]
    bands : array-like of band labels, optional
        When given, ``"by_band"`` holds :func:`churn_rate_by_band`.
    band_order : list of str, optional
    share : float
        The riskiest share for lift and recall (10% by default).

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc``, ``brier``, ``log_loss``, ``lift_top10``, ``recall_top10``,
        ``base_rate``, ``rows``, ``churners`` (floats; NaN when undefined), ``undefined``
        (metric -> reason) and, with bands, ``by_band`` (a DataFrame).

    Examples
    --------
    >>> result = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> result["roc_auc"], result["undefined"]
    (0.75, {})
    >>> evaluate([0, 0], [0.1, 0.2])["undefined"]["roc_auc"]
    'only one class in the labels (no churner)'
    """
    y, p = _validated(y_true, proba)
    result = {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "brier": brier_loss(y, p) if len(y) else math.nan,
        "log_loss": binary_log_loss(y, p) if len(y) else math.nan,
        "lift_top10": lift_at_top(y, p, share=share) if len(y) else math.nan,
        "recall_top10": recall_at_top(y, p, share=share) if len(y) else math.nan,
        "base_rate": float(y.mean()) if len(y) else math.nan,
        "rows": float(len(y)),
        "churners": float(y.sum()),
    }
    undefined = {}
    if len(y) == 0:
        undefined = {m: "no labelled rows" for m in HEADLINE_METRICS}
    elif y.sum() == 0 or y.sum() == len(y):
        which = "no churner" if y.sum() == 0 else "no retained account"
        undefined["roc_auc"] = f"only one class in the labels ({which})"
        if y.sum() == 0:
            for metric in ("pr_auc", "lift_top10", "recall_top10"):
                undefined[metric] = "no churner in the labels"
    result["undefined"] = undefined
    if bands is not None:
        result["by_band"] = churn_rate_by_band(y, bands, order=band_order)
    return result


def comparison_table(results: dict[str, dict]) -> pd.DataFrame:
    """One row per model, one column per headline metric, from :func:`evaluate` results.

    Examples
    --------
    >>> table = comparison_table({"a": evaluate([0, 1], [0.2, 0.7])})
    >>> list(table.columns)[:2], float(table.loc["a", "roc_auc"])
    (['roc_auc', 'pr_auc'], 1.0)
    """
    columns = list(HEADLINE_METRICS) + ["base_rate", "rows"]
    table = pd.DataFrame({name: {c: r[c] for c in columns} for name, r in results.items()}).T
    table.index.name = "model"
    return table[columns]


def reliability_table(y_true, proba, *, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against observed churn rate per quantile bin.

    Examples
    --------
    >>> table = reliability_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    >>> table[["predicted", "observed"]].round(2).values.tolist()
    [[0.15, 0.0], [0.8, 1.0]]
    """
    y, p = _validated(y_true, proba)
    frame = pd.DataFrame({"p": p, "y": y})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    table = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"),
                                     accounts=("y", "size"))
    return table.reset_index(drop=True)
