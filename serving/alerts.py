"""Alert rules of the batch scoring job: the call-to-action list for customer-success teams.

Three rules compare this run's scores with the previous run's (``--previous``):

``band_worse``
    The health band is worse than in the previous run (green -> yellow, yellow -> red, ...).
``entered_red``
    The account is in the lowest band now and was not before: it was in another band, or it
    is not in the previous run, or there is no previous run at all (then every red account
    is on the list, since nobody has looked at it yet).
``risk_rose``
    The churn probability rose by more than ``risk_rise`` (absolute, 0.10 = 10 points).

Each alert carries its reason in words. Accounts with "insufficient data" have no band to
compare and raise no band alert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

ALERT_COLUMNS = (
    "account_id", "rule", "reason", "health_score", "health_band", "previous_health_band",
    "churn_probability", "previous_churn_probability",
)
RULES = ("band_worse", "entered_red", "risk_rose")


class AlertInputError(ValueError):
    """The scores handed to the alert rules lack a column the rules need."""


def _require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AlertInputError(
            f"{name} lacks column(s) {missing}; give a file written by `customer-health score`"
        )


def _percent(values: pd.Series) -> pd.Series:
    return _text((100 * values).round(0).map(lambda v: "nan" if pd.isna(v) else f"{v:.0f}%"))


def _text(values: pd.Series) -> pd.Series:
    # With no rows, map() keeps float64, and "text" + float64 has no numpy loop.
    return values.astype(object)


def _alerts(joined: pd.DataFrame, mask: pd.Series, rule: str,
            reasons: Callable[[pd.DataFrame], pd.Series]) -> pd.DataFrame:
    """The alerts of one rule: the accounts where ``mask`` holds, with their reasons.

    ``reasons`` words the chosen rows only: text for every account of a large portfolio
    cost seconds, for the few that raise an alert next to nothing.
    """
    chosen = joined[mask.to_numpy(dtype=bool)]
    return pd.DataFrame({
        "account_id": chosen.index,
        "rule": rule,
        "reason": pd.Series(reasons(chosen), index=chosen.index).to_numpy(dtype=object),
    })


def _score(rows: pd.DataFrame) -> pd.Series:
    return _text(rows["health_score"].round(0).map("{:.0f}".format))


def find_alerts(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    band_order: Sequence[str],
    risk_rise: float = 0.10,
) -> pd.DataFrame:
    """Apply the alert rules to one run's scores.

    Parameters
    ----------
    current : DataFrame
        This run: ``account_id``, ``health_score``, ``health_band``, ``churn_probability``.
    previous : DataFrame or None
        The previous run's output, same columns; None when there is none.
    band_order : sequence of str
        Band labels from worst to best (the scorecard's bands by lower bound); the first
        is "red".
    risk_rise : float
        Alert when the churn probability rose by more than this (0-1).

    Returns
    -------
    DataFrame
        One row per alert with the columns of ``ALERT_COLUMNS``, sorted by account and rule.

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
    >>> alerts = find_alerts(now, before, band_order=["red", "yellow", "green"])
    >>> alerts[["account_id", "rule"]].values.tolist()
    [['a', 'band_worse'], ['a', 'entered_red'], ['a', 'risk_rose']]
    >>> alerts.loc[2, "reason"]
    'churn risk rose from 20% to 50% (+30 points, alert above +10)'
    """
    if not 0 <= risk_rise <= 1:
        raise ValueError(f"risk_rise must lie within 0-1 (0.10 = 10 points), got {risk_rise}")
    if not band_order:
        raise ValueError("band_order is empty; give the scorecard's bands from worst to best")
    needed = ("account_id", "health_score", "health_band", "churn_probability")
    _require_columns(current, "this run's scores", needed)
    rank = {band: i for i, band in enumerate(band_order)}
    red = band_order[0]

    now = current[list(needed)].set_index("account_id")
    if previous is not None:
        _require_columns(previous, "the previous scores", needed)
        before = previous[list(needed)].set_index("account_id")
        before = before[~before.index.duplicated(keep="last")]
    else:
        before = pd.DataFrame(columns=list(needed[1:]), index=pd.Index([], name="account_id"))
    joined = now.join(before.add_prefix("previous_"), how="left")
    joined["previous_churn_probability"] = pd.to_numeric(
        joined["previous_churn_probability"], errors="coerce"
    )
    joined["churn_probability"] = pd.to_numeric(joined["churn_probability"], errors="coerce")
    joined["health_score"] = pd.to_numeric(joined["health_score"], errors="coerce")

    rank_now = joined["health_band"].map(rank).astype(float)
    rank_before = joined["previous_health_band"].map(rank).astype(float)
    parts = []  # built column-wise: a portfolio can raise tens of thousands of alerts

    worse = rank_now.notna() & rank_before.notna() & (rank_now < rank_before)
    parts.append(_alerts(joined, worse, "band_worse", lambda rows: (
        "health band fell from " + rows["previous_health_band"].astype(str)
        + " to " + rows["health_band"].astype(str))))

    in_red = joined["health_band"].eq(red) & ~joined["previous_health_band"].eq(red)

    def why_red(rows: pd.DataFrame) -> pd.Series:
        score = _score(rows)
        if previous is None:
            return f"in {red} (score " + score + "); no previous run to compare"
        return pd.Series(
            np.where(rows["previous_health_band"].isna(),
                     f"in {red} (score " + score + "); not in the previous run",
                     f"crossed into {red}: score " + score + ", was "
                     + rows["previous_health_band"].astype(str)),
            index=rows.index,
        )
    parts.append(_alerts(joined, in_red, "entered_red", why_red))

    rise = joined["churn_probability"] - joined["previous_churn_probability"]
    # A small tolerance keeps a rise of exactly the threshold (0.3 - 0.2) from alerting.
    rose = rise.notna() & (rise > risk_rise + 1e-12)
    parts.append(_alerts(joined, rose, "risk_rose", lambda rows: (
        "churn risk rose from " + _percent(rows["previous_churn_probability"]) + " to "
        + _percent(rows["churn_probability"]) + " (+"
        + _text((100 * (rows["churn_probability"] - rows["previous_churn_probability"]))
                .round(0).map("{:.0f}".format))
        + f" points, alert above +{100 * risk_rise:.0f})"
    )))

    alerts = pd.concat(parts, ignore_index=True)
    detail = joined.reset_index()[
        ["account_id", "health_score", "health_band", "previous_health_band",
         "churn_probability", "previous_churn_probability"]
    ]
    alerts = alerts.merge(detail, on="account_id", how="left")
    alerts["rule"] = pd.Categorical(alerts["rule"], categories=RULES, ordered=True)
    alerts = alerts.sort_values(["account_id", "rule"], kind="stable").reset_index(drop=True)
    alerts["rule"] = alerts["rule"].astype(str)
    alerts["previous_health_band"] = alerts["previous_health_band"].astype(object)
    alerts["health_score"] = alerts["health_score"].astype(np.float64)
    return alerts[list(ALERT_COLUMNS)]
