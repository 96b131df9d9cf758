"""The report and the account page read from the database sink: the run, its call list and
the runs before it, as they are read from a folder of dated runs.

The same three runs are written once into a folder of dated runs and once into a database
(a SQLite file, and a real PostgreSQL database); the two must give the same history.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.db_url import DatabaseError
from serving.batch import score_portfolio, write_result
from serving.cli import app
from serving.report import build_report
from serving.report.account import build_account_page
from serving.report.calls import read_run_history
from serving.report.inputs import read_alerts, read_scores

DATES = tuple(pd.Timestamp(d) for d in ("2025-09-01", "2025-10-01", "2025-11-01"))
runner = CliRunner()


@pytest.fixture(scope="module")
def results(serving_demo_tables):
    found, previous = [], None
    for date in DATES:
        result = score_portfolio(serving_demo_tables, date, previous=previous)
        found.append(result)
        previous = result.scores
    return found


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory, results):
    folder = tmp_path_factory.mktemp("report_db") / "runs"
    for result in results:
        write_result(result, folder)
    return folder


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory, results) -> str:
    """The three runs in a database; written once per module, as the tests only read."""
    url = (f"sqlite:///{tmp_path_factory.mktemp('report_db') / 'scores.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres").create_database("report_from_db") + "/health")
    for result in results:
        write_result(result, url)
    return url


def test_the_history_of_a_database_run_is_the_history_of_the_same_runs_in_a_folder(database, runs_folder):
    from_db = read_run_history(read_scores(database))
    from_files = read_run_history(read_scores(runs_folder / f"{DATES[-1]:%Y-%m-%d}" / "scores.parquet"))
    assert from_db.dates == from_files.dates == list(DATES)
    assert from_db.listed == from_files.listed and any(from_db.listed.values())
    key = ["as_of", "account_id"]
    pd.testing.assert_frame_equal(
        from_db.scores.sort_values(key).reset_index(drop=True),
        from_files.scores.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_a_database_run_reads_its_own_call_list_in_rank_order(database, results):
    calls = read_alerts(read_scores(database, DATES[1]))
    expected = results[1].alerts
    assert calls["account_id"].tolist() == expected["account_id"].tolist()
    assert calls["rank"].tolist() == list(range(1, len(expected) + 1))
    assert calls["reasons"].tolist() == expected["reasons"].tolist()


def test_the_report_from_a_database_shows_sparklines_and_the_bands_over_the_runs(database, tmp_path, results):
    html = build_report(database, out=tmp_path / "report.html").read_text(encoding="utf-8")
    shown = min(25, len(results[-1].alerts))
    call_list = html[html.index('data-section="call-list"'):html.index('data-section="distribution"')]
    assert call_list.count('data-runs="3"') == shown
    assert "Share of the accounts in each band at each of the last 3 runs" in html
    assert "n/a (the band shares over time need two runs" not in html
    assert f"as of {DATES[-1]:%d %b %Y}" in html
    assert "(table health)" in html or "(table scores)" in html  # the footer names the database
    whole = f"accounts, every reason and driver): the rows as of {DATES[-1]:%Y-%m-%d} of the table "
    assert re.search(re.escape(whole) + r"(health|scores)_alerts in (sqlite|postgresql)", html)
    assert "postgres:" not in html or ":***@" in html  # never a password


def test_an_earlier_run_is_chosen_with_as_of_and_its_history_stops_there(database, tmp_path):
    html = build_report(database, out=tmp_path / "report.html", as_of=DATES[1]).read_text(encoding="utf-8")
    assert f"as of {DATES[1]:%d %b %Y}" in html
    assert 'data-runs="2"' in html and 'data-runs="3"' not in html


def test_a_date_without_a_run_is_refused_naming_the_dates_there_are(database):
    with pytest.raises(DatabaseError, match=r"no run as of 2025-10-02 .*2025-09-01, 2025-10-01, "
                                            r"2025-11-01\); fix: give one of them to --as-of"):
        read_scores(database, pd.Timestamp("2025-10-02"))


def test_the_account_page_from_a_database_shows_the_accounts_runs(database, tmp_path, results):
    scored = results[-1].scores
    account = scored.loc[scored["health_score"].notna(), "account_id"].iloc[0]
    html = build_account_page(database, account, out=tmp_path / "a.html").read_text(encoding="utf-8")
    assert "health score over 3 run(s)" in html
    assert "From sqlite:" in html or "From postgresql:" in html


def test_the_cli_reads_the_run_of_as_of_from_a_database_and_refuses_a_date_without_one(database, tmp_path, results):
    account = results[0].scores["account_id"].iloc[0]
    out = tmp_path / "account.html"
    result = runner.invoke(app, ["report", database, "--account", account,
                                 "--as-of", f"{DATES[0]:%Y-%m-%d}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"as of {DATES[0]:%d %b %Y}" in out.read_text(encoding="utf-8")
    missing = runner.invoke(app, ["report", database, "--as-of", "2024-01-01", "--out", str(out)])
    assert missing.exit_code == 2 and "no run as of 2024-01-01" in missing.output


def test_as_of_with_a_scores_file_is_refused(runs_folder, tmp_path):
    scores = runs_folder / f"{DATES[-1]:%Y-%m-%d}" / "scores.parquet"
    result = runner.invoke(app, ["report", str(scores), "--as-of", "2025-10-01", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert re.search(r"--as-of picks a run in a database", result.output)


def test_reading_a_sqlite_file_that_does_not_exist_does_not_create_it(tmp_path):
    missing = tmp_path / "nothing.db"
    with pytest.raises(DatabaseError, match="there is no scores table"):
        read_scores(f"sqlite:///{missing}")
    assert not missing.exists()
