"""``--mapping`` on Spark: a folder of Parquet files with the user's own file names, column
names, labels and local times, read through the mapping file, scores as with pandas; a
mapping that reads tables with SQL is refused in one line before Spark starts."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.demo_data import write_demo_data
from serving.cli import app
from tests.serving.conftest import SPARK_BUCKETS
from tests.serving.test_spark_engine import _assert_same, _read

pytest.importorskip("pyspark")

AS_OF = "2025-08-01"
SPARK = ["--engine", "spark", "--buckets", str(SPARK_BUCKETS), "--spark-master", "local[2]"]
MAPPING = """
currency = "EUR"

[tables.accounts]
file = "customers.parquet"
columns = { account_id = "CustomerID", signup_date = "Created" }

[tables.sessions]
columns = { account_id = "CustomerID", started_at = "Start" }
timezone = "Europe/Berlin"

[tables.sessions.values.source]
google = "organic_search"
newsletter = "email"
"""


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """Demo tables as a team exports them: other file and column names, their own traffic
    labels, sessions in Berlin time."""
    root = tmp_path_factory.mktemp("spark_mapped")
    write_demo_data(root / "demo", accounts=90, months=9, seed=11, fmt="parquet")
    folder = root / "export"
    folder.mkdir()
    theirs = {"organic_search": "google", "email": "newsletter"}
    for path in (root / "demo").glob("*.parquet"):
        frame = pd.read_parquet(path)
        if path.stem == "accounts":
            frame = frame.rename(columns={"account_id": "CustomerID", "signup_date": "Created"})
        if path.stem == "sessions":
            frame = frame.rename(columns={"account_id": "CustomerID", "started_at": "Start"})
            frame["source"] = frame["source"].replace(theirs)
        name = "customers" if path.stem == "accounts" else path.stem
        frame.to_parquet(folder / f"{name}.parquet")
    (root / "mapping.toml").write_text(MAPPING)
    return folder, root / "mapping.toml"


@pytest.mark.slow
def test_a_mapped_parquet_export_scores_on_spark_as_with_pandas(spark, registry, mapped, tmp_path):
    folder, mapping = mapped
    args = ["score", str(folder), "--mapping", str(mapping), "--as-of", AS_OF]
    pandas_run = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "pandas.parquet")])
    spark_run = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "spark.parquet"), *SPARK])
    assert pandas_run.exit_code == 0, pandas_run.output
    assert spark_run.exit_code == 0, spark_run.output
    got, want = _read(tmp_path / "spark.parquet"), _read(tmp_path / "pandas.parquet")
    assert len(want) > 30 and want["churn_probability"].notna().all()
    _assert_same(got, want)
    _assert_same(pd.read_parquet(tmp_path / "spark.alerts.parquet"),
                 pd.read_parquet(tmp_path / "pandas.alerts.parquet"))
    meta = json.loads((tmp_path / "spark.parquet.meta.json").read_text())
    want_meta = json.loads((tmp_path / "pandas.parquet.meta.json").read_text())
    assert meta["currency"] == want_meta["currency"] == "EUR"
    # The mapped tables are the pandas engine's, value for value.
    assert meta["data_fingerprint"] == want_meta["data_fingerprint"]


@pytest.mark.slow
def test_a_mapped_file_that_is_not_there_is_the_pandas_problem_on_spark(spark, mapped, tmp_path):
    folder, mapping = mapped
    broken = tmp_path / "mapping.toml"
    broken.write_text(mapping.read_text().replace("customers.parquet", "clients.parquet"))
    args = ["features", str(folder), "--mapping", str(broken), "--as-of", AS_OF]
    want = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "pandas.parquet")])
    got = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "spark.parquet"), *SPARK])
    assert want.exit_code == got.exit_code == 2
    assert "clients.parquet does not exist" in got.output
    assert "correct tables.accounts.file" in got.output and "Traceback" not in got.output


@pytest.mark.parametrize(("section", "key"), [
    ('[tables.orders]\nquery = "SELECT * FROM orders"', "tables.orders.query"),
    ('source = "postgresql://cs@db/crm"\n[tables.accounts]\ntable = "crm.accounts"',
     "the mapping's source"),
])
def test_a_sql_mapping_on_spark_is_refused_in_one_line_naming_the_table_and_key(tmp_path, section, key):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(section + "\n")
    result = CliRunner().invoke(app, ["features", str(tmp_path), "--mapping", str(mapping),
                                      "--as-of", AS_OF, "--out", str(tmp_path / "f.parquet"),
                                      "--engine", "spark"])
    assert result.exit_code == 2, result.output
    assert key in result.output and "fix: export" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("f.*"))
