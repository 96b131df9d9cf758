"""`customer-health features` from the command line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.catalogue import indicator_columns
from features.health_score import score_accounts
from features.indicators import compute_indicators
from features.io import load_tables
from features.scorecard_config import load_scorecard
from serving.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "220"}
AS_OF = "2025-06-01"  # inside the six months of the root demo_folder


@pytest.fixture(scope="module")
def written(demo_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("features") / "out" / "features.parquet"
    result = runner.invoke(app, ["features", str(demo_folder), "--as-of", AS_OF, "--out", str(out)],
                           env=WIDE)
    return result, out


def test_features_help_shows_an_example():
    result = runner.invoke(app, ["features", "--help"], env=WIDE)
    assert result.exit_code == 0
    for text in ("--as-of", "--out", "--windows", "--scorecard", "--mapping",
                 "customer-health features demo/data --as-of 2026-06-01 --out out/features.parquet"):
        assert text in result.output


def test_features_writes_one_row_per_active_account_with_indicators_and_health(written, demo_folder):
    result, out = written
    assert result.exit_code == 0, result.output
    assert "Health bands" in result.output
    table = pd.read_parquet(out)
    tables, _ = load_tables(demo_folder)
    indicators = compute_indicators(tables, AS_OF)
    health = score_accounts(indicators, load_scorecard())
    assert list(table["account_id"]) == list(indicators.index)
    assert list(table.columns[:1 + indicators.shape[1]]) == ["account_id"] + indicator_columns()
    pd.testing.assert_frame_equal(
        table[indicators.columns].reset_index(drop=True),
        indicators.reset_index(drop=True), check_dtype=False, check_exact=True,
    )
    np.testing.assert_array_equal(table["health_score"], health["health_score"])
    assert set(table["health_band"]) <= {"red", "yellow", "green", "insufficient data"}
    assert any(c.startswith("measure_") for c in table.columns)
    drivers = json.loads(table["health_drivers"].iloc[0])
    assert isinstance(drivers, list) and all("text" in d for d in drivers)
    assert f"{len(table):,} accounts active at" in result.output


def test_features_writes_csv_with_custom_windows(demo_folder, tmp_path):
    out = tmp_path / "features.csv"
    card = tmp_path / "card.toml"
    card.write_text(
        '[groups.engagement]\nweight = 1\n'
        '[measures.active]\ngroup = "engagement"\nindicator = "active_days_7d"\n'
        'label = "Active days (7d)"\npoor = 0\ngood = 5\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["features", str(demo_folder), "--as-of", AS_OF, "--out", str(out),
                                 "--windows", "7,14", "--scorecard", str(card)], env=WIDE)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert "sessions_7d" in table and "sessions_14d" in table and "sessions_30d" not in table
    assert "measure_active" in table


@pytest.mark.parametrize(
    "options, message",
    [
        (["--as-of", "someday"], "--as-of: could not read 'someday' as a date"),
        (["--windows", "30,abc"], "--windows '30,abc' must be distinct whole numbers"),
        (["--windows", "0"], "must be distinct whole numbers of days"),
        (["--out", "features.xlsx"], "must end in .parquet or .csv"),
        (["--windows", "7,14"], "which --windows 7,14 does not produce"),
        (["--scorecard", "missing.toml"], "no such file"),
    ],
)
def test_bad_options_fail_with_a_message_that_says_what_to_do(demo_folder, tmp_path, options, message):
    args = {"--as-of": AS_OF, "--out": str(tmp_path / "f.parquet")}
    args.update(dict(zip(options[::2], options[1::2])))
    if args["--out"] == "features.xlsx":
        args["--out"] = str(tmp_path / "features.xlsx")
    if "--scorecard" in args:
        args["--scorecard"] = str(tmp_path / args["--scorecard"])
    result = runner.invoke(app, ["features", str(demo_folder), *sum(map(list, args.items()), [])],
                           env=WIDE)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "f.parquet").exists()


def test_invalid_data_fails_with_exit_code_2_and_writes_nothing(demo_folder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(demo_folder, broken)
    sessions = pd.read_csv(broken / "sessions.csv")
    sessions.loc[3, "started_at"] = "not a time"
    sessions.to_csv(broken / "sessions.csv", index=False)
    out = tmp_path / "f.parquet"
    result = runner.invoke(app, ["features", str(broken), "--as-of", AS_OF, "--out", str(out)],
                           env=WIDE)
    assert result.exit_code == 2
    assert "sessions.started_at" in result.output
    assert not out.exists()
