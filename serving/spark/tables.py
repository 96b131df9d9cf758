"""The input tables on Spark: read, numbered like the files, bucketed by account.

All six tables travel as one "long" DataFrame: each table's columns prefixed with its name
(``sessions__started_at``), plus ``_table``, ``_row`` (the 1-based data row a user sees in a
problem, counted over the table's files in path order, as pandas reads them) and
``_bucket`` (a hash of the account). One ``groupBy("_bucket")`` then gives every bucket its
accounts and all their rows; :func:`bucket_tables` turns a bucket back into the pandas
frames :func:`features.contract.validate_tables` takes.

A return carries no account: it goes to the bucket of its order's account (a return of an
unknown order to the bucket of its ``order_id``, where the reference check reports it).

The mapping file (:mod:`features.mapping`) applies as with the pandas engine: a table's
``file`` and column names when the table is read, its value maps in every bucket
(:func:`features.io.map_values`), its time zones and survey scales wherever a bucket is
validated (:func:`validated`). SQL sources (``query``, ``table``, ``source``) are refused:
Spark reads Parquet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import ID_COLUMNS, TABLE_NAMES, TIMESTAMP_COLUMNS, Tables, validate_tables
from features.io import map_values, missing_mapped_file
from features.mapping import Mapping
from features.problems import DataContractError, Problem, ValidationReport
from serving.errors import InvalidInput

#: Buckets per input; more buckets mean less memory per task (docs/scale.md).
DEFAULT_BUCKETS = 64
SEP = "__"


@dataclass(frozen=True)
class SparkTables:
    """The tables of one input on Spark.

    ``long`` is the bucketed long DataFrame, ``columns`` each present table's own columns
    (the contract's names), ``accounts`` the accounts table as read (for the portfolio facts
    of the driver) and ``mapping`` the mapping file the tables were read through.
    """

    long: object
    columns: dict[str, tuple[str, ...]]
    accounts: object
    buckets: int
    mapping: Mapping = field(default_factory=Mapping)


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
                mapping: Mapping | None = None) -> SparkTables:
    """Read the Parquet tables under ``folder`` (any path Spark reads) into one bucketed
    frame, through the mapping file's file and column names.

    Raises
    ------
    DataContractError
        When there is no accounts table, a table is there twice or a mapped file is not.
    InvalidInput
        When the mapping reads a table with SQL (:func:`refuse_sql`).
    """
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
    columns = {name: tuple(c for c in frame.columns if c != "_row") for name, frame in read.items()}
    parts = []
    for name, frame in read.items():
        if name == "returns":
            frame = _returns_with_bucket(frame, read.get("orders"), buckets)
        else:
            key = "account_id" if "account_id" in frame.columns else ID_COLUMNS[name][0]
            frame = frame.withColumn("_bucket", _bucket(F.col(key), buckets))
        parts.append(frame.select(
            F.lit(name).alias("_table"), "_row", "_bucket",
            *[F.col(f"`{c}`").alias(f"{name}{SEP}{c}") for c in columns[name]],
        ))
    long = parts[0]
    for part in parts[1:]:
        long = long.unionByName(part, allowMissingColumns=True)
    return SparkTables(long, columns, read["accounts"].drop("_row"), buckets, mapping)


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
    """:func:`features.contract.validate_tables` under the mapping's survey scales and time
    zones, as :func:`features.io.load_tables` validates."""
    return validate_tables(raw, scales=mapping.scales, time_zones=mapping.time_zones)


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


def bucket_tables(
    long: pd.DataFrame, columns: dict[str, tuple[str, ...]], types: dict[str, dict[str, str]],
    mapping: Mapping | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """One bucket's raw tables (in file order, the mapping's value maps applied) and, per
    table, the file row of each row.

    ``types`` holds each table's Spark type names: the long frame pads other tables' rows
    with nulls, which turns whole numbers into floats, so they are given back their type.
    """
    raw, rows = {}, {}
    for name, names in columns.items():
        part = long[long["_table"] == name].sort_values("_row", kind="stable")
        frame = pd.DataFrame({c: part[f"{name}{SEP}{c}"].to_numpy() for c in names})
        for column in names:
            frame[column] = restored(frame[column], types[name][column],
                                     column in TIMESTAMP_COLUMNS.get(name, ()))
        raw[name] = map_values(frame, mapping.spec(name).values) if mapping else frame
        rows[name] = part["_row"].to_numpy(dtype="int64")
    return raw, rows


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
    types = dict(tables.long.dtypes)
    return {name: {c: types[f"{name}{SEP}{c}"] for c in names}
            for name, names in tables.columns.items()}


def with_table(tables: SparkTables, name: str, frame) -> SparkTables:
    """``tables`` plus one more frame keyed by ``account_id`` (e.g. a previous run's scores),
    numbered and bucketed like the input tables, so each bucket gets its accounts' rows."""
    from pyspark.sql import functions as F

    spark = frame.sparkSession
    frame = _numbered(spark, frame)
    columns = tuple(c for c in frame.columns if c != "_row")
    part = frame.select(
        F.lit(name).alias("_table"), "_row", _bucket(F.col("account_id"), tables.buckets).alias("_bucket"),
        *[F.col(f"`{c}`").alias(f"{name}{SEP}{c}") for c in columns],
    )
    long = tables.long.unionByName(part, allowMissingColumns=True)
    return SparkTables(long, {**tables.columns, name: columns}, tables.accounts, tables.buckets,
                       tables.mapping)
