"""The learnt polarity: the minimum-examples rule, the AUC floor, determinism, plain storage."""

import json

import numpy as np
import pandas as pd
import pytest

from features.polarity import (
    PolarityInputError,
    PolarityModel,
    PolarityModels,
    fit_languages,
    fit_polarity,
)

GOOD = ["عالی بود", "خیلی خوب", "سریع رسید", "کیفیت عالی", "ممنون از شما", "راضی هستم",
        "بسیار خوشمزه", "بهترین بود"]
BAD = ["افتضاح بود", "خیلی بد", "دیر رسید", "کیفیت پایین", "سرد بود", "راضی نیستم",
       "اصلا خوب نبود", "بدترین بود"]


def _examples(per_side: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Short Persian comments: a positive or negative phrase among neutral words."""
    rng = np.random.default_rng(seed)
    neutral = ["سفارش", "غذا", "پیک", "امروز", "رستوران", "بسته", "قیمت", "این بار"]
    texts, labels = [], []
    for label, pool in ((1, GOOD), (0, BAD)):
        for _ in range(per_side):
            words = list(rng.choice(neutral, 2)) + [pool[rng.integers(len(pool))]]
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, np.array(labels)


def test_a_language_with_enough_examples_on_each_side_gets_a_model_that_reads_its_tone():
    texts, labels = _examples(60)
    fit = fit_polarity(texts, labels, language="fa", min_examples=60, folds=3)
    assert fit.model is not None and fit.reason is None
    assert fit.cv_roc_auc > 0.9 and fit.positives == fit.negatives == 60
    good, bad = fit.model.polarity(["غذا عالی بود", "پیک خیلی بد"])
    assert good > 0 > bad


def test_fewer_examples_than_the_minimum_on_one_side_give_no_model_and_say_why():
    texts, labels = _examples(60)
    keep = np.r_[np.arange(60), np.arange(60, 119)]  # 59 negatives
    fit = fit_polarity([texts[i] for i in keep], labels[keep], language="fa", min_examples=60)
    assert fit.model is None and np.isnan(fit.cv_roc_auc)
    assert fit.reason == "60 positive and 59 negative examples; 60 per side needed"


def test_a_model_below_the_auc_floor_is_not_used():
    texts, _ = _examples(80)
    noise = np.random.default_rng(3).permutation(np.r_[np.ones(80), np.zeros(80)]).astype(int)
    fit = fit_polarity(texts, noise, language="fa", min_examples=50, min_auc=0.7, folds=4)
    assert fit.model is None and fit.cv_roc_auc < 0.7
    assert fit.reason == f"cross-validated ROC AUC {fit.cv_roc_auc:.3f} is below the floor of 0.70"
    assert fit_polarity(texts, noise, language="fa", min_examples=50, min_auc=0.0, folds=4).model


def test_fitting_is_deterministic_and_independent_of_nothing_but_the_examples():
    texts, labels = _examples(50)
    one = fit_polarity(texts, labels, language="fa", min_examples=50, folds=3).model
    two = fit_polarity(texts, labels, language="fa", min_examples=50, folds=3).model
    assert one.ngrams == two.ngrams and np.array_equal(one.coef, two.coef)
    assert one.cv_roc_auc == two.cv_roc_auc


def test_a_model_stored_as_json_scores_exactly_like_the_fitted_one():
    texts, labels = _examples(50)
    model = fit_polarity(texts, labels, language="fa", min_examples=50, folds=3,
                         source="test", examples_before=pd.Timestamp("2025-03-01")).model
    data = json.loads(json.dumps(model.to_dict()))
    again = PolarityModel.from_dict(data)
    sample = texts[:10] + ["چیزی که در آموزش نبود"]
    assert np.array_equal(again.polarity(sample), model.polarity(sample))
    assert again.examples_before == pd.Timestamp("2025-03-01") and again.source == "test"


def test_stored_models_of_another_format_or_damaged_are_refused():
    texts, labels = _examples(50)
    data = fit_polarity(texts, labels, language="fa", min_examples=50, folds=3).model.to_dict()
    with pytest.raises(ValueError, match="format 99 is not 1; refit it"):
        PolarityModel.from_dict({**data, "format_version": 99})
    with pytest.raises(ValueError, match="is damaged"):
        PolarityModel.from_dict({**data, "coef": data["coef"][:-1]})


def test_bad_labels_are_refused_with_the_rows_and_the_fix():
    with pytest.raises(PolarityInputError, match=r"labels must be 1 \(positive\) or 0 \(negative\); 1 are not \(row 1: 2\)"):
        fit_polarity(["a b", "c d"], [1, 2], language="fa")
    with pytest.raises(PolarityInputError, match="3 texts but 2 labels"):
        fit_polarity(["a", "b", "c"], [1, 0], language="fa")
    with pytest.raises(PolarityInputError, match="empty or not text"):
        fit_polarity(["a", " "], [1, 0], language="fa")


def test_fitting_per_language_skips_english_and_und_and_records_every_rejection():
    texts, labels = _examples(40)
    languages = ["fa"] * len(texts)
    texts += ["good", "bad", "no idea"]
    labels = np.r_[labels, [1, 0, 1]]
    languages += ["en", "en", "und"]
    seen = []
    models = fit_languages(pd.Series(texts), pd.Series(labels), pd.Series(languages),
                           min_examples=40, folds=3, progress=lambda *a: seen.append(a))
    assert set(models.models) == {"fa"} and models.rejected == {}
    assert seen == [(1, 1, "fa")]
    strict = fit_languages(pd.Series(texts), pd.Series(labels), pd.Series(languages),
                           min_examples=41, folds=3)
    assert strict.models == {} and strict.reason("fa").startswith("40 positive and 40 negative")
    assert strict.reason("pt") == "no labelled comments in this language"
    again = PolarityModels.from_dict(json.loads(json.dumps(models.to_dict())))
    assert np.array_equal(again.models["fa"].coef, models.models["fa"].coef)


def test_texts_counted_once_with_more_texts_give_the_same_fold_scores_and_model():
    from features.polarity import counted, out_of_fold_scores

    texts, labels = _examples(40, seed=3)
    texts = texts + ["سفارش دیر رسید!!", "عالی 👍", "Great, خیلی خوب"]  # punctuation, emoji, mixed
    labels = np.r_[labels, [0, 1, 1]]
    later, _ = _examples(30, seed=4)  # a backfill counts the texts of later dates too
    shared = counted(later + texts[::-1])
    assert np.array_equal(out_of_fold_scores(texts, labels, folds=3),
                          out_of_fold_scores(texts, labels, folds=3, counts=shared))
    alone = fit_polarity(texts, labels, language="fa", min_examples=30, folds=3)
    reused = fit_polarity(texts, labels, language="fa", min_examples=30, folds=3, counts=shared)
    assert alone.model.ngrams == reused.model.ngrams
    assert np.array_equal(alone.model.coef, reused.model.coef)
    assert np.array_equal(alone.model.idf, reused.model.idf)
