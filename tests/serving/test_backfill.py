"""Backfills: many dates scored in one process, each date the run it would be on its own."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.backfill import BackfillWorkerError, backfill_dates, dated_output, run_backfill
from serving.batch import BatchInputError, run_batch
from serving.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "220"}


def test_backfill_dates_run_from_the_start_every_few_days_up_to_the_last():
    dates = backfill_dates(pd.Timestamp("2025-11-01"), pd.Timestamp("2025-11-30"), 7)
    assert [d.day for d in dates] == [1, 8, 15, 22, 29]
    assert backfill_dates(pd.Timestamp("2025-11-01"), pd.Timestamp("2025-11-01"), 7) == [
        pd.Timestamp("2025-11-01")]


def test_backfill_dates_refuse_a_last_date_before_the_first_or_a_step_below_a_day():
    with pytest.raises(BatchInputError, match="--until 2025-10-01 is before --as-of 2025-11-01"):
        backfill_dates(pd.Timestamp("2025-11-01"), pd.Timestamp("2025-10-01"), 7)
    with pytest.raises(BatchInputError, match="--every must be at least 1 day"):
        backfill_dates(pd.Timestamp("2025-11-01"), pd.Timestamp("2025-12-01"), 0)


def test_a_file_output_gets_the_date_in_its_name_and_a_database_keeps_its_url():
    assert dated_output("runs/scores.csv", pd.Timestamp("2025-11-08")).name == "scores-2025-11-08.csv"
    url = "postgresql://cs@db/crm/scores"
    assert dated_output(url, pd.Timestamp("2025-11-08")) == url


def _same_facts(meta: dict) -> dict:
    """The metadata but the time taken and the paths (the two runs write to two folders)."""
    where = ("seconds", "previous", "previous_missing", "output", "alerts_file")
    return {k: v for k, v in meta.items() if k not in where}


@pytest.mark.slow
def test_each_backfilled_date_equals_the_run_of_that_date_alone(registry, as_of, tmp_path):
    dates = backfill_dates(as_of - pd.Timedelta(days=14), as_of, 7)
    filled = run_backfill(registry.demo, dates, tmp_path / "fill" / "scores.parquet",
                          previous="auto")
    assert [r.metadata["as_of"] for r in filled] == [d.isoformat() for d in dates]
    for date, result in zip(dates, filled):
        # Nightly runs of the same dates, one process each, comparing with the night before.
        alone = run_batch(registry.demo, date, tmp_path / "alone" / result.paths["scores"].name,
                          previous="auto")
        pd.testing.assert_frame_equal(pd.read_parquet(result.paths["scores"]),
                                      pd.read_parquet(alone.paths["scores"]))
        pd.testing.assert_frame_equal(pd.read_parquet(result.paths["alerts"]),
                                      pd.read_parquet(alone.paths["alerts"]))
        assert _same_facts(result.metadata) == _same_facts(alone.metadata)
    assert filled[0].metadata["previous"] is None
    assert filled[1].metadata["previous"].endswith(f"scores-{dates[0]:%Y-%m-%d}.parquet")
    assert pd.read_parquet(filled[-1].paths["scores"])["health_trend"].notna().any()


@pytest.mark.slow
def test_score_until_writes_one_run_per_date_and_lists_them(registry, as_of, tmp_path):
    out = tmp_path / "runs" / "scores.csv"
    result = runner.invoke(app, [
        "score", str(registry.demo), "--as-of", "2025-11-17", "--until", str(as_of.date()),
        "--every", "7d", "--out", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "3 runs from 2025-11-17 to 2025-12-01" in result.output
    for day in ("2025-11-17", "2025-11-24", "2025-12-01"):
        meta = json.loads((tmp_path / "runs" / f"scores-{day}.csv.meta.json").read_text())
        assert meta["as_of"].startswith(day)
        assert (tmp_path / "runs" / f"scores-{day}.alerts.csv").is_file()


@pytest.mark.parametrize(("options", "message", "code"), [
    (["--until", "2025-10-01"], "--until 2025-10-01 is before --as-of 2025-11-01", 2),
    (["--until", "2025-12-01", "--every", "weekly"], "--every: could not read 'weekly'", 2),
    # A date that is not one fails like --as-of does (the shared date option's exit code).
    (["--until", "someday"], "--until: could not read 'someday' as a date", 1),
])
def test_score_until_refuses_bad_dates_and_steps_before_reading(options, message, code, tmp_path):
    result = runner.invoke(app, ["score", str(tmp_path), "--as-of", "2025-11-01",
                                 "--out", str(tmp_path / "scores.csv"), *options], env=WIDE)
    assert result.exit_code == code
    assert message in " ".join(result.output.split())
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_dates_scored_by_two_workers_are_the_runs_one_process_writes(registry, as_of, tmp_path):
    # Two runs of consecutive dates side by side: the second worker's first date compares
    # with the date before it, which the first worker writes last.
    dates = backfill_dates(as_of - pd.Timedelta(days=21), as_of, 7)
    seen = []
    apart = run_backfill(registry.demo, dates, tmp_path / "apart" / "scores.parquet",
                         previous="auto", workers=2, progress=lambda done, day: seen.append(day))
    one = run_backfill(registry.demo, dates, tmp_path / "one" / "scores.parquet",
                       previous="auto", workers=1)
    assert sorted(seen) == dates
    for a, b in zip(apart, one, strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(a.paths["scores"]),
                                      pd.read_parquet(b.paths["scores"]))
        pd.testing.assert_frame_equal(pd.read_parquet(a.paths["alerts"]),
                                      pd.read_parquet(b.paths["alerts"]))
        assert _same_facts(a.metadata) == _same_facts(b.metadata)
        assert ((a.metadata["previous"] or "").replace("apart", "one")
                == (b.metadata["previous"] or ""))
    assert apart[2].metadata["previous"].endswith(f"scores-{dates[1]:%Y-%m-%d}.parquet")
    # The same files, and nothing else (the copy the second worker compared with is gone).
    assert ({p.name for p in (tmp_path / "apart").iterdir()}
            == {p.name for p in (tmp_path / "one").iterdir()})


@pytest.mark.slow
def test_a_worker_killed_midway_stops_the_backfill_and_says_what_to_do(registry, as_of, tmp_path):
    import signal

    import psutil

    me, killed = psutil.Process(), []

    def kill_a_worker(done: int, day: pd.Timestamp) -> None:
        for child in me.children():
            try:
                forked = child.cmdline() == me.cmdline()  # a worker, not a tracker process
            except psutil.Error:
                continue
            if forked and not killed:
                child.send_signal(signal.SIGKILL)
                killed.append(child.pid)

    dates = backfill_dates(as_of - pd.Timedelta(days=21), as_of, 7)
    with pytest.raises(BackfillWorkerError, match="run again with fewer --workers"):
        run_backfill(registry.demo, dates, tmp_path / "scores.parquet", previous="auto",
                     workers=2, progress=kill_a_worker)
