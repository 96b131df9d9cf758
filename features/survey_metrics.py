"""Survey metrics: NPS, CSAT and CES from answer scores, overall and by group.

Definitions follow ``docs/metrics.md``. Each function takes the answers as any array-like of
numbers and returns a :class:`MetricResult`: the value (a percentage for rates, a plain
float for scores) plus the components a reader needs to check it by hand. A metric with
nothing to measure (no responses) has ``value=None`` and a ``reason``, never 0.

Empty answers (NaN/None) are unanswered surveys: they are counted under ``unanswered``
and excluded from every denominator, never treated as unsatisfied.

:class:`MetricResult` and the shared input checks (:func:`check_scores`,
:func:`check_period`, :func:`check_frame`) live here and are used by
:mod:`features.portfolio_metrics` too, so every metric reports bad input the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.contract import SurveyScale
from features.timestamps import naive_utc
from features.values import json_safe

#: Group label for rows whose grouping column is empty.
UNSET_GROUP = "(not set)"

#: z for the 95% margin of error of NPS.
Z_95 = 1.96

DEFAULT_CSAT_SCALE = SurveyScale(1, 5, satisfied_at=4)
DEFAULT_CES_SCALE = SurveyScale(1, 5)
_MAX_SHOWN = 5


# --- the result type -----------------------------------------------------------------


@dataclass(frozen=True)
class MetricResult:
    """A metric value with the numbers it was computed from.

    Attributes
    ----------
    value : float, int or None
        The metric (an int for counts); None when it is undefined (then ``reason`` says why).
    unit : str
        ``"percent"`` (0-100), ``"points"`` (NPS, -100..100), ``"score"``, ``"count"``,
        ``"users"``, ``"pages"``, ``"seconds"``, ``"hours"`` or ``"currency"``.
    reason : str or None
        Why the value is undefined; None when it is defined.
    components : mapping
        Counts, numerators, denominators and secondary statistics (see docs/metrics.md).
    """

    value: float | int | None
    unit: str
    reason: str | None = None
    components: Mapping[str, Any] = field(default_factory=dict)

    @property
    def defined(self) -> bool:
        return self.value is not None

    def __getitem__(self, key: str) -> Any:
        if key in ("value", "unit", "reason"):
            return getattr(self, key)
        return self.components[key]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``value``, ``unit``, ``reason``, then the components."""
        out = {"value": json_safe(self.value), "unit": self.unit, "reason": self.reason}
        out.update({key: json_safe(item) for key, item in self.components.items()})
        return out


def defined(value: float, unit: str, **components: Any) -> MetricResult:
    """A defined metric; a NaN value is a bug upstream, so it is refused.

    Whole-number counts stay integers; everything else becomes a float.
    """
    value = int(value) if isinstance(value, (int, np.integer)) else float(value)
    if math.isnan(value):
        raise ValueError("a defined metric cannot be NaN; use undefined(reason, ...)")
    return MetricResult(value, unit, None, components)


def undefined(reason: str, unit: str, **components: Any) -> MetricResult:
    """An undefined metric: value None and the reason a caller can show."""
    return MetricResult(None, unit, reason, components)


# --- shared input checks -------------------------------------------------------------


def _examples(values: pd.Series) -> str:
    shown = ", ".join(f"position {pos}: {val!r}" for pos, val in list(values.items())[:_MAX_SHOWN])
    more = f" and {len(values) - _MAX_SHOWN} more" if len(values) > _MAX_SHOWN else ""
    return shown + more


def check_scores(
    scores: Iterable[float], *, name: str = "scores", low: float, high: float,
    integer: bool = False, metric: str,
) -> tuple[np.ndarray, int]:
    """Check answer scores and split them into answered values and an unanswered count.

    Parameters
    ----------
    scores : array-like
        Answers; NaN/None are unanswered.
    name : str
        The argument name, used in messages.
    low, high : float
        The answer scale.
    integer : bool
        Whether answers must be whole numbers (NPS).
    metric : str
        The metric name, used in messages.

    Returns
    -------
    (ndarray of float, int)
        The answered scores and the number of unanswered ones.

    Raises
    ------
    ValueError
        Naming the argument, a few offending positions and values, and the fix.

    Examples
    --------
    >>> check_scores([9, None, 3], low=0, high=10, integer=True, metric="nps")
    (array([9., 3.]), 1)
    >>> check_scores([9, 11], low=0, high=10, integer=True, metric="nps")
    Traceback (most recent call last):
    ...
    ValueError: nps: scores must lie on the 0-10 scale; 1 value(s) outside it (position 1: 11.0); fix: correct these answers, or declare the real scale
    """
    series = pd.Series(scores, dtype=object if not hasattr(scores, "dtype") else None)
    series = series.reset_index(drop=True)
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    not_numbers = numbers.isna() & series.notna()
    if not_numbers.any():
        raise ValueError(
            f"{metric}: {name} must be numbers; {int(not_numbers.sum())} value(s) are not "
            f"({_examples(series[not_numbers])}); fix: pass numeric answers, NaN for unanswered"
        )
    outside = (numbers < low) | (numbers > high)
    if outside.any():
        raise ValueError(
            f"{metric}: {name} must lie on the {low:g}-{high:g} scale; {int(outside.sum())} "
            f"value(s) outside it ({_examples(numbers[outside])}); fix: correct these answers, "
            "or declare the real scale"
        )
    if integer:
        fractional = numbers.notna() & (numbers % 1 != 0)
        if fractional.any():
            raise ValueError(
                f"{metric}: {name} must be whole numbers; {int(fractional.sum())} value(s) are "
                f"not ({_examples(numbers[fractional])}); fix: use the raw answers, not averages"
            )
    answered = numbers.dropna().to_numpy()
    return answered, int(len(numbers) - len(answered))


def check_period(
    start: Any, end: Any, *, names: tuple[str, str] = ("start", "end")
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Read ``start`` and ``end`` as naive-UTC timestamps of a period ``[start, end)``.

    ``names`` are the argument names used in messages (a CLI passes its option names).

    Raises
    ------
    ValueError
        When either is not a date, or ``start`` is not before ``end``.

    Examples
    --------
    >>> check_period("2025-01-01", "2025-02-01")
    (Timestamp('2025-01-01 00:00:00'), Timestamp('2025-02-01 00:00:00'))
    >>> check_period("2025-02-01", "2025-01-01")
    Traceback (most recent call last):
    ...
    ValueError: start (2025-02-01 00:00:00) must be before end (2025-01-01 00:00:00); the period is [start, end), end excluded; fix: swap them or widen the period
    """
    stamps = []
    for name, given in zip(names, (start, end)):
        stamp = naive_utc(given)
        if stamp is None:
            raise ValueError(
                f"{name}: could not read {given!r} as a date; fix: use ISO 8601, e.g. 2025-01-01"
            )
        stamps.append(stamp)
    start, end = stamps
    if start >= end:
        raise ValueError(
            f"{names[0]} ({start}) must be before {names[1]} ({end}); the period is "
            f"[{names[0]}, {names[1]}), {names[1]} excluded; fix: swap them or widen the period"
        )
    return start, end


def check_frame(
    frame: Any, *, table: str, columns: Iterable[str], timestamps: Iterable[str] = ()
) -> None:
    """Check that ``frame`` is a DataFrame with ``columns``, ``timestamps`` as datetimes.

    Raises
    ------
    ValueError
        Naming the table, the missing or mistyped columns and the fix.

    Examples
    --------
    >>> check_frame(pd.DataFrame({"a": [1]}), table="orders", columns=["a", "amount"])
    Traceback (most recent call last):
    ...
    ValueError: orders is missing column(s) ['amount']; fix: pass the table through features.contract.validate_tables (it adds every optional column) or add the column(s)
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{table} must be a pandas DataFrame, got {type(frame).__name__}")
    columns, timestamps = list(columns), list(timestamps)
    missing = [c for c in columns + timestamps if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{table} is missing column(s) {missing}; fix: pass the table through "
            "features.contract.validate_tables (it adds every optional column) or add the column(s)"
        )
    mistyped = [c for c in timestamps if not pd.api.types.is_datetime64_any_dtype(frame[c])]
    if mistyped:
        raise ValueError(
            f"{table}.{mistyped[0]} must hold timestamps (datetime64), not "
            f"{frame[mistyped[0]].dtype}; fix: pass the table through "
            "features.contract.validate_tables or convert with pd.to_datetime"
        )


# --- the metrics ---------------------------------------------------------------------


def nps(scores: Iterable[float]) -> MetricResult:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6).

    Parameters
    ----------
    scores : array-like of int
        Answers 0-10 to "how likely are you to recommend us"; NaN is unanswered.

    Returns
    -------
    MetricResult
        ``value`` in points (-100..100); components ``responses``, ``unanswered``,
        ``promoters``, ``passives``, ``detractors``, their ``*_share`` in percent and the
        95% ``margin_of_error`` in points, ``1.96 * 100 * sqrt((p + d - (p - d)**2) / n)``.
        Undefined without responses.

    Raises
    ------
    ValueError
        For scores outside 0-10 or not whole numbers.

    Examples
    --------
    The worked example of docs/metrics.md: 5 promoters, 3 passives, 2 detractors.

    >>> result = nps([10, 9, 9, 10, 9, 7, 8, 7, 3, 6])
    >>> result.value
    30.0
    >>> result["promoters"], result["passives"], result["detractors"]
    (5, 3, 2)
    >>> round(result["margin_of_error"], 2)
    48.41
    >>> nps([]).reason
    'no responses'
    """
    answered, unanswered = check_scores(scores, low=0, high=10, integer=True, metric="nps")
    n = len(answered)
    promoters = int((answered >= 9).sum())
    detractors = int((answered <= 6).sum())
    passives = n - promoters - detractors
    counts = dict(
        responses=n, unanswered=unanswered,
        promoters=promoters, passives=passives, detractors=detractors,
    )
    if not n:
        return undefined(
            "no responses", "points", **counts, promoter_share=None, passive_share=None,
            detractor_share=None, margin_of_error=None,
        )
    p, d = promoters / n, detractors / n
    return defined(
        # From the counts, so that the worked examples come out exact (30.0, not 30.000000000000004).
        100 * (promoters - detractors) / n, "points", **counts,
        promoter_share=100 * promoters / n, passive_share=100 * passives / n,
        detractor_share=100 * detractors / n,
        margin_of_error=Z_95 * 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n),
    )


def nps_category(scores: pd.Series) -> pd.Series:
    """``"promoter"``, ``"passive"`` or ``"detractor"`` per 0-10 answer (None when empty).

    Examples
    --------
    >>> nps_category(pd.Series([10, 7, 0, None])).tolist()
    ['promoter', 'passive', 'detractor', None]
    """
    values = pd.to_numeric(scores, errors="coerce")
    labels = np.select(
        [values >= 9, values >= 7, values >= 0], ["promoter", "passive", "detractor"], default=None
    )
    return pd.Series(labels, index=scores.index, dtype=object)


def csat(scores: Iterable[float], *, scale: SurveyScale | None = None) -> MetricResult:
    """Customer satisfaction: % of responses in the satisfied boxes.

    Parameters
    ----------
    scores : array-like
        Answers on ``scale``; NaN is unanswered and excluded (not counted as unsatisfied).
    scale : SurveyScale, optional
        Default 1-5 with 4 and 5 satisfied. Another scale defaults to the top 20% of its
        points (9-10 on 1-10) unless ``satisfied_at`` says otherwise.

    Returns
    -------
    MetricResult
        ``value`` in percent; components ``responses``, ``satisfied``, ``unanswered``,
        ``mean`` (score), ``satisfied_at`` and ``scale``. Undefined without responses.

    Examples
    --------
    The worked example: 20 positive responses out of 50.

    >>> csat([5] * 12 + [4] * 8 + [3] * 10 + [2] * 20).value
    40.0
    >>> ten_point = SurveyScale(1, 10)
    >>> csat([10, 9, 8, 2], scale=ten_point)["satisfied"]
    2
    >>> csat([None, None]).reason
    'no responses'
    """
    scale = scale or DEFAULT_CSAT_SCALE
    answered, unanswered = check_scores(scores, low=scale.low, high=scale.high, metric="csat")
    n = len(answered)
    satisfied = int((answered >= scale.satisfied_at).sum())
    counts = dict(
        responses=n, satisfied=satisfied, unanswered=unanswered,
        satisfied_at=scale.satisfied_at, scale=f"{scale.low}-{scale.high}",
    )
    if not n:
        return undefined("no responses", "percent", **counts, mean=None)
    return defined(100 * satisfied / n, "percent", **counts, mean=float(answered.sum() / n))


def ces(scores: Iterable[float], *, scale: SurveyScale | None = None) -> MetricResult:
    """Customer effort score: the mean answer, normalised so that higher means easier.

    Parameters
    ----------
    scores : array-like
        Answers on ``scale``; NaN is unanswered.
    scale : SurveyScale, optional
        Default 1 (very difficult) ... 5 (very easy). A source that asks 1 = very easy
        declares ``higher_is_better=False`` and its answers are flipped
        (``low + high - score``) before the mean. Validated tables are already flipped.

    Returns
    -------
    MetricResult
        ``value`` the mean score (higher is easier); components ``responses``,
        ``unanswered``, ``sum`` (after flipping), ``scale`` and ``reversed_input``.

    Examples
    --------
    The worked example: scores 5, 4, 2, 5.

    >>> ces([5, 4, 2, 5]).value
    4.0
    >>> ces([1, 2], scale=SurveyScale(1, 5, higher_is_better=False)).value
    4.5
    """
    scale = scale or DEFAULT_CES_SCALE
    answered, unanswered = check_scores(scores, low=scale.low, high=scale.high, metric="ces")
    if not scale.higher_is_better:
        answered = scale.low + scale.high - answered
    n = len(answered)
    counts = dict(
        responses=n, unanswered=unanswered, scale=f"{scale.low}-{scale.high}",
        reversed_input=not scale.higher_is_better,
    )
    if not n:
        return undefined("no responses", "score", **counts, sum=None)
    total = float(answered.sum())
    return defined(total / n, "score", **counts, sum=total)


# --- grouped versions ----------------------------------------------------------------


def group_labels(groups: Iterable[Any]) -> pd.Series:
    """Grouping values as text, with empty values labelled :data:`UNSET_GROUP`."""
    series = pd.Series(groups, dtype=object).reset_index(drop=True)
    return series.astype("string").fillna(UNSET_GROUP).astype(object)


def by_group(
    metric: Callable[..., MetricResult], scores: Iterable[float], groups: Iterable[Any], *,
    categories: Iterable[Any] | None = None, **options: Any,
) -> dict[str, MetricResult]:
    """Apply a survey metric per group; every known group is reported, none dropped.

    Parameters
    ----------
    metric : callable
        :func:`nps`, :func:`csat` or :func:`ces`.
    scores, groups : array-like of equal length
        Answers and the group of each answer (empty group -> ``"(not set)"``).
    categories : iterable, optional
        Groups that exist even if no answer falls in them (e.g. every segment of the
        accounts table); those come back undefined with reason ``"no responses"``.
    **options
        Passed to ``metric`` (e.g. ``scale``).

    Returns
    -------
    dict of str to MetricResult
        By group label, sorted.

    Examples
    --------
    >>> result = by_group(nps, [10, 9, 3], ["smb", "smb", "enterprise"],
    ...                   categories=["smb", "enterprise", "mid-market"])
    >>> {group: r.value for group, r in result.items()}
    {'enterprise': -100.0, 'mid-market': None, 'smb': 100.0}
    """
    score_list = pd.Series(scores).reset_index(drop=True)
    labels = group_labels(groups)
    if len(score_list) != len(labels):
        raise ValueError(
            f"scores and groups must have the same length, got {len(score_list)} and "
            f"{len(labels)}; fix: pass one group per answer"
        )
    # Check all answers once so an error reports positions in the caller's input.
    metric(score_list, **options)
    results = {str(g): metric(part, **options) for g, part in score_list.groupby(labels, sort=False)}
    for category in group_labels(list(categories or [])):
        results.setdefault(category, metric([], **options))
    return dict(sorted(results.items()))


def nps_by(scores, groups, *, categories=None) -> dict[str, MetricResult]:
    """:func:`nps` per group (e.g. NPS by segment); see :func:`by_group`."""
    return by_group(nps, scores, groups, categories=categories)


def csat_by(scores, groups, *, categories=None, scale=None) -> dict[str, MetricResult]:
    """:func:`csat` per group (e.g. CSAT by channel); see :func:`by_group`."""
    return by_group(csat, scores, groups, categories=categories, scale=scale)


def ces_by(scores, groups, *, categories=None, scale=None) -> dict[str, MetricResult]:
    """:func:`ces` per group (e.g. CES by touchpoint); see :func:`by_group`.

    Examples
    --------
    >>> result = ces_by([5, 4, 2, 5], ["web", "web", "phone", None], categories=["email"])
    >>> {group: r.value for group, r in result.items()}
    {'(not set)': 5.0, 'email': None, 'phone': 2.0, 'web': 4.5}
    """
    return by_group(ces, scores, groups, categories=categories, scale=scale)


def replace_scale(scale: SurveyScale, **changes: Any) -> SurveyScale:
    """A copy of ``scale`` with ``changes`` (the scales are frozen dataclasses)."""
    return dataclasses.replace(scale, **changes)
