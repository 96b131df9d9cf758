"""One account's score history, from a folder of scores files and from a database sink."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest
from PIL import Image

from serving.batch import score_portfolio, write_result
from serving.history import HISTORY_COLUMNS, HistoryError, account_history, plot_history

DATES = [pd.Timestamp("2025-09-01"), pd.Timestamp("2025-10-01"), pd.Timestamp("2025-11-01")]


@pytest.fixture(scope="module")
def monthly(serving_demo_tables):
    """Three monthly runs, each with the one before as previous (trends)."""
    results, previous = [], None
    for date in DATES:
        result = score_portfolio(serving_demo_tables, date, previous=previous)
        results.append(result)
        previous = result.scores
    return results


@pytest.fixture
def runs_folder(tmp_path, monthly):
    """The three runs as files (Parquet and CSV), plus files that are not runs."""
    folder = tmp_path / "runs"
    for result, fmt in zip(monthly, ("parquet", "csv", "parquet")):
        write_result(result, folder / f"{result.metadata['as_of'][:10]}.{fmt}")
    monthly[0].scores.to_parquet(folder / "features.parquet")  # no run metadata: not a run
    (folder / "report.html").write_text("<html></html>")
    return folder


def account(monthly) -> str:
    scored = monthly[-1].scores
    return scored.loc[scored["health_score"].notna(), "account_id"].iloc[0]


def expected(monthly, account_id) -> pd.DataFrame:
    rows = pd.concat([r.scores[r.scores["account_id"] == account_id] for r in monthly])
    rows = rows[list(HISTORY_COLUMNS)].reset_index(drop=True)
    text = [c for c in HISTORY_COLUMNS if rows[c].dtype == object or str(rows[c].dtype) == "str"]
    return rows.astype({c: object for c in text}).where(rows.notna(), None).astype(
        {"as_of": "datetime64[ns]", **{c: "float64" for c in ("health_score", "health_delta",
                                                                "churn_probability")}})


def test_a_folder_of_runs_gives_the_accounts_rows_oldest_first(runs_folder, monthly):
    history = account_history(runs_folder, account(monthly))
    assert history.rows["as_of"].tolist() == DATES
    pd.testing.assert_frame_equal(history.rows, expected(monthly, account(monthly)))


def test_a_database_sink_gives_the_same_history_as_the_files(pg_url, runs_folder, monthly):
    for result in monthly:
        write_result(result, pg_url + "/scores")
    from_database = account_history(pg_url + "/scores", account(monthly))
    from_files = account_history(runs_folder, account(monthly))
    pd.testing.assert_frame_equal(from_database.rows, from_files.rows)
    assert from_database.source.startswith("postgresql://postgres:***@")


def test_a_date_scored_twice_shows_the_newer_run(runs_folder, monthly):
    newer = monthly[1].scores.assign(health_score=1.0)
    time.sleep(0.01)  # a later modification time than the first file of that date
    write_result(type(monthly[1])(newer, monthly[1].alerts, monthly[1].metadata),
                 runs_folder / "2025-10-01-rerun.parquet")
    rows = account_history(runs_folder, account(monthly)).rows
    assert rows["as_of"].tolist() == DATES
    assert rows.loc[rows["as_of"] == DATES[1], "health_score"].tolist() == [1.0]


def test_the_period_limits_the_rows(runs_folder, monthly):
    rows = account_history(runs_folder, account(monthly), start=DATES[1], end=DATES[2]).rows
    assert rows["as_of"].tolist() == [DATES[1]]


def test_an_unknown_account_is_named_with_what_was_searched(runs_folder):
    with pytest.raises(HistoryError, match=r"account 'nobody' has no scores in .*runs \(3 scores file\(s\) searched\)"):
        account_history(runs_folder, "nobody")


def test_a_folder_without_runs_is_refused(tmp_path):
    with pytest.raises(HistoryError, match="holds no scores files"):
        account_history(tmp_path, "A1")
    with pytest.raises(HistoryError, match="is neither a folder of scores files nor a database URL"):
        account_history(tmp_path / "missing", "A1")


def test_the_history_plot_is_a_png(runs_folder, monthly, tmp_path):
    history = account_history(runs_folder, account(monthly))
    path = plot_history(history, tmp_path / "plots" / "history.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 400
    assert os.listdir(tmp_path / "plots") == ["history.png"]  # no temporary file left
