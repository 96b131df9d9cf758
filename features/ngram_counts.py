"""N-gram counts of many texts, counted once; the TF-IDF of any subset of them, as fitted alone.

Learning a polarity fits TF-IDF vectorizers again and again on subsets of the same texts:
every cross-validation fold, the final model, and in a backfill the examples before each
date. Counting the n-grams is most of that cost (a Python loop over every n-gram of every
text). :class:`NgramCounts` counts each distinct text once; :meth:`NgramCounts.fit_tfidf`
then gives, for any rows, exactly what scikit-learn's ``TfidfVectorizer(...).fit_transform``
on those texts alone gives, bit for bit: the same vocabulary (document frequencies, the
``min_df`` and ``max_features`` cuts, sorted terms), the same IDF weights, and the same
matrix, down to the order of each row's entries, which decides how its L2 norm is rounded
(``tests/features/test_ngram_counts.py`` compares them).

How scikit-learn orders a fitted row: terms are numbered as they first appear in the texts
(in row order, then in each text's n-gram order), each row is sorted by those numbers, then
renumbered alphabetically without being sorted again. Counting stores each row in its
text's own first-occurrence order, so the numbering of any subset is recovered from where
each term first appears in the subset's rows read in order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse


class NgramCounts:
    """Every text's n-gram counts, each distinct text analysed and counted once.

    Parameters
    ----------
    texts : iterable of str
        The texts; any of them (:meth:`ids`) may then be fitted on, in any order.
    analyse : callable
        A text's n-grams in order, e.g. ``TfidfVectorizer(...).build_analyzer()``.
    """

    def __init__(self, texts: Sequence[str], analyse: Callable[[str], list]):
        distinct = dict.fromkeys(texts)
        self.number = {text: i for i, text in enumerate(distinct)}
        vocabulary: dict[str, int] = {}
        indices, counts, indptr = [], [], [0]
        for text in distinct:
            counter = Counter(analyse(text))  # counted in C, in first-occurrence order
            indices.extend([vocabulary.setdefault(term, len(vocabulary)) for term in counter])
            counts.extend(counter.values())
            indptr.append(len(indices))
        self.terms = np.array(list(vocabulary), dtype=object)
        # Python's string order, as scikit-learn sorts its vocabulary.
        self.alphabetical = np.array(sorted(range(len(self.terms)), key=self.terms.__getitem__),
                                     dtype=np.int64)
        self.distinct = sparse.csr_matrix(
            (np.asarray(counts, dtype=np.float64), np.asarray(indices, dtype=np.int64),
             np.asarray(indptr, dtype=np.int64)), shape=(len(distinct), len(self.terms)))

    def ids(self, texts: Sequence[str]) -> np.ndarray:
        """The rows of :meth:`fit_tfidf` and :meth:`tfidf` that are ``texts``, in order."""
        return np.array([self.number[text] for text in texts], dtype=np.int64)

    def holds(self, texts: Sequence[str]) -> bool:
        """Whether every one of ``texts`` was counted."""
        return all(text in self.number for text in texts)

    def _rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """The counts of ``rows`` (:meth:`ids`), each row in its text's first-occurrence order."""
        return self.distinct[np.asarray(rows, dtype=np.int64)]

    def fit_tfidf(self, rows: np.ndarray, *, min_df: int, max_features: int | None):
        """``TfidfVectorizer(min_df=min_df, max_features=max_features, sublinear_tf=True)``
        fitted on the texts of ``rows`` (:meth:`ids`): (matrix, kept term numbers, IDF weights).

        The kept terms come in alphabetical order (the vectorizer's columns). Raises
        ValueError, as the vectorizer does, when no term is kept.
        """
        from sklearn.feature_extraction.text import TfidfTransformer

        counts = self._rows(rows)
        terms = counts.indices
        n = len(self.terms)
        df = np.bincount(terms, minlength=n)
        present = self.alphabetical[df[self.alphabetical] > 0]
        kept = present[df[present] >= min_df]  # max_df 1.0: no term is too common
        if max_features is not None and len(kept) > max_features:
            frequency = np.bincount(terms, weights=counts.data, minlength=n)
            # The vectorizer's own (unstable) argsort over the same array: ties cut alike.
            kept = kept[np.sort((-frequency[kept]).argsort()[:max_features])]
        if not len(kept):
            raise ValueError("no term is in at least min_df of these texts")
        column = np.full(n, -1, dtype=np.int64)
        column[kept] = np.arange(len(kept))
        # Each row in the order of the terms' first appearance in these rows, read in order.
        first = np.full(n, len(terms), dtype=np.int64)
        np.minimum.at(first, terms, np.arange(len(terms)))
        row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        order = np.lexsort((first[terms], row))
        order = order[column[terms[order]] >= 0]
        matrix = sparse.csr_matrix(
            (counts.data[order], column[terms[order]].astype(np.int32),
             np.r_[0, np.cumsum(np.bincount(row[order], minlength=counts.shape[0]))]),
            shape=(counts.shape[0], len(kept)))
        weigher = TfidfTransformer(sublinear_tf=True).fit(matrix)
        return weigher.transform(matrix, copy=False), kept, weigher.idf_

    def tfidf(self, rows: np.ndarray, kept: np.ndarray, idf: np.ndarray) -> sparse.csr_matrix:
        """The TF-IDF of the texts of ``rows`` with a fitted vocabulary (``kept`` term numbers,
        from :meth:`fit_tfidf`) and its IDF weights: the vectorizer's ``transform``."""
        from sklearn.feature_extraction.text import TfidfTransformer

        column = np.full(len(self.terms), -1, dtype=np.int64)
        column[kept] = np.arange(len(kept))
        counts = self._rows(rows)
        known = column[counts.indices] >= 0
        row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        matrix = sparse.csr_matrix(
            (counts.data[known], column[counts.indices[known]].astype(np.int32),
             np.r_[0, np.cumsum(np.bincount(row[known], minlength=counts.shape[0]))]),
            shape=(counts.shape[0], len(kept)))
        matrix.sort_indices()  # the vectorizer's transform sorts each row by column
        weigher = TfidfTransformer(sublinear_tf=True)
        weigher.idf_ = idf
        return weigher.transform(matrix, copy=False)
