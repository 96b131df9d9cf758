"""Shared fixtures of the serving tests: small demo data and a real MLflow registry.

Names start with ``serving_`` where the root conftest has a fixture of the same meaning
(``demo_folder``...) so that other tests in this folder keep the root's.

One churn model is trained once per session with the trainer's own code on a few hundred
demo accounts, into a SQLite MLflow store in a temporary folder, and registered as
champion. Tests that need it point ``MLFLOW_TRACKING_URI`` at that store through the
function-scoped ``registry`` fixture, so nothing leaks into other tests.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from features.contract import Tables
from features.demo_data import write_demo_data
from features.indicators import compute_indicators
from features.io import load_tables

DEMO_ACCOUNTS = 300
DEMO_MONTHS = 12
AS_OF = pd.Timestamp("2025-12-01")  # inside the 12 demo months that start 2025-01-01
SPARK_BUCKETS = 4  # account buckets of the Spark tests: several, so buckets must agree


@dataclass(frozen=True)
class Store:
    root: Path
    demo: Path
    uri: str
    tables: Tables
    model_uri: str  # the logged pyfunc (runs:/...), to register again as a new version


@pytest.fixture(scope="session")
def as_of() -> pd.Timestamp:
    return AS_OF


@pytest.fixture(scope="session")
def serving_demo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("serving_demo") / "demo"
    write_demo_data(folder, accounts=DEMO_ACCOUNTS, months=DEMO_MONTHS, seed=7)
    return folder


@pytest.fixture(scope="session")
def serving_demo_tables(serving_demo_folder) -> Tables:
    tables, _ = load_tables(serving_demo_folder)
    return tables


@pytest.fixture(scope="session")
def serving_indicators(serving_demo_tables) -> pd.DataFrame:
    return compute_indicators(serving_demo_tables, AS_OF).sort_index()


@pytest.fixture(scope="session")
def fresh_store_file(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made and nothing in it, to copy.

    Creating the tables takes MLflow several seconds; copying the file takes none.
    """
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("serving_fresh") / "fresh.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="session")
def store(tmp_path_factory, serving_demo_folder, serving_demo_tables, fresh_store_file) -> Store:
    from models.trainer import train_from_tables

    root = tmp_path_factory.mktemp("serving_mlflow")
    shutil.copyfile(fresh_store_file, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(root)
        result = train_from_tables(serving_demo_tables, every=45, seed=0, promote=True)
    return Store(root, serving_demo_folder, uri, serving_demo_tables, result.model_uri)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every Spark test (starting one takes seconds)."""
    pytest.importorskip("pyspark")
    from serving.spark.session import spark_session

    session = spark_session("local[2]", shuffle_partitions=SPARK_BUCKETS)
    yield session
    session.stop()


@pytest.fixture
def registry(store, monkeypatch) -> Store:
    """The session's registry, selected through MLFLOW_TRACKING_URI for this test only."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
    previous = mlflow.get_tracking_uri()
    yield store
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def empty_store_uri(tmp_path_factory, fresh_store_file) -> str:
    path = tmp_path_factory.mktemp("serving_empty") / "empty.db"
    shutil.copyfile(fresh_store_file, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_registry(empty_store_uri, monkeypatch) -> str:
    """An MLflow store with nothing registered (created once, tables made on first use)."""
    import mlflow

    uri = empty_store_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
    previous = mlflow.get_tracking_uri()
    yield uri
    mlflow.set_tracking_uri(previous)
