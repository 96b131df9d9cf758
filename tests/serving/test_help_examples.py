"""The examples of every ``--help`` run as printed, on demo data where ``make demo`` puts it.

``customer-health demo`` writes the tables to ``demo/data``; an example that reads the demo
tables must name that folder. Examples that need more than the demo tables (a trained
model, a user's own export, a server) are listed in ``NEEDS_MORE`` with the reason.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from features.demo_data import write_demo_data
from serving.cli import app

# Every example runs the CLI in a subprocess: minutes in all.
pytestmark = pytest.mark.slow

CLI = Path(sys.executable).with_name("customer-health")
NEEDS_MORE = {
    "serve": "starts a server (tests/serving/test_service_server.py)",
    "train": "trains a model (tests/serving/test_cli_training.py)",
    "experiment": "searches hyperparameters (tests/serving/test_cli_training.py)",
    "demo": "the whole flow (tests/serving/test_demo.py)",
    "models": "needs a registered model (tests/serving/test_cli_training.py)",
    "report": "needs a scored run (tests/serving/test_report.py)",
    "history": "needs scored runs (tests/serving/test_history.py)",
}
# A user's own files or database, which the demo does not have.
OWN_FILES = ("exports/", "telco.csv", "models:/", "my-scorecard.toml", "my_scorecard.toml",
             "warehouse.toml", "postgresql://")


def help_examples() -> list[str]:
    commands = []
    for command in get_command(app).commands.values():
        for line in (command.epilog or "").splitlines():
            line = line.strip()
            if line.startswith("customer-health "):
                commands.append(line)
    return commands


def runnable(example: str) -> bool:
    name = shlex.split(example)[1]
    return name not in NEEDS_MORE and not any(part in example for part in OWN_FILES)


def test_every_command_shows_examples_and_they_name_the_demo_tables_where_make_demo_puts_them():
    examples = help_examples()
    assert {shlex.split(e)[1] for e in examples} >= {"validate", "metrics", "features", "score"}
    reading_demo = [e for e in examples if re.search(r"\sdemo/?(\s|$)", e)
                    and shlex.split(e)[1] not in ("demo-data", "demo")]
    assert reading_demo == [], "the demo tables are in demo/data"


@pytest.mark.parametrize("example", [e for e in help_examples() if runnable(e)])
def test_each_help_example_runs_as_printed(example, tmp_path):
    write_demo_data(tmp_path / "demo" / "data", accounts=150, months=18, seed=3)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "COLUMNS": "120"}
    result = subprocess.run([str(CLI), *shlex.split(example)[1:]], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{example}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
