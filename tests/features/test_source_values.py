"""Traffic sources in the user's own words: the mapping's ``values`` and the unknown-value warning."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from features.io import load_tables
from features.mapping import Mapping, MappingError
from features.period_metrics import period_metrics
from serving.cli import app

MAPPING = """
[tables.sessions]
file = "visits.csv"
columns = { source = "Channel", account_id = "Customer" }

[tables.sessions.values.source]
google = "organic_search"
"google ads" = "paid_search"
"Facebook.com" = "social"
"""


@pytest.fixture
def messy(tmp_path):
    """A sessions export with its own column name and labels, one unknown twice, one blank."""
    (tmp_path / "accounts.csv").write_text("account_id,signup_date\na,2024-06-01\nb,2024-06-01\n")
    (tmp_path / "visits.csv").write_text(
        "Customer,user_id,started_at,duration_seconds,page_views,converted,Channel\n"
        "a,u1,2025-02-02,60,2,false,google\n"
        "a,u1,2025-02-03,120,4,true,google ads\n"
        "b,u2,2025-02-04,30,1,false,Facebook.com\n"
        "b,u2,2025-02-05,90,3,false,tiktok\n"
        "b,u2,2025-02-06,45,2,false,tiktok\n"
        "a,u1,2025-02-07,10,1,false,FACEBOOK.COM\n"
        "a,u1,2025-02-08,15,1,false,\n"
        "b,u2,2025-02-09,20,1,false,direct\n"
    )
    (tmp_path / "mapping.toml").write_text(MAPPING)
    return tmp_path


def test_mapped_labels_become_ours_and_unknown_ones_stay_with_a_warning(messy):
    tables, report = load_tables(messy, messy / "mapping.toml")
    sources = tables.sessions["source"].tolist()
    assert sources[:3] == ["organic_search", "paid_search", "social"]
    assert sources[3:6] == ["tiktok", "tiktok", "FACEBOOK.COM"]  # exact match: not mapped, kept
    assert len(tables.sessions) == 8 and sources[7] == "direct"
    [warning] = [p for p in report.warnings if p.rule == "unknown_value"]
    assert (warning.table, warning.column, warning.n_rows) == ("sessions", "source", 3)
    assert "'tiktok' (2 rows)" in warning.message and "'FACEBOOK.COM' (1 row)" in warning.message
    assert warning.rows == (4, 5, 6)
    assert '[tables.sessions.values.source] with "tiktok" = "organic_search"' in warning.fix
    metrics = period_metrics(tables, "2025-02-01", "2025-03-01")
    assert metrics["organic_clicks"]["value"] == 1  # only the mapped google visit


def test_validate_prints_the_warning_and_passes(messy):
    result = CliRunner().invoke(app, ["validate", str(messy), "--mapping", str(messy / "mapping.toml"),
                                      "-f", "json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert output["valid"] and not output["errors"]
    problems = output["warnings"]
    assert [p["rule"] for p in problems] == ["unknown_value"]
    assert problems[0]["values"] == ["tiktok", "tiktok", "FACEBOOK.COM"]


def test_known_labels_alone_raise_no_warning(messy):
    visits = (messy / "visits.csv").read_text().replace("tiktok", "google").replace("FACEBOOK.COM", "Facebook.com")
    (messy / "visits.csv").write_text(visits)
    _, report = load_tables(messy, messy / "mapping.toml")
    assert not [p for p in report.warnings if p.rule == "unknown_value"]


@pytest.mark.parametrize(("values", "message"), [
    ({"source": {"google": "search"}},
     r"\[tables\.sessions\.values\.source\] maps onto unknown value\(s\) \['search'\] "
     r"\(from \['google'\]\); map each of your values onto one of: organic_search, paid_search"),
    ({"page_views": {"a": "b"}}, r"sessions\.page_views has no values to map; allowed: values\.source"),
    ({"source": "organic_search"}, r"must be keys of your values, e.g. google = \"organic_search\""),
])
def test_a_bad_value_map_names_the_key_and_the_fix(values, message):
    with pytest.raises(MappingError, match=message):
        Mapping.from_dict({"tables": {"sessions": {"values": values}}})


def test_only_columns_with_a_fixed_set_of_values_can_be_mapped():
    with pytest.raises(MappingError, match=r"only \[sessions\.values\.source\] can be mapped"):
        Mapping.from_dict({"tables": {"orders": {"values": {"status": {"x": "y"}}}}})
