"""Figures of a training run: ROC, precision-recall, reliability, importance, churn by band.

Each function returns a :class:`matplotlib.figure.Figure` for the run logger to save
(``mlflow.log_figure``). The figures are built with matplotlib's object interface, not
``pyplot``: no backend is chosen, no display is needed and no global figure list grows, so
importing or calling this module changes nothing for the process that does (a notebook, a
report, a headless server).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from models.evaluation import model_name, pr_auc, reliability_table, roc_auc


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp = np.r_[0, np.cumsum(y_sorted)[last]]
    fp = np.r_[0, np.cumsum(1 - y_sorted)[last]]
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1)


def plot_roc(y_true, probas: dict[str, np.ndarray]) -> Figure:
    """ROC curves of several models on the same rows, AUC in the legend.

    Examples
    --------
    >>> figure = plot_roc([0, 1, 0, 1], {"model": [0.1, 0.8, 0.3, 0.6]})
    >>> len(figure.axes[0].lines)  # the model's curve and the random line
    2
    """
    y = np.asarray(y_true, dtype=float)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for name, proba in probas.items():
        fpr, tpr = _roc_points(y, np.asarray(proba, dtype=float))
        ax.plot(fpr, tpr, label=f"{model_name(name)} (AUC {roc_auc(y, proba):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)",
           title="ROC, out-of-sample test")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_pr(y_true, probas: dict[str, np.ndarray]) -> Figure:
    """Precision-recall curves of several models, base rate as the no-skill line."""
    y = np.asarray(y_true, dtype=float)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for name, proba in probas.items():
        p = np.asarray(proba, dtype=float)
        order = np.argsort(-p, kind="mergesort")
        tp = np.cumsum(y[order])
        precision = tp / np.arange(1, len(y) + 1)
        recall = tp / max(y.sum(), 1)
        ax.step(recall, precision, where="post",
                label=f"{model_name(name)} (AP {pr_auc(y, p):.3f})")
    ax.axhline(y.mean(), color="grey", linestyle=":", label=f"base rate {y.mean():.1%}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, out-of-sample test",
           ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_reliability(y_true, probas: dict[str, np.ndarray], *, bins: int = 10) -> Figure:
    """Reliability curve: "30% churn risk" should mean about 30% churned."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    top = 0.0
    for name, proba in probas.items():
        table = reliability_table(y_true, proba, bins=bins)
        ax.plot(table["predicted"], table["observed"], marker="o", label=model_name(name))
        top = max(top, table["predicted"].max(), table["observed"].max())
    top = min(1.0, top * 1.1 + 0.01)
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfectly calibrated")
    ax.set(xlabel="mean predicted churn probability", ylabel="observed churn rate",
           title="Reliability (deciles of prediction)", xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_importance(importance: pd.Series, *, top: int = 20) -> Figure:
    """Horizontal bars of the most important features (e.g. mean |SHAP contribution|)."""
    values = importance.sort_values(ascending=False).head(top)[::-1]
    fig = Figure(figsize=(6, 0.3 * len(values) + 1.2))
    ax = fig.subplots()
    ax.barh(list(values.index), values.to_numpy())
    ax.set(xlabel=importance.name or "importance", title=f"Top {len(values)} features")
    fig.tight_layout()
    return fig


def plot_churn_by_band(tables: dict[str, pd.DataFrame], *,
                       colors: dict[str, str] | None = None) -> Figure:
    """Observed churn rate per band, one panel per banding (health band, risk band)."""
    fig = Figure(figsize=(4.5 * len(tables), 4))
    axes = fig.subplots(1, len(tables), squeeze=False)
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
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    fig.tight_layout()
    return fig
