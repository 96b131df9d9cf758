"""Tracking set-up: routine MLflow output is silenced, everything else still shows."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.tracking import quiet_mlflow_logs, quiet_registration_messages
from models.trainer import train_flat_table

ROOT = Path(__file__).resolve().parents[2]
ROUTINE = (
    "Add type hints",
    "Creating initial MLflow database tables",
    "Updating database tables",
    "CloudPickle",
    "Validating input example",
    "without a signature",
    "input example was not provided",
    "Successfully registered model",
    "Created version",
)


@pytest.mark.slow
def test_training_into_a_new_sqlite_store_prints_no_routine_mlflow_lines(tmp_path, monkeypatch, capfd):
    rng = np.random.default_rng(0)
    n = 300
    csat = rng.uniform(0, 100, n)
    table = pd.DataFrame({
        "account_id": [f"A{i}" for i in range(n)],
        "csat_90d": csat,
        "plan": rng.choice(["starter", "growth"], n),
        "churned": np.where(rng.uniform(size=n) < (csat < 30) * 0.6 + 0.05, "yes", "no"),
    })
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    result = train_flat_table(table, label="churned", id_column="account_id", folds=2, seed=0,
                              model_name="quiet-churn", experiment="quiet-tests")
    out, err = capfd.readouterr()
    assert result.decision.version == "1"
    for phrase in ROUTINE:
        assert phrase not in out + err, f"{phrase!r} printed:\n{out}{err}"


def test_other_mlflow_log_lines_still_show(capfd):
    quiet_mlflow_logs()
    logging.getLogger("mlflow.pyfunc").warning("Failed to infer model signature: a real problem")
    logging.getLogger("mlflow.pyfunc").warning(
        "Passing a Python object as `python_model` causes it to be serialized using CloudPickle"
    )
    err = capfd.readouterr().err
    assert "a real problem" in err
    assert "CloudPickle" not in err


def test_quieting_twice_adds_one_filter_per_logger():
    quiet_mlflow_logs()
    quiet_mlflow_logs()
    for name in ("mlflow.pyfunc", "mlflow.store.db.utils"):
        filters = logging.getLogger(name).filters
        assert sum(type(f).__name__ == "_DropRoutineMessages" for f in filters) == 1


def test_registration_lines_are_dropped_and_other_stderr_passes_through(capsys):
    with quiet_registration_messages():
        print("Successfully registered model 'm'.", file=sys.stderr)
        print("Created version '2' of model 'm'.", file=sys.stderr)
        print("a real warning", file=sys.stderr)
        sys.stderr.write("no newline at the end")
    assert capsys.readouterr().err == "a real warning\nno newline at the end"


@pytest.mark.slow
def test_defining_the_pyfunc_model_raises_no_mlflow_type_hint_warning():
    # A fresh interpreter: the warning fires when the class is defined, i.e. on import.
    code = textwrap.dedent("""
        import warnings
        import mlflow.pyfunc
        warnings.filterwarnings("error", category=UserWarning, module="mlflow")
        warnings.filterwarnings("error", message=".*type hint.*")
        import models.pyfunc
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "type hint" not in done.stderr


@pytest.mark.slow
def test_listing_models_of_a_new_sqlite_store_prints_no_routine_mlflow_lines(tmp_path):
    cli = Path(sys.executable).with_name("customer-health")
    env = {"PATH": str(cli.parent), "HOME": str(tmp_path),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'fresh.db'}"}
    result = subprocess.run([str(cli), "models"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no registered model" in result.stdout
    assert not [line for line in result.stderr.splitlines() if any(r in line for r in ROUTINE)]
