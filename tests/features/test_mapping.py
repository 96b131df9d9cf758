"""The mapping file: files, SQL queries, database sources, time zones and ${VAR}."""

from __future__ import annotations

import pytest

from features.mapping import Mapping, MappingError


def test_a_query_over_the_folder_has_no_database_source():
    mapping = Mapping.from_dict({"tables": {"orders": {"query": "SELECT 1"}}})
    spec = mapping.spec("orders")
    assert spec.query == "SELECT 1" and not spec.from_database
    assert mapping.reads_from_folder("orders") and mapping.reads_from_folder("accounts")


def test_a_top_level_source_is_every_listed_tables_database():
    mapping = Mapping.from_dict({
        "source": "postgresql://cs:pw@db:5432/crm",
        "tables": {"accounts": {"table": "crm.customers"}, "orders": {"query": "SELECT 1"},
                   "surveys": {}, "tickets": {"file": "tickets.csv"}},
    })
    assert mapping.spec("accounts").source.database == "crm"
    assert mapping.spec("orders").from_database
    assert mapping.spec("surveys").table == "surveys"  # listed without a key: its own name
    assert not mapping.spec("tickets").from_database  # a file stays a file of the folder
    assert not mapping.reads_from_folder("sessions")  # not listed: no such table


def test_a_table_of_a_database_is_read_by_its_quoted_name():
    mapping = Mapping.from_dict({"source": "postgresql://db/crm",
                                 "tables": {"accounts": {"table": 'crm.My "Accounts"'}}})
    assert mapping.spec("accounts").sql() == 'SELECT * FROM "crm"."My ""Accounts"""'


def test_a_table_may_have_its_own_source():
    mapping = Mapping.from_dict({"tables": {"surveys": {"source": "postgresql://db/survey_tool",
                                                        "table": "answers"}}})
    assert mapping.spec("surveys").source.database == "survey_tool"
    assert mapping.reads_from_folder("accounts") and not mapping.reads_from_folder("surveys")


def test_variables_in_a_source_read_the_environment_and_the_password_stays_hidden(monkeypatch):
    monkeypatch.setenv("CH_TEST_PASSWORD", "hunter2")
    mapping = Mapping.from_dict({"source": "postgresql://cs:${CH_TEST_PASSWORD}@db/crm",
                                 "tables": {"accounts": {}}})
    assert mapping.source.password == "hunter2"
    assert "hunter2" not in str(mapping.source) and "hunter2" not in repr(mapping)


def test_time_zones_are_collected_per_table():
    mapping = Mapping.from_dict({"tables": {"orders": {"timezone": "America/Sao_Paulo"},
                                            "surveys": {"file": "s.csv"}}})
    assert mapping.time_zones == {"orders": "America/Sao_Paulo"}


MALFORMED = [
    ({"tables": {"orders": {"file": "o.csv", "query": "SELECT 1"}}},
     r"\[tables\.orders\] gives file and query; give one of file, query, table"),
    ({"tables": {"orders": {"table": "orders"}}},
     r"\[tables\.orders\] table = 'orders' names a database table, but there is no source"),
    ({"tables": {"orders": {"source": "postgresql://db/crm"}}},
     r"\[tables\.orders\] has a source but neither query nor table"),
    ({"tables": {"orders": {"timezone": "America/Sao Paulo"}}},
     r"\[tables\.orders\] timezone 'America/Sao Paulo' is not an IANA time zone; use a name "
     r"such as America/Sao_Paulo"),
    ({"tables": {"orders": {"query": "  "}}}, r"\[tables\.orders\] query must be non-empty text"),
    ({"source": "postgres//db"}, r"source: postgres//db is not a database URL"),
    ({"source": "postgresql://cs:${CH_TEST_UNSET_VARIABLE}@db/crm"},
     r"source uses \$\{CH_TEST_UNSET_VARIABLE\}, which is not set in the environment; "
     r"fix: export CH_TEST_UNSET_VARIABLE"),
    ({"source": 5}, r"source must be a database URL in quotes"),
]


@pytest.mark.parametrize("document, message", MALFORMED)
def test_a_malformed_mapping_names_the_key_and_the_fix(document, message, monkeypatch):
    monkeypatch.delenv("CH_TEST_UNSET_VARIABLE", raising=False)
    with pytest.raises(MappingError, match=message):
        Mapping.from_dict(document)


def test_a_source_that_fails_to_parse_does_not_show_its_password():
    with pytest.raises(MappingError) as caught:
        Mapping.from_dict({"source": "postgresql://cs:hunter2@db:notaport/crm"})
    assert "hunter2" not in str(caught.value) and "cs:***@" in str(caught.value)
