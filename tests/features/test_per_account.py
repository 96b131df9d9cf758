"""Per-account building blocks: codes of the rows' values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features import per_account as agg


@pytest.mark.parametrize("dtype", ["str", object])
def test_row_codes_number_the_taken_values_as_factorize_does(dtype):
    # Two Arrow chunks, as a Parquet file with two row groups reads: the codes run across them.
    chunks = pa.chunked_array([["u2", None, "u1"], ["u2", "", "u3", "u1"]])
    values = pd.Series(chunks.to_pylist(), dtype=dtype)
    if dtype == "str" and isinstance(values.array, pd.arrays.ArrowStringArray):
        values = pd.Series(pd.arrays.ArrowStringArray(chunks), dtype=values.dtype)
    rows = np.array([6, 1, 0, 3, 4, 2, 0])
    codes, count = agg.row_codes(values, rows)
    expected, uniques = pd.factorize(values.take(rows))
    assert codes.tolist() == expected.tolist() == [0, -1, 1, 1, 2, 0, 1]
    assert count == len(uniques) == 3
    empty, none = agg.row_codes(values, np.array([], dtype=np.intp))
    assert len(empty) == 0 and none == 0
