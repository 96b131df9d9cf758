"""Evaluation of churn predictions: ranking, calibration, the riskiest 10%, churn per band.

Metric functions are small and pure, take the true 0/1 labels first and the predicted churn
probability second, and return a plain float. Names carry direction: ``*_score`` higher is
better, ``*_loss``/``brier_score`` lower is better. A metric that is undefined for the data
(a single class, no positives) is NaN, and :func:`evaluate` says why under ``"undefined"``.

The plots use matplotlib's Agg backend (no display needed) and return ``Figure`` objects for
the trainer to log.
"""

from __future__ import annotations

import math

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

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


def roc_auc_score(y_true, proba) -> float:
    """Area under the ROC curve: the chance a churner is ranked above a non-churner.

    Computed from average ranks (the Mann-Whitney statistic), ties counting one half.
    NaN with a single class.

    Examples
    --------
    >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, p = _validated(y_true, proba)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc_score(y_true, proba) -> float:
    """Area under the precision-recall curve as average precision (step-wise, no interpolation).

    Sum over distinct thresholds of (recall gain) × precision. NaN without a churner.

    Examples
    --------
    >>> round(pr_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
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


def brier_score(y_true, proba) -> float:
    """Mean squared difference between probability and outcome (lower is better).

    Examples
    --------
    >>> round(brier_score([0, 1], [0.2, 0.6]), 6)
    0.1
    """
    y, p = _validated(y_true, proba)
    return float(np.mean((p - y) ** 2))


def log_loss(y_true, proba) -> float:
    """Mean negative log-likelihood of the outcomes; probabilities clipped to [1e-15, 1 − 1e-15].

    Examples
    --------
    >>> round(log_loss([0, 1], [0.2, 0.6]), 4)
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
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": pr_auc_score(y, p),
        "brier": brier_score(y, p) if len(y) else math.nan,
        "log_loss": log_loss(y, p) if len(y) else math.nan,
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


# --- plots ---------------------------------------------------------------------------


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp = np.r_[0, np.cumsum(y_sorted)[last]]
    fp = np.r_[0, np.cumsum(1 - y_sorted)[last]]
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1)


def plot_roc(y_true, probas: dict[str, np.ndarray]):
    """ROC curves of several models on the same rows, AUC in the legend."""
    y = np.asarray(y_true, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, proba in probas.items():
        fpr, tpr = _roc_points(y, np.asarray(proba, dtype=float))
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, proba):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)",
           title="ROC, out-of-sample test")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_pr(y_true, probas: dict[str, np.ndarray]):
    """Precision-recall curves of several models, base rate as the no-skill line."""
    y = np.asarray(y_true, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, proba in probas.items():
        p = np.asarray(proba, dtype=float)
        order = np.argsort(-p, kind="mergesort")
        tp = np.cumsum(y[order])
        precision = tp / np.arange(1, len(y) + 1)
        recall = tp / max(y.sum(), 1)
        ax.step(recall, precision, where="post",
                label=f"{name} (AP {pr_auc_score(y, p):.3f})")
    ax.axhline(y.mean(), color="grey", linestyle=":", label=f"base rate {y.mean():.1%}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, out-of-sample test",
           ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


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


def plot_reliability(y_true, probas: dict[str, np.ndarray], *, bins: int = 10):
    """Reliability curve: "30% churn risk" should mean about 30% churned."""
    fig, ax = plt.subplots(figsize=(5, 5))
    top = 0.0
    for name, proba in probas.items():
        table = reliability_table(y_true, proba, bins=bins)
        ax.plot(table["predicted"], table["observed"], marker="o", label=name)
        top = max(top, table["predicted"].max(), table["observed"].max())
    top = min(1.0, top * 1.1 + 0.01)
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfectly calibrated")
    ax.set(xlabel="mean predicted churn probability", ylabel="observed churn rate",
           title="Reliability (deciles of prediction)", xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_importance(importance: pd.Series, *, top: int = 20):
    """Horizontal bars of the most important features (e.g. mean |SHAP contribution|)."""
    values = importance.sort_values(ascending=False).head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(values) + 1.2))
    ax.barh(list(values.index), values.to_numpy())
    ax.set(xlabel=importance.name or "importance", title=f"Top {len(values)} features")
    fig.tight_layout()
    return fig


def plot_churn_by_band(tables: dict[str, pd.DataFrame], *, colors: dict[str, str] | None = None):
    """Observed churn rate per band, one panel per banding (health band, risk band)."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.5 * len(tables), 4), squeeze=False)
    for ax, (title, table) in zip(axes[0], tables.items()):
        labels = [str(b) for b in table.index]
        bar_colors = [(colors or {}).get(b, "tab:blue") for b in labels]
        ax.bar(labels, table["churn_rate"].fillna(0).to_numpy(), color=bar_colors)
        for i, (rate, n) in enumerate(zip(table["churn_rate"], table["accounts"])):
            text = "no accounts" if n == 0 else f"{rate:.1%}\nn={n}"
            ax.annotate(text, (i, 0 if np.isnan(rate) else rate), ha="center", va="bottom",
                        fontsize=8)
        top = np.nanmax(table["churn_rate"].to_numpy(dtype=float), initial=0.0)
        # Head room for the labels above the bars; rates as percentages.
        ax.set(title=title, ylabel="observed churn rate", ylim=(0, max(top, 0.01) * 1.25))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    fig.tight_layout()
    return fig
