"""``customer-health scorecard suggest`` through the real CLI."""

from __future__ import annotations

import tomllib

import pytest
from typer.testing import CliRunner

from features.demo_data import write_demo_data
from features.scorecard_config import scorecard_from_dict
from serving.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scorecard_cli") / "demo"
    write_demo_data(folder, accounts=600, months=12, seed=7)
    return folder


def _run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    result.text = " ".join(result.output.split())
    return result


def test_suggest_prints_the_proof_and_writes_only_a_winner_unless_forced(demo, tmp_path):
    out = tmp_path / "suggested.toml"
    result = _run("scorecard", "suggest", demo, "--out", out)
    assert "out-of-time proof" in result.text and "ROC AUC" in result.text
    assert "bands in order (red > yellow > green)" in result.text
    assert "accounts × dates change band" in result.text
    if "beats the current scorecard" in result.text:
        assert result.exit_code == 0 and out.is_file()
    else:
        assert result.exit_code == 1 and not out.exists()
        assert "not written" in result.text and "--force" in result.text
    forced = _run("scorecard", "suggest", demo, "--out", out, "--force")
    assert forced.exit_code == 0, forced.output
    card = scorecard_from_dict(tomllib.loads(out.read_text("utf-8")))
    assert card.measures and "# was" in out.read_text("utf-8")


@pytest.mark.parametrize("args, message", [
    (["--segment-by", "plan"], "map your column to accounts.segment"),
    (["--scorecard", "missing.toml"], "no such file"),
])
def test_bad_requests_fail_with_exit_code_2_and_nothing_written(demo, tmp_path, args, message):
    out = tmp_path / "s.toml"
    result = _run("scorecard", "suggest", demo, "--out", out, *args)
    assert result.exit_code == 2, result.output
    assert message in result.text
    assert not out.exists()
