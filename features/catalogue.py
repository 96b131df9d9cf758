"""The indicator catalogue: one record per account indicator, the one declaration of each.

Everything that names or describes an indicator derives from :data:`CATALOGUE`: the columns
:func:`features.indicators.compute_indicators` writes and their order
(:func:`indicator_columns`), the indicators a scorecard may read, the fields, ranges and
descriptions of the HTTP service's request schema, the driver texts ("CSAT, last 90 days
is 38%"), reports, and the table of ``docs/indicators.md`` (:func:`markdown_table`; a test
checks the document holds it as generated). Adding an indicator is one record here plus
its computation in :mod:`features.indicators`.

A windowed record (``windowed=True``) stands for one column per trailing window:
``sessions`` gives ``sessions_30d``, ``sessions_90d``, ... Its label holds ``{window}``
("Sessions, {window}" reads "Sessions, last 90 days").
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from features.values import is_missing

#: Trailing windows in days, unless a caller asks for others.
DEFAULT_WINDOWS = (30, 90, 180)
#: An upper bound equal to the indicator's own window in days (active days in 90 days ≤ 90).
WINDOW = "window"
# A percent change computed as (new - old) / old x 100 can land a rounding error below
# -100 (-100.00000000000001 when new is 0); the bound allows for it.
PERCENT_CHANGE_MIN = -100.000001
NO_DATA = "no data"
#: Horizon in days of the predictive CLV indicators (``expected_orders_365d``, ...).
CLV_HORIZON_DAYS = 365


@dataclass(frozen=True)
class Indicator:
    """One indicator (or one family of windowed indicators).

    Attributes
    ----------
    stem : str
        The column name, or its stem before ``_{w}d`` when ``windowed``.
    windowed : bool
        One column per trailing window.
    group : str
        The family it belongs to: account, engagement, support, satisfaction, sentiment or
        commercial.
    label : str
        Name in plain words; ``{window}`` is replaced by "last 90 days".
    unit : str
        ``"%"`` (0-100), ``"days"``, ``"hours"``, ``"minutes"``, ``"pages"``, ``"count"``,
        ``"currency"`` (the currency of the data), a scale (``"0–10"``, ``"−1…1"``),
        ``"yes/no"`` (1 / 0) or ``"category"`` (text).
    good_is : {"higher", "lower"} or None
        Which direction is healthier; None when neither is.
    format : str
        Python format string with one field for a value (``"{:.0f}%"``).
    meaning : str
        How it is computed, in one line (the document's "meaning" column).
    minimum, maximum : float, "window" or None
        The valid range a request is checked against; None is open, :data:`WINDOW` the
        indicator's window in days.
    example : float or str or None
        A typical value, for the API documentation.
    note : str
        What the API description adds (what leaving the field out means).
    """

    stem: str
    windowed: bool
    group: str
    label: str
    unit: str
    good_is: Literal["higher", "lower"] | None
    format: str
    meaning: str
    minimum: float | None = None
    maximum: float | str | None = None
    example: float | str | None = None
    note: str = ""

    @property
    def is_category(self) -> bool:
        """Whether the indicator holds labels (text) rather than numbers."""
        return self.unit == "category"

    def columns(self, windows: Iterable[int]) -> list[str]:
        """The column names of this indicator for ``windows``."""
        return [f"{self.stem}_{w}d" for w in windows] if self.windowed else [self.stem]


def _ind(stem, group, label, unit, good_is, fmt, meaning, *, windowed=None, low=None, high=None,
         example=None, note="") -> Indicator:
    windowed = "{window}" in label if windowed is None else windowed
    return Indicator(stem, windowed, group, label, unit, good_is, fmt, meaning, low, high,
                     example, note)


_PCT_CHANGE = "A percent change: -100 or more."

#: Every indicator, in output order.
CATALOGUE: tuple[Indicator, ...] = (
    # account
    _ind("segment", "account", "Segment", "category", None, "{}", "copied from accounts",
         example="enterprise"),
    _ind("region", "account", "Region", "category", None, "{}", "copied from accounts",
         example="emea"),
    _ind("plan", "account", "Plan", "category", None, "{}", "copied from accounts",
         example="pro"),
    _ind("tenure_days", "account", "Tenure", "days", "higher", "{:,.0f} days",
         "days from signup_date to as_of", low=0, example=412),
    _ind("mrr", "account", "Monthly recurring revenue", "currency", "higher", "{:,.0f}",
         "monthly recurring revenue", low=0, example=1250.0),
    # engagement
    _ind("active_days", "engagement", "Active days, {window}", "days", "higher", "{:,.0f}",
         "distinct calendar days (UTC) with a session", low=0, high=WINDOW, example=12),
    _ind("sessions", "engagement", "Sessions, {window}", "count", "higher", "{:,.0f}",
         "sessions started", low=0, example=40),
    _ind("active_users", "engagement", "Active users, {window}", "count", "higher", "{:,.0f}",
         "distinct user_id with a session", low=0, example=5),
    _ind("pages_per_session", "engagement", "Pages per session, {window}", "pages", "higher",
         "{:,.1f}", "mean page_views per session", low=0, example=6.5),
    _ind("avg_session_minutes", "engagement", "Average session length, {window}", "minutes",
         "higher", "{:,.1f} min", "mean duration_seconds / 60", low=0, example=11.2),
    _ind("days_since_last_activity", "engagement", "Days since last activity", "days", "lower",
         "{:,.0f}", "days since the last session (NaN: never)", low=0, example=3,
         note="Leave it out when the account never had a session."),
    _ind("sessions_trend_30d", "engagement", "Sessions trend, last 30 days vs the 30 before",
         "%", "higher", "{:+,.0f}%",
         "% change of sessions, last 30 days vs the 30 before (NaN when the 30 before had none)",
         low=PERCENT_CHANGE_MIN, example=-12.5, note=_PCT_CHANGE),
    # support
    _ind("tickets", "support", "Support tickets, {window}", "count", "lower", "{:,.0f}",
         "tickets created", low=0, example=2),
    _ind("resolution_hours_mean", "support", "Mean resolution time, {window}", "hours", "lower",
         "{:,.1f} h", "over tickets resolved in the window (whenever created)", low=0,
         example=18.0),
    _ind("resolution_hours_median", "support", "Median resolution time, {window}", "hours",
         "lower", "{:,.1f} h", "over tickets resolved in the window (whenever created)", low=0,
         example=12.0),
    _ind("first_response_hours_mean", "support", "Mean first-response time, {window}", "hours",
         "lower", "{:,.1f} h", "over tickets first answered in the window", low=0, example=2.5),
    _ind("open_tickets", "support", "Open tickets", "count", "lower", "{:,.0f}",
         "tickets created before as_of and not resolved before as_of", low=0, example=1),
    _ind("open_ticket_age_days_max", "support", "Age of the oldest open ticket", "days", "lower",
         "{:,.0f} days", "age of the oldest open ticket (NaN: none open)", low=0, example=9),
    _ind("reopened_share", "support", "Reopened tickets, {window}", "%", "lower", "{:.0f}%",
         "% of tickets created in the window reopened at least once (tickets with unknown "
         "reopened_count left out)", low=0, high=100, example=10.0),
    # satisfaction
    _ind("nps_latest", "satisfaction", "Latest NPS answer", "0–10", "higher", "{:.0f}",
         "latest NPS answer 0–10", low=0, high=10, example=8),
    _ind("nps_category_latest", "satisfaction", "Latest NPS category", "category", None, "{}",
         "promoter (9–10) / passive (7–8) / detractor (0–6)", example="passive"),
    _ind("nps_mean", "satisfaction", "Mean NPS answer, {window}", "0–10", "higher", "{:.1f}",
         "mean NPS answer", low=0, high=10, example=7.5),
    _ind("csat", "satisfaction", "CSAT, {window}", "%", "higher", "{:.0f}%",
         "% satisfied answers (CSAT scale top boxes, `SurveyScales.csat.satisfied_at`)",
         low=0, high=100, example=80.0),
    _ind("csat_latest", "satisfaction", "Latest CSAT answer (a review score)", "CSAT scale",
         "higher", "{:.0f}", "the latest csat answer before as_of", example=4,
         note="Leave it out when the account never answered a CSAT survey or review."),
    _ind("csat_mean", "satisfaction", "Mean CSAT answer, {window}", "CSAT scale", "higher",
         "{:.1f}", "mean CSAT answer", low=0, example=4.1),
    _ind("ces_mean", "satisfaction", "CES (higher = easier), {window}", "CES scale", "higher",
         "{:.1f}", "mean CES answer, higher = easier", low=0, example=3.9),
    # sentiment
    _ind("comments", "sentiment", "Readable comments, {window}", "count", None, "{:,.0f}",
         "comments read: English by TextBlob, other languages by a polarity learnt from "
         "survey scores (docs/languages.md)", low=0, example=3),
    _ind("sentiment_mean", "sentiment", "Comment sentiment, {window}", "−1…1", "higher",
         "{:+.2f}", "mean polarity −1…1 of readable comments", low=-1, high=1, example=0.2),
    _ind("negative_comment_share", "sentiment", "Negative comments, {window}", "%", "lower",
         "{:.0f}%", "% of readable comments with polarity < −0.1", low=0, high=100,
         example=25.0),
    _ind("unsupported_comment_share", "sentiment", "Comments in unsupported languages, {window}",
         "%", None, "{:.0f}%",
         "% of comments (read + unsupported) in a language neither TextBlob nor a learnt "
         "polarity reads",
         low=0, high=100, example=0.0),
    _ind("sentiment_latest", "sentiment", "Latest comment sentiment", "−1…1", "higher", "{:+.2f}",
         "polarity of the latest readable comment", low=-1, high=1, example=0.1),
    _ind("sentiment_trend_90d", "sentiment",
         "Comment sentiment trend, last 90 days vs the 90 before", "−2…2", "higher", "{:+.2f}",
         "mean polarity last 90 days minus the 90 before", low=-2, high=2, example=-0.05),
    # commercial
    _ind("orders", "commercial", "Orders, {window}", "count", "higher", "{:,.0f}",
         "orders placed", low=0, example=4),
    _ind("repeat_purchase", "commercial", "Repeat purchase, {window}", "yes/no", "higher",
         "{:.0f}", "1 when 2+ orders in the window, 0 with 1, NaN with none", low=0, high=1,
         example=1, note="Leave it out when the account placed no order."),
    _ind("return_rate", "commercial", "Items returned, {window}", "%", "lower", "{:.0f}%",
         "% of items of the window's orders returned (before as_of)", low=0, high=100,
         example=5.0),
    _ind("revenue", "commercial", "Revenue, {window}", "currency", "higher", "{:,.0f}",
         "sum of order amounts", low=0, example=3200.0),
    _ind("revenue_trend_90d", "commercial", "Revenue trend, last 90 days vs the 90 before", "%",
         "higher", "{:+,.0f}%",
         "% change of revenue, last 90 days vs the 90 before (NaN when the 90 before had none)",
         low=PERCENT_CHANGE_MIN, example=8.0, note=_PCT_CHANGE),
    # shop indicators (features.shop_indicators)
    _ind("days_since_last_order", "commercial", "Days since last order", "days", "lower",
         "{:,.0f}", "days since the last order (NaN: never ordered)", low=0, example=21,
         note="Leave it out when the account never ordered."),
    _ind("lapse_elapsed", "commercial", "Share of the lapse gone since the last order", "%",
         "lower", "{:.0f}%",
         "days since the last order / the churn definition's lapse_days x 100 (NaN: churn "
         "is recorded, or never ordered)", low=0, example=35.0,
         note="Leave it out when churn is recorded rather than a lapse."),
    _ind("order_gap_days_mean", "commercial", "Mean days between orders", "days", "lower",
         "{:,.0f}", "mean gap between consecutive orders, all history (NaN with under 2 orders)",
         low=0, example=45),
    _ind("orders_trend_90d", "commercial", "Orders trend, last 90 days vs the 90 before", "%",
         "higher", "{:+,.0f}%",
         "% change of orders, last 90 days vs the 90 before (NaN when the 90 before had none)",
         low=PERCENT_CHANGE_MIN, example=-25.0, note=_PCT_CHANGE),
    _ind("average_order_value", "commercial", "Average order value, {window}", "currency",
         "higher", "{:,.2f}", "revenue / orders in the window (NaN without orders)", low=0,
         example=85.0),
    _ind("returned_value_share", "commercial", "Order value returned, {window}", "%", "lower",
         "{:.0f}%", "% of the window's order value returned before as_of (NaN without "
         "returns.amount)", low=0, example=4.0),
    _ind("clv", "commercial", "Customer lifetime value", "currency", "higher", "{:,.0f}",
         "mrr × 12 × expected lifetime years − acquisition_cost (subscription CLV, below)",
         example=41000.0, note="May be negative (acquisition cost above the expected revenue)."),
    # predictive CLV (features/clv.py): BG/NBD and Gamma-Gamma fitted on orders before as_of
    _ind("p_alive", "commercial", "Chance the customer is still active", "0–1", "higher",
         "{:.2f}", "BG/NBD probability 0–1 that the customer has not lapsed (NaN: no order "
         "before as_of, or the models could not be fitted: `customer-health clv` says why)",
         low=0, high=1, example=0.82, note="Leave it out when the account placed no order."),
    _ind(f"expected_orders_{CLV_HORIZON_DAYS}d", "commercial",
         f"Expected orders, next {CLV_HORIZON_DAYS} days", "count", "higher", "{:,.1f}",
         f"BG/NBD expected purchase days in the {CLV_HORIZON_DAYS} days after as_of (NaN as "
         "p_alive)", low=0, example=3.2, note="Leave it out when the account placed no order."),
    _ind(f"predicted_clv_{CLV_HORIZON_DAYS}d", "commercial",
         f"Predicted CLV, next {CLV_HORIZON_DAYS} days", "currency", "higher", "{:,.0f}",
         "expected orders × Gamma-Gamma expected spend per order, undiscounted (NaN as "
         "p_alive)", low=0, example=480.0, note="Leave it out when the account placed no order."),
)


# --- looking records up ----------------------------------------------------------------
# Lookups read the module's CATALOGUE when called (never a copy taken at import), so an
# extended catalogue reaches every caller; the index is rebuilt when the tuple changes.

_index_cache: dict[str, object] = {}


def _index() -> dict[str, Indicator]:
    catalogue = CATALOGUE
    if _index_cache.get("of") is not catalogue:
        _index_cache.clear()
        _index_cache["of"] = catalogue
        _index_cache["index"] = {record.stem: record for record in catalogue}
        _index_cache["described"] = {}
    return _index_cache["index"]  # type: ignore[return-value]


_WINDOW_SUFFIX = re.compile(r"^(?P<stem>[a-z_]+)_(?P<days>[0-9]+)d$")


def check_windows(windows: Iterable[int]) -> tuple[int, ...]:
    """Windows as a tuple of distinct whole numbers of days of at least 1.

    Raises
    ------
    ValueError
        Naming the windows given and the form expected.

    Examples
    --------
    >>> check_windows([7, 30])
    (7, 30)
    >>> check_windows((30, 30))
    Traceback (most recent call last):
    ...
    ValueError: windows must not repeat a length; got (30, 30)
    """
    try:
        values = tuple(windows)
    except TypeError:
        values = (windows,)
    bad = [w for w in values
           if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1]
    if not values or bad:
        raise ValueError(
            f"windows must be whole numbers of days of at least 1, e.g. (30, 90, 180); "
            f"got {values!r}"
        )
    if len(set(values)) != len(values):
        raise ValueError(f"windows must not repeat a length; got {values!r}")
    return tuple(int(w) for w in values)


def indicator_columns(windows: Iterable[int] = DEFAULT_WINDOWS) -> list[str]:
    """The indicator column names, in output order, for the given windows.

    Examples
    --------
    >>> cols = indicator_columns((7,))
    >>> cols[:8]
    ['segment', 'region', 'plan', 'tenure_days', 'mrr', 'active_days_7d', 'sessions_7d', 'active_users_7d']
    >>> cols[-1]
    'predicted_clv_365d'
    """
    windows = check_windows(windows)
    return [name for record in CATALOGUE for name in record.columns(windows)]


#: The input table each family of indicators reads; :data:`RETURNS_STEMS` read returns.
GROUP_TABLES = {"account": "accounts", "engagement": "sessions", "support": "tickets",
                "satisfaction": "surveys", "sentiment": "surveys", "commercial": "orders"}
RETURNS_STEMS = ("return_rate", "returned_value_share")


def source_table(name: str) -> str | None:
    """The input table an indicator column is computed from; None for an unknown name.

    Examples
    --------
    >>> source_table("days_since_last_order"), source_table("return_rate_90d"), source_table("clv")
    ('orders', 'returns', 'accounts')
    """
    found = lookup(name)
    if found is None:
        return None
    record = found[0]
    if record.stem in RETURNS_STEMS:
        return "returns"
    if record.stem == "clv":  # subscription CLV: mrr and acquisition cost of accounts
        return "accounts"
    return GROUP_TABLES[record.group]


def categorical_columns() -> tuple[str, ...]:
    """Indicator columns that hold labels, not numbers.

    Examples
    --------
    >>> categorical_columns()
    ('segment', 'region', 'plan', 'nps_category_latest')
    """
    return tuple(record.stem for record in CATALOGUE if record.is_category)


def numeric_columns(windows: Iterable[int] = DEFAULT_WINDOWS) -> list[str]:
    """Indicator columns that hold numbers, in output order."""
    categories = set(categorical_columns())
    return [name for name in indicator_columns(windows) if name not in categories]


def lookup(name: str) -> tuple[Indicator, int | None] | None:
    """The record of an indicator column and its window (None for fixed ones).

    None when ``name`` is no indicator column, for any window.

    Examples
    --------
    >>> record, window = lookup("csat_90d")
    >>> record.stem, window
    ('csat', 90)
    >>> lookup("sessions_trend_30d")[1] is None, lookup("csat") is None
    (True, True)
    """
    index = _index()
    record = index.get(name)
    if record is not None:
        return None if record.windowed else (record, None)
    match = _WINDOW_SUFFIX.match(name)
    if match is None:
        return None
    record = index.get(match["stem"])
    if record is None or not record.windowed or int(match["days"]) < 1:
        return None
    return record, int(match["days"])


def valid_range(name: str) -> tuple[float | None, float | None]:
    """(minimum, maximum) a value of ``name`` may take; None is open.

    Examples
    --------
    >>> valid_range("active_days_90d"), valid_range("csat_30d"), valid_range("clv")
    ((0, 90), (0, 100), (None, None))
    """
    found = lookup(name)
    if found is None:
        raise ValueError(_unknown_indicator_message(name))
    record, window = found
    high = window if record.maximum == WINDOW else record.maximum
    return record.minimum, high  # type: ignore[return-value]


# --- labels, units and values for people -----------------------------------------------


@dataclass(frozen=True)
class IndicatorLabel:
    """How an indicator column reads for a person.

    Attributes
    ----------
    label : str
        Name in plain words, window spelled out: ``"CSAT, last 90 days"``.
    unit : str
        As :attr:`Indicator.unit`; ``""`` for a column outside the catalogue.
    good_is : {"higher", "lower"} or None
        Which direction is healthier.
    format : str or None
        Python format string with one field; None for columns outside the catalogue.
    """

    label: str
    unit: str
    good_is: str | None
    format: str | None = None


def _window_words(window: int) -> str:
    return "last day" if window == 1 else f"last {window} days"


def describe_indicator(name: str, *, strict: bool = True) -> IndicatorLabel:
    """Label, unit, good direction and value format of an indicator column.

    Windowed names work for any window (``sessions_7d`` is "Sessions, last 7 days").

    Parameters
    ----------
    name : str
        An indicator column, window expanded (``csat_90d``).
    strict : bool
        With False, a column outside the catalogue (a flat table's own column) is described
        by its own name, no unit and no good direction, instead of raising.

    Raises
    ------
    ValueError
        When ``strict`` and ``name`` is not an indicator column; the message suggests close
        names.

    Examples
    --------
    >>> describe_indicator("csat_90d")
    IndicatorLabel(label='CSAT, last 90 days', unit='%', good_is='higher', format='{:.0f}%')
    >>> describe_indicator("revenue_trend_90d").label
    'Revenue trend, last 90 days vs the 90 before'
    >>> describe_indicator("TotalCharges", strict=False)
    IndicatorLabel(label='TotalCharges', unit='', good_is=None, format=None)
    """
    _index()
    # Driver texts look the same few dozen names up for every account of a batch.
    described: dict = _index_cache["described"]  # type: ignore[assignment]
    if isinstance(name, str) and name in described:
        found = described[name]
    else:
        found = None
        if isinstance(name, str):
            hit = lookup(name)
            if hit is not None:
                record, window = hit
                label = record.label.format(window=_window_words(window)) if window else record.label
                found = IndicatorLabel(label, record.unit, record.good_is, record.format)
            described[name] = found
    if found is not None:
        return found
    if not strict:
        return IndicatorLabel(str(name), "", None, None)
    raise ValueError(_unknown_indicator_message(name))


def _unknown_indicator_message(name: object) -> str:
    close = difflib.get_close_matches(str(name), indicator_columns(), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (
        f"{name!r} is not an indicator column of docs/indicators.md (windowed names end in "
        f"the window, e.g. csat_90d){hint} Pass strict=False to describe a column of your "
        "own table by its name"
    )


def format_indicator_value(name: str, value: object) -> str:
    """An indicator value as a person reads it, in the indicator's unit.

    Thousands separators, the indicator's decimals, "%" for percentages, "yes"/"no" for
    1/0 flags, text values as they are, and "no data" for a missing value, never "nan".
    Columns outside the catalogue get whole numbers with thousands separators or up to
    three significant digits.

    Examples
    --------
    >>> format_indicator_value("csat_90d", 38.4)
    '38%'
    >>> format_indicator_value("mrr", 1970.0), format_indicator_value("clv", 41234.56)
    ('1,970', '41,235')
    >>> format_indicator_value("revenue_trend_90d", -35.2)
    '-35%'
    >>> format_indicator_value("sentiment_mean_90d", 0.2)
    '+0.20'
    >>> format_indicator_value("resolution_hours_median_30d", 18.25)
    '18.2 h'
    >>> format_indicator_value("repeat_purchase_180d", 0.0)
    'no'
    >>> format_indicator_value("segment", "SMB")
    'SMB'
    >>> format_indicator_value("csat_90d", float("nan")), format_indicator_value("segment", None)
    ('no data', 'no data')
    >>> [format_indicator_value("TotalCharges", v) for v in (29.85, 1889.5)]
    ['29.9', '1,890']
    """
    if is_missing(value):
        return NO_DATA
    if isinstance(value, str) or not _is_number(value):
        return str(value)
    return _format_number(describe_indicator(name, strict=False), float(value))


def format_indicator_numbers(name: str, numbers: np.ndarray) -> list[str]:
    """:func:`format_indicator_value` of many numbers of one indicator (NaN: "no data").

    The indicator's description is looked up once, not once per value (drivers of a whole
    portfolio).

    Examples
    --------
    >>> format_indicator_numbers("csat_90d", np.array([38.4, np.nan]))
    ['38%', 'no data']
    """
    described = describe_indicator(name, strict=False)
    return [NO_DATA if number != number else _format_number(described, number)
            for number in np.asarray(numbers, dtype="float64").tolist()]


def _format_number(described: IndicatorLabel, number: float) -> str:
    if math.isinf(number):
        return "infinite" if number > 0 else "minus infinite"
    if described.unit == "yes/no" and number in (0.0, 1.0):
        return "yes" if number == 1.0 else "no"
    if described.format is None:
        return _plain_number(number)
    return described.format.format(number)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _plain_number(number: float) -> str:
    """Whole numbers (and anything from 100 up) with separators, smaller ones to 3 digits."""
    if number == round(number) or abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


# --- the document ----------------------------------------------------------------------


def markdown_table() -> str:
    """The table of ``docs/indicators.md``, generated from the catalogue.

    Regenerate the document's table with ``python -m features.catalogue``.
    """
    lines = [
        "| group | column | label | unit | meaning | good is |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for record in CATALOGUE:
        column = f"{record.stem}_{{w}}d" if record.windowed else record.stem
        label = record.label.format(window="last {w} days") if record.windowed else record.label
        lines.append(
            f"| {record.group} | {column} | {label} | {record.unit} | {record.meaning} "
            f"| {record.good_is or ''} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
