"""NPS, CSAT, CES and their grouped versions, against METRICS.md and hand computations."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import SurveyScale
from features.survey_metrics import (
    UNSET_GROUP,
    MetricResult,
    ces,
    ces_by,
    check_frame,
    check_period,
    csat,
    csat_by,
    nps,
    nps_by,
    nps_category,
)

# --- NPS -----------------------------------------------------------------------------


def test_nps_worked_example_gives_plus_30_with_counts_and_shares():
    result = nps([10, 9, 9, 10, 9, 7, 8, 7, 3, 6])
    assert result.value == 30.0
    assert (result["promoters"], result["passives"], result["detractors"]) == (5, 3, 2)
    assert (result["promoter_share"], result["passive_share"], result["detractor_share"]) == (50.0, 30.0, 20.0)
    assert result["responses"] == 10
    assert result.unit == "points"


def test_nps_margin_of_error_follows_the_documented_formula():
    result = nps([10, 9, 9, 10, 9, 7, 8, 7, 3, 6])
    p, d, n = 0.5, 0.2, 10
    assert result["margin_of_error"] == pytest.approx(1.96 * 100 * math.sqrt((p + d - (p - d) ** 2) / n))


def test_nps_of_only_promoters_is_100_with_no_margin_of_error():
    result = nps([9, 10, 10])
    assert result.value == 100.0
    assert result["margin_of_error"] == 0.0


def test_nps_passives_stay_in_the_denominator():
    assert nps([10, 7, 8, 0]).value == 0.0
    assert nps([10, 7, 7, 7]).value == 25.0


def test_nps_without_responses_is_undefined_not_zero():
    result = nps([])
    assert result.value is None and result.reason == "no responses"
    assert result["margin_of_error"] is None


def test_nps_counts_unanswered_surveys_apart():
    result = nps([10, None, float("nan"), 0])
    assert result["responses"] == 2 and result["unanswered"] == 2
    assert result.value == 0.0
    only_blank = nps([None, None])
    assert only_blank.value is None and only_blank["unanswered"] == 2


@pytest.mark.parametrize("bad", [11, -1])
def test_nps_rejects_scores_outside_0_to_10(bad):
    with pytest.raises(ValueError, match=r"nps: scores must lie on the 0-10 scale; 1 value\(s\) outside it"):
        nps([9, bad])


def test_nps_rejects_non_integer_scores():
    with pytest.raises(ValueError, match=r"nps: scores must be whole numbers.*position 1: 7.5.*raw answers"):
        nps([9, 7.5])


def test_nps_rejects_text_scores():
    with pytest.raises(ValueError, match=r"nps: scores must be numbers.*'ten'"):
        nps([9, "ten"])


def test_nps_category_labels_each_answer():
    categories = nps_category(pd.Series([0, 6, 7, 8, 9, 10], index=list("abcdef")))
    assert categories.tolist() == ["detractor"] * 2 + ["passive"] * 2 + ["promoter"] * 2
    assert list(categories.index) == list("abcdef")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=60), st.randoms())
def test_nps_does_not_depend_on_answer_order(scores, rnd):
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    assert nps(scores).as_dict() == nps(shuffled).as_dict()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=60))
def test_nps_stays_within_minus_100_and_100(scores):
    result = nps(scores)
    assert -100 <= result.value <= 100
    assert result["promoters"] + result["passives"] + result["detractors"] == len(scores)


# --- CSAT ----------------------------------------------------------------------------


def test_csat_worked_example_20_of_50_is_40_percent():
    result = csat([5] * 10 + [4] * 10 + [3] * 15 + [1] * 15)
    assert result.value == 40.0
    assert (result["satisfied"], result["responses"]) == (20, 50)
    assert result["mean"] == pytest.approx((50 + 40 + 45 + 15) / 50)


def test_csat_excludes_unanswered_surveys_instead_of_counting_them_unsatisfied():
    result = csat([5] * 20 + [2] * 30 + [None] * 5)
    assert result.value == 40.0
    assert result["unanswered"] == 5


def test_csat_on_a_1_to_10_scale_counts_the_top_20_percent():
    result = csat([10, 9, 8, 7, 1], scale=SurveyScale(1, 10))
    assert result["satisfied_at"] == 9
    assert result.value == 40.0
    assert result["scale"] == "1-10"


def test_csat_uses_a_configured_satisfied_threshold():
    assert csat([10, 9, 8, 7, 1], scale=SurveyScale(1, 10, satisfied_at=8)).value == 60.0


def test_csat_without_responses_is_undefined():
    result = csat([])
    assert result.value is None and result.reason == "no responses" and result["mean"] is None


def test_csat_rejects_answers_off_the_scale():
    with pytest.raises(ValueError, match=r"csat: scores must lie on the 1-5 scale.*position 0: 6.0"):
        csat([6, 5])


# --- CES -----------------------------------------------------------------------------


def test_ces_worked_example_is_the_mean_effort_4_0():
    result = ces([5, 4, 2, 5])
    assert result.value == 4.0
    assert result["sum"] == 16.0 and result["responses"] == 4


def test_ces_on_a_declared_reversed_scale_is_normalised_so_higher_is_easier():
    # 1 = very easy on the source scale: answers 1, 1, 2 are easy, so the mean is high.
    result = ces([1, 1, 2], scale=SurveyScale(1, 5, higher_is_better=False))
    assert result.value == pytest.approx((5 + 5 + 4) / 3)
    assert result["reversed_input"] is True


def test_ces_on_a_7_point_scale_checks_that_scale():
    assert ces([7, 1], scale=SurveyScale(1, 7)).value == 4.0
    with pytest.raises(ValueError, match="ces: scores must lie on the 1-7 scale"):
        ces([8], scale=SurveyScale(1, 7))


def test_ces_without_responses_is_undefined():
    assert ces([None]).reason == "no responses"


# --- grouped -------------------------------------------------------------------------


def test_groups_without_responses_are_reported_undefined_not_dropped():
    result = nps_by([10, 0], ["smb", "smb"], categories=["smb", "enterprise"])
    assert list(result) == ["enterprise", "smb"]
    assert result["enterprise"].value is None and result["enterprise"].reason == "no responses"
    assert result["smb"].value == 0.0


def test_csat_by_channel_and_ces_by_touchpoint_group_like_the_overall_metric():
    by_channel = csat_by([5, 4, 1, 2], ["email", "chat", "chat", "email"])
    assert {k: v.value for k, v in by_channel.items()} == {"chat": 50.0, "email": 50.0}
    by_touchpoint = ces_by([5, 3, 4], ["onboarding", "billing", "billing"])
    assert by_touchpoint["billing"].value == 3.5


def test_answers_with_an_empty_group_are_kept_under_not_set():
    result = nps_by([10, 9, 0], ["smb", None, np.nan])
    assert result[UNSET_GROUP]["responses"] == 2


def test_grouping_checks_every_answer_and_the_lengths():
    with pytest.raises(ValueError, match="nps: scores must lie on the 0-10 scale"):
        nps_by([10, 12], ["a", "b"])
    with pytest.raises(ValueError, match="scores and groups must have the same length, got 2 and 1"):
        nps_by([10, 9], ["a"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.sampled_from(["a", "b", "c", None])), max_size=50))
def test_group_counts_add_up_to_the_overall_counts(rows):
    scores = [s for s, _ in rows]
    groups = [g for _, g in rows]
    overall = nps(scores)
    by = nps_by(scores, groups, categories=["a", "b", "c"])
    for field in ("responses", "promoters", "passives", "detractors"):
        assert sum(r[field] for r in by.values()) == overall[field]


# --- the result type and the shared checks ---------------------------------------------


def test_results_serialise_to_json_without_nan():
    for result in (nps([]), nps([10, 3]), csat([]), ces([3]), MetricResult(None, "count", "x", {"n": np.int64(2)})):
        text = json.dumps(result.as_dict(), allow_nan=False)
        assert json.loads(text)["unit"] == result.unit


def test_a_defined_metric_refuses_nan_and_keeps_counts_whole():
    from features.survey_metrics import defined
    with pytest.raises(ValueError, match="a defined metric cannot be NaN"):
        defined(float("nan"), "percent")
    assert isinstance(defined(np.int64(3), "tickets").value, int)


def test_a_defined_result_always_has_no_reason_and_an_undefined_one_always_has_one():
    assert nps([9]).reason is None
    assert nps([]).reason


def test_check_period_reads_dates_and_converts_offsets_to_utc():
    start, end = check_period("2025-01-01T02:00:00+02:00", "2025-02-01")
    assert start == pd.Timestamp("2025-01-01 00:00") and start.tzinfo is None


def test_check_period_rejects_unreadable_dates_and_empty_periods():
    with pytest.raises(ValueError, match=r"start: could not read 'soon' as a date; fix: use ISO 8601"):
        check_period("soon", "2025-01-01")
    with pytest.raises(ValueError, match=r"start .* must be before end .*end excluded"):
        check_period("2025-01-01", "2025-01-01")


def test_check_frame_names_missing_columns_and_untyped_timestamps():
    with pytest.raises(ValueError, match=r"sessions is missing column\(s\) \['started_at'\]; fix: pass"):
        check_frame(pd.DataFrame({"a": [1]}), table="sessions", columns=["a"], timestamps=["started_at"])
    with pytest.raises(ValueError, match=r"sessions.started_at must hold timestamps.*pd.to_datetime"):
        check_frame(pd.DataFrame({"started_at": ["2025-01-01"]}), table="sessions", columns=[],
                    timestamps=["started_at"])
    with pytest.raises(ValueError, match="sessions must be a pandas DataFrame, got list"):
        check_frame([], table="sessions", columns=[])
