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
