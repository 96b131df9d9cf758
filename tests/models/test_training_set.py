"""Point-in-time training sets: no leakage, the split by time, unlabelled tail dates, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import Tables, validate_tables
from features.demo_data import generate_demo_data
from models.training_set import (
    LABEL,
    TrainingSetError,
    build_training_set,
    churn_labels,
    data_span,
    tables_sha256,
    time_split,
)

HORIZON = 30


@pytest.fixture(scope="module")
def tables() -> Tables:
    tables, _ = validate_tables(generate_demo_data(accounts=300, months=8, seed=11))
    return tables


PROGRESS: list = []


@pytest.fixture(scope="module")
def ts(tables):
    return build_training_set(tables, horizon=HORIZON, every=30,
                              progress=lambda *call: PROGRESS.append(call))


def _future_mutated(tables: Tables, cut: pd.Timestamp, end: pd.Timestamp, horizon: int) -> Tables:
    """Every event row at or after ``cut`` changed, and more of them added, without moving
    the data end; churn dates after ``cut + horizon`` moved but kept after it."""
    rng = np.random.default_rng(0)
    changed = {}
    for name, column, numbers in (
        ("sessions", "started_at", ("duration_seconds", "page_views")),
        ("tickets", "created_at", ("reopened_count",)),
        ("orders", "ordered_at", ("amount", "items")),
        ("surveys", "responded_at", ("score",)),
    ):
        frame = getattr(tables, name).copy()
        late = frame[column] >= cut
        for number in numbers:
            if number == "score":
                # Stay on each survey's scale: swap the late answers of one survey around.
                for survey in frame["survey"].dropna().unique():
                    rows = late & (frame["survey"] == survey)
                    frame.loc[rows, number] = rng.permutation(frame.loc[rows, number].to_numpy())
            else:
                frame.loc[late, number] = frame.loc[late, number] * 3 + 1
        extra = frame[late].copy()
        span_seconds = (end - cut).total_seconds() - 1
        extra[column] = cut + pd.to_timedelta(
            rng.uniform(0, span_seconds, len(extra)), unit="s"
        )
        for id_column in ("ticket_id", "order_id", "response_id"):
            if id_column in extra:
                extra[id_column] = extra[id_column].astype(str) + "-future"
        if name == "tickets":
            extra["first_response_at"] = pd.NaT
            extra["resolved_at"] = pd.NaT
            # Resolving previously open tickets after the cut must not change the past either.
            frame.loc[frame["resolved_at"].isna() & ~late, "resolved_at"] = end - pd.Timedelta(hours=1)
        if name == "surveys":
            extra["comment"] = "terrible, awful, the worst service ever"
        changed[name] = pd.concat([frame, extra], ignore_index=True)
    accounts = tables.accounts.copy()
    late_churn = accounts["churned_at"] > cut + pd.Timedelta(days=horizon)
    accounts.loc[late_churn, "churned_at"] = end - pd.Timedelta(days=1)
    return dataclasses.replace(tables, accounts=accounts, **changed)


def test_features_and_labels_of_a_date_do_not_change_when_everything_after_it_changes(tables, ts):
    cut = ts.labelled_dates[len(ts.labelled_dates) // 2]
    end = pd.Timestamp(ts.fingerprint["data_end"])
    mutated = _future_mutated(tables, cut, end, HORIZON)
    assert data_span(mutated) == data_span(tables)
    again = build_training_set(mutated, horizon=HORIZON, every=30)

    before = ts.frame[ts.frame["as_of"] <= cut].reset_index(drop=True)
    after = again.frame[again.frame["as_of"] <= cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    # The mutation is real: later dates do see it.
    later = ts.frame["as_of"] > cut
    assert not ts.frame[later].reset_index(drop=True).equals(
        again.frame[again.frame["as_of"] > cut].reset_index(drop=True)
    )


def test_labels_are_churn_inside_the_window_after_the_date_and_nothing_else(tables, ts):
    churned_at = tables.accounts.set_index("account_id")["churned_at"]
    labelled = ts.labelled
    when = churned_at.reindex(labelled["account_id"]).to_numpy()
    as_of = labelled["as_of"].to_numpy()
    expected = (when >= as_of) & (when < as_of + np.timedelta64(HORIZON, "D"))
    np.testing.assert_array_equal(labelled[LABEL].to_numpy(), expected.astype(float))
    assert labelled[LABEL].sum() > 0


def test_accounts_already_churned_or_not_yet_signed_up_are_not_observed(tables, ts):
    accounts = tables.accounts.set_index("account_id")
    rows = ts.frame.join(accounts[["signup_date", "churned_at"]], on="account_id")
    assert (rows["signup_date"] < rows["as_of"]).all()
    assert not (rows["churned_at"] < rows["as_of"]).any()


def test_a_churn_stamped_exactly_at_the_date_counts_inside_the_window():
    accounts = pd.DataFrame({"account_id": ["at", "edge"],
                             "churned_at": pd.to_datetime(["2025-03-01", "2025-03-31"])})
    labels = churn_labels(accounts, pd.Index(accounts["account_id"]), pd.Timestamp("2025-03-01"),
                          horizon=30, lead=0, end=pd.Timestamp("2025-12-31"))
    assert labels.to_dict() == {"at": 1.0, "edge": 0.0}


def test_churn_during_the_lead_time_leaves_the_account_out_of_that_date():
    accounts = pd.DataFrame({
        "account_id": ["early", "in_window", "later", "stays"],
        "churned_at": pd.to_datetime(["2025-03-01", "2025-03-20", "2025-06-30", None]),
    })
    labels = churn_labels(accounts, pd.Index(accounts["account_id"]), pd.Timestamp("2025-03-01"),
                          horizon=30, lead=14, end=pd.Timestamp("2025-12-31"))
    assert labels.to_dict() == {"in_window": 1.0, "later": 0.0, "stays": 0.0}


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.one_of(st.none(), st.integers(0, 400)), min_size=1, max_size=12),
    hours=st.integers(0, 23),
    horizon=st.integers(1, 120),
    lead=st.integers(0, 30),
)
def test_a_label_says_exactly_whether_churn_fell_in_the_window(offsets, hours, horizon, lead):
    as_of = pd.Timestamp("2025-03-01")
    when = [None if o is None else as_of + pd.Timedelta(days=o, hours=hours) for o in offsets]
    accounts = pd.DataFrame({"account_id": [f"a{i}" for i in range(len(offsets))],
                             "churned_at": pd.to_datetime(when)})
    labels = churn_labels(accounts, pd.Index(accounts["account_id"]), as_of,
                          horizon=horizon, lead=lead, end=pd.Timestamp("2030-01-01"))
    for account, offset in zip(accounts["account_id"], offsets):
        days = None if offset is None else offset + hours / 24
        if days is not None and days < lead:
            assert account not in labels.index  # churned during the lead time
        else:
            inside = days is not None and lead <= days < lead + horizon
            assert labels[account] == float(inside)


def test_dates_whose_window_runs_past_the_data_end_are_kept_without_label(ts):
    end = pd.Timestamp(ts.fingerprint["data_end"])
    assert ts.dates[-1] == end
    for date, rows in ts.frame.groupby("as_of"):
        open_window = date + pd.Timedelta(days=HORIZON) > end
        assert rows[LABEL].isna().all() == open_window
        assert rows[LABEL].notna().all() == (not open_window)
    assert set(ts.labelled_dates) == {d for d in ts.dates if d + pd.Timedelta(days=HORIZON) <= end}
    assert len(ts.labelled_dates) < len(ts.dates)


def test_observation_dates_are_every_n_days_and_each_account_appears_once_per_date(ts):
    gaps = {(b - a).days for a, b in zip(ts.dates, ts.dates[1:])}
    assert gaps == {30}
    assert PROGRESS == [(i + 1, len(ts.dates), d) for i, d in enumerate(ts.dates)]
    assert not ts.frame.duplicated(["account_id", "as_of"]).any()
    assert ts.feature_columns and set(ts.feature_columns) <= set(ts.frame.columns)


def test_the_split_orders_dates_and_closes_training_label_windows_before_validation(ts):
    split = time_split(ts)
    assert max(split.train_dates) < min(split.valid_dates) <= max(split.valid_dates) < min(split.test_dates)
    assert split.test_dates == ts.labelled_dates[-2:]
    assert split.valid_dates == ts.labelled_dates[-4:-2]
    first_valid = min(split.valid_dates)
    assert all(ts.window_end(d) <= first_valid for d in split.train_dates)
    assert all(ts.window_end(d) > first_valid for d in split.dropped_dates)
    assert split.train["as_of"].max() + pd.Timedelta(days=HORIZON) <= split.valid["as_of"].min()
    for part in (split.train, split.valid, split.test):
        assert part[LABEL].notna().all()
    assert split.unlabelled[LABEL].isna().all()


def test_every_row_is_in_exactly_one_part_so_no_account_straddles_train_and_test(ts):
    split = time_split(ts, valid_dates=1, test_dates=1)
    keys = [set(zip(p["account_id"], p["as_of"]))
            for p in (split.train, split.valid, split.test, split.unlabelled)]
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not a & b
    dropped = ts.frame["as_of"].isin(split.dropped_dates).sum()
    assert sum(map(len, keys)) + dropped == len(ts.frame)


def test_a_long_horizon_drops_the_training_dates_it_would_leak_into_validation(tables):
    ts = build_training_set(tables, horizon=60, every=30)
    split = time_split(ts, valid_dates=1, test_dates=1)
    assert split.dropped_dates
    assert all(ts.window_end(d) <= split.valid_dates[0] for d in split.train_dates)


def test_the_fingerprint_hashes_the_inputs_independently_of_row_order(tables, ts):
    shuffled = dataclasses.replace(
        tables, sessions=tables.sessions.sample(frac=1.0, random_state=1),
        accounts=tables.accounts.iloc[::-1],
    )
    assert tables_sha256(shuffled) == ts.fingerprint["inputs_sha256"]
    changed = tables.accounts.copy()
    changed.loc[changed.index[0], "mrr"] = changed["mrr"].iloc[0] + 1
    assert tables_sha256(dataclasses.replace(tables, accounts=changed)) != ts.fingerprint["inputs_sha256"]
    fp = ts.fingerprint
    assert fp["tables"]["sessions"]["rows"] == len(tables.sessions)
    assert fp["churn_base_rate"] == pytest.approx(ts.labelled[LABEL].mean())
    assert fp["observation_dates"] == len(ts.dates)
    assert fp["labelled_rows"] == len(ts.labelled)


def test_too_short_a_history_for_the_horizon_names_the_option(tables):
    with pytest.raises(TrainingSetError, match=r"no observation date has a complete label window.*--horizon"):
        build_training_set(tables, horizon=400, every=30)


def test_data_shorter_than_one_step_names_every(tables):
    with pytest.raises(TrainingSetError, match=r"too short for one observation date.*--every"):
        build_training_set(tables, horizon=30, every=400)


def test_no_churner_at_all_is_an_error_naming_the_horizon(tables):
    never = dataclasses.replace(tables, accounts=tables.accounts.assign(churned_at=pd.NaT))
    with pytest.raises(TrainingSetError, match=r"no observed account churned.*raise --horizon"):
        build_training_set(never, horizon=HORIZON, every=30)


@pytest.mark.parametrize("option", [{"horizon": 0}, {"every": -3}, {"lead": 1.5}])
def test_out_of_range_options_are_rejected_by_name(tables, option):
    name = next(iter(option))
    with pytest.raises(TrainingSetError, match=rf"--{name} must be a whole number of days"):
        build_training_set(tables, **option)


def test_indicator_windows_must_be_positive_days(tables):
    with pytest.raises(TrainingSetError, match=r"windows must be positive whole numbers of days"):
        build_training_set(tables, windows=(30, 0))


def test_too_few_labelled_dates_for_the_split_says_how_many_are_needed(ts):
    with pytest.raises(TrainingSetError, match=r"the split needs at least 9 .* lower --every"):
        time_split(ts, valid_dates=4, test_dates=4)


@pytest.mark.parametrize("part", ["train", "valid"])
def test_a_split_part_without_churners_is_an_error_naming_it(ts, part):
    dates = ts.frame["as_of"]
    rows = dates < ts.labelled_dates[-4] if part == "train" else dates.isin(ts.labelled_dates[-4:-2])
    frame = ts.frame.copy()
    frame.loc[rows & frame[LABEL].notna(), LABEL] = 0.0
    with pytest.raises(TrainingSetError, match=rf"the {part} dates .* hold only survivors"):
        time_split(dataclasses.replace(ts, frame=frame))


def test_a_horizon_that_leaves_no_training_date_before_validation_names_the_options(tables):
    ts = build_training_set(tables, horizon=90, every=30)
    with pytest.raises(TrainingSetError, match=r"no training date is left.*lower --horizon or --every"):
        time_split(ts, valid_dates=2, test_dates=2)


def test_split_counts_must_be_positive(ts):
    with pytest.raises(TrainingSetError, match=r"valid_dates must be a whole number >= 1"):
        time_split(ts, valid_dates=0)


# --- labels only where churn is known --------------------------------------------------


def _stale_churn_export(tables: Tables, days: int) -> Tables:
    """The churn list exported ``days`` before the other tables: later churn is unknown."""
    _, end = data_span(tables)
    cutoff = end - pd.Timedelta(days=days)
    accounts = tables.accounts.copy()
    accounts.loc[accounts["churned_at"] >= cutoff, "churned_at"] = pd.NaT
    return dataclasses.replace(tables, accounts=accounts)


def test_dates_whose_window_passes_the_last_recorded_churn_are_left_unlabelled(tables):
    stale = _stale_churn_export(tables, days=50)
    ts = build_training_set(stale, horizon=HORIZON, every=30)
    last_churn = stale.accounts["churned_at"].max().normalize()
    labels_end = last_churn + pd.Timedelta(days=1)
    data_end = pd.Timestamp(ts.fingerprint["data_end"])
    assert ts.label_end.end == labels_end
    assert "the last recorded churn" in ts.label_end.source
    assert ts.fingerprint["label_end"] == labels_end.isoformat()
    censored = [d for d in ts.dates
                if labels_end < d + pd.Timedelta(days=HORIZON) <= data_end]
    assert censored and ts.fingerprint["censored_dates"] == len(censored)
    for date, rows in ts.frame.groupby("as_of"):
        known = date + pd.Timedelta(days=HORIZON) <= labels_end
        assert rows[LABEL].notna().all() == known
        assert (date in ts.labelled_dates) == known
    # The same data with the churn list up to date labels those dates.
    assert set(censored) <= set(build_training_set(tables, horizon=HORIZON,
                                                   every=30).labelled_dates)


def test_tables_ending_far_apart_give_a_warning_naming_them(tables, ts):
    stale = build_training_set(_stale_churn_export(tables, days=50), horizon=HORIZON, every=30)
    assert len(stale.warnings) == 1
    assert stale.warnings[0].startswith("the tables end ")
    assert "accounts.churned_at on" in stale.warnings[0]
    assert "--labels-until" in stale.warnings[0]
    assert ts.warnings == []  # the demo tables all end within a week


def test_labels_until_sets_the_label_end_and_never_passes_the_data_end(tables):
    ts = build_training_set(tables, horizon=HORIZON, every=30,
                            labels_until=pd.Timestamp("2025-06-15"))
    assert ts.label_end.end == pd.Timestamp("2025-06-16")
    assert ts.label_end.source == "--labels-until 2025-06-15"
    assert max(ts.labelled_dates) + pd.Timedelta(days=HORIZON) <= pd.Timestamp("2025-06-16")
    late = build_training_set(tables, horizon=HORIZON, every=30,
                              labels_until=pd.Timestamp("2031-01-01"))
    assert late.label_end.end == pd.Timestamp(late.fingerprint["data_end"])


def test_labels_until_before_any_complete_window_is_an_error_naming_the_option(tables):
    with pytest.raises(TrainingSetError, match="churn is known until 2025-01-20.*--labels-until"):
        build_training_set(tables, horizon=HORIZON, every=30,
                           labels_until=pd.Timestamp("2025-01-20"))
