"""The learnt comment polarity travels with the churn model through a real MLflow store."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.polarity import PolarityModels, fit_languages
from models.estimators import Calibrator, fit_lightgbm
from models.polarity_store import ARTIFACT, load_polarity_models, log_polarity_models
from models.pyfunc import ChurnModel, band_thresholds, log_churn_model
from models.registry import load_model, register_and_promote
from models.tracking import configure_mlflow

TEXTS = ["الخدمة ممتازة", "الدعم سريع ومتعاون", "نحن راضون جداً", "تجربة رائعة",
         "الخدمة سيئة", "الدعم بطيء جداً", "لسنا راضين", "تجربة مخيبة"]


def _models() -> PolarityModels:
    texts = pd.Series([f"{t}{end}" for end in ("", ".", " شكراً", " اليوم", "!") for t in TEXTS])
    labels = pd.Series([1, 1, 1, 1, 0, 0, 0, 0] * 5)
    fitted = fit_languages(texts, labels, pd.Series(["ar"] * len(texts)), min_examples=20, folds=2,
                           examples_before=pd.Timestamp("2025-06-01"))
    rejected = fit_languages(texts[:10], labels[:10], pd.Series(["pt"] * 10), min_examples=20)
    return PolarityModels({**fitted.models}, {**rejected.rejected}, fitted.examples_before, 20, 0.7)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    configure_mlflow("polarity-store-tests")
    yield tmp_path
    mlflow.set_tracking_uri(None)


def test_models_logged_in_a_run_load_back_and_score_identically(store, capfd):
    models = _models()
    with mlflow.start_run() as run:
        log_polarity_models(models)
    client = MlflowClient()
    loaded = load_polarity_models(run.info.run_id, client)
    assert capfd.readouterr().err == ""  # no download bar from library code
    sample = ["الخدمة ممتازة جداً", "الدعم سيئ", "كلمات لم ترد"]
    assert np.array_equal(loaded.models["ar"].polarity(sample), models.models["ar"].polarity(sample))
    assert loaded.rejected == models.rejected and loaded.examples_before == models.examples_before
    logged = client.get_run(run.info.run_id).data
    assert logged.tags["sentiment.learnt_languages"] == "ar"
    assert logged.tags["sentiment.unsupported.pt"].startswith("6 positive and 4 negative")
    assert logged.metrics["polarity_cv_roc_auc_ar"] == models.models["ar"].cv_roc_auc
    # Plain JSON on disk: numbers and strings, nothing to unpickle.
    with open(client.download_artifacts(run.info.run_id, ARTIFACT), encoding="utf-8") as handle:
        assert json.load(handle)["models"]["ar"]["format_version"] == 1


def test_a_run_without_polarity_models_has_none(store):
    with mlflow.start_run() as run:
        log_polarity_models(None)
    assert load_polarity_models(run.info.run_id, MlflowClient()) is None
    assert MlflowClient().get_run(run.info.run_id).data.tags["sentiment.learnt_languages"].startswith("none")


def test_a_damaged_file_is_refused_with_the_run_and_the_file(store):
    with mlflow.start_run() as run:
        mlflow.log_dict({"models": {"ar": {"format_version": 1, "language": "ar"}}}, ARTIFACT)
    with pytest.raises(ValueError, match=f"run {run.info.run_id}: {ARTIFACT} is not a set of polarity models"):
        load_polarity_models(run.info.run_id, MlflowClient())


def test_the_registered_churn_model_loads_with_the_polarity_trained_with_it(store):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"csat_90d": rng.uniform(0, 100, 300), "noise": rng.normal(size=300)})
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(0.08 * (X["csat_90d"] - 40)))).astype(int).to_numpy()
    pipeline = fit_lightgbm(X, y, params={"n_estimators": 20})
    raw = pipeline.predict_proba(X)[:, 1]
    churn = ChurnModel(pipeline, Calibrator().fit(raw, y), list(X.columns), [], band_thresholds(raw))
    models = _models()
    with mlflow.start_run() as run:
        log_polarity_models(models)
        info = log_churn_model(churn, X.head(5))
    register_and_promote(info.model_uri, run_id=run.info.run_id, candidate_auc=0.8,
                         X_test=X, y_test=y, name="polarity-test")
    loaded = load_model("models:/polarity-test@champion")
    assert set(loaded.polarity_models.models) == {"ar"}
    assert np.array_equal(loaded.polarity_models.models["ar"].coef, models.models["ar"].coef)
