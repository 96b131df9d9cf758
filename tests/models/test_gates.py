"""Promotion gates and the leakage warning, on crafted training sets through the real trainer.

Each crafted set follows one churn rule on its training dates and breaks it on purpose on
its validation or test dates, so the model trained on it is bad in exactly one known way.
The trainer, the MLflow store (SQLite in a temp dir) and the registry are the real ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models import gates
from models.registry import CHALLENGER, CHAMPION, list_versions
from models.tracking import configure_mlflow
from models.trainer import train_from_training_set
from models.training_set import LABEL, TrainingSet
from serving.cli import app

FEATURES = ["logins", "tickets", "csat"]


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def usual(s):
    """The churn rule of the training dates: risk rises with the sum of the features."""
    return _sigmoid(2.5 * s - 2)


def crafted_set(*, valid=usual, test=usual, leak: bool = False, n: int = 400,
                seed: int = 0) -> TrainingSet:
    """Eight monthly dates: four to train, two to validate, two to test (30-day horizon)."""
    rng = np.random.default_rng(seed)
    dates = [pd.Timestamp("2025-01-01") + pd.Timedelta(days=30 * i) for i in range(8)]
    parts = []
    for i, as_of in enumerate(dates):
        values = rng.normal(size=(n, len(FEATURES)))
        s = values.sum(axis=1) / np.sqrt(2)
        rule = test if i >= 6 else valid if i >= 4 else usual
        y = (rng.uniform(size=n) < rule(s)).astype(float)
        part = pd.DataFrame(values, columns=FEATURES)
        if leak:  # recorded because of the churn: a cancellation request
            part["cancel_requests"] = y + rng.normal(scale=0.05, size=n)
        part.insert(0, "as_of", as_of)
        part.insert(0, "account_id", [f"A{j:04d}" for j in range(n)])
        part[LABEL] = y
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    columns = [c for c in frame.columns if c not in ("account_id", "as_of", LABEL)]
    return TrainingSet(frame=frame, feature_columns=columns,
                       fingerprint={"inputs_sha256": f"crafted-{seed}-{leak}"}, horizon=30,
                       every=30, lead=0, dates=dates, labelled_dates=dates)


@pytest.fixture
def tracked(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    configure_mlflow("gate-tests")
    return tmp_path


def _train(ts, name, **kwargs):
    return train_from_training_set(ts, seed=0, experiment="gate-tests", model_name=name, **kwargs)


def test_a_sound_model_passes_every_gate_and_becomes_champion(tracked):
    result = _train(crafted_set(), "sound")
    assert result.decision.alias == CHAMPION, result.decision.reason
    assert result.decision.gate_failures == ()
    assert not [w for w in result.warnings if "leak" in w]


def test_probabilities_worse_than_a_constant_guess_are_refused(tracked):
    # The test dates churn far more than the training dates, with the same ranking.
    result = _train(crafted_set(test=lambda s: _sigmoid(2.5 * s + 2.5)), "shifted")
    assert result.decision.alias == CHALLENGER
    assert result.decision.reason.startswith("refused by the promotion gates: calibrated log loss")
    assert "not below" in result.decision.reason and "constant guess" in result.decision.reason
    assert not any("risk bands" in f or "differ by" in f for f in result.decision.gate_failures)


def test_risk_bands_out_of_order_are_refused(tracked):
    # On the test dates the riskiest tenth churns far less than the next fifth.
    def test(s):
        return np.where(s > np.quantile(s, 0.9), 0.15, usual(s))

    result = _train(crafted_set(test=test), "bands")
    assert result.decision.alias == CHALLENGER
    assert any(f.startswith("observed churn is not monotone across risk bands: high")
               for f in result.decision.gate_failures), result.decision.reason
    assert "not monotone" in result.decision.reason


def test_validation_and_test_auc_far_apart_are_refused(tracked):
    # The validation dates follow a much weaker rule than the test dates.
    result = _train(crafted_set(valid=lambda s: _sigmoid(0.4 * s - 1)), "gap")
    assert result.decision.alias == CHALLENGER
    failures = list(result.decision.gate_failures)
    assert [f for f in failures if "differ by" in f] == failures, result.decision.reason
    assert "more than 0.10" in result.decision.reason


def test_promote_forces_a_refused_model_and_logs_why_models_shows_it(tracked):
    refused = crafted_set(test=lambda s: _sigmoid(2.5 * s + 2.5))
    first = _train(refused, "forced")
    assert first.decision.alias == CHALLENGER
    forced = _train(refused, "forced", promote=True)
    assert forced.decision.alias == CHAMPION
    assert forced.decision.reason.startswith(
        "forced by --promote; without it: refused by the promotion gates: calibrated log loss")

    from mlflow import MlflowClient

    client = MlflowClient()
    tags = client.get_run(forced.run_id).data.tags
    assert tags["promotion.forced"] == "True"
    assert tags["promotion.gates"].startswith("calibrated log loss")
    rows = {row["version"]: row for row in list_versions("forced")}
    assert rows["1"]["promotion_reason"].startswith("refused by the promotion gates")

    listing = CliRunner().invoke(app, ["models", "--name", "forced"])
    text = " ".join(listing.output.split())
    assert listing.exit_code == 0, listing.output
    assert "forced v2 [champion]: forced by --promote; without it: refused by the promotion " \
           "gates: calibrated log loss" in text
    assert "forced v1 [challenger]: refused by the promotion gates" in text


def test_a_feature_recorded_because_of_churn_is_flagged_as_leaking(tracked):
    result = _train(crafted_set(leak=True), "leaky")
    leaks = [w for w in result.warnings if "cancel_requests" in w]
    assert any(w.startswith("test ROC AUC") and "above 0.97" in w for w in leaks)
    assert any(w.startswith("feature cancel_requests carries") for w in leaks)

    from mlflow import MlflowClient

    tags = MlflowClient().get_run(result.run_id).data.tags
    logged = [v for k, v in tags.items() if k.startswith("warning.")]
    assert sorted(logged) == sorted(result.warnings)


def test_the_gates_are_each_a_sentence_and_none_when_they_pass():
    table = pd.DataFrame({"accounts": [1000, 0, 3000], "churn_rate": [0.2, np.nan, 0.3]},
                         index=["high", "medium", "low"])
    assert gates.band_order_gate(table) == ("observed churn is not monotone across risk "
                                            "bands: high 20.0% < low 30.0% (beyond 2 "
                                            "standard errors)")
    # The same inversion on a few dozen accounts is within chance.
    assert gates.band_order_gate(table.assign(accounts=[10, 0, 30])) is None
    assert gates.auc_gap_gate(0.70, 0.79) is None
    assert "undefined" in gates.auc_gap_gate(float("nan"), 0.8)
    y = np.array([0, 1, 0, 1])
    assert gates.log_loss_gate(y, np.array([0.2, 0.8, 0.2, 0.8]), base_rate=0.5) is None
