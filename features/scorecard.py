"""The health scorecard: indicators mapped to an explained 0-100 health score.

A :class:`Scorecard` is read from TOML by :func:`load_scorecard` (the default ships as
``features/scorecard_default.toml``; ``docs/scorecard.md`` documents the format) and applied
to an indicator table by :func:`score_accounts`:

* each **measure** maps one indicator to 0-100, piecewise linearly from ``poor`` (0) to
  ``good`` (100) through optional breakpoints, clamped outside; missing indicator = missing
  measure, never 0;
* a **group** score is the weighted mean of its measures that have data, the **health
  score** the weighted mean of the groups that have data; weights are renormalised over what
  is present;
* **coverage** is the share of the scorecard's weight (each measure's nominal weight in the
  overall score) that is backed by data; below ``min_coverage`` the score is withheld
  ("insufficient data", NaN);
* **points lost** by a measure are ``(100 - measure score) x its effective weight in the
  overall score``; they add up to ``100 - health score``, and the three largest become the
  drivers in words ("CSAT, last 90 days: 38% (poor ≤ 50%) cost 9.4 points");
* **bands** label score ranges (lower bound exclusive except for the first band).

Everything is deterministic and vectorised over accounts; only the three driver texts per
account are built in Python.
"""

from __future__ import annotations

import difflib
import math
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.indicators import describe_indicator

__all__ = [
    "CATEGORICAL_INDICATORS",
    "KNOWN_INDICATORS",
    "Band",
    "Group",
    "Measure",
    "Scorecard",
    "ScorecardConfigError",
    "band_for",
    "load_scorecard",
    "score_accounts",
    "scorecard_from_dict",
]

# --- the indicator names of docs/indicators.md ---------------------------------------
# Kept here rather than imported from features.indicators so that a scorecard can be
# validated without computing anything; tests check this list against the document.

INDICATOR_WINDOWS = (30, 90, 180)
_WINDOWED_INDICATORS = (
    "active_days",
    "sessions",
    "active_users",
    "pages_per_session",
    "avg_session_minutes",
    "tickets",
    "resolution_hours_mean",
    "resolution_hours_median",
    "first_response_hours_mean",
    "reopened_share",
    "nps_mean",
    "csat",
    "csat_mean",
    "ces_mean",
    "comments",
    "sentiment_mean",
    "negative_comment_share",
    "unsupported_comment_share",
    "orders",
    "repeat_purchase",
    "return_rate",
    "revenue",
)
_FIXED_INDICATORS = (
    "tenure_days",
    "mrr",
    "days_since_last_activity",
    "sessions_trend_30d",
    "open_tickets",
    "open_ticket_age_days_max",
    "nps_latest",
    "sentiment_latest",
    "sentiment_trend_90d",
    "revenue_trend_90d",
    "clv",
)
#: Indicator columns that hold labels, not numbers: a measure cannot read them.
CATEGORICAL_INDICATORS = ("segment", "region", "plan", "nps_category_latest")
#: Every indicator column of docs/indicators.md, windows expanded for 30, 90 and 180 days.
KNOWN_INDICATORS = (
    CATEGORICAL_INDICATORS
    + _FIXED_INDICATORS
    + tuple(f"{name}_{w}d" for name in _WINDOWED_INDICATORS for w in INDICATOR_WINDOWS)
)

DEFAULT_SCORECARD = "scorecard_default.toml"
DRIVER_COUNT = 3
# A measure that rounds to "cost 0.0 points" is not a driver worth a sentence.
MIN_DRIVER_POINTS = 0.05
# Sums of floating weights land a hair off the configured minimum (0.39999999 for 0.4).
COVERAGE_EPSILON = 1e-9

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
_TOP_KEYS = (
    "min_coverage",
    "trend_tolerance",
    "insufficient_label",
    "insufficient_color",
    "bands",
    "groups",
    "measures",
    "segments",
)
_SEGMENT_KEYS = ("min_coverage", "groups", "measures")
_GROUP_KEYS = ("label", "weight")
_MEASURE_KEYS = (
    "indicator",
    "group",
    "label",
    "poor",
    "good",
    "direction",
    "breakpoints",
    "weight",
    "format",
)
_BAND_KEYS = ("label", "low", "high", "color")
_DIRECTIONS = ("higher", "lower")


class ScorecardConfigError(ValueError):
    """A scorecard configuration that cannot be used.

    The message names the offending key (``measures.csat.weight``, ``bands[1].low``) and the
    values allowed there.
    """


# --- the scorecard -------------------------------------------------------------------


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
        catalogue of :func:`features.indicators.describe_indicator` (``"CSAT, last 90 days"``).
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


# --- loading and validation ----------------------------------------------------------


def load_scorecard(
    path: str | Path | None = None,
    *,
    known_indicators: Iterable[str] | None = KNOWN_INDICATORS,
) -> Scorecard:
    """Read and validate a scorecard TOML file.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; ``None`` loads the packaged default (``docs/scorecard.md``).
    known_indicators : iterable of str or None
        Indicator names a measure may read; defaults to the columns of docs/indicators.md.
        ``None`` accepts any name (for indicator tables computed with other windows).

    Returns
    -------
    Scorecard

    Raises
    ------
    ScorecardConfigError
        When the file is missing or not TOML, or when a key is unknown or has a value
        outside what is allowed; the message names the key and the allowed values.

    Examples
    --------
    >>> card = load_scorecard()
    >>> [g.label for g in card.groups]
    ['Engagement', 'Support', 'Satisfaction', 'Commercial']
    >>> [(b.label, b.low, b.high) for b in card.bands]
    [('red', 0.0, 50.0), ('yellow', 50.0, 75.0), ('green', 75.0, 100.0)]
    >>> card.for_segment("Enterprise").min_coverage, card.for_segment("SMB").min_coverage
    (0.5, 0.4)
    """
    if path is None:
        text = Path(__file__).with_name(DEFAULT_SCORECARD).read_text("utf-8")
        source = f"features/{DEFAULT_SCORECARD}"
    else:
        path = Path(path)
        if not path.is_file():
            raise ScorecardConfigError(
                f"scorecard {path}: no such file; pass the path of a scorecard TOML file, "
                "or none for the default (docs/scorecard.md)"
            )
        text = path.read_text("utf-8")
        source = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScorecardConfigError(
            f"scorecard {source}: not valid TOML ({error}); fix the syntax at that line"
        ) from error
    return scorecard_from_dict(raw, known_indicators=known_indicators, source=source)


def scorecard_from_dict(
    config: Mapping[str, Any],
    *,
    known_indicators: Iterable[str] | None = KNOWN_INDICATORS,
    source: str = "<dict>",
) -> Scorecard:
    """Validate a parsed scorecard configuration (the TOML as a dict).

    Parameters
    ----------
    config : mapping
        Same structure as the TOML file (docs/scorecard.md).
    known_indicators : iterable of str or None
        As in :func:`load_scorecard`.
    source : str
        Where the configuration came from, for error messages.

    Returns
    -------
    Scorecard

    Raises
    ------
    ScorecardConfigError
        Naming the key and the allowed values.

    Examples
    --------
    >>> card = scorecard_from_dict({
    ...     "groups": {"satisfaction": {"weight": 1}},
    ...     "measures": {"csat": {"group": "satisfaction", "indicator": "csat_90d",
    ...                           "poor": 50, "good": 90, "format": "{:.0f}%"}},
    ... })
    >>> card.measures[0].direction, card.min_coverage, [b.label for b in card.bands]
    ('higher', 0.4, ['red', 'yellow', 'green'])
    >>> card.measures[0].label, card.measures[0].format  # no label: the catalogue's
    ('CSAT, last 90 days', '{:.0f}%')
    >>> scorecard_from_dict({"groups": {}, "measures": {}, "colour": "red"})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    features.scorecard.ScorecardConfigError: scorecard <dict>: colour: unknown key; allowed: ...
    """
    known = None if known_indicators is None else frozenset(known_indicators)
    checker = _Checker(source, known)
    config = checker.table(config, "", _TOP_KEYS, required=("groups", "measures"))
    insufficient_label = checker.text(config, "insufficient_label", "insufficient data")
    insufficient_color = checker.text(config, "insufficient_color", "grey")
    bands = checker.bands(config.get("bands"), insufficient_label)
    trend_tolerance = checker.number(config, "trend_tolerance", 1.0, low=0.0)
    default = checker.card(config, "")

    segments = {}
    raw_segments = checker.table(config.get("segments", {}), "segments", None)
    for segment, override in raw_segments.items():
        prefix = f"segments.{segment}."
        override = checker.table(override, prefix[:-1], _SEGMENT_KEYS)
        merged = {
            key: config[key] for key in ("min_coverage", "groups", "measures") if key in config
        }
        merged = _merge(merged, override)
        segments[segment] = checker.card(merged, prefix)
        checker.same_directions(
            default[1], segments[segment][1], override.get("measures", {}), prefix
        )

    def build(card: tuple, segment_cards: Mapping[str, Scorecard]) -> Scorecard:
        groups, measures, min_coverage = card
        return Scorecard(
            groups=groups,
            measures=measures,
            bands=bands,
            min_coverage=min_coverage,
            trend_tolerance=trend_tolerance,
            insufficient_label=insufficient_label,
            insufficient_color=insufficient_color,
            segments=dict(segment_cards),
            source=source,
        )

    return build(default, {name: build(card, {}) for name, card in segments.items()})


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two TOML tables: the override's leaves win, arrays are replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class _Checker:
    """Validation helpers that raise :class:`ScorecardConfigError` naming the key."""

    def __init__(self, source: str, known: frozenset[str] | None) -> None:
        self.source = source
        self.known = known

    def fail(self, key: str, problem: str, allowed: str) -> ScorecardConfigError:
        return ScorecardConfigError(
            f"scorecard {self.source}: {key}: {problem}; allowed: {allowed}"
        )

    def table(
        self,
        value: Any,
        key: str,
        allowed: tuple[str, ...] | None,
        required: tuple[str, ...] = (),
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(
                key or "(top level)", f"expected a table, got {value!r}", "a TOML table"
            )
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    raise self.fail(_join(key, name), "unknown key", ", ".join(allowed))
        for name in required:
            if name not in value:
                raise self.fail(
                    _join(key, name), "missing", "a value for this required key (docs/scorecard.md)"
                )
        return value

    def number(
        self,
        table: Mapping[str, Any],
        name: str,
        default: float | None,
        *,
        key: str | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> float:
        key = key or name
        if name not in table:
            if default is None:
                raise self.fail(key, "missing", "a number")
            return float(default)
        value = table[name]
        allowed = "a number" + _range_text(low, high)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise self.fail(key, f"{value!r} is not a finite number", allowed)
        if (low is not None and value < low) or (high is not None and value > high):
            word = "negative" if low == 0 and value < 0 else "out of range"
            raise self.fail(key, f"{value!r} is {word}", allowed)
        return float(value)

    def text(
        self, table: Mapping[str, Any], name: str, default: str | None, *, key: str | None = None
    ) -> str:
        key = key or name
        if name not in table:
            if default is None:
                raise self.fail(key, "missing", "a non-empty string")
            return default
        value = table[name]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"{value!r} is not a non-empty string", "a non-empty string")
        return value

    def name(self, value: str, key: str) -> str:
        if not value or not set(value) <= _NAME_CHARS or not value[0].isalpha():
            raise self.fail(
                key,
                f"{value!r} is not a usable name (it becomes a column name)",
                "lowercase letters, digits and _, starting with a letter",
            )
        return value

    def bands(self, raw: Any, insufficient_label: str) -> tuple[Band, ...]:
        if raw is None:
            return DEFAULT_BANDS
        if not isinstance(raw, list) or not raw:
            raise self.fail(
                "bands",
                f"expected a non-empty array of tables, got {raw!r}",
                "[[bands]] tables with label, low, high, color",
            )
        bands = []
        for i, item in enumerate(raw):
            key = f"bands[{i}]"
            item = self.table(item, key, _BAND_KEYS, required=_BAND_KEYS)
            label = self.text(item, "label", None, key=f"{key}.label")
            color = self.text(item, "color", None, key=f"{key}.color")
            low = self.number(item, "low", None, key=f"{key}.low", low=0, high=100)
            high = self.number(item, "high", None, key=f"{key}.high", low=0, high=100)
            if high <= low:
                raise self.fail(key, f"low {low:g} is not below high {high:g}", "low < high")
            if i == 0 and low != 0:
                raise self.fail(
                    f"{key}.low", f"the first band starts at {low:g}, leaving a gap from 0", "0"
                )
            if i > 0 and low != bands[-1].high:
                prev = bands[-1]
                what = "overlapping" if low < prev.high else "leaving a gap after"
                raise self.fail(
                    f"{key}.low",
                    f"{label!r} starts at {low:g}, {what} {prev.label!r} which ends at "
                    f"{prev.high:g}",
                    f"{prev.high:g} (lower bounds are exclusive: the band holds scores above "
                    f"{prev.high:g})",
                )
            if label in {b.label for b in bands} or label == insufficient_label:
                raise self.fail(
                    f"{key}.label",
                    f"{label!r} is used twice",
                    "a label used by no other band nor insufficient_label",
                )
            bands.append(Band(label, low, high, color))
        if bands[-1].high != 100:
            raise self.fail(
                f"bands[{len(bands) - 1}].high",
                f"the last band ends at {bands[-1].high:g}, leaving a gap to 100",
                "100",
            )
        return tuple(bands)

    def card(self, config: Mapping[str, Any], prefix: str) -> tuple:
        """Groups, measures and min_coverage of the default (prefix "") or a segment."""
        min_coverage = self.number(
            config, "min_coverage", 0.4, key=f"{prefix}min_coverage", low=0, high=1
        )
        raw_groups = self.table(config["groups"], f"{prefix}groups", None)
        groups = []
        for name, item in raw_groups.items():
            key = f"{prefix}groups.{name}"
            self.name(name, key)
            item = self.table(item, key, _GROUP_KEYS)
            label = self.text(
                item, "label", name.replace("_", " ").capitalize(), key=f"{key}.label"
            )
            weight = self.number(item, "weight", 1.0, key=f"{key}.weight", low=0)
            groups.append(Group(name, label, weight))
        if not groups:
            raise self.fail(f"{prefix}groups", "no groups", "at least one [groups.<name>] table")
        if all(g.weight == 0 for g in groups):
            raise self.fail(
                f"{prefix}groups", "every group weight is 0", "at least one group with weight > 0"
            )

        raw_measures = self.table(config["measures"], f"{prefix}measures", None)
        measures = [
            self.measure(name, item, f"{prefix}measures.{name}", groups)
            for name, item in raw_measures.items()
        ]
        for group in groups:
            weights = [m.weight for m in measures if m.group == group.name]
            if group.weight > 0 and not any(w > 0 for w in weights):
                raise self.fail(
                    f"{prefix}groups.{group.name}",
                    "the group has weight > 0 but no measure with weight > 0"
                    + (" (all its measure weights are 0)" if weights else ""),
                    f"at least one measure with group = {group.name!r} and weight > 0, "
                    f"or {prefix}groups.{group.name}.weight = 0",
                )
        return tuple(groups), tuple(measures), min_coverage

    def same_directions(
        self,
        default: tuple[Measure, ...],
        measures: tuple[Measure, ...],
        overrides: Mapping[str, Any],
        prefix: str,
    ) -> None:
        """A segment that swaps poor and good has almost surely made a typo: say so."""
        directions = {m.name: m.direction for m in default}
        for measure in measures:
            override = overrides.get(measure.name, {})
            base = directions.get(measure.name)
            if base is None or measure.direction == base or "direction" in override:
                continue
            changed = "poor" if "poor" in override else "good"
            order = "poor < good" if base == "higher" else "poor > good"
            raise self.fail(
                f"{prefix}measures.{measure.name}.{changed}",
                f"poor = {measure.poor:g} and good = {measure.good:g} reverse the direction of "
                f"the default measure ({base} is better)",
                f"{order} as in the default, or direction = {measure.direction!r} in the "
                "segment to reverse it on purpose",
            )

    def measure(self, name: str, item: Any, key: str, groups: list[Group]) -> Measure:
        self.name(name, key)
        item = self.table(item, key, _MEASURE_KEYS, required=("indicator", "group", "poor", "good"))
        indicator = self.text(item, "indicator", None, key=f"{key}.indicator")
        if indicator in CATEGORICAL_INDICATORS:
            raise self.fail(
                f"{key}.indicator",
                f"{indicator!r} holds labels, not numbers",
                "a numeric indicator of docs/indicators.md",
            )
        if self.known is not None and indicator not in self.known:
            numeric = sorted(self.known - set(CATEGORICAL_INDICATORS))
            close = difflib.get_close_matches(indicator, numeric, n=4, cutoff=0.5)
            hint = f", e.g. {', '.join(close)}" if close else ""
            raise self.fail(
                f"{key}.indicator",
                f"{indicator!r} is not a known indicator",
                f"the numeric columns of docs/indicators.md{hint}",
            )
        group_names = [g.name for g in groups]
        group = self.text(item, "group", None, key=f"{key}.group")
        if group not in group_names:
            raise self.fail(f"{key}.group", f"{group!r} is not a group", ", ".join(group_names))
        # Without label or format a measure reads like the indicator does everywhere else
        # (churn drivers, reports); a name outside the catalogue falls back to plain words.
        described = describe_indicator(indicator, strict=False)
        catalogued = described.format is not None
        label = self.text(
            item,
            "label",
            described.label if catalogued else name.replace("_", " ").capitalize(),
            key=f"{key}.label",
        )
        weight = self.number(item, "weight", 1.0, key=f"{key}.weight", low=0)
        fmt = self.text(
            item, "format", described.format if catalogued else "{:.4g}", key=f"{key}.format"
        )
        self.format(fmt, f"{key}.format")
        poor = self.number(item, "poor", None, key=f"{key}.poor")
        good = self.number(item, "good", None, key=f"{key}.good")
        if poor == good:
            raise self.fail(
                f"{key}.good",
                f"poor and good are both {poor:g}",
                "a value different from poor "
                "(poor < good: higher is better; poor > good: lower is better)",
            )
        implied = "higher" if poor < good else "lower"
        direction = item.get("direction", implied)
        if direction not in _DIRECTIONS:
            raise self.fail(
                f"{key}.direction", f"{direction!r} is not a direction", ", ".join(_DIRECTIONS)
            )
        if direction != implied:
            order = "poor < good" if direction == "higher" else "poor > good"
            raise self.fail(
                f"{key}.good",
                f"thresholds in the wrong order for direction = {direction!r} "
                f"(poor = {poor:g}, good = {good:g})",
                f"{order} (swap poor and good, or set direction = {implied!r})",
            )
        points = self.breakpoints(item.get("breakpoints", []), f"{key}.breakpoints", poor, good)
        return Measure(name, indicator, group, label, weight, points, direction, fmt)

    def format(self, fmt: str, key: str) -> None:
        allowed = "a Python format string with one {} field for the value, e.g. '{:.0f}%'"
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None]
        except ValueError as error:
            raise self.fail(key, f"{fmt!r} is not a format string ({error})", allowed) from error
        if len(fields) != 1:
            raise self.fail(key, f"{fmt!r} has {len(fields)} fields", allowed)
        try:
            fmt.format(1.5)
        except (ValueError, IndexError, KeyError, AttributeError) as error:
            raise self.fail(key, f"{fmt!r} cannot format a number ({error!r})", allowed) from error

    def breakpoints(
        self, raw: Any, key: str, poor: float, good: float
    ) -> tuple[tuple[float, float], ...]:
        allowed = (
            f"an array of [value, score] pairs with values strictly between poor ({poor:g}) and "
            f"good ({good:g}) in that order and scores strictly increasing between 0 and 100"
        )
        if not isinstance(raw, list):
            raise self.fail(key, f"expected an array, got {raw!r}", allowed)
        points = [(poor, 0.0)]
        sign = 1 if good > poor else -1
        for i, pair in enumerate(raw):
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or any(
                    isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    for v in pair
                )
            ):
                raise self.fail(
                    f"{key}[{i}]", f"{pair!r} is not a [value, score] pair of numbers", allowed
                )
            value, score = float(pair[0]), float(pair[1])
            prev_value, prev_score = points[-1]
            if sign * (value - prev_value) <= 0 or sign * (good - value) <= 0:
                raise self.fail(f"{key}[{i}]", f"value {value:g} is out of order", allowed)
            if not prev_score < score < 100:
                raise self.fail(f"{key}[{i}]", f"score {score:g} is out of order", allowed)
            points.append((value, score))
        points.append((good, 100.0))
        return tuple(points)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" ≥ {low:g}"
    return ""


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
    >>> bands = load_scorecard().bands
    >>> [band_for(s, bands).label for s in (0, 50, 50.5, 51, 75, 75.2, 100)]
    ['red', 'red', 'yellow', 'yellow', 'yellow', 'green', 'green']
    >>> band_for(float("nan"), bands) is None
    True
    """
    bands = tuple(bands)
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    index = int(_band_index(np.array([float(score)]), bands)[0])
    if index < 0:
        raise ValueError(
            f"score {score!r} lies outside the bands {bands[0].low:g}-{bands[-1].high:g}; "
            "health scores are between 0 and 100"
        )
    return bands[index]


def _band_index(scores: np.ndarray, bands: tuple[Band, ...]) -> np.ndarray:
    """Band position per score, -1 for NaN or out of range (vectorised :func:`band_for`)."""
    highs = np.array([b.high for b in bands])
    # side="left": a score equal to a band's high belongs to that band (upper bound included).
    index = np.searchsorted(highs, scores, side="left")
    outside = np.isnan(scores) | (scores < bands[0].low) | (index >= len(bands))
    return np.where(outside, -1, index)


# --- scoring -------------------------------------------------------------------------


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
    n = len(indicators)
    measure_names = scorecard.measure_names()
    group_names = scorecard.group_names()
    measure_pos = {name: j for j, name in enumerate(measure_names)}
    group_pos = {name: g for g, name in enumerate(group_names)}
    n_measures, n_groups = len(measure_names), len(group_names)

    scores = np.full((n, n_measures), np.nan)
    values = np.full((n, n_measures), np.nan)
    weights = np.zeros((n, n_measures))  # measure weight within its group; 0 = not in the card
    measure_group = np.zeros((n, n_measures), dtype=np.int64)
    group_weights = np.zeros((n, n_groups))
    min_coverage = np.empty(n)
    card_of_row = np.zeros(n, dtype=np.int64)
    cards = [scorecard, *scorecard.segments.values()]

    columns = {
        name: _as_float(indicators[name])
        for name in scorecard.indicator_names()
        if name != "segment"
    }
    for c, (card, rows) in enumerate(zip(cards, _rows_per_card(indicators, scorecard))):
        if rows is not None and len(rows) == 0:
            continue
        at = slice(None) if rows is None else rows
        card_of_row[at] = c
        min_coverage[at] = card.min_coverage
        for group in card.groups:
            group_weights[at, group_pos[group.name]] = group.weight
        for measure in card.measures:
            j = measure_pos[measure.name]
            x = columns[measure.indicator][at]
            values[at, j] = x
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

    band_index = _band_index(health, scorecard.bands)
    labels = np.array(
        [b.label for b in scorecard.bands] + [scorecard.insufficient_label], dtype=object
    )
    colors = np.array(
        [b.color for b in scorecard.bands] + [scorecard.insufficient_color], dtype=object
    )

    # All columns built first and the frame made in one go: assigning them one by one
    # costs more than the scoring itself for a single account (the HTTP service's case).
    index = indicators.index.copy()
    trend, delta = _trend(health, previous_scores, scorecard.trend_tolerance)
    columns: dict[str, object] = {
        "health_score": health,
        "health_band": labels[band_index],  # -1 picks the "insufficient data" entry
        "health_color": colors[band_index],
        "health_coverage": coverage,
        "health_trend": pd.Series(trend, index=index, dtype=object),
        "health_delta": delta,
    }
    for g, name in enumerate(group_names):
        columns[f"group_{name}"] = group_scores[:, g]
    for j, name in enumerate(measure_names):
        columns[f"measure_{name}"] = np.where(weights[:, j] > 0, scores[:, j], np.nan)
    columns["health_drivers"] = pd.Series(
        _drivers(points_lost, values, sufficient, card_of_row, cards, measure_names),
        index=index,
        dtype=object,
    )
    out = pd.DataFrame(columns, index=index)
    return out


def _rows_per_card(indicators: pd.DataFrame, scorecard: Scorecard) -> list[np.ndarray | None]:
    """Row positions per card (default first); None for the default means "every row"."""
    if not scorecard.segments or "segment" not in indicators.columns:
        return [None] + [np.array([], dtype=np.int64)] * len(scorecard.segments)
    segment = indicators["segment"].astype(object).to_numpy()
    taken = np.zeros(len(indicators), dtype=bool)
    per_segment = []
    for name in scorecard.segments:
        mask = segment == name
        taken |= mask
        per_segment.append(np.flatnonzero(mask))
    return [np.flatnonzero(~taken), *per_segment]


def _as_float(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype="float64", na_value=np.nan)


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
    return _as_float(previous.reindex(index))


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

    # Everything but the value and the points is fixed per (card, measure): one template each.
    templates: dict[tuple[int, int], tuple[str, str, str]] = {}
    for c, card in enumerate(cards):
        for measure in card.measures:
            text = (
                f"{_escape(measure.label)}: {_numbered(measure.format)} "
                f"({_escape(measure.threshold_text())}) cost {{1:.1f}} points"
            )
            templates[(c, measure_names.index(measure.name))] = (
                measure.name,
                measure.indicator,
                text,
            )

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
        name, indicator, text = templates[(c, j)]
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
