"""Everywhere the comment tone shows, it says which languages were read, how, and what not."""

from __future__ import annotations

from typer.testing import CliRunner

from models.registry import load_model
from serving.batch import run_batch
from serving.cli import app
from serving.service import CustomerHealth

runner = CliRunner()


def test_the_trained_model_carries_the_polarity_of_its_training_data(registry):
    loaded = load_model()
    models = loaded.polarity_models
    assert models is not None and models.examples_before is not None
    # 300 demo accounts write too few Arabic and Persian comments to learn from: the
    # reasons are stored with the model instead of a guess.
    assert set(models.rejected) >= {"ar", "fa"}
    assert all("per side needed" in reason for reason in models.rejected.values())


def test_the_service_lists_the_comment_languages_stored_with_the_model(registry):
    info = CustomerHealth().model_info()
    by_language = {row.language: row for row in info.comment_languages}
    assert by_language["ar"].method == "none" and "per side needed" in by_language["ar"].reason


def test_the_batch_metadata_says_which_languages_were_read_and_how(registry, as_of, tmp_path):
    result = run_batch(registry.demo, as_of, tmp_path / "scores.parquet")
    languages = {row["language"]: row for row in result.metadata["comment_languages"]}
    assert languages["en"]["method"] == "textblob" and languages["en"]["unsupported_share"] == 0
    assert languages["ar"]["method"] == "none" and languages["ar"]["unsupported_share"] == 1.0
    assert "per side needed" in languages["ar"]["reason"]


def test_the_features_command_prints_the_languages_of_the_comments(serving_demo_folder, tmp_path):
    result = runner.invoke(app, ["features", str(serving_demo_folder), "--as-of", "2025-12-01",
                                 "--out", str(tmp_path / "f.parquet")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Comment tone: languages of the comments before --as-of" in text
    assert "en (English)" in text and "TextBlob" in text and "ar (Arabic)" in text
