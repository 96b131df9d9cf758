"""Scoring checks its model: a stranger's model, or one tested after the as-of date, is flagged.

The session's model (tests/serving/conftest.py) is trained by the real trainer on demo data
that starts 2025-01-01 and runs 12 months; it is scored here through the batch job, the
``score`` command and the report, against its own data and against data it never saw.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import validate_tables
from features.demo_data import generate_demo_data, write_demo_data
from models.model_check import model_warnings
from models.registry import load_model
from models.training_set import data_span
from serving.batch import score_portfolio
from serving.cli import app

from crafted_models import register_with_params


@pytest.fixture(scope="module")
def stranger_folder(tmp_path_factory):
    """Someone else's accounts: another seed, history starting two years earlier."""
    folder = tmp_path_factory.mktemp("stranger") / "data"
    write_demo_data(folder, accounts=150, months=9, seed=99, start="2023-01-01")
    return folder


def _end(tables) -> pd.Timestamp:
    return data_span(tables)[1]


def test_the_model_on_its_own_data_at_its_end_gives_no_warning(registry):
    model = load_model()
    result = score_portfolio(registry.tables, _end(registry.tables), model=model)
    assert result.metadata["model_warnings"] == []


def test_a_model_trained_on_other_data_is_flagged_in_the_run_metadata(registry, stranger_folder):
    from features.io import load_tables

    tables, _ = load_tables(stranger_folder)
    result = score_portfolio(tables, _end(tables), model=load_model())
    warnings = result.metadata["model_warnings"]
    assert len(warnings) == 2, warnings
    other = [w for w in warnings if w.startswith("the model was trained on other data")]
    assert other and "its training data ran 2025-01-01" in other[0]
    assert "these tables run 2023-01-01" in other[0]
    assert "customer-health train DIR" in other[0]
    # Its test window (2025) also lies after this data's end (2023).
    assert any("after the as-of date 2023-10-01" in w for w in warnings)


def test_a_model_tested_after_the_as_of_date_is_flagged(registry):
    model = load_model()
    tested_until = pd.Timestamp(model.params["test_window_end"])
    early = tested_until - pd.Timedelta(days=30)
    warnings = score_portfolio(registry.tables, early, model=model).metadata["model_warnings"]
    assert warnings == [
        f"the model was tested on label windows ending {tested_until:%Y-%m-%d}, after the as-of "
        f"date {early:%Y-%m-%d}: its figures were measured on what happened after the date "
        "scored; score a later date or use a model trained on data up to it"]


def test_the_same_source_grown_since_training_is_not_a_stranger(registry):
    grown, _ = validate_tables(generate_demo_data(accounts=300, months=13, seed=7))
    warnings = model_warnings(load_model().params, as_of=_end(grown), tables=grown)
    assert warnings == []


def test_score_prints_the_warning_and_the_report_card_shows_it(registry, stranger_folder,
                                                                tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    scored = runner.invoke(app, ["score", str(stranger_folder), "--as-of", "2023-10-01",
                                 "--out", "scores.parquet"])
    text = " ".join(scored.output.split())
    assert scored.exit_code == 0, scored.output
    assert "warning: the model was trained on other data" in text
    meta = json.loads((tmp_path / "scores.parquet.meta.json").read_text())
    assert any("trained on other data" in w for w in meta["model_warnings"])

    from features.io import load_tables
    from serving.report import build_report

    tables, _ = load_tables(stranger_folder)
    out = build_report(tmp_path / "scores.parquet", tables=tables, model=load_model(),
                       out=tmp_path / "report.html")
    html = out.read_text()
    assert 'class="warning">Warning: the model was trained on other data' in html


# --- the service: no tables, so it reports what the model learnt from and checks as_of ---


@pytest.fixture
def crafted_model_uri(registry) -> str:
    """The session's model registered again under a run whose test window ends in 2030."""
    return register_with_params(registry.uri, test_window_end="2030-06-30T00:00:00")


ONE = {"accounts": [{"account_id": "A-1", "csat_90d": 70.0, "sessions_30d": 4.0}]}


def test_the_service_reports_the_models_training_window_test_window_and_fingerprint(registry):
    from serving.schemas import AccountsRequest
    from serving.service import CustomerHealth

    service = CustomerHealth()
    params = service.model.params
    trained_on = service.model_info().trained_on
    assert trained_on.data_start == "2025-01-01"
    assert trained_on.data_end == f"{pd.Timestamp(params['data.data_end']):%Y-%m-%d}"
    assert trained_on.test_window_end == f"{pd.Timestamp(params['test_window_end']):%Y-%m-%d}"
    assert trained_on.test_start < trained_on.test_window_end
    assert trained_on.data_sha256 == params["data.inputs_sha256"] and len(trained_on.data_sha256) == 64
    answer = service.score(AccountsRequest.model_validate(ONE))
    assert answer.model.trained_on == trained_on
    assert answer.model_warnings == []  # no as_of, nothing to compare


def test_the_service_warns_when_the_models_test_window_ends_after_the_requests_as_of(
        registry, crafted_model_uri, caplog, monkeypatch):
    from serving.schemas import AccountsRequest
    from serving.service import CustomerHealth

    monkeypatch.setenv("CUSTOMER_HEALTH_MODEL_URI", crafted_model_uri)
    service = CustomerHealth()
    assert service.model_info().trained_on.test_window_end == "2030-06-30"
    late = service.score(AccountsRequest.model_validate({**ONE, "as_of": "2030-07-01"}))
    assert late.model_warnings == []
    with caplog.at_level("WARNING", logger="serving.service"):
        for _ in range(3):
            early = service.churn_risk(AccountsRequest.model_validate({**ONE, "as_of": "2026-07-01"}))
            scored = service.score(AccountsRequest.model_validate({**ONE, "as_of": "2026-07-01"}))
    expected = ("the model was tested on label windows ending 2030-06-30, after the as-of date "
                "2026-07-01")
    assert len(early.model_warnings) == 1 and early.model_warnings[0].startswith(expected)
    assert scored.model_warnings == early.model_warnings
    logged = [r for r in caplog.records if expected in r.getMessage()]
    assert len(logged) == 1 and crafted_model_uri in logged[0].getMessage()  # once, not per request
    # The session's own model, tested up to its data's end, has nothing to say on that date.
    monkeypatch.delenv("CUSTOMER_HEALTH_MODEL_URI")
    own = CustomerHealth().score(AccountsRequest.model_validate({**ONE, "as_of": "2026-07-01"}))
    assert own.model_warnings == []


def test_an_as_of_the_service_cannot_read_is_refused_naming_the_field(registry):
    from pydantic import ValidationError

    from serving.schemas import AccountsRequest

    with pytest.raises(ValidationError, match="as_of"):
        AccountsRequest.model_validate({**ONE, "as_of": "2025-13-01"})
    with pytest.raises(ValidationError, match="less than or equal to 2261-12-31"):
        AccountsRequest.model_validate({**ONE, "as_of": "3025-01-01"})
