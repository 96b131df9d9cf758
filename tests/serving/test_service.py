"""The service class called directly, and over HTTP in-process through its ASGI app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bentoml.exceptions import BadInput, ServiceUnavailable
from starlette.testclient import TestClient

from features.catalogue import describe_indicator
from features.health_score import score_accounts
from features.scorecard_config import load_scorecard
from serving.schemas import (
    CATEGORICAL_INDICATORS,
    NUMERIC_INDICATORS,
    AccountIndicators,
    AccountsRequest,
    request_bodies,
)
from serving.service import BatchTooLarge, CustomerHealth, read_max_batch, read_workers

ACCOUNT = {
    "account_id": "A-1", "segment": "SMB", "csat_180d": 62.5, "sessions_30d": 14,
    "active_days_90d": 27, "active_users_90d": 3, "days_since_last_activity": 2,
    "tickets_90d": 3, "open_tickets": 1, "nps_latest": 6, "nps_mean_180d": 6.5,
    "sessions_trend_30d": -30.0, "resolution_hours_median_90d": 30.0,
}


def request_of(*accounts: dict) -> AccountsRequest:
    return AccountsRequest(accounts=[AccountIndicators(**a) for a in accounts])


def frame_of(*accounts: dict) -> pd.DataFrame:
    """The indicator frame the batch path scores, from request bodies."""
    frame = pd.DataFrame(list(accounts)).set_index("account_id")
    return frame.reindex(columns=[*CATEGORICAL_INDICATORS, *NUMERIC_INDICATORS])


# --- the request schema ----------------------------------------------------------------


def test_the_request_schema_accepts_exactly_the_documented_indicators(serving_indicators):
    assert set(NUMERIC_INDICATORS) | set(CATEGORICAL_INDICATORS) == set(serving_indicators.columns)


def test_real_indicators_fit_the_documented_ranges(serving_indicators):
    AccountsRequest(accounts=[AccountIndicators(**row) for row in request_bodies(serving_indicators)])


def test_batch_limit_and_worker_settings_must_be_positive_whole_numbers():
    assert read_max_batch("5") == 5
    with pytest.raises(ValueError, match="CUSTOMER_HEALTH_MAX_BATCH must be a whole number"):
        read_max_batch("0")
    with pytest.raises(ValueError, match="CUSTOMER_HEALTH_MAX_BATCH must be a whole number"):
        read_max_batch("many")
    with pytest.raises(ValueError, match="CUSTOMER_HEALTH_WORKERS must be a whole number of processes"):
        read_workers("-1")


def test_the_service_runs_one_worker_per_cpu_core_by_default():
    import os

    assert read_workers(None) == len(os.sched_getaffinity(0))
    assert CustomerHealth.config["workers"] == read_workers(os.environ.get("CUSTOMER_HEALTH_WORKERS"))


# --- the class called directly -------------------------------------------------------


def test_health_score_needs_no_model_and_matches_the_scorecard(empty_registry):
    service = CustomerHealth()
    answer = service.health_score(request_of(ACCOUNT, {**ACCOUNT, "account_id": "A-2", "csat_180d": 95.0}))
    frame = frame_of(ACCOUNT)
    expected = score_accounts(frame, load_scorecard())
    first = answer.accounts[0]
    assert first.account_id == "A-1"
    assert first.health_score == pytest.approx(expected["health_score"].iloc[0])
    assert first.health_band == expected["health_band"].iloc[0]
    assert [d.text for d in first.drivers] == [d["text"] for d in expected["health_drivers"].iloc[0]]
    assert answer.accounts[1].health_score > first.health_score  # better CSAT, better score


def test_the_readme_curl_example_is_a_valid_request_that_gets_a_score_and_a_trend(empty_registry):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    body = json.loads(re.search(r"curl -s localhost:3000/health_score.*?-d '(\{.*?\})'", readme, re.S).group(1))
    answer = CustomerHealth().health_score(AccountsRequest.model_validate(body)).accounts[0]
    assert answer.account_id == "A-42"
    assert 0 <= answer.health_score <= 100 and answer.health_trend in ("up", "down", "flat")


def test_health_score_reports_the_trend_against_the_previous_score(empty_registry):
    service = CustomerHealth()
    now = service.health_score(request_of(ACCOUNT)).accounts[0].health_score
    answer = service.health_score(request_of({**ACCOUNT, "previous_score": now + 20}))
    assert answer.accounts[0].health_trend == "down"
    assert answer.accounts[0].health_delta == pytest.approx(-20)


def test_an_account_with_too_few_indicators_gets_no_score_and_says_so(empty_registry):
    answer = CustomerHealth().health_score(request_of({"account_id": "bare", "csat_180d": 50.0}))
    assert answer.accounts[0].health_score is None
    assert answer.accounts[0].health_band == "insufficient data"


def test_churn_risk_without_a_registered_model_is_unavailable_with_the_reason(empty_registry):
    service = CustomerHealth()
    assert service.__is_ready__() is False
    with pytest.raises(ServiceUnavailable, match="no churn model is loaded: no model at .*customer-health train"):
        service.churn_risk(request_of(ACCOUNT))
    with pytest.raises(ServiceUnavailable, match="no churn model is loaded"):
        service.model_info()


def test_score_without_a_model_gives_health_and_says_why_churn_is_missing(empty_registry):
    answer = CustomerHealth().score(request_of(ACCOUNT))
    assert answer.model is None
    assert "no churn model is loaded" in answer.churn_unavailable
    assert answer.accounts[0].churn_probability is None
    assert answer.accounts[0].health_score is not None


def test_a_batch_over_the_limit_is_refused_naming_the_limit(empty_registry, monkeypatch):
    monkeypatch.setenv("CUSTOMER_HEALTH_MAX_BATCH", "2")
    service = CustomerHealth()
    ids = [{**ACCOUNT, "account_id": f"A-{i}"} for i in range(3)]
    with pytest.raises(BatchTooLarge, match="3 accounts is over this service's limit of 2"):
        service.score(request_of(*ids))
    assert len(service.score(request_of(*ids[:2])).accounts) == 2


def test_an_account_sent_twice_is_refused(empty_registry):
    with pytest.raises(BadInput, match="account_id 'A-1' appears more than once"):
        CustomerHealth().health_score(request_of(ACCOUNT, ACCOUNT))


@pytest.mark.slow
def test_churn_risk_comes_from_the_champion_and_names_it(registry, serving_indicators):
    service = CustomerHealth()
    assert service.__is_ready__() is True
    bodies = request_bodies(serving_indicators.head(5))
    answer = service.churn_risk(request_of(*bodies))
    assert answer.model.name == "customer-health-churn"
    assert answer.model.alias == "champion"
    assert answer.model.version == service.model.version
    expected = service.model.predict(frame_of(*bodies))
    got = [a.churn_probability for a in answer.accounts]
    np.testing.assert_allclose(got, expected["churn_probability"].to_numpy())
    assert all(a.risk_band in ("high", "medium", "low") and a.top_drivers for a in answer.accounts)


@pytest.mark.slow
def test_model_info_gives_version_training_date_metrics_and_indicator_schema(registry):
    info = CustomerHealth().model_info()
    assert info.alias == "champion" and info.trained_at and info.run_id
    assert "test_roc_auc" in info.metrics
    assert info.feature_names and set(info.feature_names) <= {i.name for i in info.indicators}
    csat = next(i for i in info.indicators if i.name == "csat_180d")
    assert (csat.minimum, csat.maximum, csat.used_by_scorecard) == (0, 100, True)


# --- over HTTP, in-process -----------------------------------------------------------


@pytest.fixture(scope="session")
def asgi_app():
    # One app per process: BentoML registers its Prometheus metrics when the app is built.
    return CustomerHealth.to_asgi()


@pytest.fixture(scope="class")
def client_without_model(asgi_app, empty_store_uri):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", empty_store_uri)
        patch.setenv("CUSTOMER_HEALTH_MAX_BATCH", "5")
        patch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
        # The service instance is created at start-up, in the lifespan of this client.
        with TestClient(asgi_app, raise_server_exceptions=False) as client:
            yield client


@pytest.fixture(scope="class")
def client_with_model(asgi_app, store):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        patch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
        patch.delenv("CUSTOMER_HEALTH_MAX_BATCH", raising=False)
        with TestClient(asgi_app, raise_server_exceptions=False) as client:
            yield client


class TestOverHttpWithoutModel:
    """Each class starts the app once (class-scoped client), one after the other."""

    def test_http_health_score_answers_without_a_model(self, client_without_model):
        response = client_without_model.post("/health_score", json={"accounts": [ACCOUNT]})
        assert response.status_code == 200
        body = response.json()["accounts"][0]
        assert 0 <= body["health_score"] <= 100 and body["drivers"]

    @pytest.mark.parametrize(
        ("account", "field", "problem"),
        [
            ({**ACCOUNT, "logins_30d": 3}, "accounts[0].logins_30d", "Extra inputs are not permitted"),
            ({**ACCOUNT, "csat_90d": "high"}, "accounts[0].csat_90d", "valid number"),
            ({**ACCOUNT, "sessions_30d": True}, "accounts[0].sessions_30d", "valid number"),
            ({**ACCOUNT, "csat_90d": 140}, "accounts[0].csat_90d", "less than or equal to 100"),
            ({**ACCOUNT, "nps_latest": 11}, "accounts[0].nps_latest", "less than or equal to 10"),
            ({**ACCOUNT, "tickets_90d": -1}, "accounts[0].tickets_90d", "greater than or equal to 0"),
            ({**ACCOUNT, "sentiment_latest": 1.5}, "accounts[0].sentiment_latest", "less than or equal to 1"),
            ({**ACCOUNT, "account_id": ""}, "accounts[0].account_id", "at least 1 character"),
            ({k: v for k, v in ACCOUNT.items() if k != "account_id"}, "accounts[0].account_id", "Field required"),
            ({**ACCOUNT, "nps_category_latest": "fan"}, "accounts[0].nps_category_latest", "promoter"),
        ],
    )
    def test_http_bad_input_is_a_400_naming_the_field(self, client_without_model, account, field, problem):
        response = client_without_model.post("/score", json={"accounts": [account]})
        assert response.status_code == 400
        assert f"{field}: " in response.json()["error"] and problem in response.json()["error"]

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_http_nan_and_infinity_are_a_400_naming_the_field(self, client_without_model, literal):
        body = '{"accounts": [{"account_id": "A-1", "csat_90d": %s}]}' % literal
        response = client_without_model.post(
            "/health_score", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "accounts[0].csat_90d: Input should be a finite number" in response.json()["error"]

    def test_http_empty_batch_and_missing_accounts_are_400(self, client_without_model):
        empty = client_without_model.post("/health_score", json={"accounts": []})
        assert empty.status_code == 400 and "accounts: List should have at least 1 item" in empty.json()["error"]
        missing = client_without_model.post("/health_score", json={"acounts": [ACCOUNT]})
        assert missing.status_code == 400
        assert "accounts: Field required" in missing.json()["error"]
        assert "acounts: Extra inputs are not permitted" in missing.json()["error"]

    def test_http_a_body_that_is_not_json_is_a_400(self, client_without_model):
        response = client_without_model.post(
            "/health_score", content=b'{"accounts": [', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400 and "not valid JSON" in response.json()["error"]

    def test_http_a_batch_over_the_limit_is_a_413_naming_the_limit(self, client_without_model):
        accounts = [{**ACCOUNT, "account_id": f"A-{i}"} for i in range(6)]
        response = client_without_model.post("/score", json={"accounts": accounts})
        assert response.status_code == 413
        assert response.json() == {"error": (
            "accounts: a batch of 6 accounts is over this service's limit of 5 accounts per "
            "request; split it into smaller batches"
        )}

    @pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
    def test_http_a_body_that_is_not_declared_json_is_a_415(self, client_without_model, content_type):
        headers = {"content-type": content_type} if content_type else {}
        response = client_without_model.post("/score", content=json.dumps({"accounts": [ACCOUNT]}),
                                             headers=headers)
        assert response.status_code == 415
        assert "Content-Type: this API reads application/json only" in response.json()["error"]

    def test_http_a_body_over_the_byte_limit_is_a_413_before_it_is_parsed(self, client_without_model):
        from serving.http_guard import body_limit

        limit = body_limit(read_max_batch(None))
        response = client_without_model.post("/score", content=b"[" * (limit + 1),
                                             headers={"content-type": "application/json"})
        assert response.status_code == 413  # not the 400 of parsing the unparsable body
        assert f"{limit + 1:,} bytes is over this service's limit of {limit:,} bytes" in response.json()["error"]

    def test_http_a_refused_request_is_logged_as_one_line_without_its_values(self, client_without_model, caplog):
        secret = "hunter2-do-not-log"
        with caplog.at_level("DEBUG"):
            response = client_without_model.post(
                "/score", json={"accounts": [{**ACCOUNT, "comment": secret, "csat_90d": 140}]})
        assert response.status_code == 400
        assert secret not in caplog.text
        assert not [r for r in caplog.records if r.exc_info]
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert refusals == ["refused POST /score: 400 Bad Request at accounts[0].csat_90d, accounts[0].comment"]

    def test_the_openapi_document_declares_required_bodies_and_every_error_answer(self, client_without_model):
        document = client_without_model.get("/docs.json").json()
        for path in ("/health_score", "/churn_risk", "/score"):
            post = document["paths"][path]["post"]
            assert post["requestBody"]["required"] is True, path
            for status in ("400", "408", "413", "415", "503"):
                assert status in post["responses"], (path, status)
        category = document["components"]["schemas"]["AccountIndicators"]["properties"]["nps_category_latest"]
        assert category["nullable"] is True and None in category["enum"]
        assert "503" in document["paths"]["/readyz"]["get"]["responses"]

    def test_http_churn_risk_without_a_model_is_a_503_with_the_reason(self, client_without_model):
        response = client_without_model.post("/churn_risk", json={"accounts": [ACCOUNT]})
        assert response.status_code == 503
        assert "no churn model is loaded" in response.json()["error"]
        assert client_without_model.get("/model").status_code == 503
        assert client_without_model.get("/readyz").status_code == 503
        assert client_without_model.get("/livez").status_code == 200


@pytest.mark.slow
class TestOverHttpWithModel:
    """The same app started again, now with the session's registry."""

    def test_http_with_a_model_answers_churn_risk_and_is_ready(self, client_with_model, serving_indicators):
        accounts = request_bodies(serving_indicators.head(3))
        response = client_with_model.post("/churn_risk", json={"accounts": accounts})
        assert response.status_code == 200
        body = response.json()
        assert body["model"]["alias"] == "champion" and body["model"]["name"] == "customer-health-churn"
        assert [a["account_id"] for a in body["accounts"]] == [a["account_id"] for a in accounts]
        assert client_with_model.get("/readyz").status_code == 200
        both = client_with_model.post("/score", json={"accounts": accounts}).json()
        assert [a["churn_probability"] for a in both["accounts"]] == [
            a["churn_probability"] for a in body["accounts"]
        ]
        assert all(a["health_band"] for a in both["accounts"])

    def test_http_get_model_describes_the_loaded_model(self, client_with_model):
        response = client_with_model.get("/model")
        assert response.status_code == 200
        info = response.json()
        assert info["alias"] == "champion" and info["feature_names"] and info["metrics"]

    def test_openapi_document_describes_every_endpoint_with_field_descriptions(self, client_with_model):
        document = client_with_model.get("/docs.json").json()
        for path in ("/health_score", "/churn_risk", "/score"):
            assert "post" in document["paths"][path]
        assert "get" in document["paths"]["/model"]
        account = document["components"]["schemas"]["AccountIndicators"]
        assert account["additionalProperties"] is False
        assert account["properties"]["csat_90d"]["description"]


def test_the_churn_driver_example_reads_like_a_real_driver():
    from models.explain import driver_text
    from serving.schemas import ChurnDriver

    fields = ChurnDriver.model_fields
    indicator, value, contribution = (fields[k].examples[0]
                                      for k in ("indicator", "value", "contribution"))
    assert fields["text"].examples[0] == driver_text(indicator, value, contribution)
    assert fields["label"].examples[0] == describe_indicator(indicator).label


def test_indicator_descriptions_come_from_the_indicator_catalogue_and_ranges_stay():
    from serving.schemas import INDICATOR_SPECS

    for name, spec in INDICATOR_SPECS.items():
        assert spec.description.startswith(describe_indicator(name).label + " ("), name
    assert (INDICATOR_SPECS["active_days_90d"].ge, INDICATOR_SPECS["active_days_90d"].le) == (0, 90)
    assert (INDICATOR_SPECS["csat_30d"].ge, INDICATOR_SPECS["csat_30d"].le) == (0, 100)
    with pytest.raises(ValueError, match="less than or equal to 180"):
        AccountIndicators(account_id="A", active_days_180d=181)


@pytest.mark.slow
def test_churn_drivers_in_the_answer_carry_the_indicator_label(registry, serving_indicators):
    answer = CustomerHealth().score(request_of(*request_bodies(serving_indicators.head(3))))
    drivers = [d for a in answer.accounts for d in a.top_drivers]
    assert drivers and all(d.label == describe_indicator(d.indicator).label for d in drivers)


def test_a_model_given_by_path_answers_with_no_name_or_version(registry, tmp_path, monkeypatch):
    import mlflow

    mlflow.set_tracking_uri(registry.uri)
    path = mlflow.artifacts.download_artifacts(artifact_uri=registry.model_uri,
                                               dst_path=str(tmp_path / "model"))
    monkeypatch.setenv("CUSTOMER_HEALTH_MODEL_URI", path)
    service = CustomerHealth()
    answer = service.churn_risk(request_of(ACCOUNT))
    assert (answer.model.name, answer.model.version, answer.model.uri) == (None, None, path)
    info = service.model_info()
    assert info.name is None and info.version is None and info.feature_names


def test_the_churn_risk_example_in_the_docs_reads_like_what_the_service_writes(registry):
    from models.explain import driver_text
    from serving.schemas import ChurnRiskResponse

    doc = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text("utf-8")
    section = doc[doc.index("**`POST /churn_risk`**"):]
    shown = ChurnRiskResponse.model_validate(
        json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))).accounts[0]
    for driver in shown.top_drivers:
        assert driver.text == driver_text(driver.indicator, driver.value, driver.contribution)
        assert driver.label == describe_indicator(driver.indicator).label
    # The request as shortened in the docs is what the coverage paragraph warns about.
    short = json.loads(re.search(r"-d '(\{.*?\})'", section, re.S).group(1).replace(", ...", ""))
    real = CustomerHealth().churn_risk(AccountsRequest.model_validate(short)).accounts[0]
    assert real.risk_band == "insufficient data" and real.churn_reason


def test_started_in_a_folder_without_a_store_it_says_where_it_looked_and_creates_nothing(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CUSTOMER_HEALTH_MODEL_URI", raising=False)
    service = CustomerHealth()
    assert service.model is None
    assert f"there is no model store at {tmp_path / 'mlflow.db'}" in service.model_unavailable
    assert "MLFLOW_TRACKING_URI=sqlite:////absolute/path/to/mlflow.db" in service.model_unavailable
    assert not (tmp_path / "mlflow.db").exists()
    assert service.health_score(request_of(ACCOUNT)).accounts[0].health_score is not None


def test_an_account_id_alone_gets_insufficient_data_for_churn_risk_too_with_the_reason(registry):
    answer = CustomerHealth().score(request_of({"account_id": "bare"}))
    account = answer.accounts[0]
    assert account.health_band == "insufficient data"
    assert account.churn_probability is None
    assert account.risk_band == "insufficient data"
    assert account.top_drivers == []
    assert account.churn_coverage == 0.0
    assert account.churn_reason == ("only 0% of the model's indicators have data for this "
                                    "account (at least 25% needed)")


def test_churn_risk_keeps_its_number_when_enough_indicators_are_given(registry, serving_indicators):
    from models.scoring import CHURN_MIN_COVERAGE

    full = request_bodies(serving_indicators.head(3))
    answer = CustomerHealth().churn_risk(request_of(*full))
    for account in answer.accounts:
        assert account.churn_coverage >= CHURN_MIN_COVERAGE
        assert account.churn_probability is not None and account.churn_reason is None


# --- the service's array path and the batch path agree --------------------------------


def _with_holes(indicators: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Real indicators with about 40% of the values blanked, and some accounts left bare."""
    rng = np.random.default_rng(seed)
    holey = indicators.copy()
    for column in holey.columns:
        blank = rng.random(len(holey)) < 0.4
        holey[column] = holey[column].astype(object).where(~blank, None)
    holey.iloc[::25] = None  # an account id alone: insufficient data for both scores
    holey.index = [f"{i}-holes" for i in holey.index]
    holey.index.name = "account_id"
    return holey.astype({c: "float64" for c in NUMERIC_INDICATORS})


def _assert_same(got: float | None, expected: float, what: str) -> None:
    if got is None:
        assert np.isnan(expected), what
    else:
        assert got == pytest.approx(expected, abs=1e-9, rel=0), what


@pytest.mark.slow
def test_the_service_answers_exactly_what_the_batch_path_gives_on_the_same_accounts(
        registry, serving_indicators):
    from models.scoring import score_indicators

    frame = pd.concat([serving_indicators, _with_holes(serving_indicators, seed=5)])
    previous = pd.Series(np.random.default_rng(6).uniform(0, 100, len(frame)), index=frame.index)
    previous.iloc[::3] = np.nan
    bodies = request_bodies(frame)
    for body, score in zip(bodies, previous):
        if not np.isnan(score):
            body["previous_score"] = float(score)
    service = CustomerHealth()
    answers = [a for start in range(0, len(bodies), 100)
               for a in service.score(request_of(*bodies[start:start + 100])).accounts]
    # The batch job's call: the frame through MLflow's pyfunc, with its input checks.
    expected = score_indicators(frame, service.scorecard, model=service.model, previous=previous)

    assert [a.account_id for a in answers] == list(expected.index)
    assert expected["churn_probability"].isna().sum() >= 10  # the bare accounts are in
    assert expected["health_score"].isna().sum() >= 10
    assert (frame["segment"] == "Enterprise").any()  # the segment scorecard is in play
    for answer, (account, row) in zip(answers, expected.iterrows()):
        for field in ("health_score", "health_coverage", "health_delta", "churn_probability",
                      "churn_coverage"):
            _assert_same(getattr(answer, field), row[field], f"{account} {field}")
        for name, value in answer.groups.items():
            _assert_same(value, row[f"group_{name}"], f"{account} group {name}")
        for name, value in answer.measures.items():
            _assert_same(value, row[f"measure_{name}"], f"{account} measure {name}")
        assert (answer.health_band, answer.health_color, answer.health_trend, answer.risk_band) == (
            row["health_band"], row["health_color"], row["health_trend"], row["risk_band"])
        assert [d.text for d in answer.drivers] == [d["text"] for d in row["health_drivers"]]
        for got, want in zip(answer.drivers, row["health_drivers"], strict=True):
            _assert_same(got.points_lost, want["points_lost"], f"{account} {want['measure']}")
        assert [(d.indicator, d.text) for d in answer.top_drivers] == [
            (d["indicator"], d["text"]) for d in row["churn_drivers"]]
        for got, want in zip(answer.top_drivers, row["churn_drivers"], strict=True):
            _assert_same(got.contribution, want["contribution"], f"{account} {want['indicator']}")
        assert (answer.churn_reason is None) == (not np.isnan(row["churn_probability"]))


# --- the scorecard in force follows the served model's churn definition -------------------

SHOPPER = {"account_id": "S-1", "lapse_elapsed": 0.2, "orders_180d": 3.0, "orders_trend_90d": 0.1,
           "csat_latest": 80.0, "return_rate_180d": 0.05}
LAPSE = {"data.churn_definition": "lapse", "data.churn_lapse_days": "120",
         "data.churn_activity": "orders",
         "data.churn_definition_source": "derived: 95th percentile of repeat gaps"}


def test_a_model_trained_on_recorded_churn_keeps_the_subscription_scorecard(registry):
    scorecard = CustomerHealth().model_info().scorecard
    assert scorecard.source == "features/scorecard_default.toml"
    assert scorecard.reason.startswith("the subscription default, for the model's training run: "
                                       "churn = recorded")


def test_a_model_trained_on_a_lapse_brings_the_transactional_scorecard(registry, monkeypatch):
    from crafted_models import register_with_params

    monkeypatch.setenv("CUSTOMER_HEALTH_MODEL_URI", register_with_params(registry.uri, **LAPSE))
    service = CustomerHealth()
    scorecard = service.model_info().scorecard
    assert scorecard.source == "features/scorecard_transactional.toml"
    assert scorecard.reason == ("the transactional default, for the model's training run: churn = "
                                "a lapse: no order for 120 days (derived: 95th percentile of "
                                "repeat gaps)")
    used = {i.name for i in service.model_info().indicators if i.used_by_scorecard}
    assert {"lapse_elapsed", "orders_180d"} <= used and "sessions_30d" not in used
    # A shopper with orders and no sessions or tickets: scored under the shop's scorecard,
    # where the subscription one has too little to go on.
    answer = service.health_score(request_of(SHOPPER)).accounts[0]
    assert answer.health_score is not None
    assert score_accounts(frame_of(SHOPPER), load_scorecard())["health_score"].isna().all()
    # The operator's choice (serve --scorecard sets this variable) wins over the model's.
    monkeypatch.setenv("CUSTOMER_HEALTH_SCORECARD",
                       str(Path(__file__).resolve().parents[2] / "features" / "scorecard_default.toml"))
    named = CustomerHealth()
    assert named.model_info().scorecard.reason == "named by the operator (serve --scorecard)"
    assert named.model_info().scorecard.source.endswith("features/scorecard_default.toml")


def test_without_a_model_the_subscription_scorecard_is_in_force_and_says_why(empty_registry):
    service = CustomerHealth()
    assert service.scorecard.source == "features/scorecard_default.toml"
    assert "no model is loaded" in service.scorecard_reason
