"""The indicator catalogue: names, labels, units, formats, ranges, and the document."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalogue import (
    IndicatorLabel,
    describe_indicator,
    format_indicator_value,
    indicator_columns,
    markdown_table,
    valid_range,
)

DOCUMENT = Path(__file__).parents[2] / "docs" / "indicators.md"


def _document_rows() -> dict[str, tuple[str, str, str]]:
    """column -> (label, unit, good is) from the table of docs/indicators.md, as written."""
    document = DOCUMENT.read_text(encoding="utf-8")
    rows = {}
    for line in document.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("group", "---"):
            rows[cells[1]] = (cells[2], cells[3], cells[5])
    return rows


@pytest.mark.parametrize("windows", [(30, 90, 180), (1, 7, 365)])
def test_every_indicator_column_has_a_label_a_unit_and_a_format(windows):
    for column in indicator_columns(windows):
        described = describe_indicator(column)
        assert described.label and described.unit and described.format, column
        assert described.good_is in ("higher", "lower", None), column
        assert "_" not in described.label, f"{column} is labelled {described.label!r}"


def test_the_document_table_and_the_catalogue_agree():
    rows = _document_rows()
    expanded = {}
    for column, (label, unit, good_is) in rows.items():
        for w in (30, 90, 180):
            expanded[column.replace("{w}", str(w))] = (
                label.replace("{w}", str(w)), unit, good_is or None,
            )
    assert set(expanded) == set(indicator_columns())
    for column, documented in expanded.items():
        described = describe_indicator(column)
        assert (described.label, described.unit, described.good_is) == documented, column


def test_windows_are_spelled_out_in_the_label():
    assert describe_indicator("csat_90d").label == "CSAT, last 90 days"
    assert describe_indicator("sessions_7d").label == "Sessions, last 7 days"
    assert describe_indicator("sessions_1d").label == "Sessions, last day"
    assert describe_indicator("sentiment_mean_90d") == IndicatorLabel(
        "Comment sentiment, last 90 days", "−1…1", "higher", "{:+.2f}"
    )
    assert describe_indicator("revenue_trend_90d").unit == "%"
    assert describe_indicator("segment").good_is is None


@pytest.mark.parametrize("name", ["csat_9Od", "csat", "sessions_trend_7d", "sessions_0d", "CSAT_90d"])
def test_a_name_that_is_not_an_indicator_is_refused_with_close_names(name):
    with pytest.raises(ValueError, match=r"is not an indicator column of docs/indicators\.md"):
        describe_indicator(name)


def test_a_typo_suggests_the_intended_indicator():
    with pytest.raises(ValueError, match=r"did you mean .*csat_90d"):
        describe_indicator("csat_90")


def test_a_column_of_your_own_table_is_described_by_its_name_when_not_strict():
    described = describe_indicator("TotalCharges", strict=False)
    assert described == IndicatorLabel("TotalCharges", "", None, None)


@pytest.mark.parametrize(("name", "value", "text"), [
    ("csat_90d", 38.4, "38%"),
    ("csat_90d", 100.0, "100%"),
    ("reopened_share_30d", 0.0, "0%"),
    ("mrr", 1970.0, "1,970"),
    ("clv", -12345.6, "-12,346"),
    ("revenue_180d", 1234567.0, "1,234,567"),
    ("sessions_30d", 3.0, "3"),
    ("sessions_30d", np.int64(12000), "12,000"),
    ("sessions_trend_30d", 12.4, "+12%"),
    ("revenue_trend_90d", -35.2, "-35%"),
    ("sentiment_mean_90d", -0.125, "-0.12"),
    ("nps_mean_90d", 7.25, "7.2"),
    ("tenure_days", 412.0, "412 days"),
    ("resolution_hours_median_90d", 18.25, "18.2 h"),
    ("avg_session_minutes_30d", 11.24, "11.2 min"),
    ("repeat_purchase_90d", 1.0, "yes"),
    ("repeat_purchase_90d", 0.0, "no"),
    ("segment", "SMB", "SMB"),
    ("nps_category_latest", "detractor", "detractor"),
    ("TotalCharges", 29.85, "29.9"),
    ("TotalCharges", 1889.5, "1,890"),
])
def test_values_are_written_in_their_unit_with_separators_and_sensible_decimals(name, value, text):
    assert format_indicator_value(name, value) == text


@pytest.mark.parametrize("missing", [None, float("nan"), np.float64("nan"), pd.NA, pd.NaT])
@pytest.mark.parametrize("name", ["csat_90d", "segment", "repeat_purchase_90d", "TotalCharges"])
def test_a_missing_value_reads_no_data_never_nan(name, missing):
    assert format_indicator_value(name, missing) == "no data"


def test_the_document_holds_the_table_generated_from_the_catalogue():
    assert markdown_table() in DOCUMENT.read_text(encoding="utf-8"), (
        "docs/indicators.md is out of date: regenerate its table with "
        "`python -m features.catalogue`"
    )


def test_ranges_bound_windowed_days_by_their_window():
    assert valid_range("active_days_7d") == (0, 7)
    assert valid_range("csat_90d") == (0, 100)
    assert valid_range("clv") == (None, None)
    with pytest.raises(ValueError, match="is not an indicator column"):
        valid_range("csat")


def test_a_new_catalogue_record_reaches_the_scorecard_and_the_api_schema(monkeypatch):
    from pydantic import ValidationError

    from features import catalogue
    from features.scorecard import ScorecardConfigError
    from features.scorecard_config import scorecard_from_dict
    from serving.schemas import account_model

    config = {
        "groups": {"engagement": {"weight": 1}},
        "measures": {"webinars": {"group": "engagement", "indicator": "webinars_90d",
                                  "poor": 0, "good": 3}},
    }
    with pytest.raises(ScorecardConfigError, match="'webinars_90d' is not a known indicator"):
        scorecard_from_dict(config)
    assert "webinars_90d" not in account_model().model_fields

    record = catalogue.Indicator(
        "webinars", True, "engagement", "Webinars attended, {window}", "count", "higher",
        "{:,.0f}", "webinars attended", minimum=0, example=2,
    )
    monkeypatch.setattr(catalogue, "CATALOGUE", catalogue.CATALOGUE + (record,))

    card = scorecard_from_dict(config)
    assert card.measures[0].label == "Webinars attended, last 90 days"
    assert card.measures[0].format == "{:,.0f}"
    model = account_model()
    field = model.model_fields["webinars_90d"]
    assert field.description == "Webinars attended, last 90 days (a count; higher is healthier)."
    assert "webinars_180d" in model.model_json_schema()["properties"]
    assert model(account_id="a", webinars_90d=2.0).webinars_90d == 2.0
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        model(account_id="a", webinars_90d=-1.0)
    assert "webinars_30d" in catalogue.indicator_columns()
    assert catalogue.format_indicator_value("webinars_30d", 1200.0) == "1,200"
