"""``customer-health clv``: the fitted parameters as JSON, a table, a chart, and exit codes."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.clv import COLUMNS, MIN_REPEATERS
from features.indicators import compute_indicators
from serving.batch import score_portfolio
from serving.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["clv", *map(str, args)])


def test_on_demo_data_the_json_holds_parameters_diagnostics_calibration_and_totals(demo_folder):
    result = run(demo_folder, "--as-of", "2025-07-01")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["as_of"] == "2025-07-01T00:00:00"
    assert document["horizon_days"] == 365
    assert set(document["parameters"]["bg_nbd"]) == {"r", "alpha", "a", "b"}
    assert set(document["parameters"]["gamma_gamma"]) == {"p", "q", "v"}
    assert all(value > 0 for model in document["parameters"].values() for value in model.values())
    diagnostics = document["diagnostics"]
    assert diagnostics["repeat_customers"] >= MIN_REPEATERS
    assert diagnostics["bg_nbd"]["converged"] and diagnostics["gamma_gamma"]["converged"]
    calibration = document["calibration"]
    assert sum(row["actual"] for row in calibration) == diagnostics["customers"]
    assert sum(row["expected"] for row in calibration) == pytest.approx(diagnostics["customers"])
    assert document["portfolio"]["customers"] == diagnostics["customers"]
    assert 0 < document["portfolio"]["mean_p_alive"] <= 1


def test_orders_after_as_of_do_not_change_the_fit(demo_folder, tmp_path):
    folder = tmp_path / "tables"
    shutil.copytree(demo_folder, folder)
    orders = pd.read_csv(folder / "orders.csv")
    later = orders.head(40).assign(order_id=lambda f: f["order_id"] + "-later",
                                   ordered_at="2025-07-01T00:00:00")
    pd.concat([orders, later]).to_csv(folder / "orders.csv", index=False)
    before = json.loads(run(demo_folder, "--as-of", "2025-07-01").stdout)
    after = json.loads(run(folder, "--as-of", "2025-07-01").stdout)
    assert after["parameters"] == before["parameters"]


@pytest.mark.slow  # matplotlib's first import and a chart: several seconds
def test_the_table_format_and_the_calibration_chart(demo_folder, tmp_path):
    chart = tmp_path / "calibration.png"
    result = run(demo_folder, "--as-of", "2025-07-01", "--format", "table", "--horizon-days",
                 "90", "--plot", chart)
    assert result.exit_code == 0, result.output
    assert "BG/NBD (time in weeks)" in result.stdout
    assert "Next 90 days" in result.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_customer_who_ordered_again_exits_2_naming_what_is_missing(demo_folder, tmp_path):
    folder = tmp_path / "one-off"
    folder.mkdir()
    shutil.copy(demo_folder / "accounts.csv", folder / "accounts.csv")
    orders = pd.read_csv(demo_folder / "orders.csv")
    orders.drop_duplicates("account_id").to_csv(folder / "orders.csv", index=False)
    result = run(folder)
    assert result.exit_code == 2
    assert "customers who ordered again" in result.output
    assert "0 did" in result.output


def test_without_an_orders_table_exits_2_naming_the_table(demo_folder, tmp_path):
    folder = tmp_path / "accounts-only"
    folder.mkdir()
    shutil.copy(demo_folder / "accounts.csv", folder / "accounts.csv")
    result = run(folder, "--as-of", "2025-07-01")
    assert result.exit_code == 2
    assert "needs an orders table" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("--horizon-days", "0"), "--horizon-days 0: must be a whole number of days"),
    (("--plot", "chart.pdf"), "must end in .png or .svg"),
    (("--as-of", "someday"), "--as-of: could not read 'someday'"),
])
def test_bad_options_exit_1_naming_the_option(demo_folder, args, message):
    result = run(demo_folder, *args)
    assert result.exit_code == 1
    assert message in result.output


# --- the same columns in the features and score outputs ------------------------------


@pytest.mark.slow  # the features command reads every table and scores comments
def test_the_features_file_carries_the_clv_columns(demo_folder, tmp_path):
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", str(demo_folder), "--as-of", "2025-07-01",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table["p_alive"].between(0, 1).any()
    assert table["expected_orders_365d"].notna().any()
    assert "no predictive CLV" not in result.output


@pytest.mark.slow  # the features command reads every table and scores comments
def test_the_features_command_says_why_the_clv_columns_are_empty(demo_folder, tmp_path):
    folder = tmp_path / "one-off"
    folder.mkdir()
    shutil.copy(demo_folder / "accounts.csv", folder / "accounts.csv")
    orders = pd.read_csv(demo_folder / "orders.csv")
    orders.drop_duplicates("account_id").to_csv(folder / "orders.csv", index=False)
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", str(folder), "--as-of", "2025-07-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)[list(COLUMNS)].isna().all().all()
    assert "no predictive CLV" in result.output
    assert "ordered again" in result.output


def test_the_scores_of_a_batch_run_carry_the_clv_columns(demo_tables):
    as_of = pd.Timestamp("2025-10-01")
    scores = score_portfolio(demo_tables, as_of).scores.set_index("account_id")
    expected = compute_indicators(demo_tables, as_of)
    for name in COLUMNS:
        pd.testing.assert_series_equal(scores[name], expected[name].reindex(scores.index),
                                       check_names=False)
    assert scores["p_alive"].notna().any()
