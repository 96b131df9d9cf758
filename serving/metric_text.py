"""How a portfolio metric reads for people: its label, its value with the unit, its details.

The one wording of the metrics of :func:`features.period_metrics.period_metrics` across the
product: the ``metrics`` command's tables and the report's headline cards both take their
text from here. An undefined value is never shown as 0: it reads "n/a (reason)" in
sentences and on cards, and "—" in a table cell (the command prints the reasons under the
table, where they do not widen every column).

Two lengths of text exist on purpose: a table row has one compact details line
(:func:`detail_line`), a report card has a few short sentences (:func:`card_details`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from features.values import is_missing


@dataclass(frozen=True)
class UnitText:
    """How a value in one unit is written.

    Attributes
    ----------
    symbol : str
        What follows the number in a table cell (``"%"``, ``"h"``).
    word : str
        What follows the number in a sentence or on a card (``"%"``, ``"hours"``).
    digits : int
        Decimals in a table cell.
    card_digits : int
        Decimals on a report card, where a figure is read at a glance.
    signed : bool
        Whether a table cell shows the sign of a positive value (NPS runs from -100 to +100).
    change : str or None
        The word for a difference of two values when it is not ``word``: the difference of
        two percentages is in points.
    """

    symbol: str
    word: str
    digits: int
    card_digits: int | None = None
    signed: bool = False
    change: str | None = None

    @property
    def card(self) -> int:
        """Decimals on a card (the table's unless declared)."""
        return self.digits if self.card_digits is None else self.card_digits


#: How each unit of period_metrics is written; any other unit reads as a plain number.
UNITS: dict[str, UnitText] = {
    "percent": UnitText("%", "%", 1, change="points"),
    # A tenth of an NPS point is noise next to its margin of error: whole points on cards.
    "points": UnitText("", "points", 1, card_digits=0, signed=True),
    "score": UnitText("", "", 2),
    "hours": UnitText("h", "hours", 1),
    "seconds": UnitText("s", "seconds", 0),
    "currency": UnitText("", "", 2),
    "tickets": UnitText("", "", 0),
    "sessions": UnitText("", "sessions", 0),
    "orders": UnitText("", "orders", 2),
}
_PLAIN = UnitText("", "", 2)


@dataclass(frozen=True)
class MetricText:
    """The names of one metric and the unit of its value.

    Attributes
    ----------
    label : str
        Short name, for table rows and columns.
    unit : str
        The unit period_metrics gives its value in (a key of :data:`UNITS`).
    title : str or None
        Longer name for a report card; the label when None.
    higher_is_better : bool or None
        Which way a change is good, for the metrics whose direction is not in doubt.
    """

    label: str
    unit: str
    title: str | None = None
    higher_is_better: bool | None = None


#: Every metric key of period_metrics, in its display order.
METRICS: dict[str, MetricText] = {
    "nps": MetricText("NPS", "points", "Net Promoter Score", True),
    "csat": MetricText("CSAT", "percent", "Customer satisfaction (CSAT)", True),
    "ces": MetricText("CES", "score", "Customer effort (CES, higher = easier)", True),
    "churn_rate": MetricText("Churn rate", "percent", higher_is_better=False),
    "retention_rate": MetricText("Retention rate", "percent", higher_is_better=True),
    "repeat_purchase_rate": MetricText("Repeat purchase rate", "percent", higher_is_better=True),
    "return_rate": MetricText("Return rate (units)", "percent"),
    "average_order_value": MetricText("Average order value", "currency", higher_is_better=True),
    "purchase_frequency": MetricText("Orders per buyer", "orders"),
    "conversion_rate": MetricText("Conversion (sessions)", "percent"),
    "organic_clicks": MetricText("Organic clicks", "sessions", "Sessions from organic search", True),
    "dau": MetricText("DAU", "users"),
    "pages_per_session": MetricText("Pages per session", "pages"),
    "avg_session_duration": MetricText("Avg session duration", "seconds"),
    "ticket_volume": MetricText("Ticket volume", "tickets"),
    "resolution_time": MetricText("Resolution time (mean)", "hours", "Ticket resolution time", False),
    "first_response_time": MetricText("First response (mean)", "hours"),
    "resolution_rate": MetricText("Resolution rate", "percent"),
    "clv": MetricText("CLV", "currency", higher_is_better=True),
}


def label(key: str) -> str:
    """The short label of a metric.

    >>> label("clv"), label("churn_rate")
    ('CLV', 'Churn rate')
    """
    return METRICS[key].label


def title(key: str) -> str:
    """The card title of a metric: its long name when it has one, else its label.

    >>> title("nps"), title("churn_rate")
    ('Net Promoter Score', 'Churn rate')
    """
    return METRICS[key].title or METRICS[key].label


def metric_entry(results: dict, key: str) -> dict:
    """The result of metric ``key`` as a dict with at least ``value`` and ``reason``.

    A result may be a dict (period_metrics), an object with ``as_dict`` (a
    :class:`features.survey_metrics.MetricResult`) or a bare number; a metric that is not in
    ``results`` is undefined with the reason "not computed".

    >>> metric_entry({"nps": 12.0}, "nps")
    {'value': 12.0, 'reason': None}
    >>> metric_entry({}, "csat")
    {'value': None, 'reason': 'not computed'}
    """
    entry = results.get(key)
    if hasattr(entry, "as_dict"):
        entry = entry.as_dict()
    if isinstance(entry, dict):
        return entry
    return {"value": entry, "reason": None if entry is not None else "not computed"}


def format_value(
    value: Any, *, unit: str = "", digits: int = 1, reason: str | None = None, signed: bool = False
) -> str:
    """A figure as text; an undefined figure as "n/a (reason)", never 0.

    Parameters
    ----------
    value : number or None
        Whole numbers are written without decimals.
    unit : str
        Text after the number: ``"%"`` sticks to it, any other word follows a space.
    digits : int
        Decimals of a non-whole number.
    reason : str, optional
        Why the figure is undefined; "not available" when not given.
    signed : bool
        Write the sign of a positive number too.

    Examples
    --------
    >>> format_value(42.345, unit="%")
    '42.3%'
    >>> format_value(None, reason="no survey answers in the period")
    'n/a (no survey answers in the period)'
    >>> format_value(1234567, digits=0)
    '1,234,567'
    >>> format_value(0.0, unit="points", signed=True)
    '+0.0 points'
    """
    if is_missing(value):
        return f"n/a ({reason or 'not available'})"
    sign = "+" if signed else ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = f"{int(value):{sign},}"
    else:
        text = f"{float(value):{sign},.{digits}f}"
    return f"{text}{unit}" if unit in ("%", "") else f"{text} {unit}"


def _unit(unit: str | None) -> UnitText:
    return UNITS.get(unit or "", _PLAIN)


def cell_text(metric: dict) -> str:
    """A metric's value in a table cell, with its unit; "—" when undefined.

    >>> cell_text({"value": 33.333, "unit": "percent"}), cell_text({"value": 0.0, "unit": "points"})
    ('33.3%', '+0.0')
    >>> cell_text({"value": 12, "unit": "hours"}), cell_text({"value": None, "reason": "no tickets"})
    ('12.0 h', '—')
    """
    value = metric.get("value")
    if is_missing(value):
        return "—"
    unit = _unit(metric.get("unit"))
    # float() so that a whole value keeps the unit's decimals: 50 percent reads "50.0%".
    return format_value(float(value), unit=unit.symbol, digits=unit.digits, signed=unit.signed)


def card_value(key: str, entry: dict) -> str:
    """A metric's value on a report card: "30 points", "80.0%", or "n/a (reason)".

    >>> card_value("nps", {"value": 30.0}), card_value("csat", {"value": None, "reason": "no responses"})
    ('30 points', 'n/a (no responses)')
    """
    unit = _unit(METRICS[key].unit)
    return format_value(entry.get("value"), unit=unit.word, digits=unit.card, reason=entry.get("reason"))


def change_text(key: str, delta: float) -> str:
    """The size of a change of metric ``key`` (no sign), as a card shows it.

    >>> change_text("churn_rate", -2.0), change_text("nps", 10.0)
    ('2.0 points', '10 points')
    """
    unit = _unit(METRICS[key].unit)
    return format_value(abs(delta), unit=unit.change or unit.word, digits=unit.card)


def is_unchanged(key: str, delta: float) -> bool:
    """True when a change of metric ``key`` rounds to 0 at the card's precision.

    >>> is_unchanged("nps", 0.4), is_unchanged("csat", 0.4)
    (True, False)
    """
    return round(delta, _unit(METRICS[key].unit).card) == 0


def card_details(key: str, entry: dict) -> list[str]:
    """The components worth showing under a headline figure, in words.

    >>> card_details("churn_rate", {"value": 6.8, "lost": 16, "active_at_start": 236})
    ['16 of 236 accounts active at the start left']
    """
    details = []
    if key == "nps":
        parts = []
        for name in ("promoter", "passive", "detractor"):
            share, count = entry.get(f"{name}_share"), entry.get(f"{name}s")
            if not is_missing(share) and not is_missing(count):
                parts.append(f"{name}s {float(share):.0f}% ({int(count):,})")
            elif not is_missing(share):
                parts.append(f"{name}s {float(share):.0f}%")
        if parts:
            details.append(", ".join(parts))
        margin = entry.get("margin_of_error")
        if not is_missing(margin):
            details.append(f"margin of error ±{float(margin):.1f} points (95%)")
    responses = entry.get("responses", entry.get("n", entry.get("count")))
    if key in ("nps", "csat", "ces") and not is_missing(responses):
        details.append(f"{int(responses):,} answers")
    if key in ("csat", "ces") and not is_missing(entry.get("mean")):
        details.append(f"mean answer {float(entry['mean']):.2f}")
    if key == "churn_rate":
        lost, start = entry.get("lost"), entry.get("active_at_start")
        if not is_missing(lost) and not is_missing(start):
            details.append(f"{int(lost):,} of {int(start):,} accounts active at the start left")
    if key == "resolution_time":
        median = entry.get("median_hours")
        if not is_missing(median):
            details.append(f"median {float(median):.1f} hours")
        resolved = entry.get("resolved")
        if not is_missing(resolved):
            details.append(f"{int(resolved):,} tickets resolved in the period")
        backlog = entry.get("open_backlog")
        if not is_missing(backlog):
            details.append(f"{int(backlog):,} tickets still open at the end")
    return details


def detail_line(key: str, m: dict) -> str:
    """The components of a metric in one line for a table row; the reason when undefined.

    >>> detail_line("churn_rate", {"value": 6.8, "lost": 16, "active_at_start": 236, "acquired_and_lost": 2})
    '16 lost of 236 at start; 2 joined and left (not counted)'
    >>> detail_line("nps", {"value": None, "reason": "no responses"})
    'no responses'
    """
    if m.get("value") is None:
        return m.get("reason") or ""
    if key == "nps":
        return (f"{m['promoters']} promoters, {m['passives']} passives, {m['detractors']} "
                f"detractors of {m['responses']}; ±{m['margin_of_error']:.1f} at 95%")
    if key == "csat":
        return f"{m['satisfied']} of {m['responses']} satisfied (≥ {m['satisfied_at']}); mean {m['mean']:.2f}"
    if key == "ces":
        return f"{m['responses']} responses on {m['scale']}, higher is easier"
    if key == "churn_rate":
        return (f"{m['lost']} lost of {m['active_at_start']} at start; "
                f"{m['acquired_and_lost']} joined and left (not counted)")
    if key == "retention_rate":
        # Shown as the formula's own terms so the figure can be checked by hand.
        still_here = m["acquired"] - m["acquired_and_lost"]
        return (f"({m['active_at_end']} at end − {still_here} new and still active) "
                f"/ {m['active_at_start']} at start")
    if key == "repeat_purchase_rate":
        return f"{m['repeat_buyers']} of {m['buyers']} buyers ordered twice or more"
    if key == "average_order_value":
        return f"{m['revenue']:,.0f} over {m['orders']:,} orders"
    if key == "purchase_frequency":
        per_year = "" if m["per_year"] is None else f"; {m['per_year']:,.1f} a year"
        return f"{m['orders']:,} orders by {m['buyers']:,} buyers{per_year}"
    if key == "return_rate":
        return f"{m['units_returned']:,.0f} of {m['units_sold']:,.0f} units; by value {cell_text(m['by_value'])}"
    if key == "conversion_rate":
        return f"{m['conversions']:,} of {m['visitors']:,} sessions; by users {cell_text(m['by_users'])}"
    if key == "organic_clicks":
        return f"{cell_text({'value': m['share'], 'unit': 'percent'})} of {m['sessions']:,} sessions; growth {cell_text(m['growth'])}"
    if key == "dau":
        return f"MAU {m['mau']:,.1f}, stickiness {cell_text(m['stickiness'])}, peak {m['peak_dau']:,}"
    if key == "pages_per_session":
        return f"{m['sessions']:,} sessions"
    if key == "avg_session_duration":
        return f"median {m['median_seconds']:,.0f} s over {m['sessions']:,} sessions"
    if key == "ticket_volume":
        return ", ".join(f"{c} {n:,}" for c, n in m["by_channel"].items())
    if key in ("resolution_time", "first_response_time"):
        done, waiting = ("resolved", "open_backlog") if key == "resolution_time" else ("responded", "awaiting_response")
        return f"median {m['median_hours']:,.1f} h over {m[done]:,}; {m[waiting]:,} still open"
    if key == "resolution_rate":
        return ", ".join(f"{c} {cell_text(r)}" for c, r in m["by_channel"].items())
    if key == "clv":
        capped = " (capped)" if m["lifetime_capped"] else ""
        return f"lifetime {m['lifetime_years']:.1f} y{capped}; affordable CAC {m['affordable_acquisition_cost']:,.0f}"
    return ""
