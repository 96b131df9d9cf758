"""Language identification on a labelled set of short customer comments in ten languages."""

from pathlib import Path

import pandas as pd
import pytest

from features.languages import UNDETERMINED, identify_language, identify_languages

LABELLED = Path(__file__).resolve().parents[1] / "data" / "language_comments.tsv"


@pytest.fixture(scope="module")
def labelled():
    frame = pd.read_csv(LABELLED, sep="\t")
    frame["words"] = frame["text"].str.split().str.len()
    frame["found"] = identify_languages(frame["text"])
    return frame


def test_the_labelled_set_has_at_least_forty_comments_of_three_words_in_eight_languages(labelled):
    counts = labelled[labelled["words"] >= 3].groupby("language").size()
    assert (counts >= 40).sum() >= 8
    assert {"ar", "fa", "ur", "pt", "es", "en"} <= set(counts[counts >= 40].index)


def test_at_least_95_percent_of_comments_of_three_words_or_more_are_identified(labelled):
    long = labelled[labelled["words"] >= 3]
    assert (long["found"] == long["language"]).mean() >= 0.95


@pytest.mark.parametrize("group", [("ar", "fa", "ur"), ("pt", "es", "en")])
def test_arabic_persian_urdu_and_portuguese_spanish_english_are_told_apart(labelled, group):
    rows = labelled[labelled["language"].isin(group) & (labelled["words"] >= 3)]
    for language in group:
        mine = rows[rows["language"] == language]
        assert (mine["found"] == language).mean() >= 0.95, language
        # Never mistaken for a sibling more than once in the set.
        assert mine["found"].isin(set(group) - {language}).sum() <= 2


@pytest.mark.parametrize("text", [
    "Chegou antes do prazo.", "Nao recomendo, toner não é original", "Super recomendo a loja",
    "Produto ok, chegou no prazo com a data certa",
])
def test_the_portuguese_comments_of_the_issue_are_portuguese(text):
    assert identify_language(text) == "pt"


@pytest.mark.parametrize("text", ["10/10", "👍👍", "  :)  ", "!!!"])
def test_text_without_letters_has_no_language(text):
    assert identify_language(text) == UNDETERMINED


def test_short_english_answers_no_model_can_place_are_english():
    assert [identify_language(t) for t in ("Good", "Too slow", "ok")] == ["en", "en", "en"]


def test_missing_and_blank_texts_get_none_and_the_index_is_kept():
    texts = pd.Series([None, " ", "Muito bom, recomendo a todos"], index=["r3", "r1", "r2"])
    found = identify_languages(texts)
    assert found.index.equals(texts.index)
    assert found.tolist() == [None, None, "pt"]


def test_the_answer_does_not_depend_on_order_or_repetition():
    texts = pd.Series(["El servicio es muy malo", "پشتیبانی خیلی خوب است", "El servicio es muy malo"])
    assert identify_languages(texts).tolist() == identify_languages(texts[::-1]).tolist()[::-1]
