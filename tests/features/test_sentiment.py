"""Sentiment of comments: TextBlob's exact answers for English, a learnt polarity for the
languages that have one, and never a neutral 0.0 for a comment nobody could read."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textblob import TextBlob

from features.polarity import PolarityModels, fit_languages
from features.sentiment import (
    NOTE_EMPTY,
    NOTE_NO_WORDS,
    NOTE_UNDETERMINED,
    SCORE_COLUMNS,
    language_summary,
    score_comments,
    sentiment_over_time,
    with_learnt_polarity,
)

ENGLISH = [
    "The support team was really helpful and fast!",
    "Terrible onboarding, I could not find the export button.",
    "Not bad at all, but the billing page is confusing and slow.",
    "It's not the best tool, yet we would not call it awful.",
    "The invoice arrived on time and the reports are clear.",
    "Great!!! :)",
    "I don't like the new editor very much...",
    "Very, very good. Support is responsive\n\nand the docs are nice",
]
# The cases of the issue: Portuguese reviews that used to pass as English.
PORTUGUESE = ["Chegou antes do prazo.", "Nao recomendo, toner não é original",
              "Produto ok, chegou no prazo com a data certa", "Super recomendo a loja"]

PT_GOOD = ["Produto muito bom, chegou rápido", "Entrega no prazo e bem embalado",
           "Ótimo atendimento, recomendo", "Gostei muito, qualidade excelente",
           "Chegou antes do prazo, perfeito", "Vendedor atencioso, tudo certo"]
PT_BAD = ["Produto veio quebrado, não recomendo", "Atrasou muito e ninguém responde",
          "Péssimo, toner não é original", "Não gostei, qualidade ruim",
          "Veio errado e não devolveram o dinheiro", "Nunca chegou, horrível"]


def _textblob(text: str) -> tuple[float, float]:
    sentiment = TextBlob(text).sentiment
    return sentiment.polarity, sentiment.subjectivity


def _portuguese_models(min_examples=10) -> PolarityModels:
    texts = pd.Series([f"{t} {suffix}" for suffix in ("", "!", ".", " obrigado", " mesmo")
                       for t in PT_GOOD + PT_BAD])
    labels = pd.Series(([1] * len(PT_GOOD) + [0] * len(PT_BAD)) * 5)
    return fit_languages(texts, labels, pd.Series(["pt"] * len(texts)), min_examples=min_examples,
                         min_auc=0.7, folds=3)


def test_english_comments_score_exactly_what_textblob_scores():
    scores = score_comments(pd.Series(ENGLISH))
    assert scores["supported"].tolist() == [True] * len(ENGLISH)
    assert scores["language"].tolist() == ["en"] * len(ENGLISH)
    assert scores["method"].tolist() == ["textblob"] * len(ENGLISH)
    for text, (_, row) in zip(ENGLISH, scores.iterrows()):
        assert (row["polarity"], row["subjectivity"]) == _textblob(text)


def test_portuguese_comments_are_portuguese_and_unsupported_without_a_model_never_zero():
    scores = score_comments(pd.Series(PORTUGUESE))
    assert scores["language"].tolist() == ["pt"] * len(PORTUGUESE)
    assert not scores["supported"].any()
    assert scores["polarity"].isna().all()
    assert scores["language_note"].str.startswith("no polarity model for pt (Portuguese)").all()


def test_portuguese_comments_are_read_by_a_learnt_model_when_there_is_one():
    scores = score_comments(pd.Series(PORTUGUESE), _portuguese_models())
    assert scores["supported"].all() and (scores["method"] == "learnt").all()
    assert scores["subjectivity"].isna().all()  # the model does not measure it
    by_text = dict(zip(PORTUGUESE, scores["polarity"]))
    assert by_text["Nao recomendo, toner não é original"] < 0 < by_text["Chegou antes do prazo."]


def test_a_language_whose_model_was_rejected_says_why():
    models = _portuguese_models(min_examples=500)
    row = score_comments(pd.Series(["Chegou antes do prazo."]), models).iloc[0]
    assert not row["supported"] and np.isnan(row["polarity"])
    assert row["language_note"] == (
        "no polarity model for pt (Portuguese): 30 positive and 30 negative examples; "
        "500 per side needed"
    )


@pytest.mark.parametrize("text, language, note", [
    ("الخدمة ممتازة وسريعة جداً", "ar", "no polarity model for ar (Arabic)"),
    ("پشتیبانی خیلی خوب و سریع است", "fa", "no polarity model for fa (Persian)"),
    ("El servicio es muy malo", "es", "no polarity model for es (Spanish)"),
    ("Der Service ist sehr gut", "de", "no polarity model for de (German)"),
    ("10/10", "und", NOTE_NO_WORDS),
    ("👍👍", "und", NOTE_NO_WORDS),
    ("qwxz vbnk", "und", NOTE_UNDETERMINED),
])
def test_a_comment_no_reader_can_read_is_unsupported_and_never_neutral(text, language, note):
    row = score_comments(pd.Series([text])).iloc[0]
    assert row["language"] == language
    assert pd.notna(row["supported"]) and not row["supported"]
    assert row["language_note"].startswith(note)
    assert np.isnan(row["polarity"]) and np.isnan(row["subjectivity"])


def test_an_emoticon_alone_is_read_by_textblob():
    row = score_comments(pd.Series([":)"])).iloc[0]
    assert row["supported"] and row["method"] == "textblob" and row["language"] == "und"
    assert row["polarity"] == _textblob(":)")[0]


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz !.,'?:)(-")), max_size=80))
def test_any_text_read_by_textblob_scores_what_textblob_scores_and_the_rest_is_nan(text):
    row = score_comments(pd.Series([text])).iloc[0]
    if row["method"] == "textblob":
        assert (row["polarity"], row["subjectivity"]) == _textblob(text)
    else:
        assert np.isnan(row["polarity"]) and np.isnan(row["subjectivity"])


def test_empty_comments_are_not_comments():
    scores = score_comments(pd.Series([None, "", "   ", np.nan, "good"]))
    assert scores["supported"].isna().tolist() == [True, True, True, True, False]
    assert scores["language_note"].tolist()[:4] == [NOTE_EMPTY] * 4
    assert scores["language"].tolist()[:4] == [None] * 4
    assert scores["polarity"].isna().tolist() == [True, True, True, True, False]


def test_scores_keep_the_callers_index_and_columns():
    texts = pd.Series(["good", "bad"], index=pd.Index(["r9", "r2"], name="response_id"))
    scores = score_comments(texts)
    assert scores.index.equals(texts.index)
    assert tuple(scores.columns) == SCORE_COLUMNS


def test_identical_texts_are_read_once(monkeypatch):
    import features.sentiment as sentiment

    seen = []
    original = sentiment._read_many
    monkeypatch.setattr(sentiment, "_read_many", lambda texts: seen.extend(texts) or original(texts))
    scores = score_comments(pd.Series(["good", "bad", "good", "good", None, "bad"]))
    assert sorted(seen) == ["bad", "good"]
    good, bad = _textblob("good")[0], _textblob("bad")[0]
    assert scores["polarity"].tolist()[:4] == [good, bad, good, good]


def test_comments_read_by_workers_started_early_score_as_one_process(monkeypatch):
    import features.sentiment as sentiment

    texts = pd.Series(ENGLISH * 2 + [None, "الخدمة ممتازة", "10/10"] + PORTUGUESE, index=range(50, 73))
    expected = score_comments(texts, _portuguese_models(), n_jobs=1)
    monkeypatch.setattr(sentiment, "PARALLEL_MIN_TEXTS", 2)  # a pool for a few texts
    reading = sentiment.read_comments(texts, _portuguese_models(), n_jobs=2)
    assert reading._pool is not None  # the workers read while the caller goes on
    pd.testing.assert_frame_equal(reading.result(), expected)
    assert reading._pool is None  # shut down once read


def test_leaving_a_reading_unread_stops_its_workers(monkeypatch):
    import features.sentiment as sentiment

    monkeypatch.setattr(sentiment, "PARALLEL_MIN_TEXTS", 2)
    with sentiment.read_comments(pd.Series(ENGLISH), n_jobs=2) as reading:
        workers = list(reading._pool._processes.values())
    assert workers and not any(worker.is_alive() for worker in workers)


def test_learnt_polarity_can_be_applied_again_to_the_same_scores_without_changing_them():
    texts = pd.Series(ENGLISH[:2] + PORTUGUESE)
    base = score_comments(texts)
    before = base.copy()
    learnt = with_learnt_polarity(base, texts, _portuguese_models())
    pd.testing.assert_frame_equal(base, before)
    pd.testing.assert_frame_equal(learnt, score_comments(texts, _portuguese_models()))
    assert learnt["polarity"].iloc[:2].tolist() == base["polarity"].iloc[:2].tolist()


def test_the_language_summary_counts_comments_methods_and_unsupported_shares():
    texts = pd.Series(ENGLISH[:3] + PORTUGUESE + ["الخدمة ممتازة وسريعة جداً", None])
    summary = language_summary(score_comments(texts))
    assert summary.loc["pt", ["comments", "read", "method", "unsupported_share"]].tolist() == [
        4, 0, "none", 1.0]
    assert summary.loc["en", ["comments", "read", "method", "unsupported"]].tolist() == [
        3, 3, "textblob", 0]
    assert summary.index[0] == "pt" and summary["comments"].sum() == 8
    learnt = language_summary(score_comments(texts, _portuguese_models()))
    assert learnt.loc["pt", "method"] == "learnt" and learnt.loc["pt", "unsupported_share"] == 0.0


def test_texts_that_are_not_a_series_are_refused():
    with pytest.raises(TypeError, match="texts must be a pandas Series"):
        score_comments(["good"])


def test_a_number_of_jobs_below_one_is_refused():
    with pytest.raises(ValueError, match="n_jobs must be 1 or more"):
        score_comments(pd.Series(["good"]), n_jobs=0)


# --- over time ---------------------------------------------------------------------


def test_comment_tone_over_time_leaves_out_unreadable_comments_instead_of_scoring_them_neutral():
    surveys = pd.DataFrame({
        "responded_at": pd.to_datetime(["2025-01-05", "2025-01-20", "2025-02-03", "2025-02-10"]),
        "comment": ["Great support, thank you!", "الدعم الفني بطيء جداً", "Terrible, slow and broken.", None],
    })
    tone = sentiment_over_time(surveys, "2025-01-01", "2025-04-01")
    assert tone.index.tolist() == list(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]))
    assert tone.loc["2025-01-01", "comments"] == 1 and tone.loc["2025-01-01", "unsupported"] == 1
    assert tone.loc["2025-01-01", "polarity"] > 0.3
    assert tone.loc["2025-02-01", "polarity"] < 0
    assert np.isnan(tone.loc["2025-03-01", "polarity"])
