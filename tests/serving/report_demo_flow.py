"""One small run of the whole demo flow, shared by the report and demo tests.

The demo (data, validation, training, scoring, report) runs once per test session into a
temporary folder with its own SQLite MLflow store; test modules get it through
:func:`demo_run`. A module-level cache rather than a fixture because fixtures imported into
several test modules would run once per module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

# Small enough to train in about half a minute on 2 cores, large enough for churners in
# every split of the trainer's time split.
ACCOUNTS = 400
MONTHS = 12
SEED = 7

_RUNS: dict[Path, DemoRun] = {}


@dataclass(frozen=True)
class DemoRun:
    root: Path  # working folder (holds mlflow.db)
    out: Path  # the demo's --out folder
    tracking_uri: str
    result: object  # serving.demo.DemoResult
    output: str  # what the demo printed


def tracking_env(uri: str):
    """Set MLFLOW_TRACKING_URI for a block and restore it afterwards."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        saved = os.environ.get("MLFLOW_TRACKING_URI")
        os.environ["MLFLOW_TRACKING_URI"] = uri
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = saved

    return scope()


def demo_run(base: Path) -> DemoRun:
    """Run the demo flow once under ``base`` (the session's temp root) and cache it."""
    if base in _RUNS:
        return _RUNS[base]
    from serving.demo import run_demo

    root = base / "report_demo_flow"
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    console = Console(record=True, width=160, force_terminal=False)
    with tracking_env(uri):
        result = run_demo(root / "demo", accounts=ACCOUNTS, months=MONTHS, seed=SEED, console=console)
    _RUNS[base] = DemoRun(root, root / "demo", uri, result, console.export_text())
    return _RUNS[base]
