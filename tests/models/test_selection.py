"""Selecting the indicators on the validation dates: a crafted pure-noise column is left out,
the signal kept, and the run says so. The trainer and the MLflow store (SQLite in a temp
dir) are the real ones.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from models.capacity import choose_capacity
from models.registry import model_card_data
from models.selection import indicator_of, permutation_importance, select_inputs
from models.tracking import configure_mlflow
from models.trainer import train_from_training_set
from models.training_set import LABEL, TrainingSet


def crafted_set(n: int = 500, seed: int = 0) -> TrainingSet:
    """Eight monthly dates; churn follows ``signal``; ``noise`` and ``more_noise`` are drawn
    apart from everything (four dates train, two validate, two test)."""
    rng = np.random.default_rng(seed)
    dates = [pd.Timestamp("2025-01-01") + pd.Timedelta(days=30 * i) for i in range(8)]
    parts = []
    for as_of in dates:
        signal = rng.normal(size=n)
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(2 * signal - 1.5)))).astype(float)
        parts.append(pd.DataFrame({
            "account_id": [f"A{j:04d}" for j in range(n)], "as_of": as_of,
            "signal": signal, "noise": rng.normal(size=n), "more_noise": rng.uniform(size=n),
            LABEL: y,
        }))
    frame = pd.concat(parts, ignore_index=True)
    return TrainingSet(frame=frame, feature_columns=["signal", "noise", "more_noise"],
                       fingerprint={"inputs_sha256": f"crafted-selection-{seed}"}, horizon=30,
                       every=30, lead=0, dates=dates, labelled_dates=dates)


def _parts(ts):
    frame = ts.frame
    train = frame[frame["as_of"] < ts.dates[4]]
    valid = frame[frame["as_of"].isin(ts.dates[4:6])]
    return ((part[ts.feature_columns], part[LABEL].to_numpy(dtype=int))
            for part in (train, valid))


def test_windows_of_one_indicator_are_one_indicator_and_other_columns_their_own():
    assert indicator_of("csat_30d") == indicator_of("csat_180d") == "csat"
    assert indicator_of("signal") == "signal"


def test_shuffling_the_signal_raises_the_loss_and_shuffling_noise_does_not():
    (X, y), (X_valid, y_valid) = _parts(crafted_set())
    capacity = choose_capacity(X, y, X_valid, y_valid)
    model, _, _ = select_inputs(X, y, X_valid, y_valid, capacity=capacity.__class__(
        capacity.params, capacity.text, capacity.candidates.iloc[:0]))  # no selection: all kept
    table = permutation_importance(model, X_valid, y_valid).set_index("indicator")
    assert table.loc["signal", "importance"] > 0.05
    assert table.loc["noise", "importance"] < 0.005 > table.loc["more_noise", "importance"]


def test_select_inputs_drops_pure_noise_and_keeps_the_signal():
    (X, y), (X_valid, y_valid) = _parts(crafted_set())
    capacity = choose_capacity(X, y, X_valid, y_valid)
    model, _, selection = select_inputs(X, y, X_valid, y_valid, capacity=capacity)
    assert selection.kept == ["signal"]
    assert set(selection.dropped) == {"noise", "more_noise"}
    assert "validation dates" in selection.dropped["noise"]
    assert list(model.predict_proba(X_valid[["signal"]])[:, 1].shape) == [len(y_valid)]


def test_a_configured_tree_size_keeps_every_column():
    (X, y), (X_valid, y_valid) = _parts(crafted_set())
    capacity = choose_capacity(X, y, X_valid, y_valid, params={"n_estimators": 30})
    _, _, selection = select_inputs(X, y, X_valid, y_valid, capacity=capacity,
                                    params={"n_estimators": 30})
    assert selection.kept == ["signal", "noise", "more_noise"] and not selection.dropped
    assert "as configured" in selection.text


@pytest.fixture
def tracked(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    configure_mlflow("selection-tests")
    return tmp_path


@pytest.mark.slow  # a whole training run with its MLflow logging: about 12 s
def test_the_trained_model_reads_only_the_signal_and_the_run_records_why(tracked):
    result = train_from_training_set(crafted_set(), seed=0, experiment="selection-tests",
                                     model_name="selection")
    assert result.features == ["signal"]
    assert result.model.feature_columns == ["signal"]
    assert "left out" in result.dropped["noise"] and "left out" in result.dropped["more_noise"]

    run = mlflow.get_run(result.run_id)
    assert "noise (left out" in run.data.params["features.unused"]
    assert "did not help on the validation dates" in run.data.tags["input_selection"]
    card = model_card_data(f"models:/selection/{result.decision.version}")
    table = card.tables["evaluation/input_selection.csv"].set_index("indicator")
    assert table["decision"].to_dict() == {"signal": "kept", "noise": "dropped",
                                           "more_noise": "dropped"}
