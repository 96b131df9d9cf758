"""The data fingerprint of an input on Spark: the digest the pandas engine records.

:func:`models.training_set.tables_sha256` hashes every row of the validated tables
(:func:`models.fingerprint.row_hashes`, columns sorted) and digests each table's header and
its row hashes in increasing order, table by table in name order. Here every bucket
validates its tables and gives one row per table row with its hash; Spark sorts them by
range, and the driver reads the sorted partitions one at a time, so it never holds more than
one partition of hashes, whatever the size of the input.

The same pass gives each table's first and last dates, from which :func:`data_span`'s
reading of the whole input is rebuilt: the run's model warnings compare them with the
model's training data, as the pandas engine does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import EVENT_COLUMNS, TABLE_NAMES, Tables
from features.mapping import Mapping
from models.fingerprint import row_hashes, table_header
from serving.spark.tables import SparkTables, per_bucket, validated

# Hashes are unsigned, Spark's longs signed: flipping the top bit makes Spark's order of the
# flipped values numpy's order of the hashes.
_TOP = np.uint64(1 << 63)
_HASHES = "table string, kind int, key long, columns string, n long, first long, last long"
_BLOBS = "table string, kind int, columns string, n long, first long, last long, blob binary"
_MARKER, _HASH = 0, 1


@dataclass(frozen=True)
class Fingerprint:
    """The digest of the input and a stand-in of its tables holding only their extremes.

    ``extremes`` has each present table with its dated column's first and last value (the
    accounts' first signup and last signup or churn date): what
    :func:`models.training_set.data_span` and the model warnings read of the tables.
    """

    sha256: str
    extremes: Tables


def _dated(name: str, frame: pd.DataFrame) -> tuple[int | None, int | None]:
    """First and last date of a table (nanoseconds), as the data span reads them."""
    if name == "accounts":
        firsts = frame["signup_date"].dropna()
        lasts = pd.concat([firsts, frame["churned_at"].dropna()]) if "churned_at" in frame else firsts
    else:
        firsts = lasts = frame[EVENT_COLUMNS[name]].dropna()
    first = None if firsts.empty else pd.Timestamp(firsts.min()).value
    last = None if lasts.empty else pd.Timestamp(lasts.max()).value
    return first, last


def _bucket_hashes(raw: dict[str, pd.DataFrame], mapping: Mapping) -> pd.DataFrame:
    """One marker row per table (columns, rows, dates) and one row per table row (its hash)."""
    raw = {name: frame for name, frame in raw.items() if name in TABLE_NAMES}
    empty = pd.DataFrame({c.split()[0]: [] for c in _HASHES.split(", ")})
    if raw["accounts"].empty:
        return empty  # rows of accounts that are nowhere: the validation refused them already
    typed, _ = validated(raw, mapping)
    parts = []
    for name, frame in typed.present().items():
        names = sorted(frame.columns)
        first, last = _dated(name, frame)
        parts.append(pd.DataFrame({"table": [name], "kind": [_MARKER], "key": [0],
                                   "columns": [",".join(map(str, names))], "n": [len(frame)],
                                   "first": [first], "last": [last]}))
        keys = (row_hashes(frame[names]) ^ _TOP).view(np.int64)
        parts.append(pd.DataFrame({"table": name, "kind": _HASH, "key": keys, "columns": None,
                                   "n": None, "first": None, "last": None}))
    return _plain(pd.concat(parts, ignore_index=True))


def _blobs(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """A partition's markers as they are and its hashes as one sorted blob per table."""
    rows = pd.concat(list(batches), ignore_index=True)
    if rows.empty:
        return
    rows = rows.sort_values(["table", "kind", "key"], kind="stable")
    out = []
    for (name, kind), group in rows.groupby(["table", "kind"], sort=True):
        if kind == _MARKER:
            out.append(group.drop(columns="key").assign(blob=None))
        else:
            hashes = group["key"].to_numpy(np.int64).view(np.uint64) ^ _TOP
            out.append(pd.DataFrame({"table": [name], "kind": [_HASH], "columns": [None],
                                     "n": [None], "first": [None], "last": [None],
                                     "blob": [hashes.tobytes()]}))
    yield _plain(pd.concat(out, ignore_index=True)[["table", "kind", "columns", "n", "first",
                                                     "last", "blob"]])


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    # Text as Python objects: pandas' Arrow-backed strings reach Spark as chunked arrays,
    # which its Arrow writer refuses; counts and dates as nullable whole numbers.
    return frame.astype({"table": object, "columns": object, "n": "Int64", "first": "Int64",
                         "last": "Int64"})


def data_fingerprint(tables: SparkTables) -> Fingerprint:
    """:func:`models.training_set.tables_sha256` of the input, and its extremes.

    Call it on valid tables (after :func:`serving.spark.validation.validate`).
    """
    mapping = tables.mapping
    found = per_bucket(tables, lambda raw, _: _bucket_hashes(raw, mapping), _HASHES)
    # Sorted by (table, kind, key) across partitions, so partition i holds what comes before
    # partition i + 1: the digest reads them in order without a global collect.
    ordered = found.repartitionByRange(max(tables.buckets, 2), "table", "kind", "key")
    digest, seen, headed = hashlib.sha256(), {}, set()

    def header(name: str) -> None:
        if name not in headed:
            headed.add(name)
            digest.update(table_header(name, seen[name]["columns"].split(","), seen[name]["n"]))

    for row in ordered.mapInPandas(_blobs, _BLOBS).toLocalIterator():
        name = row["table"]
        for earlier in [t for t in seen if t < name]:
            header(earlier)  # a table without rows: its header alone
        if row["kind"] == _MARKER:
            known = seen.setdefault(name, {"columns": row["columns"], "n": 0, "first": [], "last": []})
            known["n"] += row["n"]
            known["first"] += [] if row["first"] is None else [row["first"]]
            known["last"] += [] if row["last"] is None else [row["last"]]
        else:
            header(name)
            digest.update(bytes(row["blob"]))
    for name in sorted(seen):
        header(name)
    return Fingerprint(digest.hexdigest(), _extremes(seen))


def _extremes(seen: dict) -> Tables:
    def when(values: list[int], pick) -> pd.Timestamp:
        return pd.Timestamp(pick(values)) if values else pd.NaT

    frames = {}
    for name, known in seen.items():
        first, last = when(known["first"], min), when(known["last"], max)
        column = "signup_date" if name == "accounts" else EVENT_COLUMNS[name]
        frames[name] = pd.DataFrame({column: pd.to_datetime([first, last])})
    frames["accounts"]["churned_at"] = pd.NaT  # its last date is already the later of the two
    return Tables(**frames)
