"""Tests of the health scorecard (features/scorecard.py, docs/scorecard.md)."""

from __future__ import annotations

import copy
import pickle
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.catalogue import (
    categorical_columns,
    describe_indicator,
    indicator_columns,
)
from features.health_score import score_accounts
from features.scorecard import Band, ScorecardConfigError, band_for
from features.scorecard_config import load_scorecard, scorecard_from_dict

ROOT = Path(__file__).resolve().parents[2]
NAN = float("nan")

OUTPUT_HEAD = [
    "health_score",
    "health_band",
    "health_color",
    "health_coverage",
    "health_trend",
    "health_delta",
]

# Engagement (weight 3) has active days (3) and recency (1); satisfaction (1) has CSAT.
# Effective weights in the overall score: active days 9/16, recency 3/16, CSAT 4/16.
BASE = {
    "min_coverage": 0.4,
    "groups": {"engagement": {"weight": 3}, "satisfaction": {"label": "Satisfaction", "weight": 1}},
    "measures": {
        "active_days": {
            "group": "engagement",
            "indicator": "active_days_30d",
            "label": "Active days",
            "poor": 0,
            "good": 20,
            "weight": 3,
            "format": "{:.0f} days",
        },
        "recency": {
            "group": "engagement",
            "indicator": "days_since_last_activity",
            "label": "Days since last activity",
            "poor": 30,
            "good": 0,
            "weight": 1,
            "format": "{:.0f} days",
        },
        "csat": {
            "group": "satisfaction",
            "indicator": "csat_90d",
            "label": "CSAT",
            "poor": 50,
            "good": 90,
            "weight": 1,
            "format": "{:.0f}%",
        },
    },
}


def config(**changes) -> dict:
    """BASE with dotted-path changes: config(**{"measures.csat.weight": 2})."""
    out = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            del node[leaf]
        else:
            node[leaf] = value
    return out


DELETE = object()


def frame(rows: dict[str, dict]) -> pd.DataFrame:
    """Indicator rows by account id; absent indicators are NaN."""
    columns = ["active_days_30d", "days_since_last_activity", "csat_90d"]
    data = pd.DataFrame.from_dict(rows, orient="index")
    data = data.reindex(columns=list(dict.fromkeys(columns + list(data.columns))))
    data.index.name = "account_id"
    return data


# --- the indicator list and the default ----------------------------------------------


def test_known_indicators_are_exactly_the_columns_of_docs_indicators_md():
    text = (ROOT / "docs" / "indicators.md").read_text("utf-8")
    names = set()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and cells[1] and cells[1] not in ("group", "---"):
            for name in re.split(r",\s*", cells[2]):
                expanded = (
                    [name.replace("{w}", str(w)) for w in (30, 90, 180)]
                    if "{w}" in name
                    else [name]
                )
                names.update(expanded)
    assert names == set(indicator_columns())
    assert set(categorical_columns()) <= names


def test_the_default_scorecard_has_the_four_groups_and_the_documented_bands():
    card = load_scorecard()
    assert [g.label for g in card.groups] == ["Engagement", "Support", "Satisfaction", "Commercial"]
    assert [(b.label, b.low, b.high) for b in card.bands] == [
        ("red", 0, 50),
        ("yellow", 50, 75),
        ("green", 75, 100),
    ]
    assert set(card.indicator_names()) - {"segment"} <= set(indicator_columns())
    assert {m.group for m in card.measures} == {g.name for g in card.groups}


def test_the_packaged_default_is_the_one_printed_in_docs_scorecard_md():
    doc = (ROOT / "docs" / "scorecard.md").read_text("utf-8")
    default = (ROOT / "features" / "scorecard_default.toml").read_text("utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    assert default in blocks


def test_a_scorecard_file_loads_like_the_same_dict(tmp_path):
    path = tmp_path / "card.toml"
    path.write_text(
        "[groups.satisfaction]\nweight = 1\n\n"
        '[measures.csat]\ngroup = "satisfaction"\nindicator = "csat_90d"\npoor = 50\ngood = 90\n',
        "utf-8",
    )
    card = load_scorecard(path)
    same = scorecard_from_dict(
        {
            "groups": {"satisfaction": {"weight": 1}},
            "measures": {
                "csat": {"group": "satisfaction", "indicator": "csat_90d", "poor": 50, "good": 90}
            },
        },
        source=str(path),
    )
    assert card == same


# --- computation -----------------------------------------------------------------------


def test_the_score_is_the_weighted_mean_of_group_scores_of_weighted_measure_means():
    # active days 15 -> 75, recency 6 -> 80, CSAT 70 -> 50
    out = score_accounts(
        frame({"a": {"active_days_30d": 15, "days_since_last_activity": 6, "csat_90d": 70}}),
        scorecard_from_dict(BASE),
    )
    row = out.loc["a"]
    assert row["measure_active_days"] == pytest.approx(75)
    assert row["measure_recency"] == pytest.approx(80)
    assert row["measure_csat"] == pytest.approx(50)
    assert row["group_engagement"] == pytest.approx((3 * 75 + 80) / 4)
    assert row["group_satisfaction"] == pytest.approx(50)
    assert row["health_score"] == pytest.approx((3 * 76.25 + 50) / 4)
    assert row["health_coverage"] == pytest.approx(1.0)


def test_weights_renormalise_over_the_measures_present_when_one_is_missing():
    card = scorecard_from_dict(BASE)
    out = score_accounts(
        frame(
            {
                "no_recency": {"active_days_30d": 15, "csat_90d": 70},
                "no_csat": {"active_days_30d": 15, "days_since_last_activity": 6},
            }
        ),
        card,
    )
    # Engagement rests on active days alone; the groups keep their 3:1 weights.
    assert out.loc["no_recency", "group_engagement"] == pytest.approx(75)
    assert out.loc["no_recency", "health_score"] == pytest.approx((3 * 75 + 50) / 4)
    assert out.loc["no_recency", "health_coverage"] == pytest.approx(1 - 3 / 16)
    # A whole group missing: the overall score is the remaining group's score.
    assert np.isnan(out.loc["no_csat", "group_satisfaction"])
    assert out.loc["no_csat", "health_score"] == pytest.approx(76.25)
    assert out.loc["no_csat", "health_coverage"] == pytest.approx(0.75)


def test_a_missing_indicator_is_a_missing_measure_not_a_zero():
    out = score_accounts(
        frame({"a": {"active_days_30d": 20, "days_since_last_activity": 0}}),
        scorecard_from_dict(BASE),
    )
    assert np.isnan(out.loc["a", "measure_csat"])
    assert out.loc["a", "health_score"] == pytest.approx(100)


def test_values_beyond_the_thresholds_are_clamped_and_breakpoints_bend_the_line():
    card = scorecard_from_dict(config(**{"measures.csat.breakpoints": [[60, 50], [80, 60]]}))
    out = score_accounts(
        frame({k: {"csat_90d": v} for k, v in zip("abcdef", [10, 50, 55, 60, 85, 99])}), card
    )
    assert out["measure_csat"].tolist() == pytest.approx([0, 0, 25, 50, 80, 100])


def test_a_lower_is_better_measure_scores_100_at_good_and_0_at_poor():
    out = score_accounts(
        frame({k: {"days_since_last_activity": v} for k, v in zip("abcd", [0, 15, 30, 400])}),
        scorecard_from_dict(BASE),
    )
    assert out["measure_recency"].tolist() == pytest.approx([100, 50, 0, 0])


def test_a_measure_or_group_of_weight_zero_is_computed_but_not_counted():
    card = scorecard_from_dict(
        config(**{"measures.recency.weight": 0, "groups.satisfaction.weight": 0})
    )
    out = score_accounts(
        frame({"a": {"active_days_30d": 10, "days_since_last_activity": 30, "csat_90d": 50}}), card
    )
    assert out.loc["a", "health_score"] == pytest.approx(50)
    assert np.isnan(out.loc["a", "measure_recency"])  # not part of this scorecard
    assert out.loc["a", "group_satisfaction"] == pytest.approx(0)
    assert out.loc["a", "health_coverage"] == pytest.approx(1.0)
    assert [d["measure"] for d in out.loc["a", "health_drivers"]] == ["active_days"]


def test_the_output_has_the_agreed_columns_and_keeps_the_callers_index():
    card = load_scorecard()
    indicators = pd.DataFrame(
        {name: [1.0, 2.0] for name in card.indicator_names() if name != "segment"},
        index=pd.Index(["x", "y"], name="account_id"),
    )
    out = score_accounts(indicators, card)
    expected = (
        OUTPUT_HEAD
        + [f"group_{g.name}" for g in card.groups]
        + [f"measure_{m.name}" for m in card.measures]
        + ["health_drivers"]
    )
    assert list(out.columns) == expected
    assert out.index.equals(indicators.index)


def test_scoring_does_not_modify_its_inputs():
    indicators = frame({"a": {"active_days_30d": 15, "csat_90d": 70}, "b": {"csat_90d": NAN}})
    indicators["segment"] = ["SMB", None]
    previous = pd.Series({"a": 10.0})
    before, prev_before = indicators.copy(), previous.copy()
    score_accounts(indicators, scorecard_from_dict(BASE), previous=previous)
    pd.testing.assert_frame_equal(indicators, before)
    pd.testing.assert_series_equal(previous, prev_before)


def test_shuffling_accounts_changes_no_account_result():
    rng = np.random.default_rng(3)
    n = 200
    indicators = pd.DataFrame(
        {
            "active_days_30d": rng.integers(0, 25, n).astype(float),
            "days_since_last_activity": np.where(
                rng.random(n) < 0.2, np.nan, rng.uniform(0, 60, n)
            ),
            "csat_90d": np.where(rng.random(n) < 0.4, np.nan, rng.uniform(0, 100, n)),
        },
        index=pd.Index([f"acc{i}" for i in range(n)], name="account_id"),
    )
    card = scorecard_from_dict(BASE)
    out = score_accounts(indicators, card)
    shuffled = score_accounts(indicators.sample(frac=1, random_state=1), card)
    pd.testing.assert_frame_equal(shuffled.loc[out.index], out)


def test_an_empty_indicator_table_gives_an_empty_result():
    out = score_accounts(frame({}).astype(float), scorecard_from_dict(BASE))
    assert out.empty and "health_drivers" in out.columns


# --- bands -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (0, "red"),
        (49.9, "red"),
        (50, "red"),
        (50.5, "yellow"),
        (51, "yellow"),
        (75, "yellow"),
        (75.2, "green"),
        (76, "green"),
        (100, "green"),
    ],
)
def test_band_boundaries_include_the_upper_bound_and_exclude_the_lower_one(score, label):
    bands = load_scorecard().bands
    assert band_for(score, bands).label == label
    # The same through score_accounts: one measure whose score equals its value.
    card = scorecard_from_dict(
        {
            "groups": {"satisfaction": {"weight": 1}},
            "measures": {
                "csat": {"group": "satisfaction", "indicator": "csat_90d", "poor": 0, "good": 100}
            },
        }
    )
    out = score_accounts(frame({"a": {"csat_90d": score}}), card)
    assert out.loc["a", "health_band"] == label
    assert out.loc["a", "health_color"] == band_for(score, bands).color


def test_band_labels_and_colours_are_configurable():
    bands = [
        {"label": "at risk", "low": 0, "high": 40, "color": "crimson"},
        {"label": "healthy", "low": 40, "high": 100, "color": "teal"},
    ]
    card = scorecard_from_dict(config(bands=bands))
    assert card.bands == (Band("at risk", 0, 40, "crimson"), Band("healthy", 40, 100, "teal"))
    assert band_for(40, card.bands).label == "at risk"
    assert band_for(40.01, card.bands).color == "teal"


def test_band_for_a_missing_score_is_none_and_outside_0_100_is_an_error():
    bands = load_scorecard().bands
    assert band_for(None, bands) is None
    assert band_for(NAN, bands) is None
    with pytest.raises(ValueError, match="outside the bands 0-100"):
        band_for(100.5, bands)
    with pytest.raises(ValueError, match="outside the bands 0-100"):
        band_for(-1, bands)


# --- monotonicity and bounds (hypothesis) ---------------------------------------------

DEFAULT = load_scorecard()
DEFAULT_INDICATORS = [name for name in DEFAULT.indicator_names() if name != "segment"]
maybe_value = st.one_of(st.just(NAN), st.floats(-200, 400, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        maybe_value, min_size=len(DEFAULT_INDICATORS), max_size=len(DEFAULT_INDICATORS)
    ),
    which=st.integers(0, len(DEFAULT.measures) - 1),
    step=st.floats(0.001, 300),
    segment=st.sampled_from(["SMB", "Enterprise", None]),
)
def test_improving_an_indicator_in_its_good_direction_never_lowers_the_score(
    values, which, step, segment
):
    measure = DEFAULT.for_segment(segment).measures[which]
    before = pd.DataFrame(
        [values], columns=DEFAULT_INDICATORS, index=pd.Index(["a"], name="account_id")
    )
    if np.isnan(before.loc["a", measure.indicator]):
        before.loc["a", measure.indicator] = 0.0
    before["segment"] = segment
    after = before.copy()
    after.loc["a", measure.indicator] += step if measure.direction == "higher" else -step
    old = score_accounts(before, DEFAULT).loc["a"]
    new = score_accounts(after, DEFAULT).loc["a"]
    assert new[f"measure_{measure.name}"] >= old[f"measure_{measure.name}"] - 1e-9
    assert new[f"group_{measure.group}"] >= old[f"group_{measure.group}"] - 1e-9
    assert np.isnan(new["health_score"]) == np.isnan(old["health_score"])
    if not np.isnan(old["health_score"]):
        assert new["health_score"] >= old["health_score"] - 1e-9


@st.composite
def curves(draw):
    """A measure's (poor, good, breakpoints) in either direction."""
    xs = sorted(set(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=6, unique=True))))
    inner = len(xs) - 2
    scores = sorted(draw(st.lists(st.integers(1, 99), min_size=inner, max_size=inner, unique=True)))
    if draw(st.booleans()):
        xs = xs[::-1]
    return xs[0], xs[-1], [[x, s] for x, s in zip(xs[1:-1], scores)]


@settings(max_examples=60, deadline=None)
@given(curve=curves(), a=st.floats(-2000, 2000), b=st.floats(-2000, 2000))
def test_every_valid_curve_is_monotone_in_its_good_direction(curve, a, b):
    poor, good, breakpoints = curve
    card = scorecard_from_dict(
        config(
            **{
                "measures.csat.poor": poor,
                "measures.csat.good": good,
                "measures.csat.breakpoints": breakpoints,
            }
        )
    )
    measure = card.measures[2]
    low, high = sorted([a, b])
    worse, better = (low, high) if measure.direction == "higher" else (high, low)
    s_worse, s_better = measure.score([worse, better])
    assert 0 <= s_worse <= s_better <= 100


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(maybe_value, min_size=len(DEFAULT_INDICATORS), max_size=len(DEFAULT_INDICATORS))
)
def test_points_lost_add_up_to_the_distance_from_100_and_scores_stay_in_bounds(values):
    indicators = pd.DataFrame(
        [values], columns=DEFAULT_INDICATORS, index=pd.Index(["a"], name="account_id")
    )
    row = score_accounts(indicators, DEFAULT).loc["a"]
    assert 0 <= row["health_coverage"] <= 1
    measure_scores = row[[f"measure_{m.name}" for m in DEFAULT.measures]].astype(float).dropna()
    assert ((measure_scores >= 0) & (measure_scores <= 100)).all()
    if not np.isnan(row["health_score"]):
        assert 0 <= row["health_score"] <= 100
        lost = sum(d["points_lost"] for d in row["health_drivers"])
        assert lost <= 100 - row["health_score"] + 1e-9


def test_points_lost_over_all_measures_add_up_to_100_minus_the_score():
    # Two measures only, so the drivers list every measure that lost points.
    card = scorecard_from_dict(config(**{"measures.recency": DELETE}))
    out = score_accounts(frame({"a": {"active_days_30d": 5, "csat_90d": 60}}), card)
    lost = sum(d["points_lost"] for d in out.loc["a", "health_drivers"])
    assert lost == pytest.approx(100 - out.loc["a", "health_score"])


# --- drivers ---------------------------------------------------------------------------


def test_drivers_name_the_measure_its_value_its_poor_threshold_and_the_points_it_cost():
    # CSAT is 9.4% of the score and scores 0, so it costs 9.4 points.
    card = scorecard_from_dict(
        config(**{"groups.engagement.weight": 90.6, "groups.satisfaction.weight": 9.4})
    )
    out = score_accounts(
        frame({"a": {"active_days_30d": 20, "days_since_last_activity": 0, "csat_90d": 38}}), card
    )
    (driver,) = out.loc["a", "health_drivers"]
    assert driver["text"] == "CSAT: 38% (poor ≤ 50%) cost 9.4 points"
    assert driver["measure"] == "csat" and driver["indicator"] == "csat_90d"
    assert driver["value"] == 38
    assert driver["points_lost"] == pytest.approx(9.4)


def test_drivers_are_the_three_measures_that_cost_most_points_in_order():
    out = score_accounts(
        frame({"a": {"active_days_30d": 15, "days_since_last_activity": 6, "csat_90d": 70}}),
        scorecard_from_dict(BASE),
    )
    texts = [d["text"] for d in out.loc["a", "health_drivers"]]
    # 25 x 9/16, 50 x 4/16 and 20 x 3/16 points
    assert texts == [
        "Active days: 15 days (poor ≤ 0 days) cost 14.1 points",
        "CSAT: 70% (poor ≤ 50%) cost 12.5 points",
        "Days since last activity: 6 days (poor ≥ 30 days) cost 3.8 points",
    ]


def test_a_measure_without_label_or_format_reads_like_its_indicator_in_the_catalogue():
    card = scorecard_from_dict(
        config(**{"measures.active_days.label": DELETE, "measures.active_days.format": DELETE,
                  "measures.csat.label": DELETE, "measures.csat.format": DELETE})
    )
    measures = {m.name: m for m in card.measures}
    for name in ("active_days", "csat"):
        described = describe_indicator(measures[name].indicator)
        assert (measures[name].label, measures[name].format) == (described.label, described.format)
    out = score_accounts(
        frame({"a": {"active_days_30d": 1, "days_since_last_activity": 0, "csat_90d": 38}}), card
    )
    # 95 x 9/16 and 100 x 4/16 points; a bare count, the unit in the label: no "1 days".
    assert [d["text"] for d in out.loc["a", "health_drivers"]] == [
        "Active days, last 30 days: 1 (poor ≤ 0) cost 53.4 points",
        "CSAT, last 90 days: 38% (poor ≤ 50%) cost 25.0 points",
    ]


def test_label_and_format_of_a_measure_override_the_catalogue():
    card = scorecard_from_dict(
        config(**{"measures.csat.label": "Happy customers", "measures.csat.format": "{:.1f} %"})
    )
    (csat,) = [m for m in card.measures if m.name == "csat"]
    assert (csat.label, csat.format) == ("Happy customers", "{:.1f} %")
    out = score_accounts(
        frame({"a": {"active_days_30d": 20, "days_since_last_activity": 0, "csat_90d": 38}}), card
    )
    assert out.loc["a", "health_drivers"][0]["text"] == (
        "Happy customers: 38.0 % (poor ≤ 50.0 %) cost 25.0 points"
    )


def test_other_windows_read_like_the_catalogue_and_other_columns_after_the_measure():
    def label_and_format(indicator: str) -> tuple[str, str]:
        card = scorecard_from_dict(
            config(**{"measures.csat.indicator": indicator, "measures.csat.label": DELETE,
                      "measures.csat.format": DELETE}),
            known_indicators=None,
        )
        (csat,) = [m for m in card.measures if m.name == "csat"]
        return csat.label, csat.format

    assert label_and_format("csat_60d") == ("CSAT, last 60 days", "{:.0f}%")
    assert label_and_format("TotalCharges") == ("Csat", "{:.4g}")


def test_the_default_measures_without_a_label_read_like_their_indicators_without_1_days():
    raw = tomllib.loads((ROOT / "features" / "scorecard_default.toml").read_text("utf-8"))
    card = load_scorecard()
    catalogued = [m for m in card.measures if "label" not in raw["measures"][m.name]]
    assert len(catalogued) >= len(card.measures) - 1
    for measure in catalogued:
        assert measure.label == describe_indicator(measure.indicator).label
    texts = [f"{m.format_value(1.0)} ({m.threshold_text()})" for m in card.measures]
    assert not [t for t in texts if re.search(r"\b1 (days|users)\b|≤ 1 users", t)]


def test_only_three_drivers_are_given_and_measures_at_full_score_are_not_drivers():
    card = load_scorecard()
    indicators = pd.DataFrame(
        {name: [NAN] for name in DEFAULT_INDICATORS}, index=pd.Index(["a"], name="account_id")
    )
    # Set through the measures, so the test follows the default's indicator windows.
    reads = {m.name: m.indicator for m in card.measures}
    indicators[[reads["active_days"], reads["recency"], reads["active_users"]]] = [[0, 90, 0]]
    indicators[[reads["open_tickets"], reads["csat"], reads["nps"]]] = [[20, 100, 0]]
    drivers = score_accounts(indicators, card).loc["a", "health_drivers"]
    assert len(drivers) == 3
    lost = [d["points_lost"] for d in drivers]
    assert lost == sorted(lost, reverse=True)
    assert "csat" not in [d["measure"] for d in drivers]


def test_tied_drivers_keep_the_configuration_order():
    card = scorecard_from_dict(
        config(**{"measures.active_days.weight": 1, "groups.engagement.weight": 2})
    )
    # Every measure scores 0 and weighs a third of the score (2/3 split 1:1, and 1/3).
    out = score_accounts(
        frame({"a": {"active_days_30d": 0, "days_since_last_activity": 30, "csat_90d": 0}}), card
    )
    assert [d["measure"] for d in out.loc["a", "health_drivers"]] == [
        "active_days",
        "recency",
        "csat",
    ]


# --- coverage ----------------------------------------------------------------------------


def test_below_the_minimum_coverage_the_score_is_insufficient_data():
    card = scorecard_from_dict(BASE)
    out = score_accounts(frame({"a": {"csat_90d": 38}}), card, previous=pd.Series({"a": 60.0}))
    row = out.loc["a"]
    assert row["health_coverage"] == pytest.approx(0.25)
    assert np.isnan(row["health_score"])
    assert row["health_band"] == "insufficient data"
    assert row["health_color"] == "grey"
    assert row["health_trend"] is None and np.isnan(row["health_delta"])
    assert row["health_drivers"] == []
    assert row["measure_csat"] == 0  # what is known is still shown


def test_coverage_exactly_at_the_minimum_is_enough():
    card = scorecard_from_dict(config(min_coverage=0.25))
    out = score_accounts(frame({"a": {"csat_90d": 70}, "b": {}}), card)
    assert out.loc["a", "health_score"] == pytest.approx(50)
    assert out.loc["b", "health_coverage"] == 0
    assert out.loc["b", "health_band"] == "insufficient data"


def test_the_insufficient_data_label_and_colour_are_configurable():
    card = scorecard_from_dict(
        config(insufficient_label="no data yet", insufficient_color="#999999")
    )
    out = score_accounts(frame({"a": {}}), card)
    assert (out.loc["a", "health_band"], out.loc["a", "health_color"]) == ("no data yet", "#999999")


# --- segments --------------------------------------------------------------------------


def test_accounts_of_a_configured_segment_use_its_scorecard_and_others_the_default():
    card = scorecard_from_dict(
        config(
            segments={
                "Enterprise": {"measures": {"csat": {"poor": 80, "good": 100}}, "min_coverage": 0.1}
            }
        )
    )
    indicators = frame({k: {"csat_90d": 90} for k in ["ent", "smb", "none", "nan", "other"]})
    indicators["segment"] = ["Enterprise", "SMB", None, NAN, "enterprise"]
    out = score_accounts(indicators, card)
    assert out.loc["ent", "measure_csat"] == pytest.approx(50)
    assert out.loc["ent", "health_score"] == pytest.approx(50)  # coverage 0.25 >= 0.1
    for account in ["smb", "none", "nan", "other"]:
        assert out.loc[account, "measure_csat"] == pytest.approx(100)
        assert out.loc[account, "health_band"] == "insufficient data"  # coverage 0.25 < 0.4


def test_without_a_segment_column_every_account_uses_the_default():
    card = scorecard_from_dict(
        config(segments={"Enterprise": {"measures": {"csat": {"poor": 80, "good": 100}}}})
    )
    out = score_accounts(frame({"a": {"csat_90d": 90, "active_days_30d": 20}}), card)
    assert out.loc["a", "measure_csat"] == pytest.approx(100)


def test_a_segment_can_reweight_groups_and_add_a_measure():
    card = scorecard_from_dict(
        config(
            segments={
                "Enterprise": {
                    "groups": {"satisfaction": {"weight": 3}},
                    "measures": {
                        "nps": {
                            "group": "satisfaction",
                            "indicator": "nps_latest",
                            "poor": 5,
                            "good": 9,
                            "label": "NPS",
                        }
                    },
                }
            }
        )
    )
    indicators = frame(
        {
            "ent": {
                "active_days_30d": 20,
                "days_since_last_activity": 0,
                "csat_90d": 50,
                "nps_latest": 9,
            },
            "smb": {
                "active_days_30d": 20,
                "days_since_last_activity": 0,
                "csat_90d": 50,
                "nps_latest": 9,
            },
        }
    )
    indicators["segment"] = ["Enterprise", "SMB"]
    out = score_accounts(indicators, card)
    # Enterprise: engagement 100 (weight 3), satisfaction mean(0, 100) = 50 (weight 3).
    assert out.loc["ent", "health_score"] == pytest.approx(75)
    # Default: engagement 100 (3), satisfaction = CSAT 0 (1); NPS is not in its scorecard.
    assert out.loc["smb", "health_score"] == pytest.approx(75)
    assert out.loc["ent", "group_satisfaction"] == pytest.approx(50)
    assert out.loc["smb", "group_satisfaction"] == pytest.approx(0)
    assert np.isnan(out.loc["smb", "measure_nps"])
    assert "nps_latest" in card.indicator_names() and "segment" in card.indicator_names()


def test_the_default_scorecard_judges_enterprise_active_users_more_strictly():
    card = load_scorecard()
    assert card.for_segment("Enterprise").measures[3].good > card.measures[3].good
    assert card.for_segment("No such segment") is card


# --- trend -------------------------------------------------------------------------------


def test_the_trend_is_up_down_or_flat_within_one_point_of_the_previous_score():
    card = scorecard_from_dict(
        {
            "groups": {"s": {"weight": 1}},
            "measures": {"m": {"group": "s", "indicator": "csat_90d", "poor": 0, "good": 100}},
        }
    )
    now = {
        "up": 60,
        "down": 40,
        "flat_up": 50.99,
        "flat_down": 49.01,
        "edge": 51,
        "new": 50,
        "was_nan": 50,
    }
    previous = pd.Series(
        {
            "up": 50.0,
            "down": 50.0,
            "flat_up": 50.0,
            "flat_down": 50.0,
            "edge": 50.0,
            "was_nan": NAN,
            "gone": 10.0,
        }
    )
    out = score_accounts(
        frame({k: {"csat_90d": v} for k, v in now.items()}), card, previous=previous
    )
    assert out["health_trend"].to_dict() == {
        "up": "up",
        "down": "down",
        "flat_up": "flat",
        "flat_down": "flat",
        "edge": "up",
        "new": None,
        "was_nan": None,
    }
    assert out.loc["down", "health_delta"] == pytest.approx(-10)
    assert np.isnan(out.loc["new", "health_delta"])


def test_without_previous_scores_there_is_no_trend():
    out = score_accounts(
        frame({"a": {"csat_90d": 70, "active_days_30d": 3}}), scorecard_from_dict(BASE)
    )
    assert out.loc["a", "health_trend"] is None
    assert np.isnan(out.loc["a", "health_delta"])


def test_the_flat_tolerance_is_configurable():
    card = scorecard_from_dict(config(trend_tolerance=5))
    out = score_accounts(
        frame({"a": {"active_days_30d": 20, "days_since_last_activity": 0, "csat_90d": 90}}),
        card,
        previous=pd.Series({"a": 96.0}),
    )
    assert out.loc["a", "health_trend"] == "flat"


# --- input errors --------------------------------------------------------------------------


def test_a_missing_indicator_column_is_an_error_naming_it_and_the_fix():
    with pytest.raises(ValueError, match=r"missing column\(s\) csat_90d .*compute_indicators"):
        score_accounts(
            frame({"a": {"active_days_30d": 1}}).drop(columns="csat_90d"), scorecard_from_dict(BASE)
        )


def test_a_non_numeric_indicator_column_is_an_error_naming_the_accounts():
    indicators = frame({"a": {"csat_90d": 1.0}, "b": {"csat_90d": 2.0}}).astype(
        {"csat_90d": object}
    )
    indicators.loc["b", "csat_90d"] = "high"
    with pytest.raises(ValueError, match=r"indicators.csat_90d: not numeric .*'b' \('high'\)"):
        score_accounts(indicators, scorecard_from_dict(BASE))


def test_previous_scores_with_duplicate_accounts_are_an_error():
    with pytest.raises(
        ValueError, match=r"previous: account_id\(s\) \['a'\] appear more than once"
    ):
        score_accounts(
            frame({"a": {"csat_90d": 1}}),
            scorecard_from_dict(BASE),
            previous=pd.Series([1.0, 2.0], index=["a", "a"]),
        )


def test_previous_scores_that_are_not_a_series_are_an_error():
    with pytest.raises(ValueError, match="previous must be a Series"):
        score_accounts(
            frame({"a": {"csat_90d": 1}}), scorecard_from_dict(BASE), previous={"a": 1.0}
        )


def test_previous_scores_that_are_not_numbers_are_an_error():
    with pytest.raises(ValueError, match="previous: scores must be numbers"):
        score_accounts(
            frame({"a": {"csat_90d": 1}}),
            scorecard_from_dict(BASE),
            previous=pd.Series({"a": "high"}),
        )


def test_indicators_that_are_not_a_dataframe_are_an_error():
    with pytest.raises(ValueError, match="indicators must be a DataFrame"):
        score_accounts({"csat_90d": [1]}, scorecard_from_dict(BASE))


# --- configuration errors ----------------------------------------------------------------


BAD_BANDS_OVERLAP = [
    {"label": "red", "low": 0, "high": 50, "color": "red"},
    {"label": "yellow", "low": 45, "high": 75, "color": "yellow"},
    {"label": "green", "low": 75, "high": 100, "color": "green"},
]
BAD_BANDS_GAP = [
    {"label": "red", "low": 0, "high": 50, "color": "red"},
    {"label": "yellow", "low": 51, "high": 75, "color": "yellow"},
    {"label": "green", "low": 75, "high": 100, "color": "green"},
]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"measures.csat.weight": -1},
            r"measures\.csat\.weight: -1 is negative; allowed: a number ≥ 0",
        ),
        (
            {"groups.engagement.weight": -0.5},
            r"groups\.engagement\.weight: -0\.5 is negative; allowed: a number ≥ 0",
        ),
        (
            {"measures.csat.weight": "2"},
            r"measures\.csat\.weight: '2' is not a finite number; allowed: a number ≥ 0",
        ),
        ({"measures.csat.weight": True}, r"measures\.csat\.weight: True is not a finite number"),
        (
            {"groups.engagement.weight": 0, "groups.satisfaction.weight": 0},
            r"groups: every group weight is 0; allowed: at least one group with weight > 0",
        ),
        (
            {"measures.active_days.weight": 0, "measures.recency.weight": 0},
            r"groups\.engagement: the group has weight > 0 but no measure with weight > 0 \(all its measure "
            r"weights are 0\); allowed: at least one measure with group = 'engagement' and weight > 0, "
            r"or groups\.engagement\.weight = 0",
        ),
        (
            {"measures.csat": DELETE},
            r"groups\.satisfaction: the group has weight > 0 but no measure",
        ),
        ({"groups": {}}, r"groups: no groups; allowed: at least one \[groups.<name>\] table"),
        (
            {"measures.csat.good": 50},
            r"measures\.csat\.good: poor and good are both 50; allowed: a value different from poor",
        ),
        (
            {"measures.csat.direction": "lower"},
            r"measures\.csat\.good: thresholds in the wrong order for direction = 'lower' \(poor = 50, good = 90\); "
            r"allowed: poor > good \(swap poor and good, or set direction = 'higher'\)",
        ),
        (
            {"measures.recency.direction": "higher"},
            r"measures\.recency\.good: thresholds in the wrong order for direction = 'higher'.*allowed: poor < good",
        ),
        (
            {"measures.csat.direction": "up"},
            r"measures\.csat\.direction: 'up' is not a direction; allowed: higher, lower",
        ),
        (
            {"measures.csat.breakpoints": [[95, 50]]},
            r"measures\.csat\.breakpoints\[0\]: value 95 is out of order; allowed: an array of \[value, score\] pairs with values strictly between poor \(50\) and good \(90\)",
        ),
        (
            {"measures.csat.breakpoints": [[60, 50], [70, 40]]},
            r"measures\.csat\.breakpoints\[1\]: score 40 is out of order",
        ),
        (
            {"measures.csat.breakpoints": [[70, 100]]},
            r"measures\.csat\.breakpoints\[0\]: score 100 is out of order",
        ),
        (
            {"measures.csat.breakpoints": [[60, 50], [60, 60]]},
            r"measures\.csat\.breakpoints\[1\]: value 60 is out of order",
        ),
        (
            {"measures.csat.breakpoints": [60, 50]},
            r"measures\.csat\.breakpoints\[0\]: 60 is not a \[value, score\] pair",
        ),
        (
            {"measures.csat.breakpoints": {"60": 50}},
            r"measures\.csat\.breakpoints: expected an array",
        ),
        (
            {"measures.recency.breakpoints": [[40, 50]]},
            r"measures\.recency\.breakpoints\[0\]: value 40 is out of order.*between poor \(30\) and good \(0\)",
        ),
        (
            {"measures.csat.indicator": "csat_60d"},
            r"measures\.csat\.indicator: 'csat_60d' is not a known indicator; allowed: the numeric columns of docs/indicators\.md, e\.g\. csat_90d",
        ),
        (
            {"measures.csat.indicator": "nps_category_latest"},
            r"measures\.csat\.indicator: 'nps_category_latest' holds labels, not numbers",
        ),
        (
            {"measures.csat.group": "satisfacton"},
            r"measures\.csat\.group: 'satisfacton' is not a group; allowed: engagement, satisfaction",
        ),
        ({"measures.csat.poor": DELETE}, r"measures\.csat\.poor: missing"),
        ({"measures.csat.poor": "50"}, r"measures\.csat\.poor: '50' is not a finite number"),
        (
            {"measures.csat.treshold": 5},
            r"measures\.csat\.treshold: unknown key; allowed: indicator, group, label, poor, good, direction, breakpoints, weight, format",
        ),
        (
            {"groups.engagement.colour": "red"},
            r"groups\.engagement\.colour: unknown key; allowed: label, weight",
        ),
        ({"colour": "red"}, r"colour: unknown key; allowed: min_coverage, trend_tolerance"),
        ({"measures": DELETE}, r"measures: missing"),
        (
            {"measures.csat.format": "{:.0q}%"},
            r"measures\.csat\.format: '\{:\.0q\}%' cannot format a number",
        ),
        (
            {"measures.csat.format": "{} of {}"},
            r"measures\.csat\.format: '\{\} of \{\}' has 2 fields; allowed: a Python format string with one \{\} field",
        ),
        (
            {"measures.csat.format": "{value:.0f}"},
            r"measures\.csat\.format: .* cannot format a number",
        ),
        ({"measures.csat.label": ""}, r"measures\.csat\.label: '' is not a non-empty string"),
        (
            {"measures.Bad-Name": {"group": "engagement"}},
            r"measures\.Bad-Name: 'Bad-Name' is not a usable name.*allowed: lowercase letters",
        ),
        ({"measures.csat": 5}, r"measures\.csat: expected a table, got 5"),
        (
            {"min_coverage": 1.5},
            r"min_coverage: 1\.5 is out of range; allowed: a number from 0 to 1",
        ),
        ({"trend_tolerance": -1}, r"trend_tolerance: -1 is negative; allowed: a number ≥ 0"),
        (
            {"bands": BAD_BANDS_OVERLAP},
            r"bands\[1\]\.low: 'yellow' starts at 45, overlapping 'red' which ends at 50; allowed: 50 \(lower bounds are exclusive",
        ),
        (
            {"bands": BAD_BANDS_GAP},
            r"bands\[1\]\.low: 'yellow' starts at 51, leaving a gap after 'red' which ends at 50; allowed: 50",
        ),
        (
            {"bands": [BAD_BANDS_GAP[0], {**BAD_BANDS_GAP[1], "low": 50}]},
            r"bands\[1\]\.high: the last band ends at 75, leaving a gap to 100; allowed: 100",
        ),
        (
            {"bands": [{**BAD_BANDS_GAP[0], "low": 10}, *BAD_BANDS_OVERLAP[1:]]},
            r"bands\[0\]\.low: the first band starts at 10, leaving a gap from 0; allowed: 0",
        ),
        (
            {"bands": [*BAD_BANDS_OVERLAP[:1], {**BAD_BANDS_OVERLAP[1], "low": 50, "high": 110}]},
            r"bands\[1\]\.high: 110 is out of range; allowed: a number from 0 to 100",
        ),
        (
            {"bands": [{**BAD_BANDS_GAP[0], "low": -5}, *BAD_BANDS_OVERLAP[1:]]},
            r"bands\[0\]\.low: -5 is negative; allowed: a number from 0 to 100",
        ),
        (
            {"bands": [{**BAD_BANDS_GAP[0], "high": 0}]},
            r"bands\[0\]: low 0 is not below high 0; allowed: low < high",
        ),
        (
            {"bands": [BAD_BANDS_GAP[0], {**BAD_BANDS_GAP[2], "low": 50, "label": "red"}]},
            r"bands\[1\]\.label: 'red' is used twice",
        ),
        (
            {"bands": [{**BAD_BANDS_GAP[0], "high": 100, "shade": 1}]},
            r"bands\[0\]\.shade: unknown key; allowed: label, low, high, color",
        ),
        ({"bands": [{"label": "all", "low": 0, "high": 100}]}, r"bands\[0\]\.color: missing"),
        ({"bands": []}, r"bands: expected a non-empty array of tables"),
        (
            {"segments.Enterprise.measures.csat.weight": -2},
            r"segments\.Enterprise\.measures\.csat\.weight: -2 is negative; allowed: a number ≥ 0",
        ),
        (
            {"segments.Enterprise.measures.csat.poor": 95},
            r"segments\.Enterprise\.measures\.csat\.poor: poor = 95 and good = 90 reverse the direction of the "
            r"default measure \(higher is better\); allowed: poor < good as in the default, or direction = 'lower'",
        ),
        (
            {"segments.Enterprise.measures.csat.breakpoints": [[40, 50]]},
            r"segments\.Enterprise\.measures\.csat\.breakpoints\[0\]: value 40 is out of order",
        ),
        (
            {"segments.Enterprise.bands": []},
            r"segments\.Enterprise\.bands: unknown key; allowed: min_coverage, groups, measures",
        ),
        (
            {"segments.Enterprise.measures.nps": {"group": "satisfaction"}},
            r"segments\.Enterprise\.measures\.nps\.indicator: missing",
        ),
        ({"segments.Enterprise": "strict"}, r"segments\.Enterprise: expected a table"),
    ],
)
def test_every_configuration_error_names_the_key_and_the_allowed_values(changes, message):
    with pytest.raises(ScorecardConfigError, match=message):
        scorecard_from_dict(config(**changes))


def test_an_unknown_indicator_is_accepted_when_validation_is_switched_off():
    card = scorecard_from_dict(
        config(**{"measures.csat.indicator": "csat_60d"}), known_indicators=None
    )
    assert "csat_60d" in card.indicator_names()


def test_a_categorical_indicator_is_refused_even_without_the_indicator_list():
    with pytest.raises(ScorecardConfigError, match="holds labels, not numbers"):
        scorecard_from_dict(config(**{"measures.csat.indicator": "segment"}), known_indicators=None)


def test_a_missing_scorecard_file_is_a_config_error(tmp_path):
    with pytest.raises(
        ScorecardConfigError, match=r"no such file; pass the path of a scorecard TOML file"
    ):
        load_scorecard(tmp_path / "nope.toml")


def test_a_file_that_is_not_toml_is_a_config_error(tmp_path):
    path = tmp_path / "card.toml"
    path.write_text("[groups.engagement\nweight = 1\n", "utf-8")
    with pytest.raises(ScorecardConfigError, match=r"card\.toml: not valid TOML .*fix the syntax"):
        load_scorecard(path)


def test_config_errors_in_a_file_name_the_file_and_the_key(tmp_path):
    path = tmp_path / "card.toml"
    text = (ROOT / "features" / "scorecard_default.toml").read_text("utf-8")
    csat_weight = "good = 90\nweight = 2\n"
    assert text.count(csat_weight) == 1
    path.write_text(text.replace(csat_weight, "good = 90\nweight = -2\n"), "utf-8")
    with pytest.raises(
        ScorecardConfigError,
        match=rf"scorecard {re.escape(str(path))}: measures\.csat\.weight: -2 is negative",
    ):
        load_scorecard(path)


def test_a_config_error_is_a_value_error():
    assert issubclass(ScorecardConfigError, ValueError)


# --- the worked example of docs/scorecard.md ---------------------------------------------


def worked_example(segment: str) -> pd.DataFrame:
    row = {
        "active_days_90d": 14,
        "sessions_trend_30d": -35,
        "days_since_last_activity": 3,
        "active_users_90d": 10,
        "resolution_hours_median_90d": 40,
        "open_tickets": 2,
        "reopened_share_90d": NAN,
        "nps_mean_180d": 6.5,
        "csat_180d": 38,
        "ces_mean_180d": NAN,
        "sentiment_mean_180d": 0.0,
        "revenue_trend_90d": NAN,
        "return_rate_180d": NAN,
        "repeat_purchase_180d": NAN,
        "segment": segment,
    }
    return pd.DataFrame([row], index=pd.Index(["acme"], name="account_id"))


def test_the_worked_example_of_the_docs_gives_the_documented_numbers():
    out = score_accounts(
        worked_example("Mid-Market"), load_scorecard(), previous=pd.Series({"acme": 58.0})
    )
    row = out.loc["acme"]
    assert row["measure_active_days"] == pytest.approx((14 - 3) / (36 - 3) * 100)
    assert row["measure_recency"] == 100
    assert row["group_engagement"] == pytest.approx(540 / 9)
    assert row["group_support"] == pytest.approx(55)
    assert row["group_satisfaction"] == pytest.approx(162.5 / 6)
    assert np.isnan(row["group_commercial"])
    assert row["health_score"] == pytest.approx((35 * 540 / 9 + 20 * 55 + 25 * 162.5 / 6) / 80)
    assert round(row["health_score"], 2) == 48.46
    assert row["health_band"] == "red"
    assert row["health_coverage"] == pytest.approx(0.35 + 0.2 * 4 / 5 + 0.25 * 6 / 7)
    assert round(row["health_coverage"], 3) == 0.724
    assert (row["health_trend"], round(row["health_delta"], 1)) == ("down", -9.5)
    assert [d["text"] for d in row["health_drivers"]] == [
        "CSAT, last 180 days: 38% (poor ≤ 50%) cost 10.4 points",
        "Mean NPS answer, last 180 days: 6.5 (poor ≤ 5.0) cost 9.8 points",
        "Active days, last 90 days: 14 (poor ≤ 3) cost 9.7 points",
    ]


def test_the_worked_example_as_an_enterprise_account_uses_the_enterprise_overrides():
    row = score_accounts(worked_example("Enterprise"), load_scorecard()).loc["acme"]
    assert row["measure_active_users"] == pytest.approx((10 - 5) / (40 - 5) * 100)
    engagement = (3 * 100 / 3 + 2 * 20 + 2 * 100 + 2 * 500 / 35) / 9
    assert round(engagement, 2) == 40.95
    assert row["group_engagement"] == pytest.approx(engagement)
    assert row["health_score"] == pytest.approx((35 * engagement + 30 * 55 + 25 * 162.5 / 6) / 90)
    assert round(row["health_score"], 2) == 41.78


def test_a_scorecard_survives_pickling_for_worker_processes():
    card = load_scorecard()
    assert pickle.loads(pickle.dumps(card)) == card
