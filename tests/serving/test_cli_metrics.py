"""``customer-health metrics``: output formats, JSON shape and exit codes, on real files."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.io import write_tables
from features.period_metrics import METRIC_KEYS
from serving.cli import app

runner = CliRunner()


def raw_tables() -> dict[str, pd.DataFrame]:
    accounts = pd.DataFrame({
        "account_id": ["a1", "a2", "a3", "a4"],
        "signup_date": ["2024-06-01", "2024-06-01", "2024-09-01", "2025-01-05"],
        "churned_at": [None, "2025-01-20", None, None],
        "segment": ["smb", "smb", "enterprise", "startup"],
        "mrr": [100.0, 50.0, 500.0, 10.0],
        "acquisition_cost": [300.0, 300.0, 1000.0, 100.0],
    })
    sessions = pd.DataFrame({
        "account_id": ["a1", "a1", "a2", "a3"], "user_id": ["u1", "u2", "u1", "u1"],
        "started_at": ["2025-01-02", "2025-01-03", "2025-01-03", "2025-02-05"],
        "duration_seconds": [60.0, 120.0, 30.0, 600.0], "page_views": [3, 5, 1, 10],
        "converted": [True, False, False, True],
    })
    surveys = pd.DataFrame({
        "response_id": ["r1", "r2", "r3", "r4"], "account_id": ["a1", "a2", "a3", "a1"],
        "survey": ["nps", "nps", "nps", "csat"], "score": [10, 3, 9, 4],
        "responded_at": ["2025-01-10", "2025-01-15", "2025-02-02", "2025-01-11"],
        "channel": ["email", "web", "web", "email"],
    })
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2"], "account_id": ["a1", "a3"], "channel": ["email", "chat"],
        "created_at": ["2025-01-02", "2025-02-03"], "first_response_at": ["2025-01-02T02:00", None],
        "resolved_at": ["2025-01-02T10:00", None],
    })
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "account_id": ["a1", "a1", "a2"],
        "ordered_at": ["2025-01-05", "2025-01-20", "2025-02-10"],
        "amount": [100.0, 50.0, 200.0], "items": [2, 1, 4],
    })
    returns = pd.DataFrame({"order_id": ["o1"], "returned_at": ["2025-02-01"], "items": [1], "amount": [50.0]})
    return dict(accounts=accounts, sessions=sessions, surveys=surveys, tickets=tickets,
                orders=orders, returns=returns)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables")
    write_tables(raw_tables(), path)
    return path


def run(*args):
    return runner.invoke(app, ["metrics", *map(str, args)])


def test_json_output_has_every_metric_with_value_unit_and_reason(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["period", "by", *METRIC_KEYS]
    assert document["nps"]["value"] == 0.0
    assert document["nps"]["promoters"] == 1 and document["nps"]["detractors"] == 1
    assert document["churn_rate"]["value"] == pytest.approx(100 / 3)
    assert document["csat"]["value"] == 100.0


def test_json_by_segment_nests_the_groups_under_each_metric(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "--by", "segment", "-f", "json")
    assert result.exit_code == 0, result.output
    nps = json.loads(result.stdout)["nps"]
    assert set(nps["groups"]) == {"enterprise", "smb", "startup"}
    assert nps["groups"]["startup"]["value"] is None
    assert nps["groups"]["startup"]["reason"] == "no responses"


def test_every_month_gives_a_list_of_consecutive_periods(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-03-01", "--every", "month", "-f", "json")
    assert result.exit_code == 0, result.output
    periods = json.loads(result.stdout)
    assert [p["period"]["start"] for p in periods] == ["2025-01-01T00:00:00", "2025-02-01T00:00:00"]
    assert sum(p["ticket_volume"]["value"] for p in periods) == 2


def test_csv_output_is_flat_with_one_row_per_metric_field_and_group(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "--by", "channel", "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["period_start", "period_end", "by", "group", "metric", "field", "value"]
    value = {(r["group"], r["metric"], r["field"]): r["value"] for r in rows}
    assert value[("", "nps", "value")] == "0.0"
    assert value[("web", "nps", "detractors")] == "1"
    assert value[("email", "ticket_volume", "value")] == "1"
    assert value[("", "dau", "groups_reason")].startswith("cannot split by 'channel'")
    assert value[("", "return_rate", "by_value.value")] == str(100 * 50 / 150)


def test_table_output_shows_values_and_reasons_for_people(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01")
    assert result.exit_code == 0, result.output
    assert "NPS" in result.stdout and "+0.0" in result.stdout
    assert "Churn rate" in result.stdout and "33.3%" in result.stdout


def test_table_output_by_group_and_over_time_run(folder):
    by_group = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "--by", "channel")
    assert by_group.exit_code == 0, by_group.output
    assert "cannot split by 'channel'" in by_group.stdout
    over_time = run(folder, "--start", "2025-01-01", "--end", "2025-03-01", "--every", "week")
    assert over_time.exit_code == 0, over_time.output
    assert "2025-01-29" in over_time.stdout


def test_a_period_that_ends_before_it_starts_exits_1_naming_the_options(folder):
    result = run(folder, "--start", "2025-03-01", "--end", "2025-02-01")
    assert result.exit_code == 1
    assert "--start (2025-03-01 00:00:00) must be before --end" in result.stderr


def test_an_unreadable_date_exits_1(folder):
    result = run(folder, "--start", "yesterday", "--end", "2025-02-01")
    assert result.exit_code == 1
    assert "--start: could not read 'yesterday' as a date" in result.stderr


def test_an_unknown_by_column_exits_1_listing_the_columns_to_use(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "--by", "colour")
    assert result.exit_code == 1
    assert "cannot split by 'colour'" in result.stderr and "segment" in result.stderr


def test_a_margin_given_in_percent_exits_1(folder):
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "--gross-margin", "80")
    assert result.exit_code == 1
    assert "--gross-margin must be above 0 and at most 1" in result.stderr


def test_invalid_data_exits_2_with_the_contract_problems(tmp_path):
    raw = raw_tables()
    raw["surveys"].loc[0, "score"] = 11
    write_tables(raw, tmp_path)
    result = run(tmp_path, "--start", "2025-01-01", "--end", "2025-02-01")
    assert result.exit_code == 2
    assert "surveys.score" in result.stderr and "0-10" in result.stderr


def test_a_mapping_file_declares_the_csat_scale(folder, tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("[surveys.csat]\nlow = 1\nhigh = 10\n", encoding="utf-8")
    result = run(folder, "--start", "2025-01-01", "--end", "2025-02-01", "-f", "json",
                 "--mapping", mapping)
    assert result.exit_code == 0, result.output
    csat = json.loads(result.stdout)["csat"]
    # The one answer, 4, is satisfied on 1-5 but not among the top 20% of 1-10.
    assert (csat["scale"], csat["satisfied_at"], csat["value"]) == ("1-10", 9, 0.0)


def test_help_shows_an_example():
    result = runner.invoke(app, ["metrics", "--help"])
    assert result.exit_code == 0
    assert "customer-health metrics demo/data --start 2025-01-01" in result.stdout


@pytest.mark.slow
def test_on_demo_data_monthly_segments_run_and_add_up(demo_folder):
    result = run(demo_folder, "--start", "2025-01-01", "--end", "2025-07-01", "--every", "month",
                 "--by", "segment", "-f", "json")
    assert result.exit_code == 0, result.output
    periods = json.loads(result.stdout)
    assert len(periods) == 6
    for period in periods:
        volume = period["ticket_volume"]
        assert sum(g["value"] for g in volume["groups"].values()) == volume["value"]
        assert period["nps"]["value"] is None or -100 <= period["nps"]["value"] <= 100


def test_the_validate_hint_keeps_the_mapping_the_user_gave(tmp_path, demo_folder):
    import shutil

    folder = tmp_path / "exports"
    shutil.copytree(demo_folder, folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    churned = accounts.loc[accounts["churned_at"].notna()].iloc[0]
    sessions = pd.read_csv(folder / "sessions.csv", dtype=str)
    late = sessions.iloc[[0]].assign(account_id=churned["account_id"], started_at="2025-06-30T10:00:00")
    pd.concat([sessions, late]).to_csv(folder / "sessions.csv", index=False)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("[surveys.csat]\nlow = 1\nhigh = 5\n")
    result = CliRunner().invoke(app, ["metrics", str(folder), "--start", "2025-01-01", "--end",
                                      "2025-07-01", "--mapping", str(mapping)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"customer-health validate {folder} --mapping {mapping}" in " ".join(result.output.split())
