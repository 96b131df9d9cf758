"""The Spark engine gives the pandas engine's numbers: same accounts, scores, bands,
drivers, alerts and probabilities, and the same contract problems with the same rows.

Spark runs in local mode with one session for the whole test session (starting one takes
seconds); the inputs are the serving tests' demo accounts written as Parquet, scored by the
model the ``store`` fixture trains and registers.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import validate_tables
from features.demo_data import write_demo_data
from features.io import load_tables
from features.problems import DataContractError
from features.scorecard_config import load_scorecard
from serving.alerts import TYPICAL_KEY
from serving.batch import run_batch
from serving.cli import app
from serving.commands.features import build_features
from serving.spark.session import SparkUnavailable, check_spark_installed
from tests.serving.conftest import SPARK_BUCKETS as BUCKETS

pyspark = pytest.importorskip("pyspark")

AS_OF = pd.Timestamp("2025-12-01")


@pytest.fixture(scope="session")
def parquet_demo(tmp_path_factory):
    """The serving demo accounts (the ones the ``store`` model learnt from) as Parquet."""
    from tests.serving.conftest import DEMO_ACCOUNTS, DEMO_MONTHS

    folder = tmp_path_factory.mktemp("spark_demo") / "demo"
    write_demo_data(folder, accounts=DEMO_ACCOUNTS, months=DEMO_MONTHS, seed=7, fmt="parquet")
    return folder


@pytest.fixture(scope="session")
def both_engines(spark, store, parquet_demo, tmp_path_factory):
    """One scoring run per engine on the same tables with the same registered model, the
    Spark one through the command line."""
    out = tmp_path_factory.mktemp("spark_runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        patch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
        run_batch(parquet_demo, AS_OF, out / "pandas.parquet")
        result = CliRunner().invoke(app, [
            "score", str(parquet_demo), "--as-of", "2025-12-01", "--out", str(out / "spark.parquet"),
            "--engine", "spark", "--buckets", str(BUCKETS), "--spark-master", "local[2]"])
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "spark.parquet.meta.json").read_text())


def _read(path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(["account_id"], kind="stable").reset_index(drop=True)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert got["account_id"].tolist() == want["account_id"].tolist()
    for column in want.columns:
        if want[column].dtype.kind == "f":
            assert (got[column].isna() == want[column].isna()).all(), column
            np.testing.assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float),
                                       rtol=0, atol=1e-9, equal_nan=True, err_msg=column)
        else:
            as_text = [None if pd.isna(v) else str(v) for v in got[column]]
            assert as_text == [None if pd.isna(v) else str(v) for v in want[column]], column


@pytest.mark.slow
def test_spark_scores_equal_the_pandas_scores_account_by_account(both_engines):
    out, meta = both_engines
    got, want = _read(out / "spark.parquet"), _read(out / "pandas.parquet")
    assert len(want) > 200 and meta["accounts"] == len(want)
    assert want["churn_probability"].notna().sum() > 200  # the model scored: a real comparison
    _assert_same(got, want)
    assert got["churn_drivers"].map(json.loads).tolist() == want["churn_drivers"].map(json.loads).tolist()


@pytest.mark.slow
def test_spark_alerts_equal_the_pandas_alerts(both_engines):
    out, meta = both_engines
    got = pd.read_parquet(out / "spark.alerts.parquet")
    want = pd.read_parquet(out / "pandas.alerts.parquet")
    assert len(want) > 0 and meta["alerts"] == len(want)
    _assert_same(got.reset_index(drop=True), want.reset_index(drop=True))
    assert meta["engine"] == "spark" and meta["model"]["alias"] == "champion"
    # The report reads drivers against the typical values the run records: the same in both.
    typical = json.loads((out / "pandas.parquet.meta.json").read_text())[TYPICAL_KEY]
    assert meta[TYPICAL_KEY] and set(meta[TYPICAL_KEY]) <= set(typical)
    for name, value in meta[TYPICAL_KEY].items():
        if value is None:
            assert typical[name] is None, name
        else:
            assert value == pytest.approx(typical[name], abs=1e-9), name


@pytest.mark.slow
def test_spark_records_the_pandas_data_fingerprint_and_model_warnings(both_engines):
    out, meta = both_engines
    want = json.loads((out / "pandas.parquet.meta.json").read_text())
    assert len(meta["data_fingerprint"]) == 64
    assert meta["data_fingerprint"] == want["data_fingerprint"]
    assert meta["model_warnings"] == want["model_warnings"]


@pytest.mark.slow
def test_previous_auto_on_spark_finds_the_latest_earlier_run_next_to_the_output(
        both_engines, parquet_demo, store, tmp_path, monkeypatch):
    import shutil

    out, _ = both_engines
    shutil.copytree(out / "spark.parquet", tmp_path / "spark.parquet")
    shutil.copy(out / "spark.parquet.meta.json", tmp_path / "spark.parquet.meta.json")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    result = CliRunner().invoke(app, [
        "score", str(parquet_demo), "--as-of", "2025-12-15", "--out", str(tmp_path / "later.parquet"),
        "--previous", "auto", "--engine", "spark", "--buckets", str(BUCKETS),
        "--spark-master", "local[2]"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "later.parquet.meta.json").read_text())
    assert meta["previous"] == str(tmp_path / "spark.parquet") and meta["previous_missing"] is None


def test_previous_auto_without_an_earlier_run_says_so_and_refuses_a_remote_output(tmp_path):
    from serving.commands.spark_runs import _previous_run
    from serving.errors import InvalidInput

    found, missing = _previous_run("auto", str(tmp_path / "scores.parquet"), AS_OF)
    assert found is None and "no earlier run in" in missing
    assert _previous_run("runs/x.parquet", "s3://b/y.parquet", AS_OF) == ("runs/x.parquet", None)
    with pytest.raises(InvalidInput, match="give the previous run's path"):
        _previous_run("auto", "s3://bucket/scores.parquet", AS_OF)


@pytest.mark.slow
def test_spark_features_equal_the_pandas_features(spark, parquet_demo, tmp_path):
    from serving.spark.engine import features_run

    card = load_scorecard()
    result = features_run(spark, str(parquet_demo), AS_OF, str(tmp_path / "features.parquet"),
                          scorecard=card, buckets=BUCKETS)
    tables, _ = load_tables(parquet_demo)
    want, _ = build_features(tables, AS_OF, (30, 90, 180), card)
    assert result["accounts"] == len(want)
    _assert_same(_read(tmp_path / "features.parquet"), want.sort_values("account_id").reset_index(drop=True))


def _broken_tables() -> dict[str, pd.DataFrame]:
    from tests.conftest import make_small_raw_tables

    raw = make_small_raw_tables()
    raw["sessions"].loc[1, "duration_seconds"] = -5.0          # a range
    raw["sessions"].loc[4, "account_id"] = "A9"                # a reference
    raw["orders"]["amount"] = raw["orders"]["amount"].astype(str)  # numbers kept as text
    raw["orders"].loc[2, "amount"] = "a lot"                   # a type
    return raw


@pytest.mark.slow
def test_spark_reports_the_pandas_problems_with_the_same_rows_and_writes_nothing(spark, tmp_path):
    from serving.spark.engine import features_run

    raw = _broken_tables()
    folder = tmp_path / "broken"
    folder.mkdir()
    for name, frame in raw.items():
        frame.to_parquet(folder / f"{name}.parquet")
    with pytest.raises(DataContractError) as pandas_error:
        validate_tables({name: pd.read_parquet(folder / f"{name}.parquet") for name in raw})
    with pytest.raises(DataContractError, match="account_id not found in accounts") as spark_error:
        features_run(spark, str(folder), AS_OF, str(tmp_path / "out.parquet"),
                     scorecard=load_scorecard(), buckets=BUCKETS)
    described = sorted(p.describe() for p in spark_error.value.problems)
    assert described == sorted(p.describe() for p in pandas_error.value.problems)
    assert any("row 5 (A9)" in text for text in described)
    assert not list(tmp_path.glob("out.parquet*"))


@pytest.mark.slow
def test_a_ticket_id_repeated_across_buckets_is_the_pandas_key_problem(spark, tmp_path):
    from serving.spark.engine import features_run
    from serving.spark.tables import read_tables
    from tests.conftest import make_small_raw_tables

    raw = make_small_raw_tables()
    raw["tickets"]["ticket_id"] = "T1"  # the same id on every account's ticket
    folder = tmp_path / "repeated"
    folder.mkdir()
    for name, frame in raw.items():
        frame.to_parquet(folder / f"{name}.parquet")
    tickets = read_tables(spark, str(folder), buckets=BUCKETS).frames["tickets"]
    assert tickets.select("_bucket").distinct().count() > 1  # the repeats meet in no bucket
    with pytest.raises(DataContractError) as pandas_error:
        validate_tables({name: pd.read_parquet(folder / f"{name}.parquet") for name in raw})
    with pytest.raises(DataContractError, match="unique") as spark_error:
        features_run(spark, str(folder), AS_OF, str(tmp_path / "out.parquet"),
                     scorecard=load_scorecard(), buckets=BUCKETS)
    described = [p.describe() for p in spark_error.value.problems]
    assert described == [p.describe() for p in pandas_error.value.problems]
    assert "3 row(s): row 1 (T1), row 2 (T1), row 3 (T1)" in described[0]
    assert not list(tmp_path.glob("out.parquet*"))


def test_a_missing_java_is_one_line_naming_what_to_install_and_exit_code_2(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkUnavailable, match="openjdk-17-jre-headless"):
        check_spark_installed()
    result = CliRunner().invoke(app, ["features", str(tmp_path), "--as-of", "2025-12-01",
                                      "--out", str(tmp_path / "f.parquet"), "--engine", "spark"])
    assert result.exit_code == 2
    assert "needs Java 17" in result.output and "Traceback" not in result.output


def _assert_same_metrics(got, want, where: str = "") -> None:
    """The same JSON: the same keys, text and counts, floats equal to 1e-9."""
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            _assert_same_metrics(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same_metrics(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), where
    else:
        assert got == want, where


@pytest.mark.slow
def test_spark_portfolio_metrics_equal_the_pandas_metrics(spark, parquet_demo):
    from features.period_metrics import METRIC_KEYS

    # A month before the surveys and tickets begin (undefined metrics) and two after, each
    # metric also by the accounts' segment.
    args = ["metrics", str(parquet_demo), "--start", "2024-12-01", "--end", "2025-03-01",
            "--every", "month", "--by", "segment", "--format", "json"]
    want = json.loads(CliRunner().invoke(app, args).stdout)
    result = CliRunner().invoke(app, [*args, "--engine", "spark", "--buckets", str(BUCKETS),
                                      "--spark-master", "local[2]"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert len(got) == len(want) == 3
    _assert_same_metrics(got, want)
    # Both undefined (with the pandas reasons) and measured values were compared.
    assert want[0]["nps"]["value"] is None and want[0]["nps"]["reason"]
    assert want[0]["resolution_time"]["value"] is None
    for key in METRIC_KEYS:
        assert want[2][key]["value"] is not None, key
        assert len(want[2][key]["groups"]) == 3, key


@pytest.mark.slow
def test_spark_shop_metrics_by_source_equal_the_pandas_metrics_from_a_mid_day_start(spark, tmp_path):
    from features.contract import SurveyScales
    from features.demo_shop import generate_shop_data
    from features.period_metrics import metrics_over_time
    from serving.spark.metrics import metrics_on_spark
    from serving.spark.tables import read_tables

    folder = tmp_path / "shop"
    folder.mkdir()
    shop = generate_shop_data(accounts=60, months=6, seed=3)
    # Without its returns (the subscription demo has them): the return rate is undefined
    # for want of that table, and each engine must say which table is missing.
    del shop["returns"]
    for name, frame in shop.items():
        frame.to_parquet(folder / f"{name}.parquet")
    # The tables as recorded (no lapse applied), as the Spark engine reads them.
    tables, _ = validate_tables({path.stem: pd.read_parquet(path) for path in folder.iterdir()})
    # A start at noon: each period's first day counts only its afternoon's active users.
    start, end = pd.Timestamp("2025-02-10 12:00"), pd.Timestamp("2025-05-10 12:00")
    # Split by the sessions' own column: the orders cannot be split by it, and say why.
    want = json.loads(json.dumps(metrics_over_time(tables, start, end, every="month",
                                                   by="source")))
    spark_tables = read_tables(spark, str(folder), buckets=BUCKETS)
    got = json.loads(json.dumps(metrics_on_spark(spark_tables, start, end, "month",
                                                 scales=SurveyScales(), by="source")))
    assert len(got) == len(want) == 3
    _assert_same_metrics(got, want)
    assert want[0]["dau"]["groups"]["organic_search"]["value"] is not None
    assert want[0]["average_order_value"]["groups_reason"].startswith("cannot split by 'source'")
    with pytest.raises(ValueError, match="by: cannot split by 'tier'.*fix: use one of"):
        metrics_on_spark(spark_tables, start, end, "month", scales=SurveyScales(), by="tier")
    for key in ("repeat_purchase_rate", "average_order_value", "purchase_frequency",
                "conversion_rate", "organic_clicks", "dau"):
        assert all(period[key]["value"] is not None for period in want), key
    # The shop records no acquisition cost, so its CLV is the order-value variant.
    assert want[0]["clv"]["variants"]["order_value"]["value"] is not None
    assert want[0]["organic_clicks"]["growth"]["value"] is not None
    assert want[0]["return_rate"]["reason"] == "no returns table"


@pytest.mark.slow
def test_spark_metrics_on_invalid_data_give_the_pandas_problems_and_exit_code_2(spark, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    for name, frame in _broken_tables().items():
        frame.to_parquet(folder / f"{name}.parquet")
    args = ["metrics", str(folder), "--start", "2025-01-01", "--end", "2025-02-01"]
    want = CliRunner().invoke(app, args)
    got = CliRunner().invoke(app, [*args, "--engine", "spark", "--buckets", str(BUCKETS),
                                   "--spark-master", "local[2]"])
    assert want.exit_code == got.exit_code == 2
    assert "row 5 (A9)" in got.output and "Traceback" not in got.output
    # The same problems, lines and rows (the Spark engine may list the tables' problems in
    # another order, as in the features test above).
    assert sorted(got.output.strip().splitlines()) == sorted(want.output.strip().splitlines())


@pytest.mark.slow
def test_a_bucket_s_packs_give_back_its_rows_in_file_order(spark, tmp_path):
    """Packs of a few rows each (several per bucket and table), from a table written as two
    files: each bucket's tables are its rows of the files, in file order, with their types,
    and a table without rows in a bucket is empty with its columns."""
    from serving.spark.tables import bucket_tables, packs, read_tables, table_types
    from tests.conftest import make_small_raw_tables

    raw = make_small_raw_tables()
    folder = tmp_path / "parts"
    folder.mkdir()
    for name, frame in raw.items():
        if name == "sessions":  # a folder of two parts, read in path order
            (folder / "sessions").mkdir()
            half = len(frame) // 2
            frame.iloc[:half].to_parquet(folder / "sessions" / "part-0.parquet")
            frame.iloc[half:].to_parquet(folder / "sessions" / "part-1.parquet")
        else:
            frame.to_parquet(folder / f"{name}.parquet")
    batch = "spark.sql.execution.arrow.maxRecordsPerBatch"
    spark.conf.set(batch, "2")  # batches of 2 rows reach the packing, which packs every 2
    try:
        with read_tables(spark, str(folder), buckets=BUCKETS) as tables:
            packed = packs(tables.frames, rows=2).toPandas()
            types = table_types(tables)
            owners = {name: frame.select("_row", "_bucket").toPandas().set_index("_row")["_bucket"]
                      for name, frame in tables.frames.items()}
    finally:
        spark.conf.unset(batch)
    assert packed.groupby(["_bucket", "_table"]).size().max() > 1  # several packs meet
    emptied = 0
    for bucket, group in packed.groupby("_bucket"):
        got, rows = bucket_tables(group, tables.columns, types)
        for name, frame in raw.items():
            want = sorted(owners[name].index[owners[name] == bucket])
            assert list(rows[name]) == want, name
            expected = frame.iloc[[r - 1 for r in want]].reset_index(drop=True)
            assert list(got[name].columns) == list(frame.columns), name
            pd.testing.assert_frame_equal(got[name], expected, check_dtype=False,
                                          check_exact=True, obj=f"{name} of bucket {bucket}")
            for column in frame.select_dtypes(include=["number", "datetime"]).columns:
                assert got[name][column].dtype.kind == frame[column].dtype.kind, (name, column)
            emptied += not want
    assert emptied  # some bucket has no rows of some table
