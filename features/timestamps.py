"""Reading dates and timestamps as the naive UTC the tables hold.

One date given by a caller (:func:`naive_utc`); which timestamp texts carry an offset
(:func:`has_offset`); local times of a time zone converted to UTC (:func:`local_to_utc`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: The dates a table or option can hold: pandas' nanosecond timestamps end here.
EARLIEST, LATEST = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
DATE_RANGE = f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"


def naive_utc(value: Any) -> pd.Timestamp | None:
    """``value`` as a naive-UTC ``Timestamp`` in nanoseconds, or None when it is not a date.

    Validated tables hold naive UTC ``datetime64[ns]``, so a zoned date is converted to UTC
    and its zone dropped, and the unit is nanoseconds, so comparisons are like with like.
    Each caller raises its own error (naming its argument or option) on None.

    Parameters
    ----------
    value
        A date or timestamp: ISO 8601 text, ``datetime``, ``Timestamp`` or ``datetime64``.

    Returns
    -------
    pandas.Timestamp or None
        None when ``value`` cannot be read as a date, lies outside :data:`DATE_RANGE`, or
        is missing (None, NaT, "").

    Examples
    --------
    >>> naive_utc("2025-06-30")
    Timestamp('2025-06-30 00:00:00')
    >>> naive_utc("2025-06-30T02:00:00+02:00")
    Timestamp('2025-06-30 00:00:00')
    >>> naive_utc("2025-06-30").unit
    'ns'
    >>> naive_utc("someday") is None, naive_utc(None) is None, naive_utc("") is None
    (True, True, True)
    >>> naive_utc("2999-01-01") is None
    True
    """
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if stamp is pd.NaT or pd.isna(stamp):
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    try:
        return stamp.as_unit("ns")
    except pd.errors.OutOfBoundsDatetime:
        return None


# A time of day followed by an offset or a zone: 14:05Z, 14:05:00+02:00, 14:05:00.5 -0300,
# 14:05 UTC. A bare date ("2025-03-31") has no offset even though it ends in "-31".
_OFFSET = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"


def has_offset(text: pd.Series) -> np.ndarray:
    """Which timestamp texts carry their own offset or zone (the rest are naive).

    Examples
    --------
    >>> has_offset(pd.Series(["2025-03-31", "2025-03-31T14:05:00", "2025-03-31T14:05:00Z",
    ...                       "2025-03-31 14:05:00-03:00", "2025-03-31T14:05+0200", None])).tolist()
    [False, False, True, True, True, False]
    """
    matched = text.astype("str").str.strip().str.contains(_OFFSET, regex=True)
    return (matched & text.notna()).to_numpy(dtype=bool)


def local_to_utc(values: pd.Series, zone: str, rows: np.ndarray | None = None) -> pd.Series:
    """Naive local times of ``zone`` as naive UTC, in the rows selected (all by default).

    A wall time that happens twice when clocks go back is read as the first of the two; one
    that does not exist when clocks go forward is moved to the first valid time after it.

    Parameters
    ----------
    values : Series of datetime64 (naive)
    zone : str
        An IANA time zone, e.g. ``America/Sao_Paulo``.
    rows : array of bool, optional
        The rows holding local times; the others are already UTC and stay as they are.

    Examples
    --------
    >>> times = pd.Series(pd.to_datetime(["2025-03-31 09:00", "2025-07-01 12:00"]))
    >>> local_to_utc(times, "Europe/Berlin").tolist()
    [Timestamp('2025-03-31 07:00:00'), Timestamp('2025-07-01 10:00:00')]
    >>> local_to_utc(times, "America/Sao_Paulo", rows=np.array([True, False])).tolist()
    [Timestamp('2025-03-31 12:00:00'), Timestamp('2025-07-01 12:00:00')]
    """
    rows = np.ones(len(values), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    if not rows.any():
        return values
    local = values[rows]
    converted = (
        local.dt.tz_localize(zone, ambiguous=np.ones(len(local), dtype=bool),
                             nonexistent="shift_forward")
        .dt.tz_convert("UTC").dt.tz_localize(None).astype(values.dtype)
    )
    out = values.copy()
    out[rows] = converted
    return out
