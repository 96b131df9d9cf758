"""The one scoring path: tables → indicators → health scorecard → churn model → drivers.

The ``features`` and ``score`` commands, the batch job and the HTTP service all score
through :func:`score_indicators` (the service starts from indicators a client sends) or
:func:`score_tables` (everyone else starts from tables). Dates are parsed at the edge (a
CLI option, a request schema) and arrive here as timestamps.

The scored frame is indexed like the indicators, one row per account:

* health: ``health_score``, ``health_band``, ``health_color``, ``health_coverage``,
  ``health_trend``, ``health_delta``, ``group_<group>``, ``measure_<measure>`` and
  ``health_drivers`` (lists of dicts), from :func:`features.health_score.score_accounts`;
* churn, with a model: ``churn_probability``, ``risk_band``, ``churn_drivers`` (lists of
  dicts, :func:`models.explain.top_drivers`) and ``churn_coverage``; without one the same
  columns, empty. Like the health score, churn risk needs data: an account with fewer than
  :data:`CHURN_MIN_COVERAGE` of the model's indicators observed gets no probability, the
  band "insufficient data" and no drivers (:func:`churn_coverage`), never a confident
  number from nothing.

A driver about comment tone (an indicator of the catalogue's "sentiment" group) scored from
tables ends with the account's comment languages, their readers and the share unsupported
(:func:`features.sentiment.account_languages`): "...; comments read: en TextBlob, ar learnt;
12% unsupported (pt 100%)".

Drivers stay Python lists here; a file stores them as JSON
(:func:`features.values.json_list`), the service as response models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import pandas as pd

from features.catalogue import DEFAULT_WINDOWS, lookup
from features.churn_definition import churn_as_of
from features.contract import Tables
from features.health_score import HealthArrays, score_accounts, score_arrays
from features.indicators import compute_indicators
from features.polarity import PolarityModels
from features.scorecard import Scorecard
from features.sentiment import account_languages
from features.survey_polarity import CommentsRead, score_survey_comments

CHURN_COLUMNS = ("churn_probability", "risk_band", "churn_drivers", "churn_coverage")
#: Share of the model's indicators an account needs observed for a churn probability.
#: Low on purpose: many indicators are legitimately missing (no survey answered in 30 days),
#: and an account with no activity at all still has its account attributes and zero counts
#: (about a third of the demo model's indicators); an account id alone, or a folder with
#: only the accounts table, has almost none.
CHURN_MIN_COVERAGE = 0.25
#: The band of an account with too little data, the same words as the health score's.
INSUFFICIENT_DATA = Scorecard.__dataclass_fields__["insufficient_label"].default
#: The steps :func:`score_tables` reports to its ``progress`` callback, in order.
STEPS = ("indicators", "health scores", "churn risk")


class ChurnModel(Protocol):
    """What the scoring path needs of a model (:class:`models.registry.LoadedModel`)."""

    def predict(self, frame: pd.DataFrame, *, validated: bool = False) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Scored:
    """Indicators and scores of the accounts active at a date, indexed by ``account_id``.

    ``comments`` are the scores of the survey comments before the date (language, method,
    polarity; :func:`features.sentiment.score_comments`) and ``polarity_models`` the learnt
    polarity that read them; both None without comments.
    """

    as_of: pd.Timestamp
    indicators: pd.DataFrame
    scores: pd.DataFrame
    comments: pd.DataFrame | None = None
    polarity_models: PolarityModels | None = None


def score_indicators(
    indicators: pd.DataFrame,
    scorecard: Scorecard | None,
    *,
    model: ChurnModel | None = None,
    previous: pd.Series | None = None,
    validated: bool = False,
) -> pd.DataFrame:
    """Health scores and churn risk of indicator rows.

    Parameters
    ----------
    indicators : DataFrame
        One row per account (:func:`features.indicators.compute_indicators` output, or
        the indicators a client sent), indexed by ``account_id``.
    scorecard : Scorecard or None
        The health scorecard; None leaves the health columns out (churn risk only).
    model : ChurnModel, optional
        The churn model; without one the churn columns are empty.
    previous : Series, optional
        Previous health scores by ``account_id``, for the trend.
    validated : bool
        The rows were already checked against the indicator schema (the service's request
        models); the model then skips MLflow's own input checks.

    Returns
    -------
    DataFrame
        Indexed like ``indicators``: the health columns, then :data:`CHURN_COLUMNS`.
    """
    parts = []
    if scorecard is not None:
        parts.append(score_accounts(indicators, scorecard, previous=previous))
    parts.append(_churn_risk(indicators, model, validated))
    return pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]


def churn_coverage(indicators: pd.DataFrame, features: list[str] | None = None) -> pd.Series:
    """Share 0-1 of the model's feature columns observed (not missing) for each account.

    A column the frame lacks counts as missing.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, None], "b": [2.0, None]}, index=["A1", "A2"])
    >>> churn_coverage(frame, ["a", "b", "c"]).round(3).tolist()
    [0.667, 0.0]
    """
    features = list(indicators.columns) if features is None else list(features)
    if not features:
        return pd.Series(1.0, index=indicators.index)
    present = indicators.reindex(columns=features).notna().sum(axis=1)
    return (present / len(features)).astype("float64")


def insufficient_reason(coverage: float) -> str:
    """Why an account has no churn probability, in words.

    Examples
    --------
    >>> insufficient_reason(0.2)
    "only 20% of the model's indicators have data for this account (at least 25% needed)"
    """
    return (f"only {coverage:.0%} of the model's indicators have data for this account "
            f"(at least {CHURN_MIN_COVERAGE:.0%} needed)")


def _churn_risk(indicators: pd.DataFrame, model: ChurnModel | None, validated: bool) -> pd.DataFrame:
    if model is None or not len(indicators):
        empty = pd.Series(None, index=indicators.index, dtype=object)
        return pd.DataFrame({"churn_probability": np.full(len(indicators), np.nan),
                             "risk_band": empty, "churn_drivers": empty,
                             "churn_coverage": np.full(len(indicators), np.nan)},
                            index=indicators.index)
    predicted = model.predict(indicators, validated=validated)
    coverage = churn_coverage(indicators, getattr(model, "feature_names", None) or None)
    probability, band, drivers = _withhold_short(
        predicted["churn_probability"].astype("float64").to_numpy().copy(),
        predicted["risk_band"].astype(object).to_numpy().copy(),
        predicted["top_drivers"].to_numpy(dtype=object).copy(),
        coverage.to_numpy(),
    )
    return pd.DataFrame(
        {"churn_probability": probability, "risk_band": band, "churn_drivers": drivers,
         "churn_coverage": coverage.to_numpy()},
        index=indicators.index,
    )


def _withhold_short(probability: np.ndarray, band: np.ndarray, drivers: np.ndarray,
                    coverage: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """No probability, band or drivers below :data:`CHURN_MIN_COVERAGE` (in place)."""
    # The same tolerance as the health score's, so a share exactly at the minimum counts.
    short = coverage + 1e-9 < CHURN_MIN_COVERAGE
    probability[short] = np.nan
    band[short] = INSUFFICIENT_DATA
    for i in np.flatnonzero(short):
        drivers[i] = []
    return probability, band, drivers


@dataclass(frozen=True)
class RowScores:
    """The scores of :func:`score_indicators` as arrays, one row per account.

    ``health`` is None without a scorecard; the churn arrays are None without a model.
    """

    health: HealthArrays | None
    churn_probability: np.ndarray | None
    risk_band: np.ndarray | None
    churn_drivers: np.ndarray | None
    churn_coverage: np.ndarray | None


def score_rows(
    numbers: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    rows: int,
    scorecard: Scorecard | None,
    *,
    model=None,
    previous: np.ndarray | None = None,
) -> RowScores:
    """:func:`score_indicators` for a few accounts given as arrays, with no frame built.

    The HTTP service's path: building and reading frames costs more than the scoring for
    one account. The formulas are the frame path's own (the scorecard's
    :func:`features.health_score.score_arrays`, the model's ``predict_columns``, the same
    coverage rule), so both give the same answers.

    Parameters
    ----------
    numbers : mapping of str to ndarray
        Float64 values (NaN for no data) of every numeric indicator, ``rows`` each.
    labels : mapping of str to ndarray
        Object arrays (None for no data) of every categorical indicator.
    rows : int
        Accounts.
    scorecard : Scorecard or None
        None leaves the health scores out.
    model : models.registry.LoadedModel, optional
        The churn model (its ``python_model.predict_columns``); None leaves churn out.
    previous : ndarray, optional
        Previous health scores (NaN for none), for the trend.
    """
    health = None
    if scorecard is not None:
        health = score_arrays(numbers, rows, scorecard, segments=labels.get("segment"),
                              previous=previous)
    if model is None:
        return RowScores(health, None, None, None, None)
    features = list(getattr(model, "feature_names", None) or [*numbers, *labels])
    numeric = [name for name in features if name in numbers]
    observed = np.zeros(rows)
    if numeric:
        observed += (~np.isnan(np.column_stack([numbers[name] for name in numeric]))).sum(axis=1)
    for name in features:
        if name in labels and name not in numbers:
            observed += np.array([v is not None for v in labels[name]], dtype=bool)
    coverage = observed / len(features) if features else np.ones(rows)
    proba, band, drivers = model.python_model.predict_columns(numbers, labels, rows)
    drivers_array = np.empty(rows, dtype=object)
    for i, row in enumerate(drivers):  # one by one: equal-length lists would become a 2-D block
        drivers_array[i] = row
    probability, band, drivers_array = _withhold_short(
        np.array(proba, dtype="float64"), np.array(band, dtype=object), drivers_array, coverage)
    return RowScores(health, probability, band, drivers_array, coverage)


def score_tables(
    tables: Tables,
    as_of: pd.Timestamp,
    scorecard: Scorecard,
    *,
    model: ChurnModel | None = None,
    previous: pd.Series | None = None,
    windows: Iterable[int] = DEFAULT_WINDOWS,
    progress: Callable[[int, str], None] | None = None,
    churn_rate: float | None = None,
    clv_fit=None,
    polarity_models: PolarityModels | None = None,
    comments_read: CommentsRead | None = None,
) -> Scored:
    """Indicators and scores of every account active at ``as_of``, sorted by ``account_id``.

    Parameters
    ----------
    tables : Tables
        Validated tables.
    as_of : Timestamp
        The scoring moment, already parsed (naive UTC); only rows before it count.
    scorecard : Scorecard
        The health scorecard.
    model : ChurnModel, optional
        The churn model; without one the churn columns are empty. Its learnt comment
        polarity (``model.polarity_models``) reads the comments when it learnt only from
        comments before ``as_of``; otherwise the polarity is learnt here from the survey
        answers before ``as_of`` (:func:`features.survey_polarity.score_survey_comments`).
    previous : Series, optional
        Previous health scores by ``account_id``, for the trend.
    windows : iterable of int
        Trailing indicator windows in days.
    progress : callable, optional
        Called as ``progress(i, STEPS[i])`` as each step starts.
    churn_rate, clv_fit : optional
        The whole portfolio's trailing churn rate and predictive-CLV fit, when ``tables``
        hold only part of it (:func:`features.indicators.compute_indicators`).
    polarity_models : PolarityModels, optional
        The learnt comment polarity to read comments with, instead of the model's; learnt
        once from the whole portfolio when ``tables`` hold only part of it.
    comments_read : CommentsRead, optional
        The comments already read (:func:`features.survey_polarity.read_survey_comments`
        at this date or later), when one process scores many dates.

    Raises
    ------
    TypeError
        When ``as_of`` is not a Timestamp: parse dates at the edge, once.
    """
    if not isinstance(as_of, pd.Timestamp):
        raise TypeError(
            f"as_of must be a pandas Timestamp parsed at the edge (e.g. by the CLI's date "
            f"option), got {type(as_of).__name__}"
        )
    report = progress or _no_progress
    report(0, STEPS[0])
    comments, polarity_models = score_survey_comments(
        tables, as_of, polarity_models or getattr(model, "polarity_models", None),
        read=comments_read,
    )
    # Under a lapse, which accounts are active depends on the date seen from.
    indicators = compute_indicators(
        churn_as_of(tables, as_of), as_of, windows=windows, comment_scores=comments,
        churn_rate=churn_rate, clv_fit=clv_fit,
    ).sort_index()
    report(1, STEPS[1])
    health = score_accounts(indicators, scorecard, previous=_reindexed(previous, indicators))
    report(2, STEPS[2])
    # The indicators were computed just now from validated tables, and the model types them
    # itself: MLflow's column-by-column signature check would only repeat that, at a cost
    # of about a third of the model's own prediction on a whole portfolio.
    churn = _churn_risk(indicators, model, validated=True)
    scores = pd.concat([health, churn], axis=1)
    if comments is not None:
        languages = account_languages(comments, tables.surveys["account_id"])
        scores = _with_comment_languages(scores, languages)
    return Scored(as_of, indicators, scores, comments, polarity_models)


@lru_cache(maxsize=512)
def _is_tone(indicator: object) -> bool:
    found = lookup(str(indicator))
    return found is not None and found[0].group == "sentiment"


def _with_comment_languages(scores: pd.DataFrame, languages: pd.Series) -> pd.DataFrame:
    """Tone drivers saying which languages were read, how, and the share unsupported."""
    out = scores.copy()
    notes = languages.reindex(out.index).to_numpy(dtype=object)
    # Only accounts with comments can change: the notes are looked at once, not per column.
    noted = np.flatnonzero([isinstance(note, str) for note in notes])
    for column in ("health_drivers", "churn_drivers"):
        if column not in out.columns:
            continue
        rows = out[column].to_numpy(dtype=object).copy()
        for i in noted:
            drivers = rows[i]
            if not isinstance(drivers, list):
                continue
            tone = [_is_tone(d.get("indicator")) for d in drivers]
            if any(tone):
                rows[i] = [{**d, "text": f"{d['text']}; comments {notes[i]}"} if is_tone else d
                           for d, is_tone in zip(drivers, tone)]
        out[column] = pd.Series(rows, index=out.index, dtype=object)
    return out


def _reindexed(previous: pd.Series | None, indicators: pd.DataFrame) -> pd.Series | None:
    return None if previous is None else previous.reindex(indicators.index)


def _no_progress(step: int, name: str) -> None:
    return None


def previous_scores(previous: pd.DataFrame | None) -> pd.Series | None:
    """Health scores by ``account_id`` from an earlier scores file (the last row per account)."""
    if previous is None:
        return None
    prior = previous.drop_duplicates("account_id", keep="last").set_index("account_id")
    return pd.to_numeric(prior["health_score"], errors="coerce")
