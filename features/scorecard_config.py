"""Reading and checking a scorecard TOML file (``docs/scorecard.md``).

:func:`load_scorecard` reads a file (the packaged default when none is given) and
:func:`scorecard_from_dict` checks a parsed configuration. Every problem raises
:class:`~features.scorecard.ScorecardConfigError` naming the key (``measures.csat.weight``,
``bands[1].low``) and the values allowed there. The indicators a measure may read are the
numeric columns of the indicator catalogue (:mod:`features.catalogue`), read when called.
"""

from __future__ import annotations

import difflib
import math
import string
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from features.catalogue import (
    categorical_columns,
    describe_indicator,
    indicator_columns,
)
from features.scorecard import (
    DEFAULT_BANDS,
    Band,
    Group,
    Measure,
    Scorecard,
    ScorecardConfigError,
)

DEFAULT_SCORECARD = "scorecard_default.toml"
#: The default when churn is a lapse in ordering (a shop, features.churn_definition).
TRANSACTIONAL_SCORECARD = "scorecard_transactional.toml"


def default_scorecard_name(churn: Any = None) -> str:
    """The packaged default for a churn definition: the shop's under a lapse.

    Examples
    --------
    >>> from features.churn_definition import ChurnDefinition
    >>> default_scorecard_name(), default_scorecard_name(ChurnDefinition("lapse", 90))
    ('scorecard_default.toml', 'scorecard_transactional.toml')
    """
    return TRANSACTIONAL_SCORECARD if getattr(churn, "is_lapse", False) else DEFAULT_SCORECARD
#: ``known_indicators`` default: the indicator catalogue's columns at its default windows.
CATALOGUE = "catalogue"

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


def load_scorecard(
    path: str | Path | None = None,
    *,
    known_indicators: Iterable[str] | str | None = CATALOGUE,
    churn: Any = None,
) -> Scorecard:
    """Read and validate a scorecard TOML file.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; ``None`` loads the packaged default (``docs/scorecard.md``).
    known_indicators : iterable of str or None
        Indicator names a measure may read; by default (``"catalogue"``) the columns of the
        indicator catalogue (docs/indicators.md) at the default windows. ``None`` accepts
        any name (for indicator tables computed with other windows).
    churn : ChurnDefinition, optional
        Without a ``path``, picks the packaged default (:func:`default_scorecard_name`):
        the transactional one when churn is a lapse (``Tables.churn``).

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
        name = default_scorecard_name(churn)
        text = Path(__file__).with_name(name).read_text("utf-8")
        source = f"features/{name}"
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
    known_indicators: Iterable[str] | str | None = CATALOGUE,
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
    if known_indicators == CATALOGUE:
        known_indicators = indicator_columns()
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
        if indicator in categorical_columns():
            raise self.fail(
                f"{key}.indicator",
                f"{indicator!r} holds labels, not numbers",
                "a numeric indicator of docs/indicators.md",
            )
        if self.known is not None and indicator not in self.known:
            numeric = sorted(self.known - set(categorical_columns()))
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
        default_label, default_format = measure_defaults(name, indicator)
        label = self.text(item, "label", default_label, key=f"{key}.label")
        weight = self.number(item, "weight", 1.0, key=f"{key}.weight", low=0)
        fmt = self.text(item, "format", default_format, key=f"{key}.format")
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


def measure_defaults(name: str, indicator: str) -> tuple[str, str]:
    """The ``label`` and ``format`` a measure gets when its table sets none.

    Without them a measure reads like its indicator does everywhere else (churn drivers,
    reports); a name outside the catalogue falls back to plain words.

    Examples
    --------
    >>> measure_defaults("csat", "csat_180d")
    ('CSAT, last 180 days', '{:.0f}%')
    >>> measure_defaults("seats_used", "SeatsUsed")
    ('Seats used', '{:.4g}')
    """
    described = describe_indicator(indicator, strict=False)
    if described.format is not None:
        return described.label, described.format
    return name.replace("_", " ").capitalize(), "{:.4g}"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" ≥ {low:g}"
    return ""
