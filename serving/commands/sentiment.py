"""``sentiment fit`` and ``sentiment score``: a polarity from your own labelled comments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from features.io import FORMATS, write_atomically, write_frame
from features.languages import language_name
from features.polarity import (
    FOLDS,
    MIN_AUC,
    MIN_EXAMPLES,
    PolarityInputError,
    PolarityModels,
)
from serving.errors import InvalidInput, report_errors

FIT_HELP = (
    "Fit a comment polarity per language from a file of labelled comments and report its "
    "held-out accuracy, macro F1 and ROC AUC.\n\n"
    "Each language with at least --min-examples comments on each side gets a character "
    "n-gram (+ word) TF-IDF logistic regression; it is kept only when its cross-validated "
    "ROC AUC reaches --min-auc. Held-out figures are out of fold: every comment is scored by "
    "a model fitted without it. Languages are identified per comment unless --language is "
    "given. --out saves the models as JSON (plain data, nothing runs on load) for "
    "`sentiment score --models`."
)
FIT_EPILOG = (
    "Examples:\n\n"
    "  customer-health sentiment fit reviews.csv --text comment --label stars_ok\n\n"
    "  customer-health sentiment fit comentarios.csv --text texto --label nota --positive bom "
    "--language pt --out pt-polarity.json\n\n"
    "  customer-health sentiment fit demo/surveys.csv --text comment --label score --survey survey\n\n"
    "Labels: 1/0, true/false or positive/negative, or name the positive value with --positive; "
    "with --survey, CSAT satisfied vs dissatisfied, NPS promoter vs detractor, CES easy vs hard "
    "(the answers in between are left out). "
    "Exit codes: 0 done, 2 invalid input."
)
SCORE_HELP = (
    "Score the comments of a file: language (ISO 639-1 or und), the method that read each "
    "one (textblob for English, learnt for languages with a model) and its polarity -1..1, or "
    "why it could not be read. Prints per language how many comments were read and the share "
    "left unsupported."
)
SCORE_EPILOG = (
    "Examples:\n\n"
    "  customer-health sentiment score surveys.csv --out scored.csv\n\n"
    "  customer-health sentiment score reviews.parquet --text review --models pt-polarity.json\n\n"
    "  customer-health sentiment score surveys.csv --model-uri models:/customer-health-churn@champion\n\n"
    "Without --models or --model-uri only English (and emoticons) are read; other languages "
    "are reported unsupported, never neutral."
)

app = typer.Typer(help="Comment polarity in any language: fit it from labelled comments, score files.",
                  no_args_is_help=True)


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120
    return console


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file: give a CSV or Parquet file of comments")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    raise InvalidInput(f"{path.name} is neither CSV nor Parquet: save it as .csv or .parquet")


def _figure(value: float, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _status(console: Console, message: str):
    return console.status(message) if console.is_terminal else _Quiet()


class _Quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, message: str) -> None:
        return None


def fit(
    file: Path = typer.Argument(..., help="CSV or Parquet file of labelled comments."),
    text: str = typer.Option(..., "--text", help="The column holding the comment."),
    label: str = typer.Option(..., "--label", help="The column holding its label."),
    language: str | None = typer.Option(
        None, "--language", help="ISO 639-1 code of every comment (identified per comment if omitted)."),
    positive: str | None = typer.Option(None, "--positive", help="The label value meaning positive."),
    survey: str | None = typer.Option(
        None, "--survey", help="Survey answers: the column naming csat/nps/ces; --label is then the score."),
    min_examples: int = typer.Option(MIN_EXAMPLES, "--min-examples", help="Comments needed on each side."),
    min_auc: float = typer.Option(MIN_AUC, "--min-auc", help="Cross-validated ROC AUC a model needs to be kept."),
    folds: int = typer.Option(FOLDS, "--folds", help="Cross-validation folds (at least 2)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Save the kept models as JSON."),
) -> None:
    """Fit a polarity per language from labelled comments; report held-out figures."""
    with report_errors():
        from features.labelled_comments import fit_and_evaluate, read_labelled

        if language is not None and (len(language) != 2 or not language.isalpha()):
            raise InvalidInput(f"--language {language!r} must be an ISO 639-1 code such as pt, fa or ar")
        if folds < 2:
            raise InvalidInput(f"--folds must be 2 or more, got {folds}")
        if min_examples < 1:
            raise InvalidInput(f"--min-examples must be 1 or more, got {min_examples}")
        if out is not None and out.suffix.lower() != ".json":
            raise InvalidInput(f"--out {out} must end in .json")
        console = _console()
        try:
            if survey is not None and positive is not None:
                raise InvalidInput("--positive applies to a label column, not to --survey scores")
            labelled = read_labelled(_read(file), text=text, label=label, positive=positive,
                                     survey=survey, source=file.name)
            with _status(console, "reading the comments") as status:
                result = fit_and_evaluate(labelled, language=language and language.lower(),
                                          min_examples=min_examples, min_auc=min_auc, folds=folds,
                                          source=file.name, progress=status.update)
        except PolarityInputError as exc:
            raise InvalidInput(str(exc)) from exc
        _print_fit(console, file, result, folds)
        if out is not None:
            write_atomically(out, lambda tmp: tmp.write_text(
                json.dumps(result.models.to_dict()), encoding="utf-8"))
            console.print(f"models of {', '.join(sorted(result.models.models)) or 'no language'} "
                          f"saved to {out}")


def _print_fit(console: Console, file: Path, result, folds: int) -> None:
    table = Table(title=f"{file.name}: held-out figures ({folds}-fold, out of fold)",
                  title_justify="left")
    for header in ("language", "positive", "negative", "accuracy", "macro F1", "ROC AUC", "kept"):
        table.add_column(header, justify="left" if header in ("language", "kept") else "right")
    for row in result.results:
        table.add_row(f"{row.language} ({language_name(row.language)})", f"{row.positives:,}",
                      f"{row.negatives:,}", _figure(row.accuracy), _figure(row.macro_f1),
                      _figure(row.roc_auc), "yes" if row.used else f"no: {row.note}")
    console.print(table)
    undetermined = int((result.languages == "und").sum())
    if undetermined:
        console.print(f"{undetermined:,} comment(s) in no language that could be told were left out")


def _models(models: Path | None, model_uri: str | None) -> tuple[PolarityModels | None, str]:
    if models is not None and model_uri is not None:
        raise InvalidInput("give --models or --model-uri, not both")
    if models is not None:
        if not models.is_file():
            raise InvalidInput(f"--models {models} is not a file: save one with `sentiment fit --out`")
        try:
            return PolarityModels.from_dict(json.loads(models.read_text(encoding="utf-8"))), str(models)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"--models {models} is not a polarity model file: {exc}") from exc
    if model_uri is not None:
        from models.registry import NoModelError, load_model

        try:
            loaded = load_model(model_uri)
        except NoModelError as exc:
            raise InvalidInput(str(exc)) from exc
        if loaded.polarity_models is None:
            raise InvalidInput(f"{model_uri} was trained without comment polarity models; "
                               "retrain it on tables with survey comments, or use --models")
        return loaded.polarity_models, model_uri
    return None, "none (English only)"


def score(
    file: Path = typer.Argument(..., help="CSV or Parquet file of comments."),
    text: str = typer.Option("comment", "--text", help="The column holding the comment."),
    models: Path | None = typer.Option(None, "--models", help="Polarity models saved by `sentiment fit --out`."),
    model_uri: str | None = typer.Option(
        None, "--model-uri", help="Use the polarity stored with this churn model, e.g. models:/customer-health-churn@champion."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the file with the score columns added (.csv or .parquet)."),
) -> None:
    """Score the comments of a file: language, method, polarity."""
    with report_errors():
        from features.sentiment import language_summary, score_comments, short_reason

        if out is not None and out.suffix.lstrip(".").lower() not in FORMATS:
            raise InvalidInput(f"--out {out} must end in .csv or .parquet")
        frame = _read(file)
        if text not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:12]))
            raise InvalidInput(f"{file.name} has no column {text!r} (--text); its columns are: {shown}")
        polarity, source = _models(models, model_uri)
        console = _console()
        with _status(console, "reading the comments"):
            scores = score_comments(frame[text].reset_index(drop=True), polarity)
        summary = language_summary(scores)
        table = Table(title=f"{file.name}: comments per language (polarity models: {source})",
                      title_justify="left")
        for header in ("language", "comments", "read", "method", "unsupported", "why not read"):
            table.add_column(header, justify="right" if header in ("comments", "read", "unsupported") else "left")
        for code, row in summary.iterrows():
            table.add_row(f"{code} ({row['name']})", f"{row['comments']:,}", f"{row['read']:,}",
                          row["method"], f"{row['unsupported_share']:.0%}", short_reason(row["reason"]))
        console.print(table)
        read = scores["supported"].fillna(False).astype(bool)
        if read.any():
            console.print(f"mean polarity of the {int(read.sum()):,} comments read: "
                          f"{scores.loc[read, 'polarity'].mean():+.2f}")
        if out is not None:
            written = pd.concat([frame.reset_index(drop=True), scores.add_prefix("comment_")], axis=1)
            write_frame(written, out)
            console.print(f"wrote {len(written):,} rows to {out}")


def register(root: typer.Typer) -> None:
    """Add ``sentiment fit`` and ``sentiment score`` to the CLI."""
    app.command("fit", help=FIT_HELP, epilog=FIT_EPILOG)(fit)
    app.command("score", help=SCORE_HELP, epilog=SCORE_EPILOG)(score)
    root.add_typer(app, name="sentiment")
