"""Writing a scorecard as a TOML file a person can review as a diff (``docs/scorecard.md``).

:func:`scorecard_toml` is the inverse of :func:`features.scorecard_config.load_scorecard`:
the text it returns loads back to the same scorecard. Given the scorecard it replaces, every
value that changed carries a comment saying what it was and, when known, why it moved, so a
customer-success lead can read a suggestion line by line before adopting it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from features.scorecard import Group, Measure, Scorecard
from features.scorecard_config import measure_defaults

# Path of a value in the file (``measures.csat.poor``, ``segments.SMB.groups.support.weight``).
Path = str


def scorecard_toml(
    card: Scorecard,
    *,
    previous: Scorecard | None = None,
    notes: Mapping[Path, str] | None = None,
    header: str = "",
) -> str:
    """The TOML text of ``card``, with a comment on every value that differs from ``previous``.

    Parameters
    ----------
    card : Scorecard
        The scorecard to write.
    previous : Scorecard, optional
        The scorecard it replaces; each changed value gets ``# was <old>``.
    notes : mapping of str to str, optional
        Why a value moved, by its path in the file (``measures.csat.poor``,
        ``segments.Enterprise.measures.csat.weight``); appended to the comment.
    header : str
        Comment lines for the top of the file (``#`` is added to each line).

    Returns
    -------
    str

    Examples
    --------
    >>> from dataclasses import replace
    >>> from features.scorecard_config import load_scorecard, scorecard_from_dict
    >>> import tomllib
    >>> card = load_scorecard()
    >>> text = scorecard_toml(card)
    >>> scorecard_from_dict(tomllib.loads(text), source=card.source) == card
    True
    >>> group = replace(card.groups[0], weight=40.0)
    >>> changed = replace(card, groups=(group, *card.groups[1:]), segments={})
    >>> lines = scorecard_toml(changed, previous=card, notes={"groups.engagement.weight": "more evidence"})
    >>> [line for line in lines.splitlines() if "was" in line]
    ['weight = 40  # was 35: more evidence']
    """
    writer = _Writer(previous, notes or {})
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    if out:
        out.append("")
    out += [
        writer.line("min_coverage", card.min_coverage),
        writer.line("trend_tolerance", card.trend_tolerance),
        writer.line("insufficient_label", card.insufficient_label),
        writer.line("insufficient_color", card.insufficient_color),
    ]
    for band in card.bands:
        out += ["", "[[bands]]"]
        out += [f"{key} = {_value(getattr(band, key))}" for key in ("label", "low", "high", "color")]
    out += ["", "# --- groups " + "-" * 76]
    for group in card.groups:
        out += ["", f"[groups.{group.name}]", *writer.group(group, "groups")]
    out += ["", "# --- measures " + "-" * 74]
    for measure in card.measures:
        out += ["", f"[measures.{measure.name}]", *writer.measure(measure, "measures", None)]
    if card.segments:
        out += ["", "# --- per-segment scorecards: only what differs from the default above " + "-" * 17]
    for name, segment in card.segments.items():
        out += writer.segment(name, segment, card)
    return "\n".join(out) + "\n"


class _Writer:
    """Lines of ``key = value``, with ``# was ...`` where ``previous`` held another value."""

    def __init__(self, previous: Scorecard | None, notes: Mapping[Path, str]) -> None:
        self.before = _flat(previous) if previous is not None else {}
        self.notes = notes

    def line(self, path: Path, value: object) -> str:
        key = path.rsplit(".", 1)[-1]
        text = f"{key} = {_value(value)}"
        if not self.before:
            return text
        note = self.notes.get(path)
        if path not in self.before:
            return f"{text}  # new" + (f": {note}" if note else "")
        old = self.before[path]
        if _same(old, value):
            return text
        return f"{text}  # was {_value(old)}" + (f": {note}" if note else "")

    def group(self, group: Group, prefix: str, base: Group | None = None) -> list[str]:
        lines = []
        if base is None or group.label != base.label:
            lines.append(self.line(f"{prefix}.{group.name}.label", group.label))
        if base is None or group.weight != base.weight:
            lines.append(self.line(f"{prefix}.{group.name}.weight", group.weight))
        return lines

    def measure(self, measure: Measure, prefix: str, base: Measure | None) -> list[str]:
        at = f"{prefix}.{measure.name}"
        label, fmt = measure_defaults(measure.name, measure.indicator)
        values = {
            "group": measure.group,
            "indicator": measure.indicator,
            "label": measure.label if measure.label != label else None,
            "poor": measure.poor,
            "good": measure.good,
            "breakpoints": [list(p) for p in measure.points[1:-1]],
            "weight": measure.weight,
            "format": measure.format if measure.format != fmt else None,
        }
        based = _measure_values(base) if base is not None else {}
        lines = []
        for key, value in values.items():
            if value is None or (key == "breakpoints" and not value and "breakpoints" not in based):
                continue
            if base is not None and _same(based.get(key), value):
                continue
            lines.append(self.line(f"{at}.{key}", value))
        return lines

    def segment(self, name: str, segment: Scorecard, default: Scorecard) -> list[str]:
        prefix = f"segments.{name}"
        out = ["", f"[{prefix}]"]
        if segment.min_coverage != default.min_coverage:
            out.append(self.line(f"{prefix}.min_coverage", segment.min_coverage))
        groups = {g.name: g for g in default.groups}
        for group in segment.groups:
            lines = self.group(group, f"{prefix}.groups", groups.get(group.name))
            if lines:
                out += ["", f"[{prefix}.groups.{group.name}]", *lines]
        measures = {m.name: m for m in default.measures}
        for measure in segment.measures:
            lines = self.measure(measure, f"{prefix}.measures", measures.get(measure.name))
            if lines:
                out += ["", f"[{prefix}.measures.{measure.name}]", *lines]
        return out


def _measure_values(measure: Measure) -> dict[str, object]:
    return {
        "group": measure.group,
        "indicator": measure.indicator,
        "label": measure.label,
        "poor": measure.poor,
        "good": measure.good,
        "breakpoints": [list(p) for p in measure.points[1:-1]],
        "weight": measure.weight,
        "format": measure.format,
    }


def _flat(card: Scorecard) -> dict[Path, object]:
    """Every value of a scorecard by its path, segments with their effective values."""
    flat: dict[Path, object] = {
        "min_coverage": card.min_coverage,
        "trend_tolerance": card.trend_tolerance,
        "insufficient_label": card.insufficient_label,
        "insufficient_color": card.insufficient_color,
    }

    def add(one: Scorecard, prefix: str) -> None:
        flat[f"{prefix}min_coverage"] = one.min_coverage
        for group in one.groups:
            flat[f"{prefix}groups.{group.name}.label"] = group.label
            flat[f"{prefix}groups.{group.name}.weight"] = group.weight
        for measure in one.measures:
            for key, value in _measure_values(measure).items():
                flat[f"{prefix}measures.{measure.name}.{key}"] = value

    add(card, "")
    for name, segment in card.segments.items():
        add(segment, f"segments.{name}.")
    return flat


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _value(value: object) -> str:
    """A TOML value: numbers as a person writes them, strings quoted, arrays of pairs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.10g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
