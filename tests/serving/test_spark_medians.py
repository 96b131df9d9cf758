"""The medians Spark takes for the call list's typical values are pandas' own, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.alerts import typical_values
from serving.spark.medians import medians

pytest.importorskip("pyspark")


def _spark_medians(spark, frame: pd.DataFrame) -> dict[str, float | None]:
    return medians(spark.createDataFrame(frame), {f"typical {c}": c for c in frame.columns})


def test_spark_medians_are_the_pandas_medians_for_odd_and_even_counts_ties_and_gaps(spark):
    frame = pd.DataFrame({
        "odd": [3.0, 1.0, 2.0, np.nan, 5.0, 4.0],      # 5 known: the middle one
        "even": [0.1, 0.2, np.nan, 0.7, 0.3, np.nan],  # 4 known: the mean of 0.2 and 0.3
        "ties": [2.0, 2.0, 2.0, 9.0, 1.0, 2.0],        # both middle values in one tie
        "split": [1.0, 1.0, 1.0, 4.0, 4.0, 4.0],       # the two middle values in two ties
        "one": [np.nan, np.nan, -7.5, np.nan, np.nan, np.nan],
        "none": [np.nan] * 6,
    })
    want = {f"typical {name}": value for name, value in typical_values(frame).items()}

    assert _spark_medians(spark, frame) == want


def test_spark_medians_equal_pandas_on_many_random_values(spark):
    generator = np.random.default_rng(4)
    values = generator.lognormal(3.0, 2.0, size=(2001, 3))
    values[generator.random(values.shape) < 0.2] = np.nan
    frame = pd.DataFrame(values, columns=["a", "b", "c"]).assign(d=np.round(values[:, 0]))
    want = {f"typical {name}": value for name, value in typical_values(frame).items()}

    assert _spark_medians(spark, frame) == want
