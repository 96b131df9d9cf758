"""N-gram counts counted once: any subset's TF-IDF equals fitting scikit-learn on it alone."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from features.ngram_counts import NgramCounts
from features.polarity import _COMMON, PARTS

WORDS = ["خیلی", "خوب", "بد", "دیر", "رسید", "عالی", "não", "gostei", "entrega", "rápida",
         "!!", "👍", "a", "bom", "سرد", "غذا"]


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, rng.integers(1, 6))) for _ in range(n)]
    return texts + texts[: n // 10]  # repeated texts, as survey comments have


@pytest.mark.parametrize("part", sorted(PARTS))
@pytest.mark.parametrize("max_features", [None, 40])  # 40: the cut by frequency, with ties
def test_any_rows_give_exactly_the_vectorizer_fitted_on_their_texts_alone(part, max_features):
    texts = _texts(300, seed=1)
    spec = {**PARTS[part], "max_features": max_features}
    counts = NgramCounts(reversed(texts), TfidfVectorizer(**spec, **_COMMON).build_analyzer())
    rng = np.random.default_rng(2)
    for size in (len(texts), 150, 7):
        chosen = [texts[i] for i in rng.permutation(len(texts))[:size]]
        rows = counts.ids(chosen)
        vectorizer = TfidfVectorizer(**spec, **_COMMON)
        expected = vectorizer.fit_transform(chosen)
        matrix, kept, idf = counts.fit_tfidf(rows, min_df=2, max_features=max_features)
        assert list(counts.terms[kept]) == list(vectorizer.get_feature_names_out())
        assert np.array_equal(idf, vectorizer.idf_)
        # Same entries in the same order within each row: the L2 norms round alike.
        assert np.array_equal(matrix.indptr, expected.indptr)
        assert np.array_equal(matrix.indices, expected.indices)
        assert np.array_equal(matrix.data, expected.data)
        others = texts[:50]
        assert np.array_equal(counts.tfidf(counts.ids(others), kept, idf).toarray(),
                              vectorizer.transform(others).toarray())


def test_rows_whose_texts_share_no_term_twice_raise_like_the_vectorizer():
    analyse = TfidfVectorizer(**PARTS["w"], **_COMMON).build_analyzer()
    counts = NgramCounts(["alpha beta", "gamma delta", "alpha"], analyse)
    with pytest.raises(ValueError, match="min_df"):
        counts.fit_tfidf(counts.ids(["alpha beta", "gamma delta"]), min_df=2, max_features=None)
    with pytest.raises(ValueError):
        TfidfVectorizer(**PARTS["w"], **_COMMON).fit(["alpha beta", "gamma delta"])
