"""``customer-health train``, ``models`` and ``experiment`` through the real CLI and MLflow."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.demo_data import write_demo_data
from serving.cli import app

runner = CliRunner()


def _flat_table(path, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    csat = rng.uniform(0, 100, n)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(0.07 * (csat - 35)))
    frame = pd.DataFrame({
        "customer": [f"C{i:04d}" for i in range(n)],
        "csat": csat.round(1).astype(str),
        "plan": rng.choice(["starter", "growth"], n),
        "Churn": np.where(churned, "Yes", "No"),
    })
    frame.loc[:4, "csat"] = " "  # blanks, as in real exports
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, fresh_store_file):
    """A working folder with its own MLflow store, a flat table and a small demo folder."""
    folder = tmp_path_factory.mktemp("cli_training")
    shutil.copyfile(fresh_store_file, folder / "mlflow.db")  # schema made once per session
    _flat_table(folder / "accounts_flat.csv")
    write_demo_data(folder / "demo", accounts=300, months=12, seed=7)
    return folder


@pytest.fixture
def cli(workdir, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    monkeypatch.chdir(workdir)

    def invoke(*args):
        result = runner.invoke(app, [str(a) for a in args])
        # rich wraps at the terminal width; compare text with line breaks folded.
        result.text = " ".join(result.output.split())
        return result

    return invoke


@pytest.mark.slow
def test_train_on_a_flat_table_prints_the_comparison_and_registers_a_champion(cli):
    result = cli("train", "--table", "accounts_flat.csv", "--label", "Churn", "--id", "customer")
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.text and "lightgbm" in result.text and "logistic" in result.text
    assert "customer-health-churn-flat v1 as champion" in result.text


@pytest.mark.slow
def test_the_same_training_again_does_not_take_champion_and_promote_forces_it(cli):
    again = cli("train", "--table", "accounts_flat.csv", "--label", "Churn", "--id", "customer")
    assert again.exit_code == 0, again.output
    assert "v2 as challenger" in again.text and "does not beat champion v1" in again.text

    forced = cli("train", "--table", "accounts_flat.csv", "--label", "Churn", "--id", "customer",
                 "--promote")
    assert forced.exit_code == 0, forced.output
    assert "v3 as champion" in forced.text and "forced by --promote" in forced.text

    listing = cli("models", "--name", "customer-health-churn-flat")
    assert listing.exit_code == 0, listing.output
    assert "customer-health-churn-flat v3 [champion]: forced by --promote" in listing.text
    assert "customer-health-churn-flat v2 [challenger]: ROC AUC" in listing.text
    assert "customer-health-churn-flat v1: first registered version" in listing.text


@pytest.mark.slow
def test_train_on_a_folder_compares_lightgbm_with_both_baselines_on_the_out_of_time_test(cli, workdir):
    (workdir / "train.toml").write_text(
        "horizon = 60\nevery = 45\nexperiment = \"cli-config\"\n[lightgbm]\nn_estimators = 80\n")
    result = cli("train", "demo", "--config", "train.toml", "--seed", "1")
    assert result.exit_code == 0, result.output
    for name in ("lightgbm", "logistic", "health_score", "churn rate by health band", "red",
                 "health bands: red accounts churned at", "experiment 'cli-config'"):
        assert name in result.text
    assert "customer-health-churn v1 as champion" in result.text
    listing = cli("models")
    assert "customer-health-churn v1 [champion]: first registered version" in listing.text

    # The one MLflow run holds parameters, provenance, every model's metrics, plots, tables.
    from mlflow import MlflowClient

    client = MlflowClient()
    run = client.get_run(result.text.split("MLflow run ")[1].split()[0])
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["lightgbm.n_estimators"] == "80" and params["seed"] == "1"
    assert params["data.horizon"] == "60" and params["data.every"] == "45"
    assert len(params["data.inputs_sha256"]) == 64 and "data.churn_base_rate" in params
    assert tags["git.commit"] and tags["promotion.alias"] == "champion"
    for model in ("lightgbm", "lightgbm_uncalibrated", "logistic", "health_score"):
        for metric in ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top10", "recall_top10"):
            assert f"{model}_test_{metric}" in metrics
    artifacts = {a.path for folder in ("plots", "evaluation")
                 for a in client.list_artifacts(run.info.run_id, folder)}
    for name in ("roc", "pr", "reliability", "feature_importance", "churn_rate_by_band"):
        assert f"plots/{name}.png" in artifacts
    assert "evaluation/comparison.csv" in artifacts
    assert "evaluation/churn_rate_by_health_band.csv" in artifacts
    # The scorecard suggested from the same training dates, beside the current one.
    assert "out-of-time ROC AUC: model" in result.text and "current scorecard" in result.text
    assert tags["suggested_scorecard"]
    if "health_score_suggested_test_roc_auc" in metrics:
        assert "health_score_suggested" in result.text
        assert 0 < metrics["health_score_suggested_test_roc_auc"] <= 1
    else:
        assert tags["undefined.health_score_suggested_test_roc_auc"].startswith("no suggestion: ")


def test_a_config_file_sets_options_and_lightgbm_parameters(cli, workdir):
    (workdir / "bad.toml").write_text("horizon = 60\nlearning_rat = 0.1\n")
    result = cli("train", "demo", "--config", "bad.toml")
    assert result.exit_code == 2
    assert "unknown key(s) learning_rat" in result.text


@pytest.mark.parametrize("args, message", [
    (["--table", "accounts_flat.csv", "--label", "Churned"],
     "label column 'Churned' is not in the table; did you mean 'Churn'"),
    (["--table", "accounts_flat.csv", "--label", "Churn", "--id", "plan"],
     "id column 'plan' is not unique"),
    (["--table", "accounts_flat.csv"], "--table needs --label"),
    (["demo", "--table", "accounts_flat.csv", "--label", "Churn"], "give either a folder"),
    (["--table", "accounts_flat.csv", "--label", "Churn", "--horizon", "30"],
     "--horizon applies to a folder of tables"),
    (["demo", "--horizon", "2000"], "no observation date has a complete label window"),
])
def test_bad_training_requests_fail_with_exit_code_2_and_a_clear_message(cli, args, message):
    result = cli("train", *args)
    assert result.exit_code == 2, result.output
    assert message in result.text


def test_the_training_bar_is_drawn_on_a_terminal_only():
    import io

    from rich.console import Console

    from serving.commands.training import progress_bar

    with progress_bar(Console(file=io.StringIO())) as progress:
        assert progress is None  # a log or a pipe: nothing to erase afterwards
    screen = io.StringIO()
    with progress_bar(Console(file=screen, force_terminal=True)) as progress:
        progress(3, 7, "fitting the logistic baseline")
    assert "fitting the logistic baseline" in screen.getvalue()


def test_models_on_an_empty_store_says_how_to_train(empty_registry):
    result = runner.invoke(app, ["models"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "no registered model" in text and "customer-health train DIR" in text


def test_experiment_rejects_a_nonpositive_number_of_trials(cli):
    result = cli("experiment", "demo", "--trials", "0")
    assert result.exit_code == 2
    assert "trials" in result.text


@pytest.mark.slow
def test_experiment_searches_retrains_the_best_trial_and_offers_it_for_promotion(cli):
    result = cli("experiment", "demo", "--trials", "2", "--seed", "0")
    assert result.exit_code == 0, result.output
    assert "best trial" in result.text and "validation ROC AUC" in result.text
    if "not kept" in result.text:
        assert "so the default is retrained" in result.text
        assert "default configuration retrained: out-of-time test" in result.text
    else:
        assert "kept: validation ROC AUC" in result.text and "beats the default" in result.text
        assert "best trial retrained: out-of-time test" in result.text
    assert "registered customer-health-churn v" in result.text
    assert "MLflow parent run" in result.text


def test_a_config_error_naming_a_toml_table_prints_the_table_name(tmp_path):
    # "[lightgbm]" is a TOML table name in the message, not rich markup to swallow.
    from typer.testing import CliRunner

    from serving.cli import app

    config = tmp_path / "bad.toml"
    config.write_text("lightgbm = 3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["train", str(tmp_path), "--config", str(config)])
    assert result.exit_code == 2
    assert "[lightgbm] must be a table of LightGBM parameters" in result.output


def test_train_prints_until_when_labels_are_known_and_takes_labels_until(cli):
    result = cli("train", "demo", "--every", "45", "--horizon", "60", "--experiment",
                 "cli-labels", "--labels-until", "2025-12-20")
    assert result.exit_code == 0, result.output
    assert ("labels known until 2025-12-20 (--labels-until 2025-12-20); later label windows "
            "are left unlabelled") in result.text


def test_labels_until_that_is_not_a_date_is_an_error_naming_the_option(cli):
    result = cli("train", "demo", "--labels-until", "soon")
    assert result.exit_code == 2
    assert "--labels-until: could not read 'soon' as a date" in result.text


def test_labels_until_does_not_apply_to_a_flat_table(cli):
    result = cli("train", "--table", "accounts_flat.csv", "--label", "Churn",
                 "--labels-until", "2025-01-01")
    assert result.exit_code == 2
    assert "--labels-until applies to a folder of tables" in result.text
