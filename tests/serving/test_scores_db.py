"""The database sink of the batch job, against a real PostgreSQL server.

Runs are scored once per module on the demo tables without a model (the sink does not care
where churn columns come from) and written into a fresh database per test (``pg_url``).
"""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pytest

from features.db_url import DatabaseError
from serving.batch import (
    BatchInputError,
    read_previous,
    run_batch,
    score_portfolio,
    write_result,
)
from serving.scores_db import parse_sink, read_account

DATES = (pd.Timestamp("2025-10-01"), pd.Timestamp("2025-11-01"))


@pytest.fixture(scope="module")
def runs(serving_demo_tables):
    """Two runs a month apart, the second with the first as previous (alerts compare them)."""
    first = score_portfolio(serving_demo_tables, DATES[0])
    second = score_portfolio(serving_demo_tables, DATES[1], previous=first.scores)
    assert len(second.alerts), "the demo should give the second run some alerts"
    return first, second


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def password_of(url: str) -> str:
    return url.split(":")[2].split("@")[0]


def test_a_run_writes_scores_alerts_and_its_metadata_to_three_tables(pg_url, runs):
    _, second = runs
    written = write_result(second, pg_url + "/health")
    assert written.sink.startswith("postgresql://postgres:***@127.0.0.1") and written.paths == {}
    assert query(pg_url, "SELECT count(*), count(DISTINCT account_id) FROM health") == [
        (len(second.scores), len(second.scores))]
    assert query(pg_url, "SELECT count(*) FROM health_alerts") == [(len(second.alerts),)]
    [(run_id, as_of, accounts, alerts, metadata)] = query(
        pg_url, "SELECT run_id, as_of, accounts, alerts, metadata FROM health_runs")
    assert (run_id, as_of, accounts, alerts) == (
        written.metadata["run_id"], DATES[1].to_pydatetime(), len(second.scores), len(second.alerts))
    assert json.loads(metadata)["output"] == written.sink
    assert query(pg_url, "SELECT DISTINCT run_id FROM health") == [(run_id,)]


def test_the_stored_rows_read_back_as_the_run_computed_them(pg_url, runs):
    _, second = runs
    write_result(second, pg_url + "/scores")
    account = second.scores["account_id"].iloc[0]
    [stored] = read_account(parse_sink(pg_url + "/scores"), account).to_dict("records")
    computed = second.scores.iloc[0].to_dict()
    for column, value in computed.items():
        if isinstance(value, float) and pd.isna(value):
            assert stored[column] is None or pd.isna(stored[column]), column
        else:
            assert stored[column] == value, column


def test_a_rerun_replaces_its_dates_rows_and_keeps_the_other_dates(pg_url, runs):
    first, second = runs
    sink = pg_url + "/scores"
    write_result(first, sink)
    original = write_result(second, sink)
    # The same date again, now with fewer accounts (some no longer active): the rows of
    # the date are replaced, not merged, and the first date is untouched.
    fewer = second.scores.iloc[: len(second.scores) // 2]
    rerun = write_result(type(second)(fewer, second.alerts.iloc[:0], second.metadata), sink)
    counts = dict(query(pg_url, "SELECT as_of, count(*) FROM scores GROUP BY as_of"))
    assert counts == {DATES[0].to_pydatetime(): len(first.scores),
                      DATES[1].to_pydatetime(): len(fewer)}
    assert query(pg_url, f"SELECT count(*) FROM scores_alerts WHERE as_of = '{DATES[1]:%Y-%m-%d}'") == [(0,)]
    assert query(pg_url, "SELECT DISTINCT run_id FROM scores WHERE as_of = '2025-11-01'") == [
        (rerun.metadata["run_id"],)]
    runs_kept = [row[0] for row in query(pg_url, "SELECT run_id FROM scores_runs ORDER BY written_at")]
    assert runs_kept[1:] == [original.metadata["run_id"], rerun.metadata["run_id"]]


def test_writing_the_same_run_twice_leaves_the_same_rows(pg_url, runs):
    _, second = runs
    sink = pg_url + "/scores"
    columns = "account_id, as_of, health_score, health_band, churn_probability, health_drivers"
    write_result(second, sink)
    before = query(pg_url, f"SELECT {columns} FROM scores ORDER BY account_id")
    write_result(second, sink)
    assert query(pg_url, f"SELECT {columns} FROM scores ORDER BY account_id") == before


def test_a_failure_in_the_middle_of_a_write_leaves_the_previous_rows_intact(pg_url, runs):
    _, second = runs
    sink = pg_url + "/scores"
    original = write_result(second, sink).metadata["run_id"]
    before = query(pg_url, "SELECT * FROM scores ORDER BY account_id")
    # The database refuses the alerts, which are written after the new scores: a real
    # failure of the server, halfway through the transaction.
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute("""
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'no space left for alerts'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON scores_alerts FOR EACH ROW EXECUTE FUNCTION refuse();
        """)
    with pytest.raises(DatabaseError) as caught:
        write_result(second, sink)
    message = str(caught.value)
    assert "no space left for alerts" in message and "nothing was changed" in message
    assert password_of(pg_url) not in message
    assert query(pg_url, "SELECT * FROM scores ORDER BY account_id") == before
    assert query(pg_url, "SELECT run_id FROM scores_runs") == [(original,)]
    assert query(pg_url, "SELECT count(*) FROM scores_alerts") == [(len(second.alerts),)]


def test_a_column_a_new_scorecard_adds_is_added_to_the_table(pg_url, runs):
    first, second = runs
    sink = pg_url + "/scores"
    write_result(first, sink)
    write_result(type(second)(second.scores.assign(measure_new=1.5), second.alerts, second.metadata), sink)
    rows = dict(query(pg_url, "SELECT as_of, max(measure_new) FROM scores GROUP BY as_of"))
    assert rows == {DATES[0].to_pydatetime(): None, DATES[1].to_pydatetime(): 1.5}


def test_the_previous_run_of_a_database_is_its_latest_date_before_the_as_of(pg_url, runs):
    first, second = runs
    sink = pg_url + "/scores"
    assert read_previous(sink, DATES[0]) is None  # no table yet: the first night
    write_result(first, sink)
    write_result(second, sink)
    assert read_previous(sink, DATES[0]) is None  # nothing earlier: a first run
    previous = read_previous(sink, DATES[1] + pd.Timedelta(days=1))
    assert previous["as_of"].unique().tolist() == [DATES[1]]
    pd.testing.assert_series_equal(previous["health_score"], second.scores["health_score"])


def test_a_database_previous_gives_the_same_trends_and_alerts_as_the_file(
        pg_url, runs, serving_demo_tables):
    first, second = runs
    write_result(first, pg_url + "/scores")
    from_database = score_portfolio(serving_demo_tables, DATES[1],
                                    previous=read_previous(pg_url + "/scores", DATES[1]))
    pd.testing.assert_frame_equal(from_database.scores, second.scores)
    pd.testing.assert_frame_equal(from_database.alerts, second.alerts)


def test_an_unreachable_sink_stops_the_run_before_the_work(serving_demo_folder, tmp_path, empty_registry):
    with pytest.raises(DatabaseError, match=r"^cannot connect to postgresql://cs:\*\*\*@127\.0\.0\.1:9/crm"):
        run_batch(serving_demo_folder, DATES[1], "postgresql://cs:hunter2@127.0.0.1:9/crm/scores")


def test_a_database_output_takes_no_format(pg_url, runs):
    with pytest.raises(BatchInputError, match="--format applies to a file output"):
        write_result(runs[1], pg_url + "/scores", fmt="csv")


def test_a_table_that_is_not_ours_is_refused_by_name(pg_url, runs):
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE scores (id int)")
    with pytest.raises(DatabaseError, match=r"table scores exists but lacks account_id, as_of"):
        write_result(runs[1], pg_url + "/scores")


@pytest.mark.parametrize("text, message", [
    ("postgresql://db/crm/not-a-name", r"--out: 'not-a-name' is not a table name"),
    ("postgresql://cs:${CH_TEST_UNSET_VARIABLE}@db/crm", r"--out uses \$\{CH_TEST_UNSET_VARIABLE\}"),
])
def test_a_sink_url_that_cannot_be_used_is_named(text, message, monkeypatch):
    monkeypatch.delenv("CH_TEST_UNSET_VARIABLE", raising=False)
    with pytest.raises(DatabaseError, match=message):
        parse_sink(text)


def test_any_sqlalchemy_url_can_be_a_sink(tmp_path, runs):
    first, second = runs
    sink = f"sqlite:///{tmp_path / 'scores.db'}"
    write_result(first, sink)
    write_result(second, sink)
    write_result(second, sink)
    history = read_account(parse_sink(sink), second.scores["account_id"].iloc[0])
    assert history["as_of"].tolist() == list(DATES)


def test_the_scores_table_is_indexed_on_its_dates_also_when_an_older_version_made_it(tmp_path, runs):
    """Each run deletes its date's rows and looks up the latest earlier date: without an index
    on ``as_of`` (the key starts with ``account_id``) both scan every night ever written."""
    import sqlite3
    from contextlib import closing

    def plan() -> str:
        with closing(sqlite3.connect(path)) as connection:
            return str(connection.execute(
                "EXPLAIN QUERY PLAN SELECT max(as_of) FROM scores WHERE as_of < '2025-11-01'"
            ).fetchall())

    first, second = runs
    path = tmp_path / "scores.db"
    write_result(first, f"sqlite:///{path}")
    assert "ix_scores_as_of" in plan()
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("DROP INDEX ix_scores_as_of")  # as a table of an older version
    assert "ix_scores_as_of" not in plan()
    write_result(second, f"sqlite:///{path}")
    assert "ix_scores_as_of" in plan()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT count(DISTINCT as_of) FROM scores").fetchone() == (2,)
