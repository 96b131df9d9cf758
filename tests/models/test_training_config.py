"""Training settings: defaults declared once, a TOML file, then the command line on top."""

from __future__ import annotations

import dataclasses

import pytest

from models.training_config import (
    CONFIG_KEYS,
    TrainerError,
    TrainingConfig,
    read_config,
    setting_default,
)


def test_the_command_line_overrides_the_file_and_none_means_not_given(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('horizon = 60\nevery = 45\nwindows = [30, 90]\nexperiment = "x"\n'
                    '[lightgbm]\nn_estimators = 80\n')
    config = TrainingConfig.from_toml(path, horizon=30, every=None, seed=None, label=None)
    assert (config.horizon, config.every, config.seed, config.experiment) == (30, 45, 0, "x")
    assert config.windows == (30, 90)
    assert dict(config.lightgbm) == {"n_estimators": 80}


def test_without_a_file_the_defaults_hold():
    assert TrainingConfig.from_toml(None) == TrainingConfig()
    assert TrainingConfig().every == setting_default("every") == 30


def test_a_scorecard_path_in_the_file_is_relative_to_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "train.toml"
    path.write_text('scorecard = "cards/mine.toml"\n')
    assert TrainingConfig.from_toml(path).scorecard == str(tmp_path / "conf" / "cards" / "mine.toml")


@pytest.mark.parametrize("text, match", [
    ("horizon = 60\nlearning_rat = 0.1\n", "unknown key\\(s\\) learning_rat; allowed keys are"),
    ("lightgbm = 3\n", r"\[lightgbm\] must be a table of LightGBM parameters"),
    ("horizon = = 3\n", "is not valid TOML"),
    ('calibration = "platt"\n', "calibration must be one of sigmoid, isotonic, got 'platt'"),
])
def test_a_bad_file_is_rejected_naming_the_key_and_the_allowed_values(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(TrainerError, match=match):
        TrainingConfig.from_toml(path)


def test_a_missing_file_says_to_give_a_toml_path(tmp_path):
    with pytest.raises(TrainerError, match="does not exist: give the path of a TOML file"):
        read_config(tmp_path / "missing.toml")


def test_command_line_only_settings_are_not_file_keys(tmp_path):
    assert {"label", "id_column", "positive", "folds", "trials"}.isdisjoint(CONFIG_KEYS)
    path = tmp_path / "train.toml"
    path.write_text('label = "Churn"\n')
    with pytest.raises(TrainerError, match="unknown key\\(s\\) label"):
        TrainingConfig.from_toml(path)


def test_an_unknown_override_is_a_programming_error():
    with pytest.raises(TypeError, match="unknown training setting\\(s\\) evry"):
        TrainingConfig.from_toml(None, evry=3)


def test_the_config_and_its_lightgbm_parameters_are_read_only():
    config = TrainingConfig(lightgbm={"num_leaves": 7})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3
    with pytest.raises(TypeError):
        config.lightgbm["num_leaves"] = 9
