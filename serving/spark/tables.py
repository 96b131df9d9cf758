"""The input tables on Spark: read, numbered like the files, bucketed by account.

Every row gets ``_row`` (the 1-based data row a user sees in a problem, counted over the
table's files in path order, as pandas reads them) and ``_bucket`` (a hash of the account).
Spark's own queries (counts, key checks, the driver's columns) read one table's frame.
The per-bucket work reads ``packed``: each table's rows grouped by bucket in compressed
Arrow IPC "packs" (one per bucket and block of rows read), kept on disk once made.
:func:`per_bucket` gives every bucket its accounts and all their rows, turned back into the
pandas frames :func:`features.contract.validate_tables` takes (:func:`bucket_tables`). A
pack holds only its own table's columns, so moving a bucket's rows costs about their
compressed size: one row per table row, padded with every other table's columns, had cost
21 GB of shuffle files for 2 GB of Parquet at a million accounts (docs/scale.md).

A return carries no account: it goes to the bucket of its order's account (a return of an
unknown order to the bucket of its ``order_id``, where the reference check reports it).

The mapping file (:mod:`features.mapping`) applies as with the pandas engine: a table's
``file`` and column names when the table is read, its value maps in every bucket
(:func:`features.io.map_values`), its time zones and survey scales wherever a bucket is
validated (:func:`validated`). SQL sources (``query``, ``table``, ``source``) are refused:
Spark reads Parquet.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import ID_COLUMNS, TABLE_NAMES, TIMESTAMP_COLUMNS, Tables, validate_tables
from features.io import map_values, missing_mapped_file
from features.mapping import Mapping
from features.problems import DataContractError, Problem, ValidationReport
from serving.errors import InvalidInput

#: Buckets per input; more buckets mean less memory per task (docs/scale.md).
DEFAULT_BUCKETS = 64
# Rows a packing task gathers before it splits them by bucket: enough that a pack is far
# larger than its Arrow header, few enough that a task holds only a few hundred MB.
PACK_ROWS = 500_000
_PACK_SCHEMA = "_bucket int, _table string, _pack binary"


@dataclass(frozen=True)
class SparkTables:
    """The tables of one input on Spark.

    ``packed`` is the packs of every bucket (kept on disk from their first use until
    :meth:`release`), ``frames`` each table numbered and bucketed (``_row``, ``_bucket``
    and its columns), ``columns`` each present table's own columns (the contract's names),
    ``accounts`` the accounts table as read (for the portfolio facts of the driver) and
    ``mapping`` the mapping file the tables were read through.

    Use it as a context manager, or call :meth:`release`, to drop the packs when done.
    """

    packed: object
    frames: dict[str, object]
    columns: dict[str, tuple[str, ...]]
    accounts: object
    buckets: int
    mapping: Mapping = field(default_factory=Mapping)

    def release(self) -> None:
        """Drop the packs Spark keeps on disk."""
        self.packed.unpersist()

    def __enter__(self) -> SparkTables:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def path_exists(spark, path: str) -> bool:
    """Whether ``path`` exists, on whatever file system Spark reaches it by."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(hadoop_path))


def table_path(spark, folder: str, table: str, mapping: Mapping | None = None) -> str | None:
    """Where ``table`` is under ``folder``: the mapping's ``file``, else ``<table>.parquet``
    (a file or a folder of parts) or a folder ``<table>``; None when it is absent."""
    mapped = (mapping or Mapping()).spec(table).file
    if mapped is not None:
        path = f"{folder.rstrip('/')}/{mapped}"
        if not path_exists(spark, path):
            raise DataContractError([missing_mapped_file(path, table)])
        return path
    found = [f"{folder.rstrip('/')}/{name}" for name in (f"{table}.parquet", table)
             if path_exists(spark, f"{folder.rstrip('/')}/{name}")]
    if len(found) > 1:
        raise DataContractError([Problem(
            "error", table, None, "ambiguous_file", f"both {found[0]} and {found[1]} exist",
            "keep one of them",
        )])
    return found[0] if found else None


def _numbered(spark, frame):
    """``frame`` with ``_row``: its 1-based row over the files sorted by path."""
    from pyspark.sql import functions as F

    if len(frame.inputFiles()) == 1:  # one file: its row index is the row, no job needed
        return frame.withColumn("_row", F.col("_metadata.row_index") + 1)
    located = frame.select("*", F.col("_metadata.file_path").alias("_file"),
                           F.col("_metadata.row_index").alias("_index"))
    counts = sorted(located.groupBy("_file").count().collect(), key=lambda r: r["_file"])
    offsets, total = [], 0
    for row in counts:
        offsets.append((row["_file"], total))
        total += row["count"]
    if not offsets:
        return frame.withColumn("_row", F.lit(None).cast("long"))
    starts = spark.createDataFrame(offsets, "_file string, _offset long")
    return (located.join(F.broadcast(starts), "_file")
            .withColumn("_row", F.col("_offset") + F.col("_index") + 1)
            .drop("_file", "_index", "_offset"))


def _bucket(column, buckets: int):
    from pyspark.sql import functions as F

    # Ids are compared as text by the contract ("00123" is an id), so they are hashed as text.
    return F.pmod(F.xxhash64(column.cast("string")), F.lit(buckets)).cast("int")


def read_tables(spark, folder: str, *, buckets: int = DEFAULT_BUCKETS,
                mapping: Mapping | None = None, extra: dict[str, object] | None = None) -> SparkTables:
    """Read the Parquet tables under ``folder`` (any path Spark reads), through the mapping
    file's file and column names, numbered and bucketed.

    ``extra`` adds frames keyed by ``account_id`` that are not input tables (a previous
    run's scores), bucketed like the accounts, so each bucket gets its accounts' rows; the
    contract does not check them.

    Raises
    ------
    DataContractError
        When there is no accounts table, a table is there twice or a mapped file is not.
    InvalidInput
        When the mapping reads a table with SQL (:func:`refuse_sql`).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    mapping = mapping or Mapping()
    refuse_sql(mapping)
    paths = {name: table_path(spark, folder, name, mapping) for name in TABLE_NAMES}
    if paths["accounts"] is None:
        raise DataContractError([Problem(
            "error", "accounts", None, "required_table", "the accounts table is required",
            f"add accounts.parquet (a file or a folder of Parquet parts) to {folder}",
        )])
    read = {name: _numbered(spark, _renamed(spark.read.parquet(path), mapping.renames(name)))
            for name, path in paths.items() if path is not None}
    read.update({name: _numbered(spark, frame) for name, frame in (extra or {}).items()})
    columns = {name: tuple(c for c in frame.columns if c != "_row") for name, frame in read.items()}
    frames = {}
    for name, frame in read.items():
        if name == "returns":
            frame = _returns_with_bucket(frame, read.get("orders"), buckets)
        else:
            key = "account_id" if "account_id" in frame.columns else ID_COLUMNS[name][0]
            frame = frame.withColumn("_bucket", _bucket(F.col(key), buckets))
        frames[name] = frame.select("_row", "_bucket", *[F.col(f"`{c}`") for c in columns[name]])
    # Shuffled by bucket once and kept on disk: every pass over the buckets (validation,
    # fingerprint, portfolio facts, scoring) then reads them without another shuffle.
    packed = (packs(frames).repartition(_partitions(spark, buckets), "_bucket")
              .persist(StorageLevel.DISK_ONLY))
    return SparkTables(packed, frames, columns, read["accounts"].drop("_row"), buckets,
                       mapping)


def _partitions(spark, buckets: int) -> int:
    """The partitions the packs are spread over: the session's shuffle partitions when they
    were set, else one per bucket (a task per bucket at most)."""
    configured = spark.conf.get("spark.sql.shuffle.partitions", None)
    return int(configured) if configured else buckets


def packs(frames: dict[str, object], rows: int = PACK_ROWS):
    """Each table's rows of each bucket as packs: one Spark row (``_bucket``, ``_table``,
    ``_pack``) per bucket and block of ``rows`` rows read, ``_pack`` being the rows
    (``_row`` and the table's columns) as a compressed Arrow IPC stream."""
    joined = None
    for name, frame in frames.items():
        packed = frame.mapInArrow(_packer(name, rows), _PACK_SCHEMA)
        joined = packed if joined is None else joined.unionByName(packed)
    return joined


def _packer(table: str, rows: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending, size = [], 0
        for batch in batches:
            pending.append(batch)
            size += batch.num_rows
            if size >= rows:
                yield _split(table, pending)
                pending, size = [], 0
        if pending:
            yield _split(table, pending)

    return pack


def _split(table: str, batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    rows = pa.Table.from_batches(batches)
    rows = rows.take(pc.sort_indices(rows["_bucket"]))  # a stable sort: rows keep their order
    buckets = rows["_bucket"].to_numpy()
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]]) if len(buckets) else []
    ends = [*starts[1:], len(buckets)]
    body = rows.drop_columns(["_bucket"])
    payloads = [_ipc(body.slice(start, end - start)) for start, end in zip(starts, ends)]
    return pa.RecordBatch.from_arrays(
        [pa.array(buckets[starts], pa.int32()), pa.array([table] * len(payloads), pa.string()),
         pa.array(payloads, pa.binary())], names=["_bucket", "_table", "_pack"])


def _ipc(rows: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_stream(sink, rows.schema, options=options) as writer:
        writer.write_table(rows)
    return sink.getvalue().to_pybytes()


def refuse_sql(mapping: Mapping) -> None:
    """Raise :class:`InvalidInput` when the mapping reads a table with SQL, which Spark does
    not run: the table, the key and the fix in one line."""
    if mapping.source is not None:
        raise InvalidInput("the mapping's source (a database) is not read by --engine spark, which "
                           "reads Parquet; fix: export the tables to Parquet and map them with "
                           "file = ..., or leave out --engine spark")
    for name, spec in mapping.tables.items():
        key = next((k for k in ("query", "table", "source") if getattr(spec, k) is not None), None)
        if key is not None:
            raise InvalidInput(
                f"tables.{name}.{key} in the mapping is SQL, which --engine spark does not run "
                f"(it reads Parquet); fix: export {name} to Parquet and map it with "
                f'file = "{name}.parquet", or leave out --engine spark')


def _renamed(frame, renames: dict[str, str]):
    """``frame`` with the contract's column names (the mapping's ``columns``), as
    :func:`features.io.read_tables` renames them."""
    present = {theirs: ours for theirs, ours in renames.items()
               if theirs in frame.columns and theirs != ours}
    return frame.withColumnsRenamed(present) if present else frame


def validated(raw: dict[str, pd.DataFrame], mapping: Mapping) -> tuple[Tables, ValidationReport]:
    """:func:`features.contract.validate_tables` of the input tables in ``raw`` (not the
    extra frames of :func:`read_tables`) under the mapping's survey scales and time zones,
    as :func:`features.io.load_tables` validates."""
    return validate_tables({name: frame for name, frame in raw.items() if name in TABLE_NAMES},
                           scales=mapping.scales, time_zones=mapping.time_zones)


def _returns_with_bucket(returns, orders, buckets: int):
    from pyspark.sql import functions as F

    if "order_id" not in returns.columns:
        return returns.withColumn("_bucket", F.lit(0))
    own = _bucket(F.col("order_id"), buckets)
    if orders is None or not {"order_id", "account_id"} <= set(orders.columns):
        return returns.withColumn("_bucket", own)
    owners = (orders.select(F.col("order_id").cast("string").alias("_order"),
                            _bucket(F.col("account_id"), buckets).alias("_owner"))
              .dropDuplicates(["_order"]))
    joined = returns.join(owners, returns["order_id"].cast("string") == owners["_order"], "left")
    return joined.withColumn("_bucket", F.coalesce("_owner", own)).drop("_order", "_owner")


def per_bucket(tables: SparkTables,
               work: Callable[[dict[str, pd.DataFrame], dict[str, np.ndarray]], pd.DataFrame],
               schema: str):
    """``work(raw, rows)`` on every bucket, as one Spark DataFrame of ``schema``: ``raw``
    the bucket's tables and ``rows`` each table's file rows (:func:`bucket_tables`)."""
    columns, types, mapping = tables.columns, table_types(tables), tables.mapping

    def run(bucket: pd.DataFrame) -> pd.DataFrame:
        out = work(*bucket_tables(bucket, columns, types, mapping))
        release_freed_memory()
        return out

    return tables.packed.groupBy("_bucket").applyInPandas(run, schema)


def release_freed_memory() -> None:
    """Give the memory a finished bucket freed back to the system.

    A Python worker scores bucket after bucket and then idles while the driver makes the
    call list: glibc's malloc and Arrow's mimalloc keep freed memory for reuse, so without
    this each worker would hold the high-water mark of its largest bucket beside the
    driver's collect at the end of a run. Costs a garbage collection per bucket.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc():
    """The C library when it is glibc (it has ``malloc_trim``), else None (macOS, musl)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def bucket_tables(
    bucket: pd.DataFrame, columns: dict[str, tuple[str, ...]], types: dict[str, dict[str, str]],
    mapping: Mapping | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """One bucket's raw tables (in file order, the mapping's value maps applied) from its
    packs and, per table, the file row of each row.

    ``types`` holds each table's Spark type names, by which a table without rows in the
    bucket gets its columns' types and nanosecond timestamps read as whole numbers (see
    :func:`restored`) become timestamps again.
    """
    raw, rows = {}, {}
    for name, names in columns.items():
        found = bucket.loc[bucket["_table"] == name, "_pack"]
        if len(found):
            table = pa.concat_tables([pa.ipc.open_stream(p).read_all() for p in found])
            table = table.take(pc.sort_indices(table["_row"]))
            rows[name] = table["_row"].to_numpy()
            frame = _pandas(table.drop_columns(["_row"]))
        else:
            rows[name] = np.empty(0, dtype="int64")
            frame = pd.DataFrame({c: pd.Series(dtype=_EMPTY_DTYPES.get(types[name][c], object))
                                  for c in names})
        for column in names:
            frame[column] = restored(frame[column], types[name][column],
                                     column in TIMESTAMP_COLUMNS.get(name, ()))
        raw[name] = map_values(frame, mapping.spec(name).values) if mapping else frame
    return raw, rows


# A table without rows in a bucket: the dtypes its columns would have with rows.
_EMPTY_DTYPES = {"double": "float64", "float": "float64", "bigint": "int64", "int": "int64",
                 "smallint": "int64", "tinyint": "int64", "boolean": bool,
                 "timestamp": "datetime64[ns]", "timestamp_ntz": "datetime64[ns]"}


def _pandas(table: pa.Table) -> pd.DataFrame:
    """A pack's rows as pandas, as ``applyInPandas`` gives them: dates as Python dates, and
    Spark's timestamps (UTC instants) as naive UTC times, as in the session's time zone."""
    frame = table.to_pandas(date_as_object=True)
    for column, kind in zip(table.column_names, table.schema.types):
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def restored(values: pd.Series, spark_type: str, timestamp: bool = False) -> pd.Series:
    """A column back in the type it had in the file.

    Whole numbers padded with nulls come back as floats; Parquet nanosecond timestamps
    (what pandas writes) reach Spark as whole numbers of nanoseconds (the session reads
    them with ``nanosAsLong``, Spark's timestamps being microseconds) and become timestamps
    again here, exactly.
    """
    if timestamp and spark_type == "bigint":
        return pd.to_datetime(values, unit="ns")
    if spark_type in ("bigint", "int", "smallint", "tinyint") and values.notna().all():
        return values.astype("int64")
    if spark_type == "boolean" and values.notna().all():
        return values.astype(bool)
    return values


def table_types(tables: SparkTables) -> dict[str, dict[str, str]]:
    """Each table's Spark type name of each column (``bigint``, ``string``...)."""
    return {name: {c: kind for c, kind in tables.frames[name].dtypes if c in names}
            for name, names in tables.columns.items()}
