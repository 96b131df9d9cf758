"""Content hashes of data: the one way the project fingerprints DataFrames.

A training run logs the hash of the data it learnt from; the demo finds the model trained on
the same tables by it, and a flat-table run compares champions fairly only when both saw the
same table. Every such digest comes from :func:`frames_sha256`. It lives apart from
:mod:`models.tracking` so that hashing tables does not import MLflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd


def row_hashes(frame: pd.DataFrame, *, index: bool = False) -> np.ndarray:
    """One unsigned 64-bit hash per row of ``frame`` (its columns in their order)."""
    return pd.util.hash_pandas_object(frame, index=index).to_numpy()


def table_header(name: str, columns, rows: int) -> bytes:
    """What the digest of named frames reads before a table's row hashes: its name, its
    (sorted) column names and its row count. Spark's fingerprint
    (:mod:`serving.spark.fingerprint`) writes the same bytes."""
    return f"{name}:{','.join(map(str, columns))}:{rows}\n".encode()


def _row_hashes(frame: pd.DataFrame, *, index: bool, any_row_order: bool) -> bytes:
    rows = row_hashes(frame, index=index)
    # Sorting the row hashes makes the digest the same whatever the order of the rows.
    return (np.sort(rows) if any_row_order else rows).tobytes()


def frames_sha256(frames: pd.DataFrame | Mapping[str, pd.DataFrame], *, index: bool = False,
                  any_row_order: bool = False) -> str:
    """SHA-256 of DataFrames' values, independent of memory layout and dtype objects.

    Each row is hashed with :func:`pandas.util.hash_pandas_object`; the digest is taken over
    the row hashes.

    Parameters
    ----------
    frames : DataFrame or mapping of str to DataFrame
        One frame: its rows' values, columns in their order (column names are not part of
        the digest). Named frames (tables): in name order, each preceded by its name, its
        column names and its row count, with columns taken in sorted order, so the order of
        columns never matters while renaming, adding or removing a column does.
    index : bool, default False
        Hash the index with the values.
    any_row_order : bool, default False
        Give the same digest whatever the order of the rows (the row hashes are sorted).

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["u", "v"]})
    >>> frames_sha256(a) == frames_sha256(a.copy())
    True
    >>> frames_sha256(a) == frames_sha256(a.assign(x=[1, 3]))
    False
    >>> shuffled = a.iloc[::-1]
    >>> frames_sha256(a) == frames_sha256(shuffled)
    False
    >>> frames_sha256(a, any_row_order=True) == frames_sha256(shuffled, any_row_order=True)
    True
    >>> frames_sha256({"t": a}) == frames_sha256({"t": a[["y", "x"]]})
    True
    >>> frames_sha256({"t": a}) == frames_sha256({"u": a})
    False
    >>> frames_sha256(a, index=True) == frames_sha256(a.set_axis([5, 6]), index=True)
    False
    """
    if isinstance(frames, pd.DataFrame):
        rows = _row_hashes(frames, index=index, any_row_order=any_row_order)
        return hashlib.sha256(rows).hexdigest()
    digest = hashlib.sha256()
    for name, frame in sorted(frames.items()):
        columns = sorted(frame.columns)
        digest.update(table_header(name, columns, len(frame)))
        digest.update(_row_hashes(frame[columns], index=index, any_row_order=any_row_order))
    return digest.hexdigest()
