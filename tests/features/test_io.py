"""Reading and writing table folders (CSV, Parquet) and the mapping file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract import SurveyScale, validate_tables
from features.io import (
    load_tables,
    read_tables,
    write_atomically,
    write_frame,
    write_tables,
)
from features.mapping import Mapping, MappingError
from features.problems import DataContractError


def assert_same_tables(left, right):
    for name in ("accounts", "sessions", "tickets", "orders", "returns", "surveys"):
        pd.testing.assert_frame_equal(
            getattr(left, name).reset_index(drop=True), getattr(right, name).reset_index(drop=True),
            check_dtype=False, obj=name,
        )


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tables_survive_a_round_trip_through_files(tmp_path, small_raw_tables, fmt):
    direct, _ = validate_tables(small_raw_tables)
    paths = write_tables(small_raw_tables, tmp_path, fmt)
    assert sorted(p.name for p in paths) == sorted(f"{name}.{fmt}" for name in small_raw_tables)
    loaded, report = load_tables(tmp_path)
    assert report.ok
    assert_same_tables(loaded, direct)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_validated_tables_survive_a_round_trip_through_files(tmp_path, small_tables, fmt):
    write_tables(small_tables.present(), tmp_path, fmt)
    loaded, _ = load_tables(tmp_path)
    assert_same_tables(loaded, small_tables)
    assert str(loaded.sessions["started_at"].dtype) == "datetime64[ns]"


def test_generated_demo_data_survives_csv_and_parquet(tmp_path, demo_tables):
    for fmt in ("csv", "parquet"):
        write_tables(demo_tables.present(), tmp_path / fmt, fmt)
        loaded, _ = load_tables(tmp_path / fmt)
        assert_same_tables(loaded, demo_tables)


def test_ids_keep_their_leading_zeros_in_csv(tmp_path, small_raw_tables):
    small_raw_tables["accounts"]["account_id"] = ["00123", "0456", "789"]
    small_raw_tables = {"accounts": small_raw_tables["accounts"]}
    write_tables(small_raw_tables, tmp_path, "csv")
    loaded, _ = load_tables(tmp_path)
    assert loaded.accounts["account_id"].tolist() == ["00123", "0456", "789"]


def test_a_folder_may_mix_csv_and_parquet_tables(tmp_path, small_raw_tables):
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts.parquet")
    write_frame(small_raw_tables["sessions"], tmp_path / "sessions.csv")
    loaded, _ = load_tables(tmp_path)
    assert len(loaded.accounts) == 3 and len(loaded.sessions) == 5
    assert loaded.tickets is None


@pytest.mark.parametrize("folder", ["sessions", "sessions.parquet"])
def test_a_table_may_be_a_folder_of_parquet_parts_read_in_the_order_of_their_paths(
        tmp_path, small_raw_tables, folder):
    # As Spark or a chunked export writes it: parts, a _SUCCESS marker, parts in subfolders.
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts.csv")
    sessions = small_raw_tables["sessions"]
    parts = tmp_path / folder
    (parts / "batch2").mkdir(parents=True)
    write_frame(sessions.iloc[3:], parts / "batch2" / "part-0.parquet")  # written first
    (parts / "batch1").mkdir()
    write_frame(sessions.iloc[:3], parts / "batch1" / "part-0.parquet")
    (parts / "_SUCCESS").write_text("")
    loaded, report = load_tables(tmp_path)
    assert report.ok
    direct, _ = validate_tables({"accounts": small_raw_tables["accounts"], "sessions": sessions})
    pd.testing.assert_frame_equal(loaded.sessions.reset_index(drop=True),
                                  direct.sessions.reset_index(drop=True), check_dtype=False)


def test_a_folder_of_parts_with_other_files_or_none_is_refused_by_name(tmp_path, small_raw_tables):
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts.csv")
    (tmp_path / "sessions").mkdir()
    with pytest.raises(DataContractError, match="sessions holds no file"):
        load_tables(tmp_path)
    write_frame(small_raw_tables["sessions"], tmp_path / "sessions" / "part-0.parquet")
    write_frame(small_raw_tables["sessions"], tmp_path / "sessions" / "part-1.csv")
    with pytest.raises(DataContractError, match=r"1 file\(s\) that are not Parquet parts \(part-1.csv\)"):
        load_tables(tmp_path)


def test_a_table_as_both_a_file_and_a_folder_is_ambiguous(tmp_path, small_raw_tables):
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts.csv")
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts" / "part-0.parquet")
    with pytest.raises(DataContractError, match="both accounts.csv and accounts exist"):
        load_tables(tmp_path)


def test_parquet_timezone_aware_columns_are_read_as_naive_utc(tmp_path, small_raw_tables):
    accounts = small_raw_tables["accounts"].copy()
    accounts["signup_date"] = pd.to_datetime(accounts["signup_date"]).dt.tz_localize("America/New_York")
    write_frame(accounts, tmp_path / "accounts.parquet")
    loaded, _ = load_tables(tmp_path)
    assert loaded.accounts["signup_date"].iloc[0] == pd.Timestamp("2024-01-15 05:00")


# --- folder errors ---------------------------------------------------------------------


def test_a_missing_folder_is_reported(tmp_path):
    with pytest.raises(DataContractError, match=r"is not a folder"):
        load_tables(tmp_path / "nowhere")


def test_a_folder_without_accounts_is_reported(tmp_path, small_raw_tables):
    write_frame(small_raw_tables["sessions"], tmp_path / "sessions.csv")
    with pytest.raises(DataContractError, match=r"the accounts table is required"):
        load_tables(tmp_path)


def test_the_same_table_in_two_formats_is_ambiguous(tmp_path, small_raw_tables):
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts.csv")
    write_frame(small_raw_tables["accounts"], tmp_path / "accounts.parquet")
    with pytest.raises(DataContractError, match=r"both accounts\.csv and accounts\.parquet exist"):
        load_tables(tmp_path)


def test_row_numbers_in_csv_errors_are_data_rows(tmp_path, small_raw_tables):
    small_raw_tables["orders"].loc[2, "amount"] = -3.0
    write_tables(small_raw_tables, tmp_path, "csv")
    with pytest.raises(DataContractError, match=r"orders\.amount: must be zero or more\n"
                                                r"\s+1 row\(s\): row 3 \(-3\.0\)"):
        load_tables(tmp_path)
    # Row 3 of the data is line 4 of the file.
    lines = (tmp_path / "orders.csv").read_text().splitlines()
    assert lines[3].startswith("O3,")


# --- writing ---------------------------------------------------------------------------


def test_a_failed_write_leaves_no_file_behind(tmp_path):
    target = tmp_path / "accounts.csv"

    def fail(path: Path) -> None:
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "accounts.csv"
    target.write_text("previous")
    with pytest.raises(RuntimeError):
        write_atomically(target, lambda path: (_ for _ in ()).throw(RuntimeError("stop")))
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["accounts.csv"]


def test_write_frame_rejects_an_unknown_format(tmp_path, small_raw_tables):
    with pytest.raises(ValueError, match=r"format must be one of \('csv', 'parquet'\), got 'xlsx'"):
        write_frame(small_raw_tables["accounts"], tmp_path / "accounts.xlsx")


# --- the mapping file ------------------------------------------------------------------


def write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_mapping_file_renames_files_and_columns(tmp_path, small_raw_tables):
    data = tmp_path / "data"
    customers = small_raw_tables["accounts"].rename(
        columns={"account_id": "CustomerID", "signup_date": "Created"}
    )
    write_frame(customers, data / "customers.csv")
    visits = small_raw_tables["sessions"].rename(columns={"account_id": "CustomerID"})
    write_frame(visits, data / "sessions.csv")
    mapping = write_mapping(tmp_path, """
[tables.accounts]
file = "customers.csv"
columns = { account_id = "CustomerID", signup_date = "Created" }

[tables.sessions.columns]
account_id = "CustomerID"
""")
    tables, _ = load_tables(data, mapping)
    assert tables.accounts["account_id"].tolist() == ["A1", "A2", "A3"]
    assert tables.accounts["signup_date"].iloc[0] == pd.Timestamp("2024-01-15")
    assert set(tables.sessions["account_id"]) == {"A1", "A2", "A3"}


def test_without_the_mapping_own_column_names_are_missing_columns(tmp_path, small_raw_tables):
    customers = small_raw_tables["accounts"].rename(columns={"account_id": "CustomerID"})
    write_frame(customers, tmp_path / "accounts.csv")
    with pytest.raises(DataContractError, match=r"accounts\.account_id: required column is missing"
                                                r"\n\s+fix: add the column, or map your own"):
        load_tables(tmp_path)


def test_the_mapping_file_sets_survey_scales(tmp_path, small_raw_tables):
    surveys = small_raw_tables["surveys"]
    surveys.loc[surveys["survey"].eq("csat"), "score"] = [8.0, 10.0]
    write_tables(small_raw_tables, tmp_path / "data", "csv")
    mapping = write_mapping(tmp_path, "[surveys.csat]\nlow = 1\nhigh = 10\nsatisfied_at = 8\n")
    tables, _ = load_tables(tmp_path / "data", mapping)
    assert tables.scales.csat == SurveyScale(1, 10, satisfied_at=8)
    assert tables.scales.nps == SurveyScale(0, 10)
    with pytest.raises(DataContractError, match=r"csat scores must lie on the csat scale 1-5"):
        load_tables(tmp_path / "data")


def test_a_custom_csat_scale_defaults_to_the_top_fifth_as_satisfied():
    mapping = Mapping.from_dict({"surveys": {"csat": {"low": 1, "high": 10}}})
    assert mapping.scales.csat.satisfied_at == 9


def test_a_reversed_ces_in_the_mapping_file_is_flipped(tmp_path, small_raw_tables):
    write_tables(small_raw_tables, tmp_path / "data", "csv")
    mapping = write_mapping(tmp_path, "[surveys.ces]\nhigher_is_better = false\n")
    tables, _ = load_tables(tmp_path / "data", mapping)
    ces = tables.surveys.loc[tables.surveys["survey"].eq("ces"), "score"]
    assert ces.tolist() == [4.0]  # raw 2 where 1 = very easy
    plain, _ = load_tables(tmp_path / "data")
    assert plain.surveys.loc[plain.surveys["survey"].eq("ces"), "score"].tolist() == [2.0]


def test_a_mapped_file_that_does_not_exist_is_reported(tmp_path, small_raw_tables):
    write_frame(small_raw_tables["accounts"], tmp_path / "data" / "accounts.csv")
    mapping = write_mapping(tmp_path, '[tables.accounts]\nfile = "customers.csv"\n')
    with pytest.raises(DataContractError, match=r"mapped file .*customers\.csv does not exist"):
        load_tables(tmp_path / "data", mapping)


def test_a_mapped_file_that_is_neither_csv_nor_parquet_is_reported(tmp_path, small_raw_tables):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.xlsx").write_bytes(b"PK")
    mapping = write_mapping(tmp_path, '[tables.accounts]\nfile = "customers.xlsx"\n')
    with pytest.raises(DataContractError, match=r"customers\.xlsx is neither CSV nor Parquet"):
        load_tables(tmp_path / "data", mapping)


MALFORMED_MAPPINGS = [
    ("[table.accounts]\nfile = 'a.csv'\n",
     r"unknown top-level key\(s\) \['table'\]; allowed: source, currency, tables, surveys"),
    ("[tables.customers]\nfile = 'a.csv'\n",
     r"\[tables\.customers\] is not a table; allowed: accounts, sessions"),
    ("[tables.accounts]\npath = 'a.csv'\n",
     r"\[tables\.accounts\] has unknown key\(s\) \['path'\]; allowed: file, query, table, "
     r"source, timezone, columns"),
    ("[tables.accounts.columns]\ncustomer = 'CustomerID'\n",
     r"tables\.accounts\.columns maps unknown column\(s\) \['customer'\]; "
     r"the accounts columns are: account_id"),
    ("[surveys.ces_score]\nlow = 1\n",
     r"\[surveys\.ces_score\] is not a survey type; allowed: csat, nps, ces"),
    ("[surveys.nps]\nlowest = 0\n",
     r"\[surveys\.nps\] has unknown key\(s\) \['lowest'\]; allowed: low, high"),
    ("[surveys.nps]\nsatisfied_at = 9\n", r"surveys\.nps\.satisfied_at applies to csat only"),
    ("[surveys.csat]\nlow = 5\nhigh = 1\n",
     r"\[surveys\.csat\] survey scale low \(5\) must be below high \(1\)"),
    ("[surveys.csat]\nsatisfied_at = 6\n",
     r"\[surveys\.csat\] satisfied_at \(6\) must lie on the scale 1-5"),
    ("[tables.accounts\n", r"is not valid TOML"),
]


@pytest.mark.parametrize("text, message", MALFORMED_MAPPINGS)
def test_a_malformed_mapping_file_names_the_key_and_what_is_allowed(tmp_path, text, message):
    with pytest.raises(MappingError, match=message):
        Mapping.read(write_mapping(tmp_path, text))


def test_a_missing_mapping_file_is_reported(tmp_path):
    with pytest.raises(MappingError, match=r"mapping file .*nope\.toml does not exist"):
        load_tables(tmp_path, tmp_path / "nope.toml")


def test_read_tables_returns_raw_tables_with_canonical_names(tmp_path, small_raw_tables):
    write_tables(small_raw_tables, tmp_path, "csv")
    raw = read_tables(tmp_path)
    assert set(raw) == set(small_raw_tables)
    assert raw["accounts"]["account_id"].tolist() == ["A1", "A2", "A3"]


# --- files that cannot be read ---------------------------------------------------------


def _unreadable(folder) -> list:
    with pytest.raises(DataContractError) as info:
        load_tables(folder)
    return info.value.problems


@pytest.fixture
def folder_of(tmp_path, small_raw_tables):
    """A folder of the small tables as CSV, with ``table`` replaced by ``data`` bytes."""
    def make(table: str, data: bytes):
        write_tables(small_raw_tables, tmp_path, "csv")
        (tmp_path / f"{table}.csv").write_bytes(data)
        return tmp_path
    return make


def test_an_empty_csv_file_is_named_with_the_fix(folder_of):
    (problem,) = _unreadable(folder_of("returns", b""))
    assert (problem.table, problem.rule) == ("returns", "empty_file")
    assert "returns.csv is empty" in problem.message and "header row" in problem.fix


def test_an_unterminated_quote_names_the_row_where_it_opens(folder_of):
    body = 'order_id,account_id,ordered_at,amount,items\nO1,A1,2025-01-02,10,1\nO2,A1,"2025-01-03,5,1\n'
    (problem,) = _unreadable(folder_of("orders", body.encode()))
    assert (problem.table, problem.rule) == ("orders", "unterminated_quote")
    assert "row 2 (line 3)" in problem.message and "close the quote" in problem.fix


def test_a_row_with_too_many_fields_is_named(folder_of):
    body = b"order_id,account_id,ordered_at,amount,items\nO1,A1,2025-01-02,10,1\nO2,A1,2025-01-03,5,1,9\n"
    (problem,) = _unreadable(folder_of("orders", body))
    assert "row 2 (line 3) has 6 fields, the header 5" in problem.message


def test_a_utf16_file_is_named_as_utf16(folder_of, small_raw_tables):
    data = small_raw_tables["accounts"].to_csv(index=False).encode("utf-16")
    (problem,) = _unreadable(folder_of("accounts", data))
    assert (problem.table, problem.rule) == ("accounts", "encoding")
    assert "UTF-16" in problem.message and "UTF-8" in problem.fix


def test_a_non_utf8_byte_is_named_with_its_row(folder_of, small_raw_tables):
    accounts = small_raw_tables["accounts"].assign(region=["Europe", "Zürich", "Québec"])
    data = accounts.to_csv(index=False).encode("latin-1")
    (problem,) = _unreadable(folder_of("accounts", data))
    assert "accounts.csv is not UTF-8: byte 0xfc in row 2 (line 3)" in problem.message


def test_a_truncated_parquet_file_is_named_not_a_traceback(tmp_path, small_raw_tables):
    write_tables(small_raw_tables, tmp_path, "parquet")
    data = (tmp_path / "orders.parquet").read_bytes()
    (tmp_path / "orders.parquet").write_bytes(data[: len(data) // 2])
    (problem,) = _unreadable(tmp_path)
    assert (problem.table, problem.rule) == ("orders", "unreadable_file")
    assert "cut off or corrupt" in problem.message


def test_every_unreadable_file_is_named_in_one_pass(folder_of, tmp_path):
    folder_of("returns", b"")
    (tmp_path / "surveys.csv").write_bytes(b"\xff\xfe\x00")
    assert {p.table for p in _unreadable(tmp_path)} == {"returns", "surveys"}


def test_header_only_orders_and_returns_are_valid_empty_tables(folder_of, tmp_path):
    folder_of("orders", b"order_id,account_id,ordered_at,amount,items\n")
    (tmp_path / "returns.csv").write_text("order_id,returned_at,items,amount\n")
    tables, report = load_tables(tmp_path)
    assert report.ok and len(tables.orders) == 0 and len(tables.returns) == 0


def test_parquet_dates_beyond_2262_are_a_problem_not_an_overflow(tmp_path, small_raw_tables):
    accounts = small_raw_tables["accounts"].copy()
    accounts["renewal_date"] = pd.to_datetime(accounts["renewal_date"]).astype("datetime64[us]")
    accounts.loc[1, "renewal_date"] = pd.Timestamp("2999-06-01").as_unit("us")
    accounts.to_parquet(tmp_path / "accounts.parquet")
    (problem,) = _unreadable(tmp_path)
    assert (problem.column, problem.rule, problem.rows) == ("renewal_date", "date_range", (2,))


def test_written_tables_get_the_permissions_the_umask_allows(tmp_path):
    import os

    from features.io import write_frame

    old = os.umask(0o027)
    try:
        path = write_frame(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # not mkstemp's private 0o600


def test_the_mapping_names_the_currency_of_revenue_and_refuses_an_empty_one():
    assert Mapping.from_dict({"currency": " EUR "}).currency == "EUR"
    assert Mapping.from_dict({}).currency is None
    with pytest.raises(MappingError, match='currency must be a code in quotes, e.g. currency = "EUR"'):
        Mapping.from_dict({"currency": 3})
