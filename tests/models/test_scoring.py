"""The one scoring path: tone drivers say which languages were read, how, and what was not."""

import dataclasses

import pandas as pd

from features.catalogue import lookup
from features.contract import validate_tables
from features.demo_data import generate_demo_data
from features.scorecard_config import load_scorecard
from features.sentiment import account_languages
from models.scoring import score_tables

# Comment tone as the one measure, so that every account with a readable comment below
# "good" loses points on it and gets a tone driver.
TONE_SCORECARD = """
min_coverage = 0.4
[[bands]]
label = "red"
low = 0
high = 50
color = "#d62728"
[[bands]]
label = "green"
low = 50
high = 100
color = "#2ca02c"
[groups.satisfaction]
label = "Satisfaction"
weight = 1
[measures.sentiment]
group = "satisfaction"
indicator = "sentiment_mean_180d"
poor = -0.3
good = 0.3
weight = 1
"""


def test_tone_drivers_name_the_languages_read_their_readers_and_the_share_unsupported(tmp_path):
    tables, _ = validate_tables(generate_demo_data(accounts=150, months=8, seed=5))
    # A Portuguese comment nobody can read, for the first account that answered a survey.
    surveys = tables.surveys.copy()
    first = surveys.index[surveys["comment"].notna()][0]
    surveys.loc[first, "comment"] = "Nao recomendo, toner não é original"
    tables = dataclasses.replace(tables, surveys=surveys)
    as_of = surveys["responded_at"].max() + pd.Timedelta(days=1)
    (tmp_path / "tone.toml").write_text(TONE_SCORECARD, encoding="utf-8")
    scored = score_tables(tables, as_of, load_scorecard(tmp_path / "tone.toml"))

    languages = account_languages(scored.comments, tables.surveys["account_id"])
    tone = [(account, d) for account, drivers in scored.scores["health_drivers"].items()
            for d in drivers]
    assert len(tone) > 10
    for account, driver in tone:
        assert driver["indicator"] == "sentiment_mean_180d"
        assert driver["text"].endswith(f"; comments {languages[account]}")
        assert driver["text"].count("comments read: ") == 1
    assert "read: en TextBlob" in " ".join(languages)
    assert "pt 100%" in languages[surveys.loc[first, "account_id"]]


def test_other_drivers_say_nothing_about_comment_languages():
    tables, _ = validate_tables(generate_demo_data(accounts=150, months=8, seed=5))
    as_of = tables.surveys["responded_at"].max() + pd.Timedelta(days=1)
    scored = score_tables(tables, as_of, load_scorecard())
    drivers = [d for row in scored.scores["health_drivers"] for d in row]
    other = [d for d in drivers if lookup(d["indicator"])[0].group != "sentiment"]
    assert other and not any("comments read:" in d["text"] for d in other)


def test_an_accounts_languages_count_each_language_and_its_unsupported_share():
    scores = pd.DataFrame({
        "language": ["en", "en", "pt", "pt", "ar", None],
        "method": ["textblob", "textblob", None, None, "learnt", None],
        "supported": pd.array([True, True, False, False, True, pd.NA], dtype="boolean"),
    }, index=[10, 11, 12, 13, 14, 15])
    accounts = pd.Series(["A", "A", "A", "B", "B", "B"], index=[10, 11, 12, 13, 14, 15])
    assert account_languages(scores, accounts).to_dict() == {
        "A": "read: en TextBlob; 33% unsupported (pt 100%)",
        "B": "read: ar learnt; 50% unsupported (pt 100%)",
    }
