"""An alerts table written before the call list: migrated by the next run, safely.

Each test runs against a SQLite file and a real PostgreSQL database. The old table is made
by hand in the shape older versions wrote: one row per account and rule, keyed by
``(as_of, account_id, rule)``.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy

from features.db_url import DatabaseError
from serving.batch import score_portfolio, write_result
from serving.scores_db import parse_sink, read_calls

OLD_DATE = pd.Timestamp("2025-09-01")
RUN_DATE = pd.Timestamp("2025-11-01")
OLD_ROWS = [  # a yellow -> red move gave two rows in older versions
    ("A1", "band_worse", "band yellow -> red", 31.0, "red", "yellow", 0.62, 0.40),
    ("A1", "entered_red", "entered the red band", 31.0, "red", "yellow", 0.62, 0.40),
    ("A2", "risk_rose", "churn probability rose by 0.15", 55.0, "yellow", "yellow", 0.45, 0.30),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'scores.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def run(serving_demo_tables):
    return score_portfolio(serving_demo_tables, RUN_DATE)


def execute(url: str, *statements: str) -> None:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sqlalchemy.text(statement))
    engine.dispose()


def rows(url: str, sql: str) -> list[tuple]:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.execute(sqlalchemy.text(sql))]
    engine.dispose()
    return found


def tables(url: str) -> set[str]:
    engine = sqlalchemy.create_engine(url)
    names = set(sqlalchemy.inspect(engine).get_table_names())
    engine.dispose()
    return names


def make_old_alerts(url: str) -> None:
    execute(url, """
        CREATE TABLE scores_alerts (
            as_of TIMESTAMP NOT NULL, account_id TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT,
            health_score DOUBLE PRECISION, health_band TEXT, previous_health_band TEXT,
            churn_probability DOUBLE PRECISION, previous_churn_probability DOUBLE PRECISION,
            run_id TEXT, PRIMARY KEY (as_of, account_id, rule))
    """, *[
        # SQLAlchemy writes SQLite timestamps with microseconds, as the older version did
        f"INSERT INTO scores_alerts VALUES ('{OLD_DATE:%Y-%m-%d} 00:00:00.000000', '{a}', '{rule}', "
        f"'{reason}', {score}, '{band}', '{before}', {p}, {p_before}, 'old')"
        for a, rule, reason, score, band, before, p, p_before in OLD_ROWS
    ])


def test_a_run_into_an_old_alerts_table_keeps_it_as_a_dated_backup_and_converts_its_lists(database, run):
    make_old_alerts(database)
    written = write_result(run, database)
    migrated = written.metadata["migrated_alerts"]
    backup = migrated["backup"]
    assert backup == f"scores_alerts_before_{pd.Timestamp.now(tz='UTC'):%Y%m%d}"
    assert migrated == {"table": "scores_alerts", "backup": backup, "rows": 3, "call_list_rows": 2}
    # Nothing lost: the old rows are in the backup as they were.
    assert rows(database, f"SELECT account_id, rule FROM {backup} ORDER BY account_id, rule") == [
        ("A1", "band_worse"), ("A1", "entered_red"), ("A2", "risk_rose")]
    # The old date's alerts are one call list row per account, every reason kept.
    old = rows(database, "SELECT account_id, reasons, rules, rank FROM scores_alerts "
                         f"WHERE as_of < '{RUN_DATE:%Y-%m-%d}' ORDER BY rank")
    assert old == [("A1", "band yellow -> red; entered the red band", "band_worse entered_red", 1),
                   ("A2", "churn probability rose by 0.15", "risk_rose", 2)]
    assert rows(database, f"SELECT count(*) FROM scores_alerts WHERE as_of >= '{RUN_DATE:%Y-%m-%d}'") == [
        (len(run.alerts),)]
    [(stored,)] = rows(database, "SELECT metadata FROM scores_runs")
    assert json.loads(stored)["migrated_alerts"] == migrated


def test_the_next_run_finds_the_new_table_and_migrates_nothing(database, run):
    make_old_alerts(database)
    write_result(run, database)
    again = write_result(run, database)
    assert "migrated_alerts" not in again.metadata
    assert len([name for name in tables(database) if "_before_" in name]) == 1


def test_a_run_that_fails_after_the_migration_undoes_it(database, run):
    make_old_alerts(database)
    refuse = {
        "sqlite": ["CREATE TABLE scores_runs (run_id TEXT PRIMARY KEY)",
                   "CREATE TRIGGER refuse BEFORE INSERT ON scores_runs "
                   "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"],
        "postgresql": ["CREATE TABLE scores_runs (run_id TEXT PRIMARY KEY)",
                       "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'disk quota exceeded'; END $$",
                       "CREATE TRIGGER refuse BEFORE INSERT ON scores_runs FOR EACH ROW "
                       "EXECUTE FUNCTION refuse()"],
    }[database.split(":")[0].split("+")[0]]
    execute(database, *refuse)
    with pytest.raises(DatabaseError, match="disk quota exceeded.*nothing was changed"):
        write_result(run, database)
    # The rename, the new tables and their rows went with the failed run.
    assert tables(database) == {"scores_alerts", "scores_runs"}
    assert rows(database, "SELECT account_id, rule FROM scores_alerts ORDER BY account_id, rule") == [
        ("A1", "band_worse"), ("A1", "entered_red"), ("A2", "risk_rose")]


def test_an_old_alerts_table_not_yet_migrated_reads_as_call_lists(database):
    make_old_alerts(database)
    calls = read_calls(parse_sink(database), OLD_DATE)
    assert calls[["rank", "account_id", "reasons"]].values.tolist() == [
        [1, "A1", "band yellow -> red; entered the red band"],
        [2, "A2", "churn probability rose by 0.15"]]
    assert tables(database) == {"scores_alerts"}  # reading changed nothing
