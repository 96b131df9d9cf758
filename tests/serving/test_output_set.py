"""Batch outputs as one unit: kill between renames, stale temporaries, lock, umask, CSV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from serving.output_set import folder_lock, journal_path, write_set
from serving.scores_file import (
    neutralise_formulas,
    output_paths,
    read_scores,
    write_scores,
)

ROOT = Path(__file__).resolve().parents[2]


def run_frames(as_of: str, n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    scores = pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "as_of": as_of,
                           "health_score": 50.0, "health_band": "yellow"})
    alerts = pd.DataFrame({"account_id": ["A0"], "rule": ["entered_red"], "reason": [as_of]})
    return scores, alerts, {"as_of": as_of}


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    import pandas as pd
    sys.path.insert(0, {root!r})
    from serving.scores_file import output_paths, write_scores
    renames = []
    real_replace = os.replace
    def replace_then_die(src, dst):
        real_replace(src, dst)
        if str(src).endswith(".tmp") and not str(dst).endswith(".commit"):
            renames.append(dst)
            if len(renames) == 1:  # the scores file is switched, alerts and meta are not
                os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace_then_die
    scores = pd.DataFrame({{"account_id": ["A0", "A1"], "as_of": "second",
                            "health_score": 1.0, "health_band": "red"}})
    alerts = pd.DataFrame({{"account_id": ["A0"], "rule": ["entered_red"], "reason": ["second"]}})
    write_scores(scores, alerts, {{"as_of": "second"}}, output_paths({out!r}))
""")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_run_killed_between_its_renames_is_read_as_one_whole_run(tmp_path, fmt):
    out = tmp_path / f"scores.{fmt}"
    paths = output_paths(out)
    write_scores(*run_frames("first"), paths)
    script = KILLED_WRITER.format(root=str(ROOT), out=str(out))
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert journal_path(out).exists()  # killed mid-switch: the journal says what to finish

    run = read_scores(out)
    assert run.metadata["as_of"] == "second"
    assert set(run.scores["as_of"]) == {"second"}
    assert run.alerts()["reason"].tolist() == ["second"]
    assert not journal_path(out).exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "scores.parquet"
    paths = output_paths(out)
    stale = [tmp_path / f".{p.name}.dead1234.tmp" for p in paths.as_dict().values()]
    for path in stale:
        path.write_bytes(b"half a file")
    other = tmp_path / ".report.html.abcd.tmp"  # not this run's: left alone
    other.write_bytes(b"x")
    write_scores(*run_frames("first"), paths)
    assert not any(path.exists() for path in stale)
    assert other.exists()


def test_a_failure_before_the_commit_leaves_the_previous_set_and_no_temporary(tmp_path):
    out = tmp_path / "scores.csv"
    write_scores(*run_frames("first"), output_paths(out))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_set([(out, lambda tmp: tmp.write_text("new")), (tmp_path / "scores.alerts.csv", fail)])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_second_writer_waits_for_the_first_so_sets_never_interleave(tmp_path):
    out = tmp_path / "scores.csv"
    paths = output_paths(out)
    finished = []

    def second() -> None:
        write_scores(*run_frames("second"), paths)
        finished.append(time.monotonic())

    with folder_lock(tmp_path):  # a first job holds the folder
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert not finished and not out.exists()
    thread.join(10)
    assert finished and read_scores(out).metadata["as_of"] == "second"


def test_outputs_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        paths = output_paths(tmp_path / "scores.parquet")
        write_scores(*run_frames("first"), paths)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in paths.as_dict().values()}
    assert set(modes.values()) == {0o644}, modes


def test_csv_text_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    scores, alerts, meta = run_frames("first")
    scores["account_id"] = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)"]
    scores["health_score"] = [-5.0, 1.0, 2.0]
    paths = output_paths(tmp_path / "scores.csv")
    write_scores(scores, alerts, meta, paths)
    raw = pd.read_csv(paths.scores, dtype=str)
    assert raw["account_id"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'@SUM(A1)"]
    assert raw["health_score"].tolist() == ["-5.0", "1.0", "2.0"]  # numbers stay numbers
    assert read_scores(paths.scores).scores["account_id"].tolist() == scores["account_id"].tolist()


def test_parquet_keeps_text_cells_as_they_are(tmp_path):
    scores, alerts, meta = run_frames("first")
    scores["account_id"] = ["=1+1", "-2", "A"]
    paths = output_paths(tmp_path / "scores.parquet")
    write_scores(scores, alerts, meta, paths)
    assert pd.read_parquet(paths.scores)["account_id"].tolist() == ["=1+1", "-2", "A"]
    assert neutralise_formulas(scores)["account_id"].tolist() == ["'=1+1", "'-2", "A"]


def test_a_cut_off_metadata_file_is_named_not_a_traceback(tmp_path):
    from serving.scores_file import ScoresFileError

    paths = output_paths(tmp_path / "scores.csv")
    write_scores(*run_frames("first"), paths)
    paths.metadata.write_text(json.dumps({"as_of": "first"})[:7])
    with pytest.raises(ScoresFileError, match="scores.csv.meta.json is not valid JSON"):
        read_scores(paths.scores)
