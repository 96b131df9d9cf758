"""Reading one date given by a caller as the naive-UTC timestamp the tables hold."""

from __future__ import annotations

from typing import Any

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
