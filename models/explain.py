"""Per-account explanations from LightGBM's own SHAP contributions (``pred_contrib``).

Each contribution is in log-odds of churn, and per row they add up (with the bias term) to
the model's raw score: a contribution of 0.12 means the indicator's value moved the
account's churn log-odds up by 0.12 compared with an average account. Texts say it in words
("CSAT, last 90 days is 38% — raises churn risk strongly") with a strength word from the
size of the contribution (:func:`strength_word`); the number stays in the dicts.
Contributions explain the uncalibrated model; the calibration is strictly increasing, so a
driver that raises the raw score also raises the calibrated probability.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.catalogue import (
    NO_DATA,
    describe_indicator,
    format_indicator_numbers,
    format_indicator_value,
)
from features.values import json_safe

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


# How strongly a driver moved the risk, by |contribution| in log-odds (the SHAP scale):
# below 0.25 the churn odds change by less than about 28% ("slightly"); from ln 2 = 0.69 up
# the odds at least double or halve ("strongly"); in between no qualifier.
SLIGHT_BELOW = 0.25
STRONG_FROM = math.log(2)


def strength_word(contribution: float) -> str:
    """"slightly", "" or "strongly" for the size of a contribution in log-odds.

    Thresholds: ``|c| < SLIGHT_BELOW`` (0.25) is slight, ``|c| >= STRONG_FROM`` (ln 2, the
    churn odds doubled or halved) is strong.

    Examples
    --------
    >>> strength_word(0.1), strength_word(-0.4), strength_word(0.75)
    ('slightly', '', 'strongly')
    """
    size = abs(float(contribution))
    if size < SLIGHT_BELOW:
        return "slightly"
    return "strongly" if size >= STRONG_FROM else ""


def driver_text(indicator: str, value, contribution: float) -> str:
    """One driver in words a customer-success manager reads: the value and what it did.

    The indicator's label and unit come from :func:`features.catalogue.describe_indicator`
    (columns outside the catalogue, as in flat-table mode, keep their own name); the value is
    written by :func:`features.catalogue.format_indicator_value`; the strength word by
    :func:`strength_word`.

    Examples
    --------
    >>> driver_text("csat_90d", 38.0, 0.9)
    'CSAT, last 90 days is 38% — raises churn risk strongly'
    >>> driver_text("sessions_30d", 3.0, 0.4)
    'Sessions, last 30 days is 3 — raises churn risk'
    >>> driver_text("segment", "SMB", 0.1)
    'Segment is SMB — raises churn risk slightly'
    >>> driver_text("tenure_days", 900, -0.5)
    'Tenure is 900 days — lowers churn risk'
    >>> driver_text("csat_90d", None, 0.3)
    'CSAT, last 90 days: no data — raises churn risk'
    """
    label = describe_indicator(indicator, strict=False).label
    shown = format_indicator_value(indicator, value)
    return _sentence(label, shown, _effect(contribution > 0, strength_word(contribution)))


def _effect(raises: bool, strength: str) -> str:
    return " ".join(w for w in ("raises" if raises else "lowers", "churn risk", strength) if w)


_DASH = " — "  # between what the value is and what it did


def _sentence(label: str, shown: str, effect: str) -> str:
    return _sentence_start(label, shown) + _DASH + effect


def _sentence_start(label: str, shown: str) -> str:
    if shown == NO_DATA:
        # "is no data" reads badly; the missing value itself is what moved the risk.
        return f"{label}: {NO_DATA}"
    return f"{label} is {shown}"


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
        Per row of ``X``: dicts ``{"indicator", "label", "value", "contribution", "text"}``
        sorted by absolute contribution, largest first. ``label`` is the indicator in words,
        ``value`` the raw input value (None when missing), ``contribution`` the SHAP value in
        log-odds and ``text`` the sentence of :func:`driver_text`.

    Examples
    --------
    >>> from models.estimators import fit_lightgbm
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"csat_90d": rng.uniform(0, 100, 400), "noise": rng.normal(size=400)})
    >>> y = (X["csat_90d"] < 40).astype(int)
    >>> model = fit_lightgbm(X, y, params={"n_estimators": 30})
    >>> first = top_drivers(model, X.head(1), top=1)[0][0]
    >>> first["indicator"], first["label"], first["text"].startswith("CSAT, last 90 days is ")
    ('csat_90d', 'CSAT, last 90 days', True)
    """
    contrib = contributions(model, X)
    features = list(contrib.columns[:-1])
    return drivers_from_contributions(contrib[features].to_numpy(), features, X, top=top)


def drivers_from_contributions(values: np.ndarray, features: list[str], raw, *,
                               top: int = DEFAULT_TOP) -> list[list[dict]]:
    """The drivers of :func:`top_drivers` from an already computed contribution matrix.

    Parameters
    ----------
    values : ndarray of shape (rows, features)
        SHAP contributions in log-odds, without the bias column.
    features : list of str
        The feature of each column of ``values``.
    raw : DataFrame or dict of arrays
        The raw feature values by feature name (``raw[name]``, one value per row).
    top : int
        Drivers per account.

    Returns
    -------
    list of list of dict
        As :func:`top_drivers`. Only the ``top`` largest per row are formatted: the ranking is
        ``k`` passes of ``argmax`` over the whole matrix (:func:`_top_columns`).

    Examples
    --------
    >>> raw = pd.DataFrame({"csat_90d": [38.0, 90.0], "tickets_90d": [2.0, np.nan]})
    >>> contrib = np.array([[0.9, 0.1], [-0.3, 0.0]])
    >>> drivers = drivers_from_contributions(contrib, list(raw.columns), raw, top=3)
    >>> [d["text"] for d in drivers[0]]
    ['CSAT, last 90 days is 38% — raises churn risk strongly', 'Support tickets, last 90 days is 2 — raises churn risk slightly']
    >>> [d["indicator"] for d in drivers[1]]
    ['csat_90d']
    """
    values = np.asarray(values, dtype="float64")
    k = min(top, len(features))
    if k == 0 or len(values) == 0:
        return [[] for _ in range(len(values))]
    order = _top_columns(values, k)
    chosen = np.take_along_axis(values, order, axis=1)
    keep = np.abs(chosen) >= MIN_CONTRIBUTION
    # The kept cells in row order, then per feature: its values read and written in words
    # once per distinct value (a batch explains the same few dozen features for every
    # account), so the per-driver work left is putting the pieces together.
    rows, slots = np.nonzero(keep)
    columns = order[rows, slots]
    contribution = chosen[rows, slots]
    value = np.empty(len(rows), dtype=object)
    start = np.empty(len(rows), dtype=object)  # the sentence up to its effect
    label = np.empty(len(rows), dtype=object)
    name = np.empty(len(rows), dtype=object)
    for c in np.unique(columns).tolist():
        cells = columns == c
        value[cells], shown = _values_in_words(features[c], np.asarray(raw[features[c]])[rows[cells]])
        label[cells] = label_text = describe_indicator(features[c], strict=False).label
        name[cells] = features[c]
        # Each distinct value's sentence start written once; the effect is added column-wise.
        starts = {words: _sentence_start(label_text, words) for words in set(shown.tolist())}
        start[cells] = np.array([starts[words] for words in shown.tolist()] + [None], dtype=object)[:-1]
    size = np.abs(contribution)
    strength = np.where(size < SLIGHT_BELOW, 0, np.where(size >= STRONG_FROM, 2, 1))
    effect = np.array([_DASH + _effect(up, word) for up in (False, True)
                       for word in ("slightly", "", "strongly")], dtype=object)
    text = start + effect[3 * (contribution > 0) + strength]
    ends = np.cumsum(np.bincount(rows, minlength=len(values))).tolist()
    # Hundreds of thousands of small dicts, none of them in a reference cycle: without the
    # pause the cyclic collector would walk every one built so far, again and again.
    paused = gc.isenabled()
    gc.disable()
    try:
        items = [
            {"indicator": n, "label": lab, "value": v, "contribution": x, "text": t}
            for n, lab, v, x, t in zip(name.tolist(), label.tolist(), value.tolist(),
                                       contribution.tolist(), text.tolist())
        ]
        return [items[start:end] for start, end in zip([0] + ends[:-1], ends)]
    finally:
        if paused:
            gc.enable()


def _top_columns(values: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` largest ``|values|``, largest first, ties in column
    order: what a stable ``argsort`` of ``-|values|`` gives, without sorting every column.

    ``k`` passes of ``argmax``, each blanking the column it found: ``argmax`` returns the
    first of equal maxima, which is the stable sort's tie order. With the 3 drivers of a few
    dozen features this is a few times quicker than a sort or an ``argpartition`` (which then
    needs its ``k`` sorted and its ties at the ``k``-th place settled again).

    Examples
    --------
    >>> _top_columns(np.array([[0.1, -0.5, 0.3, 0.5], [0.4, 0.2, -0.2, 0.2]]), 2).tolist()
    [[1, 3], [0, 1]]
    """
    size = np.abs(values)  # a copy: the passes below blank the cells they took
    size[np.isnan(size)] = -1.0  # last, as the sort puts them
    rows = np.arange(len(values))
    order = np.empty((len(values), k), dtype=np.intp)
    for slot in range(k):
        order[:, slot] = taken = size.argmax(axis=1)
        size[rows, taken] = -2.0  # below anything left, so never taken again
    return order


def _values_in_words(feature: str, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(plain value, value in words) of each entry, each distinct number formatted once."""
    if column.dtype.kind in "fiu":
        # Python numbers as _plain gives them: NaN None, infinity kept, whole numbers int.
        plain = column.astype(object)
        if column.dtype.kind == "f":
            plain[np.isnan(column)] = None
        # Distinct bit patterns, not values: -0.0 equals 0.0 but is written "-0".
        keys = column.view(f"i{column.itemsize}") if column.dtype.kind == "f" else column
        _, first, at = np.unique(keys, return_index=True, return_inverse=True)
        distinct = column[first]
        words = np.array(format_indicator_numbers(feature, distinct) + [""], dtype=object)[:-1]
        return plain, words[at.reshape(-1)]
    plain = [_plain(v) for v in column.tolist()]
    words = [format_indicator_value(feature, v) for v in plain]
    return np.array(plain + [None], dtype=object)[:-1], np.array(words + [""], dtype=object)[:-1]


# The scalars a driver's value keeps as numbers, flags or text; anything else (a date, a
# decimal) is shown as its text.
_SCALARS = (bool, int, float, str, np.bool_, np.integer, np.floating)


def _plain(value):
    """A driver's raw value as plain Python: :func:`features.values.json_safe` for numbers,
    flags, text and missing values (None), the text of any other object.

    Infinity stays a float: a table can hold it, and the driver text says so rather than
    "no data".

    Examples
    --------
    >>> _plain(np.float64("nan")), _plain(np.int64(3)), _plain(np.bool_(True)), _plain("SMB")
    (None, 3, True, 'SMB')
    >>> _plain(float("inf")), _plain(pd.NA), _plain(pd.Timestamp("2026-06-01"))
    (inf, None, '2026-06-01 00:00:00')
    """
    if value is None or value is pd.NA:
        return None
    if not isinstance(value, _SCALARS):
        return str(value)
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        return float(value)
    return json_safe(value)


def mean_absolute_contribution(model: Pipeline, X: pd.DataFrame) -> pd.Series:
    """Global importance: mean |SHAP contribution| per feature, largest first."""
    contrib = contributions(model, X).drop(columns="bias")
    return contrib.abs().mean().sort_values(ascending=False).rename("mean |SHAP| (log-odds)")
