"""Applying a scorecard: an explained 0-100 health score per account.

:func:`score_accounts` maps an indicator table through a
:class:`~features.scorecard.Scorecard`:

* **coverage** is the share of the scorecard's weight (each measure's nominal weight in the
  overall score) that is backed by data; below ``min_coverage`` the score is withheld
  ("insufficient data", NaN);
* **points lost** by a measure are ``(100 - measure score) x its effective weight in the
  overall score``; they add up to ``100 - health score``, and the three largest become the
  drivers in words ("CSAT, last 90 days: 38% (poor ≤ 50%) cost 9.4 points").

Everything is deterministic and vectorised over accounts; only the three driver texts per
account are built in Python.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalogue import source_table
from features.per_account import as_float
from features.scorecard import Scorecard, band_positions

DRIVER_COUNT = 3
# A measure that rounds to "cost 0.0 points" is not a driver worth a sentence.
MIN_DRIVER_POINTS = 0.05
# Sums of floating weights land a hair off the configured minimum (0.39999999 for 0.4).
COVERAGE_EPSILON = 1e-9


def score_accounts(
    indicators: pd.DataFrame,
    scorecard: Scorecard,
    *,
    previous: pd.Series | None = None,
) -> pd.DataFrame:
    """Health score, band, coverage, group and measure scores, drivers and trend per account.

    Parameters
    ----------
    indicators : DataFrame
        One row per account (``compute_indicators`` output), with every column of
        ``scorecard.indicator_names()`` except ``segment``, which is optional: without it
        every account uses the default scorecard. Extra columns are ignored.
    scorecard : Scorecard
        From :func:`load_scorecard`.
    previous : Series, optional
        Previous health scores indexed like ``indicators`` (by ``account_id``); accounts
        missing from it, or with a NaN previous score, get no trend.

    Returns
    -------
    DataFrame
        Indexed like ``indicators``, columns ``health_score`` (0-100, NaN when coverage is
        below the minimum), ``health_band``, ``health_color``, ``health_coverage`` (0-1),
        ``health_trend`` ("up", "down", "flat" or None), ``health_delta``,
        ``group_<group>``, ``measure_<measure>`` (NaN for no data, or when the account's
        segment scorecard lacks the measure) and ``health_drivers`` (up to three dicts
        ``{"measure", "indicator", "value", "points_lost", "text"}``, most points first;
        empty when the score is withheld).

    Raises
    ------
    ValueError
        When an indicator column the scorecard reads is missing or not numeric, or when
        ``previous`` is not a Series with unique account ids.

    Examples
    --------
    Two measures of equal weight in one group; b has no CSAT, so its score rests on NPS
    alone and its coverage is one half:

    >>> from features.scorecard_config import scorecard_from_dict
    >>> card = scorecard_from_dict({
    ...     "groups": {"satisfaction": {"weight": 1}},
    ...     "measures": {
    ...         "csat": {"group": "satisfaction", "indicator": "csat_90d", "label": "CSAT",
    ...                  "poor": 50, "good": 90, "format": "{:.0f}%"},
    ...         "nps": {"group": "satisfaction", "indicator": "nps_latest", "label": "NPS",
    ...                 "poor": 5, "good": 9, "format": "{:.0f}"}},
    ... })
    >>> indicators = pd.DataFrame({"csat_90d": [38.0, float("nan")], "nps_latest": [9.0, 7.0]},
    ...                           index=pd.Index(["a", "b"], name="account_id"))
    >>> out = score_accounts(indicators, card, previous=pd.Series({"a": 40.0, "b": 50.2}))
    >>> out[["health_score", "health_band", "health_coverage"]]  # doctest: +NORMALIZE_WHITESPACE
                health_score health_band  health_coverage
    account_id
    a                   50.0         red              1.0
    b                   50.0         red              0.5
    >>> out["health_trend"].tolist(), out["health_delta"].round(1).tolist()
    (['up', 'flat'], [10.0, -0.2])
    >>> [d["text"] for d in out.loc["a", "health_drivers"]]
    ['CSAT: 38% (poor ≤ 50%) cost 50.0 points']
    """
    _check_indicator_table(indicators, scorecard)
    previous_scores = _check_previous(previous, indicators.index)
    values = {
        name: as_float(indicators[name])
        for name in scorecard.indicator_names()
        if name != "segment"
    }
    segments = (indicators["segment"].astype(object).to_numpy()
                if scorecard.segments and "segment" in indicators.columns else None)
    scored = score_arrays(values, len(indicators), scorecard, segments=segments,
                          previous=previous_scores)
    # All columns built first and the frame made in one go: assigning them one by one
    # costs more than the scoring itself.
    index = indicators.index.copy()
    columns: dict[str, object] = {
        "health_score": scored.health,
        "health_band": scored.band,
        "health_color": scored.color,
        "health_coverage": scored.coverage,
        "health_trend": pd.Series(scored.trend, index=index, dtype=object),
        "health_delta": scored.delta,
    }
    for g, name in enumerate(scored.group_names):
        columns[f"group_{name}"] = scored.groups[:, g]
    for j, name in enumerate(scored.measure_names):
        columns[f"measure_{name}"] = scored.measures[:, j]
    columns["health_drivers"] = pd.Series(scored.drivers, index=index, dtype=object)
    return pd.DataFrame(columns, index=index)


@dataclass(frozen=True)
class HealthArrays:
    """The health columns of :func:`score_accounts` as arrays, one row per account.

    ``groups`` and ``measures`` are matrices whose columns follow ``group_names`` and
    ``measure_names``; ``trend`` holds "up", "down", "flat" or None, ``drivers`` the dicts of
    :func:`score_accounts`.
    """

    health: np.ndarray
    band: np.ndarray
    color: np.ndarray
    coverage: np.ndarray
    trend: np.ndarray
    delta: np.ndarray
    group_names: list[str]
    groups: np.ndarray
    measure_names: list[str]
    measures: np.ndarray
    drivers: list[list[dict]]


def score_arrays(
    values: Mapping[str, np.ndarray],
    n: int,
    scorecard: Scorecard,
    *,
    segments: np.ndarray | None = None,
    previous: np.ndarray | None = None,
) -> HealthArrays:
    """The scorecard applied to indicator arrays: the one implementation of the health score.

    :func:`score_accounts` calls it on a frame's columns; the HTTP service calls it on the
    few values of a request, with no frame built (a frame costs more than the scoring).

    Parameters
    ----------
    values : mapping of str to ndarray
        Float64 values (NaN for no data) of every indicator the scorecard reads except
        ``segment``, ``n`` per indicator.
    n : int
        Accounts.
    scorecard : Scorecard
        From :func:`load_scorecard`.
    segments : ndarray, optional
        Each account's segment (object array); None: every account uses the default card.
    previous : ndarray, optional
        Previous health scores (NaN for none), for the trend.

    Returns
    -------
    HealthArrays
    """
    measure_names = scorecard.measure_names()
    group_names = scorecard.group_names()
    measure_pos = {name: j for j, name in enumerate(measure_names)}
    group_pos = {name: g for g, name in enumerate(group_names)}
    n_measures, n_groups = len(measure_names), len(group_names)

    scores = np.full((n, n_measures), np.nan)
    measure_values = np.full((n, n_measures), np.nan)
    weights = np.zeros((n, n_measures))  # measure weight within its group; 0 = not in the card
    measure_group = np.zeros((n, n_measures), dtype=np.int64)
    group_weights = np.zeros((n, n_groups))
    min_coverage = np.empty(n)
    card_of_row = np.zeros(n, dtype=np.int64)
    cards = [scorecard, *scorecard.segments.values()]

    for c, (card, rows) in enumerate(zip(cards, _rows_per_card(n, segments, scorecard))):
        if rows is not None and len(rows) == 0:
            continue
        at = slice(None) if rows is None else rows
        card_of_row[at] = c
        min_coverage[at] = card.min_coverage
        for group in card.groups:
            group_weights[at, group_pos[group.name]] = group.weight
        for measure in card.measures:
            j = measure_pos[measure.name]
            x = values[measure.indicator][at]
            measure_values[at, j] = x
            scores[at, j] = measure.score(x)
            weights[at, j] = measure.weight
            measure_group[at, j] = group_pos[measure.group]

    present = ~np.isnan(scores) & (weights > 0)
    filled = np.where(present, scores, 0.0)
    group_scores = np.full((n, n_groups), np.nan)
    present_weight = np.zeros((n, n_groups))  # per group: measure weight with data
    nominal_weight = np.zeros((n, n_groups))  # per group: all measure weight
    for g in range(n_groups):
        in_group = measure_group == g
        w_present = np.where(in_group & present, weights, 0.0)
        present_weight[:, g] = w_present.sum(axis=1)
        nominal_weight[:, g] = np.where(in_group, weights, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            group_scores[:, g] = (w_present * filled).sum(axis=1) / present_weight[:, g]
    group_present = (present_weight > 0) & (group_weights > 0)
    gw_present = np.where(group_present, group_weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = (gw_present * np.nan_to_num(group_scores)).sum(axis=1) / gw_present.sum(axis=1)
        # Each measure's share of the overall score: nominal (coverage) and actual (points).
        group_share_nominal = group_weights / group_weights.sum(axis=1, keepdims=True)
        group_share_actual = gw_present / gw_present.sum(axis=1, keepdims=True)
        rows_idx = np.arange(n)[:, None]
        nominal = (
            group_share_nominal[rows_idx, measure_group]
            * weights
            / nominal_weight[rows_idx, measure_group]
        )
        actual = (
            group_share_actual[rows_idx, measure_group]
            * np.where(present, weights, 0.0)
            / present_weight[rows_idx, measure_group]
        )
    nominal = np.nan_to_num(nominal)
    actual = np.nan_to_num(actual)
    coverage = np.clip(np.where(present, nominal, 0.0).sum(axis=1), 0.0, 1.0)
    sufficient = (coverage + COVERAGE_EPSILON >= min_coverage) & ~np.isnan(overall)
    health = np.where(sufficient, np.clip(overall, 0.0, 100.0), np.nan)
    points_lost = np.where(present, (100.0 - filled) * actual, np.nan)

    band_index = band_positions(health, scorecard.bands)
    labels = np.array(
        [b.label for b in scorecard.bands] + [scorecard.insufficient_label], dtype=object
    )
    colors = np.array(
        [b.color for b in scorecard.bands] + [scorecard.insufficient_color], dtype=object
    )

    trend, delta = _trend(health, previous, scorecard.trend_tolerance)
    return HealthArrays(
        health=health,
        band=labels[band_index],  # -1 picks the "insufficient data" entry
        color=colors[band_index],
        coverage=coverage,
        trend=trend,
        delta=delta,
        group_names=group_names,
        groups=group_scores,
        measure_names=measure_names,
        measures=np.where(weights > 0, scores, np.nan),
        drivers=_drivers(points_lost, measure_values, sufficient, card_of_row, cards,
                         measure_names),
    )


def measures_without_data(scored: pd.DataFrame, scorecard: Scorecard) -> dict[str, list[str]]:
    """Measures no account had data for, by the input table their indicator reads.

    ``scored`` is :func:`score_accounts` output (``measure_<name>`` columns). An empty list
    of measures means every measure was backed by data somewhere.
    """
    empty: dict[str, list[str]] = {}
    for card in (scorecard, *scorecard.segments.values()):
        for measure in card.measures:
            column = scored.get(f"measure_{measure.name}")
            if column is not None and column.notna().any():
                continue
            table = source_table(measure.indicator) or "indicators"
            if measure.name not in empty.get(table, []):
                empty.setdefault(table, []).append(measure.name)
    return empty


def _rows_per_card(n: int, segment: np.ndarray | None,
                   scorecard: Scorecard) -> list[np.ndarray | None]:
    """Row positions per card (default first); None for the default means "every row"."""
    if not scorecard.segments or segment is None:
        return [None] + [np.array([], dtype=np.int64)] * len(scorecard.segments)
    taken = np.zeros(n, dtype=bool)
    per_segment = []
    for name in scorecard.segments:
        mask = segment == name
        taken |= mask
        per_segment.append(np.flatnonzero(mask))
    return [np.flatnonzero(~taken), *per_segment]


def _check_indicator_table(indicators: pd.DataFrame, scorecard: Scorecard) -> None:
    if not isinstance(indicators, pd.DataFrame):
        raise ValueError(
            "indicators must be a DataFrame (compute_indicators output), "
            f"got {type(indicators).__name__}"
        )
    needed = [name for name in scorecard.indicator_names() if name != "segment"]
    missing = [name for name in needed if name not in indicators.columns]
    if missing:
        raise ValueError(
            f"indicators: missing column(s) {', '.join(missing)} read by the scorecard "
            f"({scorecard.source}); compute them with features.indicators.compute_indicators, "
            "or remove the measures that read them from the scorecard"
        )
    for name in needed:
        column = indicators[name]
        if not (pd.api.types.is_numeric_dtype(column) or column.isna().all()):
            bad = column[pd.to_numeric(column, errors="coerce").isna() & column.notna()]
            examples = ", ".join(f"{key!r} ({value!r})" for key, value in bad.head(3).items())
            raise ValueError(
                f"indicators.{name}: not numeric (dtype {column.dtype}); e.g. account(s) "
                f"{examples}; pass numbers (NaN for no data)"
            )


def _check_previous(previous: pd.Series | None, index: pd.Index) -> np.ndarray | None:
    if previous is None:
        return None
    if not isinstance(previous, pd.Series):
        raise ValueError(
            "previous must be a Series of health scores indexed by account_id, "
            f"got {type(previous).__name__}"
        )
    if previous.index.has_duplicates:
        dupes = previous.index[previous.index.duplicated()].unique()[:5].tolist()
        raise ValueError(
            f"previous: account_id(s) {dupes} appear more than once; "
            "pass one previous score per account"
        )
    if not (pd.api.types.is_numeric_dtype(previous) or previous.isna().all()):
        raise ValueError(f"previous: scores must be numbers (dtype is {previous.dtype})")
    return as_float(previous.reindex(index))


def _trend(
    health: np.ndarray, previous: np.ndarray | None, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    n = len(health)
    if previous is None:
        return np.full(n, None, dtype=object), np.full(n, np.nan)
    delta = health - previous
    trend = np.where(np.abs(delta) < tolerance, "flat", np.where(delta > 0, "up", "down")).astype(
        object
    )
    trend[np.isnan(delta)] = None
    return trend, delta


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _numbered(fmt: str) -> str:
    """``"{:.0f}%"`` as ``"{0:.0f}%"`` so it can share a template with other fields."""
    out = []
    for literal, field_name, spec, conversion in string.Formatter().parse(fmt):
        out.append(_escape(literal))
        if field_name is not None:
            out.append(
                "{0" + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
    return "".join(out)


def _drivers(
    points_lost: np.ndarray,
    values: np.ndarray,
    sufficient: np.ndarray,
    card_of_row: np.ndarray,
    cards: list[Scorecard],
    measure_names: list[str],
) -> list[list[dict]]:
    """The three measures that cost the most points per account, in words."""
    n, n_measures = points_lost.shape
    k = min(DRIVER_COUNT, n_measures)
    # Stable sort on the negated points: ties keep configuration order, so output is stable.
    key = np.where(np.isnan(points_lost), np.inf, -points_lost)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(points_lost, order, axis=1)
    keep = (top >= MIN_DRIVER_POINTS) & sufficient[:, None]
    top_values = np.take_along_axis(values, order, axis=1)

    # Everything but the value and the points is fixed per (card, measure): one template
    # each, made when a driver first needs it (one account needs three, not every measure).
    by_name = [{m.name: m for m in card.measures} for card in cards]
    templates: dict[tuple[int, int], tuple[str, str, str]] = {}

    def template(c: int, j: int) -> tuple[str, str, str]:
        if (c, j) not in templates:
            measure = by_name[c][measure_names[j]]
            text = (
                f"{_escape(measure.label)}: {_numbered(measure.format)} "
                f"({_escape(measure.threshold_text())}) cost {{1:.1f}} points"
            )
            templates[(c, j)] = (measure.name, measure.indicator, text)
        return templates[(c, j)]

    drivers: list[list[dict]] = [[] for _ in range(n)]
    rows, slots = np.nonzero(keep)  # row-major: slots come in rank order within a row
    cards_of = card_of_row[rows].tolist()
    for r, c, j, value, lost in zip(
        rows.tolist(),
        cards_of,
        order[rows, slots].tolist(),
        top_values[rows, slots].tolist(),
        top[rows, slots].tolist(),
    ):
        name, indicator, text = template(c, j)
        drivers[r].append(
            {
                "measure": name,
                "indicator": indicator,
                "value": value,
                "points_lost": lost,
                "text": text.format(value, lost),
            }
        )
    return drivers
