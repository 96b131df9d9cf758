"""The report's call list parts: older alerts files, past lists' outcomes, bands over the runs."""

from __future__ import annotations

import pandas as pd

from serving.alerts import as_call_list
from serving.report.calls import RunHistory, bands_over_time, past_outcomes, sparkline
from serving.report.document import Figure, Table, Text

PALETTE = {"red": "#d64545", "yellow": "#e8b100", "green": "#2f9e44"}


def test_an_alerts_file_of_the_older_layout_reads_as_one_row_per_account():
    old = pd.DataFrame({
        "account_id": ["a", "a", "b"], "rule": ["band_worse", "entered_red", "risk_rose"],
        "reason": ["band fell from yellow to red", "crossed into red", "risk rose"],
        "health_score": [30.0, 30.0, 70.0], "health_band": ["red", "red", "yellow"],
        "churn_probability": [0.2, 0.2, 0.6],
    })
    calls = as_call_list(old)
    assert calls["account_id"].tolist() == ["b", "a"]  # the higher churn risk first
    assert calls.set_index("account_id").loc["a", "reasons"] == "band fell from yellow to red; crossed into red"
    assert calls["rank"].tolist() == [1, 2]


def _history(listed_on_first: set) -> RunHistory:
    first, second = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-05-01")
    ids = [f"a{i}" for i in range(10)]
    scores = pd.concat([
        pd.DataFrame({"as_of": when, "account_id": ids, "health_score": 50.0,
                      "health_band": ["red"] * 3 + ["green"] * 7, "churn_probability": 0.1})
        for when in (first, second)
    ], ignore_index=True)
    return RunHistory(scores, {first: listed_on_first, second: {"a0"}})


def test_past_lists_compare_the_churn_of_the_accounts_listed_with_the_rest():
    history = _history({"a0", "a1"})
    churned = pd.Series({"a0": pd.Timestamp("2026-02-01"), "a2": pd.Timestamp("2026-03-01"),
                         "a5": pd.Timestamp("2026-02-15"), "a6": pd.Timestamp("2026-06-01")})
    blocks = past_outcomes(history, churned, pd.Timestamp("2026-05-15"), 90)
    (table,) = blocks
    assert isinstance(table, Table)
    # only the January list is 90 days old by mid-May; a6 left after the horizon. a2 was red
    # that day but not on the list (it turned red earlier): it is counted apart from the rest.
    assert table.rows == [{"list of": "01 Jan 2026", "listed: churned": "50% (1 of 2)",
                           "already red: churned": "100% (1 of 1)",
                           "the rest: churned": "14% (1 of 7)"}]


def test_past_lists_add_up_every_list_when_there_are_several():
    history = _history({"a0"})
    churned = pd.Series({"a0": pd.Timestamp("2026-05-10"), "a9": pd.Timestamp("2026-02-01")})
    (table,) = past_outcomes(history, churned, pd.Timestamp("2026-09-01"), 90)
    assert [row["list of"] for row in table.rows] == ["01 Jan 2026", "01 May 2026", "all 2 lists"]
    assert table.rows[-1]["listed: churned"] == "50% (1 of 2)"
    assert table.rows[-1]["already red: churned"] == "0% (0 of 4)"
    assert table.rows[-1]["the rest: churned"] == "7% (1 of 14)"


def test_no_outcome_is_shown_before_a_list_is_as_old_as_the_horizon():
    blocks = past_outcomes(_history({"a0"}), pd.Series(dtype="datetime64[ns]"), pd.Timestamp("2026-02-01"), 90)
    assert isinstance(blocks[0], Text)
    assert blocks[0].text == ("n/a (no earlier call list is 90 days old yet, so no outcome is known; "
                              "the first is known on 01 Apr 2026)")


def test_bands_over_the_runs_need_two_runs_and_say_so():
    history = _history(set())
    (figure,) = bands_over_time(history, PALETTE)
    assert isinstance(figure, Figure) and figure.chart.shares["red"] == [30.0, 30.0]
    one = RunHistory(history.scores[history.scores["as_of"] == history.dates[0]], {})
    assert bands_over_time(one, PALETTE)[0].text.startswith("n/a (the band shares over time need two runs")


def test_a_sparkline_without_any_score_draws_nothing_rather_than_zero():
    cell = sparkline([None, None], [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")])
    assert cell["segments"] == [] and cell["last"] is None
    assert cell["title"].endswith("n/a → n/a")
