"""The report as plain data: sections of text, cards, tables, charts and images.

:mod:`serving.report.gather` builds a :class:`Report` from the scores, the input tables and
the model card; :mod:`serving.report.plots` draws its charts; :mod:`serving.report.render`
writes it as HTML. Nothing here draws, renders or reads MLflow, so a report can be checked
(or rendered some other way) without matplotlib or jinja.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Section ids, in the order they appear in the report.
REPORT_SECTIONS = ("headline", "call-list", "distribution", "segments", "at-risk", "history", "trends",
                   "model")


class ReportError(ValueError):
    """The report cannot be built from what was given; the message says what to fix."""


# --- blocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A paragraph; ``css`` is ``"note"`` (small print), ``"lead"`` or ``"warning"``."""

    text: str
    css: str = "note"


@dataclass(frozen=True)
class Card:
    """One headline metric: its value, its change against the previous period, its details."""

    key: str
    label: str
    value: str
    undefined: bool
    trend: str
    trend_class: str  # better, worse, same or na
    details: list[str]


@dataclass(frozen=True)
class Cards:
    """The headline cards, side by side."""

    cards: list[Card]


@dataclass(frozen=True)
class Link:
    """A link to a file beside the report (a relative ``href``), such as the whole call list."""

    href: str
    text: str


@dataclass(frozen=True)
class Table:
    """A table of ready-made cells, one dict per row.

    A cell is text, a list of sentences (drivers), a band ``{"band": ..., "color": ...}``
    or a sparkline ``{"segments": [...], "runs": n, "title": ...}``
    (:func:`serving.report.calls.sparkline`).
    """

    name: str
    columns: list[str]
    numeric: list[str]
    rows: list[dict[str, Any]]
    caption: str | None = None

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame, *, numeric=(), caption: str | None = None) -> Table:
        """A table of the rows of ``frame``; ``numeric`` columns are aligned right."""
        return cls(name, list(frame.columns), list(numeric), frame.to_dict(orient="records"), caption)


@dataclass(frozen=True)
class Series:
    """Values at consecutive period starts; NaN is a gap, never 0."""

    starts: list[pd.Timestamp]
    values: list[float]
    margins: list[float] | None = None  # ± around each value (95%)


@dataclass(frozen=True)
class ScoreHistogram:
    """Health scores per band, worst band first, for a stacked histogram."""

    scores: dict[str, list[float]]
    colors: dict[str, str]


@dataclass(frozen=True)
class BandShares:
    """The share (%) of each segment's accounts in each band, worst band first."""

    segments: list[str]
    shares: dict[str, list[float]]
    colors: dict[str, str]


@dataclass(frozen=True)
class MonthlyTrends:
    """NPS (with its margin of error), CSAT and comment tone per month."""

    nps: Series
    csat: Series
    tone: Series


@dataclass(frozen=True)
class BandsOverTime:
    """The share (%) of all accounts in each band at each run, worst band first."""

    dates: list[pd.Timestamp]
    shares: dict[str, list[float]]
    colors: dict[str, str]


Chart = ScoreHistogram | BandShares | MonthlyTrends | BandsOverTime


@dataclass(frozen=True)
class Figure:
    """A chart to draw (:mod:`serving.report.plots`), named for the page and its tests."""

    name: str
    alt: str
    caption: str | None
    chart: Chart


@dataclass(frozen=True)
class Image:
    """A picture that is already drawn, such as a plot logged with the model."""

    name: str
    alt: str
    caption: str | None
    png: bytes


Block = Text | Cards | Table | Figure | Image | Link


# --- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One section of the report: an id (:data:`REPORT_SECTIONS`), a title and its blocks."""

    id: str
    title: str
    lead: str | None
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """Everything the report says, in order."""

    title: str
    subtitle: str
    footer: str
    sections: list[Section]

    def figures(self) -> list[Figure]:
        """The charts to draw, in page order."""
        return [block for section in self.sections for block in section.blocks if isinstance(block, Figure)]
