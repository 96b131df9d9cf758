"""Sentiment of open survey comments in any language: which language, which reader, what tone.

:func:`score_comments` decides, for each distinct text:

1. **Empty.** A missing or blank comment is not a comment: polarity and subjectivity NaN,
   ``supported`` missing (``<NA>``), ``language`` None, note ``"no comment"``.
2. **Language.** :func:`features.languages.identify_language` gives an ISO 639-1 code, or
   ``"und"`` when no language can be told.
3. **English** is read by TextBlob (``method="textblob"``), exactly ``TextBlob(text).sentiment``
   (through :func:`features.english_tone.english_analyser`, the same analyser, faster).
4. **Another language** is read by its learnt polarity model when ``polarity_models`` has one
   (``method="learnt"``: ``2 p - 1`` from :mod:`features.polarity`; subjectivity NaN, the
   model does not measure it). Without one the comment is unsupported, its note saying why
   (``"no polarity model for pt (Portuguese): 120 positive and 80 negative examples; 200
   per side needed"``): polarity NaN, never a neutral 0.0.
5. **No words.** A comment without letters ("10/10", "👍") is ``"und"``; it is read by
   TextBlob only when TextBlob finds something to score (emoticons such as ":)"), otherwise
   it is unsupported with the note ``"no words to analyse"``.

The language and the TextBlob scores of a text do not depend on any date; the learnt
polarity depends on the models passed in. :func:`with_learnt_polarity` applies other models to
scores already computed (the training set refits the models at every snapshot date and keeps
the rest), and :func:`language_summary` says per language how many comments were read, by
which method, and which share is unsupported.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import pandas as pd

from features.languages import (
    UNDETERMINED,
    identify_language,
    language_name,
    load_language_models,
)
from features.polarity import PolarityModels

SCORE_COLUMNS = ("polarity", "subjectivity", "supported", "language", "method", "language_note")
METHOD_TEXTBLOB = "textblob"
METHOD_LEARNT = "learnt"

NOTE_EMPTY = "no comment"
NOTE_NO_WORDS = "no words to analyse"
NOTE_UNDETERMINED = "language not identified"

# Below this many distinct texts a process pool costs more (start-up, model load per
# worker) than it saves.
PARALLEL_MIN_TEXTS = 20_000


# --- one text --------------------------------------------------------------------------

# (language, polarity, subjectivity, read by TextBlob, note) of one non-blank text; texts in
# other languages come back unread, to be given to their learnt model in bulk.
_Row = tuple[str, float, float, bool, "str | None"]


def _english():
    # Imported here, not at the top: TextBlob pulls in NLTK, which callers that only pass
    # scores on should not pay for.
    from features.english_tone import english_analyser

    return english_analyser()


def _read_one(text: str) -> _Row:
    language = identify_language(text)
    if language == "en":
        score = _english()(text)
        return language, float(score[0]), float(score[1]), True, None
    if language == UNDETERMINED:
        if not any(char.isalpha() for char in text):
            score = _english()(text)
            if score.assessments:  # emoticons: a tone without words
                return language, float(score[0]), float(score[1]), True, None
            return language, np.nan, np.nan, False, NOTE_NO_WORDS
        return language, np.nan, np.nan, False, NOTE_UNDETERMINED
    return language, np.nan, np.nan, False, None


def _read_many(texts: list[str]) -> list[_Row]:
    return [_read_one(text) for text in texts]


def load_readers() -> None:
    """Load the readers of :func:`score_comments` now: TextBlob's analyser (importing
    TextBlob and NLTK) and the language identification models.

    Seconds, once per process: a caller may load them in a thread while it reads the
    comments' table, instead of on the way to the first comment.
    """
    _english(), load_language_models()


def _start_pool(texts: list[str], n_jobs: int) -> tuple[ProcessPoolExecutor, list[Future]]:
    # Loaded before the workers start so that forked workers inherit the models instead
    # of each loading them again.
    load_readers()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # Contiguous chunks, results concatenated in order: the same answer as one process.
    size = -(-len(texts) // (n_jobs * 4))
    pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=context)
    return pool, [pool.submit(_read_many, texts[i:i + size]) for i in range(0, len(texts), size)]


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- the public functions --------------------------------------------------------------


def _check_texts(texts: object) -> pd.Series:
    if not isinstance(texts, pd.Series):
        raise TypeError(
            f"texts must be a pandas Series of comments, got {type(texts).__name__}; "
            "pass a column such as surveys['comment']"
        )
    return texts


def _present(values: np.ndarray) -> np.ndarray:
    return np.array([isinstance(v, str) and not v.isspace() and v != "" for v in values], dtype=bool)


def score_comments(
    texts: pd.Series,
    polarity_models: PolarityModels | None = None,
    *,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Language, polarity and subjectivity of each comment, or why it could not be read.

    Parameters
    ----------
    texts : Series
        Comments (str; missing values allowed), any index.
    polarity_models : PolarityModels, optional
        Learnt polarity per language (:func:`features.survey_polarity.fit_survey_polarity`,
        or a stored set); without them only English (and emoticons) are read.
    n_jobs : int, optional
        Processes for language identification and TextBlob; default: one per available
        core. A pool is only started for at least ``PARALLEL_MIN_TEXTS`` distinct texts.
        The result is the same either way.

    Returns
    -------
    DataFrame
        Indexed like ``texts``, with columns

        - ``polarity`` (float, -1…1): NaN when not read or empty;
        - ``subjectivity`` (float, 0…1): TextBlob subjectivity; NaN otherwise;
        - ``supported`` (boolean): False when the comment could not be read, ``<NA>`` for
          an empty comment;
        - ``language`` (str): ISO 639-1 code or "und"; None for an empty comment;
        - ``method`` (str): "textblob" or "learnt"; None when not read;
        - ``language_note`` (str or None): why a comment was not read.

    Raises
    ------
    TypeError
        When ``texts`` is not a Series.

    Examples
    --------
    >>> comments = pd.Series(
    ...     ["Great support, very helpful!", "الخدمة ممتازة", "Chegou antes do prazo.", "  "],
    ...     index=[10, 11, 12, 13],
    ... )
    >>> scored = score_comments(comments)
    >>> scored[["polarity", "supported"]]
        polarity  supported
    10     0.525       True
    11       NaN      False
    12       NaN      False
    13       NaN       <NA>
    >>> scored["language"].tolist(), scored["method"].tolist()
    (['en', 'ar', 'pt', None], ['textblob', None, None, None])
    >>> scored.loc[12, "language_note"]
    'no polarity model for pt (Portuguese): no labelled comments in this language'
    """
    return read_comments(texts, polarity_models, n_jobs=n_jobs).result()


class CommentsReading:
    """Comments being read (:func:`read_comments`): :meth:`result` waits for the scores.

    A context manager: leaving it stops workers whose scores were not asked for (an error
    elsewhere), so no worker outlives the work.
    """

    def __init__(self, texts: pd.Series, polarity_models: PolarityModels | None,
                 present: np.ndarray, codes: np.ndarray, uniques: list[str], n_jobs: int) -> None:
        self._texts, self._models, self._present, self._codes = texts, polarity_models, present, codes
        self._rows, self._pool, self._parts = None, None, []
        if n_jobs > 1 and len(uniques) >= PARALLEL_MIN_TEXTS:
            self._pool, self._parts = _start_pool(uniques, n_jobs)
        else:
            self._rows = _read_many(uniques)

    def result(self) -> pd.DataFrame:
        """:func:`score_comments` of the texts (waits for the workers)."""
        if self._rows is None:
            with self:
                self._rows = [row for part in self._parts for row in part.result()]
        return _assemble(self._texts, self._models, self._rows, self._present, self._codes)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> CommentsReading:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_comments(
    texts: pd.Series,
    polarity_models: PolarityModels | None = None,
    *,
    n_jobs: int | None = None,
) -> CommentsReading:
    """:func:`score_comments` started now, its scores taken later (``.result()``).

    With a process pool (``n_jobs`` above 1 and at least ``PARALLEL_MIN_TEXTS`` distinct
    texts) the workers start reading and this returns at once, so the caller can do other
    work meanwhile (the batch job loads the churn model); otherwise the texts are read here.
    The scores are :func:`score_comments`'s, exactly; so are its errors (``TypeError``,
    ``ValueError``), raised here.
    """
    texts = _check_texts(texts)
    n_jobs = _available_cores() if n_jobs is None else n_jobs
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be 1 or more, got {n_jobs}")
    values = texts.to_numpy(dtype=object)
    present = _present(values)
    # Values that are not text (a number in a comment column) are read as their text.
    kept = [v if isinstance(v, str) else str(v) for v in values[present]]
    codes, uniques = pd.factorize(np.array(kept, dtype=object))
    return CommentsReading(texts, polarity_models, present, codes, list(uniques), n_jobs)


def _assemble(texts: pd.Series, polarity_models: PolarityModels | None, rows: list[_Row],
              present: np.ndarray, codes: np.ndarray) -> pd.DataFrame:
    """The scores of every text from the rows of its distinct texts."""
    values = texts.to_numpy(dtype=object)
    n = len(values)
    columns = {
        "polarity": np.full(n, np.nan),
        "subjectivity": np.full(n, np.nan),
        "supported": pd.array([pd.NA] * n, dtype="boolean"),
        "language": np.full(n, None, dtype=object),
        "method": np.full(n, None, dtype=object),
        "language_note": np.full(n, NOTE_EMPTY, dtype=object),
    }
    if rows:
        language = np.array([row[0] for row in rows], dtype=object)
        read = np.array([row[3] for row in rows], dtype=bool)
        columns["language"][present] = language[codes]
        columns["polarity"][present] = np.array([row[1] for row in rows], dtype=float)[codes]
        columns["subjectivity"][present] = np.array([row[2] for row in rows], dtype=float)[codes]
        columns["supported"][present] = read[codes]
        method = np.array([METHOD_TEXTBLOB if r else None for r in read], dtype=object)
        columns["method"][present] = method[codes]
        columns["language_note"][present] = np.array([row[4] for row in rows], dtype=object)[codes]
    # Text columns stay object (None for missing), not pandas' inferred string dtype.
    scores = pd.DataFrame(
        {name: pd.Series(values, dtype=object if values.dtype == object else values.dtype)
         for name, values in columns.items()}
    ).set_axis(texts.index)
    return with_learnt_polarity(scores, texts, polarity_models)


def _learnt_polarity(model, texts: list[str], memo: dict | None) -> np.ndarray:
    """``model.polarity(texts)``, reading only the texts ``memo`` does not hold yet."""
    if memo is None:
        return model.polarity(texts)
    known = memo.setdefault(model, {})
    new = [text for text in texts if text not in known]
    if new:
        known.update(zip(new, model.polarity(new).tolist()))
    return np.array([known[text] for text in texts], dtype=float)


def with_learnt_polarity(
    scores: pd.DataFrame, texts: pd.Series, polarity_models: PolarityModels | None,
    *, memo: dict | None = None,
) -> pd.DataFrame:
    """``scores`` with the comments no reader took read by ``polarity_models``.

    Rows read by TextBlob, empty rows and "und" rows are kept; every other row is re-read:
    by its language's model when there is one (``method="learnt"``), else unsupported with
    the reason. Applying other models to the same base scores therefore never needs TextBlob
    or language identification again.

    Parameters
    ----------
    scores : DataFrame
        :func:`score_comments` output for ``texts`` (same index).
    texts : Series
        The comments.
    polarity_models : PolarityModels or None
    memo : dict, optional
        Per model, the polarity of every text it read before (filled here): many dates
        read mostly the same comments, and a text's polarity does not depend on the
        texts read with it.

    Returns
    -------
    DataFrame
        A new frame; ``scores`` is not changed.
    """
    out = scores.copy()
    language = out["language"].to_numpy(dtype=object)
    others = (out["method"].to_numpy(dtype=object) != METHOD_TEXTBLOB) \
        & ~pd.isna(language) & (language != UNDETERMINED)
    if not others.any():
        return out
    models = polarity_models or PolarityModels()
    polarity = out["polarity"].to_numpy(dtype=float, copy=True)
    supported = out["supported"].copy()
    method = out["method"].to_numpy(dtype=object, copy=True)
    note = out["language_note"].to_numpy(dtype=object, copy=True)
    values = texts.to_numpy(dtype=object)
    for code in sorted(set(language[others])):
        rows = np.flatnonzero(others & (language == code))
        model = models.models.get(code)
        if model is None:
            polarity[rows] = np.nan
            supported.iloc[rows] = False
            method[rows] = None
            note[rows] = f"no polarity model for {code} ({language_name(code)}): {models.reason(code)}"
            continue
        kept = [v if isinstance(v, str) else str(v) for v in values[rows]]
        codes, uniques = pd.factorize(np.array(kept, dtype=object))
        polarity[rows] = _learnt_polarity(model, list(uniques), memo)[codes]
        supported.iloc[rows] = True
        method[rows] = METHOD_LEARNT
        note[rows] = None
    out["polarity"] = polarity
    out["supported"] = supported
    out["method"] = pd.Series(method, index=out.index, dtype=object)
    out["language_note"] = pd.Series(note, index=out.index, dtype=object)
    return out


def short_reason(note: str | None) -> str:
    """A note without its "no polarity model for pt (Portuguese): " prefix, for tables.

    Examples
    --------
    >>> short_reason("no polarity model for pt (Portuguese): 3 positive and 1 negative examples")
    '3 positive and 1 negative examples'
    >>> short_reason(None), short_reason(NOTE_NO_WORDS)
    ('', 'no words to analyse')
    """
    if not note:
        return ""
    return note.split("): ", 1)[1] if note.startswith("no polarity model for ") else note


def language_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per language: comments, read, the method that read them, unsupported and the share.

    Parameters
    ----------
    scores : DataFrame
        :func:`score_comments` output (empty comments are left out).

    Returns
    -------
    DataFrame
        Indexed by ``language`` (most comments first): ``name``, ``comments``, ``read``,
        ``method`` ("textblob", "learnt", "none"), ``unsupported``, ``unsupported_share``
        (0-1) and ``reason`` (the most frequent note of the unsupported ones).

    Examples
    --------
    >>> scores = score_comments(pd.Series(["Great support!", "Chegou antes do prazo.", ""]))
    >>> language_summary(scores)[["comments", "read", "method", "unsupported_share"]].to_dict("index")
    {'en': {'comments': 1, 'read': 1, 'method': 'textblob', 'unsupported_share': 0.0}, \
'pt': {'comments': 1, 'read': 0, 'method': 'none', 'unsupported_share': 1.0}}
    """
    present = scores["language"].notna()
    frame = scores.loc[present]
    columns = ["name", "comments", "read", "method", "unsupported", "unsupported_share", "reason"]
    if frame.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="language"))
    rows = []
    for code, part in frame.groupby("language", sort=True):
        read = part["supported"].fillna(False).astype(bool)
        methods = sorted(set(part.loc[read, "method"].dropna()))
        notes = part.loc[~read, "language_note"].dropna()
        rows.append({
            "language": code, "name": language_name(code), "comments": len(part),
            "read": int(read.sum()), "method": "+".join(methods) or "none",
            "unsupported": int((~read).sum()), "unsupported_share": float((~read).mean()),
            "reason": notes.value_counts().index[0] if len(notes) else None,
        })
    out = pd.DataFrame(rows).set_index("language")
    for name in ("name", "method", "reason"):  # text stays object, None for no reason
        out[name] = pd.Series([row[name] for row in rows], index=out.index, dtype=object)
    return out.sort_values("comments", ascending=False, kind="stable")[columns]


def language_report(scores: pd.DataFrame | None, polarity_models: PolarityModels | None = None) -> list[dict]:
    """:func:`language_summary` as plain JSON-safe rows, with each learnt model's CV ROC AUC.

    One dict per language, most comments first: ``language``, ``name``, ``comments``,
    ``read``, ``method``, ``unsupported``, ``unsupported_share``, ``reason`` and
    ``cv_roc_auc`` (None unless a learnt model read the language). Empty without comments.
    """
    if scores is None:
        return []
    rows = []
    models = polarity_models.models if polarity_models is not None else {}
    for code, row in language_summary(scores).iterrows():
        model = models.get(code) if "learnt" in row["method"] else None
        rows.append({
            "language": code, "name": row["name"], "comments": int(row["comments"]),
            "read": int(row["read"]), "method": row["method"],
            "unsupported": int(row["unsupported"]),
            "unsupported_share": round(float(row["unsupported_share"]), 4),
            "reason": row["reason"],
            "cv_roc_auc": None if model is None else round(float(model.cv_roc_auc), 4),
        })
    return rows


def describe_languages(report: list[dict]) -> str:
    """One sentence on which languages were read, how, and what share was not.

    Examples
    --------
    >>> describe_languages([
    ...     {"language": "en", "name": "English", "comments": 90, "read": 90, "method": "textblob",
    ...      "unsupported_share": 0.0, "cv_roc_auc": None},
    ...     {"language": "pt", "name": "Portuguese", "comments": 30, "read": 0, "method": "none",
    ...      "unsupported_share": 1.0, "cv_roc_auc": None}])
    'English 90 (TextBlob); Portuguese 30 (not read: 100% unsupported)'
    """
    parts = []
    for row in report:
        if row["method"] == "none":
            how = f"not read: {row['unsupported_share']:.0%} unsupported"
        else:
            names = {METHOD_TEXTBLOB: "TextBlob", METHOD_LEARNT: "learnt polarity"}
            how = " + ".join(names.get(m, m) for m in row["method"].split("+"))
            if row.get("cv_roc_auc") is not None:
                how += f", CV ROC AUC {row['cv_roc_auc']:.2f}"
            if row["unsupported_share"] > 0:
                how += f"; {row['unsupported_share']:.0%} unsupported"
        parts.append(f"{row['name']} {row['comments']:,} ({how})")
    return "; ".join(parts)


_METHOD_NAMES = {METHOD_TEXTBLOB: "TextBlob", METHOD_LEARNT: "learnt"}


def _joined_by_account(texts, accounts: pd.Series) -> dict:
    """``", ".join`` of ``texts`` per account, in row order; rows sorted by account.

    A slice per run of equal accounts: pandas' ``groupby(...).agg(", ".join)`` builds a
    Series per account, which cost seconds at 100k accounts.
    """
    keys = accounts.to_numpy(dtype=object)
    values = np.asarray(texts, dtype=object)
    if not len(keys):
        return {}
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return {keys[a]: ", ".join(values[a:b]) for a, b in zip(starts, ends)}


def account_languages(scores: pd.DataFrame, account_ids: pd.Series) -> pd.Series:
    """Per account, in words: the languages its comments were read in, how, and what was not.

    "read: en TextBlob, ar learnt; 12% unsupported (pt 100%)": each language read and its
    reader (most comments first), then the share of the account's comments no reader could
    read and, per unsupported language, the share of that language's comments left unread.

    Parameters
    ----------
    scores : DataFrame
        :func:`score_comments` output (empty comments are left out).
    account_ids : Series
        The account of each comment, indexed like ``scores`` (e.g. ``surveys["account_id"]``;
        extra rows are ignored).

    Returns
    -------
    Series of str
        Indexed by ``account_id``, accounts with at least one comment only.

    Examples
    --------
    >>> scores = score_comments(pd.Series(
    ...     ["Great support!", "Slow and buggy.", "Chegou antes do prazo.", "الخدمة ممتازة"]))
    >>> account_languages(scores, pd.Series(["A", "A", "A", "B"])).to_dict()
    {'A': 'read: en TextBlob; 33% unsupported (pt 100%)', 'B': 'read: none; 100% unsupported (ar 100%)'}
    """
    present = scores["language"].notna()
    frame = pd.DataFrame({
        "account_id": account_ids.reindex(scores.index)[present].to_numpy(),
        "language": scores.loc[present, "language"].to_numpy(dtype=object),
        "method": scores.loc[present, "method"].fillna("").to_numpy(dtype=object),
        "read": scores.loc[present, "supported"].fillna(False).to_numpy(dtype=bool),
    })
    if frame.empty:
        return pd.Series(dtype=object, index=pd.Index([], name="account_id"))
    # Grouped once over all comments, then joined per account: a loop over accounts costs
    # minutes at 100k accounts.
    counts = frame.groupby(["account_id", "language", "method"], sort=True).agg(
        comments=("read", "size"), read=("read", "sum")).reset_index()
    readers = counts[counts["read"] > 0].sort_values(
        ["account_id", "read"], ascending=[True, False], kind="stable")
    readers = _joined_by_account(
        readers["language"] + " " + readers["method"].map(lambda method: _METHOD_NAMES.get(method, method)),
        readers["account_id"])
    by_language = counts.groupby(["account_id", "language"], sort=True)[["comments", "read"]].sum()
    by_language["unread"] = by_language["comments"] - by_language["read"]
    accounts = by_language.index.get_level_values("account_id")
    total = by_language["comments"].groupby(accounts).sum()
    unread = by_language[by_language["unread"] > 0].reset_index().sort_values(
        ["account_id", "unread"], ascending=[True, False], kind="stable")
    shares = _joined_by_account(
        [f"{code} {n / all_:.0%}" for code, n, all_ in
         zip(unread["language"], unread["unread"], unread["comments"], strict=True)],
        unread["account_id"])
    unread_total = unread.groupby("account_id")["unread"].sum().to_dict()
    total = total.to_dict()
    notes = {}
    for account, comments in total.items():
        text = f"read: {readers.get(account) or 'none'}"
        if account in shares:
            text += f"; {unread_total[account] / comments:.0%} unsupported ({shares[account]})"
        notes[account] = text
    return pd.Series(notes, dtype=object).rename_axis("account_id")


def sentiment_over_time(
    surveys: pd.DataFrame | None, start, end, *, every: str = "MS",
    scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Mean comment polarity per month of ``[start, end)``, with readable and unreadable counts.

    ``scores`` (:func:`features.survey_polarity.score_survey_comments`, indexed like
    ``surveys``) carry the learnt polarity of other languages; without them the comments
    are scored here.

    Comments the analyser cannot read (:func:`score_comments`) are counted as
    ``unsupported`` and left out of the mean, never scored as neutral.

    Parameters
    ----------
    surveys : DataFrame or None
        The surveys table (``responded_at``, ``comment``); None or a table without comments
        gives every period a NaN mean and no comment.
    start, end : timestamp-like
        The window; ``end`` is excluded.
    every : str
        pandas frequency of the period starts (default month starts).

    Returns
    -------
    DataFrame
        Indexed by period start (``period``), with ``polarity`` (mean over readable comments;
        NaN for a period without one), ``comments`` (readable) and ``unsupported``.

    Examples
    --------
    >>> surveys = pd.DataFrame({
    ...     "responded_at": pd.to_datetime(["2025-01-05", "2025-01-20"]),
    ...     "comment": ["Great support, thank you!", "الدعم الفني بطيء جداً"]})
    >>> tone = sentiment_over_time(surveys, "2025-01-01", "2025-03-01")
    >>> tone["comments"].tolist(), tone["unsupported"].tolist(), bool(tone["polarity"].isna().iloc[1])
    ([1, 0], [1, 0], True)
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    periods = pd.date_range(start, end, freq=every, inclusive="left")
    empty = pd.DataFrame(
        {"polarity": np.nan, "comments": 0, "unsupported": 0}, index=pd.DatetimeIndex(periods, name="period")
    )
    if surveys is None or "comment" not in surveys.columns:
        return empty
    window = surveys.loc[
        (surveys["responded_at"] >= start) & (surveys["responded_at"] < end) & surveys["comment"].notna()
    ]
    window = window.loc[window["comment"].astype(str).str.strip() != ""]
    if window.empty:
        return empty
    scored = score_comments(window["comment"]) if scores is None else scores.loc[window.index]
    period = window["responded_at"].dt.to_period("M").dt.start_time
    frame = pd.DataFrame(
        {"period": period, "polarity": scored["polarity"].where(scored["supported"]), "supported": scored["supported"]}
    )
    grouped = frame.groupby("period").agg(
        polarity=("polarity", "mean"),
        comments=("supported", "sum"),
        unsupported=("supported", lambda s: int((~s.astype(bool)).sum())),
    )
    return grouped.reindex(empty.index).fillna({"comments": 0, "unsupported": 0})
