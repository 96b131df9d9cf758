"""Account-level health indicators as of a date, over trailing windows.

:func:`compute_indicators` is the one function the ``features`` command, the trainer and
the scoring service call: a pure function of the validated :class:`~features.contract.Tables`
and an ``as_of`` timestamp, returning one row per account active at ``as_of`` with the
columns of ``docs/indicators.md`` (the names are fixed there and by
:func:`indicator_columns`). Reading files is :mod:`features.io`'s job, not this module's.
:func:`describe_indicator` and :func:`format_indicator_value` say how each column reads for
a person (label, unit, good direction, "38%"), for driver texts and reports.

Point in time
    Only what was known strictly before ``as_of`` is used. A ticket resolved (or first
    answered) at or after ``as_of`` is open (unanswered) at ``as_of``; a return at or after
    ``as_of`` has not happened yet; an account that churns at or after ``as_of`` is still
    active. Appending rows dated at or after ``as_of`` never changes the output.

Order invariance, bit for bit
    Shuffling input rows never changes a single bit of the output. Counts and sums of whole
    numbers are exact in any order; sums of other floating-point values (durations, amounts,
    polarities) are added in a canonical order (sorted by value) because floating-point
    addition is not associative; "latest" answers break ties on equal timestamps by the
    row's id.

Speed
    Everything is vectorised over rows with integer account codes (``numpy.bincount``,
    ``ufunc.at``, sorting), with no Python loop over accounts: about 10 million sessions and
    100,000 accounts take a few seconds (``benchmarks/bench_features.py``).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import Tables
from features.timestamps import naive_utc

DEFAULT_WINDOWS = (30, 90, 180)

# Lifetime used by the CLV when the portfolio lost nobody in the trailing year (METRICS.md:
# "churn rate 0 -> capped lifetime, default 10 years").
CLV_MAX_LIFETIME_YEARS = 10.0
CLV_CHURN_LOOKBACK_DAYS = 365
NEGATIVE_POLARITY = -0.1

_NS_PER_DAY = 86_400 * 10**9
_NS_PER_HOUR = 3_600 * 10**9
_NAT = np.iinfo(np.int64).min  # how numpy stores NaT
_NO_MIN = np.iinfo(np.int64).max

ACCOUNT_COLUMNS = ("segment", "region", "plan", "tenure_days", "mrr")
CATEGORICAL_COLUMNS = ("segment", "region", "plan", "nps_category_latest")

# (name, windowed) in the order of docs/indicators.md; windowed names get "_{w}d".
_LAYOUT = (
    ("active_days", True), ("sessions", True), ("active_users", True),
    ("pages_per_session", True), ("avg_session_minutes", True),
    ("days_since_last_activity", False), ("sessions_trend_30d", False),
    ("tickets", True), ("resolution_hours_mean", True), ("resolution_hours_median", True),
    ("first_response_hours_mean", True), ("open_tickets", False),
    ("open_ticket_age_days_max", False), ("reopened_share", True),
    ("nps_latest", False), ("nps_category_latest", False), ("nps_mean", True),
    ("csat", True), ("csat_mean", True), ("ces_mean", True),
    ("comments", True), ("sentiment_mean", True), ("negative_comment_share", True),
    ("unsupported_comment_share", True), ("sentiment_latest", False),
    ("sentiment_trend_90d", False),
    ("orders", True), ("repeat_purchase", True), ("return_rate", True), ("revenue", True),
    ("revenue_trend_90d", False), ("clv", False),
)


def indicator_columns(windows: Iterable[int] = DEFAULT_WINDOWS) -> list[str]:
    """The indicator column names, in output order, for the given windows.

    Examples
    --------
    >>> cols = indicator_columns((7,))
    >>> cols[:8]
    ['segment', 'region', 'plan', 'tenure_days', 'mrr', 'active_days_7d', 'sessions_7d', 'active_users_7d']
    >>> cols[-1]
    'clv'
    """
    windows = _check_windows(windows)
    names = list(ACCOUNT_COLUMNS)
    for name, windowed in _LAYOUT:
        names += [f"{name}_{w}d" for w in windows] if windowed else [name]
    return names


# --- labels and units for people -----------------------------------------------------
# The one catalogue of how each indicator reads outside the code (driver texts, reports):
# a label, a unit, which direction is good and a value format. Formats follow the
# scorecard's convention (a Python format string with one field, as in a measure's
# ``format`` key), so "38%" is written the same way in both places. docs/indicators.md
# shows the same labels and units; tests/features/test_indicators.py checks they agree.


@dataclass(frozen=True)
class IndicatorLabel:
    """How an indicator reads for a person.

    Attributes
    ----------
    label : str
        Name in plain words, window spelled out: ``"CSAT, last 90 days"``.
    unit : str
        ``"%"`` (0-100), ``"days"``, ``"hours"``, ``"minutes"``, ``"pages"``, ``"count"``,
        ``"currency"`` (the currency of the data), a scale (``"0–10"``, ``"−1…1"``,
        ``"CSAT scale"``), ``"yes/no"`` (1 / 0) or ``"category"`` (text); ``""`` for a column
        outside the catalogue.
    good_is : {"higher", "lower"} or None
        Which direction is healthier; None when neither is (categories, counts of comments).
    format : str or None
        Python format string with one field for a number (the scorecard's convention, e.g.
        ``"{:.0f}%"``); None for plain numbers (columns outside the catalogue).
    """

    label: str
    unit: str
    good_is: str | None
    format: str | None = None


# stem -> (label, unit, good_is, format). Windowed stems put "{window}" in the label
# ("last 90 days"); the fixed trends name their own comparison.
_CATALOGUE: dict[str, tuple[str, str, str | None, str]] = {
    "segment": ("Segment", "category", None, "{}"),
    "region": ("Region", "category", None, "{}"),
    "plan": ("Plan", "category", None, "{}"),
    "tenure_days": ("Tenure", "days", "higher", "{:,.0f} days"),
    "mrr": ("Monthly recurring revenue", "currency", "higher", "{:,.0f}"),
    # engagement
    "active_days": ("Active days, {window}", "days", "higher", "{:,.0f}"),
    "sessions": ("Sessions, {window}", "count", "higher", "{:,.0f}"),
    "active_users": ("Active users, {window}", "count", "higher", "{:,.0f}"),
    "pages_per_session": ("Pages per session, {window}", "pages", "higher", "{:,.1f}"),
    "avg_session_minutes": ("Average session length, {window}", "minutes", "higher",
                            "{:,.1f} min"),
    "days_since_last_activity": ("Days since last activity", "days", "lower", "{:,.0f}"),
    "sessions_trend_30d": ("Sessions trend, last 30 days vs the 30 before", "%", "higher",
                           "{:+,.0f}%"),
    # support
    "tickets": ("Support tickets, {window}", "count", "lower", "{:,.0f}"),
    "resolution_hours_mean": ("Mean resolution time, {window}", "hours", "lower", "{:,.1f} h"),
    "resolution_hours_median": ("Median resolution time, {window}", "hours", "lower",
                                "{:,.1f} h"),
    "first_response_hours_mean": ("Mean first-response time, {window}", "hours", "lower",
                                  "{:,.1f} h"),
    "open_tickets": ("Open tickets", "count", "lower", "{:,.0f}"),
    "open_ticket_age_days_max": ("Age of the oldest open ticket", "days", "lower",
                                 "{:,.0f} days"),
    "reopened_share": ("Reopened tickets, {window}", "%", "lower", "{:.0f}%"),
    # satisfaction
    "nps_latest": ("Latest NPS answer", "0–10", "higher", "{:.0f}"),
    "nps_category_latest": ("Latest NPS category", "category", None, "{}"),
    "nps_mean": ("Mean NPS answer, {window}", "0–10", "higher", "{:.1f}"),
    "csat": ("CSAT, {window}", "%", "higher", "{:.0f}%"),
    "csat_mean": ("Mean CSAT answer, {window}", "CSAT scale", "higher", "{:.1f}"),
    "ces_mean": ("CES (higher = easier), {window}", "CES scale", "higher",
                 "{:.1f}"),
    # sentiment
    "comments": ("Readable comments, {window}", "count", None, "{:,.0f}"),
    "sentiment_mean": ("Comment sentiment, {window}", "−1…1", "higher", "{:+.2f}"),
    "negative_comment_share": ("Negative comments, {window}", "%", "lower", "{:.0f}%"),
    "unsupported_comment_share": ("Comments in unsupported languages, {window}", "%", None,
                                  "{:.0f}%"),
    "sentiment_latest": ("Latest comment sentiment", "−1…1", "higher", "{:+.2f}"),
    "sentiment_trend_90d": ("Comment sentiment trend, last 90 days vs the 90 before", "−2…2",
                            "higher", "{:+.2f}"),
    # commercial
    "orders": ("Orders, {window}", "count", "higher", "{:,.0f}"),
    "repeat_purchase": ("Repeat purchase, {window}", "yes/no", "higher", "{:.0f}"),
    "return_rate": ("Items returned, {window}", "%", "lower", "{:.0f}%"),
    "revenue": ("Revenue, {window}", "currency", "higher", "{:,.0f}"),
    "revenue_trend_90d": ("Revenue trend, last 90 days vs the 90 before", "%", "higher",
                          "{:+,.0f}%"),
    "clv": ("Customer lifetime value", "currency", "higher", "{:,.0f}"),
}
_WINDOWED_STEMS = frozenset(name for name, windowed in _LAYOUT if windowed)
_WINDOW_SUFFIX = re.compile(r"^(?P<stem>[a-z_]+)_(?P<days>[0-9]+)d$")
NO_DATA = "no data"


def describe_indicator(name: str, *, strict: bool = True) -> IndicatorLabel:
    """Label, unit, good direction and value format of an indicator column.

    Windowed names work for any window (``sessions_7d`` is "Sessions, last 7 days").

    Parameters
    ----------
    name : str
        An indicator column of ``docs/indicators.md``, window expanded (``csat_90d``).
    strict : bool
        With False, a column outside the catalogue (a flat table's own column) is described
        by its own name, no unit and no good direction, instead of raising.

    Returns
    -------
    IndicatorLabel

    Raises
    ------
    ValueError
        When ``strict`` and ``name`` is not an indicator column; the message suggests close names.

    Examples
    --------
    >>> describe_indicator("csat_90d")
    IndicatorLabel(label='CSAT, last 90 days', unit='%', good_is='higher', format='{:.0f}%')
    >>> describe_indicator("days_since_last_activity").label
    'Days since last activity'
    >>> describe_indicator("revenue_trend_90d").label
    'Revenue trend, last 90 days vs the 90 before'
    >>> describe_indicator("TotalCharges", strict=False)
    IndicatorLabel(label='TotalCharges', unit='', good_is=None, format=None)
    """
    described = _catalogued(name) if isinstance(name, str) else None
    if described is not None:
        return described
    if not strict:
        return IndicatorLabel(str(name), "", None, None)
    raise ValueError(_unknown_indicator_message(name))


# Driver texts look the same few dozen names up for every account of a batch.
@functools.lru_cache(maxsize=1024)
def _catalogued(name: str) -> IndicatorLabel | None:
    entry = _CATALOGUE.get(name) if name not in _WINDOWED_STEMS else None
    window = None
    if entry is None:
        match = _WINDOW_SUFFIX.match(name)
        if match and match["stem"] in _WINDOWED_STEMS and int(match["days"]) >= 1:
            entry, window = _CATALOGUE[match["stem"]], int(match["days"])
    if entry is None:
        return None
    label, unit, good_is, fmt = entry
    if window is not None:
        label = label.format(window="last day" if window == 1 else f"last {window} days")
    return IndicatorLabel(label, unit, good_is, fmt)


def _unknown_indicator_message(name: object) -> str:
    known = indicator_columns()
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (
        f"{name!r} is not an indicator column of docs/indicators.md (windowed names end in "
        f"the window, e.g. csat_90d){hint} Pass strict=False to describe a column of your "
        "own table by its name"
    )


def format_indicator_value(name: str, value: object) -> str:
    """An indicator value as a person reads it, in the indicator's unit.

    Thousands separators, the indicator's decimals, "%" for percentages, "yes"/"no" for
    1/0 flags, text values as they are, and "no data" for a missing value (None, NaN, NA),
    never "nan". Columns outside the catalogue get whole numbers with thousands separators
    or up to three significant digits.

    Parameters
    ----------
    name : str
        The indicator column (any name is accepted; see :func:`describe_indicator`).
    value : number, str or None
        The value as stored in the indicator table.

    Returns
    -------
    str

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
    if _is_missing(value):
        return NO_DATA
    if isinstance(value, str) or not _is_number(value):
        return str(value)
    number = float(value)
    if math.isinf(number):
        return "infinite" if number > 0 else "minus infinite"
    described = describe_indicator(name, strict=False)
    if described.unit == "yes/no" and number in (0.0, 1.0):
        return "yes" if number == 1.0 else "no"
    if described.format is None:
        return _plain_number(number)
    return described.format.format(number)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _plain_number(number: float) -> str:
    """Whole numbers (and anything from 100 up) with separators, smaller ones to 3 digits."""
    if number == round(number) or abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.3g}"


# --- input checks --------------------------------------------------------------------


def _check_as_of(as_of: object) -> pd.Timestamp:
    stamp = naive_utc(as_of)  # the tables hold naive UTC; compare like with like
    if stamp is None:
        raise ValueError(
            f"as_of must be a date or timestamp such as '2025-06-30', got {as_of!r}"
        )
    return stamp


def _check_windows(windows: Iterable[int]) -> tuple[int, ...]:
    try:
        values = tuple(windows)
    except TypeError:
        values = (windows,)
    bad = [w for w in values if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1]
    if not values or bad:
        raise ValueError(
            f"windows must be whole numbers of days of at least 1, e.g. (30, 90, 180); "
            f"got {values!r}"
        )
    if len(set(values)) != len(values):
        raise ValueError(f"windows must not repeat a length; got {values!r}")
    return tuple(int(w) for w in values)


def _check_tables(tables: object) -> Tables:
    if not isinstance(tables, Tables):
        raise TypeError(
            f"tables must be a features.contract.Tables, got {type(tables).__name__}; "
            "read a folder with features.io.load_tables or check frames with "
            "features.contract.validate_tables"
        )
    return tables


_REQUIRED = {
    "accounts": ("account_id", "signup_date", "churned_at", "segment", "region", "plan",
                 "mrr", "acquisition_cost"),
    "sessions": ("account_id", "user_id", "started_at", "duration_seconds", "page_views"),
    "tickets": ("ticket_id", "account_id", "created_at", "first_response_at", "resolved_at",
                "reopened_count"),
    "orders": ("order_id", "account_id", "ordered_at", "amount", "items"),
    "returns": ("order_id", "returned_at", "items"),
    "surveys": ("response_id", "account_id", "survey", "score", "responded_at", "comment"),
}
_TIMESTAMPS = {
    "accounts": ("signup_date", "churned_at"),
    "sessions": ("started_at",),
    "tickets": ("created_at", "first_response_at", "resolved_at"),
    "orders": ("ordered_at",),
    "returns": ("returned_at",),
    "surveys": ("responded_at",),
}


def _check_table(frame: pd.DataFrame, table: str) -> None:
    """The columns the indicators read exist and timestamps are timestamps."""
    missing = [c for c in _REQUIRED[table] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{table} lacks column(s) {', '.join(missing)}; compute indicators on validated "
            "tables (features.contract.validate_tables adds every optional column)"
        )
    for column in _TIMESTAMPS[table]:
        if not pd.api.types.is_datetime64_dtype(frame[column]):
            raise ValueError(
                f"{table}.{column} must hold naive UTC timestamps (datetime64), got "
                f"{frame[column].dtype}; validate the tables with "
                "features.contract.validate_tables first"
            )


def _check_comment_scores(scores: pd.DataFrame, surveys: pd.DataFrame, needed: np.ndarray) -> pd.DataFrame:
    """The pre-computed comment scores cover every comment the indicators read."""
    if not isinstance(scores, pd.DataFrame) or not {"polarity", "supported"} <= set(scores.columns):
        raise ValueError(
            "comment_scores must be the DataFrame returned by "
            "features.sentiment.score_comments(tables.surveys['comment']) "
            "(columns polarity and supported)"
        )
    if not scores.index.is_unique:
        raise ValueError(
            "comment_scores has a repeated index; it must be indexed like tables.surveys "
            "(one row per survey response)"
        )
    labels = surveys.index[needed]
    absent = labels[~labels.isin(scores.index)]
    if len(absent):
        shown = ", ".join(repr(x) for x in absent[:5])
        raise ValueError(
            f"comment_scores lacks {len(absent)} survey row(s) that have a comment before "
            f"as_of (surveys index {shown}); score them with "
            "features.sentiment.score_comments(tables.surveys['comment'])"
        )
    return scores.loc[labels]


# --- small vectorised helpers --------------------------------------------------------


def _codes(account_ids: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's account in ``ids``; -1 for accounts not in it."""
    if isinstance(account_ids.array, pd.arrays.ArrowStringArray):
        # Arrow-backed text (the pandas 3 default): Arrow looks every row up in a hash
        # table of ``ids`` directly, about twice as fast as factorising 10 million ids.
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = account_ids.array.__arrow_array__()
        value_set = pa.array(ids.to_numpy(dtype=object), type=rows.type)
        found = pc.fill_null(pc.index_in(rows, value_set=value_set), -1)
        return found.to_numpy().astype(np.int64)
    # Factorising first hashes each row once; looking up only the distinct ids in ``ids``
    # is then cheap (several times faster than ids.get_indexer on every row).
    row_codes, uniques = pd.factorize(account_ids)
    lookup = np.append(ids.get_indexer(uniques), -1)
    return lookup[row_codes]


def _as_ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds, NaT as the smallest int64."""
    return values.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _known_rows_before(
    table: pd.DataFrame, column: str, ids: pd.Index, cut: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows dated before ``cut`` (int64 ns) of accounts in ``ids``.

    Returns those rows, each row's position in ``ids`` and its ``column`` in int64 ns.
    Rows with no date are left out: they cannot be placed before or after ``cut``.
    """
    times = _as_ns(table[column])
    before = (times != _NAT) & (times < cut)
    frame = table[before]
    codes = _codes(frame["account_id"], ids)
    known = codes >= 0
    return frame[known], codes[known], times[before][known]


def _as_float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _count(codes: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, minlength=n).astype(float)


def _adds_exactly(values: np.ndarray) -> bool:
    """Whether every partial sum of ``values`` is exact (whole numbers, total below 2**53)."""
    return bool(np.all(values == np.round(values))) and np.abs(values).sum() < 2.0**53


def _sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-account sums that do not depend on row order, bit for bit."""
    if not _adds_exactly(values) and not np.all(values[1:] >= values[:-1]):
        # Partial sums of arbitrary floats round, differently in each order; adding in
        # value order makes the rounding the same whatever the order of the rows.
        order = np.argsort(values, kind="stable")
        codes, values = codes[order], values[order]
    return np.bincount(codes, weights=values, minlength=n)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """numerator / denominator x scale, NaN where the denominator is 0 (undefined, not 0)."""
    out = np.full(len(denominator), np.nan)
    np.divide(numerator * scale, denominator, out=out, where=denominator > 0)
    return out


def _mean(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    known = ~np.isnan(values)
    return _ratio(_sum(codes[known], values[known], n), _count(codes[known], n))


def _median(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    known = ~np.isnan(values)
    codes, values = codes[known], values[known]
    order = np.lexsort((values, codes))
    codes, values = codes[order], values[order]
    counts = np.bincount(codes, minlength=n)
    starts = np.cumsum(counts) - counts
    out = np.full(n, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    out[has] = (values[low] + values[high]) / 2
    return out


def _max(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-account maximum of int64 values; the smallest int64 (NaT) where there is none."""
    out = np.full(n, _NAT, dtype=np.int64)
    np.maximum.at(out, codes, values)
    return out


def _min(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-account minimum of int64 values; NaT where there is none."""
    out = np.full(n, _NO_MIN, dtype=np.int64)
    np.minimum.at(out, codes, values)
    out[out == _NO_MIN] = _NAT
    return out


def _days_since(cut: int, stamps: np.ndarray) -> np.ndarray:
    """Days (fractional) from each timestamp to ``cut``; NaN where the timestamp is NaT."""
    out = np.full(len(stamps), np.nan)
    known = stamps != _NAT
    out[known] = (cut - stamps[known]) / _NS_PER_DAY
    return out


def _latest_per_user(codes: np.ndarray, users: np.ndarray, n_users: int, times: np.ndarray):
    """Distinct (account, user) pairs with the latest time of each: (pair accounts, latest)."""
    known = users >= 0  # a missing user_id is no user
    codes, users, times = codes[known], users[known], times[known]
    owner_low = np.full(n_users, np.iinfo(np.int64).max, dtype=np.int64)
    owner_high = np.full(n_users, -1, dtype=np.int64)
    np.minimum.at(owner_low, users, codes)
    np.maximum.at(owner_high, users, codes)
    if np.array_equal(owner_low, owner_high):
        # Each user id belongs to one account (the usual case): the user is the pair.
        pair_of_row, pair_accounts = users, owner_low
    else:
        pair_of_row, pairs = pd.factorize(codes.astype(np.int64) * n_users + users)
        pair_accounts = pairs // n_users
    latest = np.full(len(pair_accounts), _NAT, dtype=np.int64)
    np.maximum.at(latest, pair_of_row, times)
    return pair_accounts, latest


def _distinct_days(codes: np.ndarray, days: np.ndarray, span: int, n: int) -> np.ndarray:
    """Per account, the number of distinct ``days`` (0 <= day < span) among the rows."""
    # A dense account x day grid of flags: no sorting or hashing of millions of rows.
    seen = np.zeros(n * span, dtype=bool)
    seen[codes.astype(np.int64) * span + days] = True
    return seen.reshape(n, span).sum(axis=1).astype(float)


def _latest(codes: np.ndarray, times: np.ndarray, ranks: np.ndarray, n: int) -> np.ndarray:
    """Row position of each account's latest row (ties broken by id rank); -1 where none."""
    order = np.lexsort((ranks, times, codes))
    ordered_codes = codes[order]
    is_last = np.ones(len(order), dtype=bool)
    is_last[:-1] = ordered_codes[1:] != ordered_codes[:-1]
    last = np.full(n, -1, dtype=np.int64)
    last[ordered_codes[is_last]] = order[is_last]
    return last


def _pick(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]`` with NaN where the position is -1."""
    out = np.full(len(positions), np.nan)
    found = positions >= 0
    out[found] = values[positions[found]]
    return out


def _id_ranks(values: pd.Series) -> np.ndarray:
    """Ranks of ids in sorted order: a tie-breaker that is independent of row order."""
    return pd.factorize(values, sort=True)[0]


def _nan_columns(names: list[str], n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in names}


def _names(name: str, windows: tuple[int, ...]) -> list[str]:
    return [f"{name}_{w}d" for w in windows]


# --- active accounts and account columns ---------------------------------------------


def active_accounts(accounts: pd.DataFrame, as_of) -> pd.Index:
    """Accounts active at ``as_of``: signed up before it and not churned before it.

    An account whose ``churned_at`` is at or after ``as_of`` is active: at ``as_of`` its
    churn has not happened yet (it is what a churn model is asked to predict).

    Parameters
    ----------
    accounts : DataFrame
        The validated accounts table.
    as_of : str, date or Timestamp
        The moment of the snapshot (naive UTC; an aware timestamp is converted).

    Returns
    -------
    Index
        Sorted ``account_id`` values, named ``account_id``.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["b", "a", "c", "d"],
    ...     "signup_date": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-01", "2025-01-01"]),
    ...     "churned_at": pd.to_datetime([None, "2025-02-01", None, "2025-02-15"]),
    ... })
    >>> list(active_accounts(accounts, "2025-02-15"))
    ['b', 'd']
    """
    as_of = _check_as_of(as_of)
    missing = [c for c in ("account_id", "signup_date", "churned_at") if c not in accounts]
    if missing:
        raise ValueError(
            f"accounts lacks column(s) {', '.join(missing)}; validate the tables with "
            "features.contract.validate_tables first"
        )
    signup = _as_ns(accounts["signup_date"])
    churned = _as_ns(accounts["churned_at"])
    cut = as_of.value
    # NaT is the smallest int64: a missing signup is never "before", a missing churn never
    # "before" either once excluded explicitly.
    active = (signup != _NAT) & (signup < cut) & ((churned == _NAT) | (churned >= cut))
    ids = pd.Index(accounts["account_id"].to_numpy()[active], name="account_id")
    return ids.unique().sort_values()


def _account_part(accounts: pd.DataFrame, ids: pd.Index, as_of: pd.Timestamp) -> dict:
    rows = accounts.drop_duplicates("account_id").set_index("account_id").reindex(ids)
    signup = _as_ns(rows["signup_date"])
    mrr = _as_float(rows["mrr"])
    return {
        "segment": rows["segment"].to_numpy(dtype=object),
        "region": rows["region"].to_numpy(dtype=object),
        "plan": rows["plan"].to_numpy(dtype=object),
        "tenure_days": (as_of.value - signup) / _NS_PER_DAY,
        "mrr": mrr,
        "clv": _clv(accounts, rows, mrr, as_of),
    }


def trailing_churn_rate(accounts: pd.DataFrame, as_of) -> float:
    """Share (0-1) of the accounts active a year before ``as_of`` that churned since.

    The start-cohort churn rate of METRICS.md over ``[as_of - 365 days, as_of)``: accounts
    that joined during the year are not in it. NaN when no account was active at the start.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b", "c", "d", "e"],
    ...     "signup_date": pd.to_datetime(["2024-01-01"] * 4 + ["2025-03-01"]),
    ...     "churned_at": pd.to_datetime([None, None, None, "2025-05-01", "2025-06-01"]),
    ... })
    >>> trailing_churn_rate(accounts, "2025-07-01")
    0.25
    """
    as_of = _check_as_of(as_of)
    start = (as_of - pd.Timedelta(days=CLV_CHURN_LOOKBACK_DAYS)).value
    signup = _as_ns(accounts["signup_date"])
    churned = _as_ns(accounts["churned_at"])
    at_start = (signup != _NAT) & (signup < start) & ((churned == _NAT) | (churned >= start))
    lost = at_start & (churned != _NAT) & (churned < as_of.value)
    return float(lost.sum() / at_start.sum()) if at_start.any() else float("nan")


def _clv(accounts: pd.DataFrame, rows: pd.DataFrame, mrr: np.ndarray, as_of: pd.Timestamp) -> np.ndarray:
    """mrr x 12 x expected lifetime in years - acquisition cost (METRICS.md, seed 004).

    Expected lifetime = 1 / the portfolio's trailing-year churn rate, capped at 10 years
    (also when nobody churned); unknown (NaN CLV) when no account was active a year before.
    """
    churn = trailing_churn_rate(accounts, as_of)
    if np.isnan(churn):
        return np.full(len(rows), np.nan)
    lifetime = CLV_MAX_LIFETIME_YEARS if churn == 0 else min(1.0 / churn, CLV_MAX_LIFETIME_YEARS)
    # An unknown acquisition cost is not subtracted: the CLV is then the gross lifetime value.
    cost = np.nan_to_num(_as_float(rows["acquisition_cost"]), nan=0.0)
    return mrr * 12.0 * lifetime - cost


# --- engagement ----------------------------------------------------------------------


def _engagement(sessions, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        [c for w in ("active_days", "sessions", "active_users", "pages_per_session",
                     "avg_session_minutes") for c in _names(w, windows)]
        + ["days_since_last_activity", "sessions_trend_30d"]
    )
    if sessions is None:
        return _nan_columns(names, n)
    cut = as_of.value
    started = _as_ns(sessions["started_at"])
    codes = _codes(sessions["account_id"], ids)
    before = (codes >= 0) & (started != _NAT) & (started < cut)
    out = {"days_since_last_activity": _days_since(cut, _max(codes[before], started[before], n))}

    # Everything else looks back at most max(windows, 60 days): work on those rows only,
    # as plain arrays (subsetting the whole frame would copy every column).
    horizon_days = max(max(windows), 60)
    rows = np.flatnonzero(before & (started >= cut - horizon_days * _NS_PER_DAY))
    all_seconds = _as_float(sessions["duration_seconds"])
    seconds = all_seconds[rows]
    if not _adds_exactly(seconds[~np.isnan(seconds)]):
        # Put the rows in value order once, rather than sorting again for every window.
        rows = rows[np.argsort(seconds, kind="stable")]
        seconds = all_seconds[rows]
    codes, started = codes[rows], started[rows]
    pages = _as_float(sessions["page_views"])[rows]

    days = started // _NS_PER_DAY
    days -= days.min() if len(days) else 0
    # Each user with the latest session: one pass serves every window, as a user counts
    # in a window when their latest session falls in it.
    users, user_names = pd.factorize(sessions["user_id"].take(rows))
    user_codes, user_latest = _latest_per_user(codes, users, len(user_names), started)

    for w in windows:
        start = cut - w * _NS_PER_DAY
        inside = started >= start
        c = codes[inside]
        out[f"sessions_{w}d"] = _count(c, n)
        out[f"active_days_{w}d"] = _distinct_days(c, days[inside], horizon_days + 2, n)
        out[f"active_users_{w}d"] = _count(user_codes[user_latest >= start], n)
        out[f"pages_per_session_{w}d"] = _mean(c, pages[inside], n)
        out[f"avg_session_minutes_{w}d"] = _mean(c, seconds[inside], n) / 60.0

    last30 = _count(codes[started >= cut - 30 * _NS_PER_DAY], n)
    before30 = (started >= cut - 60 * _NS_PER_DAY) & (started < cut - 30 * _NS_PER_DAY)
    previous30 = _count(codes[before30], n)
    out["sessions_trend_30d"] = _ratio(last30 - previous30, previous30, 100.0)
    return out


# --- support -------------------------------------------------------------------------


def _support(tickets, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        [c for w in ("tickets", "resolution_hours_mean", "resolution_hours_median",
                     "first_response_hours_mean") for c in _names(w, windows)]
        + ["open_tickets", "open_ticket_age_days_max"] + _names("reopened_share", windows)
    )
    if tickets is None:
        return _nan_columns(names, n)
    cut = as_of.value
    frame, codes, created = _known_rows_before(tickets, "created_at", ids, cut)
    resolved = _as_ns(frame["resolved_at"])
    answered = _as_ns(frame["first_response_at"])
    # Resolution or first answer at/after as_of is not known yet: such tickets are open.
    is_resolved = (resolved != _NAT) & (resolved < cut)
    is_answered = (answered != _NAT) & (answered < cut)
    resolution_hours = np.where(is_resolved, (resolved - created) / _NS_PER_HOUR, np.nan)
    response_hours = np.where(is_answered, (answered - created) / _NS_PER_HOUR, np.nan)
    reopened = _as_float(frame["reopened_count"])

    out = {}
    for w in windows:
        start = cut - w * _NS_PER_DAY
        new = created >= start
        out[f"tickets_{w}d"] = _count(codes[new], n)
        solved = is_resolved & (resolved >= start)
        out[f"resolution_hours_mean_{w}d"] = _mean(codes[solved], resolution_hours[solved], n)
        out[f"resolution_hours_median_{w}d"] = _median(codes[solved], resolution_hours[solved], n)
        first = is_answered & (answered >= start)
        out[f"first_response_hours_mean_{w}d"] = _mean(codes[first], response_hours[first], n)
        counted = new & ~np.isnan(reopened)
        out[f"reopened_share_{w}d"] = _ratio(
            _count(codes[counted & (reopened >= 1)], n), _count(codes[counted], n), 100.0
        )
    open_ = ~is_resolved
    out["open_tickets"] = _count(codes[open_], n)
    out["open_ticket_age_days_max"] = _days_since(cut, _min(codes[open_], created[open_], n))
    return out


# --- satisfaction and sentiment ------------------------------------------------------


def _nps_category(score: np.ndarray) -> np.ndarray:
    return np.select(
        [np.isnan(score), score >= 9, score >= 7], [None, "promoter", "passive"], "detractor"
    ).astype(object)


def _surveys_before(surveys, ids, as_of):
    cut = as_of.value
    responded = _as_ns(surveys["responded_at"])
    before = (responded != _NAT) & (responded < cut)
    codes = _codes(surveys["account_id"][before], ids)
    positions = np.flatnonzero(before)[codes >= 0]
    return positions, codes[codes >= 0], responded[positions]


def _satisfaction(surveys, scales, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        ["nps_latest", "nps_category_latest"]
        + [c for w in ("nps_mean", "csat", "csat_mean", "ces_mean") for c in _names(w, windows)]
    )
    if surveys is None:
        return _nan_columns(names, n)
    positions, codes, responded = _surveys_before(surveys, ids, as_of)
    frame = surveys.iloc[positions]
    kind = frame["survey"].to_numpy(dtype=object)
    score = _as_float(frame["score"])
    rank = _id_ranks(frame["response_id"])
    cut = as_of.value

    out = {}
    nps = (kind == "nps") & ~np.isnan(score)
    latest = _latest(codes[nps], responded[nps], rank[nps], n)
    nps_latest = _pick(score[nps], latest)
    out["nps_latest"] = nps_latest
    out["nps_category_latest"] = _nps_category(nps_latest)
    satisfied_at = scales.csat.satisfied_at
    for w in windows:
        inside = responded >= cut - w * _NS_PER_DAY
        for survey, column in (("nps", "nps_mean"), ("csat", "csat_mean"), ("ces", "ces_mean")):
            rows = inside & (kind == survey)
            out[f"{column}_{w}d"] = _mean(codes[rows], score[rows], n)
        rows = inside & (kind == "csat") & ~np.isnan(score)
        out[f"csat_{w}d"] = _ratio(
            _count(codes[rows & (score >= satisfied_at)], n), _count(codes[rows], n), 100.0
        )
    return out


def _sentiment(surveys, ids, as_of, windows, comment_scores) -> dict:
    n = len(ids)
    names = (
        [c for w in ("comments", "sentiment_mean", "negative_comment_share",
                     "unsupported_comment_share") for c in _names(w, windows)]
        + ["sentiment_latest", "sentiment_trend_90d"]
    )
    if surveys is None:
        return _nan_columns(names, n)
    positions, codes, responded = _surveys_before(surveys, ids, as_of)
    comment = surveys["comment"].to_numpy(dtype=object)[positions]
    has_text = np.array(
        [isinstance(c, str) and c.strip() != "" for c in comment], dtype=bool
    )
    positions, codes, responded = positions[has_text], codes[has_text], responded[has_text]
    if comment_scores is None:
        from features.sentiment import score_comments

        scores = score_comments(surveys["comment"].iloc[positions])
    else:
        scores = _check_comment_scores(comment_scores, surveys, positions)
    polarity = _as_float(scores["polarity"])
    flag = scores["supported"].astype("boolean")
    readable = flag.fillna(False).to_numpy(dtype=bool) & ~np.isnan(polarity)
    unreadable = (~flag.fillna(True)).to_numpy(dtype=bool)
    rank = _id_ranks(surveys["response_id"].iloc[positions])
    cut = as_of.value

    def mean_between(start_days: int, end_days: int) -> np.ndarray:
        rows = readable & (responded >= cut - start_days * _NS_PER_DAY) \
            & (responded < cut - end_days * _NS_PER_DAY)
        return _mean(codes[rows], polarity[rows], n)

    out = {}
    for w in windows:
        inside = responded >= cut - w * _NS_PER_DAY
        read = inside & readable
        n_read = _count(codes[read], n)
        out[f"comments_{w}d"] = n_read
        out[f"sentiment_mean_{w}d"] = _mean(codes[read], polarity[read], n)
        out[f"negative_comment_share_{w}d"] = _ratio(
            _count(codes[read & (polarity < NEGATIVE_POLARITY)], n), n_read, 100.0
        )
        n_unread = _count(codes[inside & unreadable], n)
        out[f"unsupported_comment_share_{w}d"] = _ratio(n_unread, n_read + n_unread, 100.0)
    latest = _latest(codes[readable], responded[readable], rank[readable], n)
    out["sentiment_latest"] = _pick(polarity[readable], latest)
    out["sentiment_trend_90d"] = mean_between(90, 0) - mean_between(180, 90)
    return out


# --- commercial ----------------------------------------------------------------------


def _commercial(orders, returns, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        [c for w in ("orders", "repeat_purchase", "return_rate", "revenue")
         for c in _names(w, windows)]
        + ["revenue_trend_90d"]
    )
    if orders is None:
        return _nan_columns(names, n)
    cut = as_of.value
    frame, codes, ordered = _known_rows_before(orders, "ordered_at", ids, cut)
    amount = _as_float(frame["amount"])
    items = _as_float(frame["items"])
    returned = None
    if returns is not None:
        # Items returned before as_of, attributed to their order (METRICS.md: returns
        # belong to the order's period, not the return's).
        when = _as_ns(returns["returned_at"])
        done = (when != _NAT) & (when < cut)
        order_pos = pd.Index(frame["order_id"]).get_indexer(returns["order_id"][done])
        matched = order_pos >= 0
        returned = np.bincount(
            order_pos[matched], weights=_as_float(returns["items"][done])[matched],
            minlength=len(frame),
        )

    out = {}
    for w in windows:
        inside = ordered >= cut - w * _NS_PER_DAY
        count = _count(codes[inside], n)
        out[f"orders_{w}d"] = count
        out[f"repeat_purchase_{w}d"] = np.where(count >= 2, 1.0, np.where(count == 1, 0.0, np.nan))
        out[f"revenue_{w}d"] = _sum(codes[inside], amount[inside], n)
        if returned is None:
            out[f"return_rate_{w}d"] = np.full(n, np.nan)
        else:
            out[f"return_rate_{w}d"] = _ratio(
                _sum(codes[inside], returned[inside], n), _sum(codes[inside], items[inside], n), 100.0
            )
    last90 = ordered >= cut - 90 * _NS_PER_DAY
    previous90 = (ordered >= cut - 180 * _NS_PER_DAY) & ~last90
    revenue_last = _sum(codes[last90], amount[last90], n)
    revenue_previous = _sum(codes[previous90], amount[previous90], n)
    out["revenue_trend_90d"] = _ratio(revenue_last - revenue_previous, revenue_previous, 100.0)
    return out


# --- the entry point -----------------------------------------------------------------


def compute_indicators(
    tables: Tables,
    as_of,
    *,
    windows: Iterable[int] = DEFAULT_WINDOWS,
    comment_scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Health indicators of every account active at ``as_of``, from rows before it.

    Parameters
    ----------
    tables : Tables
        Validated tables (:func:`features.io.load_tables` or
        :func:`features.contract.validate_tables`). A missing table makes its indicators
        NaN.
    as_of : str, date or Timestamp
        The snapshot moment. Rows dated at or after it are ignored; an aware timestamp is
        converted to UTC.
    windows : iterable of int, default (30, 90, 180)
        Trailing window lengths in days; a window ``w`` covers ``[as_of - w days, as_of)``.
    comment_scores : DataFrame, optional
        :func:`features.sentiment.score_comments` output for ``tables.surveys['comment']``,
        indexed like ``tables.surveys``, so that repeated snapshots do not score text again.
        Scored here when omitted.

    Returns
    -------
    DataFrame
        Indexed by ``account_id`` (sorted), columns :func:`indicator_columns` (``windows``),
        as documented in ``docs/indicators.md``. Numbers are float64 (NaN = undefined or no
        data); ``segment``, ``region``, ``plan`` and ``nps_category_latest`` are text.

    Raises
    ------
    TypeError
        When ``tables`` is not a :class:`~features.contract.Tables`.
    ValueError
        For an ``as_of`` that is not a date, bad ``windows``, tables lacking columns or
        timestamps, or ``comment_scores`` that do not cover the comments.

    Examples
    --------
    >>> from features.contract import Tables
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b"], "signup_date": pd.to_datetime(["2025-01-01", "2025-01-01"]),
    ...     "churned_at": pd.to_datetime([None, None]), "segment": ["smb", "smb"],
    ...     "region": ["eu", "us"], "plan": ["pro", "pro"], "mrr": [100.0, None],
    ...     "acquisition_cost": [500.0, 200.0],
    ... })
    >>> sessions = pd.DataFrame({
    ...     "account_id": ["a", "a", "a"], "user_id": ["u1", "u2", "u1"],
    ...     "started_at": pd.to_datetime(["2025-05-20 09:00", "2025-05-20 15:00", "2025-06-01 00:00"]),
    ...     "duration_seconds": [600.0, 1200.0, 300.0], "page_views": [4, 8, 100],
    ... })
    >>> out = compute_indicators(Tables(accounts, sessions=sessions), "2025-06-01", windows=(30,))
    >>> out[["sessions_30d", "active_days_30d", "active_users_30d", "pages_per_session_30d"]].T
    account_id               a    b
    sessions_30d           2.0  0.0
    active_days_30d        1.0  0.0
    active_users_30d       2.0  0.0
    pages_per_session_30d  6.0  NaN
    >>> out.loc["a", "days_since_last_activity"], out.loc["a", "tenure_days"]
    (np.float64(11.375), np.float64(151.0))
    >>> out["tickets_30d"].isna().all()  # no tickets table: unknown, not zero
    np.True_
    """
    tables = _check_tables(tables)
    as_of = _check_as_of(as_of)
    windows = _check_windows(windows)
    for name, frame in tables.present().items():
        _check_table(frame, name)
    ids = active_accounts(tables.accounts, as_of)
    columns = {}
    columns.update(_account_part(tables.accounts, ids, as_of))
    columns.update(_engagement(tables.sessions, ids, as_of, windows))
    columns.update(_support(tables.tickets, ids, as_of, windows))
    columns.update(_satisfaction(tables.surveys, tables.scales, ids, as_of, windows))
    columns.update(_sentiment(tables.surveys, ids, as_of, windows, comment_scores))
    columns.update(_commercial(tables.orders, tables.returns, ids, as_of, windows))
    order = indicator_columns(windows)
    out = pd.DataFrame({name: columns[name] for name in order}, index=ids)
    for name in CATEGORICAL_COLUMNS:
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out
