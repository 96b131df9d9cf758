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
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

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
_NEEDED = ("account_id", "health_score", "health_band", "churn_probability")


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


def _percent(values: pd.Series) -> pd.Series:
    return _text((100 * values).round(0).map(lambda v: "n/a" if pd.isna(v) else f"{v:.0f}%"))


def _optional(frame: pd.DataFrame, column: str, dtype=object) -> pd.Series:
    if column in frame.columns:
        return frame[column]
    return pd.Series(np.nan if dtype is float else None, index=frame.index, dtype=dtype)


def top_driver_texts(drivers: pd.Series, top: int = TOP_DRIVERS) -> pd.Series:
    """The first ``top`` driver sentences of each cell (JSON text or a list), "; "-joined.

    Examples
    --------
    >>> top_driver_texts(pd.Series(['[{"text": "CSAT fell"}, {"text": "no logins"}]', None]), 1).tolist()
    ['CSAT fell', '']
    """
    def words(cell) -> str:
        if isinstance(cell, str):
            cell = json.loads(cell) if cell else []
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            return ""
        return "; ".join(str(d.get("text", "")) for d in list(cell)[:top] if isinstance(d, dict))

    return _text(drivers.map(words))


def find_alerts(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    band_order: Sequence[str],
    risk_rise: float = 0.10,
    currency: str | None = None,
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
    risk_now = pd.to_numeric(now["churn_probability"], errors="coerce").astype(float)
    risk_before = pd.to_numeric(was["churn_probability"], errors="coerce").astype(float)
    score = pd.to_numeric(now["health_score"], errors="coerce").astype(float)
    band_now, band_before = now["health_band"].astype(object), was["health_band"].astype(object)
    rank_now = band_now.map(rank).astype(float)
    rank_before = band_before.map(rank).astype(float)
    score_words = _text(score.round(0).map(lambda v: "n/a" if pd.isna(v) else f"{v:.0f}").to_numpy())
    score_words.index = now.index

    # Each rule: a mask and its reason in words, built column-wise for any portfolio size.
    in_red = band_now.eq(red) & ~band_before.eq(red)
    if previous is None:
        red_why = f"in {red} (score " + score_words + "); no previous run to compare"
    else:
        red_why = pd.Series(np.where(
            band_before.isna(), f"in {red} (score " + score_words + "); not in the previous run",
            f"crossed into {red}: score " + score_words + ", was " + band_before.astype(str)),
            index=now.index)
    worse = rank_now.notna() & rank_before.notna() & (rank_now < rank_before) & ~in_red
    worse_why = "health band fell from " + band_before.astype(str) + " to " + band_now.astype(str)
    rise = risk_now - risk_before
    # A small tolerance keeps a rise of exactly the threshold (0.3 - 0.2) off the list.
    rose = rise.notna() & (rise > risk_rise + 1e-12)
    rose_why = ("churn risk rose from " + _percent(risk_before) + " to " + _percent(risk_now)
                + " (+" + _text((100 * rise).round(0).map(lambda v: "n/a" if pd.isna(v) else f"{v:.0f}"))
                + f" points, listed above +{100 * risk_rise:.0f})")
    lost = band_before.eq(red) & score.isna()
    lost_why = _text(pd.Series(f"fell from {red} to too little data for a score: check why "
                               "the account went quiet", index=now.index))
    rules = [("entered_red", in_red, red_why), ("band_worse", worse, worse_why),
             ("risk_rose", rose, rose_why), ("lost_score", lost, lost_why)]

    listed = np.zeros(len(now), dtype=bool)
    reasons = pd.Series("", index=now.index, dtype=object)
    codes = pd.Series("", index=now.index, dtype=object)
    for code, mask, why in rules:
        hit = mask.to_numpy(dtype=bool)
        listed |= hit
        sep = np.where(reasons.to_numpy() == "", "", "; ")
        reasons = reasons.where(~hit, reasons + sep + why.astype(str))
        sep = np.where(codes.to_numpy() == "", "", " ")
        codes = codes.where(~hit, codes + sep + code)

    chosen = now.index[listed]
    revenue = pd.to_numeric(_optional(now, "mrr", float), errors="coerce").astype(float)
    calls = pd.DataFrame({
        "account_id": chosen.astype(object),
        "owner": _optional(now, "owner").loc[chosen].astype(object).to_numpy(),
        "segment": _optional(now, "segment").loc[chosen].astype(object).to_numpy(),
        "reasons": reasons.loc[chosen].to_numpy(dtype=object),
        "rules": codes.loc[chosen].to_numpy(dtype=object),
        "health_score": score.loc[chosen].to_numpy(dtype=np.float64),
        "health_band": band_now.loc[chosen].to_numpy(dtype=object),
        "previous_health_band": band_before.loc[chosen].to_numpy(dtype=object),
        "churn_probability": risk_now.loc[chosen].to_numpy(dtype=np.float64),
        "previous_churn_probability": risk_before.loc[chosen].to_numpy(dtype=np.float64),
        "monthly_revenue": revenue.loc[chosen].to_numpy(dtype=np.float64),
        "currency": currency,
    })
    calls["revenue_at_stake"] = calls["churn_probability"] * calls["monthly_revenue"]
    calls = calls.sort_values(
        ["revenue_at_stake", "churn_probability", "health_score", "account_id"],
        ascending=[False, False, True, True], na_position="last", kind="stable",
    ).reset_index(drop=True)
    calls["rank"] = np.arange(1, len(calls) + 1, dtype=np.int64)
    # Only the listed accounts' drivers are read: the JSON of a whole portfolio is not.
    drivers = _optional(now, "churn_drivers").loc[calls["account_id"]]
    fallback = _optional(now, "health_drivers").loc[calls["account_id"]]
    texts = top_driver_texts(drivers.reset_index(drop=True))
    texts = texts.where(texts != "", top_driver_texts(fallback.reset_index(drop=True)))
    calls["top_drivers"] = texts.to_numpy(dtype=object)
    calls["currency"] = calls["currency"].astype(object)
    return calls[list(CALL_LIST_COLUMNS)]
