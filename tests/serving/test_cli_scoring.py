"""`customer-health score` and `customer-health serve` from the command line."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "220"}


def test_score_help_shows_an_example_for_every_option():
    result = runner.invoke(app, ["score", "--help"], env=WIDE)
    assert result.exit_code == 0
    for text in ("--as-of", "--previous", "--risk-rise", "--format", "--model", "--mapping",
                 "customer-health score demo/data --as-of 2026-06-30 --out runs/2026-06-30.parquet"):
        assert text in result.output


def test_serve_help_shows_how_to_start_and_call_the_service():
    result = runner.invoke(app, ["serve", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "customer-health serve --port 8080 --host 0.0.0.0" in result.output
    assert "/health_score" in result.output


@pytest.mark.slow
def test_score_writes_the_files_and_prints_the_call_list_one_line_per_account(registry, as_of, tmp_path):
    out = tmp_path / "runs" / "scores.csv"
    result = runner.invoke(app, ["score", str(registry.demo), "--as-of", str(as_of.date()),
                                 "--out", str(out), "--currency", "EUR"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Call first: 15 of" in result.output
    assert "churn model: customer-health-churn v" in result.output
    calls = pd.read_csv(tmp_path / "runs" / "scores.alerts.csv")
    lines = result.output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Call first"))
    # a header, then one line per account in urgency order: the why column never wraps
    for rank, line in enumerate(lines[first + 2:first + 17], start=1):
        assert line.split()[:2] == [str(rank), calls["account_id"].iloc[rank - 1]]
        assert len(line) <= 100
    assert calls["currency"].eq("EUR").all()
    meta = json.loads((tmp_path / "runs" / "scores.csv.meta.json").read_text())
    assert meta["as_of"] == as_of.isoformat() and meta["format"] == "csv"


@pytest.mark.slow
def test_score_with_previous_and_format_option(registry, as_of, tmp_path):
    first = tmp_path / "first.parquet"
    assert runner.invoke(app, ["score", str(registry.demo), "--as-of", "2025-10-01",
                               "--out", str(first)], env=WIDE).exit_code == 0
    second = tmp_path / "second.data"
    result = runner.invoke(app, ["score", str(registry.demo), "--as-of", str(as_of.date()),
                                 "--out", str(second), "--format", "parquet",
                                 "--previous", str(first), "--risk-rise", "0.05"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(second)["health_trend"].notna().any()
    quiet = runner.invoke(app, ["score", str(registry.demo), "--as-of", str(as_of.date()),
                                "--out", str(tmp_path / "runs"), "--previous", "auto", "--quiet"], env=WIDE)
    assert quiet.exit_code == 0 and quiet.stdout == ""
    assert (tmp_path / "runs" / f"{as_of:%Y-%m-%d}" / "scores.alerts.parquet").is_file()
    assert (tmp_path / "second.alerts.parquet").is_file()


def test_score_refuses_invalid_input_with_the_validation_report(serving_demo_folder, empty_registry, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(serving_demo_folder, broken)
    accounts = pd.read_csv(broken / "accounts.csv", dtype=str)
    accounts.loc[0, "signup_date"] = "not a date"
    accounts.to_csv(broken / "accounts.csv", index=False)
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(broken), "--as-of", "2025-12-01",
                                 "--out", str(out / "scores.parquet")], env=WIDE)
    assert result.exit_code == 2
    assert "accounts.signup_date" in result.output and "not a date" in result.output
    assert not out.exists()


@pytest.mark.slow
def test_score_with_a_model_that_is_not_registered_fails_clearly(registry, tmp_path):
    result = runner.invoke(app, ["score", str(registry.demo), "--as-of", "2025-12-01",
                                 "--out", str(tmp_path / "s.parquet"), "--model",
                                 "models:/customer-health-churn@nobody"], env=WIDE)
    assert result.exit_code == 1
    assert "no model at models:/customer-health-churn@nobody" in result.output
    assert list(tmp_path.iterdir()) == []


def test_score_with_an_unusable_date_names_the_expected_form(serving_demo_folder, empty_registry, tmp_path):
    result = runner.invoke(app, ["score", str(serving_demo_folder), "--as-of", "next tuesday",
                                 "--out", str(tmp_path / "s.parquet")], env=WIDE)
    assert result.exit_code == 1
    assert "--as-of: could not read 'next tuesday' as a date; fix: use ISO 8601" in result.output


def test_serve_refuses_a_broken_scorecard_before_starting(tmp_path):
    card = tmp_path / "card.toml"
    card.write_text("min_coverage = 0.5\n")  # no groups, no measures
    result = runner.invoke(app, ["serve", "--scorecard", str(card)], env=WIDE)
    assert result.exit_code == 1
    assert "card.toml" in result.output and "groups" in result.output


def test_a_date_beyond_2262_is_named_by_its_option_not_a_traceback(tmp_path):
    result = runner.invoke(app, ["score", str(tmp_path), "--as-of", "2999-01-01",
                                 "--out", str(tmp_path / "s.csv")], env=WIDE)
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "--as-of: could not read '2999-01-01' as a date; fix: use ISO 8601 between 1677-09-22 and 2262-04-11" in result.output


def test_a_cut_off_previous_file_exits_2_with_its_name(registry, tmp_path):
    broken = tmp_path / "yesterday.csv"
    broken.write_text('account_id,health_score,health_band,churn_probability\n"A1,5')
    result = runner.invoke(app, ["score", str(registry.demo), "--as-of", "2025-10-01",
                                 "--out", str(tmp_path / "today.csv"), "--previous", str(broken)], env=WIDE)
    assert result.exit_code == 2, result.output
    assert "yesterday.csv cannot be read" in " ".join(result.output.split())


def test_a_missing_previous_run_warns_and_scores(registry, tmp_path):
    result = runner.invoke(app, ["score", str(registry.demo), "--as-of", "2025-10-01",
                                 "--out", str(tmp_path / "today.csv"), "--previous", "auto"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "warning: no earlier run in" in " ".join(result.output.split())


def test_score_with_a_model_given_by_path_names_the_path_not_none(registry, as_of, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(registry.uri)
    path = mlflow.artifacts.download_artifacts(artifact_uri=registry.model_uri,
                                               dst_path=str(tmp_path / "model"))
    result = runner.invoke(app, ["score", str(registry.demo), "--as-of", str(as_of.date()),
                                 "--out", str(tmp_path / "s.csv"), "--model", path], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "None" not in result.output
    assert f"churn model: the model at {path} (not from the registry" in " ".join(result.output.split())


# --- a database output -----------------------------------------------------------------


def test_score_writes_to_a_database_and_the_next_run_compares_with_it(registry, as_of, pg_url, monkeypatch):
    import psycopg

    password = pg_url.split(":")[2].split("@")[0]
    monkeypatch.setenv("CH_TEST_PG_PASSWORD", password)
    sink = pg_url.replace(password, "${CH_TEST_PG_PASSWORD}") + "/scores"
    first = runner.invoke(app, ["score", str(registry.demo), "--as-of", "2025-10-01", "--out", sink],
                          env=WIDE)
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["score", str(registry.demo), "--as-of", str(as_of.date()),
                                 "--out", sink, "--previous", sink], env=WIDE)
    assert second.exit_code == 0, second.output
    assert "to call to postgresql://postgres:***@127.0.0.1" in second.output
    assert password not in first.output + second.output
    with psycopg.connect(pg_url) as connection:
        dates = connection.execute(
            "SELECT as_of, count(*), count(churn_probability), count(health_trend) FROM scores "
            "GROUP BY as_of ORDER BY as_of").fetchall()
        metadata = [row[0] for row in connection.execute(
            "SELECT metadata FROM scores_runs ORDER BY written_at").fetchall()]
    (_, n1, churn1, trend1), (_, n2, churn2, trend2) = dates
    assert churn1 == n1 and churn2 == n2  # the champion scored churn both times
    assert trend1 == 0 and trend2 > 0      # trends need the previous run, read from the database
    last = json.loads(metadata[-1])
    assert last["model"]["name"] == "customer-health-churn" and last["input"] == str(registry.demo)
    assert last["previous"].startswith("postgresql://postgres:***@")
    assert password not in "".join(metadata)


def test_score_to_an_unreachable_database_fails_in_one_line(serving_demo_folder, empty_registry):
    result = runner.invoke(app, ["score", str(serving_demo_folder), "--as-of", "2025-12-01",
                                 "--out", "postgresql://cs:hunter2@127.0.0.1:9/crm/scores"], env=WIDE)
    assert result.exit_code == 2
    # (the blank line before it is the progress bar making way)
    assert result.output.strip().startswith("error: cannot connect to postgresql://cs:***@127.0.0.1:9/crm:")
    assert result.output.strip().count("\n") == 0
    assert "hunter2" not in result.output and "Traceback" not in result.output
