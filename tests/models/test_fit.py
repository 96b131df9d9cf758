"""Fitting and evaluating without MLflow: both modes, progress, and no drawing in models/."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.contract import validate_tables
from features.demo_data import generate_demo_data
from models.fit import (
    CHOSEN,
    TIME_SPLIT_STEPS,
    fit_flat_table,
    fit_time_split,
    flat_table_steps,
    training_features,
)
from models.flat_table import prepare_flat_table
from models.training_config import TrainerError, TrainingConfig
from models.training_set import build_training_set, time_split

MODELS = Path(__file__).resolve().parents[2] / "models"
SMALL = TrainingConfig(lightgbm={"n_estimators": 30})


@pytest.fixture(scope="module")
def ts():
    tables, _ = validate_tables(generate_demo_data(accounts=300, months=10, seed=3))
    return build_training_set(tables, horizon=30, every=30)


@pytest.fixture
def no_tracking(monkeypatch):
    """Any MLflow run started during the test fails it."""
    def refuse(*args, **kwargs):
        raise AssertionError("the fit step started an MLflow run")

    monkeypatch.setattr(mlflow, "start_run", refuse)


def _flat(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    csat = rng.uniform(0, 100, n)
    return pd.DataFrame({
        "account_id": [f"A{i}" for i in range(n)],
        "csat_90d": csat,
        "plan": rng.choice(["starter", "growth"], n),
        "churned": np.where(rng.uniform(size=n) < (csat < 30) * 0.6 + 0.05, "yes", "no"),
    })


def test_a_time_split_fit_compares_every_model_on_the_test_dates_without_mlflow(ts, no_tracking):
    split = time_split(ts)
    calls = []
    fit = fit_time_split(ts, split, SMALL, progress=lambda *call: calls.append(call))
    assert list(fit.comparison.index) == ["lightgbm", "lightgbm_uncalibrated", "logistic",
                                          "health_score"]
    assert len(fit.y) == len(split.test) == len(fit.probas[CHOSEN])
    assert "valid_roc_auc" in fit.results[CHOSEN]
    assert set(fit.by_band) == {"health_band", "risk_band"} and fit.band_contrast["text"]
    assert fit.model.feature_columns == fit.features
    assert calls == [(i, len(TIME_SPLIT_STEPS), text) for i, text in enumerate(TIME_SPLIT_STEPS)]


def test_the_same_config_gives_the_same_probabilities(ts):
    split = time_split(ts)
    first, second = (fit_time_split(ts, split, SMALL) for _ in range(2))
    np.testing.assert_array_equal(first.probas[CHOSEN], second.probas[CHOSEN])


def test_a_split_without_a_usable_column_is_refused_with_the_reason(ts):
    split = time_split(ts)
    constant = split.train.assign(**{c: 1.0 for c in ts.feature_columns})
    with pytest.raises(TrainerError, match="no indicator column has two or more distinct values"):
        training_features(dataclasses.replace(split, train=constant), ts.feature_columns)


def test_a_flat_table_fit_cross_validates_and_reports_each_fold(no_tracking):
    table = prepare_flat_table(_flat(), label="churned", id_column="account_id")
    calls = []
    config = TrainingConfig(folds=3, lightgbm={"n_estimators": 30})
    fit = fit_flat_table(table, config, progress=lambda *call: calls.append(call))
    assert list(fit.comparison.index) == ["lightgbm", "logistic"]
    assert fit.comparison.loc["lightgbm", "rows"] == len(table.y)
    assert len(fit.probas[CHOSEN]) == len(table.y) and fit.band_contrast == {}
    assert [done for done, _, _ in calls] == list(range(flat_table_steps(3)))
    assert {total for _, total, _ in calls} == {flat_table_steps(3)}
    assert calls[1][2] == "fold 1/3"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.py")), ids=lambda p: p.name)
def test_model_code_reports_progress_and_draws_no_bar_or_backend(path):
    drawn = {name for name in _imports(path)
             if name.split(".")[0] == "rich" or name == "matplotlib.pyplot"}
    assert not drawn, f"{path.name} imports {sorted(drawn)}: only the command line draws"
