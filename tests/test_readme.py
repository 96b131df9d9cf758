"""The README's command walkthrough runs exactly as written.

Every ``customer-health`` line of the README's ``bash`` blocks runs in order in a fresh
folder (with a public churn table, the Telco export, where the README names it), except ``serve``, which
starts a server and is covered by ``tests/serving/test_service_server.py``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CLI = Path(sys.executable).with_name("customer-health")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("customer-health ") and not line.startswith("customer-health serve"):
                commands.append(line)
    return commands


def test_the_readme_shows_every_command_a_new_user_needs():
    shown = {shlex.split(c)[1] for c in readme_commands()}
    assert shown >= {"demo-data", "validate", "metrics", "features", "train", "models",
                     "score", "history", "report", "experiment"}


@pytest.mark.skipif(not SHARED.joinpath("data", "telco").is_dir(),
                    reason="the shared Telco data is not beside the repository")
@pytest.mark.slow
def test_the_readme_walkthrough_runs_as_written(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    telco = "Telco-Customer-Churn.csv"  # the README trains on a table of the user's own
    (run / telco).symlink_to(SHARED / "data" / "telco" / telco)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "COLUMNS": "120"}
    for command in readme_commands():
        args = shlex.split(command)
        result = subprocess.run([str(CLI), *args[1:]], cwd=run, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    scores = pd.read_parquet(run / "runs" / "2026-01-01.parquet")
    assert scores["account_id"].is_unique and scores["churn_probability"].between(0, 1).all()
    assert (run / "runs" / "2026-01-01.alerts.parquet").exists()
    assert "<html" in (run / "report.html").read_text("utf-8").lower()
    assert (run / "history.png").stat().st_size > 0
    features = pd.read_parquet(run / "features.parquet")
    assert {"health_score", "active_days_90d"} <= set(features.columns)
