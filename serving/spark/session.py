"""The SparkSession of a run: the surrounding spark-submit session, or a new one."""

from __future__ import annotations

import os
import shutil
import sys

from serving.errors import EXIT_INVALID_INPUT, UserError

DEFAULT_MASTER = "local[*]"
# The tables' bucket packs are shuffled by bucket once and kept on disk; adaptive query
# execution hides that partitioning from later queries, which would shuffle them again on
# every pass (serving.spark.tables). The engine's other queries are small aggregations.
_KEEP_PARTITIONING = ("spark.sql.adaptive.enabled", "false")
_DIRECT_MEMORY = "1g"


class SparkUnavailable(UserError):
    """Java or pyspark is missing: what to install, in one line (exit code 2)."""

    exit_code = EXIT_INVALID_INPUT


def check_spark_installed() -> None:
    """Raise :class:`SparkUnavailable` naming what to install when pyspark or Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(
            "--engine spark needs pyspark: pip install 'customer-health[spark]'"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise SparkUnavailable(
            "--engine spark needs Java 17: install it (Debian/Ubuntu: apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )


def spark_session(master: str | None = None, *, shuffle_partitions: int | None = None):
    """The active SparkSession (under spark-submit), else a new one on ``master``.

    Parameters
    ----------
    master : str, optional
        Spark master URL; ``local[*]`` when omitted and no session is running.
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions`` of a new session (how many buckets are reduced at
        once); Spark's default when omitted.

    Raises
    ------
    SparkUnavailable
        When pyspark or Java is missing.
    """
    check_spark_installed()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        active.conf.set(*_KEEP_PARTITIONING)
        return active
    # Executors run the project's code: they must use this interpreter (and its venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Workers import pandera, which imports pyspark.pandas and warns about the pandas
    # version (serving/cli.py silences it on the driver).
    quiet = "ignore:PySpark does not yet fully support pandas:FutureWarning"
    os.environ.setdefault("PYTHONWARNINGS", quiet)
    # glibc gives each of the JVM's many threads its own malloc arena, which the JVM's
    # native allocations (Arrow, Netty, compression) then fragment: at a million accounts
    # Spark's JVM held 7.9 GB with a 3 GB heap, 3.7 GB with two arenas and the direct
    # memory cap below (docs/scale.md). Read when the JVM and the Python workers start,
    # so the environment is the place.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    builder = (
        SparkSession.builder.master(master or DEFAULT_MASTER)
        .appName("customer-health")
        # Tables hold naive UTC; a session in another zone would shift every timestamp.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.executorEnv.PYTHONWARNINGS", quiet)
        # The driver JVM collects the merged problems, the accounts' dates and the alerts;
        # Spark's 1 GB default is too little for a million accounts (docs/scale.md).
        .config("spark.driver.memory", "3g")
        # Off-heap buffers (Arrow batches to and from the Python workers, Netty) are
        # otherwise allowed as much as the heap again; a bucket's batches need far less.
        .config("spark.driver.extraJavaOptions", f"-XX:MaxDirectMemorySize={_DIRECT_MEMORY}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # pandas writes nanosecond timestamps, which Spark reads only as whole numbers
        # (serving.spark.tables.restored makes them timestamps again).
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config(*_KEEP_PARTITIONING)
    )
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
