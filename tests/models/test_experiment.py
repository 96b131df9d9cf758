"""Retraining experiments: seeded search, nested MLflow runs, the retrained best trial."""

from __future__ import annotations

import dataclasses

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest

from features.contract import validate_tables
from features.demo_data import generate_demo_data
from models.estimators import LIGHTGBM_DEFAULTS
from models.experiment import (
    ExperimentError,
    run_experiment,
    suggest_params,
    trial_settings,
)
from models.training_set import TrainingSetError, build_training_set

pytestmark = pytest.mark.slow  # Optuna searches on a demo training set

# Enough trials for the median pruner to start judging (it waits for 4 complete ones).
TRIALS = 6


@pytest.fixture(scope="module")
def ts():
    # Big enough for a model that beats a constant guess: on fewer accounts the promotion
    # gates rightly refuse the best trial, and the promotion test would test the gates.
    tables, _ = validate_tables(generate_demo_data(accounts=600, months=9, seed=5))
    return build_training_set(tables, horizon=30, every=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # One real SQLite store for the module: creating its schema takes seconds.
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        yield folder
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def two_runs(ts, store):
    first = run_experiment(ts, trials=TRIALS, seed=7, experiment="exp-test")
    second = run_experiment(ts, trials=TRIALS, seed=7, experiment="exp-test")
    return first, second


def _comparable(result):
    return result.trials.drop(columns=["run_id"])


def test_the_same_data_and_seed_give_the_same_trials_and_metrics(two_runs):
    first, second = two_runs
    pd.testing.assert_frame_equal(_comparable(first), _comparable(second))
    assert first.best_params == second.best_params
    assert first.best_valid_auc == second.best_valid_auc
    assert first.final_metrics == second.final_metrics
    assert first.final_metrics  # the retrained model was evaluated on the test dates


def test_each_trial_is_a_nested_run_under_one_parent_run(two_runs, store):
    first, _ = two_runs
    client = mlflow.tracking.MlflowClient()
    parent = client.get_run(first.parent_run_id)
    assert parent.data.params["trials"] == str(TRIALS)
    assert parent.data.params["sampler"].startswith("TPESampler")
    assert "data.inputs_sha256" in parent.data.params
    children = mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{first.parent_run_id}' and tags.trial != ''",
    )
    assert sorted(children["tags.trial"].astype(int)) == list(range(TRIALS))
    assert set(children["tags.state"]) <= {"COMPLETE", "PRUNED"}
    assert (children["status"] == "FINISHED").all()
    complete = first.trials[first.trials["state"] == "COMPLETE"]
    assert len(complete) >= 1
    best = complete.loc[complete["valid_auc"].idxmax()]
    assert best["trial"] == first.best_trial
    assert 0.5 <= first.best_valid_auc <= 1.0


def test_the_best_trial_is_retrained_and_offered_for_promotion(two_runs, store):
    first, second = two_runs
    assert first.final.decision.version is not None
    # The first experiment's model had no champion to beat; the second, identical one does
    # not beat it (same test AUC), so it waits as challenger.
    assert first.final.decision.alias == "champion"
    assert second.final.decision.alias == "challenger"


def test_a_different_seed_explores_different_parameters(ts, store):
    a = run_experiment(ts, trials=2, seed=1, experiment="exp-seed", retrain=False)
    b = run_experiment(ts, trials=2, seed=2, experiment="exp-seed", retrain=False)
    assert not a.trials.filter(like="param_").equals(b.trials.filter(like="param_"))


def test_the_search_space_keeps_trees_small_enough_to_explain_quickly():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        trial = study.ask()
        settings = trial_settings(suggest_params(trial), seed=0)
        default = LIGHTGBM_DEFAULTS
        assert settings["n_estimators"] * settings["num_leaves"] <= (
            default["n_estimators"] * default["num_leaves"])
        assert settings["max_depth"] <= default["max_depth"]
        assert settings["deterministic"] is True
        study.tell(trial, 0.5)


def test_zero_trials_is_an_error_naming_the_option(ts, store):
    with pytest.raises(ExperimentError, match=r"--trials must be a whole number >= 1"):
        run_experiment(ts, trials=0)


def test_a_negative_timeout_is_an_error_naming_the_option(ts, store):
    with pytest.raises(ExperimentError, match=r"--timeout must be a positive number of seconds"):
        run_experiment(ts, trials=1, timeout=-5)


def test_a_training_set_without_enough_dates_names_the_option_to_change(ts, store):
    short = dataclasses.replace(ts, labelled_dates=ts.labelled_dates[-3:])
    with pytest.raises(TrainingSetError, match=r"the split needs at least 5 .* lower --every"):
        run_experiment(short, trials=1)


def test_input_that_is_neither_tables_nor_a_training_set_is_rejected(store):
    with pytest.raises(ExperimentError, match=r"expects validated Tables or a TrainingSet"):
        run_experiment(pd.DataFrame({"x": np.arange(3)}), trials=1)


def test_the_best_trial_is_retrained_only_if_it_beats_the_default_on_validation(two_runs, store):
    first, _ = two_runs
    assert 0.5 <= first.default_valid_auc <= 1.0
    assert first.kept_best == (first.best_valid_auc > first.default_valid_auc)
    params = mlflow.tracking.MlflowClient().get_run(first.final.run_id).data.params
    if first.kept_best:
        assert params["lightgbm.n_estimators"] == str(first.best_params["n_estimators"])
        assert first.choice.startswith(f"trial {first.best_trial} kept")
    else:
        assert first.choice.endswith("so the default is retrained")
        assert params["lightgbm.learning_rate"] == "0.1"  # the trainer's own size choice


def test_no_trial_is_a_toy_whatever_the_sampler_proposes():
    from models.experiment import MIN_DEPTH, MIN_LEAVES

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(50):
        trial = study.ask()
        params = suggest_params(trial)
        assert params["num_leaves"] >= MIN_LEAVES and params["max_depth"] >= MIN_DEPTH
        assert params["learning_rate"] >= 0.02
        study.tell(trial, 0.5)


def test_early_stopping_never_keeps_fewer_than_the_minimum_trees(two_runs):
    from models.experiment import MIN_TREES

    complete = two_runs[0].trials.query("state == 'COMPLETE'")
    assert (complete["best_iteration"] >= MIN_TREES).all()
