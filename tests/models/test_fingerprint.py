"""Data fingerprints: one hash helper, and digests that stay what stored runs recorded."""

from __future__ import annotations

import pandas as pd

from features.contract import Tables
from models.fingerprint import frames_sha256
from models.flat_table import prepare_flat_table
from models.training_set import tables_sha256

ACCOUNTS = pd.DataFrame({"account_id": ["a", "b"], "mrr": [10.0, 20.0]})
FLAT = pd.DataFrame({"id": ["a", "b", "c", "d"], "plan": ["x", "y", "x", "y"],
                     "Churn": ["Yes", "No", "No", "Yes"]})


def test_tables_keep_the_digest_the_demo_matches_its_trained_model_by():
    assert tables_sha256(Tables(accounts=ACCOUNTS)) == (
        "d774243289d9c518051fdefad79097a43c5e8d4e918935d25f9407bc392c4406")


def test_a_flat_table_keeps_the_digest_its_runs_logged_as_data_hash():
    table = prepare_flat_table(FLAT, label="Churn", id_column="id")
    assert table.fingerprint["hash"] == frames_sha256(FLAT) == (
        "4b92362ec25db1a8d5e411880da6f077a166fdb3f769a40eb692808951834903")


def test_named_frames_ignore_row_and_column_order_only_when_asked():
    shuffled = ACCOUNTS.iloc[::-1][["mrr", "account_id"]]
    assert frames_sha256({"accounts": ACCOUNTS}, any_row_order=True) == frames_sha256(
        {"accounts": shuffled}, any_row_order=True)
    assert frames_sha256({"accounts": ACCOUNTS}) != frames_sha256({"accounts": shuffled})


def test_the_index_counts_only_when_asked():
    moved = ACCOUNTS.set_axis([7, 8])
    assert frames_sha256(ACCOUNTS) == frames_sha256(moved)
    assert frames_sha256(ACCOUNTS, index=True) != frames_sha256(moved, index=True)
