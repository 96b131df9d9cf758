"""The demo-data generator: reproducible, valid, and realistic where the model looks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from textblob import TextBlob

from features.contract import TABLE_NAMES, validate_tables
from features.demo_data import generate_demo_data, write_demo_data
from features.io import load_tables

TINY = dict(accounts=60, months=3)
ACTIVITY = {"sessions": "started_at", "tickets": "created_at", "orders": "ordered_at",
            "surveys": "responded_at"}


def file_bytes(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# --- reproducibility -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_same_seed_gives_byte_identical_files(tmp_path, fmt):
    write_demo_data(tmp_path / "first", fmt=fmt, seed=5, **TINY)
    write_demo_data(tmp_path / "second", fmt=fmt, seed=5, **TINY)
    first, second = file_bytes(tmp_path / "first"), file_bytes(tmp_path / "second")
    assert sorted(first) == sorted(f"{name}.{fmt}" for name in TABLE_NAMES)
    assert first == second


def test_another_seed_gives_other_data(tmp_path):
    write_demo_data(tmp_path / "five", seed=5, **TINY)
    write_demo_data(tmp_path / "six", seed=6, **TINY)
    five, six = file_bytes(tmp_path / "five"), file_bytes(tmp_path / "six")
    assert all(five[name] != six[name] for name in five)


def test_dates_come_from_start_and_months_not_from_the_clock():
    tables = generate_demo_data(start="2023-03-01", **TINY)
    sessions = tables["sessions"]["started_at"]
    assert sessions.min() >= pd.Timestamp("2023-03-01")
    assert sessions.max() < pd.Timestamp("2023-06-01")
    new = tables["accounts"]["signup_date"] >= pd.Timestamp("2023-03-01")
    assert tables["accounts"].loc[new, "signup_date"].max() < pd.Timestamp("2023-06-01")


def test_timestamps_are_whole_seconds_so_csv_keeps_them_exactly(demo_raw):
    for table, column in ACTIVITY.items():
        stamps = demo_raw[table][column]
        assert (stamps == stamps.dt.floor("s")).all(), table


# --- validity --------------------------------------------------------------------------


def test_generated_data_passes_the_contract_without_warnings(demo_validated):
    tables, report = demo_validated
    assert report.problems == ()
    assert set(tables.present()) == set(TABLE_NAMES)


def test_generated_csv_folder_loads_and_validates(demo_folder):
    tables, report = load_tables(demo_folder)
    assert report.ok and len(tables.accounts) == 120


def test_no_activity_before_signup_or_after_churn(demo_tables):
    accounts = demo_tables.accounts.set_index("account_id")
    for table, column in ACTIVITY.items():
        frame = getattr(demo_tables, table)
        when = frame[column]
        assert (when >= frame["account_id"].map(accounts["signup_date"])).all(), table
        churned_at = frame["account_id"].map(accounts["churned_at"])
        assert not (when > churned_at).any(), table
    returns = demo_tables.returns.merge(demo_tables.orders, on="order_id", suffixes=("", "_order"))
    assert not (returns["returned_at"] > returns["account_id"].map(accounts["churned_at"])).any()


def test_the_generator_rejects_impossible_arguments():
    with pytest.raises(ValueError, match=r"accounts must be at least 1, got 0"):
        generate_demo_data(accounts=0)
    with pytest.raises(ValueError, match=r"months must be at least 1, got 0"):
        generate_demo_data(months=0)
    with pytest.raises(ValueError, match=r"start must be an ISO date such as 2025-01-01, got 'soon'"):
        generate_demo_data(start="soon")
    with pytest.raises(ValueError, match=r"fmt must be one of csv, parquet, got 'xlsx'"):
        write_demo_data("unused", fmt="xlsx")


def test_a_single_account_over_one_month_still_works():
    tables = generate_demo_data(accounts=1, months=1, seed=2)
    validate_tables(tables)
    assert len(tables["accounts"]) == 1


# --- realism ---------------------------------------------------------------------------


def test_segments_regions_plans_and_new_signups_are_all_present(demo_tables):
    accounts = demo_tables.accounts
    assert set(accounts["segment"]) == {"SMB", "Mid-Market", "Enterprise"}
    assert accounts["region"].nunique() == 5 and accounts["plan"].nunique() == 4
    shares = accounts["segment"].value_counts(normalize=True)
    assert shares["SMB"] > shares["Mid-Market"] > shares["Enterprise"]
    by_segment = accounts.groupby("segment")["mrr"].median()
    assert by_segment["SMB"] < by_segment["Mid-Market"] < by_segment["Enterprise"]
    start = pd.Timestamp("2025-01-01")
    assert 0.25 < (accounts["signup_date"] >= start).mean() < 0.55


def test_churn_is_common_but_not_universal(demo_tables):
    churned = demo_tables.accounts["churned_at"].notna().mean()
    assert 0.08 < churned < 0.35


def test_realistic_gaps_are_present(demo_tables):
    accounts, surveys, tickets = demo_tables.accounts, demo_tables.surveys, demo_tables.tickets
    never_answered = ~accounts["account_id"].isin(surveys["account_id"])
    assert never_answered.mean() > 0.15
    assert 0.01 < tickets["resolved_at"].isna().mean() < 0.3
    # Users who go quiet: seen in the first months, never in the last two.
    sessions = demo_tables.sessions
    end = sessions["started_at"].max()
    last_seen = sessions.groupby("user_id")["started_at"].max()
    assert (last_seen < end - pd.Timedelta(days=60)).mean() > 0.05


def test_scores_use_the_whole_scales(demo_tables):
    surveys = demo_tables.surveys
    scores = surveys.groupby("survey")["score"].agg(["min", "max"])
    assert scores.loc["nps", "min"] <= 1 and scores.loc["nps", "max"] == 10
    assert scores.loc["csat"].tolist() == [1, 5] and scores.loc["ces"].tolist() == [1, 5]


def test_comments_are_varied_and_some_are_arabic_or_persian(demo_tables):
    comments = demo_tables.surveys["comment"].dropna()
    assert comments.nunique() > 0.6 * len(comments)
    non_latin = comments.str.contains("[\u0600-\u06ff]", regex=True)
    # Mostly English; about a fifth Arabic or Persian (a third of the accounts are in the
    # Middle East, and most of them write in Arabic or Persian).
    assert 0.1 < non_latin.mean() < 0.35
    persian = comments.str.contains("[پچژگی]", regex=True)  # letters Arabic does not use
    assert persian.any() and (non_latin & ~persian).any()


def test_comment_tone_follows_satisfaction(demo_tables):
    surveys = demo_tables.surveys
    english = surveys[surveys["comment"].notna() & ~surveys["comment"].str.contains("[\u0600-\u06ff]")]
    nps = english[english["survey"].eq("nps")]
    polarity = nps["comment"].map(lambda text: TextBlob(text).sentiment.polarity)
    promoters, detractors = polarity[nps["score"] >= 9], polarity[nps["score"] <= 6]
    assert promoters.mean() > 0.2 and detractors.mean() < 0.0


def per_account_summary(tables) -> pd.DataFrame:
    """Engagement and satisfaction per account over the days it was a customer."""
    accounts = tables.accounts.set_index("account_id")
    start = pd.Timestamp("2025-01-01")
    end = tables.sessions["started_at"].max()
    first = accounts["signup_date"].clip(lower=start)
    last = accounts["churned_at"].fillna(end).clip(upper=end)
    days = (last - first).dt.total_seconds() / 86_400
    sessions = tables.sessions.groupby("account_id").size().reindex(accounts.index, fill_value=0)
    surveys = tables.surveys
    scaled = surveys["score"] / np.where(surveys["survey"].eq("nps"), 10, 5)
    satisfaction = scaled.groupby(surveys["account_id"]).mean().reindex(accounts.index)
    tickets = tables.tickets.groupby("account_id").size().reindex(accounts.index, fill_value=0)
    return pd.DataFrame({
        "churned": accounts["churned_at"].notna(),
        "sessions_per_day": sessions / days,
        "tickets_per_day": tickets / days,
        "satisfaction": satisfaction,
    })[days >= 14]


def test_churners_have_lower_engagement_and_satisfaction_on_average(demo_tables):
    summary = per_account_summary(demo_tables)
    means = summary.groupby("churned").mean()
    assert means.loc[True, "sessions_per_day"] < 0.7 * means.loc[False, "sessions_per_day"]
    assert means.loc[True, "satisfaction"] < means.loc[False, "satisfaction"] - 0.03
    assert means.loc[True, "tickets_per_day"] > means.loc[False, "tickets_per_day"]


def test_renewal_dates_follow_the_contract_terms(demo_tables, demo_kwargs):
    accounts = demo_tables.accounts
    term_days = (accounts["renewal_date"] - accounts["signup_date"]).dt.days
    assert ((term_days % 365 == 0) | (term_days % 30 == 0)).all()
    end = pd.Timestamp("2025-01-01") + pd.DateOffset(months=demo_kwargs["months"])
    active = accounts["churned_at"].isna()
    assert (accounts.loc[active, "renewal_date"] >= end).all()
