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


def _same_partition(codes: np.ndarray, expected: np.ndarray) -> bool:
    """Equal values share a code and only they do; missing is -1 in both."""
    if not np.array_equal(codes < 0, expected < 0):
        return False
    pairs = set(zip(codes[codes >= 0].tolist(), expected[expected >= 0].tolist()))
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


@pytest.mark.parametrize("dtype", ["str", object])
def test_codes_kept_for_many_dates_give_each_date_the_codes_it_would_get_alone(dtype):
    accounts = pd.Series(["b", "a", None, "c", "a", "d", "b", "e"], dtype=dtype)
    users = pd.Series(["u1", "u2", "u2", None, "u3", "u1", "u4", "u5"], dtype=dtype)
    dates = [pd.Index(["a", "b"]), pd.Index(["a", "c", "d", "zz"]), pd.Index([], dtype=object)]
    rows = [np.array([7, 0, 1, 3]), np.array([5, 4, 3, 2, 1]), np.array([], dtype=np.intp)]
    alone = [(agg.account_codes(accounts, ids), agg.row_codes(users, taken))
             for ids, taken in zip(dates, rows)]
    with agg.columns_coded_once():
        kept = [(agg.account_codes(accounts, ids), agg.row_codes(users, taken))
                for ids, taken in zip(dates, rows)]
        # A date codes several tables against its ids; then an earlier date comes again.
        assert agg.account_codes(accounts, dates[-1]).tolist() == alone[-1][0].tolist()
        assert agg.account_codes(users, dates[0]).tolist() == [-1] * len(users)
        assert agg.account_codes(accounts, dates[0]).tolist() == alone[0][0].tolist()
    for (codes, (user_codes, n)), (again, (user_again, n_again)) in zip(alone, kept):
        assert again.tolist() == codes.tolist()
        assert n_again == n and _same_partition(user_again, user_codes)
        assert user_again.max(initial=-1) < n_again
