"""The call list of the batch scoring job: one row per account that needs a call, and why.

Four rules compare this run's scores with the previous run's (``--previous``); an account
that meets any of them is listed once, with every reason in words:

``entered_red``
    The account is in the lowest band now and was not before: it was in another band, or it
    is not in the previous run, or there is no previous run at all (then every red account
    is on the list, since nobody has looked at it yet).
``band_worse``
    The health band is worse than in the previous run without reaching red (green -> yellow).
    A move into red is one reason ("crossed into red, was yellow"), not two.
``risk_rose``
    The churn probability rose by more than ``risk_rise`` (absolute, 0.10 = 10 points).
``lost_score``
    The account was red and now has too little data for a score: its silence is a reason
    to call, not a reason to drop it from the list.

The list is sorted by urgency: the monthly revenue at stake (churn probability x monthly
revenue) first, then the churn probability, then the lowest health score, then the id, so
the same run always gives the same order. It carries the segment, the owner (when the
accounts table has one), the revenue with its currency and the top drivers in words.

A model driver that reads backwards to a person ("comment sentiment +0.4 raises churn
risk": a value better than the portfolio's typical one that raises the risk, or a worse one
that lowers it) is left out of the top drivers: the model may have learnt something true,
but a manager cannot act on it, and printing it without comment reads as an error.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The call list's columns, in this order (the alerts file of a run; ``docs/batch.md``).
CALL_LIST_COLUMNS = (
    "rank", "account_id", "owner", "segment", "reasons", "rules", "health_score",
    "health_band", "previous_health_band", "churn_probability", "previous_churn_probability",
    "monthly_revenue", "currency", "revenue_at_stake", "top_drivers",
)
#: The alerts file is the call list: one name for readers written before it was.
ALERT_COLUMNS = CALL_LIST_COLUMNS
RULES = ("entered_red", "band_worse", "risk_rose", "lost_score")
#: Drivers shown per account in the call list.
TOP_DRIVERS = 3
#: The run metadata key of the portfolio's typical (median) indicator values: the call list,
#: the report's at-risk table and the account page leave out drivers that read backwards
#: against them, so all three tell one story.
TYPICAL_KEY = "typical_indicators"
_NEEDED = ("account_id", "health_score", "health_band", "churn_probability")
#: Every scores column :func:`find_alerts` reads: the needed ones, then those used when present.
CALL_LIST_INPUTS = (*_NEEDED, "segment", "owner", "mrr", "churn_drivers", "health_drivers")


class AlertInputError(ValueError):
    """The scores handed to the alert rules lack a column the rules need."""


def _require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AlertInputError(
            f"{name} lacks column(s) {missing}; give a file written by `customer-health score`"
        )


def _text(values) -> pd.Series:
    # With no rows, map() keeps float64, and "text" + float64 has no numpy loop.
    return pd.Series(values).astype(object)


def _numbers(values: np.ndarray, unit: str = "") -> pa.Array:
    """Whole numbers as text (``"n/a"`` for NaN), without a Python call per value.

    >>> _numbers(np.array([41.59, np.nan]), "%").to_pylist()
    ['42%', 'n/a']
    """
    known = ~np.isnan(values)
    whole = np.round(np.where(known, values, 0)).astype(np.int64)
    words = pa.array(whole, mask=~known).cast(pa.string())
    return pc.binary_join_element_wise(words, unit, "").fill_null("n/a")


def _labels(values: np.ndarray) -> pa.Array:
    """Band labels as Arrow text, null where there is none (None or NaN)."""
    return pa.array(values, type=pa.string(), from_pandas=True)


def _joined(parts: Sequence, separator: str) -> np.ndarray:
    """Row by row, the parts (Arrow text or constants; null where a part does not apply)
    joined by ``separator``, skipping the nulls: one Arrow kernel, not a Python call per row."""
    words = pc.binary_join_element_wise(*parts, separator, null_handling="skip")
    return words.to_numpy(zero_copy_only=False)


def _band_ranks(bands: np.ndarray, rank: Mapping[str, int]) -> np.ndarray:
    """Each band's place in ``rank`` (NaN for a label not in it): a lookup per distinct label."""
    codes, labels = pd.factorize(bands)
    return np.append([rank.get(label, np.nan) for label in labels], np.nan)[codes]


def _optional(frame: pd.DataFrame, column: str, dtype=object) -> pd.Series:
    if column in frame.columns:
        return frame[column]
    return pd.Series(np.nan if dtype is float else None, index=frame.index, dtype=dtype)


@functools.lru_cache(maxsize=1024)
def _good_is(indicator: str) -> str | None:
    from features.catalogue import describe_indicator

    return describe_indicator(indicator, strict=False).good_is


def reads_backwards(driver: dict, typical: Mapping[str, float | None]) -> bool:
    """Whether a model driver contradicts common sense: a better-than-typical value that
    raises the churn risk, or a worse-than-typical one that lowers it.

    "Better" follows the indicator's direction in the catalogue; "typical" is the median of
    the accounts scored. Drivers without a direction, a value or a typical value pass.

    Examples
    --------
    >>> backwards = {"indicator": "csat_90d", "value": 95.0, "contribution": 0.3}
    >>> reads_backwards(backwards, {"csat_90d": 70.0}), reads_backwards(backwards, {})
    (True, False)
    >>> reads_backwards({"indicator": "csat_90d", "value": 40.0, "contribution": 0.3}, {"csat_90d": 70.0})
    False
    """
    name, value, push = driver.get("indicator"), driver.get("value"), driver.get("contribution")
    middle = typical.get(name) if isinstance(name, str) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or push is None or middle is None:
        return False
    good_is = _good_is(name)
    if good_is not in ("higher", "lower") or np.isnan(value) or np.isnan(middle) or value == middle:
        return False
    better = (value > middle) == (good_is == "higher")
    return (better and push > 0) or (not better and push < 0)


def typical_values(indicators: pd.DataFrame) -> dict[str, float | None]:
    """Each numeric indicator's median over the accounts scored (None where no account has
    a value: the run metadata is JSON, which has no NaN).

    >>> typical_values(pd.DataFrame({"csat_90d": [60.0, 80.0, np.nan], "x": [np.nan] * 3}))
    {'csat_90d': 70.0, 'x': None}
    """
    medians = indicators.median(numeric_only=True)
    return {str(name): None if pd.isna(value) else float(value) for name, value in medians.items()}


def sensible_drivers(drivers: Sequence, typical: Mapping[str, float | None] | None) -> list:
    """``drivers`` without the ones that read backwards (:func:`reads_backwards`); all of
    them when ``typical`` is empty (a run recorded before the typical values were)."""
    typical = typical or {}
    return [d for d in drivers if not (isinstance(d, dict) and reads_backwards(d, typical))]


def driver_texts(value: Any, typical: Mapping[str, float | None] | None = None) -> list[str]:
    """The sentences of a drivers cell (scorecard or model drivers), whatever its storage,
    without the drivers that read backwards against the run's ``typical`` values
    (:func:`sensible_drivers`, as in the call list).

    A drivers cell is a list of dicts with a ``text`` key in memory, a numpy array of
    dicts after a Parquet round trip, or a JSON string in CSV.

    >>> driver_texts([{"text": "CSAT, last 180 days: 38% (poor ≤ 50%) cost 9.4 points"}])
    ['CSAT, last 180 days: 38% (poor ≤ 50%) cost 9.4 points']
    >>> driver_texts('[{"text": "no logins for 40 days"}]')
    ['no logins for 40 days']
    >>> driver_texts(None)
    []
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value] if value else []
    if isinstance(value, dict):
        value = [value]
    texts = []
    for item in sensible_drivers(list(value), typical):
        if isinstance(item, dict):
            text = item.get("text") or item.get("measure") or item.get("indicator")
        else:
            text = str(item)
        if text:
            texts.append(str(text))
    return texts


def top_driver_texts(drivers: pd.Series, top: int = TOP_DRIVERS,
                     typical: Mapping[str, float] | None = None) -> pd.Series:
    """The first ``top`` driver sentences of each cell (JSON text or a list), "; "-joined,
    leaving out drivers that read backwards (:func:`reads_backwards`) against ``typical``.

    The texts are those of :func:`driver_texts`, cell by cell; a call list reads tens of
    thousands of cells, so the drivers of every cell are read as one table
    (:func:`_first_texts`), and drivers still in memory (the batch job's) are not written to
    JSON and read back.

    Examples
    --------
    >>> top_driver_texts(pd.Series(['[{"text": "CSAT fell"}, {"text": "no logins"}]', None]), 1).tolist()
    ['CSAT fell', '']
    """
    cells = _parsed_cells(drivers.to_numpy(dtype=object))
    if cells is None:  # some cell is not a JSON list of drivers: read each on its own
        return _text(drivers.map(lambda cell: "; ".join(driver_texts(cell, typical)[:top])))
    return pd.Series(_first_texts(cells, top, typical or {}), index=drivers.index, dtype=object)


def _parsed_cells(cells: np.ndarray) -> list | None:
    """Each cell as a list of drivers (None and NaN as ``[]``, JSON text parsed); None when
    a cell is neither a list nor the JSON text of one."""
    out = []
    for cell in cells.tolist():
        if isinstance(cell, str):
            try:
                cell = json.loads(cell)
            except json.JSONDecodeError:
                return None
        elif cell is None or (isinstance(cell, float) and np.isnan(cell)):
            cell = []
        if type(cell) is not list:
            return None
        out.append(cell)
    return out


def _first_texts(cells: list[list], top: int, typical: Mapping[str, float | None]) -> np.ndarray:
    """Per cell, its first ``top`` driver sentences that do not read backwards, "; "-joined.

    The drivers of all cells are one flat table, a row per driver: the Python work left is
    reading each driver's fields once; choosing and joining are done over whole columns.
    """
    # A driver that is not a dict reads as its own words, as a dict with only a text would.
    items = [item if isinstance(item, dict) else {"text": str(item)} for cell in cells for item in cell]
    # The words shown for a driver: its text, else its measure, else its indicator.
    words = np.fromiter([d.get("text") or d.get("measure") or d.get("indicator") for d in items],
                        dtype=object, count=len(items))
    kept = np.flatnonzero(words.astype(bool) & ~_backwards(items, typical))
    # A kept driver's place among its cell's kept ones: the flat table keeps the cells in
    # order, so it is its position less that of its cell's first.
    owner = np.repeat(np.arange(len(cells)), [len(cell) for cell in cells])[kept]
    first = np.arange(len(kept)) - np.searchsorted(owner, owner) < top
    texts = words[kept[first]]
    if pd.api.types.infer_dtype(texts, skipna=False) not in ("string", "empty"):
        texts = np.fromiter(map(str, texts), dtype=object, count=len(texts))
    # Each cell's texts as one Arrow list, joined by one kernel.
    ends = np.cumsum(np.bincount(owner[first], minlength=len(cells)))
    lists = pa.ListArray.from_arrays(np.append(0, ends), pa.array(texts, type=pa.string()))
    return pc.binary_join(lists, "; ").to_numpy(zero_copy_only=False)


def _backwards(items: list[dict], typical: Mapping[str, float | None]) -> np.ndarray:
    """Which drivers read backwards (:func:`reads_backwards`), column-wise: an indicator
    with a direction and a typical number, a numeric value other than the typical one,
    and a contribution pushing the risk the wrong way."""
    rules = {}  # indicator -> (higher is better, typical value): those the test can judge
    for name, middle in typical.items():
        good_is = _good_is(name) if isinstance(name, str) else None
        if good_is in ("higher", "lower") and middle is not None and not np.isnan(middle):
            rules[name] = (good_is == "higher", middle)
    out = np.zeros(len(items), dtype=bool)
    if not rules:
        return out
    slot = {name: i for i, name in enumerate(rules)}
    which = np.array([slot.get(name, -1) if isinstance(name := d.get("indicator"), str) else -1
                      for d in items], dtype=np.intp)
    judged = np.flatnonzero(which >= 0)
    value = np.fromiter([d.get("value") for d in items], dtype=object, count=len(items))[judged]
    # Only numbers are judged (a bool is not one): the type of each value says, and the few
    # of another type than float or int (a subclass, a bool) are asked one by one.
    kind = np.fromiter(map(type, value), dtype=object, count=len(value))
    number = np.equal(kind, float) | np.equal(kind, int)
    odd = np.flatnonzero(~number & np.not_equal(kind, type(None)))
    number[odd] = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[odd]]
    value = np.where(number, value, np.nan).astype(float)
    # A missing contribution (None, NaN once a float) pushes nowhere.
    push = np.fromiter([d.get("contribution") for d in items], dtype=object, count=len(items))[judged]
    push = push.astype(float)
    higher = np.array([rule[0] for rule in rules.values()], dtype=bool)[which[judged]]
    middle = np.array([rule[1] for rule in rules.values()], dtype=float)[which[judged]]
    better = (value > middle) == higher
    out[judged] = (value != middle) & ~np.isnan(value) & ((better & (push > 0)) | (~better & (push < 0)))
    return out


def find_alerts(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    band_order: Sequence[str],
    risk_rise: float = 0.10,
    currency: str | None = None,
    typical: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The call list of one run: the accounts to call, why, most urgent first.

    Parameters
    ----------
    current : DataFrame
        This run: ``account_id``, ``health_score``, ``health_band``, ``churn_probability``;
        used when present: ``segment``, ``owner``, ``mrr`` (monthly revenue),
        ``churn_drivers`` and ``health_drivers``.
    previous : DataFrame or None
        The previous run's output (the same first four columns); None when there is none.
    band_order : sequence of str
        Band labels from worst to best (the scorecard's bands by lower bound); the first
        is "red".
    risk_rise : float
        List an account whose churn probability rose by more than this (0-1).
    currency : str, optional
        The currency of ``mrr`` (ISO code such as "EUR"), written beside each revenue.
    typical : mapping, optional
        Indicator -> its typical (median) value over the accounts scored: model drivers
        that read backwards against it are left out of the top drivers.

    Returns
    -------
    DataFrame
        One row per listed account, columns :data:`CALL_LIST_COLUMNS`, ``rank`` 1 first.

    Raises
    ------
    AlertInputError
        When a frame lacks a needed column.
    ValueError
        When ``risk_rise`` is not within 0-1 or ``band_order`` is empty.

    Examples
    --------
    >>> now = pd.DataFrame({"account_id": ["a", "b"], "health_score": [40.0, 80.0],
    ...                     "health_band": ["red", "green"], "churn_probability": [0.5, 0.1]})
    >>> before = now.assign(health_band=["yellow", "green"], churn_probability=[0.2, 0.1])
    >>> calls = find_alerts(now, before, band_order=["red", "yellow", "green"])
    >>> calls[["account_id", "rules"]].values.tolist()
    [['a', 'entered_red risk_rose']]
    >>> calls.loc[0, "reasons"]
    'crossed into red: score 40, was yellow; churn risk rose from 20% to 50% (+30 points, listed above +10)'
    """
    if not 0 <= risk_rise <= 1:
        raise ValueError(f"risk_rise must lie within 0-1 (0.10 = 10 points), got {risk_rise}")
    if not band_order:
        raise ValueError("band_order is empty; give the scorecard's bands from worst to best")
    _require_columns(current, "this run's scores", _NEEDED)
    rank = {band: i for i, band in enumerate(band_order)}
    red = band_order[0]

    now = current.drop_duplicates("account_id", keep="last").set_index("account_id")
    if previous is not None:
        _require_columns(previous, "the previous scores", _NEEDED)
        before = previous[list(_NEEDED)].drop_duplicates("account_id", keep="last").set_index("account_id")
    else:
        before = pd.DataFrame(columns=list(_NEEDED[1:]), index=pd.Index([], name="account_id"))
    was = before.reindex(now.index)
    risk_now = pd.to_numeric(now["churn_probability"], errors="coerce").to_numpy(dtype=float)
    risk_before = pd.to_numeric(was["churn_probability"], errors="coerce").to_numpy(dtype=float)
    score = pd.to_numeric(now["health_score"], errors="coerce").to_numpy(dtype=float)
    band_now = now["health_band"].to_numpy(dtype=object)
    band_before = was["health_band"].to_numpy(dtype=object)
    rank_now = _band_ranks(band_now, rank)
    rank_before = _band_ranks(band_before, rank)

    # The rules, as masks over the whole portfolio (column-wise, for any size) ...
    in_red = (band_now == red) & (band_before != red)
    worse = ~np.isnan(rank_now) & ~np.isnan(rank_before) & (rank_now < rank_before) & ~in_red
    rise = risk_now - risk_before
    # A small tolerance keeps a rise of exactly the threshold (0.3 - 0.2) off the list.
    rose = ~np.isnan(rise) & (rise > risk_rise + 1e-12)
    lost = (band_before == red) & np.isnan(score)
    chosen = np.flatnonzero(in_red | worse | rose | lost)

    # ... and the reasons in words for the listed accounts only.
    was_band, now_band = _labels(band_before[chosen]), _labels(band_now[chosen])
    score_words = _numbers(score[chosen])
    if previous is None:
        red_why = pc.binary_join_element_wise(
            f"in {red} (score ", score_words, "), no previous run to compare", "")
    else:
        red_why = pc.if_else(
            pc.is_null(was_band),
            pc.binary_join_element_wise(f"in {red} (score ", score_words, "), not in the previous run", ""),
            pc.binary_join_element_wise(f"crossed into {red}: score ", score_words, ", was ", was_band, ""))
    rules = [
        ("entered_red", in_red, red_why),
        ("band_worse", worse, pc.binary_join_element_wise(
            "health band fell from ", was_band, " to ", now_band, "")),
        ("risk_rose", rose, pc.binary_join_element_wise(
            "churn risk rose from ", _numbers(100 * risk_before[chosen], "%"), " to ",
            _numbers(100 * risk_now[chosen], "%"), " (+", _numbers(100 * rise[chosen]),
            f" points, listed above +{100 * risk_rise:.0f})", "")),
        ("lost_score", lost, f"fell from {red} to too little data for a score: "
                             "check why the account went quiet"),
    ]
    # A rule that does not hit an account is null there, and the joins skip the nulls.
    reasons = _joined([pc.if_else(mask[chosen], why, None) for _, mask, why in rules], "; ")
    codes = _joined([pc.if_else(mask[chosen], code, None) for code, mask, _ in rules], " ")

    revenue = pd.to_numeric(_optional(now, "mrr", float), errors="coerce").to_numpy(dtype=float)
    calls = pd.DataFrame({
        "account_id": now.index.to_numpy(dtype=object)[chosen],
        "owner": _optional(now, "owner").to_numpy(dtype=object)[chosen],
        "segment": _optional(now, "segment").to_numpy(dtype=object)[chosen],
        "reasons": reasons,
        "rules": codes,
        "health_score": score[chosen],
        "health_band": band_now[chosen],
        "previous_health_band": band_before[chosen],
        "churn_probability": risk_now[chosen],
        "previous_churn_probability": risk_before[chosen],
        "monthly_revenue": revenue[chosen],
        "currency": currency,
        "top_drivers": _top_drivers(now, chosen, typical),
    })
    calls["revenue_at_stake"] = calls["churn_probability"] * calls["monthly_revenue"]
    calls = calls.sort_values(
        ["revenue_at_stake", "churn_probability", "health_score", "account_id"],
        ascending=[False, False, True, True], na_position="last", kind="stable",
    ).reset_index(drop=True)
    calls["rank"] = np.arange(1, len(calls) + 1, dtype=np.int64)
    calls["currency"] = calls["currency"].astype(object)
    return calls[list(CALL_LIST_COLUMNS)]


def _top_drivers(now: pd.DataFrame, chosen: np.ndarray, typical: Mapping[str, float] | None) -> np.ndarray:
    """The top drivers in words of the accounts at positions ``chosen`` of ``now``: the churn
    drivers, else (where no model spoke) the health drivers.

    Only the listed accounts' drivers are read, in the order of ``now`` (``chosen`` is
    ascending): the drivers of a portfolio sit in memory in that order, and reading
    hundreds of thousands of small dicts in the call list's order instead takes about
    twice as long, for the cache misses alone.
    """
    churn = top_driver_texts(_optional(now, "churn_drivers").iloc[chosen], typical=typical)
    texts = churn.to_numpy(dtype=object, copy=True)
    empty = np.flatnonzero(texts == "")
    texts[empty] = top_driver_texts(_optional(now, "health_drivers").iloc[chosen[empty]]).to_numpy()
    return texts


def as_call_list(alerts: pd.DataFrame) -> pd.DataFrame:
    """The call list of an alerts file, also of one written before the call list existed.

    Those files had one row per rule (``rule``, ``reason``): their rows are put together
    into one per account, most urgent (highest churn risk, then lowest score) first.
    """
    if "reasons" in alerts.columns:
        return alerts.sort_values("rank", kind="stable") if "rank" in alerts else alerts
    grouped = alerts.groupby("account_id", sort=False)
    calls = grouped.first().reset_index()
    calls["reasons"] = grouped["reason"].agg("; ".join).to_numpy()
    calls["rules"] = grouped["rule"].agg(" ".join).to_numpy()
    calls = calls.sort_values(["churn_probability", "health_score", "account_id"],
                              ascending=[False, True, True], na_position="last")
    return calls.assign(rank=np.arange(1, len(calls) + 1))
