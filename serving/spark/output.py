"""Writing a Spark run: partitioned Parquet and a metadata file, replaced all at once.

Every output is first written next to its final path (``<path>.tmp-<id>``), through the
Hadoop file system of the path (local, HDFS, S3), and moved into place only once all of
them are complete: invalid data or a failed job leaves the previous outputs as they were.
"""

from __future__ import annotations

import json
import uuid

import pandas as pd

_TYPES = {"f": "double", "i": "bigint", "u": "bigint", "b": "boolean", "M": "timestamp_ntz"}


def spark_schema(frame: pd.DataFrame) -> str:
    """The Spark DDL schema of ``frame``'s columns: numbers, flags, timestamps, else text."""
    return ", ".join(f"`{c}` {_TYPES.get(frame[c].dtype.kind, 'string')}" for c in frame.columns)


def conform(frame: pd.DataFrame, schema: str) -> pd.DataFrame:
    """``frame`` with the columns and types of ``schema`` (text columns as str or None)."""
    out = {}
    for part in schema.split(", "):
        name, kind = part.rsplit(" ", 1)
        name = name.strip("`")
        values = frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)
        if kind == "string":
            values = values.astype(object).where(values.notna(), None)
            values = values.map(lambda v: v if v is None else str(v))
        elif kind == "double":
            values = pd.to_numeric(values, errors="coerce").astype("float64")
        out[name] = values
    return pd.DataFrame(out, index=frame.index)


class Staged:
    """Outputs written beside their final paths, moved into place by :meth:`commit`."""

    def __init__(self, spark):
        self._spark = spark
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._token = uuid.uuid4().hex[:8]
        self._moves: list[tuple[str, str]] = []

    def _fs(self, path: str):
        return self._Path(path).getFileSystem(self._conf)

    def _stage(self, path: str) -> str:
        tmp = f"{path}.tmp-{self._token}"
        self._moves.append((tmp, path))
        return tmp

    def parquet(self, frame, path: str) -> None:
        """Write a Spark DataFrame as a folder of Parquet parts."""
        frame.write.mode("overwrite").parquet(self._stage(path))

    def text(self, text: str, path: str) -> None:
        tmp = self._stage(path)
        stream = self._fs(tmp).create(self._Path(tmp), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def json(self, data: dict, path: str) -> None:
        self.text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", path)

    def commit(self) -> None:
        """Replace each final path by its staged output."""
        for tmp, path in self._moves:
            fs = self._fs(path)
            if fs.exists(self._Path(path)):
                fs.delete(self._Path(path), True)
            if not fs.rename(self._Path(tmp), self._Path(path)):
                raise OSError(f"could not move {tmp} to {path}")
        self._moves = []

    def discard(self) -> None:
        """Remove whatever was staged (a failed run leaves nothing behind)."""
        for tmp, _ in self._moves:
            fs = self._fs(tmp)
            if fs.exists(self._Path(tmp)):
                fs.delete(self._Path(tmp), True)
        self._moves = []
