"""The churn estimators: LightGBM and logistic pipelines, the scorecard predictor, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.scorecard_config import scorecard_from_dict
from models.estimators import (
    Calibrator,
    FrameEncoder,
    ScorecardPredictor,
    categorical_columns,
    fit_lightgbm,
    fit_logistic,
    usable_feature_columns,
)
from models.evaluation import brier_loss, roc_auc


def _churn_frame(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven by low CSAT and the 'starter' plan; some values missing."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "csat_90d": rng.uniform(0, 100, n),
        "sessions_30d": rng.poisson(5, n),
        "plan": pd.Series(rng.choice(["starter", "growth", "enterprise"], n), dtype="string"),
        "segment": rng.choice(["SMB", "Enterprise", None], n),
    })
    X.loc[rng.choice(n, n // 10, replace=False), "csat_90d"] = np.nan
    starter = (X["plan"] == "starter").to_numpy(dtype=float)
    logit = -1.5 - 0.04 * (X["csat_90d"].fillna(50) - 50) + 1.2 * starter
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def data():
    return _churn_frame()


def test_categorical_columns_are_text_and_booleans_not_numbers(data):
    X, _ = data
    assert categorical_columns(X) == ["plan", "segment"]


def test_lightgbm_learns_the_signal_and_returns_probabilities(data):
    X, y = data
    model = fit_lightgbm(X[:1000], y[:1000])
    proba = model.predict_proba(X[1000:])[:, 1]
    assert ((proba >= 0) & (proba <= 1)).all()
    assert roc_auc(y[1000:], proba) > 0.75


def test_lightgbm_with_the_same_seed_gives_identical_probabilities(data):
    X, y = data
    first = fit_lightgbm(X, y, seed=3, params={"n_estimators": 50}).predict_proba(X)
    again = fit_lightgbm(X, y, seed=3, params={"n_estimators": 50}).predict_proba(X)
    np.testing.assert_array_equal(first, again)


def test_models_do_not_modify_their_input(data):
    X, y = data
    before = X.copy()
    fit_lightgbm(X, y, params={"n_estimators": 10}).predict_proba(X)
    fit_logistic(X, y).predict_proba(X)
    pd.testing.assert_frame_equal(X, before)


@pytest.mark.parametrize("fit", [fit_lightgbm, fit_logistic])
def test_unseen_categories_and_missing_values_are_scored(data, fit):
    X, y = data
    model = fit(X, y)
    odd = pd.DataFrame({"csat_90d": [np.nan, 10.0], "sessions_30d": [0, 3],
                        "plan": ["a plan never seen", None], "segment": [None, "SMB"]})
    proba = model.predict_proba(odd)[:, 1]
    assert np.isfinite(proba).all()


def test_logistic_baseline_imputes_scales_and_one_hot_encodes_inside_its_pipeline(data):
    X, y = data
    model = fit_logistic(X, y)
    names = list(model.named_steps["prepare"].get_feature_names_out())
    assert "num__csat_90d" in names and "num__missingindicator_csat_90d" in names
    assert any(n.startswith("cat__plan_") for n in names)
    assert roc_auc(y, model.predict_proba(X)[:, 1]) > 0.7


@pytest.mark.parametrize("fit", [fit_lightgbm, fit_logistic])
def test_a_single_class_is_refused(data, fit):
    X, _ = data
    with pytest.raises(ValueError, match="single class"):
        fit(X, np.zeros(len(X), dtype=int))


def test_the_encoder_names_missing_feature_columns(data):
    X, _ = data
    encoder = FrameEncoder().fit(X)
    with pytest.raises(ValueError, match="lacks 1 feature column.*sessions_30d"):
        encoder.transform(X.drop(columns="sessions_30d"))


def test_usable_feature_columns_leave_out_empty_and_constant_columns():
    frame = pd.DataFrame({"a": [1.0, 2.0], "empty": [np.nan, np.nan], "same": ["x", "x"]})
    kept, dropped = usable_feature_columns(frame, ["a", "empty", "same"])
    assert kept == ["a"]
    assert dropped == {"empty": "no observed value", "same": "a single value ('x')"}


def test_sigmoid_calibration_keeps_the_ranking_and_fixes_overconfidence():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.02, 0.4, 4000)
    y = (rng.uniform(size=4000) < truth).astype(int)
    overconfident = np.clip(truth * 2.2, 0, 1)  # says 44% where 20% churn
    calibrator = Calibrator("sigmoid").fit(overconfident[:2000], y[:2000])
    calibrated = calibrator.transform(overconfident[2000:])
    assert roc_auc(y[2000:], calibrated) == pytest.approx(
        roc_auc(y[2000:], overconfident[2000:]), abs=1e-3)
    assert brier_loss(y[2000:], calibrated) < brier_loss(y[2000:], overconfident[2000:])
    assert abs(calibrated.mean() - y[2000:].mean()) < 0.02


def test_isotonic_calibration_stays_within_zero_and_one():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p).astype(int)
    out = Calibrator("isotonic").fit(p, y).transform(np.array([-0.5, 0.5, 1.5]))
    assert ((out >= 0) & (out <= 1)).all()


def test_an_unknown_calibration_method_is_refused():
    with pytest.raises(ValueError, match="calibration method must be one of"):
        Calibrator("platt").fit([0.1, 0.9], [0, 1])


def _small_scorecard():
    return scorecard_from_dict({
        "groups": {"satisfaction": {"weight": 1}},
        "measures": {"csat": {"group": "satisfaction", "indicator": "csat_90d", "label": "CSAT",
                              "poor": 20, "good": 80, "format": "{:.0f}%"}},
    })


def test_the_scorecard_predictor_ranks_accounts_exactly_as_the_health_score(data):
    X, y = data
    model = ScorecardPredictor(_small_scorecard()).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    scored = X["csat_90d"].notna().to_numpy()
    health = model.scores(X)["health_score"].to_numpy()
    # Higher health, lower probability; the same ranking as 100 - score.
    assert roc_auc(y[scored], proba[scored]) == pytest.approx(
        roc_auc(y[scored], (100 - health[scored]) / 100))
    assert roc_auc(y[scored], proba[scored]) > 0.7


def test_accounts_without_a_health_score_get_the_training_base_rate(data):
    X, y = data
    model = ScorecardPredictor(_small_scorecard()).fit(X, y)
    unscored = X["csat_90d"].isna().to_numpy()
    np.testing.assert_allclose(model.predict_proba(X)[unscored, 1], y.mean())
    assert model.unscored_share_ == pytest.approx(unscored.mean())
