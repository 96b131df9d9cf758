"""Tables read with SQL: DuckDB over the folder's files, and a real PostgreSQL server.

The database tests run against the session's throwaway cluster (``postgres`` fixture in
``tests/conftest.py``), each in a fresh database (``pg_url``).
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from features.contract import TABLE_NAMES
from features.db_url import DatabaseError
from features.indicators import compute_indicators
from features.io import load_tables, read_tables
from features.mapping import Mapping
from features.period_metrics import period_metrics
from features.problems import DataContractError
from features.scorecard_config import load_scorecard
from features.sql_sources import query_folder
from models.scoring import score_tables

SHOP = Path(__file__).resolve().parents[1] / "data" / "shop_export"


def load_into_postgres(url: str, frames: dict[str, pd.DataFrame]) -> None:
    """Create one table per frame (ADBC bulk ingest, column types from the frames)."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as connection:
        with connection.cursor() as cursor:
            for name, frame in frames.items():
                cursor.adbc_ingest(name, pa.Table.from_pandas(frame, preserve_index=False),
                                   mode="create")
        connection.commit()


def password_of(url: str) -> str:
    return url.split(":")[2].split("@")[0]


# --- DuckDB over the files of the input folder -------------------------------------------


def test_each_file_of_the_folder_is_a_view_named_after_its_stem(tmp_path):
    pd.DataFrame({"id": ["00123", "7"], "v": [1.5, 2.0]}).to_csv(tmp_path / "my export.csv", index=False)
    pd.DataFrame({"id": ["x"]}).to_parquet(tmp_path / "other.parquet")
    frames = query_folder(tmp_path, {
        "orders": 'SELECT count(*) AS n, sum(v) AS total FROM "my export"',
        "surveys": "SELECT * FROM other",
    })
    assert frames["orders"].to_dict("records") == [{"n": 2, "total": 3.5}]
    assert frames["surveys"]["id"].tolist() == ["x"]


def test_a_querys_own_read_csv_resolves_paths_in_the_folder(tmp_path):
    pd.DataFrame({"id": ["00123", "7"]}).to_csv(tmp_path / "ids.csv", index=False)
    frames = query_folder(tmp_path, {"accounts": "SELECT * FROM read_csv('ids.csv', all_varchar=true)"})
    assert frames["accounts"]["id"].tolist() == ["00123", "7"]


def test_two_files_with_one_stem_are_refused(tmp_path):
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "orders.csv", index=False)
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "orders.parquet")
    with pytest.raises(DatabaseError, match=r"both orders\.csv and orders\.parquet would be the view 'orders'"):
        query_folder(tmp_path, {"orders": "SELECT * FROM orders"})


def test_a_failing_query_names_the_table_the_query_and_duckdbs_message(tmp_path):
    mapping = Mapping.from_dict({"tables": {"surveys": {"query": "SELECT * FROM reviews_typo"}}})
    with pytest.raises(DatabaseError) as caught:
        load_tables(SHOP, mapping)
    message = str(caught.value)
    assert message.startswith("surveys: the query of tables.surveys failed on the files of")
    assert "reviews_typo does not exist" in message
    assert "query: SELECT * FROM reviews_typo" in message
    assert "fix: correct tables.surveys.query in the mapping file" in message


def test_the_shop_export_reads_through_joins_aggregates_and_filters():
    tables, report = load_tables(SHOP, SHOP / "mapping.toml")
    assert report.ok
    orders = tables.orders.set_index("order_id")
    # Two cancelled orders are left out; items are counted and payments summed per order.
    assert len(orders) == 11 and "ad21c59c0840e6cb" not in orders.index
    assert orders.loc["e69bfb5eb88e0ed6", ["items", "amount"]].tolist() == [4, 283.40]
    # The key is reached through orders -> customers: one person, two checkouts.
    assert orders.loc["82566a660a982b15", "account_id"] == "861eff4711a542e4"
    assert set(tables.surveys["survey"]) == {"csat"}


def test_the_shop_exports_local_times_become_utc_with_daylight_saving_time():
    tables, _ = load_tables(SHOP, SHOP / "mapping.toml")
    ordered = tables.orders.set_index("order_id")["ordered_at"]
    assert ordered["47770eb9100c2d0c"] == pd.Timestamp("2017-10-02 01:30")  # 22:30 at UTC-3
    assert ordered["949d5b44dbf5de91"] == pd.Timestamp("2017-10-20 16:00")  # 14:00 at UTC-2 (DST)


def test_the_shop_exports_reused_review_id_is_kept_once():
    tables, _ = load_tables(SHOP, SHOP / "mapping.toml")
    assert tables.surveys["response_id"].is_unique and len(tables.surveys) == 11
    reused = tables.surveys.set_index("response_id").loc["07f9bee5d1b850860defd761afa7ff16"]
    assert reused["account_id"] == "addec96d2e059c80"


def test_without_de_duplication_the_reused_review_id_breaks_the_contract():
    mapping = Mapping.read(SHOP / "mapping.toml")
    query = mapping.spec("surveys").query.split("QUALIFY")[0]
    document = {"tables": {"accounts": {"query": mapping.spec("accounts").query},
                           "surveys": {"query": query}}}
    with pytest.raises(DataContractError) as caught:
        load_tables(SHOP, Mapping.from_dict(document))
    problem = next(p for p in caught.value.problems if p.rule == "field_uniqueness")
    assert (problem.table, problem.column) == ("surveys", "response_id")
    assert problem.values == ("07f9bee5d1b850860defd761afa7ff16",) * problem.n_rows


def test_a_query_without_a_required_column_is_reported_like_such_a_file(tmp_path):
    shutil.copy(SHOP / "olist_order_reviews_dataset.csv", tmp_path)
    pd.DataFrame({"account_id": ["a"], "signup_date": ["2017-01-01"]}).to_csv(
        tmp_path / "accounts.csv", index=False)
    mapping = Mapping.from_dict({"tables": {"surveys": {"query": (
        "SELECT DISTINCT review_id AS response_id, 'a' AS account_id, 'csat' AS survey, "
        "review_creation_date AS responded_at FROM olist_order_reviews_dataset")}}})
    with pytest.raises(DataContractError) as caught:
        load_tables(tmp_path, mapping)
    [problem] = [p for p in caught.value.problems if p.severity == "error"]
    assert (problem.table, problem.column, problem.rule) == ("surveys", "score", "required_column")


def test_a_mapped_query_and_a_plain_file_mix_in_one_folder(tmp_path):
    for path in SHOP.glob("*.csv"):
        shutil.copy(path, tmp_path)
    accounts = load_tables(SHOP, SHOP / "mapping.toml")[0].accounts
    accounts[["account_id", "signup_date"]].to_csv(tmp_path / "accounts.csv", index=False)
    mapping = Mapping.read(SHOP / "mapping.toml")
    document = {"tables": {"orders": {"query": mapping.spec("orders").query}}}
    tables, _ = load_tables(tmp_path, Mapping.from_dict(document))
    assert len(tables.accounts) == 11 and len(tables.orders) == 11


# --- databases ---------------------------------------------------------------------------


def every_table(url: str) -> Mapping:
    return Mapping.from_dict({"source": url, "tables": {name: {} for name in TABLE_NAMES}})


def test_demo_tables_read_back_from_postgresql_give_the_same_metrics_and_scores(pg_url, demo_folder):
    folder_tables, _ = load_tables(demo_folder)
    frames = folder_tables.present()
    # One table with time-zone-aware timestamps (timestamptz), the others naive (timestamp).
    frames["sessions"] = frames["sessions"].assign(
        started_at=frames["sessions"]["started_at"].dt.tz_localize("UTC"))
    load_into_postgres(pg_url, frames)

    database_tables, report = load_tables(None, every_table(pg_url))
    assert report.ok
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(database_tables, name), getattr(folder_tables, name),
                                      obj=name)
    start, as_of = pd.Timestamp("2025-03-01"), pd.Timestamp("2025-06-01")
    assert (json.dumps(period_metrics(database_tables, start, as_of), sort_keys=True, default=str)
            == json.dumps(period_metrics(folder_tables, start, as_of), sort_keys=True, default=str))
    pd.testing.assert_frame_equal(compute_indicators(database_tables, as_of),
                                  compute_indicators(folder_tables, as_of))
    card = load_scorecard()
    pd.testing.assert_frame_equal(score_tables(database_tables, as_of, card).scores,
                                  score_tables(folder_tables, as_of, card).scores)


def test_database_queries_and_column_names_go_through_the_same_mapping(pg_url, small_tables):
    accounts = small_tables.accounts.rename(columns={"account_id": "CustomerID"})
    load_into_postgres(pg_url, {"crm_accounts": accounts, "answers": small_tables.surveys})
    mapping = Mapping.from_dict({"source": pg_url, "tables": {
        "accounts": {"table": "crm_accounts", "columns": {"account_id": "CustomerID"}},
        "surveys": {"query": "SELECT * FROM answers WHERE survey = 'nps'"},
    }})
    tables, _ = load_tables(None, mapping)
    assert tables.accounts["account_id"].tolist() == ["A1", "A2", "A3"]
    assert set(tables.surveys["survey"]) == {"nps"} and len(tables.surveys) == 2


def test_a_missing_database_table_is_one_line_naming_it_without_the_password(pg_url):
    mapping = Mapping.from_dict({"source": pg_url, "tables": {"accounts": {"table": "crm.nope"}}})
    with pytest.raises(DatabaseError) as caught:
        load_tables(None, mapping)
    message = str(caught.value)
    assert message.startswith("accounts: table 'crm.nope' does not exist in postgresql://postgres:***@")
    assert "\n" not in message and password_of(pg_url) not in message


def test_a_failing_database_query_names_the_table_the_query_and_the_servers_message(pg_url, small_tables):
    load_into_postgres(pg_url, {"accounts": small_tables.accounts})
    mapping = Mapping.from_dict({"source": pg_url, "tables": {
        "accounts": {"query": "SELECT account_id, signup_date / 0 FROM accounts"}}})
    with pytest.raises(DatabaseError) as caught:
        load_tables(None, mapping)
    message = str(caught.value)
    assert message.startswith("accounts: the query of tables.accounts failed on postgresql://postgres:***@")
    assert "operator does not exist: timestamp without time zone / integer" in message
    assert "query: SELECT account_id, signup_date / 0 FROM accounts" in message
    assert password_of(pg_url) not in message


def test_wrong_credentials_are_one_line_without_either_password(pg_url):
    wrong = pg_url.replace(password_of(pg_url), "not-the-password")
    with pytest.raises(DatabaseError) as caught:
        load_tables(None, every_table(wrong))
    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql://postgres:***@127.0.0.1")
    assert 'password authentication failed for user "postgres"' in message
    assert "not-the-password" not in message and password_of(pg_url) not in message
    assert "\n" not in message


def test_an_unreachable_database_is_one_line_naming_the_source():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://cs:hunter2@127.0.0.1:{port}/crm"
    with pytest.raises(DatabaseError) as caught:
        load_tables(None, every_table(url))
    message = str(caught.value)
    assert message.startswith(f"cannot connect to postgresql://cs:***@127.0.0.1:{port}/crm:")
    assert "Connection refused" in message and "hunter2" not in message


def test_any_sqlalchemy_url_can_be_a_source(tmp_path, small_tables):
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    small_tables.accounts.to_sql("accounts", engine, index=False)
    engine.dispose()
    mapping = Mapping.from_dict({"source": f"sqlite:///{tmp_path / 'crm.db'}",
                                 "tables": {"accounts": {}, "orders": {"query": "SELECT 1 AS x"}}})
    raw = read_tables(None, mapping)
    assert raw["accounts"]["account_id"].tolist() == ["A1", "A2", "A3"]
    missing = Mapping.from_dict({"source": f"sqlite:///{tmp_path / 'crm.db'}",
                                 "tables": {"accounts": {"table": "customers"}}})
    with pytest.raises(DatabaseError, match=r"accounts: table 'customers' does not exist in sqlite:///"):
        read_tables(None, missing)


def test_without_a_folder_or_a_database_there_is_nothing_to_read():
    with pytest.raises(DataContractError, match="no input folder was given"):
        load_tables(None, None)
