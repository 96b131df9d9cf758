"""The ``validate`` and ``demo-data`` commands, run through the real CLI app."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import TABLE_NAMES
from serving.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def text(result) -> str:
    """The output with line wrapping undone (rich wraps long lines at the terminal width)."""
    return " ".join(result.output.split())


@pytest.fixture
def broken_folder(tmp_path, demo_folder):
    """A copy of the demo folder with a bad timestamp and a negative page count."""
    folder = tmp_path / "broken"
    shutil.copytree(demo_folder, folder)
    sessions = pd.read_csv(folder / "sessions.csv", dtype=str)
    sessions.loc[2, "started_at"] = "yesterday"
    sessions.loc[4, "page_views"] = "-3"
    sessions.to_csv(folder / "sessions.csv", index=False)
    return folder


# --- validate --------------------------------------------------------------------------


def test_validate_accepts_a_valid_folder_with_exit_code_0(demo_folder):
    result = invoke("validate", demo_folder)
    assert result.exit_code == 0, result.output
    assert "passes the data contract" in text(result)
    assert "sessions" in text(result)


def test_validate_reports_each_problem_with_rows_values_and_fix_and_exits_2(broken_folder):
    result = invoke("validate", broken_folder)
    assert result.exit_code == 2
    output = text(result)
    assert "sessions.started_at: values are not dates or timestamps" in output
    assert "row 3 (yesterday)" in output
    assert "sessions.page_views: must be zero or more" in output
    assert "row 5 (-3)" in output
    assert "fix: use ISO 8601" in output
    assert "invalid: 2 error(s)" in output
    assert "Traceback" not in output


def test_validate_json_report_carries_the_same_detail(broken_folder):
    result = invoke("validate", broken_folder, "--format", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    problems = {(p["table"], p["column"]): p for p in report["errors"]}
    assert problems[("sessions", "started_at")]["rows"] == [3]
    assert problems[("sessions", "started_at")]["values"] == ["yesterday"]
    assert problems[("sessions", "page_views")]["fix"].startswith("correct the value")


def test_validate_json_of_a_valid_folder_lists_row_counts(demo_folder):
    result = invoke("validate", demo_folder, "-f", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["errors"] == []
    assert report["row_counts"]["accounts"] == 120


def test_warnings_are_shown_but_do_not_fail(tmp_path, demo_folder):
    folder = tmp_path / "late"
    shutil.copytree(demo_folder, folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    sessions = pd.read_csv(folder / "sessions.csv", dtype=str)
    churned = accounts.loc[accounts["churned_at"].notna(), "account_id"].iloc[0]
    sessions.loc[0, ["account_id", "started_at"]] = [churned, "2025-06-30T12:00:00"]
    sessions.to_csv(folder / "sessions.csv", index=False)
    result = invoke("validate", folder)
    assert result.exit_code == 0, result.output
    assert "warning sessions.started_at: activity after the account's churned_at" in text(result)
    assert "(1 warning(s))" in text(result)


def test_validate_reports_a_missing_folder_with_exit_code_2(tmp_path):
    result = invoke("validate", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "is not a folder" in text(result)


def test_validate_reports_a_missing_accounts_table(tmp_path, demo_folder):
    folder = tmp_path / "no-accounts"
    shutil.copytree(demo_folder, folder)
    (folder / "accounts.csv").unlink()
    result = invoke("validate", folder)
    assert result.exit_code == 2
    assert "the accounts table is required" in text(result)


def test_validate_applies_the_mapping_file(tmp_path, demo_folder):
    folder = tmp_path / "renamed"
    shutil.copytree(demo_folder, folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    accounts.rename(columns={"account_id": "CustomerID"}).to_csv(folder / "customers.csv", index=False)
    (folder / "accounts.csv").unlink()
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tables.accounts]\nfile = "customers.csv"\ncolumns = { account_id = "CustomerID" }\n')
    assert invoke("validate", folder).exit_code == 2
    result = invoke("validate", folder, "--mapping", mapping)
    assert result.exit_code == 0, result.output


def test_validate_reports_a_bad_mapping_file_in_one_line(tmp_path, demo_folder):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("[surveys.nps]\nsatisfied_at = 9\n")
    result = invoke("validate", demo_folder, "--mapping", mapping)
    assert result.exit_code == 2
    assert "error: " in text(result) and "satisfied_at applies to csat only" in text(result)
    assert "Traceback" not in text(result)


# --- demo-data -------------------------------------------------------------------------


def test_demo_data_writes_six_tables_and_prints_a_summary(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo-data", "--out", out, "--accounts", 80, "--months", 4, "--seed", 2)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.csv" for t in TABLE_NAMES)
    accounts = pd.read_csv(out / "accounts.csv")
    churned = accounts["churned_at"].notna().sum()
    assert f"{churned} of 80 accounts churned during the period" in text(result)
    assert f"{len(pd.read_csv(out / 'sessions.csv')):,}" in text(result)
    assert invoke("validate", out).exit_code == 0


def test_demo_data_writes_parquet_when_asked(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo-data", "-o", out, "--accounts", 30, "--months", 2, "--format", "parquet")
    assert result.exit_code == 0, result.output
    assert sorted(p.suffix for p in out.iterdir()) == [".parquet"] * 6


def test_the_shop_demo_writes_parquet_that_reads_back_as_written(tmp_path):
    from features.demo_shop import generate_shop_data

    out = tmp_path / "shop"
    result = invoke("demo-data", "-o", out, "--business", "transactional", "--accounts", 30,
                    "--months", 3, "--seed", 4, "--format", "parquet")
    assert result.exit_code == 0, result.output
    for name, frame in generate_shop_data(accounts=30, months=3, seed=4).items():
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"), frame,
                                      check_dtype=False)


def test_demo_data_refuses_to_mix_formats_in_one_folder(tmp_path):
    out = tmp_path / "demo"
    assert invoke("demo-data", "-o", out, "--accounts", 20, "--months", 1).exit_code == 0
    result = invoke("demo-data", "-o", out, "--accounts", 20, "--months", 1, "-f", "parquet")
    assert result.exit_code == 1
    assert "already holds accounts.csv" in text(result)
    assert not list(out.glob("*.parquet"))


def test_demo_data_refuses_a_file_as_output_folder(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    result = invoke("demo-data", "--out", target, "--accounts", 5)
    assert result.exit_code == 1
    assert "is a file; give a folder" in text(result)


def test_demo_data_rejects_a_non_positive_account_count(tmp_path):
    result = invoke("demo-data", "--out", tmp_path, "--accounts", 0)
    assert result.exit_code == 2
    assert "--accounts" in text(result)


# --- help ------------------------------------------------------------------------------


def test_the_top_level_help_lists_both_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "validate" in text(result) and "demo-data" in text(result)


@pytest.mark.parametrize(
    "command, example",
    [("validate", "customer-health validate demo/"),
     ("demo-data", "customer-health demo-data --out demo/")],
)
def test_each_command_has_help_with_an_example(command, example):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert example in text(result)


# --- a database source ------------------------------------------------------------------


def database_mapping(tmp_path, url: str) -> str:
    path = tmp_path / "warehouse.toml"
    path.write_text(f'source = "{url}"\n[tables.accounts]\ntable = "crm_accounts"\n', "utf-8")
    return str(path)


def test_validate_reads_a_database_without_a_folder(tmp_path, pg_url, small_tables, monkeypatch):
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow as pa

    with adbc.connect(pg_url) as connection, connection.cursor() as cursor:
        cursor.adbc_ingest("crm_accounts", pa.Table.from_pandas(small_tables.accounts))
        connection.commit()
    password = pg_url.split(":")[2].split("@")[0]
    monkeypatch.setenv("CH_TEST_PG_PASSWORD", password)
    mapping = database_mapping(tmp_path, pg_url.replace(password, "${CH_TEST_PG_PASSWORD}"))
    result = invoke("validate", "--mapping", mapping)
    assert result.exit_code == 0, result.output
    assert "valid: postgresql://postgres:***@127.0.0.1" in text(result)
    assert password not in result.output


def test_validate_with_wrong_credentials_is_one_line_and_exit_2(tmp_path, pg_url):
    wrong = pg_url.replace(pg_url.split(":")[2].split("@")[0], "not-the-password")
    result = invoke("validate", "--mapping", database_mapping(tmp_path, wrong))
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot connect to postgresql://postgres:***@127.0.0.1")
    assert "password authentication failed" in result.output
    assert result.output.strip().count("\n") == 0 and "not-the-password" not in result.output


def test_validate_names_a_failing_query_of_the_folder(tmp_path, demo_folder):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tables.orders]\nquery = "SELECT * FROM order_lines"\n', "utf-8")
    result = invoke("validate", demo_folder, "--mapping", mapping)
    assert result.exit_code == 2
    assert "orders: the query of tables.orders failed" in result.output
    assert "order_lines does not exist" in text(result)
    assert "query: SELECT * FROM order_lines" in result.output and "Traceback" not in result.output


# --- the churn definition --------------------------------------------------------------


def _shop_folder(tmp_path, orders: list[tuple[str, str]], mapping: str | None = None):
    from features.io import write_tables

    ids = sorted({a for a, _ in orders})
    write_tables({
        "accounts": pd.DataFrame({"account_id": ids, "signup_date": "2024-01-01"}),
        "orders": pd.DataFrame({"order_id": [f"o{i}" for i in range(len(orders))],
                                "account_id": [a for a, _ in orders],
                                "ordered_at": [t for _, t in orders], "amount": 9.5, "items": 1}),
    }, tmp_path)
    args = [tmp_path]
    if mapping is not None:
        (tmp_path / "mapping.toml").write_text(mapping, encoding="utf-8")
        args += ["--mapping", tmp_path / "mapping.toml"]
    return args


def test_validate_prints_the_churn_definition_and_the_gaps_between_repeat_orders(tmp_path):
    args = _shop_folder(tmp_path, [("a", "2024-01-01"), ("a", "2024-01-31"), ("b", "2024-02-01"),
                                   ("b", "2024-04-01")])
    result = invoke("validate", *args)
    assert result.exit_code == 0, result.output
    assert "churn = a lapse: no order for 60 days" in text(result)
    assert "days between a customer's orders: p50 45, p75 52, p90 57, p95 58, p99 60" in text(result)
    document = json.loads(invoke("validate", *args, "--format", "json").output)
    assert document["churn"]["churn_lapse_days"] == 60
    assert document["churn"]["repeat_gap_days"]["p95"] == 58.5


@pytest.mark.parametrize(("orders", "mapping", "words"), [
    ([("a", "2024-01-01"), ("b", "2024-02-01")], None,
     "[churn] lapse_days cannot be derived: no customer in orders ordered twice"),
    ([("a", "2024-01-01"), ("a", "2024-02-01")], "[churn]\nlapse_days = 0\n",
     "[churn] lapse_days = 0 must be a whole number of days above 0"),
])
def test_a_churn_definition_that_cannot_work_exits_2_naming_the_setting(tmp_path, orders, mapping,
                                                                        words):
    result = invoke("validate", *_shop_folder(tmp_path, orders, mapping))
    assert result.exit_code == 2, result.output
    assert words in text(result)


def test_a_lapse_without_orders_exits_2_naming_the_setting(tmp_path):
    pd.DataFrame({"account_id": ["a"], "signup_date": ["2024-01-01"]}).to_csv(
        tmp_path / "accounts.csv", index=False)
    (tmp_path / "mapping.toml").write_text('[churn]\ndefinition = "lapse"\nlapse_days = 90\n')
    result = invoke("features", tmp_path, "--mapping", tmp_path / "mapping.toml", "--as-of",
                    "2024-06-01", "--out", tmp_path / "f.csv")
    assert result.exit_code == 2, result.output
    assert '[churn] definition = "lapse" needs an orders table' in text(result)
    assert not (tmp_path / "f.csv").exists()
