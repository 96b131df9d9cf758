"""Polarity learnt from labelled comments: character n-gram (+ word) TF-IDF + logistic regression.

TextBlob reads English only. For any other language, comments that came with a score (a
satisfied or dissatisfied CSAT answer, a promoter or a detractor, an easy or a hard CES
answer; :mod:`features.survey_polarity`) or a labelled file (``customer-health sentiment
fit``) teach a model per language:

- character n-grams inside word boundaries (``char_wb``, 1 to 4 characters), sublinear TF-IDF:
  they need no tokenizer or stemmer, so they work for Persian, Arabic or Portuguese alike and
  survive spelling variants ("خیلییییی", "nao"/"não"); words and word pairs are added (a
  negation reads better as words), which lifted macro F1 on Persian delivery reviews by
  about half a point (``docs/languages.md``);
- an L2 logistic regression (liblinear, ``C=1``): polarity is ``2 p - 1``, in −1…1 like
  TextBlob's, where ``p`` is the probability that the comment is positive.

A language gets a model only with at least ``min_examples`` comments on each side, and the
model is used only when its stratified ``folds``-fold cross-validated ROC AUC reaches
``min_auc``; otherwise :class:`PolarityModels` records why (the language stays unsupported:
NaN, never 0.0). Fitting is deterministic: the same comments give the same model, bit for
bit (fixed fold assignment, a deterministic solver).

A fitted model is plain data: the n-grams, their IDF weights, the coefficients and the
intercept (:meth:`PolarityModel.to_dict`). It is stored as JSON, which loads without executing
code, and scores exactly like the fitted pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.ngram_counts import NgramCounts

#: The defaults of the rules; the ``sentiment fit`` command and the trainer can change them.
MIN_EXAMPLES = 200
MIN_AUC = 0.70
FOLDS = 5
#: Languages no polarity is learnt for: English keeps TextBlob, "und" has no language.
SKIPPED_LANGUAGES = ("en", "und")
#: The two TF-IDF parts, each feature's name prefixed by its part: character n-grams inside
#: word boundaries ("c:") and words and word pairs ("w:"; negations such as "نبود" or
#: "não gostei" read better as words).
PARTS = {
    "c": {"analyzer": "char_wb", "ngram_range": (1, 4), "max_features": 50_000},
    "w": {"analyzer": "word", "ngram_range": (1, 2), "max_features": 50_000},
}
_COMMON = {"min_df": 2, "sublinear_tf": True, "dtype": np.float64}
CLASSIFIER = {"C": 1.0, "solver": "liblinear", "max_iter": 1000}
FORMAT_VERSION = 1
# Examples from which the cross-validation folds run in two processes.
PARALLEL_MIN_EXAMPLES = 5_000


class PolarityInputError(ValueError):
    """Labelled comments that cannot teach a model; the message names the column and the fix."""


def _settings() -> dict:
    """The vectorizer settings as plain JSON data, recorded with every model."""
    return {part: {**spec, "ngram_range": list(spec["ngram_range"]), "min_df": _COMMON["min_df"],
                   "sublinear_tf": True} for part, spec in PARTS.items()}


def counted(texts: Sequence[str]) -> dict[str, NgramCounts]:
    """Per part, the n-grams of ``texts`` counted once, for every fit on any of them.

    Cross-validation fits the vectorizers of every fold and then the final model on the
    same texts, and a backfill fits them again for each date on the examples before it:
    counting once and selecting rows gives each fit exactly the vocabulary, IDF weights and
    matrix fitting on its texts alone would (:mod:`features.ngram_counts`).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {part: NgramCounts(texts, TfidfVectorizer(**spec, **_COMMON).build_analyzer())
            for part, spec in PARTS.items()}


def _fit_features(counts: Mapping[str, NgramCounts], rows: np.ndarray):
    """TF-IDF of the texts of ``rows`` with every part: the matrix, the feature names, their
    IDF weights, and per part its fitted (terms, IDF weights) for :func:`_transform`."""
    from scipy import sparse

    matrices, names, idf, fitted = [], [], [], {}
    for part, part_counts in counts.items():
        try:
            matrix, terms, weights = part_counts.fit_tfidf(
                rows, min_df=_COMMON["min_df"], max_features=PARTS[part]["max_features"])
        except ValueError:  # no term in two texts (e.g. no word of two letters): an empty part
            continue
        matrices.append(matrix)
        names += [f"{part}:{term}" for term in part_counts.terms[terms]]
        idf.append(weights)
        fitted[part] = (terms, weights)
    return sparse.hstack(matrices).tocsr(), names, np.concatenate(idf), fitted


def _transform(counts: Mapping[str, NgramCounts], rows: np.ndarray, fitted: Mapping) -> object:
    """TF-IDF of the texts of ``rows`` with the parts fitted by :func:`_fit_features`."""
    from scipy import sparse

    return sparse.hstack([counts[part].tfidf(rows, *fitted[part]) for part in fitted]).tocsr()


def _transformers(names: Sequence[str], idf: np.ndarray) -> list:
    """One fitted vectorizer per part with the stored vocabulary and IDF weights, in order."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    out, start = [], 0
    for part in PARTS:
        prefix = f"{part}:"
        vocabulary = [name[len(prefix):] for name in names if name.startswith(prefix)]
        if not vocabulary:
            continue
        vectorizer = TfidfVectorizer(**{**PARTS[part], "max_features": None}, sublinear_tf=True,
                                     dtype=np.float64,
                                     vocabulary={term: i for i, term in enumerate(vocabulary)})
        vectorizer.idf_ = idf[start:start + len(vocabulary)]
        start += len(vocabulary)
        out.append(vectorizer)
    return out


def _classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**CLASSIFIER)


@dataclass(frozen=True, eq=False)
class PolarityModel:
    """A fitted polarity model of one language, as plain data.

    Attributes
    ----------
    language : str
        ISO 639-1 code of the comments it was fitted on.
    ngrams : tuple of str
        The features, "c:" character n-grams then "w:" words and word pairs, in the order
        of ``idf`` and ``coef``.
    idf, coef : ndarray
        IDF weight and logistic-regression coefficient of each feature.
    intercept : float
    cv_roc_auc : float
        Cross-validated ROC AUC on the examples it was fitted on.
    positives, negatives : int
        Examples on each side.
    source : str
        Where the examples came from ("survey answers before 2026-05-01", a file name).
    examples_before : Timestamp or None
        Every example is dated before this moment (None for undated examples, e.g. a file):
        a snapshot at or after it may use the model without reading its own future.
    """

    language: str
    ngrams: tuple[str, ...] = field(repr=False)
    idf: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    intercept: float
    cv_roc_auc: float
    positives: int
    negatives: int
    source: str = ""
    examples_before: pd.Timestamp | None = None

    def probability(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text is positive."""
        if not len(texts):
            return np.empty(0)
        from scipy import sparse

        texts = list(texts)
        matrix = sparse.hstack([v.transform(texts) for v in self._vectorizers()]).tocsr()
        score = matrix @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-score))

    def polarity(self, texts: Sequence[str]) -> np.ndarray:
        """Polarity −1…1 of each text (``2 p - 1``).

        Examples
        --------
        >>> texts = ["great fast friendly"] * 3 + ["slow rude awful"] * 3
        >>> fit = fit_polarity(texts * 2, [1, 1, 1, 0, 0, 0] * 2, language="en",
        ...                    min_examples=3, folds=2)
        >>> fit.model.polarity(["great", "awful"]).round(2).tolist()
        [0.41, -0.44]
        """
        return 2.0 * self.probability(texts) - 1.0

    def _vectorizers(self) -> list:
        vectorizers = getattr(self, "_cached_vectorizers", None)
        if vectorizers is None:
            vectorizers = _transformers(self.ngrams, self.idf)
            object.__setattr__(self, "_cached_vectorizers", vectorizers)
        return vectorizers

    def describe(self) -> dict:
        """What the model is, without its weights (for logs, reports and the service)."""
        return {
            "language": self.language, "method": "learnt", "cv_roc_auc": self.cv_roc_auc,
            "positives": self.positives, "negatives": self.negatives, "ngrams": len(self.ngrams),
            "source": self.source,
            "examples_before": None if self.examples_before is None else self.examples_before.isoformat(),
        }

    def to_dict(self) -> dict:
        """Plain JSON-able data: numbers and strings only, nothing that runs on load."""
        return {
            **self.describe(),
            "format_version": FORMAT_VERSION,
            "vectorizer": _settings(),
            "classifier": CLASSIFIER,
            "ngrams": list(self.ngrams),
            "idf": self.idf.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> PolarityModel:
        """The model :meth:`to_dict` wrote.

        Raises
        ------
        ValueError
            For data of another format version or settings, or arrays of unequal length.
        """
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"polarity model format {data.get('format_version')!r} is not "
                f"{FORMAT_VERSION}; refit it with this version of customer-health"
            )
        if data.get("vectorizer") != _settings():
            raise ValueError(
                f"polarity model for {data.get('language')!r} uses other n-gram settings "
                f"({data.get('vectorizer')}); refit it with this version of customer-health"
            )
        ngrams = tuple(str(g) for g in data["ngrams"])
        idf = np.asarray(data["idf"], dtype=np.float64)
        coef = np.asarray(data["coef"], dtype=np.float64)
        if not len(ngrams) == len(idf) == len(coef):
            raise ValueError(
                f"polarity model for {data.get('language')!r} is damaged: {len(ngrams)} n-grams, "
                f"{len(idf)} IDF weights and {len(coef)} coefficients"
            )
        before = data.get("examples_before")
        return cls(
            language=str(data["language"]), ngrams=ngrams, idf=idf, coef=coef,
            intercept=float(data["intercept"]), cv_roc_auc=float(data["cv_roc_auc"]),
            positives=int(data["positives"]), negatives=int(data["negatives"]),
            source=str(data.get("source", "")),
            examples_before=None if before is None else pd.Timestamp(before),
        )


@dataclass(frozen=True)
class PolarityFit:
    """The outcome of fitting one language: a model to use, or why there is none.

    ``model`` is set only when the rules are met; ``cv_roc_auc`` is NaN when no
    cross-validation ran (too few examples), with ``reason`` saying why. ``held_out`` has
    the out-of-fold accuracy, macro F1 and ROC AUC (every example scored by a model that
    did not see it); empty when no cross-validation ran.
    """

    language: str
    model: PolarityModel | None
    reason: str | None
    positives: int
    negatives: int
    cv_roc_auc: float
    held_out: dict = field(default_factory=dict)


def _check_labels(texts: Sequence[str], labels) -> tuple[list[str], np.ndarray]:
    texts = list(texts)
    y = np.asarray(labels, dtype=float)
    if len(texts) != len(y):
        raise PolarityInputError(
            f"{len(texts)} texts but {len(y)} labels; give one label (1 positive, 0 negative) per text"
        )
    bad = [i for i, v in enumerate(y) if v not in (0.0, 1.0)]
    if bad:
        shown = ", ".join(f"row {i}: {labels[i]!r}" for i in bad[:5])
        raise PolarityInputError(
            f"labels must be 1 (positive) or 0 (negative); {len(bad)} are not ({shown})"
        )
    blank = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if blank:
        raise PolarityInputError(
            f"{len(blank)} text(s) are empty or not text (rows {blank[:5]}); drop them first"
        )
    return texts, y.astype(int)


def _fold_scores(counts: Mapping[str, NgramCounts], rows: np.ndarray, y: np.ndarray,
                 train: np.ndarray, test: np.ndarray) -> np.ndarray:
    matrix, _, _, fitted = _fit_features(counts, rows[train])
    classifier = _classifier().fit(matrix, y[train])
    return classifier.decision_function(_transform(counts, rows[test], fitted))


def _counted_rows(texts: Sequence[str], counts: Mapping[str, NgramCounts] | None
                  ) -> tuple[Mapping[str, NgramCounts], np.ndarray]:
    """``counts`` when they hold every text (else the texts counted now, e.g. examples of
    dates after those counted) and the texts' rows in them (every part numbers the texts
    alike)."""
    if counts is None or not next(iter(counts.values())).holds(texts):
        counts = counted(texts)
    return counts, next(iter(counts.values())).ids(texts)


def out_of_fold_scores(texts: Sequence[str], y: np.ndarray, *, folds: int = FOLDS,
                       counts: Mapping[str, NgramCounts] | None = None) -> np.ndarray:
    """Each example's score from the model of the fold that held it out (stratified folds).

    Every step (vocabulary, IDF, classifier) is fitted inside the folds. The folds are
    shuffled with a constant seed: they do not follow the input's time order, and the same
    input gives the same folds. From :data:`PARALLEL_MIN_EXAMPLES` examples the folds run in
    two processes (the scores are the same). ``counts`` (:func:`counted` of these texts or
    more) save counting the n-grams again.
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    counts, rows = _counted_rows(texts, counts)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
                  .split(np.zeros(len(y)), y))
    jobs = 2 if len(y) >= PARALLEL_MIN_EXAMPLES else 1
    parts = Parallel(n_jobs=jobs)(delayed(_fold_scores)(counts, rows, y, train, test)
                                  for train, test in splits)
    out = np.empty(len(y))
    for (_, test), scores in zip(splits, parts):
        out[test] = scores
    return out


def held_out_metrics(y: np.ndarray, scores: np.ndarray) -> dict:
    """Accuracy, macro F1 (at probability 0.5) and ROC AUC of out-of-fold ``scores``."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predicted = (scores >= 0).astype(int)
    return {"accuracy": float(accuracy_score(y, predicted)),
            "macro_f1": float(f1_score(y, predicted, average="macro")),
            "roc_auc": float(roc_auc_score(y, scores))}


def fit_polarity(
    texts: Sequence[str],
    labels,
    *,
    language: str,
    min_examples: int = MIN_EXAMPLES,
    min_auc: float = MIN_AUC,
    folds: int = FOLDS,
    source: str = "",
    examples_before: pd.Timestamp | None = None,
    counts: Mapping[str, NgramCounts] | None = None,
) -> PolarityFit:
    """Fit the polarity model of one language, if the rules allow it.

    Parameters
    ----------
    texts : sequence of str
        Comments, all in ``language``.
    labels : sequence of {0, 1}
        1 positive, 0 negative.
    language : str
        ISO 639-1 code.
    min_examples : int
        Examples needed on each side.
    min_auc : float
        Cross-validated ROC AUC needed to use the model.
    folds : int
        Cross-validation folds.
    source, examples_before
        Recorded with the model (see :class:`PolarityModel`).
    counts : dict, optional
        :func:`counted` of these texts or more (a backfill counts every date's examples
        once); the model is the same as without. Counted here when it lacks some texts.

    Returns
    -------
    PolarityFit

    Raises
    ------
    PolarityInputError
        For labels other than 0/1, empty texts, or texts and labels of different lengths.
    """
    texts, y = _check_labels(texts, labels)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if min(positives, negatives) < max(min_examples, folds):
        needed = max(min_examples, folds)
        return PolarityFit(
            language, None,
            f"{positives} positive and {negatives} negative examples; {needed} per side needed",
            positives, negatives, math.nan,
        )
    counts, rows = _counted_rows(texts, counts)
    held_out = held_out_metrics(y, out_of_fold_scores(texts, y, folds=folds, counts=counts))
    auc = held_out["roc_auc"]
    if auc < min_auc:
        return PolarityFit(
            language, None,
            f"cross-validated ROC AUC {auc:.3f} is below the floor of {min_auc:.2f}",
            positives, negatives, auc, held_out,
        )
    matrix, names, idf, _ = _fit_features(counts, rows)
    classifier = _classifier().fit(matrix, y)
    model = PolarityModel(
        language=language, ngrams=tuple(names), idf=idf,
        coef=np.asarray(classifier.coef_[0], dtype=np.float64),
        intercept=float(classifier.intercept_[0]), cv_roc_auc=auc,
        positives=positives, negatives=negatives, source=source,
        examples_before=examples_before,
    )
    return PolarityFit(language, model, None, positives, negatives, auc, held_out)


@dataclass(frozen=True)
class PolarityModels:
    """Every language's polarity model, and why the others have none.

    Attributes
    ----------
    models : dict of str to PolarityModel
        The languages a learnt polarity reads.
    rejected : dict of str to str
        Languages that were tried and why they have no model.
    examples_before : Timestamp or None
        Every example of every model is dated before it (None for undated examples).
    min_examples, min_auc : the rules they were fitted under.
    """

    models: Mapping[str, PolarityModel] = field(default_factory=dict)
    rejected: Mapping[str, str] = field(default_factory=dict)
    examples_before: pd.Timestamp | None = None
    min_examples: int = MIN_EXAMPLES
    min_auc: float = MIN_AUC

    def reason(self, language: str) -> str | None:
        """Why ``language`` has no model (None when it has one)."""
        if language in self.models:
            return None
        return self.rejected.get(language, "no labelled comments in this language")

    def describe(self) -> dict:
        return {
            "examples_before": None if self.examples_before is None else self.examples_before.isoformat(),
            "min_examples": self.min_examples, "min_auc": self.min_auc,
            "models": {code: model.describe() for code, model in sorted(self.models.items())},
            "rejected": dict(sorted(self.rejected.items())),
        }

    def to_dict(self) -> dict:
        return {**self.describe(), "format_version": FORMAT_VERSION,
                "models": {code: m.to_dict() for code, m in sorted(self.models.items())}}

    @classmethod
    def from_dict(cls, data: Mapping) -> PolarityModels:
        before = data.get("examples_before")
        return cls(
            models={code: PolarityModel.from_dict(m) for code, m in data.get("models", {}).items()},
            rejected=dict(data.get("rejected", {})),
            examples_before=None if before is None else pd.Timestamp(before),
            min_examples=int(data.get("min_examples", MIN_EXAMPLES)),
            min_auc=float(data.get("min_auc", MIN_AUC)),
        )


def fit_languages(
    texts: pd.Series,
    labels: pd.Series,
    languages: pd.Series,
    *,
    min_examples: int = MIN_EXAMPLES,
    min_auc: float = MIN_AUC,
    folds: int = FOLDS,
    source: str = "",
    examples_before: pd.Timestamp | None = None,
    skip: Sequence[str] = SKIPPED_LANGUAGES,
    progress: Callable[[int, int, str], None] | None = None,
    counts: Mapping[str, Mapping[str, NgramCounts]] | None = None,
) -> PolarityModels:
    """One :func:`fit_polarity` per language of ``languages`` (aligned with ``texts``).

    English keeps TextBlob and "und" has no language, so both are skipped by default.
    ``progress(done, total, language)`` is called after each language. ``counts``, per
    language, :func:`counted` of its texts or more.
    """
    frame = pd.DataFrame({"text": texts.to_numpy(dtype=object),
                          "label": labels.to_numpy(dtype=float),
                          "language": languages.to_numpy(dtype=object)})
    frame = frame[frame["language"].notna() & ~frame["language"].isin(list(skip))]
    models, rejected = {}, {}
    codes = sorted(frame["language"].unique())
    for done, code in enumerate(codes, start=1):
        part = frame[frame["language"] == code]
        fit = fit_polarity(part["text"].tolist(), part["label"].to_numpy(), language=code,
                           min_examples=min_examples, min_auc=min_auc, folds=folds,
                           source=source, examples_before=examples_before,
                           counts=None if counts is None else counts.get(code))
        if fit.model is not None:
            models[code] = fit.model
        else:
            rejected[code] = fit.reason
        if progress is not None:
            progress(done, len(codes), code)
    return PolarityModels(models, rejected, examples_before, min_examples, min_auc)
