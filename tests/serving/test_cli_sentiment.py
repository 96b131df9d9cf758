"""``customer-health sentiment fit`` and ``score`` through the real CLI, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.demo_data import write_demo_data
from serving.cli import app

runner = CliRunner()
SNAPPFOOD = Path(__file__).resolve().parents[3] / "shared" / "data" / "snappfood" / "snappfood_comments.csv"


@pytest.fixture(scope="module")
def demo_surveys(tmp_path_factory) -> Path:
    """Demo survey answers with enough Arabic and Persian comments to learn from."""
    folder = tmp_path_factory.mktemp("sentiment_demo")
    write_demo_data(folder, accounts=20_000, months=18, seed=5)
    return folder / "surveys.csv"


def _figures(output: str, language: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.strip("│ ").startswith(language))
    return [cell.strip() for cell in line.strip("│").split("│")]


@pytest.mark.skipif(not SNAPPFOOD.is_file(), reason="the shared Persian reviews are not here")
def test_fit_on_persian_delivery_reviews_reports_held_out_figures_and_saves_the_model(tmp_path):
    sample = pd.read_csv(SNAPPFOOD).sample(4000, random_state=0)
    sample.to_csv(tmp_path / "reviews.csv", index=False)
    out = tmp_path / "fa.json"
    result = runner.invoke(app, ["sentiment", "fit", str(tmp_path / "reviews.csv"), "--text", "text",
                                 "--label", "label", "--language", "fa", "--folds", "3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    cells = _figures(result.output, "fa (Persian)")
    accuracy, macro_f1, auc = (float(c) for c in cells[3:6])
    assert macro_f1 >= 0.80 and auc >= 0.85 and cells[6] == "yes"
    assert set(json.loads(out.read_text())["models"]) == {"fa"}

    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["sentiment", "score", str(tmp_path / "reviews.csv"), "--text", "text",
                                 "--models", str(out), "--out", str(scored)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(scored)
    persian = frame["comment_language"] == "fa"
    assert persian.mean() > 0.95 and (frame.loc[persian, "comment_method"] == "learnt").all()
    assert frame.loc[persian, "comment_polarity"].between(-1, 1).all()


def test_fit_on_demo_arabic_survey_comments_works_with_the_survey_scales(demo_surveys, tmp_path):
    frame = pd.read_csv(demo_surveys, dtype=str, keep_default_na=False)
    arabic = frame[frame["comment"].str.contains("[\u0600-\u06ff]") & ~frame["comment"].str.contains("[پچژگی]")]
    arabic.to_csv(tmp_path / "arabic.csv", index=False)
    result = runner.invoke(app, ["sentiment", "fit", str(tmp_path / "arabic.csv"), "--text", "comment",
                                 "--label", "score", "--survey", "survey", "--min-examples", "150"])
    assert result.exit_code == 0, result.output
    cells = _figures(result.output, "ar (Arabic)")
    assert float(cells[4]) >= 0.75 and float(cells[5]) >= 0.80 and cells[6] == "yes"


def test_score_without_models_reads_english_only_and_says_which_languages_were_not_read(tmp_path):
    pd.DataFrame({"comment": ["Great support, thanks!", "Chegou antes do prazo.",
                              "Nao recomendo, toner não é original", "", "الخدمة ممتازة وسريعة"]}
                 ).to_csv(tmp_path / "c.csv", index=False)
    result = runner.invoke(app, ["sentiment", "score", str(tmp_path / "c.csv"), "--out",
                                 str(tmp_path / "s.parquet")])
    assert result.exit_code == 0, result.output
    assert "polarity models: none (English only)" in result.output
    assert _figures(result.output, "pt (Portuguese)")[1:5] == ["2", "0", "none", "100%"]
    scored = pd.read_parquet(tmp_path / "s.parquet")
    pt = scored["comment_language"] == "pt"
    assert scored.loc[pt, "comment_polarity"].isna().all()  # never 0.0
    assert scored.loc[~pt & scored["comment_supported"].fillna(False).astype(bool),
                      "comment_method"].tolist() == ["textblob"]


@pytest.mark.parametrize("args, message", [
    (["--text", "texto", "--label", "label"], "has no column 'texto' (--text); its columns are: text, label"),
    (["--text", "text", "--label", "label", "--language", "persian"], "must be an ISO 639-1 code"),
    (["--text", "text", "--label", "stars"], "has no column 'stars' (--label)"),
])
def test_fit_refuses_bad_options_with_exit_code_2(tmp_path, args, message):
    pd.DataFrame({"text": ["a b", "c d"], "label": ["1", "0"]}).to_csv(tmp_path / "l.csv", index=False)
    result = runner.invoke(app, ["sentiment", "fit", str(tmp_path / "l.csv"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_labels_that_are_not_two_classes_are_refused_with_the_rows(tmp_path):
    pd.DataFrame({"text": ["good", "bad", "meh"], "label": ["1", "0", "maybe"]}).to_csv(
        tmp_path / "l.csv", index=False)
    result = runner.invoke(app, ["sentiment", "fit", str(tmp_path / "l.csv"), "--text", "text",
                                 "--label", "label"])
    assert result.exit_code == 2
    assert "1 label(s) read as neither positive nor negative (row 2: 'maybe')" in " ".join(result.output.split())


def test_score_refuses_a_file_that_is_not_a_model_file(tmp_path):
    pd.DataFrame({"comment": ["good"]}).to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "m.json").write_text('{"models": {"fa": {"format_version": 7}}}')
    result = runner.invoke(app, ["sentiment", "score", str(tmp_path / "c.csv"), "--models",
                                 str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "is not a polarity model file" in result.output
