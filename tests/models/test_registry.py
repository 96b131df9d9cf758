"""The registry's promotion rule, loading by alias and listing versions, on a real MLflow store."""

from __future__ import annotations

import math
import os

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from models.estimators import Calibrator, fit_lightgbm
from models.evaluation import roc_auc
from models.pyfunc import ChurnModel, band_thresholds, log_churn_model
from models.registry import (
    CHALLENGER,
    CHAMPION,
    ModelURIError,
    NoModelError,
    list_versions,
    load_model,
    model_card_data,
    register_and_promote,
)
from models.tracking import configure_mlflow

pytestmark = pytest.mark.slow  # trains and registers models in a real MLflow store

NAME = "test-churn"


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "csat_90d": rng.uniform(0, 100, n),
        "noise": rng.normal(size=n),
        "plan": rng.choice(["starter", "growth"], n),
    })
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(0.08 * (X["csat_90d"] - 40)))).astype(int)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def windows():
    """Training, validation and a shared test window."""
    return _data(1200, 0), _data(600, 1), _data(600, 2)


def _churn_model(windows, columns: list[str]) -> ChurnModel:
    (X, y), (Xv, yv), _ = windows
    pipeline = fit_lightgbm(X[columns], y, params={"n_estimators": 40})
    raw = pipeline.predict_proba(Xv[columns])[:, 1]
    calibrator = Calibrator().fit(raw, yv)
    cats = [c for c in columns if c == "plan"]
    return ChurnModel(pipeline, calibrator, columns, cats, band_thresholds(calibrator.transform(raw)))


@pytest.fixture(scope="module")
def good(windows):
    return _churn_model(windows, ["csat_90d", "noise", "plan"])


@pytest.fixture(scope="module")
def worse(windows):
    # Without CSAT the model can only guess from noise and plan.
    return _churn_model(windows, ["noise", "plan"])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        configure_mlflow("registry-tests")
        yield folder


@pytest.fixture
def tracked(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    configure_mlflow("registry-tests")
    return store


def _train_and_register(model: ChurnModel, windows, *, promote: bool = False, name: str = NAME):
    _, _, (X_test, y_test) = windows
    auc = roc_auc(y_test, model.churn_probability(X_test))
    with mlflow.start_run() as run:
        info = log_churn_model(model, X_test.head(3))
        decision = register_and_promote(info.model_uri, run_id=run.info.run_id,
                                        candidate_auc=auc, X_test=X_test, y_test=y_test,
                                        name=name, promote=promote)
    return decision, run.info.run_id


def _alias_version(alias: str, name: str = NAME) -> str:
    return str(MlflowClient().get_model_version_by_alias(name, alias).version)


def test_loading_before_anything_is_registered_raises_no_model_error(tracked):
    with pytest.raises(NoModelError, match="no model at models:/customer-health-churn@champion.*customer-health train"):
        load_model()


def test_promotion_rule_worse_model_does_not_take_champion_and_promote_forces_it(tracked, good, worse, windows):
    first, _ = _train_and_register(good, windows)
    assert (first.alias, first.reason) == (CHAMPION, "first registered version: no champion to beat")

    second, run_id = _train_and_register(worse, windows)
    assert second.alias == CHALLENGER
    assert _alias_version(CHAMPION) == first.version
    assert _alias_version(CHALLENGER) == second.version
    # The champion was re-scored on the very same test window.
    _, _, (X_test, y_test) = windows
    assert second.champion_roc_auc == pytest.approx(
        roc_auc(y_test, good.churn_probability(X_test)))
    assert "does not beat champion" in second.reason
    assert MlflowClient().get_run(run_id).data.tags["promotion.alias"] == CHALLENGER

    forced, run_id = _train_and_register(worse, windows, promote=True)
    assert forced.alias == CHAMPION and forced.forced
    assert _alias_version(CHAMPION) == forced.version
    tags = MlflowClient().get_run(run_id).data.tags
    assert tags["promotion.forced"] == "True"
    assert tags["promotion.reason"].startswith("forced by --promote; without it: ROC AUC")

    better, _ = _train_and_register(good, windows)
    assert better.alias == CHAMPION
    assert "beats champion" in better.reason


def test_list_versions_shows_aliases_and_reasons(tracked, good, windows):
    _train_and_register(good, windows, name="listed-churn")
    _train_and_register(good, windows, name="listed-churn")
    rows = list_versions("listed-churn")
    assert [r["version"] for r in rows] == ["2", "1"]
    assert rows[1]["aliases"] == [CHAMPION]
    assert rows[0]["aliases"] == [CHALLENGER]  # equal AUC does not beat the champion
    assert "does not beat" in rows[0]["promotion_reason"]
    assert all(math.isnan(r["test_roc_auc"]) for r in rows)  # this run logged no metrics


def test_load_model_by_alias_scores_integer_columns_and_keeps_the_index(tracked, good, windows):
    _train_and_register(good, windows, name="loaded-churn")
    loaded = load_model("models:/loaded-churn@champion")
    assert (loaded.name, loaded.version, loaded.alias) == ("loaded-churn", "1", "champion")
    assert loaded.feature_names == ["csat_90d", "noise", "plan"]
    assert loaded.run_id and loaded.trained_at is not None
    frame = pd.DataFrame({"csat_90d": [10, 90], "noise": [0, 0], "plan": ["starter", "growth"],
                          "extra": ["ignored", "too"]}, index=pd.Index(["a", "b"], name="account_id"))
    out = loaded.predict(frame)
    assert list(out.index) == ["a", "b"]
    assert out.loc["a", "churn_probability"] > out.loc["b", "churn_probability"]


def test_loading_an_unknown_alias_raises_no_model_error(tracked):
    with pytest.raises(NoModelError, match="no model at models:/test-churn@nonexistent"):
        load_model("models:/test-churn@nonexistent")


def test_a_champion_that_cannot_score_the_new_window_stays_champion(tracked, good, windows):
    _train_and_register(good, windows, name="mixed-churn")
    (X, y), (Xv, yv), (Xt, yt) = windows
    other = ChurnModel(fit_lightgbm(X[["noise"]].rename(columns={"noise": "other"}), y,
                                    params={"n_estimators": 10}), None, ["other"], [], (0.5, 0.2))
    renamed = Xt.rename(columns={"noise": "other"})[["other"]]
    with mlflow.start_run() as run:
        info = log_churn_model(other, renamed.head(3))
        decision = register_and_promote(info.model_uri, run_id=run.info.run_id, candidate_auc=0.99,
                                        X_test=renamed, y_test=yt, name="mixed-churn")
    assert decision.alias == CHALLENGER
    assert "could not be re-scored" in decision.reason and "csat_90d" in decision.reason


# --- model cards -----------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def test_a_model_card_reads_the_runs_metrics_plots_and_tables_from_the_store_it_is_given(
    tracked, good, windows, tmp_path, monkeypatch
):
    _, _, (X_test, y_test) = windows
    with mlflow.start_run() as run:
        mlflow.log_metric("test_roc_auc", 0.8)
        mlflow.log_text("model,roc_auc\nlightgbm,0.8\n", "evaluation/comparison.csv")
        mlflow.log_text("not on a card", "evaluation/notes.txt")
        plot = tmp_path / "reliability.png"
        plot.write_bytes(PNG)
        mlflow.log_artifact(str(plot), "plots")
        info = log_churn_model(good, X_test.head(3))
        register_and_promote(info.model_uri, run_id=run.info.run_id, candidate_auc=0.8,
                             X_test=X_test, y_test=y_test, name="card-churn")
    store_uri = f"sqlite:///{tracked / 'mlflow.db'}"
    # Neither the environment nor MLflow's global URI points at the store: the argument does.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    environment = dict(os.environ)
    try:
        card = model_card_data("models:/card-churn/1", tracking_uri=store_uri)
        changed = {k for k in {*environment, *os.environ} if environment.get(k) != os.environ.get(k)}
    finally:
        mlflow.set_tracking_uri(store_uri)  # which sets MLFLOW_TRACKING_URI back as well

    assert changed == set()  # reading a card changes no process setting
    assert (card.name, card.version, card.alias, card.run_id) == ("card-churn", "1", CHAMPION, run.info.run_id)
    assert card.metrics["test_roc_auc"] == 0.8
    assert card.images == {"plots/reliability.png": PNG}
    assert list(card.tables) == ["evaluation/comparison.csv"]
    assert card.tables["evaluation/comparison.csv"]["model"].tolist() == ["lightgbm"]
    assert card.trained_at is not None and card.trained_at.tzinfo is not None


def test_a_card_of_a_model_that_is_not_registered_raises_no_model_error(tracked):
    with pytest.raises(NoModelError, match="model models:/no-such-model@champion not found in MLflow"):
        model_card_data("models:/no-such-model@champion", tracking_uri=f"sqlite:///{tracked / 'mlflow.db'}")


def test_a_card_needs_a_registry_uri(tracked):
    with pytest.raises(ModelURIError, match="use models:/NAME@ALIAS or models:/NAME/VERSION"):
        model_card_data("runs:/abc/model")
