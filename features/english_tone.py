"""English comments read by TextBlob's pattern analyser: exactly ``TextBlob(text).sentiment``, faster.

``TextBlob(text).sentiment`` is ``textblob.en.sentiment(text)``: a lexicon lookup over the
words that ``textblob._text.find_tokens`` splits off. Most of its time goes to two things
that do not change a single answer:

- every lexicon lookup goes through a Python-level wrapper (the lexicon loads lazily);
- the tokenizer compiles or looks up ten regular expressions per call, walks every token
  through two ``while`` loops even when it has no punctuation to split off, and builds each
  sentence through a generator.

:func:`english_analyser` is the same analyser object (same lexicon, negations, modifiers,
after the same loading) with plain dict lookups and :func:`find_words` as its tokenizer:
TextBlob's own tokenizer, step for step, with precompiled expressions, literal replacements
where TextBlob's patterns are literal, a shortcut for tokens that start and end with a
letter or digit (nothing to split), and no sentence splitting where it changes no word
(:func:`find_words`). The tests compare both with TextBlob on every demo
comment and on random texts full of punctuation, quotes, line breaks and emoticons.

Importing this module imports TextBlob, which pulls in NLTK (seconds): import it where
English is about to be read, not at the top of a module that may only pass scores on.
"""

from __future__ import annotations

import re
from functools import lru_cache

from textblob._text import (
    ABBREVIATIONS,
    EMOTICONS,
    EOS,
    PUNCTUATION,
    RE_ABBR1,
    RE_ABBR2,
    RE_ABBR3,
    RE_EMOTICONS,
    RE_SARCASM,
    TOKEN,
    replacements,
)

# As in find_tokens: periods are handled apart from the other punctuation marks.
_PUNCTUATION = tuple(PUNCTUATION.replace(".", ""))
_LEADING = frozenset(_PUNCTUATION)
_TRAILING = frozenset(_PUNCTUATION + (".",))
_SENTENCE_END = frozenset(("...", ".", "!", "?", EOS))
_CLOSING = frozenset(("'", '"', "”", "’", "...", ".", "!", "?", ")", EOS))
_LINEBREAK = re.compile(r"\n{2,}")
_SPACES = re.compile(r"\s+")


def _spaced_emoticon_pattern() -> re.Pattern:
    """Two emoticon characters with a space between, as they may follow each other in one.

    TextBlob's emoticon substitution only changes a sentence where an emoticon was split by a
    space (": )" becomes ":)"); without such a pair it returns the sentence as it was.
    """
    following: dict[str, set[str]] = {}
    for faces in EMOTICONS.values():
        for face in faces:
            for a, b in zip(face, face[1:]):
                following.setdefault(a, set()).add(b)
    return re.compile("|".join(
        f"{re.escape(a)} [{''.join(re.escape(b) for b in sorted(bs))}]"
        for a, bs in sorted(following.items())
    ))


_SPACED_EMOTICON = _spaced_emoticon_pattern()
# TextBlob's contraction patterns are plain text ("'d", "n't"), so its re.sub with them is a
# str.replace (a test checks that they stay plain text).
_REPLACEMENTS = tuple(replacements.items())


def _split_punctuation(t: str, tokens: list[str]) -> None:
    """TextBlob's loop for a token with punctuation at either end, unchanged."""
    tail = []
    while t.startswith(_PUNCTUATION) and t not in replacements:
        tokens.append(t[0])
        t = t[1:]
    while t.endswith(_PUNCTUATION + (".",)) and t not in replacements:
        if t.endswith(_PUNCTUATION):
            tail.append(t[-1])
            t = t[:-1]
        if t.endswith("..."):
            tail.append("...")
            t = t[:-3].rstrip(".")
        if t.endswith("."):
            if (
                t in ABBREVIATIONS
                or RE_ABBR1.match(t) is not None
                or RE_ABBR2.match(t) is not None
                or RE_ABBR3.match(t) is not None
            ):
                break
            tail.append(t[-1])
            t = t[:-1]
    if t != "":
        tokens.append(t)
    tokens.extend(reversed(tail))


def _tokens(string: str) -> list[str]:
    for a, b in _REPLACEMENTS:
        if a in string:
            string = string.replace(a, b)
    string = (
        string.replace("“", " “ ").replace("”", " ” ").replace("‘", " ‘ ")
        .replace("’", " ’ ").replace("'", " ' ").replace('"', ' " ')
    )
    if "\r\n" in string:
        string = string.replace("\r\n", "\n")
    if "\n\n" in string:
        string = _LINEBREAK.sub(f" {EOS} ", string)
    string = _SPACES.sub(" ", string)
    tokens: list[str] = []
    for t in TOKEN.findall(string + " "):
        if t[0] in _LEADING or t[-1] in _TRAILING:
            _split_punctuation(t, tokens)
        else:
            tokens.append(t)
    return tokens


def _sentences(tokens: list[str]) -> list[str]:
    sentences: list[list[str]] = [[]]
    i, j = 0, 0
    while j < len(tokens):
        if tokens[j] in _SENTENCE_END:
            # Citations, trailing parenthesis, repeated punctuation (!?), as TextBlob does.
            while j < len(tokens) and tokens[j] in _CLOSING:
                if tokens[j] in ("'", '"') and sentences[-1].count(tokens[j]) % 2 == 0:
                    break  # Balanced quotes.
                j += 1
            sentences[-1].extend([t for t in tokens[i:j] if t != EOS])
            sentences.append([])
            i = j
        j += 1
    sentences[-1].extend(tokens[i:j])
    out = []
    for words in sentences:
        if not words:
            continue
        sentence = " ".join(words)
        if "(" in sentence:
            sentence = RE_SARCASM.sub("(!)", sentence)
        if _SPACED_EMOTICON.search(sentence) is not None:
            sentence = RE_EMOTICONS.sub(lambda m: m.group(1).replace(" ", "") + m.group(2), sentence)
        out.append(sentence)
    return out


def find_tokens(string: str) -> list[str]:
    """The sentences of ``string``, tokens separated by spaces: ``textblob._text.find_tokens``.

    Examples
    --------
    >>> find_tokens("Great support, thanks! Didn't wait :)")
    ['Great support , thanks !', "Did n ' t wait :)"]
    """
    return _sentences(_tokens(string))


def find_words(string: str) -> list[str]:
    """:func:`find_tokens` as the sentiment analyser reads it: the same words, in one line.

    The analyser joins the sentences and splits them into words again, so where splitting
    into sentences changes no word (no paragraph break, no sarcasm mark, no emoticon split
    by a space) the sentences are not built at all.

    Examples
    --------
    >>> find_words("Great support, thanks! Didn't wait")
    ["Great support , thanks ! Did n ' t wait"]
    """
    tokens = _tokens(string)
    line = " ".join(tokens)
    if EOS in line or "(" in line or _SPACED_EMOTICON.search(line) is not None:
        return _sentences(tokens)
    return [line]


@lru_cache(maxsize=1)
def english_analyser():
    """TextBlob's pattern sentiment analyser, as ``TextBlob(text).sentiment`` uses it.

    ``textblob.en.sentiment`` is a lazily loaded dict whose every lookup goes through a
    Python-level wrapper; the analyser does dozens of lookups per comment. This is a copy of
    that very object (same lexicon, negations, modifiers, after the same loading) whose
    lookups are plain dict lookups and whose tokenizer is :func:`find_words`: the answers
    are identical.

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
    analyser.tokenizer = find_words
    return analyser
