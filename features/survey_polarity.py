"""Labelled comments from survey answers, and the polarity models they teach as of a date.

A survey answer with a comment is a labelled example of its language:

- **CSAT**: satisfied (at or above ``scales.csat.satisfied_at``, 4-5 on 1-5) is positive,
  dissatisfied (as far below the top of the scale: 1-2 on 1-5) negative;
- **NPS**: a promoter (9-10) is positive, a detractor (0-6) negative;
- **CES**: easy (the top boxes, ``scales.ces.satisfied_at``: 4-5 on 1-5 once scores are
  normalised so that higher is easier) positive, hard (1-2) negative.

The answers in between (CSAT 3, passives, CES 3) teach nothing and are left out.

Point in time: :func:`fit_survey_polarity` learns only from answers dated strictly before
``before``, so indicators as of that date (and training snapshots) never read a polarity
taught by their own future. Scoring refreshes it monthly (:func:`polarity_cut`): as of any
date it is learnt from the answers before the first day of that date's month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import SurveyScale, SurveyScales, Tables
from features.languages import identify_languages
from features.polarity import (
    FOLDS,
    MIN_AUC,
    MIN_EXAMPLES,
    SKIPPED_LANGUAGES,
    PolarityModels,
    counted,
    fit_languages,
)
from features.timestamps import naive_utc

# The NPS definition on its 0-10 scale (docs/metrics.md): promoters 9-10, detractors 0-6.
NPS_PROMOTER_AT = 9
NPS_DETRACTOR_UP_TO = 6


def _sides(survey: str, scale: SurveyScale) -> tuple[float, float]:
    """(positive at or above, negative at or below) on ``scale``."""
    if survey == "nps":
        if (scale.low, scale.high) == (0, 10):
            return NPS_PROMOTER_AT, NPS_DETRACTOR_UP_TO
        span = scale.high - scale.low
        return scale.low + 0.9 * span, scale.low + 0.6 * span
    return scale.satisfied_at, scale.low + scale.high - scale.satisfied_at


def polarity_cut(as_of: pd.Timestamp) -> pd.Timestamp:
    """Scoring as of ``as_of`` learns the polarity from the answers before this moment: the
    first instant of ``as_of``'s month.

    A polarity is a model, refreshed on a cadence like the churn model: every date of a
    month reads its comments with the same one, still taught only by answers before the
    date. A backfill of weekly dates then learns it once a month, not at every date (five
    cross-validated fits per language each time).

    Examples
    --------
    >>> polarity_cut(pd.Timestamp("2025-11-24 06:00")), polarity_cut(pd.Timestamp("2025-11-01"))
    (Timestamp('2025-11-01 00:00:00'), Timestamp('2025-11-01 00:00:00'))
    """
    return as_of.normalize().replace(day=1)


def survey_labels(surveys: pd.DataFrame, scales: SurveyScales | None = None) -> pd.Series:
    """1.0 positive, 0.0 negative, NaN for an answer in between (or without a score).

    Parameters
    ----------
    surveys : DataFrame
        The validated surveys table (scores normalised so that higher is better).
    scales : SurveyScales, optional
        The answer scales; the defaults when omitted.

    Returns
    -------
    Series of float
        Indexed like ``surveys``.

    Examples
    --------
    >>> surveys = pd.DataFrame({"survey": ["csat", "csat", "csat", "nps", "nps", "nps", "ces"],
    ...                         "score": [5, 3, 2, 10, 7, 4, 1]})
    >>> survey_labels(surveys).tolist()
    [1.0, nan, 0.0, 1.0, nan, 0.0, 0.0]
    """
    scales = scales or SurveyScales()
    score = pd.to_numeric(surveys["score"], errors="coerce").to_numpy(dtype=float)
    kind = surveys["survey"].to_numpy(dtype=object)
    out = np.full(len(surveys), np.nan)
    for survey in ("csat", "nps", "ces"):
        positive_at, negative_up_to = _sides(survey, scales.of(survey))
        rows = kind == survey
        out[rows & (score >= positive_at)] = 1.0
        out[rows & (score <= negative_up_to)] = 0.0
    return pd.Series(out, index=surveys.index, name="label")


def labelled_comments(tables: Tables, before, *, languages: pd.Series | None = None) -> pd.DataFrame:
    """Survey comments answered before ``before`` with a positive or negative score.

    Returns
    -------
    DataFrame
        Indexed like ``tables.surveys``: ``text``, ``label`` (1/0), ``language``,
        ``responded_at``. ``languages`` (from :func:`features.languages.identify_languages`
        on ``tables.surveys['comment']``) saves identifying them again.
    """
    columns = ["text", "label", "language", "responded_at"]
    surveys = tables.surveys
    if surveys is None or "comment" not in surveys.columns:
        return pd.DataFrame(columns=columns)
    cut = naive_utc(before)
    text = surveys["comment"]
    has_text = text.map(lambda v: isinstance(v, str) and v.strip() != "").astype(bool)
    labels = survey_labels(surveys, tables.scales)
    rows = has_text & labels.notna() & (surveys["responded_at"] < cut)
    chosen = surveys.loc[rows]
    if languages is None:
        found = identify_languages(chosen["comment"])
    else:
        found = languages.reindex(chosen.index)
    return pd.DataFrame({"text": chosen["comment"], "label": labels[rows],
                         "language": found, "responded_at": chosen["responded_at"]},
                        index=chosen.index)[columns]


def fit_survey_polarity(
    tables: Tables,
    before,
    *,
    languages: pd.Series | None = None,
    min_examples: int = MIN_EXAMPLES,
    min_auc: float = MIN_AUC,
    folds: int = FOLDS,
    progress=None,
    counts: dict | None = None,
) -> PolarityModels:
    """Polarity models per language, taught only by survey comments dated before ``before``.

    Parameters
    ----------
    tables : Tables
        Validated tables; without surveys or comments no language gets a model.
    before : str, date or Timestamp
        Only answers strictly before it are examples.
    languages : Series, optional
        Languages of ``tables.surveys['comment']`` already identified.
    min_examples, min_auc, folds
        The rules of :func:`features.polarity.fit_polarity`.
    progress : callable, optional
        ``progress(done, total, language)`` after each language.
    counts : dict, optional
        Per language, :func:`features.polarity.counted` of its examples before ``before``
        or later (:attr:`CommentsRead.counts`): the models are the same as without.

    Returns
    -------
    PolarityModels
        With ``examples_before`` = ``before``.
    """
    cut = naive_utc(before)
    if cut is None:
        raise ValueError(f"before must be a date or timestamp such as '2025-06-30', got {before!r}")
    examples = labelled_comments(tables, cut, languages=languages)
    # Sorted by content: the examples' order, and so the model, never depends on the order
    # of the input rows.
    examples = examples.sort_values(["responded_at", "text", "label"], kind="stable")
    return fit_languages(
        examples["text"], examples["label"], examples["language"],
        min_examples=min_examples, min_auc=min_auc, folds=folds,
        source=f"survey answers before {cut:%Y-%m-%d %H:%M}", examples_before=cut,
        progress=progress, counts=counts,
    )


def score_survey_comments(
    tables: Tables,
    as_of,
    polarity_models: PolarityModels | None = None,
    *,
    min_examples: int = MIN_EXAMPLES,
    min_auc: float = MIN_AUC,
    n_jobs: int | None = None,
    read: CommentsRead | None = None,
) -> tuple[pd.DataFrame | None, PolarityModels | None]:
    """Scores of the survey comments answered before ``as_of``, read point in time.

    ``polarity_models`` (e.g. the ones stored with the churn model) are used when every
    example they learnt from is dated at or before ``as_of``; otherwise (none given, or
    given ones taught by ``as_of``'s future, as when re-scoring a past date) the models are
    fitted here from the survey answers before the first day of ``as_of``'s month
    (:func:`polarity_cut`).

    Returns
    -------
    (DataFrame or None, PolarityModels or None)
        :func:`features.sentiment.score_comments` columns for the surveys rows answered before
        ``as_of`` (indexed like ``tables.surveys``; pass them to
        :func:`features.indicators.compute_indicators` as ``comment_scores``) and the models
        that read them; (None, None) without comments.

    Other parameters
    ----------------
    read : CommentsRead, optional
        :func:`read_survey_comments` of these tables at this date or a later one (a backfill
        scoring many dates reads each comment once): the comments it holds are not read
        again, nor the n-grams of the examples counted, nor a polarity learnt for an earlier
        date of the same month fitted again. Reading a text does not depend on the date;
        the learnt polarity does, and is still learnt and applied as of ``as_of``.
    """
    from features.sentiment import score_comments, with_learnt_polarity

    cut = naive_utc(as_of)
    surveys = tables.surveys
    if surveys is None or "comment" not in surveys.columns or not surveys["comment"].notna().any():
        return None, None
    comments = surveys.loc[surveys["responded_at"] < cut, "comment"]
    if read is None:
        base = score_comments(comments, n_jobs=n_jobs)
    else:
        unread = comments.index.difference(read.scores.index)
        base = read.scores.loc[comments.index.intersection(read.scores.index, sort=False)]
        if len(unread):
            base = pd.concat([base, score_comments(comments.loc[unread], n_jobs=n_jobs)])
        base = base.loc[comments.index]
    usable = polarity_models is not None and (
        polarity_models.examples_before is None or polarity_models.examples_before <= cut
    )
    if not usable:
        polarity_models = _learnt(tables, polarity_cut(cut), base["language"], read,
                                  min_examples=min_examples, min_auc=min_auc)
    return with_learnt_polarity(base, comments, polarity_models,
                                memo=None if read is None else read.polarities), polarity_models


def _learnt(tables: Tables, before: pd.Timestamp, languages: pd.Series, read: CommentsRead | None,
            **rules) -> PolarityModels:
    """:func:`fit_survey_polarity` before ``before``, fitted once per ``read`` and moment."""
    key = (before, tuple(sorted(rules.items())))
    if read is not None and key in read.fitted:
        return read.fitted[key]
    models = fit_survey_polarity(tables, before, languages=languages,
                                 counts=None if read is None else read.counts, **rules)
    if read is not None:
        read.fitted[key] = models
    return models


@dataclass(frozen=True)
class CommentsRead:
    """Survey comments read once for many dates (:func:`read_survey_comments`).

    Attributes
    ----------
    scores : DataFrame
        :func:`features.sentiment.score_comments` of every comment (language, TextBlob).
    counts : dict or None
        Per language, :func:`features.polarity.counted` of its labelled examples: each
        date's polarity fit selects the examples before it instead of counting them again.
        None when not counted (a one-date batch, whose stored polarity usually applies): a
        fit then counts its own examples.
    fitted : dict
        The polarity models learnt so far, by moment and rules: the dates of one month
        share theirs (:func:`polarity_cut`).
    polarities : dict
        Per polarity model, the learnt polarity of each comment text it has read: a
        text's polarity does not depend on the other texts read with it, so each date
        reads only the comments new since the last.
    """

    scores: pd.DataFrame
    counts: dict | None = None
    fitted: dict = field(default_factory=dict)
    polarities: dict = field(default_factory=dict)


def read_survey_comments(tables: Tables, until, *, n_jobs: int | None = None) -> CommentsRead | None:
    """Every survey comment answered before ``until``, read once (language, TextBlob
    polarity), and the n-grams of the labelled ones counted once per language.

    For :func:`score_survey_comments` at any date up to ``until`` (its ``read``): the learnt
    polarity of each date is fitted and applied there. None without comments.
    """
    reading = start_reading_survey_comments(tables, until, n_jobs=n_jobs)
    if reading is None:
        return None
    scores = reading.result()
    examples = labelled_comments(tables, naive_utc(until), languages=scores["language"])
    counts = {code: counted(part.tolist())
              for code, part in examples.groupby("language")["text"] if code not in SKIPPED_LANGUAGES}
    return CommentsRead(scores, counts)


def start_reading_survey_comments(tables: Tables, until, *, n_jobs: int | None = None):
    """:func:`read_survey_comments` started now: its worker processes read while the caller
    works, and ``.result()`` gives the same scores (:func:`features.sentiment.read_comments`).
    None without comments."""
    from features.sentiment import read_comments

    surveys = tables.surveys
    if surveys is None or "comment" not in surveys.columns or not surveys["comment"].notna().any():
        return None
    return read_comments(surveys.loc[surveys["responded_at"] < naive_utc(until), "comment"],
                         n_jobs=n_jobs)
