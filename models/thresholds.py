"""Measure thresholds suggested from churn: where the observed churn rate actually changes.

A measure scores 0 at its ``poor`` value and 100 at its ``good`` value. Set by hand, those
values often sit where nothing happens: churn is the same on both sides of ``poor``. Here
each indicator's churn curve is fitted as a monotone (isotonic) step function in the
measure's own direction, on values clipped to their 5th-95th percentiles so that each end
of the curve rests on at least 5% of the rows. Then:

* ``poor`` is the last value, going from bad to good, where the fitted churn rate is still
  within :data:`POOR_LEVEL` of the worst (beyond it churn is about as bad as it gets);
* ``good`` is the first value where it is within :data:`GOOD_LEVEL` of the best;

both rounded outwards to a step a person would write (1, 2, 2.5 or 5 times a power of ten,
whole numbers for indicators that only take whole numbers). The direction never changes: a curve
that does not fall in the measure's direction keeps its thresholds, with a note.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from features.scorecard import Measure, Scorecard

# Fractions of the way from the best fitted churn rate (0) to the worst (1).
POOR_LEVEL = 0.9
GOOD_LEVEL = 0.1
CLIP_QUANTILES = (0.05, 0.95)
# Fewer rows or churners with data than this: too little to place a threshold.
MIN_ROWS = 100
MIN_CHURNERS = 10
# A fitted curve whose worst and best churn rates differ by less than this share of the
# churn rate is flat: the thresholds stay.
MIN_SPREAD = 0.25
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_step(span: float, *, parts: int = 20, whole: bool = False) -> float:
    """A round step for values spread over ``span``: 1, 2, 2.5 or 5 times a power of ten.

    Examples
    --------
    >>> nice_step(100), nice_step(3.3), nice_step(0.6), nice_step(3.3, whole=True)
    (5.0, 0.2, 0.05, 1.0)
    """
    raw = span / parts if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(power * s for s in NICE_STEPS if power * s >= raw * (1 - 1e-9))
    return max(step, 1.0) if whole else step


def _round(value: float, step: float) -> float:
    # round() on the ratio, then back: 0.1 * 3 prints as 0.30000000000000004 otherwise.
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return round(round(value / step) * step, digits)


def suggest_thresholds(indicators: pd.DataFrame, churned, card: Scorecard) -> pd.DataFrame:
    """Suggested ``poor`` and ``good`` per measure of one scorecard, from observed churn.

    Parameters
    ----------
    indicators : DataFrame
        Labelled snapshots with the indicator columns ``card`` reads.
    churned : array-like of 0/1
        Churn labels aligned with ``indicators``.
    card : Scorecard
        One scorecard (a segment's, or the default without its segments).

    Returns
    -------
    DataFrame
        Indexed by measure: ``indicator``, ``direction``, ``poor``, ``good`` (current),
        ``suggested_poor``, ``suggested_good``, ``churn_at_poor``, ``churn_at_good`` (fitted
        rates at the suggested values, NaN when kept), ``rows`` (with data) and ``note``
        (why thresholds were kept, else None).

    Examples
    --------
    Churn is 30% below 20 active days and 3% from 40 on:

    >>> from features.scorecard_config import scorecard_from_dict
    >>> card = scorecard_from_dict({"groups": {"e": {}}, "measures": {"active": {
    ...     "group": "e", "indicator": "active_days_90d", "poor": 3, "good": 36}}})
    >>> days = np.tile(np.arange(0, 61), 40).astype(float)
    >>> rng = np.random.default_rng(0)
    >>> churned = rng.uniform(size=len(days)) < np.where(days < 20, 0.3, np.where(days < 40, 0.1, 0.03))
    >>> table = suggest_thresholds(pd.DataFrame({"active_days_90d": days}), churned.astype(int), card)
    >>> table.loc["active", ["suggested_poor", "suggested_good"]].tolist()
    [15.0, 40.0]
    """
    y = np.asarray(churned, dtype=float)
    rows = []
    for measure in card.measures:
        x = pd.to_numeric(indicators[measure.indicator], errors="coerce").to_numpy(dtype=float)
        found = _thresholds(measure, x, y)
        rows.append({"measure": measure.name, "indicator": measure.indicator,
                     "direction": measure.direction, "poor": measure.poor, "good": measure.good,
                     **found})
    return pd.DataFrame(rows).set_index("measure")


def _kept(reason: str, rows: int) -> dict:
    return {"suggested_poor": np.nan, "suggested_good": np.nan, "churn_at_poor": np.nan,
            "churn_at_good": np.nan, "rows": rows, "note": reason}


def _thresholds(measure: Measure, x: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.isotonic import IsotonicRegression

    present = np.isfinite(x)
    x, y = x[present], y[present]
    rows, churners = len(x), int(y.sum())
    if rows < MIN_ROWS or churners < MIN_CHURNERS:
        return _kept(f"too little data to place thresholds ({rows} rows with a value, "
                     f"{churners} churners; needs {MIN_ROWS} and {MIN_CHURNERS})", rows)
    low, high = np.quantile(x, CLIP_QUANTILES)
    if high <= low:
        return _kept(f"nine in ten accounts have the same value ({low:g}): no curve to fit", rows)
    clipped = np.clip(x, low, high)
    # Churn rises with the value when lower values are better.
    rising = measure.direction == "lower"
    curve = IsotonicRegression(increasing=rising).fit(clipped, y)
    values = np.unique(clipped)
    fitted = curve.predict(values)
    worst, best = (fitted[-1], fitted[0]) if rising else (fitted[0], fitted[-1])
    spread = worst - best
    if spread < MIN_SPREAD * y.mean():
        return _kept(f"churn hardly changes with {measure.indicator} in the scorecard's "
                     f"direction ({measure.direction} is better): fitted {worst:.1%} at the "
                     f"worst values vs {best:.1%} at the best", rows)
    poor_rate, good_rate = best + POOR_LEVEL * spread, best + GOOD_LEVEL * spread
    # Walk from the bad end to the good end of the values.
    order = values[::-1] if rising else values
    rates = fitted[::-1] if rising else fitted
    poor_at = np.flatnonzero(rates >= poor_rate - 1e-12)
    good_at = np.flatnonzero(rates <= good_rate + 1e-12)
    if not len(poor_at) or not len(good_at):
        return _kept("the fitted churn curve has no clear high and low plateau", rows)
    poor, good = order[poor_at[-1]], order[good_at[0]]
    whole = bool(np.all(x == np.round(x)))
    step = nice_step(high - low, whole=whole)
    # Rounded outwards (poor towards the bad end, good towards the good end), each stays on
    # its side of the drop in churn: the fitted rate only rises towards the bad end.
    down, up = (math.ceil, math.floor) if rising else (math.floor, math.ceil)
    poor, good = _round(down(poor / step) * step, step), _round(up(good / step) * step, step)
    at = lambda v: float(curve.predict([np.clip(v, low, high)])[0])  # noqa: E731
    return {"suggested_poor": poor, "suggested_good": good, "churn_at_poor": at(poor),
            "churn_at_good": at(good), "rows": rows, "note": None}


def with_thresholds(card: Scorecard, table: pd.DataFrame) -> tuple[Scorecard, dict[str, str]]:
    """``card`` with the suggested thresholds, and why each moved, by TOML key.

    Breakpoints stay when they still lie strictly between the new ``poor`` and ``good``
    (in order); otherwise they are dropped, with a note.

    Returns
    -------
    card : Scorecard
    notes : dict of str to str
        ``measures.<name>.poor`` (and ``.good``, ``.breakpoints``) -> why it moved.
    """
    measures, notes = [], {}
    for measure in card.measures:
        row = table.loc[measure.name] if measure.name in table.index else None
        if row is None or pd.isna(row["suggested_poor"]):
            measures.append(measure)
            continue
        poor, good = float(row["suggested_poor"]), float(row["suggested_good"])
        inner = list(measure.points[1:-1])
        sign = 1 if good > poor else -1
        values = [poor] + [v for v, _ in inner] + [good]
        if inner and not all(sign * (b - a) > 0 for a, b in zip(values, values[1:])):
            notes[f"measures.{measure.name}.breakpoints"] = (
                "dropped: they no longer lie between the new poor and good")
            inner = []
        key = f"measures.{measure.name}"
        side = "at or below" if measure.direction == "higher" else "at or above"
        notes[f"{key}.poor"] = (f"fitted churn {row['churn_at_poor']:.1%} {side} this value, "
                                f"near the worst")
        other = "at or above" if measure.direction == "higher" else "at or below"
        notes[f"{key}.good"] = (f"fitted churn {row['churn_at_good']:.1%} {other} this value, "
                                f"near the best")
        measures.append(replace(measure, points=((poor, 0.0), *inner, (good, 100.0))))
    return replace(card, measures=tuple(measures)), notes
