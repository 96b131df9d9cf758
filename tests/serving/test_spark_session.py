"""The engine's own Spark session starts its JVM with the native-memory limits of docs/scale.md."""

from __future__ import annotations

import psutil
import pytest

pytest.importorskip("pyspark")


def test_the_engine_s_jvm_gets_two_malloc_arenas_and_a_direct_memory_cap(spark):
    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # the JVM pyspark launched

    assert "-XX:MaxDirectMemorySize=1g" in jvm.cmdline()
    assert jvm.environ().get("MALLOC_ARENA_MAX") == "2"
