"""Every rule of the table contract, with the error a user sees when it is broken."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import (
    ALL_COLUMNS,
    SurveyScale,
    SurveyScales,
    Tables,
    validate_tables,
)
from features.problems import DataContractError


def broken(raw: dict[str, pd.DataFrame]) -> DataContractError:
    with pytest.raises(DataContractError) as info:
        validate_tables(raw)
    return info.value


# --- what valid tables become ----------------------------------------------------------


def test_valid_tables_pass_with_no_problems(small_raw_tables):
    tables, report = validate_tables(small_raw_tables)
    assert isinstance(tables, Tables)
    assert report.ok and report.problems == ()
    assert report.row_counts == {name: len(frame) for name, frame in small_raw_tables.items()}


def test_validated_timestamps_are_naive_datetimes(small_tables):
    for column in ("signup_date", "churned_at", "renewal_date"):
        assert str(small_tables.accounts[column].dtype) == "datetime64[ns]"
    assert small_tables.sessions["started_at"].iloc[0] == pd.Timestamp("2025-01-05 09:00:00")
    assert pd.isna(small_tables.accounts["churned_at"].iloc[0])


def test_validated_counts_are_nullable_integers_and_converted_is_boolean(small_tables):
    assert str(small_tables.sessions["page_views"].dtype) == "Int64"
    assert str(small_tables.sessions["converted"].dtype) == "boolean"
    assert small_tables.sessions["converted"].tolist() == [True, False, False, True, False]


def test_missing_optional_columns_are_added_empty(small_raw_tables):
    small_raw_tables["accounts"] = small_raw_tables["accounts"][["account_id", "signup_date"]]
    small_raw_tables["tickets"] = small_raw_tables["tickets"].drop(columns=["resolved_at"])
    tables, _ = validate_tables(small_raw_tables)
    assert list(tables.accounts.columns) == list(ALL_COLUMNS["accounts"])
    assert tables.accounts["mrr"].isna().all()
    assert tables.tickets["resolved_at"].isna().all()


def test_only_accounts_is_required_and_missing_tables_are_none(small_raw_tables):
    tables, _ = validate_tables({"accounts": small_raw_tables["accounts"]})
    assert tables.sessions is None and tables.surveys is None
    assert list(tables.present()) == ["accounts"]


def test_validation_does_not_change_the_callers_frames(small_raw_tables):
    before = {name: frame.copy() for name, frame in small_raw_tables.items()}
    validate_tables(small_raw_tables)
    for name, frame in small_raw_tables.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_ids_and_survey_names_are_trimmed_and_survey_names_lower_cased(small_raw_tables):
    small_raw_tables["surveys"]["survey"] = [" NPS", "CSAT", "nps ", "Ces", "csat"]
    small_raw_tables["sessions"]["account_id"] = [" A1", "A1 ", "A2", "A3", "A3"]
    tables, _ = validate_tables(small_raw_tables)
    assert tables.surveys["survey"].tolist() == ["nps", "csat", "nps", "ces", "csat"]
    assert set(tables.sessions["account_id"]) == {"A1", "A2", "A3"}


# --- tables and required columns -------------------------------------------------------


def test_the_accounts_table_is_required(small_raw_tables):
    del small_raw_tables["accounts"]
    error = broken(small_raw_tables)
    assert error.problems[0].rule == "required_table"
    with pytest.raises(DataContractError, match="accounts: the accounts table is required"):
        validate_tables(small_raw_tables)


def test_an_unknown_table_is_an_error_naming_the_allowed_tables(small_raw_tables):
    small_raw_tables["customers"] = small_raw_tables["accounts"]
    with pytest.raises(DataContractError, match=r"customers: is not a table of the contract"):
        validate_tables(small_raw_tables)
    assert "rename the file to one of accounts, sessions" in broken(small_raw_tables).problems[0].fix


@pytest.mark.parametrize(
    "table, column",
    [("accounts", "account_id"), ("accounts", "signup_date"), ("sessions", "started_at"),
     ("tickets", "channel"), ("orders", "amount"), ("returns", "items"), ("surveys", "score")],
)
def test_a_missing_required_column_is_named_with_its_table(small_raw_tables, table, column):
    small_raw_tables[table] = small_raw_tables[table].drop(columns=[column])
    with pytest.raises(DataContractError, match=rf"{table}\.{column}: required column is missing"):
        validate_tables(small_raw_tables)


def test_an_empty_required_value_is_reported_with_its_row(small_raw_tables):
    small_raw_tables["tickets"].loc[1, "account_id"] = None
    with pytest.raises(DataContractError, match=r"tickets\.account_id: required value is empty\n"
                                                r"\s+1 row\(s\): row 2 \(empty\)"):
        validate_tables(small_raw_tables)


# --- types -----------------------------------------------------------------------------


def test_text_in_a_number_column_is_reported_with_row_and_value(small_raw_tables):
    small_raw_tables["accounts"]["mrr"] = ["300", "2,500", "15000"]
    with pytest.raises(DataContractError, match=r"accounts\.mrr: values are not numbers\n"
                                                r"\s+1 row\(s\): row 2 \(2,500\)"):
        validate_tables(small_raw_tables)


def test_a_count_with_decimals_is_reported(small_raw_tables):
    small_raw_tables["sessions"]["page_views"] = [12, 4.5, 2, 20, 7]
    with pytest.raises(DataContractError, match=r"sessions\.page_views: values must be whole numbers"
                                                r"\n\s+1 row\(s\): row 2 \(4\.5\)"):
        validate_tables(small_raw_tables)


def test_numbers_written_as_text_are_read(small_raw_tables):
    small_raw_tables["orders"]["amount"] = ["100", " 250.5 ", "4000"]
    small_raw_tables["orders"]["items"] = ["2", "5", "10"]
    tables, _ = validate_tables(small_raw_tables)
    assert tables.orders["amount"].tolist() == [100.0, 250.5, 4000.0]
    assert tables.orders["items"].tolist() == [2, 5, 10]


def test_negative_amounts_and_counts_are_rejected(small_raw_tables):
    small_raw_tables["orders"]["amount"] = [100.0, -5.0, 4000.0]
    with pytest.raises(DataContractError, match=r"orders\.amount: must be zero or more\n"
                                                r"\s+1 row\(s\): row 2 \(-5\.0\)"):
        validate_tables(small_raw_tables)


def test_a_return_needs_at_least_one_item(small_raw_tables):
    small_raw_tables["returns"]["items"] = [0, 3]
    with pytest.raises(DataContractError, match=r"returns\.items: must be at least 1"):
        validate_tables(small_raw_tables)


def test_converted_accepts_yes_no_and_rejects_other_words(small_raw_tables):
    small_raw_tables["sessions"]["converted"] = ["yes", "no", "1", None, "FALSE"]
    tables, _ = validate_tables(small_raw_tables)
    assert tables.sessions["converted"].tolist()[:3] == [True, False, True]
    assert pd.isna(tables.sessions["converted"].iloc[3])
    small_raw_tables["sessions"]["converted"] = ["yes", "maybe", "no", "no", "no"]
    with pytest.raises(DataContractError, match=r"sessions\.converted: values are not true or false"
                                                r"\n\s+1 row\(s\): row 2 \(maybe\)"):
        validate_tables(small_raw_tables)


def test_an_unknown_survey_type_is_rejected(small_raw_tables):
    small_raw_tables["surveys"]["survey"] = ["nps", "csat", "nss", "ces", "csat"]
    with pytest.raises(DataContractError, match=r"surveys\.survey: must be csat, nps or ces\n"
                                                r"\s+1 row\(s\): row 3 \(nss\)"):
        validate_tables(small_raw_tables)


# --- unique keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, key", [("accounts", "account_id"), ("tickets", "ticket_id"), ("orders", "order_id"),
                   ("surveys", "response_id")],
)
def test_keys_must_be_unique(small_raw_tables, table, key):
    frame = small_raw_tables[table]
    frame.loc[2, key] = frame.loc[0, key]
    with pytest.raises(DataContractError, match=rf"{table}\.{key}: values must be unique"):
        validate_tables(small_raw_tables)
    problem = broken(small_raw_tables).problems[0]
    assert problem.rows == (1, 3) and problem.n_rows == 2


def test_user_ids_may_repeat_across_sessions(small_raw_tables):
    small_raw_tables["sessions"]["user_id"] = "U1"
    validate_tables(small_raw_tables)


# --- references ------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["sessions", "tickets", "orders", "surveys"])
def test_every_account_id_must_exist_in_accounts(small_raw_tables, table):
    small_raw_tables[table].loc[1, "account_id"] = "A404"
    with pytest.raises(DataContractError, match=rf"{table}\.account_id: account_id not found in "
                                                r"accounts\n\s+1 row\(s\): row 2 \(A404\)"):
        validate_tables(small_raw_tables)


def test_every_returned_order_must_exist_in_orders(small_raw_tables):
    small_raw_tables["returns"].loc[0, "order_id"] = "O404"
    with pytest.raises(DataContractError, match=r"returns\.order_id: order_id not found in orders"
                                                r"\n\s+1 row\(s\): row 1 \(O404\)"):
        validate_tables(small_raw_tables)


def test_returns_without_an_orders_table_are_rejected(small_raw_tables):
    del small_raw_tables["orders"]
    with pytest.raises(DataContractError, match=r"order_id not found in orders \(there is no orders"):
        validate_tables(small_raw_tables)


# --- timestamps ------------------------------------------------------------------------


def test_naive_timestamps_mean_utc_and_offsets_are_converted(small_raw_tables):
    small_raw_tables["tickets"]["created_at"] = [
        "2025-01-06T09:00:00", "2025-02-02T12:00:00+02:00", "2025-02-10T11:00:00Z",
    ]
    tables, _ = validate_tables(small_raw_tables)
    assert tables.tickets["created_at"].tolist() == [
        pd.Timestamp("2025-01-06 09:00"), pd.Timestamp("2025-02-02 10:00"),
        pd.Timestamp("2025-02-10 11:00"),
    ]
    assert tables.tickets["created_at"].dt.tz is None


def test_timezone_aware_datetime_columns_are_converted_to_naive_utc(small_raw_tables):
    stamps = pd.to_datetime(small_raw_tables["sessions"]["started_at"]).dt.tz_localize("Asia/Tehran")
    small_raw_tables["sessions"]["started_at"] = stamps
    tables, _ = validate_tables(small_raw_tables)
    # Tehran is UTC+03:30 in winter.
    assert tables.sessions["started_at"].iloc[0] == pd.Timestamp("2025-01-05 05:30:00")


def test_a_value_that_is_not_a_date_is_reported_with_its_row(small_raw_tables):
    small_raw_tables["orders"]["ordered_at"] = ["2025-01-10", "last tuesday", "2025-02-15"]
    with pytest.raises(DataContractError, match=r"orders\.ordered_at: values are not dates or "
                                                r"timestamps\n\s+1 row\(s\): row 2 \(last tuesday\)"):
        validate_tables(small_raw_tables)


def test_an_empty_optional_timestamp_is_allowed(small_raw_tables):
    small_raw_tables["accounts"]["renewal_date"] = [None, "", None]
    tables, _ = validate_tables(small_raw_tables)
    assert tables.accounts["renewal_date"].isna().all()


# --- survey scales ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "survey, score, scale",
    [("nps", 11.0, "0-10"), ("nps", -1.0, "0-10"), ("csat", 0.0, "1-5"), ("ces", 6.0, "1-5")],
)
def test_scores_must_lie_on_their_survey_scale(small_raw_tables, survey, score, scale):
    frame = small_raw_tables["surveys"]
    frame.loc[2, ["survey", "score"]] = [survey, score]
    with pytest.raises(DataContractError, match=rf"surveys\.score: {survey} scores must lie on the "
                                                rf"{survey} scale {scale}\n\s+1 row\(s\): row 3"):
        validate_tables(small_raw_tables)


def test_nps_scores_must_be_whole_numbers(small_raw_tables):
    small_raw_tables["surveys"].loc[0, "score"] = 8.5
    with pytest.raises(DataContractError, match=r"nps scores must be whole numbers 0-10"):
        validate_tables(small_raw_tables)


def test_a_declared_scale_accepts_its_own_range(small_raw_tables):
    small_raw_tables["surveys"].loc[1, "score"] = 9.0  # a CSAT answer on a 1-10 scale
    scales = SurveyScales(csat=SurveyScale(1, 10))
    tables, _ = validate_tables(small_raw_tables, scales=scales)
    assert tables.scales.csat.satisfied_at == 9
    with pytest.raises(DataContractError, match=r"csat scores must lie on the csat scale 1-5"):
        validate_tables(small_raw_tables)


def test_a_reversed_ces_scale_is_flipped_so_higher_is_easier(small_raw_tables):
    scales = SurveyScales(ces=SurveyScale(1, 5, higher_is_better=False))
    tables, _ = validate_tables(small_raw_tables, scales=scales)
    ces = tables.surveys.loc[tables.surveys["survey"].eq("ces"), "score"]
    assert ces.tolist() == [4.0]  # the raw answer 2 on a 1 = very easy scale
    nps = tables.surveys.loc[tables.surveys["survey"].eq("nps"), "score"]
    assert nps.tolist() == [9.0, 3.0]


def test_the_scale_check_runs_even_when_another_table_is_broken(small_raw_tables):
    small_raw_tables["surveys"].loc[0, "score"] = 12.0
    small_raw_tables["sessions"]["page_views"] = [-1, 2, 3, 4, 5]
    rules = {(p.table, p.rule) for p in broken(small_raw_tables).problems}
    assert rules == {("surveys", "scale"), ("sessions", "must be zero or more")}


def test_a_scale_must_run_upwards():
    with pytest.raises(ValueError, match=r"low \(5\) must be below high \(1\)"):
        SurveyScale(5, 1)
    with pytest.raises(ValueError, match=r"satisfied_at \(7\) must lie on the scale 1-5"):
        SurveyScale(1, 5, satisfied_at=7)


# --- ordering rules --------------------------------------------------------------------


def test_a_ticket_cannot_be_resolved_before_it_was_created(small_raw_tables):
    small_raw_tables["tickets"].loc[0, "resolved_at"] = "2025-01-05T09:00:00"
    with pytest.raises(DataContractError, match=r"tickets\.resolved_at: resolved_at is before "
                                                r"created_at\n\s+1 row\(s\): row 1"):
        validate_tables(small_raw_tables)


def test_a_ticket_cannot_be_answered_before_it_was_created(small_raw_tables):
    small_raw_tables["tickets"].loc[1, "first_response_at"] = "2025-02-01T10:00:00"
    with pytest.raises(DataContractError, match=r"tickets\.first_response_at: first_response_at "
                                                r"is before created_at"):
        validate_tables(small_raw_tables)


def test_resolved_at_equal_to_created_at_is_allowed(small_raw_tables):
    small_raw_tables["tickets"].loc[0, "resolved_at"] = small_raw_tables["tickets"].loc[0, "created_at"]
    validate_tables(small_raw_tables)


def test_more_items_returned_than_ordered_is_rejected(small_raw_tables):
    small_raw_tables["returns"]["items"] = [3, 3]  # order O1 had 2 items
    with pytest.raises(DataContractError, match=r"returns\.items: more items returned than the "
                                                r"order had\n\s+1 row\(s\): row 1 \(3\)"):
        validate_tables(small_raw_tables)


def test_returned_items_add_up_over_several_returns_of_one_order(small_raw_tables):
    extra = pd.DataFrame({"order_id": ["O1"], "returned_at": ["2025-01-25"], "items": [2],
                          "amount": [100.0]})
    small_raw_tables["returns"] = pd.concat([small_raw_tables["returns"], extra], ignore_index=True)
    with pytest.raises(DataContractError, match=r"more items returned than the order had"):
        validate_tables(small_raw_tables)


def test_a_return_before_its_order_is_rejected(small_raw_tables):
    small_raw_tables["returns"].loc[1, "returned_at"] = "2025-02-01T00:00:00"
    with pytest.raises(DataContractError, match=r"returns\.returned_at: returned before the order"):
        validate_tables(small_raw_tables)


def test_churn_before_signup_is_rejected(small_raw_tables):
    small_raw_tables["accounts"].loc[1, "churned_at"] = "2024-01-01"
    with pytest.raises(DataContractError, match=r"accounts\.churned_at: churned_at is before "
                                                r"signup_date"):
        validate_tables(small_raw_tables)


@pytest.mark.parametrize(
    "table, column", [("sessions", "started_at"), ("tickets", "created_at"),
                      ("orders", "ordered_at"), ("surveys", "responded_at")],
)
def test_activity_after_churn_is_a_warning_not_an_error(small_raw_tables, table, column):
    frame = small_raw_tables[table]
    frame.loc[1, "account_id"] = "A2"  # churned 2025-02-15 12:00
    frame.loc[1, column] = "2025-03-01T00:00:00"
    if table == "tickets":
        frame.loc[1, ["first_response_at", "resolved_at"]] = None
    tables, report = validate_tables(small_raw_tables)
    assert report.ok
    (warning,) = report.warnings
    assert (warning.table, warning.column, warning.rule) == (table, column, "after_churn")
    assert warning.rows == (2,) and warning.values == ("A2",)
    assert "activity after the account's churned_at" in report.describe()


# --- the error itself ------------------------------------------------------------------


def test_all_problems_are_reported_together(small_raw_tables):
    small_raw_tables["accounts"].loc[2, "account_id"] = "A1"
    small_raw_tables["orders"].loc[0, "ordered_at"] = "soon"
    small_raw_tables["surveys"].loc[0, "survey"] = "ces?"
    error = broken(small_raw_tables)
    # A3's rows in other tables now refer to no account: reported too, not hidden.
    assert {(p.table, p.column, p.rule) for p in error.problems} == {
        ("accounts", "account_id", "field_uniqueness"), ("orders", "ordered_at", "timestamp"),
        ("surveys", "survey", "must be csat, nps or ces"),
        ("sessions", "account_id", "reference"),
        ("tickets", "account_id", "reference"), ("orders", "account_id", "reference"),
        ("surveys", "account_id", "reference"),
    }
    assert str(error).startswith("7 problem(s) in the input tables:")


def test_a_duplicate_id_does_not_hide_a_time_order_error(small_raw_tables):
    small_raw_tables["tickets"].loc[1, "ticket_id"] = small_raw_tables["tickets"].loc[0, "ticket_id"]
    small_raw_tables["tickets"].loc[0, "resolved_at"] = "2024-12-01T00:00:00"
    rules = {(p.table, p.column, p.rule) for p in broken(small_raw_tables).problems}
    assert rules == {("tickets", "ticket_id", "field_uniqueness"),
                     ("tickets", "resolved_at", "order")}


def test_a_bad_date_does_not_hide_a_survey_scale_error(small_raw_tables):
    small_raw_tables["surveys"].loc[0, "responded_at"] = "last tuesday"
    small_raw_tables["surveys"].loc[1, "score"] = 7.0  # csat on 1-5
    rules = {(p.table, p.column, p.rule) for p in broken(small_raw_tables).problems}
    assert rules == {("surveys", "responded_at", "timestamp"), ("surveys", "score", "scale")}


def test_every_missing_required_column_is_named(small_raw_tables):
    small_raw_tables["orders"] = small_raw_tables["orders"].drop(columns=["amount", "items", "ordered_at"])
    missing = {p.column for p in broken(small_raw_tables).problems if p.rule == "required_column"}
    assert missing == {"amount", "items", "ordered_at"}


def test_a_header_only_accounts_table_is_reported_as_empty(small_raw_tables):
    small_raw_tables["accounts"] = small_raw_tables["accounts"].iloc[:0]
    (problem,) = broken(small_raw_tables).problems
    assert (problem.table, problem.rule) == ("accounts", "empty_table")
    assert "accounts is empty" in problem.message


@pytest.mark.parametrize("value", ["2999-03-22", "1492-10-12T00:00:00"])
def test_dates_outside_what_timestamps_hold_are_a_problem_with_their_row(small_raw_tables, value):
    small_raw_tables["orders"].loc[1, "ordered_at"] = value
    (problem,) = broken(small_raw_tables).problems
    assert (problem.table, problem.column, problem.rule, problem.rows) == (
        "orders", "ordered_at", "date_range", (2,))
    assert "1677-09-22 to 2262-04-11" in problem.message


def test_bidirectional_controls_are_shown_escaped_never_raw(small_raw_tables):
    small_raw_tables["sessions"].loc[0, "account_id"] = "A1\N{RIGHT-TO-LEFT OVERRIDE}gpj.exe"
    error = broken(small_raw_tables)
    assert "\u202e" not in str(error)
    assert "A1\\u202egpj.exe" in str(error)


def test_the_error_is_a_value_error_with_structured_problems(small_raw_tables):
    small_raw_tables["orders"]["items"] = [-1, -2, -3]
    error = broken(small_raw_tables)
    assert isinstance(error, ValueError)
    (problem,) = error.problems
    detail = problem.as_dict()
    assert detail["table"] == "orders" and detail["column"] == "items"
    assert detail["rows"] == [1, 2, 3] and detail["values"] == ["-1", "-2", "-3"]
    assert detail["fix"].startswith("correct the value")


def test_at_most_five_example_rows_are_listed_with_a_count_of_the_rest(small_raw_tables):
    sessions = pd.concat([small_raw_tables["sessions"]] * 3, ignore_index=True)
    sessions["duration_seconds"] = -1.0
    small_raw_tables["sessions"] = sessions
    (problem,) = broken(small_raw_tables).problems
    assert problem.n_rows == 15 and problem.rows == (1, 2, 3, 4, 5)
    assert "and 10 more" in problem.describe()


def test_row_numbers_count_data_rows_from_one_whatever_the_index(small_raw_tables):
    small_raw_tables["orders"].index = [10, 20, 30]
    small_raw_tables["orders"].loc[30, "amount"] = -1.0
    (problem,) = broken(small_raw_tables).problems
    assert problem.rows == (3,)


# --- properties ------------------------------------------------------------------------

SHARED_FIXTURE = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def fresh(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in raw.items()}


@settings(max_examples=12, **SHARED_FIXTURE)
@given(minutes=st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_any_utc_offset_is_converted_to_the_same_instant(small_raw_tables, minutes):
    sign = "+" if minutes >= 0 else "-"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    raw = {"accounts": small_raw_tables["accounts"].copy()}
    raw["accounts"]["signup_date"] = [f"2024-01-15T12:00:00{offset}", "2024-06-01", "2025-01-10"]
    tables, _ = validate_tables(raw)
    expected = pd.Timestamp("2024-01-15 12:00") - pd.Timedelta(minutes=minutes)
    assert tables.accounts["signup_date"].iloc[0] == expected


@settings(max_examples=3, **SHARED_FIXTURE)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_row_order_does_not_change_what_is_found(small_raw_tables, seed):
    raw = fresh(small_raw_tables)
    raw["orders"].loc[1, "amount"] = -1.0
    shuffled = {name: frame.sample(frac=1, random_state=seed) for name, frame in raw.items()}
    found = {}
    for label, tables in (("given", raw), ("shuffled", shuffled)):
        with pytest.raises(DataContractError) as info:
            validate_tables(tables)
        (problem,) = info.value.problems
        found[label] = (problem.table, problem.column, problem.rule, problem.values)
    assert found["given"] == found["shuffled"]


# --- time zones ---------------------------------------------------------------------------


def test_a_tables_time_zone_turns_its_naive_local_times_into_utc(small_raw_tables):
    small_raw_tables["orders"]["ordered_at"] = [
        "2025-01-10T12:00:00",          # Sao Paulo is UTC-3 all year since 2019
        "2025-02-10T12:00:00-05:00",    # an offset of its own wins over the table's zone
        "2025-02-15",                   # a bare date is local midnight
    ]
    tables, _ = validate_tables(small_raw_tables, time_zones={"orders": "America/Sao_Paulo"})
    assert tables.orders["ordered_at"].tolist() == [
        pd.Timestamp("2025-01-10 15:00"), pd.Timestamp("2025-02-10 17:00"),
        pd.Timestamp("2025-02-15 03:00"),
    ]
    # Other tables keep reading naive values as UTC.
    assert tables.accounts["signup_date"].iloc[0] == pd.Timestamp("2024-01-15")


def test_a_time_zone_follows_daylight_saving_time(small_raw_tables):
    small_raw_tables["sessions"]["started_at"] = [
        "2025-01-05T09:00:00", "2025-07-05T09:00:00", "2025-03-30T02:30:00",  # 02:30 never happened
        "2025-10-26T02:30:00", "2025-03-01T16:45:00",  # 02:30 happened twice: the first is read
    ]
    tables, _ = validate_tables(small_raw_tables, time_zones={"sessions": "Europe/Berlin"})
    assert tables.sessions["started_at"].tolist() == [
        pd.Timestamp("2025-01-05 08:00"), pd.Timestamp("2025-07-05 07:00"),
        pd.Timestamp("2025-03-30 01:00"), pd.Timestamp("2025-10-26 00:30"),
        pd.Timestamp("2025-03-01 15:45"),
    ]


def test_a_time_zone_applies_to_naive_datetime_columns_too(small_raw_tables):
    accounts = small_raw_tables["accounts"]
    accounts["signup_date"] = pd.to_datetime(accounts["signup_date"])
    tables, _ = validate_tables(small_raw_tables, time_zones={"accounts": "Asia/Tokyo"})
    assert tables.accounts["signup_date"].iloc[0] == pd.Timestamp("2024-01-14 15:00")
