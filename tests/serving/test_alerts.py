"""The call list: one row per account, every reason in words, the most urgent first."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.alerts import CALL_LIST_COLUMNS, AlertInputError, find_alerts

BANDS = ["red", "yellow", "green"]


def frame(rows, **extra):
    scores = pd.DataFrame(rows, columns=["account_id", "health_score", "health_band", "churn_probability"])
    return scores.assign(**extra)


def test_a_band_that_got_worse_lists_the_account_with_the_reason():
    calls = find_alerts(frame([("a", 60.0, "yellow", None), ("b", 90.0, "green", None)]),
                        frame([("a", 80.0, "green", None), ("b", 70.0, "yellow", None)]),
                        band_order=BANDS)
    assert calls[["account_id", "rules", "reasons"]].values.tolist() == [
        ["a", "band_worse", "health band fell from green to yellow"]
    ]


def test_a_move_into_red_is_one_reason_not_two():
    calls = find_alerts(
        frame([("a", 30.0, "red", None), ("b", 20.0, "red", None), ("c", 40.0, "red", None)]),
        frame([("a", 60.0, "yellow", None), ("b", 25.0, "red", None)]),
        band_order=BANDS,
    )
    assert calls.set_index("account_id")["reasons"].to_dict() == {
        "a": "crossed into red: score 30, was yellow",
        "c": "in red (score 40), not in the previous run",
    }
    assert calls.set_index("account_id")["rules"].to_dict() == {"a": "entered_red", "c": "entered_red"}


def test_without_a_previous_run_every_red_account_is_on_the_list():
    calls = find_alerts(frame([("a", 30.0, "red", 0.5), ("b", 80.0, "green", 0.1)]), None,
                        band_order=BANDS)
    assert calls[["account_id", "reasons"]].values.tolist() == [
        ["a", "in red (score 30), no previous run to compare"]
    ]


def test_churn_risk_rising_more_than_the_threshold_lists_the_account():
    now = frame([("a", 80.0, "green", 0.35), ("b", 80.0, "green", 0.30), ("c", 80.0, "green", 0.9)])
    before = frame([("a", 80.0, "green", 0.20), ("b", 80.0, "green", 0.20), ("c", 80.0, "green", None)])
    calls = find_alerts(now, before, band_order=BANDS, risk_rise=0.10)
    assert calls[["account_id", "rules", "reasons"]].values.tolist() == [
        ["a", "risk_rose", "churn risk rose from 20% to 35% (+15 points, listed above +10)"]
    ]  # b rose by exactly the threshold, c has no previous probability
    assert find_alerts(now, before, band_order=BANDS, risk_rise=0.2).empty


def test_every_reason_of_an_account_is_on_its_one_row():
    calls = find_alerts(frame([("a", 30.0, "red", 0.6)]), frame([("a", 60.0, "yellow", 0.2)]),
                        band_order=BANDS)
    assert len(calls) == 1
    assert calls.loc[0, "rules"] == "entered_red risk_rose"
    assert calls.loc[0, "reasons"] == ("crossed into red: score 30, was yellow; churn risk rose "
                                       "from 20% to 60% (+40 points, listed above +10)")


def test_a_red_account_that_fell_to_insufficient_data_is_listed():
    calls = find_alerts(frame([("a", None, "insufficient data", None), ("b", None, "insufficient data", None)]),
                        frame([("a", 20.0, "red", None), ("b", 90.0, "green", None)]), band_order=BANDS)
    assert calls["account_id"].tolist() == ["a"]
    assert calls.loc[0, "rules"] == "lost_score"
    assert calls.loc[0, "reasons"].startswith("fell from red to too little data for a score")


def test_the_list_is_ordered_by_revenue_at_stake_then_risk_then_score():
    now = frame([("small", 30.0, "red", 0.9), ("big", 35.0, "red", 0.5), ("tie1", 20.0, "red", 0.4),
                 ("tie2", 10.0, "red", 0.4), ("unknown", 5.0, "red", 0.95)],
                mrr=[100.0, 1000.0, 50.0, 50.0, np.nan], owner=["Ana", "Ben", None, "Ana", "Ben"],
                segment=["SMB", "Enterprise", "SMB", "SMB", "SMB"])
    calls = find_alerts(now, None, band_order=BANDS, currency="EUR")
    # 500 at stake, then 90, then two of 20 (the lower score first), unknown revenue last
    assert calls["account_id"].tolist() == ["big", "small", "tie2", "tie1", "unknown"]
    assert calls["revenue_at_stake"].tolist()[:4] == pytest.approx([500.0, 90.0, 20.0, 20.0])
    assert calls["rank"].tolist() == [1, 2, 3, 4, 5]
    assert calls.loc[0, ["owner", "segment", "currency", "monthly_revenue"]].tolist() == [
        "Ben", "Enterprise", "EUR", 1000.0]
    assert list(calls.columns) == list(CALL_LIST_COLUMNS)


def test_the_top_drivers_are_the_churn_drivers_else_the_health_drivers():
    now = frame([("a", 30.0, "red", 0.5), ("b", 20.0, "red", None)],
                churn_drivers=['[{"text": "CSAT is 38%"}, {"text": "2 tickets"}]', None],
                health_drivers=['[{"text": "low CSAT"}]', '[{"text": "no logins"}]'])
    calls = find_alerts(now, None, band_order=BANDS).set_index("account_id")
    assert calls.loc["a", "top_drivers"] == "CSAT is 38%; 2 tickets"
    assert calls.loc["b", "top_drivers"] == "no logins"


def test_the_call_list_refuses_frames_without_the_needed_columns():
    with pytest.raises(AlertInputError, match=r"lacks column\(s\) \['churn_probability'\]"):
        find_alerts(pd.DataFrame({"account_id": ["a"], "health_score": [1.0], "health_band": ["red"]}),
                    None, band_order=BANDS)
    with pytest.raises(ValueError, match="risk_rise must lie within 0-1"):
        find_alerts(frame([]), None, band_order=BANDS, risk_rise=-0.1)
    with pytest.raises(ValueError, match="band_order is empty"):
        find_alerts(frame([]), None, band_order=[])


def test_no_active_account_gives_an_empty_list_not_a_numpy_error():
    empty = frame([]).astype({"health_score": float, "churn_probability": float})
    calls = find_alerts(empty, None, band_order=BANDS)
    assert calls.empty and list(calls.columns) == list(CALL_LIST_COLUMNS)
    assert find_alerts(empty, frame([("a", 40.0, "red", 0.5)]), band_order=BANDS).empty


def test_row_order_of_the_input_does_not_change_the_list():
    rng = np.random.default_rng(3)
    n = 300
    now = frame(list(zip([f"a{i}" for i in range(n)], rng.uniform(0, 100, n),
                         rng.choice(BANDS, n), rng.uniform(0, 1, n))), mrr=rng.uniform(0, 500, n))
    before = now.assign(health_band=rng.choice(BANDS, n), churn_probability=rng.uniform(0, 1, n))
    calls = find_alerts(now, before, band_order=BANDS)
    shuffled = find_alerts(now.sample(frac=1, random_state=1), before.sample(frac=1, random_state=2),
                           band_order=BANDS)
    pd.testing.assert_frame_equal(calls, shuffled)
    assert calls["account_id"].is_unique and len(calls) > 0


def test_a_driver_that_reads_backwards_is_left_out_of_the_top_drivers():
    drivers = json.dumps([
        {"indicator": "csat_90d", "value": 95.0, "contribution": 0.4,
         "text": "CSAT, last 90 days is 95% — raises churn risk"},
        {"indicator": "csat_90d", "value": 30.0, "contribution": 0.3,
         "text": "CSAT, last 90 days is 30% — raises churn risk"},
    ])
    now = frame([("a", 30.0, "red", 0.5)], churn_drivers=[drivers])
    typical = {"csat_90d": 70.0}
    assert find_alerts(now, None, band_order=BANDS, typical=typical).loc[0, "top_drivers"] == (
        "CSAT, last 90 days is 30% — raises churn risk")
    # without a typical value nothing can be judged, so nothing is left out
    assert "95%" in find_alerts(now, None, band_order=BANDS).loc[0, "top_drivers"]


def test_top_driver_texts_read_lists_and_json_cells_as_driver_texts_does_each():
    from serving.alerts import driver_texts, top_driver_texts

    typical = {"csat_90d": 70.0, "tickets_90d": 2.0}
    cells = [
        [{"indicator": "csat_90d", "value": 95.0, "contribution": 0.4, "text": "CSAT 95%"},
         {"indicator": "tickets_90d", "value": 5, "contribution": 0.2, "text": "5 tickets"},
         {"indicator": "csat_90d", "value": None, "contribution": 0.3, "text": "CSAT: no data"},
         {"indicator": "segment", "value": "SMB", "contribution": -0.1, "text": "Segment SMB"}],
        [{"measure": "logins", "points_lost": 4.0}, 0, "plain words", {"indicator": "csat_90d"}],
        [], None, float("nan"),
    ]
    expected = ["; ".join(driver_texts(cell, typical)[:3]) for cell in cells]
    assert expected[0] == "5 tickets; CSAT: no data; Segment SMB"
    index = pd.Index(list("vwxyz"))
    in_memory = top_driver_texts(pd.Series(cells, index=index, dtype=object), typical=typical)
    assert in_memory.tolist() == expected and in_memory.index.equals(index)
    as_json = pd.Series([json.dumps(c) if isinstance(c, list) else c for c in cells], dtype=object)
    assert top_driver_texts(as_json, typical=typical).tolist() == expected
    # a cell that is not JSON text reads as its own words, as driver_texts reads it
    odd = pd.Series(["no logins for 40 days", as_json[0]], dtype=object)
    assert top_driver_texts(odd, typical=typical).tolist() == [
        "no logins for 40 days", expected[0]]


_FIELDS = {
    "indicator": ["csat_90d", "tickets_90d", "segment"],
    # the typical values themselves, numbers either side, and what is not a number
    "value": [70.0, 2, 0, 5, 90.0, -1.5, float("nan"), True, False, None, "SMB"],
    "contribution": [0.3, -0.3, 0.0, None, float("nan")],
    "text": ["", "CSAT 95%"],
}
_TYPICAL = {"csat_90d": 70.0, "tickets_90d": 2.0, "segment": 1.0}


def _as_json(cells: pd.Series) -> pd.Series:
    return cells.map(lambda cell: None if cell is None else json.dumps(cell))


@pytest.mark.parametrize("top", [1, 2, 3])
def test_every_kind_of_driver_is_left_out_or_kept_as_driver_texts_decides(top):
    # Every combination of indicator, value, contribution and text, in cells of 1 to 5
    # drivers: read all at once, each cell says what driver_texts says of it on its own.
    from serving.alerts import driver_texts, top_driver_texts

    drivers = [dict(zip(_FIELDS, combination)) for combination in itertools.product(*_FIELDS.values())]
    sizes = itertools.cycle([1, 2, 3, 4, 5])
    cells, start = [], 0
    while start < len(drivers):
        end = start + next(sizes)
        cells.append(drivers[start:end])
        start = end
    expected = ["; ".join(driver_texts(cell, _TYPICAL)[:top]) for cell in cells]
    assert sum(len(driver_texts(cell, _TYPICAL)) for cell in cells) < len(drivers)  # some left out
    series = pd.Series(cells, dtype=object)
    assert top_driver_texts(series, top, typical=_TYPICAL).tolist() == expected
    assert top_driver_texts(_as_json(series), top, typical=_TYPICAL).tolist() == expected


_DRIVERS = st.one_of(
    st.fixed_dictionaries({}, optional={
        **{name: st.sampled_from(values) for name, values in _FIELDS.items()},
        "measure": st.sampled_from(["", "logins"]),
    }),
    st.sampled_from([0, "plain words", ""]),  # not a dict: read as its own words
)


@settings(max_examples=100, deadline=None)
@given(cells=st.lists(st.one_of(st.lists(_DRIVERS, max_size=6), st.none()), max_size=8),
       top=st.integers(1, 4), judged=st.booleans())
def test_top_driver_texts_match_driver_texts_cell_by_cell_on_any_drivers(cells, top, judged):
    # Drivers missing any field, drivers that are not dicts, cells without drivers: the
    # column-wise reading of all cells says what reading each cell on its own says.
    from serving.alerts import driver_texts, top_driver_texts

    typical = _TYPICAL if judged else None
    expected = ["; ".join(driver_texts(cell, typical)[:top]) for cell in cells]
    series = pd.Series(cells, dtype=object)
    assert top_driver_texts(series, top, typical=typical).tolist() == expected
    assert top_driver_texts(_as_json(series), top, typical=typical).tolist() == expected
