"""Errors reaching the CLI: one clear line, the right exit code, no password."""

from __future__ import annotations

import pytest
import sqlalchemy

from serving.errors import EXIT_INVALID_INPUT, report_errors


def test_an_unreachable_mlflow_store_is_one_line_with_the_password_masked(monkeypatch, capsys):
    url = "postgresql://ml:hunter2@127.0.0.1:9/mlflow"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    with pytest.raises(SystemExit) as exited, report_errors():
        sqlalchemy.create_engine(url).connect()  # what MLflow's store does first
    assert exited.value.code == EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the MLflow store postgresql://ml:***@127.0.0.1:9/mlflow: ")
    assert "Connection refused" in err and "hunter2" not in err and err.count("\n") == 1
