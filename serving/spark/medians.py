"""Exact medians of many columns of a Spark frame, as pandas takes them.

The call list reads model drivers against each indicator's median over the portfolio
(:func:`serving.alerts.typical_values`). Collecting every account's indicators to the
driver for pandas costs the driver (and, in local mode, the whole machine) gigabytes at a
million accounts; Spark's exact ``percentile`` holds every value of a column in one task's
memory, and ``percentile_approx`` changes the numbers. So each column is reduced to the
count of each distinct value, a running count over those values finds the one or two
middle values, and only those reach the driver, where numpy averages them as pandas does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

_NAME, _VALUE, _COUNT, _UPTO, _SIZE = "_name_", "_value_", "_count_", "_upto_", "_size_"


def medians(frame, columns: Mapping[str, str]) -> dict[str, float | None]:
    """Each column's median over its known values (None and NaN are skipped, as pandas
    skips them); None where a column has no known value.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        The rows; the columns named in ``columns`` hold numbers.
    columns : mapping of str to str
        Name in the result -> column of ``frame``.

    Returns
    -------
    dict
        Name -> the median as ``DataFrame.median`` gives it: the middle value, or the mean
        of the two middle values for an even count.
    """
    middles = {name: [] for name in columns}
    for name, values in _middle_values(frame, columns).items():
        middles[name] = values
    # numpy's mean of the two middle values is pandas' own arithmetic, so the same bits.
    return {name: float(np.mean(values)) if values else None for name, values in middles.items()}


def _middle_values(frame, columns: Mapping[str, str]) -> dict[str, list[float]]:
    """Per column with a known value, its middle value (odd count) or its two middle values
    (even count), smallest first."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not columns:
        return {}
    # One long column of (name, value): every column is counted by the same two queries.
    pairs = ", ".join(f"'{name}', CAST(`{column}` AS DOUBLE)" for name, column in columns.items())
    long = frame.selectExpr(f"stack({len(columns)}, {pairs}) AS ({_NAME}, {_VALUE})")
    known = long.where(F.col(_VALUE).isNotNull() & ~F.isnan(_VALUE))
    # Distinct values, with their counts: a window over them sorts (and spills) in the
    # executors instead of holding a column's values in memory.
    counts = known.groupBy(_NAME, _VALUE).agg(F.count(F.lit(1)).alias(_COUNT))
    ascending = (Window.partitionBy(_NAME).orderBy(_VALUE)
                 .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    everything = Window.partitionBy(_NAME)
    ranked = counts.select(_NAME, _VALUE, _COUNT,
                           F.sum(_COUNT).over(ascending).alias(_UPTO),
                           F.sum(_COUNT).over(everything).alias(_SIZE))
    # The 1-based ranks of the middle values: (n + 1) / 2 and n / 2 + 1, equal for odd n.
    low = F.floor((F.col(_SIZE) + 1) / 2)
    high = F.floor(F.col(_SIZE) / 2) + 1
    first = F.col(_UPTO) - F.col(_COUNT) + 1  # the rank of a value's first row
    covering = ranked.where((F.col(_UPTO) >= low) & (first <= high))
    out: dict[str, list[float]] = {}
    for row in covering.select(_NAME, _VALUE, _COUNT, _UPTO, _SIZE).collect():
        size, upto, count = row[_SIZE], row[_UPTO], row[_COUNT]
        ranks = {(size + 1) // 2, size // 2 + 1}
        out.setdefault(row[_NAME], []).extend(
            [row[_VALUE]] * sum(upto - count < rank <= upto for rank in ranks))
    return {name: sorted(values) for name, values in out.items()}
