"""A shop export validates and scores with only a mapping file (no preparation script).

``tests/data/shop_export`` is a small hand-made export shaped like a marketplace's: customers,
orders (two cancelled), order items, payments (one order paid twice) and reviews whose
review id is reused across the two orders of one checkout, all in local time. Its
``mapping.toml`` reaches the account key through reviews -> orders -> customers, counts
items and sums payments per order, drops cancelled orders, sets ``survey = 'csat'``,
de-duplicates the review id and reads the times as America/Sao_Paulo.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from serving.cli import app

SHOP = Path(__file__).resolve().parents[1] / "data" / "shop_export"
runner = CliRunner()


def test_the_shop_export_validates_with_only_its_mapping_file():
    result = runner.invoke(app, ["validate", str(SHOP), "--mapping", str(SHOP / "mapping.toml"),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"valid": true' in result.output and '"orders": 11' in result.output


def test_the_shop_export_scores_with_only_its_mapping_file(tmp_path, empty_registry):
    out = tmp_path / "runs" / "2018-03-01.parquet"
    result = runner.invoke(app, [
        "score", str(SHOP), "--mapping", str(SHOP / "mapping.toml"), "--as-of", "2018-03-01",
        "--out", str(out), "--scorecard", str(SHOP / "scorecard.toml"),
    ], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out).set_index("account_id")
    # No churn column and an orders table: churn is a lapse (150 days, derived from the gaps
    # between repeat orders). The customer whose last order was on 2017-09-13 was lost on
    # 2018-02-10, before the as-of date; the other ten are scored.
    assert "churn = a lapse: no order for 150 days" in result.output
    assert len(scores) == 10 and "290c77bc529b7ac9" not in scores.index
    # Bought twice and gave a 5 and a 4: green. One order that never arrived, rated 1: red.
    assert scores.loc["861eff4711a542e4", "health_band"] == "green"
    assert scores.loc["57b2a98a409812fe", "health_band"] == "red"
    # Only a cancelled order and no review: nothing to score on, and it says so.
    assert scores.loc["9afe194fb833f79e", "health_band"] == "insufficient data"
    assert pd.isna(scores.loc["9afe194fb833f79e", "health_score"])
