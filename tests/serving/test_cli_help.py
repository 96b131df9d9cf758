"""Every ``--help`` of the CLI reads whole at 80 columns."""

from __future__ import annotations

import re

import click
import pytest
import typer
from typer.testing import CliRunner

from serving.cli import app

runner = CliRunner()
COMMANDS = sorted(typer.main.get_command(app).commands)


def test_every_command_is_checked():
    assert {"score", "serve", "train", "validate"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_value_beside_a_flag_and_cuts_nothing_at_80_columns(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "…" not in result.output
    flags = [p for p in typer.main.get_command(app).commands[command].params
             if isinstance(p, click.Option) and p.is_flag]
    for flag in flags:
        line = next(line for line in result.output.splitlines() if flag.opts[0] in line)
        assert "<" not in line.split(flag.opts[0])[1].split("  ")[0], line


@pytest.mark.parametrize("command", ["score", "serve"])
def test_a_long_default_in_help_can_be_copied_whole(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"})
    text = re.sub(r"-\n\s+", "-", result.output)  # a line wrapped after a hyphen
    assert "models:/customer-health-churn@champion" in text
