"""Every notebook runs top to bottom on small demo data without an error.

Each ``notebooks/*.py`` (jupytext percent format) is converted to a notebook and executed
with nbclient in a python3 kernel of the current interpreter. Parameters reach the kernel
through environment variables (small data, a temporary MLflow store and output folder).
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.slow  # runs every notebook top to bottom

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """Small demo data and a fresh MLflow store shared by the notebooks of this module."""
    root = tmp_path_factory.mktemp("notebooks")
    env = {
        "CH_NOTEBOOK_OUT": str(root / "out"),
        "CH_ACCOUNTS": "400",
        "CH_MONTHS": "12",
        "CH_SEED": "7",
        "CH_EVERY": "45",
        "CH_EXPERIMENT": "notebook-test",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MPLBACKEND": "Agg",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)  # the kernel inherits this process's environment
        yield root


def test_there_are_three_notebooks():
    assert [path.stem for path in NOTEBOOKS] == [
        "01_health_metrics", "02_retraining_experiment", "03_scorecard_vs_churn",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_the_notebook_runs_top_to_bottom_without_an_error(path, notebook_env):
    notebook = jupytext.read(path)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(notebook_env)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:  # show the failing cell's traceback, not nbclient's
        pytest.fail(f"{path.name} failed:\n{exc}")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count for cell in code_cells)
    errors = [out for cell in code_cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == []
