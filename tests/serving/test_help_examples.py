"""The examples of every ``--help`` run as printed, on demo data where ``make demo`` puts it.

``customer-health demo`` writes the tables to ``demo/data``; an example that reads the demo
tables must name that folder. One folder is prepared once for every example, as a user
following the help would have it: the demo tables, a trained model (three registered
versions, the champion among them) in a SQLite store, scored runs, the user's own export
with a mapping file and a scorecard of their own, and a small flat churn table.

Left out, with the reason in ``NEEDS_MORE``: examples that start a server or the whole demo
(each has its own test with a real process) or search hyperparameters for minutes, and
those that read a user's database (``OWN_DATABASE``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from features.demo_data import write_demo_data
from serving.cli import app

# Every example runs the CLI in a subprocess: minutes in all.
pytestmark = pytest.mark.slow

CLI = Path(sys.executable).with_name("customer-health")
NEEDS_MORE = {
    "serve": "starts a server (tests/serving/test_service_server.py)",
    "experiment": "searches hyperparameters for minutes (tests/serving/test_cli_training.py)",
    "demo": "the whole flow (tests/serving/test_demo.py)",
}
# A user's own database, which a test cannot stand in for with files.
OWN_DATABASE = ("warehouse.toml", "postgresql://")
SCORECARD = Path(__file__).resolve().parents[2] / "features" / "scorecard_default.toml"


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
    return name not in NEEDS_MORE and not any(part in example for part in OWN_DATABASE)


def _user_export(demo: Path, folder: Path) -> Path:
    """The demo tables as a user's export: accounts in customers.csv with their own id column."""
    shutil.copytree(demo, folder)
    accounts = pd.read_csv(folder / "accounts.csv", dtype=str)
    accounts.rename(columns={"account_id": "CustomerID"}).to_csv(folder / "customers.csv", index=False)
    (folder / "accounts.csv").unlink()
    mapping = folder.parent / "mapping.toml"
    mapping.write_text('[tables.accounts]\nfile = "customers.csv"\n'
                       'columns = { account_id = "CustomerID" }\n')
    return mapping


def _flat_table(path: Path, rows: int = 400) -> None:
    """A small one-row-per-customer churn table shaped like a telco export."""
    rng = np.random.default_rng(4)
    tenure = rng.integers(1, 72, rows)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], rows)
    charges = rng.uniform(20, 110, rows).round(2)
    risk = 1.5 - tenure / 24 + (contract == "Month-to-month") + charges / 80
    churn = rng.random(rows) < 1 / (1 + np.exp(-risk))
    pd.DataFrame({"customerID": [f"{i:04d}-X" for i in range(rows)], "tenure": tenure,
                  "Contract": contract, "MonthlyCharges": charges,
                  "Churn": np.where(churn, "Yes", "No")}).to_csv(path, index=False)


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Everything the examples read, prepared once: see the module's docstring."""
    import mlflow

    from features.io import load_tables
    from models.trainer import train_from_tables

    root = tmp_path_factory.mktemp("help_examples")
    demo = root / "demo" / "data"
    write_demo_data(demo, accounts=150, months=18, seed=3)
    _user_export(demo, root / "exports")
    for name in ("my-scorecard.toml", "my_scorecard.toml"):
        shutil.copyfile(SCORECARD, root / name)
    _flat_table(root / "telco.csv")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "COLUMNS": "120"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        patch.chdir(root)
        tables, _ = load_tables(demo)
        result = train_from_tables(tables, every=60, seed=0, promote=True)
        for _ in range(2):  # the examples name version 3
            mlflow.register_model(result.model_uri, "customer-health-churn")
        runner = CliRunner()
        for as_of, out in (("2026-05-31", "runs/2026-05-31.parquet"),
                           ("2026-06-30", "runs/2026-06-30.parquet"),
                           ("2026-06-30", "demo/scores.parquet")):
            scored = runner.invoke(app, ["score", "demo/data", "--as-of", as_of, "--out", out])
            assert scored.exit_code == 0, scored.output
        mlflow.set_tracking_uri(None)
    return root, env


def test_every_command_shows_examples_and_they_name_the_demo_tables_where_make_demo_puts_them():
    examples = help_examples()
    assert {shlex.split(e)[1] for e in examples} >= {"validate", "metrics", "features", "score"}
    reading_demo = [e for e in examples if re.search(r"\sdemo/?(\s|$)", e)
                    and shlex.split(e)[1] not in ("demo-data", "demo")]
    assert reading_demo == [], "the demo tables are in demo/data"


@pytest.mark.parametrize("example", [e for e in help_examples() if runnable(e)])
def test_each_help_example_runs_as_printed(example, user_folder):
    root, env = user_folder
    result = subprocess.run([str(CLI), *shlex.split(example)[1:]], cwd=root, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{example}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
