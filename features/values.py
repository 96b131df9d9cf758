"""Plain values for people and for JSON: the one place that says what "missing" means.

Every answer that leaves the product (JSON bodies, driver columns, run metadata, MLflow
metrics, the report) goes through :func:`is_missing` and :func:`json_safe`, so NaN, NaT,
``pd.NA`` and infinity are never written as numbers: an undefined figure is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and ``pd.NA`` (an undefined figure); False for anything else.

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(pd.NaT), is_missing(np.float32("nan"))
    (True, True, True, True)
    >>> is_missing(0), is_missing("x"), is_missing([1.0])
    (False, False, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return isinstance(value, np.datetime64) and np.isnat(value)


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON-ready Python: numpy scalars as Python ones, missing as None.

    Infinity is None too (JSON has no such number). Mappings and sequences are converted
    item by item, timestamps become ISO 8601 text, objects with an ``as_dict`` method (metric
    results) their dict.

    Examples
    --------
    >>> json_safe({"a": np.float64("nan"), "b": [np.int64(3), float("inf")], "c": np.bool_(True)})
    {'a': None, 'b': [3, None], 'c': True}
    >>> json_safe(pd.Timestamp("2026-06-01")), json_safe("text"), json_safe(2.5)
    ('2026-06-01T00:00:00', 'text', 2.5)
    """
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return json_safe(value.as_dict())
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_list(items: Any) -> str:
    """A list of dicts (drivers) as JSON text; ``"[]"`` for anything that is not a list.

    The one storage of driver lists in files, the same in CSV and Parquet. Written by
    orjson, compact: a batch job writes hundreds of thousands of lists, eight times faster
    than the standard library's encoder. Missing and non-finite numbers are ``null``.

    Examples
    --------
    >>> json_list([{"indicator": "csat_90d", "value": np.float64("nan"), "points_lost": 9.4}])
    '[{"indicator":"csat_90d","value":null,"points_lost":9.4}]'
    >>> json_list(None)
    '[]'
    """
    if not isinstance(items, (list, tuple, np.ndarray)):
        return "[]"
    try:
        # orjson writes NaN and infinity as null itself, and numpy scalars as numbers;
        # anything else it does not know (pd.NA, timestamps) goes through json_safe.
        return orjson.dumps(items if isinstance(items, list) else list(items),
                            default=json_safe, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. keys that are not text
        return orjson.dumps(json_safe(list(items))).decode()


def finite_numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that are finite numbers, as floats (MLflow metrics).

    Examples
    --------
    >>> finite_numbers({"auc": np.float64(0.8), "lift": float("nan"), "ok": True, "n": 3})
    {'auc': 0.8, 'n': 3.0}
    """
    return {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, (bool, np.bool_))
        and math.isfinite(float(v))
    }
