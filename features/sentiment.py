"""Sentiment of open survey comments: TextBlob polarity and subjectivity, language aware.

TextBlob's pattern analyser reads English only. Fed an Arabic, Persian or Spanish comment it
finds no word it knows and answers polarity 0.0, which would be reported as a *neutral*
customer. :func:`score_comments` therefore first decides whether the analyser can read a
comment at all, and marks the ones it cannot ``supported=False`` with polarity NaN.

The rule, applied to each distinct text (documented in ``docs/indicators.md``):

1. **Empty.** A missing or blank comment is not a comment: polarity and subjectivity NaN,
   ``supported`` missing (``<NA>``), note ``"no comment"``.
2. **Script.** Letters are classified by Unicode script (``unicodedata``). When most letters
   are not Latin, the comment is unsupported with the note ``"unsupported script: Arabic"``
   (``"unsupported script: Arabic (Persian)"`` when it holds letters only Persian uses,
   ``"unsupported script: Cyrillic"``, ...).
3. **Language of Latin text.** Words of two or more letters are looked up in an English
   vocabulary (TextBlob's own English lexicons, foreign-word entries removed) and in a short
   list of frequent words of other languages written in Latin script (Spanish, French,
   German, Portuguese, Italian, Dutch, Turkish, Indonesian, romanised Persian and Arabic;
   words that are also English, such as "die" or "son", are left out of that list). The
   comment is unsupported (``"not recognised as English"``) when it has no English word, or
   at least as many foreign words as English ones (a tie is not read: scoring "nicht gut"
   as neutral is the error this rule exists to avoid). One English word among jargon ("SSO login broken")
   is enough, so English comments full of product names stay supported.
4. **No words.** A comment without letters ("10/10", "👍") is supported only when TextBlob
   finds something it scores (emoticons such as ":)"); otherwise it is unsupported with the
   note ``"no words to analyse"`` rather than scored neutral.

Supported comments get exactly ``TextBlob(text).sentiment``: the module calls the same
pattern analyser instance (``textblob.en.sentiment``) that ``TextBlob`` uses, without
building a ``TextBlob`` object (which costs more than the scoring itself), and scores each
distinct text once.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import unicodedata
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
import pandas as pd

SCORE_COLUMNS = ("polarity", "subjectivity", "supported", "language_note")

NOTE_EMPTY = "no comment"
NOTE_NOT_ENGLISH = "not recognised as English"
NOTE_NO_WORDS = "no words to analyse"

# Below this many distinct texts a process pool costs more (start-up, lexicon load per
# worker) than it saves.
PARALLEL_MIN_TEXTS = 20_000

# Frequent words of languages written in Latin script that are not English words.
# Deliberately short: they only need to outnumber the English words of a non-English comment.
# Words English also uses (con, super, hay, sin, todo, mesh, os, ...) are left out.
_FOREIGN_WORDS = """
el los las del que es muy por para una pero está están estoy gracias servicio bueno
buena malo mala mucho muchas también como más fue ser producto atención cliente soy
tengo todos pésimo excelente rápido lento nunca siempre problema
le les est et très pas une du je nous vous mais sur merci bien rien trop ça ce cette qui
été où avons êtes sont leur assez jamais toujours mauvais vraiment
der das und ist nicht sehr ein eine ich wir sie mit für auf aber auch schlecht danke kein
keine zu wie noch schnell langsam immer leider
não muito obrigado obrigada você uma mas bom ruim atendimento ótimo em péssimo
il di che molto grazie sono della buono servizio anche questo questa tutto niente
het een niet zeer goed slecht bedankt ik wij maar ook
ve bir çok iyi kötü değil teşekkürler bu için
yang tidak sangat baik terima kasih ini itu saya kami dengan
kheili kheyli khoob khob mersi mamnoon ast nist vali kheyr kheir
shukran jazeelan kteer mish wallah
""".split()

_WORD = re.compile(r"[^\W\d_]{2,}")
# Letters only Persian adds to the Arabic alphabet: peh, tcheh, jeh, gaf, keheh, farsi yeh.
_PERSIAN_LETTERS = frozenset("پچژگکی")


# --- the analyser and the vocabularies, loaded once per process -----------------------


@lru_cache(maxsize=1)
def _analyser():
    """TextBlob's pattern sentiment analyser with the lexicon ``TextBlob.sentiment`` uses.

    ``textblob.en.sentiment`` is a lazily loaded dict whose every lookup goes through a
    Python-level wrapper; the analyser does dozens of lookups per comment. This is a copy of
    that very object (same lexicon, negations, modifiers, tokenizer, after the same loading)
    whose lookups are plain dict lookups: the answers are identical (the tests compare with
    ``TextBlob(text).sentiment``) and scoring is about a third faster.

    Imported lazily: importing TextBlob pulls in NLTK (about 1.5 s), which callers that only
    pass pre-computed scores should not pay.
    """
    from textblob.en import Sentiment, sentiment

    class _DictSentiment(Sentiment):
        __contains__ = dict.__contains__
        __getitem__ = dict.__getitem__
        get = dict.get

    len(sentiment)  # loads the lexicon
    analyser = _DictSentiment.__new__(_DictSentiment)
    dict.update(analyser, sentiment)
    analyser.__dict__.update(sentiment.__dict__)
    return analyser


@lru_cache(maxsize=1)
def _vocabularies() -> tuple[frozenset[str], frozenset[str]]:
    """(English words, foreign words) for the language rule."""
    from textblob.en import MODULE

    english = set(_analyser())
    with open(os.path.join(MODULE, "en-lexicon.txt"), encoding="utf-8") as lexicon:
        for line in lexicon:
            parts = line.split()
            if len(parts) < 2 or line.startswith(";"):
                continue
            word, tags = parts[0], parts[1:]
            # Capitalised entries are mostly proper nouns ("Madrid"), and FW marks the
            # foreign words the Brown corpus quotes ("de", "la"): neither is evidence of English.
            if word == word.lower() and any(tag != "FW" for tag in tags):
                english.add(word)
    foreign = frozenset(_FOREIGN_WORDS)
    return frozenset(english - foreign), foreign


# --- one text --------------------------------------------------------------------------


def _script(char: str) -> str:
    code = ord(char)
    if code < 0x250 or 0x1E00 <= code < 0x1F00:
        return "Latin"
    name = unicodedata.name(char, "")
    return name.split(" ")[0].title() if name else "Unknown"


def _unsupported_script(text: str) -> str | None:
    """The dominant non-Latin script of ``text`` when most of its letters use one."""
    if text.isascii():
        return None
    scripts = Counter(_script(char) for char in text if char.isalpha())
    latin = scripts.pop("Latin", 0)
    if not scripts or latin >= sum(scripts.values()):
        return None
    # Ties between scripts are broken by name so that the note is deterministic.
    script = min(scripts, key=lambda name: (-scripts[name], name))
    if script == "Arabic" and not _PERSIAN_LETTERS.isdisjoint(text):
        return "Arabic (Persian)"
    return script


def _score_one(text: str) -> tuple[float, float, bool, str | None]:
    """(polarity, subjectivity, supported, language_note) of one non-blank text."""
    script = _unsupported_script(text)
    if script is not None:
        return np.nan, np.nan, False, f"unsupported script: {script}"
    words = _WORD.findall(text.lower())
    if words:
        english, foreign = _vocabularies()
        n_english = sum(word in english for word in words)
        n_foreign = sum(word in foreign for word in words)
        if n_foreign >= n_english:
            return np.nan, np.nan, False, NOTE_NOT_ENGLISH
    score = _analyser()(text)
    if not words and not score.assessments:
        return np.nan, np.nan, False, NOTE_NO_WORDS
    return float(score[0]), float(score[1]), True, None


def _score_many(texts: list[str]) -> list[tuple[float, float, bool, str | None]]:
    return [_score_one(text) for text in texts]


def _score_parallel(texts: list[str], n_jobs: int) -> list[tuple[float, float, bool, str | None]]:
    # Loaded before the workers start so that forked workers inherit the lexicons instead
    # of each importing TextBlob and parsing them again.
    _analyser(), _vocabularies()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    # Contiguous chunks, results concatenated in order: the same answer as one process.
    size = -(-len(texts) // (n_jobs * 4))
    chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        return [row for part in pool.map(_score_many, chunks) for row in part]


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- the public function ---------------------------------------------------------------


def _check_texts(texts: object) -> pd.Series:
    if not isinstance(texts, pd.Series):
        raise TypeError(
            f"texts must be a pandas Series of comments, got {type(texts).__name__}; "
            "pass a column such as surveys['comment']"
        )
    return texts


def score_comments(texts: pd.Series, *, n_jobs: int | None = None) -> pd.DataFrame:
    """Polarity and subjectivity of each comment, or why it could not be read.

    Parameters
    ----------
    texts : Series
        Comments (str; missing values allowed), any index.
    n_jobs : int, optional
        Processes to score with; default: one per available core. A pool is only started
        for at least ``PARALLEL_MIN_TEXTS`` distinct texts. The result is the same either way.

    Returns
    -------
    DataFrame
        Indexed like ``texts``, with columns

        - ``polarity`` (float, -1…1): TextBlob polarity; NaN when not supported or empty;
        - ``subjectivity`` (float, 0…1): TextBlob subjectivity; NaN likewise;
        - ``supported`` (boolean): False when the analyser cannot read the comment,
          ``<NA>`` for an empty comment;
        - ``language_note`` (str or None): why a comment was not scored.

    Raises
    ------
    TypeError
        When ``texts`` is not a Series.

    Examples
    --------
    >>> comments = pd.Series(
    ...     ["Great support, very helpful!", "الخدمة ممتازة", "El servicio es muy malo", "  "],
    ...     index=[10, 11, 12, 13],
    ... )
    >>> score_comments(comments)
        polarity  subjectivity  supported               language_note
    10     0.525         0.525       True                        None
    11       NaN           NaN      False  unsupported script: Arabic
    12       NaN           NaN      False   not recognised as English
    13       NaN           NaN       <NA>                  no comment
    """
    texts = _check_texts(texts)
    n_jobs = _available_cores() if n_jobs is None else n_jobs
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be 1 or more, got {n_jobs}")
    values = texts.to_numpy(dtype=object)
    present = np.array(
        [isinstance(v, str) and not v.isspace() and v != "" for v in values], dtype=bool
    )
    # Values that are not text (a number in a comment column) are read as their text.
    kept = [v if isinstance(v, str) else str(v) for v in values[present]]
    codes, uniques = pd.factorize(np.array(kept, dtype=object))
    uniques = list(uniques)
    if n_jobs > 1 and len(uniques) >= PARALLEL_MIN_TEXTS:
        rows = _score_parallel(uniques, n_jobs)
    else:
        rows = _score_many(uniques)

    n = len(values)
    polarity = np.full(n, np.nan)
    subjectivity = np.full(n, np.nan)
    supported = pd.array([pd.NA] * n, dtype="boolean")
    notes = np.full(n, NOTE_EMPTY, dtype=object)
    if rows:
        unique_polarity = np.array([row[0] for row in rows], dtype=float)
        unique_subjectivity = np.array([row[1] for row in rows], dtype=float)
        unique_supported = np.array([row[2] for row in rows], dtype=bool)
        unique_notes = np.array([row[3] for row in rows], dtype=object)
        polarity[present] = unique_polarity[codes]
        subjectivity[present] = unique_subjectivity[codes]
        supported[present] = unique_supported[codes]
        notes[present] = unique_notes[codes]
    return pd.DataFrame(
        {
            "polarity": polarity,
            "subjectivity": subjectivity,
            "supported": supported,
            "language_note": pd.Series(notes, dtype=object),
        }
    ).set_axis(texts.index)


def sentiment_over_time(surveys: pd.DataFrame | None, start, end, *, every: str = "MS") -> pd.DataFrame:
    """Mean comment polarity per month of ``[start, end)``, with readable and unreadable counts.

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
    scored = score_comments(window["comment"])
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
