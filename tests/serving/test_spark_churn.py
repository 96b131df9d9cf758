"""A shop's churn is a lapse in ordering on Spark too: the same lapse, churn dates, scores,
alerts, features and churn metrics as the pandas engine.

The shop demo (no ``accounts.churned_at``) is written as Parquet once for the module and
scored by both engines with the serving tests' registered model, so the probabilities and
their drivers are compared as well.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.churn_definition import ChurnDefinition
from features.demo_shop import generate_shop_data
from features.io import load_tables
from serving.batch import run_batch
from serving.cli import app
from tests.serving.conftest import SPARK_BUCKETS
from tests.serving.test_spark_engine import _assert_same, _assert_same_metrics, _read

pytest.importorskip("pyspark")

AS_OF = "2025-08-01"  # inside the shop's 9 months that start 2025-01-01
SPARK = ["--engine", "spark", "--buckets", str(SPARK_BUCKETS), "--spark-master", "local[2]"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark_shop") / "shop"
    folder.mkdir()
    for name, frame in generate_shop_data(accounts=120, months=9, seed=3).items():
        frame.to_parquet(folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def shop_runs(spark, store, shop, tmp_path_factory):
    """The shop scored by each engine with the same registered model."""
    out = tmp_path_factory.mktemp("spark_shop_runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        patch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
        run_batch(shop, pd.Timestamp(AS_OF), out / "pandas.parquet")
        result = CliRunner().invoke(app, ["score", str(shop), "--as-of", AS_OF,
                                          "--out", str(out / "spark.parquet"), *SPARK])
    assert result.exit_code == 0, result.output
    return out


def _meta(path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_a_shop_scored_on_spark_gets_the_pandas_scores_alerts_and_churn_definition(shop_runs, shop):
    got, want = _read(shop_runs / "spark.parquet"), _read(shop_runs / "pandas.parquet")
    assert len(want) > 50 and want["churn_probability"].notna().all()  # the model scored
    _assert_same(got, want)
    _assert_same(pd.read_parquet(shop_runs / "spark.alerts.parquet"),
                 pd.read_parquet(shop_runs / "pandas.alerts.parquet"))
    spark_meta, pandas_meta = _meta(shop_runs / "spark.parquet.meta.json"), _meta(
        shop_runs / "pandas.parquet.meta.json")
    lapse = ChurnDefinition.from_metadata(pandas_meta)
    assert lapse.is_lapse and "derived" in lapse.source  # the lapse learnt from the gaps
    assert ChurnDefinition.from_metadata(spark_meta) == lapse
    assert spark_meta["churn_definition_source"] == lapse.source
    assert spark_meta["scorecard"] == pandas_meta["scorecard"]  # the shop's scorecard
    # Some customers had lapsed by then: the lapse dates decide who is scored.
    assert len(want) < len(load_tables(shop)[0].accounts)


@pytest.mark.slow
def test_a_shops_features_on_spark_are_the_pandas_features_under_the_shops_scorecard(shop, tmp_path):
    args = ["features", str(shop), "--as-of", AS_OF]
    pandas_run = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "pandas.parquet")])
    spark_run = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "spark.parquet"), *SPARK])
    assert pandas_run.exit_code == spark_run.exit_code == 0, spark_run.output
    _assert_same(_read(tmp_path / "spark.parquet"), _read(tmp_path / "pandas.parquet"))


@pytest.mark.slow
def test_a_shops_churn_and_retention_on_spark_are_the_pandas_ones(shop):
    args = ["metrics", str(shop), "--start", "2025-03-01", "--end", "2025-09-01",
            "--every", "month", "--format", "json"]
    want = json.loads(CliRunner().invoke(app, args).stdout)
    result = CliRunner().invoke(app, [*args, *SPARK])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert len(got) == len(want) == 6
    for got_period, want_period in zip(got, want):
        for key in ("churn_rate", "retention_rate"):
            _assert_same_metrics(got_period[key], want_period[key], key)
    assert any(period["churn_rate"]["value"] for period in want)  # lapses were counted


@pytest.mark.slow
def test_a_lapse_that_cannot_be_derived_on_spark_names_the_setting_and_exits_2(spark, tmp_path):
    folder = tmp_path / "once"
    folder.mkdir()
    tables = generate_shop_data(accounts=20, months=3, seed=1)
    tables["accounts"].to_parquet(folder / "accounts.parquet")
    # Nobody orders twice: there is no gap between orders to derive the lapse from.
    tables["orders"].drop_duplicates("account_id").to_parquet(folder / "orders.parquet")
    result = CliRunner().invoke(app, ["features", str(folder), "--as-of", "2025-03-01",
                                      "--out", str(tmp_path / "f.parquet"), *SPARK])
    assert result.exit_code == 2, result.output
    assert "lapse_days cannot be derived" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.glob("f.*"))
