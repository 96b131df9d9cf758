"""Sentiment of comments: TextBlob's exact answers for English, never a neutral for the rest."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textblob import TextBlob

from features.demo_data import generate_demo_data
from features.sentiment import (
    NOTE_EMPTY,
    NOTE_NO_WORDS,
    NOTE_NOT_ENGLISH,
    _score_many,
    _score_parallel,
    score_comments,
    sentiment_over_time,
)

ENGLISH = [
    "The support team was really helpful and fast!",
    "Terrible onboarding, I could not find the export button.",
    "Not bad at all, but the billing page is confusing and slow.",
    "It's not the best tool, yet we would not call it awful.",
    "SSO login broken on the API again",
    "ok",
    "The invoice arrived.",
    "Great!!! :)",
    "I don't like the new editor very much...",
    "Very, very good. Support is responsive\n\nand the docs are nice",
]


def _textblob(text: str) -> tuple[float, float]:
    sentiment = TextBlob(text).sentiment
    return sentiment.polarity, sentiment.subjectivity


def test_english_comments_score_exactly_what_textblob_scores():
    scores = score_comments(pd.Series(ENGLISH))
    assert scores["supported"].tolist() == [True] * len(ENGLISH)
    for text, (_, row) in zip(ENGLISH, scores.iterrows()):
        assert (row["polarity"], row["subjectivity"]) == _textblob(text)


def test_demo_comments_are_read_when_english_and_score_exactly_what_textblob_scores():
    comments = generate_demo_data(accounts=600, months=6, seed=3)["surveys"]["comment"].dropna()
    scores = score_comments(comments)
    arabic_script = comments.str.contains("[\u0600-\u06FF]")
    assert (scores["supported"] == ~arabic_script).all()
    assert scores.loc[arabic_script, "language_note"].str.startswith("unsupported script: Arabic").all()
    assert (~arabic_script).sum() > 200
    for index in comments.index[~arabic_script]:
        expected = _textblob(comments[index])
        assert (scores.at[index, "polarity"], scores.at[index, "subjectivity"]) == expected


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz !.,'?:)(-")) , max_size=80))
def test_any_supported_latin_text_scores_what_textblob_scores(text):
    row = score_comments(pd.Series([text])).iloc[0]
    if pd.notna(row["supported"]) and row["supported"]:
        assert (row["polarity"], row["subjectivity"]) == _textblob(text)
    else:
        assert np.isnan(row["polarity"]) and np.isnan(row["subjectivity"])


@pytest.mark.parametrize(
    "text, note",
    [
        ("الخدمة ممتازة وسريعة", "unsupported script: Arabic"),
        ("پشتیبانی خیلی خوب و سریع است", "unsupported script: Arabic (Persian)"),
        ("Сервис очень хороший", "unsupported script: Cyrillic"),
        ("サポートはとても良い", "unsupported script: Hiragana"),
        ("El servicio es muy malo", NOTE_NOT_ENGLISH),
        ("Der Service ist sehr gut", NOTE_NOT_ENGLISH),
        ("nicht gut", NOTE_NOT_ENGLISH),
        ("Le support est très bien", NOTE_NOT_ENGLISH),
        ("Gracias", NOTE_NOT_ENGLISH),
        ("kheili khoob bood", NOTE_NOT_ENGLISH),
        ("10/10", NOTE_NO_WORDS),
        ("👍👍", NOTE_NO_WORDS),
    ],
)
def test_a_comment_the_analyser_cannot_read_is_unsupported_and_never_neutral(text, note):
    row = score_comments(pd.Series([text])).iloc[0]
    assert pd.notna(row["supported"]) and not row["supported"]
    assert row["language_note"] == note
    assert np.isnan(row["polarity"]) and np.isnan(row["subjectivity"])


def test_english_with_a_few_foreign_or_other_script_words_is_still_read():
    texts = pd.Series(["Thanks, great support", "Great service, شكرا", "Muy bien, really good work",
                       "Super product", "The OS update is a con"])
    scores = score_comments(texts)
    assert scores["supported"].tolist() == [True] * len(texts)
    assert scores["polarity"].tolist() == [_textblob(t)[0] for t in texts]


def test_empty_comments_are_not_comments():
    scores = score_comments(pd.Series([None, "", "   ", np.nan, "good"]))
    assert scores["supported"].isna().tolist() == [True, True, True, True, False]
    assert scores["language_note"].tolist()[:4] == [NOTE_EMPTY] * 4
    assert scores["polarity"].isna().tolist() == [True, True, True, True, False]


def test_scores_keep_the_callers_index_and_columns():
    texts = pd.Series(["good", "bad"], index=pd.Index(["r9", "r2"], name="response_id"))
    scores = score_comments(texts)
    assert scores.index.equals(texts.index)
    assert list(scores.columns) == ["polarity", "subjectivity", "supported", "language_note"]


def test_identical_texts_are_scored_once(monkeypatch):
    import features.sentiment as sentiment

    seen = []
    original = sentiment._score_many
    monkeypatch.setattr(sentiment, "_score_many", lambda texts: seen.extend(texts) or original(texts))
    scores = score_comments(pd.Series(["good", "bad", "good", "good", None, "bad"]))
    assert sorted(seen) == ["bad", "good"]
    good, bad = _textblob("good")[0], _textblob("bad")[0]
    assert scores["polarity"].tolist()[:4] == [good, bad, good, good]


def test_parallel_scoring_gives_the_same_answers_as_one_process():
    texts = ENGLISH * 3 + ["الخدمة ممتازة", "El servicio es muy malo", "10/10"]
    columns = ["polarity", "subjectivity", "supported", "language_note"]
    parallel = pd.DataFrame(_score_parallel(texts, 2), columns=columns)
    single = pd.DataFrame(_score_many(texts), columns=columns)
    pd.testing.assert_frame_equal(parallel, single)


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
