"""Per-account aggregates over rows, vectorised with integer account codes.

The building blocks of :mod:`features.indicators`: rows are mapped once to the position of
their account (:func:`account_codes`), then counted, summed, averaged or reduced with
``numpy.bincount`` and ``ufunc.at``, with no Python loop over accounts. Sums of arbitrary
floats are added in value order so that results do not depend on row order, bit for bit.
Timestamps are int64 nanoseconds, NaT the smallest int64 (:data:`NAT`).

Windowed aggregates go through :class:`Bands`: each row is placed once in the shortest of
the nested trailing windows that holds it, and one ``bincount`` per aggregate serves every
window, so no row is filtered again per window or per indicator.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

NAT = np.iinfo(np.int64).min  # how numpy stores NaT
NO_MIN = np.iinfo(np.int64).max
NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9


# Codes of whole table columns, kept while many dates are computed over the same tables
# (:func:`columns_coded_once`); None outside it. Keyed by the column's array, which the
# entry holds, so a key is never the id of an array freed since.
_CODED: ContextVar[dict | None] = ContextVar("columns_coded_once", default=None)


@contextmanager
def columns_coded_once():
    """Within it, each table column is hashed once for every as-of date.

    Coding rows by account (and sessions by user) is most of the indicators' cost that does
    not depend on the date: a backfill or a training set computes indicators at many dates
    over the same tables. Inside the block each column is coded once against its own
    distinct values, and each date only maps those to its active accounts (one array
    lookup). Outside it nothing is kept. The indicators are the same either way.
    """
    token = _CODED.set({})
    try:
        yield
    finally:
        _CODED.reset(token)


def _whole_column_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index, dict]:
    """:func:`_distinct_codes` of ``values``, once per column inside :func:`columns_coded_once`."""
    memo = _CODED.get()
    if memo is None:
        return _distinct_codes(values)
    key = id(values.array)
    entry = memo.get(key)
    if entry is None or entry[0] is not values.array:
        entry = memo[key] = (values.array, *_distinct_codes(values))
    return entry[1:]


def _distinct_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index, dict]:
    """Each row's position among the column's distinct values (-1 missing), those values,
    and room for the lookup of the last ids they were coded against."""
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64, copy=False), pd.Index(uniques), {}


def account_codes(account_ids: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's account in ``ids``; -1 for accounts not in it."""
    if _CODED.get() is not None:
        rows, distinct, last = _whole_column_codes(account_ids)
        if last.get("ids") is not ids:  # a date's tables are coded against the same ids
            found = distinct.get_indexer(ids)
            lookup = np.full(len(distinct) + 1, -1, dtype=np.int64)  # the last slot: missing
            lookup[found[found >= 0]] = np.flatnonzero(found >= 0)
            last.update(ids=ids, lookup=lookup)
        return last["lookup"][rows]
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


def row_codes(values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of ``values`` at positions ``rows`` (-1 where missing), numbered from 0, and how
    many distinct values they number. Equal values get equal codes; the numbering itself
    is arbitrary (first appearance, or the whole column's order inside
    :func:`columns_coded_once`).
    """
    if _CODED.get() is not None:
        whole, distinct, _ = _whole_column_codes(values)
        taken = whole[rows]
        seen = np.zeros(len(distinct) + 1, dtype=bool)  # the last slot: missing values (-1)
        seen[taken] = True
        seen[-1] = False
        renumbered = np.cumsum(seen) - 1
        return np.where(taken >= 0, renumbered[taken], -1), int(seen.sum())
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        # Arrow-backed text (the pandas 3 default) read from Parquet comes in many chunks:
        # taking from one and encoding it once is a third faster than pandas' per-chunk
        # encoding, whose dictionaries must then be unified (millions of session users).
        import pyarrow as pa
        import pyarrow.compute as pc

        taken = values.array.__arrow_array__().combine_chunks().take(pa.array(rows))
        encoded = pc.dictionary_encode(taken)
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return codes.astype(np.int64), len(encoded.dictionary)
    codes, uniques = pd.factorize(values.take(rows))
    return codes, len(uniques)


def as_ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds, NaT as the smallest int64."""
    return values.to_numpy(dtype="datetime64[ns]").view(np.int64)


def from_ns(values: pd.Series | np.ndarray) -> pd.Series:
    """:func:`as_ns` undone: int64 nanoseconds as timestamps, the smallest int64 as NaT
    (e.g. after a trip through Arrow, which would cut timestamps to microseconds)."""
    return pd.Series(np.asarray(values, dtype=np.int64).view("datetime64[ns]"))


def known_rows_before(
    table: pd.DataFrame, column: str, ids: pd.Index, cut: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows dated before ``cut`` (int64 ns) of accounts in ``ids``.

    Returns those rows, each row's position in ``ids`` and its ``column`` in int64 ns.
    Rows with no date are left out: they cannot be placed before or after ``cut``.
    """
    times = as_ns(table[column])
    before = (times != NAT) & (times < cut)
    frame = table[before]
    codes = account_codes(table["account_id"], ids)[before]
    known = codes >= 0
    return frame[known], codes[known], times[before][known]


def as_float(values: pd.Series) -> np.ndarray:
    """A column as float64, NaN for missing or unreadable values."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def count(codes: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, minlength=n).astype(float)


def adds_exactly(values: np.ndarray) -> bool:
    """Whether every partial sum of ``values`` is exact (whole numbers, total below 2**53)."""
    return bool(np.all(values == np.round(values))) and np.abs(values).sum() < 2.0**53


def sum_by(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-account sums that do not depend on row order, bit for bit."""
    if not adds_exactly(values) and not np.all(values[1:] >= values[:-1]):
        # Partial sums of arbitrary floats round, differently in each order; adding in
        # value order makes the rounding the same whatever the order of the rows.
        order = np.argsort(values, kind="stable")
        codes, values = codes[order], values[order]
    # float64 also with no rows: numpy's bincount of nothing is int64 even with weights.
    return np.bincount(codes, weights=values, minlength=n).astype(np.float64, copy=False)


def ratio(numerator: np.ndarray, denominator: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """numerator / denominator x scale, NaN where the denominator is 0 (undefined, not 0)."""
    out = np.full(len(denominator), np.nan)
    np.divide(numerator * scale, denominator, out=out, where=denominator > 0)
    return out


def mean_by(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    known = ~np.isnan(values)
    return ratio(sum_by(codes[known], values[known], n), count(codes[known], n))


def max_by(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-account maximum of int64 values; the smallest int64 (NaT) where there is none."""
    out = np.full(n, NAT, dtype=np.int64)
    np.maximum.at(out, codes, values)
    return out


def min_by(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-account minimum of int64 values; NaT where there is none."""
    out = np.full(n, NO_MIN, dtype=np.int64)
    np.minimum.at(out, codes, values)
    out[out == NO_MIN] = NAT
    return out


def days_since(cut: int, stamps: np.ndarray) -> np.ndarray:
    """Days (fractional) from each timestamp to ``cut``; NaN where the timestamp is NaT."""
    out = np.full(len(stamps), np.nan)
    known = stamps != NAT
    out[known] = (cut - stamps[known]) / NS_PER_DAY
    return out


def latest_per_user(codes: np.ndarray, users: np.ndarray, n_users: int, times: np.ndarray):
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
    latest = np.full(len(pair_accounts), NAT, dtype=np.int64)
    np.maximum.at(latest, pair_of_row, times)
    return pair_accounts, latest


def latest_row(codes: np.ndarray, times: np.ndarray, ranks: np.ndarray, n: int) -> np.ndarray:
    """Row position of each account's latest row (ties broken by id rank); -1 where none."""
    order = np.lexsort((ranks, times, codes))
    ordered_codes = codes[order]
    is_last = np.ones(len(order), dtype=bool)
    is_last[:-1] = ordered_codes[1:] != ordered_codes[:-1]
    last = np.full(n, -1, dtype=np.int64)
    last[ordered_codes[is_last]] = order[is_last]
    return last


def pick(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]`` with NaN where the position is -1."""
    out = np.full(len(positions), np.nan)
    found = positions >= 0
    out[found] = values[positions[found]]
    return out


def id_ranks(values: pd.Series) -> np.ndarray:
    """Ranks of ids in sorted order: a tie-breaker that is independent of row order."""
    return pd.factorize(values, sort=True)[0]


def nan_columns(names: list[str], n: int) -> dict[str, np.ndarray]:
    return {name: np.full(n, np.nan) for name in names}


def window_names(name: str, windows: tuple[int, ...]) -> list[str]:
    return [f"{name}_{w}d" for w in windows]



class Cells:
    """An aggregate per (account, band) of :class:`Bands`: each window's figure on demand."""

    def __init__(self, cells: np.ndarray, edges: tuple[int, ...]):
        self.cells, self.edges = cells, edges

    def between(self, start_days: int, end_days: int) -> np.ndarray:
        """Per account, over the rows dated in ``[cut - end_days, cut - start_days)``.

        Both bounds are edges of the bands (or 0, the cut itself).
        """
        low = 0 if start_days == 0 else self.edges.index(start_days) + 1
        return self.cells[:, low:self.edges.index(end_days) + 1].sum(axis=1)

    def within(self, days: int) -> np.ndarray:
        """Per account, over the window of ``days``: ``[cut - days, cut)``."""
        return self.between(0, days)


class Means:
    """Means per (account, band) cells: the sum of the known values over their count."""

    def __init__(self, sums: Cells, counts: Cells):
        self.sums, self.counts = sums, counts

    def between(self, start_days: int, end_days: int) -> np.ndarray:
        """Per account, the mean over ``[cut - end_days, cut - start_days)``; NaN if none."""
        return ratio(self.sums.between(start_days, end_days),
                     self.counts.between(start_days, end_days))

    def within(self, days: int) -> np.ndarray:
        return self.between(0, days)


class Bands:
    """Rows placed once in the nested trailing windows before ``cut``: one pass, every window.

    The windows ``[cut - d days, cut)`` of ``edges`` are nested, so a row lies in every
    window from the shortest that holds it on. Each row is given that shortest window's
    number once (its band), and each aggregate is then ONE ``bincount`` over (account,
    band) cells (:class:`Cells`); a window's figure is the sum of its bands' cells. No row
    is filtered again per window or per indicator. (Sorting by account and time, then
    cutting the sorted arrays per window, gives the same figures, but sorting millions of
    rows costs more than the bincounts it would save.)

    Sums of arbitrary floats are added in value order within each cell, then cell by cell
    in band order: a canonical order, so figures do not depend on the rows' order, bit for
    bit. Rows older than the longest edge, or with no time, fall in no window.

    Parameters
    ----------
    codes : ndarray of int
        Each row's account position (0 <= code < n).
    times : ndarray of int64
        Each row's time in ns (NaT the smallest int64), dated before ``cut``.
    cut : int
        The snapshot moment in ns.
    edges : iterable of int
        Window lengths in days, each the end of a band.
    n : int
        The number of accounts.

    Examples
    --------
    >>> day = NS_PER_DAY
    >>> bands = Bands(np.array([0, 0, 1]), np.array([-5 * day, -40 * day, -1]), 0, (30, 90), 2)
    >>> counts = bands.count()
    >>> counts.within(30), counts.within(90), counts.between(30, 90)
    (array([1., 1.]), array([2., 1.]), array([1., 0.]))
    >>> bands.mean(np.array([1.0, 3.0, np.nan])).within(90)
    array([ 2., nan])
    """

    def __init__(self, codes: np.ndarray, times: np.ndarray, cut: int, edges, n: int):
        self.edges = tuple(sorted({int(d) for d in edges}))
        self.n = n
        limits = np.array(self.edges, dtype=np.int64) * NS_PER_DAY
        # The first edge at or beyond a row's age is its shortest window; len(edges): none.
        ages = np.where(times == NAT, limits[-1] + 1, cut - times)
        self.band = np.searchsorted(limits, ages, side="left")
        self.width = len(self.edges) + 1
        self.codes = codes
        self.cells = codes.astype(np.int64) * self.width + self.band

    def _cells(self, cells: np.ndarray, weights: np.ndarray | None) -> Cells:
        flat = np.bincount(cells, weights=weights, minlength=self.n * self.width)
        # float64 also with no rows: bincount of nothing is int64 even with weights.
        return Cells(flat.astype(np.float64, copy=False).reshape(self.n, self.width), self.edges)

    def count(self, where: np.ndarray | None = None) -> Cells:
        """Rows (those where ``where`` is true) per account and band."""
        return self._cells(self.cells, None if where is None else where.astype(np.float64))

    def sum(self, values: np.ndarray, where: np.ndarray | None = None) -> Cells:
        """The sum of the known ``values`` (of rows where ``where``) per account and band."""
        keep = ~np.isnan(values) if where is None else where & ~np.isnan(values)
        weights = np.where(keep, values, 0.0)
        if adds_exactly(weights):
            return self._cells(self.cells, weights)
        # Value order within each cell: the rounding is then the same in any row order.
        order = np.argsort(weights, kind="stable")
        return self._cells(self.cells[order], weights[order])

    def mean(self, values: np.ndarray, where: np.ndarray | None = None) -> Means:
        """The mean of the known ``values`` (of rows where ``where``) per account and band."""
        keep = ~np.isnan(values) if where is None else where & ~np.isnan(values)
        return Means(self.sum(values, where), self.count(keep))

    def distinct_days(self, times: np.ndarray) -> Cells:
        """Distinct calendar days with rows per account, each in the band of its latest row.

        A day counts in a window when any of its rows falls in it, that is when its
        shortest band does: one dense account x day grid of bands, no sort or hash of rows.
        """
        if not len(times):
            return self.count()
        days = times // NS_PER_DAY
        days -= days.min()
        span = int(days.max()) + 1
        first = np.full(self.n * span, self.width - 1, dtype=np.int8)
        np.minimum.at(first, self.codes.astype(np.int64) * span + days, self.band.astype(np.int8))
        grid = first.reshape(self.n, span)
        counts = np.stack([(grid == b).sum(axis=1) for b in range(self.width)], axis=1)
        return Cells(counts.astype(np.float64), self.edges)

    def medians(self, values: np.ndarray) -> Medians:
        """The medians of the known ``values`` per account, for any window of the bands."""
        return Medians(self, values)


class Medians:
    """Per-account medians by window: the rows sorted once by account and value, then cut."""

    def __init__(self, bands: Bands, values: np.ndarray):
        known = ~np.isnan(values)
        codes, values, band = bands.codes[known], values[known], bands.band[known]
        order = np.lexsort((values, codes))
        self.codes, self.values, self.band = codes[order], values[order], band[order]
        self.edges, self.n = bands.edges, bands.n

    def within(self, days: int) -> np.ndarray:
        inside = self.band <= self.edges.index(days)
        # Still in account and value order: the middle rows are read off, no sort again.
        codes, values = self.codes[inside], self.values[inside]
        counts = np.bincount(codes, minlength=self.n)
        starts = np.cumsum(counts) - counts
        out = np.full(self.n, np.nan)
        has = counts > 0
        low = starts[has] + (counts[has] - 1) // 2
        high = starts[has] + counts[has] // 2
        out[has] = (values[low] + values[high]) / 2
        return out
