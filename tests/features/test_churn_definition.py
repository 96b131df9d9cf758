"""What churn means: features/churn_definition.py and the mapping file's [churn] section."""

from __future__ import annotations

import pandas as pd
import pytest

from features.churn_definition import (
    ChurnDefinition,
    ChurnDefinitionError,
    apply_churn_definition,
    churn_as_of,
    derive_lapse_days,
    gap_percentiles,
    lapse_dates,
    repeat_gaps,
    resolve_churn_definition,
)
from features.contract import validate_tables
from features.indicators import active_accounts
from features.io import load_tables, write_tables
from features.mapping import ChurnSpec, Mapping, MappingError
from features.scorecard_config import load_scorecard


def _shop(orders: list[tuple[str, str]], churned: dict[str, str] | None = None) -> dict:
    ids = sorted({a for a, _ in orders} | {"never"})
    accounts = pd.DataFrame({"account_id": ids, "signup_date": ["2024-01-01"] * len(ids)})
    if churned is not None:
        accounts["churned_at"] = [churned.get(a) for a in ids]
    frame = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(orders))],
        "account_id": [a for a, _ in orders],
        "ordered_at": [t for _, t in orders],
        "amount": 10.0, "items": 1,
    })
    return {"accounts": accounts, "orders": frame}


ORDERS = [("a", "2024-01-10"), ("a", "2024-02-09"), ("a", "2024-03-10"),
          ("b", "2024-01-05"), ("b", "2024-03-05"), ("c", "2024-06-20")]


def _tables(raw):
    tables, _ = validate_tables(raw)
    return tables


def test_the_mapping_reads_a_churn_section():
    spec = Mapping.from_dict({"churn": {"definition": "lapse", "lapse_days": 120,
                                        "activity": "any"}}).churn
    assert spec == ChurnSpec("lapse", 120, "any")
    assert Mapping.from_dict({}).churn == ChurnSpec()


@pytest.mark.parametrize(("section", "match"), [
    ({"lapse_days": 0}, r"\[churn\] lapse_days = 0 must be a whole number of days above 0"),
    ({"lapse_days": -30}, r"lapse_days = -30 must be .* above 0"),
    ({"lapse_days": 30.5}, r"lapse_days = 30.5 must be a whole number"),
    ({"definition": "cancelled"}, r"definition = 'cancelled' is not a churn definition.*recorded.*lapse"),
    ({"activity": "logins"}, r"activity = 'logins' must be \"orders\".*or \"any\""),
    ({"definition": "recorded", "lapse_days": 90}, r"lapse_days applies to definition = \"lapse\" only"),
    ({"lapse": 90}, r"unknown key\(s\) \['lapse'\]; allowed: definition, lapse_days, activity"),
])
def test_a_bad_churn_section_names_the_setting_and_the_fix(section, match):
    with pytest.raises(MappingError, match=match):
        Mapping.from_dict({"churn": section})


def test_repeat_gaps_are_the_days_between_a_customers_orders_whatever_the_row_order():
    frame = _shop(ORDERS)["orders"]
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    gaps = sorted(repeat_gaps(frame))
    assert gaps == [30.0, 30.0, 60.0]
    assert sorted(repeat_gaps(frame.iloc[::-1])) == gaps
    assert gap_percentiles(frame)[50] == 30.0


def test_the_derived_lapse_is_the_95th_percentile_of_gaps_rounded_up_to_30_days():
    frame = pd.DataFrame({"account_id": ["a"] * 3 + ["b"] * 2,
                          "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-21",
                                                        "2024-01-01", "2024-05-01"])})
    # gaps 10, 10, 121 days: the 95th percentile is ~110 days, so four months of 30.
    assert derive_lapse_days(frame) == 120
    assert derive_lapse_days(frame.iloc[:3]) == 30  # never below one month


def test_without_any_repeat_purchase_the_lapse_cannot_be_derived():
    tables = _tables(_shop([("a", "2024-01-01"), ("b", "2024-02-01")]))
    with pytest.raises(ChurnDefinitionError, match=r"\[churn\] lapse_days cannot be derived: no "
                       r"customer in orders ordered twice.*set lapse_days"):
        resolve_churn_definition(tables)


def test_a_lapse_without_an_orders_table_names_the_setting():
    tables = _tables({"accounts": _shop(ORDERS)["accounts"]})
    with pytest.raises(ChurnDefinitionError, match=r'definition = "lapse" needs an orders table'):
        resolve_churn_definition(tables, ChurnSpec("lapse", 90))


def test_no_churn_column_and_an_orders_table_choose_a_lapse_derived_from_the_data():
    definition = resolve_churn_definition(_tables(_shop(ORDERS)))
    assert definition.is_lapse and definition.lapse_days == 60
    assert "chosen: no accounts.churned_at and an orders table" in definition.source
    assert "lapse_days 60 derived" in definition.source


def test_recorded_churn_is_kept_when_the_accounts_hold_it():
    tables = _tables(_shop(ORDERS, churned={"b": "2024-04-01"}))
    applied = apply_churn_definition(tables)
    assert applied.churn.definition == "recorded"
    pd.testing.assert_frame_equal(applied.accounts, tables.accounts)


def test_a_lapse_is_the_last_order_plus_the_lapse_once_the_data_reaches_it():
    tables = _tables(_shop(ORDERS))
    churned = lapse_dates(tables, ChurnDefinition("lapse", 60))
    # The data ends on 2024-06-21 (the day after the last order).
    assert churned["a"] == pd.Timestamp("2024-05-09")
    assert churned["b"] == pd.Timestamp("2024-05-04")
    assert pd.isna(churned["c"])  # ordered on 2024-06-20: still a customer
    assert churned["never"] == pd.Timestamp("2024-03-01")  # counted from signup


def test_applying_a_lapse_writes_churned_at_and_leaves_the_input_alone():
    tables = _tables(_shop(ORDERS, churned={"c": "2024-02-01"}))
    applied = apply_churn_definition(tables, ChurnSpec("lapse", 60))
    assert applied.churn == ChurnDefinition("lapse", 60, "orders", "the mapping file")
    assert applied.accounts.set_index("account_id")["churned_at"].isna().tolist() == [
        False, False, True, False]
    assert tables.accounts["churned_at"].notna().sum() == 1  # the recorded date, unchanged


def test_activity_any_keeps_a_customer_alive_by_sessions_too():
    raw = _shop(ORDERS)
    raw["sessions"] = pd.DataFrame({"account_id": ["a"], "user_id": ["u"],
                                    "started_at": ["2024-06-01"], "duration_seconds": [60.0],
                                    "page_views": [3]})
    tables = _tables(raw)
    orders_only = lapse_dates(tables, ChurnDefinition("lapse", 60, "orders"))
    any_activity = lapse_dates(tables, ChurnDefinition("lapse", 60, "any"))
    assert pd.notna(orders_only["a"]) and pd.isna(any_activity["a"])


def test_load_tables_applies_the_mapping_and_the_lapse_picks_the_transactional_scorecard(tmp_path):
    write_tables(_shop(ORDERS), tmp_path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[churn]\ndefinition = "lapse"\nlapse_days = 90\n', encoding="utf-8")
    tables, _ = load_tables(tmp_path, mapping)
    assert tables.churn.lapse_days == 90
    assert load_scorecard(churn=tables.churn).source == "features/scorecard_transactional.toml"
    assert load_scorecard().source == "features/scorecard_default.toml"


def test_describe_and_metadata_say_what_churn_means():
    definition = ChurnDefinition("lapse", 90, "orders", "the mapping file")
    assert definition.describe() == "churn = a lapse: no order for 90 days (the mapping file)"
    assert definition.metadata() == {
        "churn_definition": "lapse", "churn_lapse_days": 90, "churn_activity": "orders",
        "churn_definition_source": "the mapping file"}


def test_a_customer_who_lapsed_and_came_back_is_lost_inside_the_gap_and_a_customer_after():
    # a orders on 01-10, is quiet for 150 days, orders again on 06-08 and 06-20.
    tables = apply_churn_definition(_tables(_shop(ORDERS + [("a", "2024-06-08")])),
                                    ChurnSpec("lapse", 60))
    assert pd.isna(tables.accounts.set_index("account_id").loc["a", "churned_at"])  # seen now
    in_gap = churn_as_of(tables, pd.Timestamp("2024-05-20")).accounts.set_index("account_id")
    assert in_gap.loc["a", "churned_at"] == pd.Timestamp("2024-05-09")  # lost before 05-20
    before_gap = churn_as_of(tables, pd.Timestamp("2024-03-20")).accounts.set_index("account_id")
    # Seen on 03-20 the coming lapse is on 05-09, known only from rows before 05-09.
    assert before_gap.loc["a", "churned_at"] == pd.Timestamp("2024-05-09")
    assert "a" not in active_accounts(in_gap.reset_index(), "2024-05-20")
    now = churn_as_of(tables, pd.Timestamp("2024-06-21")).accounts
    assert active_accounts(now, "2024-06-21").tolist() == ["a", "c"]


def test_the_churn_seen_at_a_date_does_not_depend_on_orders_after_the_lapse():
    base = apply_churn_definition(_tables(_shop(ORDERS)), ChurnSpec("lapse", 60))
    later = apply_churn_definition(_tables(_shop(ORDERS + [("a", "2024-06-15")])),
                                   ChurnSpec("lapse", 60))
    as_of = pd.Timestamp("2024-04-01")
    pd.testing.assert_frame_equal(churn_as_of(base, as_of).accounts,
                                  churn_as_of(later, as_of).accounts)


def test_recorded_churn_is_the_same_at_every_date():
    tables = apply_churn_definition(_tables(_shop(ORDERS, churned={"b": "2024-04-01"})))
    assert churn_as_of(tables, pd.Timestamp("2024-02-01")) is tables


def test_parts_of_the_customers_given_the_whole_inputs_end_get_the_wholes_lapse_and_dates():
    """What the Spark engine does with its buckets: each part's gaps and last event make
    the whole's lapse and data end, and each part then gets the whole's churn dates."""
    import dataclasses

    import numpy as np

    from features.churn_definition import (
        data_end,
        day_after,
        lapse_from_gaps,
        lapse_gaps,
        last_event,
        with_churn_definition,
    )
    from features.demo_shop import generate_shop_data

    raw = generate_shop_data(accounts=80, months=8, seed=5)
    whole = apply_churn_definition(validate_tables(raw)[0])
    ids = whole.accounts["account_id"]
    parts = [validate_tables({
        "accounts": whole.accounts.loc[ids.isin(chunk)].drop(columns="churned_at"),
        "orders": whole.orders.loc[whole.orders["account_id"].isin(chunk)],
        "sessions": whole.sessions.loc[whole.sessions["account_id"].isin(chunk)],
    })[0] for chunk in np.array_split(ids.to_numpy()[::-1], 3)]
    gaps = np.concatenate([lapse_gaps(part, True).to_numpy() for part in parts])
    assert lapse_from_gaps(gaps) == whole.churn.lapse_days
    end = day_after(max(last_event(part) for part in parts))
    assert end == data_end(whole)
    assert any(data_end(part) != end for part in parts)  # a part alone would see another end
    churn = dataclasses.replace(whole.churn, data_end=end)
    assert churn == whole.churn  # where the data ends is no part of the definition
    dated = pd.concat([with_churn_definition(part, churn).accounts for part in parts])
    got = dated.set_index("account_id")["churned_at"].sort_index()
    want = whole.accounts.set_index("account_id")["churned_at"].sort_index()
    pd.testing.assert_series_equal(got, want)
    as_of = pd.Timestamp("2025-06-01")
    seen = pd.concat([churn_as_of(with_churn_definition(part, churn), as_of).accounts for part in parts])
    pd.testing.assert_series_equal(
        seen.set_index("account_id")["churned_at"].sort_index(),
        churn_as_of(whole, as_of).accounts.set_index("account_id")["churned_at"].sort_index())
