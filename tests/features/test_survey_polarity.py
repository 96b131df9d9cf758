"""Polarity learnt from survey scores: labels per scale, point in time, the Portuguese case
of the issue, and the varied demo comments read against the health they were drawn from."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.contract import SurveyScale, SurveyScales, validate_tables
from features.demo_data import generate_demo_data
from features.indicators import compute_indicators
from features.languages import identify_languages
from features.survey_polarity import (
    fit_survey_polarity,
    labelled_comments,
    read_survey_comments,
    score_survey_comments,
    survey_labels,
)

GOOD = ["Chegou antes do prazo", "Produto excelente", "Recomendo muito", "Entrega rápida",
        "Atendimento ótimo", "Gostei bastante", "Qualidade muito boa", "Tudo certo com o pedido"]
BAD = ["Não recomendo", "Toner não é original", "Produto veio quebrado", "Atrasou demais",
       "Péssimo atendimento", "Ninguém responde", "Qualidade ruim", "Veio errado e sem nota"]
EXTRA = ["", ", obrigado", ", comprei de novo", " desta vez", ", loja online", " e o suporte"]


def _portuguese_tables(per_side: int, *, start="2025-01-01", seed=0):
    """Accounts answering CSAT in Portuguese: 5 with a good comment, 1 with a bad one."""
    rng = np.random.default_rng(seed)
    n = 2 * per_side
    good = np.r_[np.ones(per_side, bool), np.zeros(per_side, bool)]
    text = [f"{rng.choice(GOOD if g else BAD)}{rng.choice(EXTRA)}" for g in good]
    days = rng.integers(0, 300, n)
    raw = {
        "accounts": pd.DataFrame({"account_id": [f"A{i}" for i in range(20)],
                                  "signup_date": ["2024-06-01"] * 20}),
        "surveys": pd.DataFrame({
            "response_id": [f"R{i:05d}" for i in range(n)],
            "account_id": [f"A{i % 20}" for i in range(n)],
            "survey": ["csat"] * n,
            "score": np.where(good, 5, 1),
            "responded_at": (pd.Timestamp(start) + pd.to_timedelta(days, unit="D")).astype(str),
            "comment": text,
        }),
    }
    tables, _ = validate_tables(raw)
    return tables


def test_labels_follow_each_survey_scale_and_leave_the_middle_out():
    surveys = pd.DataFrame({"survey": ["csat"] * 5 + ["nps"] * 4 + ["ces"] * 3,
                            "score": [1, 2, 3, 4, 5, 0, 6, 8, 9, 2, 3, 5]})
    np.testing.assert_array_equal(survey_labels(surveys),
                                  [0, 0, np.nan, 1, 1, 0, 0, np.nan, 1, 0, np.nan, 1])
    scales = SurveyScales(csat=SurveyScale(1, 7, satisfied_at=6), ces=SurveyScale(1, 7))
    seven = pd.DataFrame({"survey": ["csat"] * 4 + ["ces"] * 3, "score": [2, 3, 4, 6, 1, 3, 6]})
    np.testing.assert_array_equal(survey_labels(seven, scales), [0, np.nan, np.nan, 1, 0, np.nan, 1])


def test_with_enough_scored_portuguese_comments_the_learnt_model_reads_them():
    tables = _portuguese_tables(250)
    scores, models = score_survey_comments(tables, "2026-01-01", min_examples=200)
    assert set(models.models) == {"pt"} and models.models["pt"].cv_roc_auc >= 0.7
    assert (scores["language"] == "pt").mean() > 0.95
    pt = scores["language"] == "pt"
    assert scores.loc[pt, "supported"].all() and (scores.loc[pt, "method"] == "learnt").all()
    labels = survey_labels(tables.surveys).loc[scores.index[pt]]
    assert roc_auc_score(labels, scores.loc[pt, "polarity"]) > 0.95


def test_without_enough_of_them_they_are_unsupported_never_zero_and_the_indicators_say_so():
    tables = _portuguese_tables(150)
    scores, models = score_survey_comments(tables, "2026-01-01", min_examples=200)
    assert models.models == {}
    pt = scores["language"] == "pt"
    assert not scores.loc[pt, "supported"].any() and scores.loc[pt, "polarity"].isna().all()
    assert scores.loc[pt, "language_note"].str.fullmatch(
        r"no polarity model for pt \(Portuguese\): 1\d\d positive and 1\d\d negative examples; "
        r"200 per side needed").all()
    out = compute_indicators(tables, "2026-01-01", windows=(365,), comment_scores=scores)
    assert out["sentiment_mean_365d"].isna().all() and (out["sentiment_mean_365d"] != 0).all()
    assert (out["unsupported_comment_share_365d"].dropna() > 95).all()


def test_only_comments_before_the_date_teach_the_model():
    tables = _portuguese_tables(250)
    cut = pd.Timestamp("2025-08-01")
    models = fit_survey_polarity(tables, cut, min_examples=100, folds=3)
    # Answers from the date on, with their scores flipped, change nothing.
    later = tables.surveys.copy()
    later["responded_at"] = cut + pd.to_timedelta(np.arange(len(later)) % 90, unit="D")
    later["score"] = 6 - later["score"]
    later["response_id"] = "L" + later["response_id"]
    both = dataclasses.replace(tables, surveys=pd.concat([tables.surveys, later], ignore_index=True))
    again = fit_survey_polarity(both, cut, min_examples=100, folds=3)
    assert models.examples_before == again.examples_before == cut
    assert np.array_equal(models.models["pt"].coef, again.models["pt"].coef)
    examples = labelled_comments(both, cut)
    assert (examples["responded_at"] < cut).all()
    assert len(examples) == (tables.surveys["responded_at"] < cut).sum()


def test_indicators_refuse_models_taught_by_comments_after_their_date():
    tables = _portuguese_tables(250)
    models = fit_survey_polarity(tables, "2025-08-01", min_examples=100, folds=3)
    with pytest.raises(ValueError, match="learnt from comments up to 2025-08-01 00:00, after "
                                         "as_of 2025-07-01 00:00"):
        compute_indicators(tables, "2025-07-01", polarity_models=models)
    out = compute_indicators(tables, "2025-08-01", polarity_models=models, windows=(90,))
    assert out["comments_90d"].sum() > 0 and out["sentiment_mean_90d"].notna().any()


def test_stored_models_from_the_future_of_a_date_are_replaced_by_ones_learnt_before_it():
    tables = _portuguese_tables(250)
    future = fit_survey_polarity(tables, "2026-01-01", min_examples=100, folds=3)
    _, used = score_survey_comments(tables, "2025-08-01", future, min_examples=100)
    assert used.examples_before == pd.Timestamp("2025-08-01")
    _, kept = score_survey_comments(tables, "2026-02-01", future, min_examples=100)
    assert kept is future


@pytest.mark.parametrize("read_until", ["2025-10-01", "2025-06-01"])
def test_comments_read_once_for_many_dates_score_each_date_as_reading_them_then(read_until):
    # Read at a later date (a backfill's last) or an earlier one (rows left to read here).
    tables = _portuguese_tables(150)
    read = read_survey_comments(tables, read_until)
    for as_of in ("2025-07-01", "2025-09-01"):
        alone, models = score_survey_comments(tables, as_of, min_examples=100)
        reused, again = score_survey_comments(tables, as_of, min_examples=100, read=read)
        pd.testing.assert_frame_equal(reused, alone)
        assert again.models.keys() == models.models.keys()
        for language, model in models.models.items():
            assert np.array_equal(again.models[language].coef, model.coef)
    assert "pt" in models.models  # a learnt polarity was applied, not only TextBlob


def test_dates_of_one_month_read_comments_with_the_polarity_learnt_before_it_fitted_once():
    tables = _portuguese_tables(150)
    read = read_survey_comments(tables, "2025-10-01")
    mid, late = pd.Timestamp("2025-09-10 08:00"), pd.Timestamp("2025-09-29")
    _, models = score_survey_comments(tables, mid, min_examples=100, read=read)
    assert models.examples_before == pd.Timestamp("2025-09-01")  # never after the date
    scored, again = score_survey_comments(tables, late, min_examples=100, read=read)
    assert again is models  # the month's fit, not a second one
    alone, fitted = score_survey_comments(tables, late, min_examples=100)
    pd.testing.assert_frame_equal(scored, alone)  # as the date alone reads them
    assert fitted.examples_before == pd.Timestamp("2025-09-01")
    _, october = score_survey_comments(tables, "2025-10-01", min_examples=100, read=read)
    assert october.examples_before == pd.Timestamp("2025-10-01")


def test_without_comments_nothing_is_read():
    tables = _portuguese_tables(10)
    no_comments = dataclasses.replace(tables, surveys=tables.surveys.assign(comment=None))
    assert read_survey_comments(no_comments, "2026-01-01") is None


@pytest.fixture(scope="module")
def large_demo():
    """A demo base large enough for some hundreds of Arabic and Persian comments, with the
    latent health each survey answer was drawn from."""
    raw = generate_demo_data(accounts=12_000, months=18, seed=11, latent=True)
    health = raw["surveys"].pop("latent_health").set_axis(raw["surveys"]["response_id"])
    tables, _ = validate_tables(raw)
    return tables, health.reindex(tables.surveys["response_id"]).to_numpy()


def test_demo_arabic_and_persian_comments_are_varied(large_demo):
    comments = large_demo[0].surveys["comment"].dropna()
    comments = comments[comments != "None"]
    languages = identify_languages(comments)
    for language in ("ar", "fa"):
        assert comments[languages == language].nunique() >= 300, language


def test_a_polarity_learnt_from_early_demo_comments_reads_the_latent_health_of_later_ones(
        large_demo):
    tables, health = large_demo
    cut = tables.surveys["responded_at"].quantile(0.6)
    # The default rule (MIN_EXAMPLES per side), as the batch job and the trainer apply it.
    models = fit_survey_polarity(tables, cut)
    end = tables.surveys["responded_at"].max() + pd.Timedelta("1s")
    scores, _ = score_survey_comments(tables, end, models)
    later = (tables.surveys["responded_at"] >= cut).to_numpy()
    for language in ("ar", "fa"):
        assert language in models.models, models.reason(language)
        rows = later & (scores["language"].reindex(tables.surveys.index) == language).to_numpy()
        assert rows.sum() > 150
        polarity = scores["polarity"].reindex(tables.surveys.index).to_numpy()[rows]
        assert roc_auc_score(health[rows] > 0, polarity) >= 0.80, language
