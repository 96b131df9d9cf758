"""The churn pyfunc: trained, registered, loaded back by alias in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from models.pyfunc import OUTPUT_COLUMNS, band_thresholds, risk_bands
from models.trainer import train_flat_table

pytestmark = pytest.mark.slow  # trains, logs and reloads a churn model

NAME = "pyfunc-churn"


def _accounts(n: int, seed: int) -> pd.DataFrame:
    """A flat table with integer, float (some blank) and text columns, churn from CSAT."""
    rng = np.random.default_rng(seed)
    csat = rng.uniform(0, 100, n).round(1)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(0.07 * (csat - 35)))
    frame = pd.DataFrame({
        "account_id": [f"A{seed}-{i:04d}" for i in range(n)],
        "csat_90d": csat,
        "open_tickets": rng.poisson(2, n),
        "plan": rng.choice(["starter", "growth", "enterprise"], n),
        "churned": np.where(churned, "yes", "no"),
    })
    frame.loc[rng.choice(n, n // 20, replace=False), "csat_90d"] = np.nan
    return frame


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pyfunc")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        result = train_flat_table(_accounts(800, 0), label="churned", id_column="account_id",
                                  folds=3, seed=0, model_name=NAME, experiment="pyfunc-tests")
    return result, uri, folder


def test_the_model_returns_probability_band_and_drivers_indexed_like_the_input(trained):
    result, _, _ = trained
    frame = _accounts(50, 1).set_index("account_id").assign(unrelated="ignored")
    out = result.model.predict_frame(frame)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert out.index.equals(frame.index)
    assert out["churn_probability"].between(0, 1).all()
    assert set(out["risk_band"]) <= {"high", "medium", "low"}
    first = out["top_drivers"].iloc[0]
    assert 1 <= len(first) <= 3
    assert set(first[0]) == {"indicator", "label", "value", "contribution", "text"}
    assert first[0]["indicator"] in ("csat_90d", "open_tickets", "plan")


def test_a_frame_without_an_indicator_column_is_refused_naming_it(trained):
    result, _, _ = trained
    frame = _accounts(5, 1).drop(columns="open_tickets")
    with pytest.raises(ValueError, match="lacks 1 indicator column.*open_tickets"):
        result.model.predict_frame(frame)


def test_the_registered_model_loaded_by_alias_in_a_fresh_process_gives_the_training_numbers(trained):
    result, uri, folder = trained
    assert result.decision.alias == "champion"
    frame = _accounts(200, 2).set_index("account_id")
    expected = result.model.predict_frame(frame)
    frame.to_csv(folder / "input.csv")
    script = textwrap.dedent(f"""
        import json, sys
        import mlflow, pandas as pd
        from models.registry import load_model

        frame = pd.read_csv("input.csv", index_col="account_id")
        loaded = load_model("models:/{NAME}@champion")
        out = loaded.predict(frame)
        raw = mlflow.pyfunc.load_model("models:/{NAME}@champion")
        plain = raw.predict(raw.unwrap_python_model().input_frame(frame))
        json.dump({{
            "loaded_type": type(raw.unwrap_python_model()).__name__,
            "version": loaded.version,
            "proba": out["churn_probability"].tolist(),
            "plain": plain["churn_probability"].tolist(),
            "bands": out["risk_band"].tolist(),
            "drivers": out["top_drivers"].tolist(),
            "index": out.index.tolist(),
        }}, sys.stdout)
    """)
    env = {"MLFLOW_TRACKING_URI": uri, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    assert got["loaded_type"] == "ChurnModel"  # probabilities, not LightGBM class labels
    assert got["index"] == list(frame.index)
    proba = np.array(got["proba"])
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba, expected["churn_probability"], rtol=1e-12)
    np.testing.assert_allclose(got["plain"], expected["churn_probability"], rtol=1e-12)
    assert got["bands"] == expected["risk_band"].tolist()
    assert [d[0]["text"] for d in got["drivers"]] == [d[0]["text"] for d in expected["top_drivers"]]


def test_the_logged_model_has_a_signature_and_an_input_example(trained):
    import mlflow

    result, uri, _ = trained
    mlflow.set_tracking_uri(uri)
    info = mlflow.models.get_model_info(result.model_uri)
    inputs = {spec.name: spec.type for spec in info.signature.inputs.inputs}
    assert set(inputs) == {"csat_90d", "open_tickets", "plan"}
    assert [spec.name for spec in info.signature.outputs.inputs] == list(OUTPUT_COLUMNS)
    assert info.saved_input_example_info is not None


def test_risk_bands_put_the_riskiest_tenth_in_high():
    proba = np.linspace(0, 1, 101)
    bands = risk_bands(proba, band_thresholds(proba))
    assert bands.count("high") == 10 or bands.count("high") == 11
    assert bands[-1] == "high" and bands[0] == "low"


def test_band_shares_must_be_ordered():
    with pytest.raises(ValueError, match="0 < high < medium < 1"):
        band_thresholds([0.1, 0.2], shares=(0.5, 0.2))


def _awkward_accounts() -> pd.DataFrame:
    """Scoring rows with an unseen plan, a missing plan, blank numbers and integer columns."""
    frame = _accounts(60, 3).set_index("account_id")
    frame.loc[frame.index[:3], "plan"] = "platinum"  # not seen at training
    frame.loc[frame.index[3:6], "plan"] = None
    frame.loc[frame.index[6:9], "csat_90d"] = np.nan
    return frame


@pytest.mark.parametrize("single_thread_rows", [5000, 0], ids=["one thread", "every core"])
def test_the_one_step_encoding_gives_the_pipelines_own_probabilities_and_drivers(
        trained, monkeypatch, single_thread_rows):
    import models.pyfunc
    from models.explain import top_drivers

    monkeypatch.setattr(models.pyfunc, "SINGLE_THREAD_ROWS", single_thread_rows)
    model = trained[0].model
    assert model._booster_inputs() is not None  # the direct path is the one compared
    frame = _awkward_accounts()
    out = model.predict_frame(frame)
    X = model.input_frame(frame)
    raw = model.pipeline.predict_proba(X)[:, 1]
    expected = raw if model.calibrator is None else model.calibrator.transform(raw)
    np.testing.assert_array_equal(out["churn_probability"].to_numpy(), expected)
    np.testing.assert_array_equal(model.churn_probability(frame), expected)
    assert out["top_drivers"].tolist() == top_drivers(model.pipeline, X, top=model.top)


def test_numbers_sent_as_text_are_read_and_anything_else_is_no_data(trained):
    model = trained[0].model
    frame = _accounts(3, 4).set_index("account_id").assign(csat_90d=["55.5", "n/a", None])
    X = model.input_frame(frame)
    assert X["csat_90d"].dtype == "float64"
    assert X["csat_90d"].iloc[0] == 55.5 and X["csat_90d"].iloc[1:].isna().all()
    assert X["open_tickets"].dtype == "float64" and X["plan"].dtype == object


def test_scoring_already_validated_rows_skips_mlflows_checks_and_gives_the_same_answer(
        trained, monkeypatch):
    from models.registry import load_model

    _, uri, folder = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    loaded = load_model(f"models:/{NAME}@champion")
    frame = _awkward_accounts()
    checked = loaded.predict(frame)
    direct = loaded.predict(frame, validated=True)
    pd.testing.assert_frame_equal(direct, checked)
