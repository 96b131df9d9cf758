"""A shop end to end: `demo --business transactional`, churn as a lapse, the shop's scorecard.

The demo runs once for the module into a temporary folder with its own SQLite MLflow store,
on a shop's data with no churn column: the lapse is derived from the gaps between orders,
labels, training, the batch job and the report all use it, and the transactional scorecard
scores every customer with an order.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from rich.console import Console
from typer.testing import CliRunner

from features.io import load_tables
from serving.cli import app
from serving.demo import run_demo

from report_demo_flow import tracking_env

ACCOUNTS, MONTHS, SEED = 600, 12, 7


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop_demo")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    console = Console(record=True, width=160, force_terminal=False)
    with tracking_env(uri):
        result = run_demo(root / "demo", accounts=ACCOUNTS, months=MONTHS, seed=SEED,
                          console=console, business="transactional")
    return root, uri, result, console.export_text()


@pytest.mark.slow
def test_the_shop_demo_writes_a_shop_without_a_churn_column(shop_run):
    root, _, result, output = shop_run
    accounts = pd.read_csv(result.data_dir / "accounts.csv")
    assert "churned_at" not in accounts
    assert not (result.data_dir / "tickets.csv").exists()
    sessions = pd.read_csv(result.data_dir / "sessions.csv")
    assert set(sessions["source"]) <= {"organic_search", "paid_search", "social", "referral",
                                       "email", "direct"}
    surveys = pd.read_csv(result.data_dir / "surveys.csv")
    assert surveys["comment"].notna().any() and set(surveys["score"]) <= {1, 2, 3, 4, 5}
    assert "churn = a lapse: no order for" in output and "derived" in output


@pytest.mark.slow
def test_the_lapse_is_recorded_in_the_batch_metadata_and_the_training_run(shop_run):
    _, uri, result, _ = shop_run
    meta = json.loads(result.scores_path.with_name(result.scores_path.name + ".meta.json").read_text())
    assert meta["churn_definition"] == "lapse" and meta["churn_lapse_days"] > 0
    assert meta["scorecard"] == "features/scorecard_transactional.toml"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("customer-health-churn", "champion")
    params = client.get_run(version.run_id).data.params
    assert params["data.churn_definition"] == "lapse"
    assert params["data.churn_lapse_days"] == str(meta["churn_lapse_days"])
    assert params["data.label_end_source"].startswith("the data end (a lapse of")


@pytest.mark.slow
def test_every_customer_with_an_order_gets_a_score(shop_run):
    _, _, result, _ = shop_run
    tables, _ = load_tables(result.data_dir)
    ordered = set(tables.orders.loc[tables.orders["ordered_at"] < result.as_of, "account_id"])
    scores = pd.read_parquet(result.scores_path).set_index("account_id")
    with_orders = scores.loc[scores.index.intersection(sorted(ordered))]
    assert len(with_orders) > 100
    assert with_orders["health_score"].notna().all()
    assert (with_orders["health_band"] != "insufficient data").all()


@pytest.mark.slow
def test_churn_falls_from_red_to_green_and_the_model_beats_the_scorecard(shop_run):
    _, uri, result, _ = shop_run
    comparison = result.comparison
    assert comparison.loc["lightgbm", "roc_auc"] > comparison.loc["health_score", "roc_auc"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("customer-health-churn", "champion")
    metrics = client.get_run(version.run_id).data.metrics
    red, yellow, green = (metrics[f"health_band_churn_rate_{band}"] for band in ("red", "yellow", "green"))
    assert red > yellow > green


@pytest.mark.slow
def test_features_on_the_shop_say_which_scorecard_is_in_force(shop_run, tmp_path):
    _, _, result, _ = shop_run
    outcome = CliRunner().invoke(app, ["features", str(result.data_dir), "--as-of",
                                       f"{result.as_of:%Y-%m-%d}", "--out", str(tmp_path / "f.csv")])
    assert outcome.exit_code == 0, outcome.output
    assert "features/scorecard_transactional.toml" in outcome.output
    assert "churn = a lapse" in outcome.output
    assert "no tickets table" in outcome.output


@pytest.mark.slow
def test_the_shop_report_shows_its_headline_and_the_scorecard_in_force(shop_run):
    _, _, result, _ = shop_run
    html = result.report_path.read_text(encoding="utf-8")
    for label in ("Repeat purchase rate", "Average order value", "CLV"):
        assert label in html
    assert "Scorecard: features/scorecard_transactional.toml (churn = a lapse" in html


@pytest.mark.slow
def test_the_service_on_the_shops_model_scores_with_the_shops_scorecard(shop_run, monkeypatch):
    from features.indicators import compute_indicators
    from serving.schemas import AccountsRequest, request_bodies
    from serving.service import CustomerHealth

    _, uri, result, _ = shop_run
    monkeypatch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
    monkeypatch.delenv("CUSTOMER_HEALTH_SCORECARD", raising=False)
    with tracking_env(uri):
        service = CustomerHealth()
        info = service.model_info()
        meta = json.loads(result.scores_path.with_name(result.scores_path.name + ".meta.json").read_text())
        assert info.scorecard.source == meta["scorecard"] == "features/scorecard_transactional.toml"
        assert f"no order for {meta['churn_lapse_days']} days" in info.scorecard.reason
        # The service's health scores are the batch job's for the same indicators.
        tables, _ = load_tables(result.data_dir)
        indicators = compute_indicators(tables, result.as_of).head(20)
        answer = service.health_score(AccountsRequest.model_validate(
            {"accounts": request_bodies(indicators)}))
    scores = pd.read_parquet(result.scores_path).set_index("account_id")["health_score"]
    assert sum(a.health_score is not None for a in answer.accounts) >= 10
    for account in answer.accounts:
        assert account.health_score == pytest.approx(scores[account.account_id], nan_ok=True, abs=1e-6)


def test_recorded_churn_is_recorded_in_the_training_run_and_the_batch_metadata(registry, as_of,
                                                                               tmp_path):
    """The subscription side end to end: the session's model was trained on recorded churn."""
    from serving.batch import run_batch

    client = MlflowClient(tracking_uri=registry.uri, registry_uri=registry.uri)
    version = client.get_model_version_by_alias("customer-health-churn", "champion")
    params = client.get_run(version.run_id).data.params
    assert params["data.churn_definition"] == "recorded"
    assert params["data.churn_lapse_days"] == "None"
    result = run_batch(registry.demo, as_of, tmp_path / "scores.parquet")
    assert result.metadata["churn_definition"] == "recorded"
    assert result.metadata["scorecard"] == "features/scorecard_default.toml"
    assert result.metadata["measures_without_data"] == {}
