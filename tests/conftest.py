"""Shared fixtures: a small fixed set of tables and a small generated demo base.

``small_raw_tables`` is what a user's CSV files look like after reading (text timestamps,
canonical column names); every test gets fresh copies it may change. ``demo_*`` fixtures
are generated once per test session from :data:`DEMO_KWARGS`. ``postgres`` is a throwaway
PostgreSQL cluster (``tests/pg_cluster.py``) started once per session, ``pg_url`` a fresh
database in it for one test.
"""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pytest

from features.contract import Tables, validate_tables
from features.demo_data import generate_demo_data, write_demo_data
from features.problems import ValidationReport

# Big enough for stable averages (about 600 accounts, 90 of them churning), small enough
# to generate and validate in well under a second.
DEMO_KWARGS = dict(accounts=600, months=12, seed=7)


def make_small_raw_tables() -> dict[str, pd.DataFrame]:
    """Three accounts (one churned) with a few rows in every table; all rules hold."""
    accounts = pd.DataFrame({
        "account_id": ["A1", "A2", "A3"],
        "signup_date": ["2024-01-15", "2024-06-01", "2025-01-10"],
        "churned_at": [None, "2025-02-15T12:00:00", None],
        "segment": ["SMB", "Mid-Market", "Enterprise"],
        "region": ["Europe", "Middle East", "North America"],
        "plan": ["Starter", "Growth", "Enterprise"],
        "mrr": [300.0, 2500.0, 15000.0],
        "acquisition_cost": [1200.0, 9000.0, 60000.0],
        "renewal_date": ["2026-01-15", "2025-06-01", "2026-01-10"],
    })
    sessions = pd.DataFrame({
        "account_id": ["A1", "A1", "A2", "A3", "A3"],
        "user_id": ["U1", "U2", "U3", "U4", "U4"],
        "started_at": ["2025-01-05T09:00:00", "2025-01-20T10:30:00", "2025-02-01T08:00:00",
                       "2025-02-03T14:00:00", "2025-03-01T16:45:00"],
        "duration_seconds": [600.0, 300.0, 120.0, 900.0, 450.0],
        "page_views": [12, 4, 2, 20, 7],
        "converted": [True, False, False, True, False],
    })
    tickets = pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3"],
        "account_id": ["A1", "A2", "A3"],
        "channel": ["email", "chat", "phone"],
        "created_at": ["2025-01-06T09:00:00", "2025-02-02T10:00:00", "2025-02-10T11:00:00"],
        "first_response_at": ["2025-01-06T10:00:00", "2025-02-02T10:05:00", None],
        "resolved_at": ["2025-01-07T09:00:00", None, None],
        "reopened_count": [0, 1, 0],
    })
    orders = pd.DataFrame({
        "order_id": ["O1", "O2", "O3"],
        "account_id": ["A1", "A1", "A3"],
        "ordered_at": ["2025-01-10T12:00:00", "2025-02-10T12:00:00", "2025-02-15T12:00:00"],
        "amount": [100.0, 250.0, 4000.0],
        "items": [2, 5, 10],
    })
    returns = pd.DataFrame({
        "order_id": ["O1", "O3"],
        "returned_at": ["2025-01-20T12:00:00", "2025-03-01T12:00:00"],
        "items": [1, 3],
        "amount": [50.0, 1200.0],
    })
    surveys = pd.DataFrame({
        "response_id": ["R1", "R2", "R3", "R4", "R5"],
        "account_id": ["A1", "A1", "A2", "A3", "A3"],
        "survey": ["nps", "csat", "nps", "ces", "csat"],
        "score": [9.0, 4.0, 3.0, 2.0, 5.0],
        "responded_at": ["2025-01-08T09:00:00", "2025-01-08T09:05:00", "2025-02-05T10:00:00",
                         "2025-02-11T12:00:00", "2025-03-02T08:00:00"],
        "channel": ["email", "in-app", "email", "phone", "in-app"],
        "touchpoint": ["relationship", "support ticket", "relationship", "support ticket",
                       "onboarding"],
        "comment": ["The dashboard is excellent.", None, "Support is slow and frustrating.",
                    "الدعم الفني بطيء جداً", "Great onboarding, thanks!"],
    })
    return {
        "accounts": accounts, "sessions": sessions, "tickets": tickets,
        "orders": orders, "returns": returns, "surveys": surveys,
    }


@pytest.fixture
def small_raw_tables() -> dict[str, pd.DataFrame]:
    """Fresh copies of the small fixed tables, as read from CSV (text timestamps)."""
    return make_small_raw_tables()


@pytest.fixture(scope="session")
def small_tables() -> Tables:
    """The small fixed tables, validated (do not modify: shared by the session)."""
    tables, _ = validate_tables(make_small_raw_tables())
    return tables


@pytest.fixture(scope="session")
def demo_kwargs() -> dict:
    """The arguments of ``generate_demo_data`` behind the ``demo_*`` fixtures."""
    return dict(DEMO_KWARGS)


@pytest.fixture(scope="session")
def demo_raw() -> dict[str, pd.DataFrame]:
    """Generated demo tables from :data:`DEMO_KWARGS` (do not modify)."""
    return generate_demo_data(**DEMO_KWARGS)


@pytest.fixture(scope="session")
def demo_validated(demo_raw) -> tuple[Tables, ValidationReport]:
    return validate_tables(demo_raw)


@pytest.fixture(scope="session")
def demo_tables(demo_validated) -> Tables:
    """The generated demo tables, validated (do not modify)."""
    return demo_validated[0]


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> str:
    """A folder of small generated CSV tables (do not write into it)."""
    folder = tmp_path_factory.mktemp("demo") / "tables"
    write_demo_data(folder, fmt="csv", accounts=120, months=6, seed=3)
    return folder


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster, stopped and removed at the end of the session.

    Skipped only where the PostgreSQL binaries are absent; under CI (``CI`` set) their
    absence is a failure, as ``.ci/run`` installs them (tests/install_postgresql.sh).
    """
    import pg_cluster

    if pg_cluster.binaries() is None:
        message = ("PostgreSQL binaries not found (/usr/lib/postgresql/*/bin/initdb); install "
                   "Debian's postgresql package: sh tests/install_postgresql.sh")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cluster = pg_cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres) -> str:
    """The URL (password included) of a new, empty database of the session's cluster."""
    return postgres.create_database(f"test_{uuid.uuid4().hex[:12]}")
