"""The batch scoring job: rows, metadata, atomic writes, idempotence and the alert rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.indicators import active_accounts
from features.problems import DataContractError
from serving.batch import BatchInputError, read_previous, run_batch
from serving.scores_file import (
    ScoresFileError,
    output_paths,
    read_metadata,
    read_scores,
)

BANDS = ["red", "yellow", "green"]


@pytest.fixture(scope="module")
def first_run(as_of, store, tmp_path_factory):
    """One scoring run with the session's champion, shared by the read-only tests."""
    out = tmp_path_factory.mktemp("batch_first") / "scores.parquet"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        result = run_batch(store.demo, as_of, out)
    return result


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- what a run writes ---------------------------------------------------------------


@pytest.mark.slow
def test_one_row_per_active_account_with_health_and_churn(as_of, first_run, serving_demo_tables):
    scores = pd.read_parquet(first_run.paths["scores"])
    expected = sorted(active_accounts(serving_demo_tables.accounts, as_of))
    assert scores["account_id"].tolist() == expected
    assert scores["health_band"].notna().all()
    assert scores["churn_probability"].between(0, 1).all()
    assert set(scores["risk_band"]) <= {"high", "medium", "low"}
    drivers = json.loads(scores["churn_drivers"].iloc[0])
    assert drivers and {"indicator", "value", "contribution", "text"} <= set(drivers[0])


@pytest.mark.slow
def test_run_metadata_travels_in_parquet_and_in_the_sidecar(as_of, first_run):
    stored = read_metadata(first_run.paths["scores"])
    sidecar = json.loads(first_run.paths["metadata"].read_text())
    assert stored == sidecar
    assert sidecar["as_of"] == as_of.isoformat()
    assert sidecar["model"]["name"] == "customer-health-churn"
    assert sidecar["model"]["alias"] == "champion" and sidecar["model"]["version"]
    assert len(sidecar["data_fingerprint"]) == 64
    assert sidecar["package_version"] and sidecar["seconds"] > 0
    assert sidecar["churn_unavailable"] is None


def test_the_fingerprint_hashed_beside_the_scoring_is_the_tables_own(first_run, serving_demo_tables):
    from models.training_set import tables_sha256

    assert first_run.metadata["data_fingerprint"] == tables_sha256(serving_demo_tables)


def test_a_fingerprint_that_fails_in_its_thread_fails_the_run(as_of, serving_demo_tables, monkeypatch):
    import serving.batch as batch

    def broken(tables):
        raise MemoryError("hashing the tables ran out of memory")

    monkeypatch.setattr(batch, "tables_sha256", broken)
    with pytest.raises(MemoryError, match="hashing the tables"):
        batch.score_portfolio(serving_demo_tables, as_of)


@pytest.mark.slow
def test_the_run_records_the_typical_values_its_call_list_read_drivers_against(
        as_of, first_run, serving_demo_tables):
    from features.indicators import compute_indicators
    from serving.alerts import TYPICAL_KEY, typical_values

    expected = typical_values(compute_indicators(serving_demo_tables, as_of))
    assert read_metadata(first_run.paths["scores"])[TYPICAL_KEY] == expected
    assert expected and any(value is not None for value in expected.values())


def test_the_call_list_from_drivers_in_memory_equals_one_read_from_the_scores_files_json(
        first_run, serving_demo_tables):
    from features.scorecard_config import load_scorecard
    from serving.alerts import TYPICAL_KEY
    from serving.batch import call_list

    meta = first_run.metadata
    written = read_scores(first_run.paths["scores"]).scores
    assert isinstance(written["churn_drivers"].iloc[0], str)  # JSON text, parsed by the rules
    again = call_list(written, serving_demo_tables, meta[TYPICAL_KEY], None,
                      scorecard=load_scorecard(churn=serving_demo_tables.churn),
                      risk_rise=meta["risk_rise"], currency=meta["currency"])
    assert len(again) > 0 and (again["top_drivers"] != "").all()
    pd.testing.assert_frame_equal(again, first_run.alerts)


@pytest.mark.slow
def test_running_twice_on_the_same_inputs_gives_the_same_rows(as_of, first_run, registry, tmp_path):
    again = run_batch(registry.demo, as_of, tmp_path / "again.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(first_run.paths["scores"]), pd.read_parquet(again.paths["scores"])
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(first_run.paths["alerts"]), pd.read_parquet(again.paths["alerts"])
    )
    assert again.metadata["data_fingerprint"] == first_run.metadata["data_fingerprint"]


@pytest.mark.slow
def test_batch_scores_equal_the_services_scores_for_the_same_accounts(first_run, registry, serving_indicators):
    from serving.schemas import AccountIndicators, AccountsRequest, request_bodies
    from serving.service import CustomerHealth

    scores = pd.read_parquet(first_run.paths["scores"]).set_index("account_id")
    bodies = request_bodies(serving_indicators.head(25))
    answer = CustomerHealth().score(AccountsRequest(accounts=[AccountIndicators(**b) for b in bodies]))
    for account in answer.accounts:
        row = scores.loc[account.account_id]
        if account.health_score is None:
            assert np.isnan(row["health_score"])
        else:
            assert account.health_score == pytest.approx(row["health_score"], rel=1e-12)
        assert account.health_band == row["health_band"]
        assert account.churn_probability == pytest.approx(row["churn_probability"], rel=1e-9)
        assert account.risk_band == row["risk_band"]


def test_without_a_registered_model_scores_are_written_and_churn_is_null(as_of, serving_demo_folder, empty_registry, tmp_path):
    result = run_batch(serving_demo_folder, as_of, tmp_path / "scores.csv")
    scores = pd.read_csv(result.paths["scores"])
    assert scores["health_score"].notna().any()
    assert scores["churn_probability"].isna().all()
    meta = json.loads(result.paths["metadata"].read_text())
    assert meta["model"] is None and "no model registered" in meta["churn_unavailable"]
    assert result.paths["alerts"].name == "scores.alerts.csv"


# --- failures leave nothing behind ----------------------------------------------------


@pytest.mark.slow
def test_an_explicit_model_that_is_not_registered_stops_the_run_before_writing(as_of, registry, tmp_path):
    from models.registry import NoModelError

    with pytest.raises(NoModelError, match="no model at models:/customer-health-churn@nobody"):
        run_batch(registry.demo, as_of, tmp_path / "scores.parquet",
                  model_uri="models:/customer-health-churn@nobody")
    assert list(tmp_path.iterdir()) == []


def test_invalid_input_stops_the_run_before_anything_is_written(as_of, serving_demo_folder, empty_registry, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(serving_demo_folder, broken)
    accounts = pd.read_csv(broken / "accounts.csv", dtype=str)
    pd.concat([accounts, accounts.head(2)]).to_csv(broken / "accounts.csv", index=False)
    out = tmp_path / "out"
    with pytest.raises(DataContractError, match="accounts.account_id"):
        run_batch(broken, as_of, out / "scores.parquet")
    assert not out.exists()


@pytest.mark.parametrize("failure", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_the_previous_files_and_no_partial_file(as_of,
    serving_demo_folder, empty_registry, tmp_path, monkeypatch, failure
):
    out = tmp_path / "scores.parquet"
    run_batch(serving_demo_folder, as_of, out)
    before = folder_files(tmp_path)

    real_write_table = pq.write_table
    calls = []

    def write_then_fail(table, where, **kwargs):
        # The scores file is written in full to its temporary file; the alerts file fails
        # half-way, as a full disk or Ctrl-C would.
        calls.append(where)
        real_write_table(table, where, **kwargs)
        if len(calls) == 2:
            Path(where).write_bytes(Path(where).read_bytes()[:100])
            raise failure

    monkeypatch.setattr(pq, "write_table", write_then_fail)
    with pytest.raises(type(failure)):
        run_batch(serving_demo_folder, as_of + pd.Timedelta(days=30), out)
    assert len(calls) == 2
    assert folder_files(tmp_path) == before  # same files, same bytes, no temporary left


def test_a_failed_first_run_leaves_no_file_at_all(as_of, serving_demo_folder, empty_registry, tmp_path, monkeypatch):
    def failing_write(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", failing_write)
    with pytest.raises(OSError, match="No space left"):
        run_batch(serving_demo_folder, as_of, tmp_path / "scores.parquet")
    assert list(tmp_path.iterdir()) == []


# --- bad arguments -------------------------------------------------------------------


def test_an_output_name_without_a_known_format_is_refused(as_of, serving_demo_folder, tmp_path):
    with pytest.raises(BatchInputError, match="cannot tell the output format of scores.txt"):
        run_batch(serving_demo_folder, as_of, tmp_path / "scores.txt")


def test_an_as_of_that_was_not_parsed_at_the_edge_is_refused(serving_demo_folder, tmp_path):
    # Dates are parsed once, by the CLI's --as-of option; the library takes timestamps.
    with pytest.raises(BatchInputError, match="as_of must be a Timestamp parsed once at the edge"):
        run_batch(serving_demo_folder, "2026-06-30", tmp_path / "scores.parquet")
    with pytest.raises(BatchInputError, match="got NaT"):
        run_batch(serving_demo_folder, pd.NaT, tmp_path / "scores.parquet")


def test_risk_rise_outside_0_1_is_refused(as_of, serving_demo_folder, tmp_path):
    with pytest.raises(BatchInputError, match="--risk-rise must lie within 0-1"):
        run_batch(serving_demo_folder, as_of, tmp_path / "scores.parquet", risk_rise=10)


def test_a_previous_file_that_is_not_an_output_of_the_job_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    pd.DataFrame({"account_id": ["a"], "score": [1]}).to_csv(other, index=False)
    with pytest.raises(BatchInputError, match=r"lacks column\(s\) \['health_score', 'health_band'"):
        read_previous(other)
    with pytest.raises(BatchInputError, match="does not exist"):
        read_previous(tmp_path / "missing.parquet")
    (tmp_path / "scores.json").write_text("{}")
    with pytest.raises(BatchInputError, match="scores.json is neither .parquet nor .csv"):
        read_previous(tmp_path / "scores.json")


def test_ids_that_look_like_numbers_stay_text_in_a_csv_scores_file(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame({"account_id": ["00123", "7"], "health_score": [50.0, 60.0],
                  "health_band": ["red", "yellow"]}).to_csv(path, index=False)
    assert read_scores(path).scores["account_id"].tolist() == ["00123", "7"]


def test_a_parquet_file_without_run_metadata_is_named(tmp_path):
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"account_id": ["a"]}).to_parquet(path)
    with pytest.raises(ScoresFileError, match="plain.parquet carries no customer-health run metadata"):
        read_metadata(path)


def test_output_files_sit_next_to_each_other():
    paths = output_paths("runs/2026-06-30.csv")
    assert paths.fmt == "csv"
    assert paths.alerts == Path("runs/2026-06-30.alerts.csv")
    assert paths.metadata == Path("runs/2026-06-30.csv.meta.json")


# --- alerts --------------------------------------------------------------------------


def test_alerts_compare_with_the_previous_run(as_of, serving_demo_folder, empty_registry, tmp_path):
    earlier = run_batch(serving_demo_folder, as_of - pd.Timedelta(days=60), tmp_path / "earlier.parquet")
    later = run_batch(serving_demo_folder, as_of, tmp_path / "later.parquet",
                      previous=earlier.paths["scores"])
    alerts = pd.read_parquet(later.paths["alerts"])
    before = pd.read_parquet(earlier.paths["scores"]).set_index("account_id")["health_band"]
    now = pd.read_parquet(later.paths["scores"]).set_index("account_id")
    assert alerts["account_id"].is_unique  # one row per account, every reason on it
    worse = alerts[alerts["rules"].str.contains("band_worse")]
    assert len(worse) > 0
    for _, alert in worse.iterrows():
        assert BANDS.index(now.loc[alert.account_id, "health_band"]) < BANDS.index(before[alert.account_id])
        assert (f"health band fell from {before[alert.account_id]} to "
                f"{now.loc[alert.account_id, 'health_band']}") in alert.reasons
    red = alerts[alerts["rules"].str.contains("entered_red")]
    assert (now.loc[red["account_id"], "health_band"] == "red").all()
    # No model scored churn here, so the most urgent are the lowest scores.
    assert alerts["revenue_at_stake"].isna().all()
    assert alerts["health_score"].dropna().is_monotonic_increasing
    assert alerts["rank"].tolist() == list(range(1, len(alerts) + 1))
    assert alerts["owner"].notna().all() and alerts["segment"].notna().all()
    assert now["health_trend"].notna().any()


def test_scoring_a_date_before_any_signup_writes_an_empty_run(serving_demo_folder, empty_registry, tmp_path):
    result = run_batch(serving_demo_folder, pd.Timestamp("2010-01-01"), tmp_path / "scores.csv")
    assert result.metadata["accounts"] == 0 and result.alerts.empty
    assert pd.read_csv(result.paths["scores"]).empty


# --- outputs and previous runs -------------------------------------------------------


@pytest.mark.parametrize("name", ["accounts.csv", "orders.parquet"])
def test_an_output_over_an_input_table_is_refused_and_the_table_kept(as_of, tmp_path, serving_demo_folder, name):
    folder = tmp_path / "in"
    shutil.copytree(serving_demo_folder, folder)
    before = folder_files(folder)
    with pytest.raises(BatchInputError, match=f"would write {name} over a table of the input folder"):
        run_batch(folder, as_of, folder / name)
    assert folder_files(folder) == before


def test_previous_auto_takes_the_latest_earlier_run(as_of, serving_demo_folder, empty_registry, tmp_path):
    runs = tmp_path / "runs"
    for day in ("2025-10-01", "2025-11-01"):
        run_batch(serving_demo_folder, pd.Timestamp(day), runs / f"{day}.parquet")
    later = pd.Timestamp("2025-12-01")
    result = run_batch(serving_demo_folder, later, runs / "2025-12-01.parquet", previous="auto")
    assert result.metadata["previous"] == str(runs / "2025-11-01.parquet")
    assert result.metadata["previous_missing"] is None
    assert result.scores["health_trend"].notna().any()


@pytest.mark.parametrize("previous", ["auto", "missing.parquet"])
def test_a_missing_previous_run_is_a_warning_not_a_failure(serving_demo_folder, empty_registry, tmp_path, previous):
    previous = previous if previous == "auto" else tmp_path / previous
    result = run_batch(serving_demo_folder, pd.Timestamp("2025-10-01"), tmp_path / "s.parquet",
                       previous=previous)
    assert result.metadata["previous"] is None
    assert "every red account is alerted" in result.metadata["previous_missing"]
    assert result.paths["scores"].exists()


def test_a_cut_off_previous_file_is_named(tmp_path):
    from serving.batch import PreviousRunError

    broken = tmp_path / "2025-11-01.parquet"
    broken.write_bytes(b"PAR1 only the first bytes")
    with pytest.raises(PreviousRunError, match="2025-11-01.parquet cannot be read"):
        read_previous(broken)


def test_the_batch_job_withholds_churn_risk_from_accounts_with_too_little_data(registry):
    """The same coverage rule as the service's: models.scoring decides for both."""
    from features.contract import Tables
    from features.indicators import compute_indicators
    from models.registry import load_model
    from models.scoring import CHURN_MIN_COVERAGE, churn_coverage
    from serving.batch import score_portfolio

    as_of = pd.Timestamp("2025-12-01")
    model = load_model()
    # Only the accounts table: the activity, ticket, order and survey indicators are missing.
    accounts_only = Tables(accounts=registry.tables.accounts)
    scores = score_portfolio(accounts_only, as_of, model=model).scores.set_index("account_id")
    assert (scores["churn_coverage"] < CHURN_MIN_COVERAGE).all()
    assert scores["churn_probability"].isna().all()
    assert (scores["risk_band"] == "insufficient data").all()
    assert scores["churn_drivers"].map(json.loads).map(len).eq(0).all()
    indicators = compute_indicators(accounts_only, as_of).loc[scores.index]
    np.testing.assert_allclose(scores["churn_coverage"].to_numpy(),
                               churn_coverage(indicators, model.feature_names).to_numpy())

    # The full tables: every active account has enough data, even one with no activity.
    full = score_portfolio(registry.tables, as_of, model=model).scores
    assert (full["churn_coverage"] >= CHURN_MIN_COVERAGE).all()
    assert full["churn_probability"].notna().all()
    assert set(full["risk_band"]) <= {"high", "medium", "low"}


def test_a_folder_output_keeps_each_run_in_a_dated_folder(as_of, serving_demo_folder, empty_registry, tmp_path):
    from serving.history import account_history
    from serving.scores_file import runs_folder, scores_files

    runs = tmp_path / "runs"
    old = run_batch(serving_demo_folder, as_of - pd.Timedelta(days=60), runs / "old-layout.parquet")
    first = run_batch(serving_demo_folder, as_of - pd.Timedelta(days=30), runs, previous="auto")
    second = run_batch(serving_demo_folder, as_of, runs, previous="auto")
    assert second.paths["scores"] == runs / f"{as_of:%Y-%m-%d}" / "scores.parquet"
    assert second.paths["alerts"].parent == second.paths["scores"].parent
    # --previous auto finds the latest earlier run, in a dated folder or the older layout
    assert first.metadata["previous"] == str(old.paths["scores"])
    assert second.metadata["previous"] == str(first.paths["scores"])
    assert scores_files(runs) == sorted([old.paths["scores"], first.paths["scores"], second.paths["scores"]])
    assert runs_folder(second.paths["scores"]) == runs and runs_folder(old.paths["scores"]) == runs
    account = second.scores["account_id"].iloc[0]
    assert len(account_history(runs, account).rows) == 3
