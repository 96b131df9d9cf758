"""The whole flow in one command: serving/demo.py and `customer-health demo`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from features.io import load_tables
from models.registry import DEFAULT_MODEL_NAME
from serving.cli import app
from serving.demo import DemoError, demo_parameters, ensure_demo_data, run_demo

from report_demo_flow import ACCOUNTS, MONTHS, SEED, demo_run, tracking_env


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return demo_run(tmp_path_factory.getbasetemp())


@pytest.mark.slow
def test_the_demo_writes_data_scores_alerts_metadata_and_the_report(run):
    result = run.result
    for path in (result.scores_path, result.alerts_path, result.report_path):
        assert path.is_file(), path
    assert (run.out / "data" / "accounts.csv").is_file()
    assert (run.out / "scores.parquet.meta.json").is_file()
    assert result.report_path == run.out / "report.html"


@pytest.mark.slow
def test_the_demo_scores_every_account_active_on_the_last_day(run):
    tables, _ = load_tables(run.out / "data")
    as_of = run.result.as_of
    accounts = tables.accounts
    active = accounts[(accounts["signup_date"] < as_of) & ~(accounts["churned_at"] <= as_of)]
    scores = pd.read_parquet(run.result.scores_path)
    assert set(scores["account_id"]) == set(active["account_id"])
    assert scores["churn_probability"].between(0, 1).all()
    meta = json.loads((run.out / "scores.parquet.meta.json").read_text())
    assert pd.Timestamp(meta["as_of"]) == as_of
    assert as_of == pd.Timestamp("2025-01-01") + pd.DateOffset(months=MONTHS)


@pytest.mark.slow
def test_the_demo_registers_the_model_it_scored_with_in_the_sqlite_store(run):
    client = MlflowClient(tracking_uri=run.tracking_uri, registry_uri=run.tracking_uri)
    versions = client.search_model_versions(f"name='{DEFAULT_MODEL_NAME}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert run.result.model_uri == f"models:/{DEFAULT_MODEL_NAME}/1"
    assert str(client.get_model_version_by_alias(DEFAULT_MODEL_NAME, "champion").version) == "1"
    meta = json.loads((run.out / "scores.parquet.meta.json").read_text())
    assert meta["model"]["version"] == "1"


@pytest.mark.slow
def test_the_demo_prints_the_comparison_the_riskiest_accounts_and_where_things_are(run):
    output = run.output
    assert list(run.result.comparison.index[:1]) == ["lightgbm"]
    assert {"lightgbm", "logistic", "health_score"} <= set(run.result.comparison.index)
    for words in ("LightGBM (calibrated)", "logistic regression", "health scorecard", "riskiest accounts"):
        assert words in output
    assert str(run.result.report_path.resolve().as_uri()) in output.replace("\n", "")
    assert f"mlflow ui --backend-store-uri {run.tracking_uri}" in output.replace("\n", "")
    top = run.result.riskiest["churn_probability"].to_numpy()
    assert (top[:-1] >= top[1:]).all()
    assert top[0] == pd.read_parquet(run.result.scores_path)["churn_probability"].max()


@pytest.mark.slow
def test_the_riskiest_accounts_table_takes_one_line_per_account_within_the_terminal(run):
    lines = run.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "riskiest accounts as of" in line)
    table = lines[start + 1:start + 2 + len(run.result.riskiest)]  # header line, then one per account
    assert table[0].split()[:2] == ["account", "segment"]
    for line, account in zip(table[1:], run.result.riskiest["account_id"], strict=True):
        assert line.split()[0] == str(account)
        assert len(line) <= 160  # the recording console's width: nothing wraps onto a second line
    # the reasons are there (cut to fit with an ellipsis when long), not an empty column
    assert all(len(line.split()) > 5 for line in table[1:])


@pytest.mark.slow
def test_a_second_run_of_the_cli_reuses_the_data_and_the_model(run):
    client = MlflowClient(tracking_uri=run.tracking_uri, registry_uri=run.tracking_uri)
    data_before = (run.out / "data" / "sessions.csv").stat().st_mtime_ns
    with tracking_env(run.tracking_uri):
        outcome = CliRunner().invoke(
            app,
            ["demo", "--out", str(run.out), "--accounts", str(ACCOUNTS), "--months", str(MONTHS), "--seed", str(SEED)],
            terminal_width=200,
        )
    assert outcome.exit_code == 0, outcome.output
    assert "reused the demo data" in outcome.output
    assert "reused models:/customer-health-churn/1 (@champion)" in outcome.output
    assert (run.out / "data" / "sessions.csv").stat().st_mtime_ns == data_before
    assert len(client.search_model_versions(f"name='{DEFAULT_MODEL_NAME}'")) == 1
    assert (run.out / "report.html").is_file()


def test_demo_data_is_regenerated_when_its_parameters_change_or_fresh_is_asked(tmp_path):
    folder = tmp_path / "data"
    small = demo_parameters(accounts=30, months=2, seed=1)
    assert ensure_demo_data(folder, small) is False
    assert ensure_demo_data(folder, small) is True
    assert ensure_demo_data(folder, small, fresh=True) is False
    other = demo_parameters(accounts=30, months=2, seed=2)
    assert ensure_demo_data(folder, other) is False
    assert json.loads((folder / "demo_params.json").read_text())["seed"] == 2


def test_an_interrupted_data_step_is_not_mistaken_for_complete_data(tmp_path):
    folder = tmp_path / "data"
    params = demo_parameters(accounts=30, months=2, seed=1)
    ensure_demo_data(folder, params)
    (folder / "surveys.csv").unlink()
    assert ensure_demo_data(folder, params) is False
    assert (folder / "surveys.csv").is_file()


def test_too_few_accounts_are_refused_with_the_option_named(tmp_path):
    with pytest.raises(DemoError, match="--accounts must be a whole number of at least 100"):
        run_demo(tmp_path, accounts=50)


def test_too_few_months_are_refused_with_the_option_named(tmp_path):
    with pytest.raises(DemoError, match="--months must be at least 9"):
        run_demo(tmp_path, months=6)


def test_the_cli_refuses_a_bad_option_with_a_non_zero_exit(tmp_path):
    outcome = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--accounts", "10"])
    assert outcome.exit_code == 2
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_a_model_trained_on_other_data_is_not_reused(run):
    from models.registry import find_trained_model
    from models.training_set import tables_sha256

    tables, _ = load_tables(run.out / "data")
    with tracking_env(run.tracking_uri):
        assert find_trained_model(tables_sha256(tables)) == (f"models:/{DEFAULT_MODEL_NAME}/1", "champion")
        assert find_trained_model("0" * 64) is None


@pytest.mark.slow
def test_the_demo_compares_with_a_run_a_month_earlier_for_trends_and_alerts(run):
    month_before = run.result.as_of - pd.DateOffset(months=1)
    history = run.out / "history" / f"scores-{month_before:%Y-%m-%d}.parquet"
    assert history.is_file()
    meta = json.loads((run.out / "scores.parquet.meta.json").read_text())
    assert meta["previous"] == str(history)
    scores = pd.read_parquet(run.result.scores_path)
    assert scores["health_trend"].isin(["up", "down", "flat"]).mean() > 0.8
    alerts = pd.read_parquet(run.result.alerts_path)
    assert not alerts["reasons"].str.contains("no previous run").any()
    assert alerts["account_id"].is_unique and alerts["owner"].notna().all()
