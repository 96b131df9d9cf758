"""The health scorecard: what it is made of, and the bands a score falls in.

A :class:`Scorecard` maps indicators to an explained 0-100 health score:

* each **measure** maps one indicator to 0-100, piecewise linearly from ``poor`` (0) to
  ``good`` (100) through optional breakpoints, clamped outside; missing indicator = missing
  measure, never 0;
* a **group** score is the weighted mean of its measures that have data, the **health
  score** the weighted mean of the groups that have data; weights are renormalised over what
  is present;
* **bands** label score ranges (lower bound exclusive except for the first band).

Reading and checking a scorecard TOML is :mod:`features.scorecard_config`'s job (the
default ships as ``features/scorecard_default.toml``; ``docs/scorecard.md`` documents the
format); applying one to an indicator table is :mod:`features.health_score`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ScorecardConfigError(ValueError):
    """A scorecard configuration that cannot be used.

    The message names the offending key (``measures.csat.weight``, ``bands[1].low``) and the
    values allowed there.
    """


@dataclass(frozen=True)
class Band:
    """A score range with a label and a colour.

    The range is ``low < score <= high`` except for the first band, which includes ``low``
    (so the default red band is 0-50 with both ends included, yellow is above 50 up to 75).
    """

    label: str
    low: float
    high: float
    color: str


@dataclass(frozen=True)
class Group:
    """A measure group (Engagement, Support, ...) and its weight in the health score."""

    name: str
    label: str
    weight: float


@dataclass(frozen=True)
class Measure:
    """One indicator mapped to 0-100.

    Parameters
    ----------
    name : str
        Key of the measure (``measure_<name>`` in the output).
    indicator : str
        The indicator column it reads.
    group : str
        Name of its group.
    label : str
        How the measure is named in driver texts; by default the indicator's label in the
        catalogue of :func:`features.catalogue.describe_indicator` (``"CSAT, last 90 days"``).
    weight : float
        Weight within its group (renormalised over the measures present).
    points : tuple of (value, score)
        The curve from ``(poor, 0)`` to ``(good, 100)``, breakpoints in between.
    direction : {"higher", "lower"}
        Whether higher indicator values are better.
    format : str
        Python format string with one field for the indicator's value, e.g. ``"{:.0f}%"``;
        by default the indicator's format in the same catalogue.
    """

    name: str
    indicator: str
    group: str
    label: str
    weight: float
    points: tuple[tuple[float, float], ...]
    direction: str
    format: str

    @property
    def poor(self) -> float:
        """Indicator value scored 0 (and anything worse)."""
        return self.points[0][0]

    @property
    def good(self) -> float:
        """Indicator value scored 100 (and anything better)."""
        return self.points[-1][0]

    def score(self, values: Any) -> np.ndarray:
        """Map indicator values to 0-100; NaN stays NaN (no data is not a zero).

        Examples
        --------
        >>> m = Measure("csat", "csat_90d", "satisfaction", "CSAT", 1.0,
        ...             ((50.0, 0.0), (90.0, 100.0)), "higher", "{:.0f}%")
        >>> m.score([38, 50, 70, 95, float("nan")]).tolist()
        [0.0, 0.0, 50.0, 100.0, nan]
        """
        x = np.asarray(values, dtype="float64")
        xp = np.array([p[0] for p in self.points])
        fp = np.array([p[1] for p in self.points])
        if self.direction == "lower":
            # np.interp needs increasing x: mirror the axis for lower-is-better measures.
            x, xp = -x, -xp
        out = np.interp(x, xp, fp)
        return np.where(np.isnan(x), np.nan, out)

    def format_value(self, value: float) -> str:
        """The indicator value as it reads in a driver text (``"38%"``)."""
        return self.format.format(value)

    def threshold_text(self) -> str:
        """``"poor ≤ 50%"`` for higher-is-better measures, ``"poor ≥ 72 h"`` otherwise."""
        sign = "≤" if self.direction == "higher" else "≥"
        return f"poor {sign} {self.format_value(self.poor)}"


@dataclass(frozen=True)
class Scorecard:
    """A validated scorecard; build it with :func:`load_scorecard`.

    ``segments`` maps a segment name to the scorecard its accounts use instead of this one
    (those scorecards have no segments of their own; treat the mapping as read-only); bands,
    the trend tolerance and the "insufficient data" label are shared by all.
    """

    groups: tuple[Group, ...]
    measures: tuple[Measure, ...]
    bands: tuple[Band, ...]
    min_coverage: float
    trend_tolerance: float = 1.0
    insufficient_label: str = "insufficient data"
    insufficient_color: str = "grey"
    segments: Mapping[str, Scorecard] = field(default_factory=dict)
    source: str = "<dict>"

    def for_segment(self, segment: object) -> Scorecard:
        """The scorecard for accounts of ``segment`` (the default one when it has none)."""
        if isinstance(segment, str) and segment in self.segments:
            return self.segments[segment]
        return self

    def _cards(self) -> list[Scorecard]:
        return [self, *self.segments.values()]

    def measure_names(self) -> list[str]:
        """Measure names over the default and every segment, in configuration order."""
        return _unique(m.name for card in self._cards() for m in card.measures)

    def group_names(self) -> list[str]:
        """Group names over the default and every segment, in configuration order."""
        return _unique(g.name for card in self._cards() for g in card.groups)

    def indicator_names(self) -> list[str]:
        """The indicator columns the scorecard reads (``segment`` too when it has segments)."""
        names = _unique(m.indicator for card in self._cards() for m in card.measures)
        return names + ["segment"] if self.segments else names


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


DEFAULT_BANDS = (
    Band("red", 0.0, 50.0, "#d62728"),
    Band("yellow", 50.0, 75.0, "#f2b701"),
    Band("green", 75.0, 100.0, "#2ca02c"),
)


# --- bands ---------------------------------------------------------------------------


def band_for(score: float | None, bands: Iterable[Band]) -> Band | None:
    """The band a score falls in; ``None`` for a missing score.

    Lower bounds are exclusive except for the first band, so with the default bands 50 is
    red, 50.5 and 51 are yellow, 75 is yellow and 75.2 is green.

    Parameters
    ----------
    score : float or None
        A health score in 0-100 (NaN or None when withheld).
    bands : iterable of Band
        ``Scorecard.bands``.

    Returns
    -------
    Band or None

    Raises
    ------
    ValueError
        When the score lies outside the bands (below 0 or above 100).

    Examples
    --------
    >>> from features.scorecard_config import load_scorecard
    >>> bands = load_scorecard().bands
    >>> [band_for(s, bands).label for s in (0, 50, 50.5, 51, 75, 75.2, 100)]
    ['red', 'red', 'yellow', 'yellow', 'yellow', 'green', 'green']
    >>> band_for(float("nan"), bands) is None
    True
    """
    bands = tuple(bands)
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    index = int(band_positions(np.array([float(score)]), bands)[0])
    if index < 0:
        raise ValueError(
            f"score {score!r} lies outside the bands {bands[0].low:g}-{bands[-1].high:g}; "
            "health scores are between 0 and 100"
        )
    return bands[index]


def band_positions(scores: np.ndarray, bands: tuple[Band, ...]) -> np.ndarray:
    """Band position per score, -1 for NaN or out of range (vectorised :func:`band_for`)."""
    highs = np.array([b.high for b in bands])
    # side="left": a score equal to a band's high belongs to that band (upper bound included).
    index = np.searchsorted(highs, scores, side="left")
    outside = np.isnan(scores) | (scores < bands[0].low) | (index >= len(bands))
    return np.where(outside, -1, index)
