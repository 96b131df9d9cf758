"""TextBlob's English sentiment, faster: the same tokens and the same scores as TextBlob."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from textblob import TextBlob
from textblob._text import find_tokens as textblob_find_tokens
from textblob._text import replacements

from features.demo_data import generate_demo_data
from features.english_tone import english_analyser, find_tokens, find_words

# Everything TextBlob's tokenizer treats specially: punctuation, quotes, apostrophes of
# contractions, periods of abbreviations, line breaks, sarcasm marks and emoticon characters.
_PIECES = list("abcdexDXoOsSpP8 .,;:!?()[]{}'\"-=<>^_*°\n\r\t“”‘’") + [
    " not ", " very ", " good", " bad", "n't", "'s", "...", "e.g.", "U.S.", "Mr.", ":)", ": )",
    ":-(", "x D", "(!)", "( ! )", "\n\n", "♥", "<3", " great", " really", "ly",
]
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)

SAMPLES = [
    "The support team was really helpful and fast!",
    "I don't like the new editor very much...",
    "Very, very good. Support is responsive\r\n\r\nand the docs are nice",
    "Not bad (!) at all :) e.g. the U.S. office; Mr. Smith said \"great\" – “wow”",
    "xD it works : ) but o . O and 8 ) and : ' ( hmm",
]


def test_textblobs_contraction_patterns_are_plain_text_so_replacing_them_is_exact():
    for pattern, replacement in replacements.items():
        assert re.escape(pattern) == pattern
        assert "\\" not in replacement


def test_the_tokens_are_textblobs_tokens_on_tricky_samples():
    for text in SAMPLES:
        assert find_tokens(text) == textblob_find_tokens(text)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_the_tokens_are_textblobs_tokens_on_any_text(text):
    assert find_tokens(text) == textblob_find_tokens(text)


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_the_scores_are_textblobs_scores_on_any_text(text):
    assert tuple(english_analyser()(text)) == tuple(TextBlob(text).sentiment)


def test_the_scores_are_textblobs_scores_on_every_english_demo_comment():
    comments = generate_demo_data(accounts=300, months=6, seed=7)["surveys"]["comment"].dropna()
    texts = [text for text in comments.unique() if text.isascii()]
    assert len(texts) > 100
    analyser = english_analyser()
    assert [tuple(analyser(t)) for t in texts] == [tuple(TextBlob(t).sentiment) for t in texts]


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_the_words_in_one_line_are_the_words_of_textblobs_sentences(text):
    assert " ".join(find_words(text)).split() == " ".join(textblob_find_tokens(text)).split()
