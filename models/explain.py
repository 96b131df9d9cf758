"""Per-account explanations from LightGBM's own SHAP contributions (``pred_contrib``).

Each contribution is in log-odds of churn, and per row they add up (with the bias term) to
the model's raw score, so "raised risk by 0.12" means the indicator's value moved the
account's churn log-odds up by 0.12 compared with an average account. Contributions explain
the uncalibrated model; the calibration is strictly increasing, so a driver that raises the
raw score also raises the calibrated probability.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

DEFAULT_TOP = 3
MIN_CONTRIBUTION = 1e-6


def contributions(model: Pipeline, X: pd.DataFrame) -> pd.DataFrame:
    """SHAP contributions (log-odds) per row and feature, plus the ``bias`` column.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline from :func:`models.estimators.fit_lightgbm` (encoder, LightGBM).
    X : DataFrame
        Raw feature columns (extra columns are ignored).

    Returns
    -------
    DataFrame
        Indexed like ``X``; each row sums to the model's raw log-odds.

    Examples
    --------
    >>> from models.estimators import fit_lightgbm
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=300), "z": rng.normal(size=300)})
    >>> model = fit_lightgbm(X, (X["x"] > 0).astype(int), params={"n_estimators": 10})
    >>> contrib = contributions(model, X)
    >>> list(contrib.columns)
    ['x', 'z', 'bias']
    >>> raw = model.named_steps["model"].predict(model[:-1].transform(X), raw_score=True)
    >>> bool(np.allclose(contrib.sum(axis=1), raw))
    True
    """
    encoded = model[:-1].transform(X)
    values = model.named_steps["model"].predict(encoded, pred_contrib=True)
    return pd.DataFrame(values, index=X.index, columns=list(encoded.columns) + ["bias"])


def format_value(value) -> str:
    """An indicator value as a short text: 3 significant digits, "missing" for no data.

    Examples
    --------
    >>> format_value(38.0), format_value(0.123456), format_value(None), format_value("gold")
    ('38', '0.123', 'missing', 'gold')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "missing"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f"{float(value):.3g}"
    return str(value)


def driver_text(indicator: str, value, contribution: float) -> str:
    """One driver in words.

    Examples
    --------
    >>> driver_text("csat_90d", 38.0, 0.1234)
    'csat_90d = 38 raised risk by 0.12'
    >>> driver_text("tenure_days", 900, -0.5)
    'tenure_days = 900 lowered risk by 0.50'
    """
    direction = "raised" if contribution > 0 else "lowered"
    return f"{indicator} = {format_value(value)} {direction} risk by {abs(contribution):.2f}"


def top_drivers(model: Pipeline, X: pd.DataFrame, *, top: int = DEFAULT_TOP) -> list[list[dict]]:
    """The ``top`` indicators that moved each account's churn risk the most, up or down.

    Parameters
    ----------
    model : Pipeline
        A fitted LightGBM pipeline.
    X : DataFrame
        Raw feature columns.
    top : int
        Drivers per account (fewer when fewer indicators moved the risk at all).

    Returns
    -------
    list of list of dict
        Per row of ``X``: dicts ``{"indicator", "value", "contribution", "text"}`` sorted by
        absolute contribution, largest first. ``value`` is the raw input value (None when
        missing), ``contribution`` the SHAP value in log-odds.

    Examples
    --------
    >>> from models.estimators import fit_lightgbm
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"csat_90d": rng.uniform(0, 100, 400), "noise": rng.normal(size=400)})
    >>> y = (X["csat_90d"] < 40).astype(int)
    >>> model = fit_lightgbm(X, y, params={"n_estimators": 30})
    >>> first = top_drivers(model, X.head(1), top=1)[0][0]
    >>> first["indicator"], first["text"].startswith("csat_90d = ")
    ('csat_90d', True)
    """
    contrib = contributions(model, X)
    features = list(contrib.columns[:-1])
    values = contrib[features].to_numpy()
    magnitude = np.abs(values)
    k = min(top, len(features))
    # argsort of -|c| with a stable sort: ties keep the column order, so output is repeatable.
    order = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    raw = X[features]
    drivers = []
    for row, columns in enumerate(order):
        items = []
        for column in columns:
            contribution = float(values[row, column])
            if abs(contribution) < MIN_CONTRIBUTION:
                continue
            name = features[column]
            value = _plain(raw.iat[row, column])
            items.append({
                "indicator": name,
                "value": value,
                "contribution": contribution,
                "text": driver_text(name, value, contribution),
            })
        drivers.append(items)
    return drivers


def _plain(value):
    """A JSON-friendly Python scalar; None for missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value if isinstance(value, (int, bool, str)) else str(value)


def mean_absolute_contribution(model: Pipeline, X: pd.DataFrame) -> pd.Series:
    """Global importance: mean |SHAP contribution| per feature, largest first."""
    contrib = contributions(model, X).drop(columns="bias")
    return contrib.abs().mean().sort_values(ascending=False).rename("mean |SHAP| (log-odds)")
