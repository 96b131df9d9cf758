"""`customer-health history` from the command line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from serving.batch import score_portfolio, write_result
from serving.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "220"}
DATES = ("2025-10-01", "2025-11-01")


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory, serving_demo_tables):
    folder = tmp_path_factory.mktemp("history_runs") / "runs"
    previous = None
    for date in DATES:
        result = score_portfolio(serving_demo_tables, pd.Timestamp(date), previous=previous)
        write_result(result, folder / f"{date}.parquet")
        previous = result.scores
    return folder


def scored_account(folder) -> str:
    scores = pd.read_parquet(folder / f"{DATES[-1]}.parquet")
    return scores.loc[scores["health_score"].notna(), "account_id"].iloc[0]


def test_history_help_shows_examples():
    result = runner.invoke(app, ["history", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "customer-health history A000042 --from runs/" in result.output
    assert "--plot" in result.output and "--from" in result.output


def test_history_prints_one_row_per_run(runs_folder):
    account = scored_account(runs_folder)
    result = runner.invoke(app, ["history", account, "--from", str(runs_folder)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert f"Account {account}" in result.output
    assert all(date in result.output for date in DATES)


def test_history_as_json_has_the_drivers_as_lists(runs_folder):
    account = scored_account(runs_folder)
    result = runner.invoke(app, ["history", account, "--from", str(runs_folder), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [run["as_of"][:10] for run in document["runs"]] == list(DATES)
    assert isinstance(document["runs"][-1]["health_drivers"], list)


def test_history_draws_a_plot(runs_folder, tmp_path):
    account = scored_account(runs_folder)
    result = runner.invoke(app, ["history", account, "--from", str(runs_folder),
                                 "--plot", str(tmp_path / "history.png")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "history.png") as image:
        assert image.format == "PNG"


@pytest.mark.parametrize("args, message", [
    (["nobody"], "error: account 'nobody' has no scores in"),
    (["A1", "--plot", "history.jpg"], "error: --plot history.jpg: give a .png file name"),
    (["A1", "--start", "someday"], "error: --start: could not read 'someday' as a date"),
])
def test_history_input_errors_are_one_line_and_exit_2(runs_folder, args, message):
    result = runner.invoke(app, ["history", *args[:1], "--from", str(runs_folder), *args[1:]], env=WIDE)
    assert result.output.startswith(message) and "Traceback" not in result.output
    assert result.exit_code == 2
