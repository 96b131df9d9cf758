"""One wording of the portfolio metrics: serving/metric_text.py."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from features.period_metrics import METRIC_KEYS, period_metrics
from serving.metric_text import (
    METRICS,
    card_details,
    card_value,
    cell_text,
    change_text,
    detail_line,
    format_value,
    label,
)


def test_every_metric_of_period_metrics_has_a_label_in_display_order():
    assert tuple(METRICS) == METRIC_KEYS


def test_the_declared_unit_of_every_metric_is_the_one_period_metrics_reports(demo_tables):
    results = period_metrics(demo_tables, pd.Timestamp("2025-06-01"), pd.Timestamp("2025-09-01"))
    assert {key: results[key]["unit"] for key in METRIC_KEYS} == {key: METRICS[key].unit for key in METRIC_KEYS}


def test_no_label_cites_a_source_document():
    for key in METRIC_KEYS:
        assert not re.search(r"seed \d{3}|METRICS\.md", label(key) + (METRICS[key].title or ""))


@pytest.mark.parametrize("value", [None, float("nan"), np.float64("nan"), pd.NA])
def test_an_undefined_value_is_never_written_as_zero(value):
    assert format_value(value, unit="%", reason="no answers") == "n/a (no answers)"
    assert cell_text({"value": value, "unit": "percent", "reason": "no answers"}) == "—"
    assert card_value("csat", {"value": value, "reason": "no answers"}) == "n/a (no answers)"


def test_a_table_cell_keeps_the_units_decimals_for_a_whole_value():
    assert cell_text({"value": 50, "unit": "percent"}) == "50.0%"
    assert cell_text({"value": 236, "unit": "tickets"}) == "236"
    assert cell_text({"value": 708.48, "unit": "seconds"}) == "708 s"
    assert cell_text({"value": 145793.845, "unit": "currency"}) == "145,793.85"
    assert cell_text({"value": 58.02, "unit": "users"}) == "58.02"


def test_a_card_writes_whole_nps_points_and_a_change_of_a_rate_in_points():
    assert card_value("nps", {"value": 24.27}) == "24 points"
    assert card_value("resolution_time", {"value": 24.886}) == "24.9 hours"
    assert change_text("csat", -1.25) == "1.2 points"
    assert change_text("ces", 0.5) == "0.50"


def test_a_card_and_a_table_row_describe_the_same_nps_components():
    nps = {"value": 20.0, "unit": "points", "responses": 10, "promoters": 5, "passives": 2, "detractors": 3,
           "promoter_share": 50.0, "passive_share": 20.0, "detractor_share": 30.0, "margin_of_error": 51.2}
    assert card_details("nps", nps) == [
        "promoters 50% (5), passives 20% (2), detractors 30% (3)",
        "margin of error ±51.2 points (95%)",
        "10 answers",
    ]
    assert detail_line("nps", nps) == "5 promoters, 2 passives, 3 detractors of 10; ±51.2 at 95%"


def test_format_value_never_turns_an_undefined_figure_into_zero():
    assert format_value(float("nan"), unit="%", reason="no answers") == "n/a (no answers)"
    assert format_value(None) == "n/a (not available)"
    assert format_value(0.0, unit="%") == "0.0%"
    assert format_value(12.345, unit="hours", digits=1) == "12.3 hours"
