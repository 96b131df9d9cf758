"""MLflow on PostgreSQL: ``MLFLOW_TRACKING_URI=postgresql://...`` for train, models, score, serve.

Once, end to end, against the session's throwaway cluster: the model is trained and
registered in a PostgreSQL store, listed, used by the batch job and loaded by the real
server. Artifacts go where MLflow puts them for a database store: ``mlruns`` in the working
folder of the first run, recorded as an absolute path.
"""

from __future__ import annotations

import os

import httpx
import pandas as pd
from test_service_server import Server
from typer.testing import CliRunner

from serving.cli import app

runner = CliRunner()


def test_train_models_score_and_serve_with_mlflow_on_postgresql(
        pg_url, serving_demo_folder, as_of, tmp_path, monkeypatch):
    import mlflow

    password = pg_url.split(":")[2].split("@")[0]
    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", pg_url)
    monkeypatch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    server = None
    try:
        trained = runner.invoke(app, ["train", str(serving_demo_folder), "--every", "45"])
        assert trained.exit_code == 0, trained.output
        assert "registered customer-health-churn v1 as champion" in trained.output
        assert "error ignored" not in trained.output and password not in trained.output

        listed = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
        assert listed.exit_code == 0, listed.output
        assert "registered models (postgresql://postgres:***@127.0.0.1" in listed.output
        assert "customer-health-churn" in listed.output and "champion" in listed.output
        assert password not in listed.output

        out = tmp_path / "scores.parquet"
        scored = runner.invoke(app, ["score", str(serving_demo_folder), "--as-of",
                                     str(as_of.date()), "--out", str(out)])
        assert scored.exit_code == 0, scored.output
        assert pd.read_parquet(out)["churn_probability"].between(0, 1).all()

        server = Server(dict(os.environ), tmp_path / "serve.log")
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
        model = httpx.get(f"{server.url}/model", timeout=10).json()
        assert (model["name"], str(model["version"])) == ("customer-health-churn", "1")
    finally:
        if server is not None:
            server.stop()
        mlflow.set_tracking_uri(previous)
