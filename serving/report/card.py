"""The report's last section: the churn model's card, from what the registry reads.

:func:`model_card` turns :func:`models.registry.model_card_data` into the texts the card shows
(or the reason there is no card); :func:`model_section` lays it out as blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.values import is_missing
from models.evaluation import model_name
from serving.metric_text import format_value
from serving.report.document import Block, Image, ReportError, Table, Text


@dataclass
class ModelCard:
    """What the report shows about the churn model, read from its MLflow run."""

    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    trained_at: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)  # artifact path -> PNG
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # artifact path -> table
    reason: str | None = None  # why there is no card


def model_card(model: Any, *, tracking_uri: str | None = None) -> ModelCard:
    """Read the model card of ``model`` from MLflow.

    Parameters
    ----------
    model
        A loaded model (anything with ``run_id``, ``name``, ``version`` attributes, such as
        :class:`models.registry.LoadedModel`), a ``models:/NAME@ALIAS`` or
        ``models:/NAME/VERSION`` URI, or None (no card).
    tracking_uri
        MLflow tracking URI; the current one when None.

    Returns
    -------
    ModelCard
        With ``reason`` set and nothing else when the model cannot be found.

    Raises
    ------
    ReportError
        When ``model`` is a URI that names no registered version (``runs:/...``).
    """
    if model is None:
        return ModelCard(reason="no model given: pass --model or score with a registered model")
    # MLflow takes seconds to import; only a card needs it.
    from models.registry import ModelURIError, NoModelError, model_card_data

    try:
        data = model_card_data(model, tracking_uri=tracking_uri)
    except ModelURIError as exc:
        raise ReportError(str(exc)) from exc
    except NoModelError as exc:
        return ModelCard(reason=str(exc))
    if data.run_id is None:
        return ModelCard(data.name, data.version, data.alias,
                         reason="the model has no MLflow run to read its evaluation from")
    trained_at = getattr(model, "trained_at", None)  # a loaded model knows it already
    return ModelCard(
        data.name, data.version, data.alias, data.run_id,
        trained_at=str(trained_at) if trained_at else f"{data.trained_at:%Y-%m-%d %H:%M UTC}",
        metrics=data.metrics, params=data.params, tags=data.tags, images=data.images, tables=data.tables,
    )


# The trainer logs the chosen model's out-of-time metrics as ``test_<metric>``; the last
# field is the digits shown, or "%" for a share shown as a percentage (as everywhere else).
CARD_METRICS = (
    ("test_roc_auc", "ROC AUC", "how well it ranks churners above the others: 0.5 is chance, 1 is perfect", 3),
    ("test_pr_auc", "PR AUC", "precision across recall levels; compare with the base churn rate", 3),
    ("test_lift_top10", "lift in the riskiest 10%", "how many times the average churn rate the top 10% show", 2),
    ("test_recall_top10", "churners found in the riskiest 10%", "share of all churners a top-10% call list reaches", "%"),
    ("test_brier", "Brier score", "mean squared error of the probabilities: lower is better", 4),
    ("test_base_rate", "base churn rate", "share of accounts that churned within the horizon", "%"),
    ("test_rows", "accounts × dates tested", "labelled rows of the out-of-time test", 0),
)

# The three ROC AUCs of a run that show drift between the hand-made scorecard and the data.
DRIFT_METRICS = (("test_roc_auc", "churn model"), ("health_score_test_roc_auc", "current scorecard"),
                 ("health_score_suggested_test_roc_auc", "scorecard suggested from the data"))

_TABLE_CAPTIONS = {
    "comparison": "Every model compared on the same out-of-time test.",
    "churn_rate_by_health_band": "Churn rate by health band on the test dates: is red really riskier than green?",
    "churn_rate_by_risk_band": "Churn rate by the model's risk band on the test dates.",
    "input_selection": "The indicators the model learns from: shuffling each on the validation "
                       "dates shows whether it lowered the log loss (importance above 0); "
                       "those that did not were left out.",
}


def _card_metric_rows(metrics: dict) -> list[dict]:
    rows = []
    for key, label, meaning, digits in CARD_METRICS:
        value = metrics.get(key)
        shown = (format_value(None if is_missing(value) else 100 * value, unit="%", digits=1,
                              reason="not logged by the trainer") if digits == "%"
                 else format_value(value, digits=digits, reason="not logged by the trainer"))
        rows.append(
            {
                "measure": label,
                "value": shown,
                "how to read it": meaning,
            }
        )
    return rows


def _is_share(column: str) -> bool:
    """Whether an evaluation column is a share (0-1), shown as a percentage like the rest."""
    return any(word in column for word in ("rate", "recall", "precision", "share"))


def span_of_test_dates(text: str | None) -> str | None:
    """The test dates as logged (``"2026-03-03..2026-04-02 (2)"``) in words.

    >>> span_of_test_dates("2026-03-03..2026-04-02 (2)")
    '2 test dates, 03 Mar 2026 to 02 Apr 2026'
    >>> span_of_test_dates("2026-03-03..2026-03-03 (1)"), span_of_test_dates(None)
    ('1 test date, 03 Mar 2026', None)
    """
    import re

    if not text:
        return None
    found = re.fullmatch(r"(\S+)\.\.(\S+) \((\d+)\)", text.strip())
    if not found:
        return text
    first, last, count = pd.Timestamp(found[1]), pd.Timestamp(found[2]), int(found[3])
    if count == 1 or first == last:
        return f"{count} test date, {first:%d %b %Y}"
    return f"{count} test dates, {first:%d %b %Y} to {last:%d %b %Y}"


def _card_table(path: str, table: pd.DataFrame) -> Table:
    """An evaluation table of the run, with readable names and rounded numbers."""
    name = Path(path).stem
    frame = table.copy()
    if "model" in frame.columns:
        frame["model"] = frame["model"].map(model_name)
    if "churn_rate" in frame.columns:
        frame["churn_rate"] = [
            format_value(None if is_missing(v) else 100 * v, unit="%", reason="no account") for v in frame["churn_rate"]
        ]
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    for column in numeric:
        if _is_share(column):
            frame[column] = [format_value(None if is_missing(v) else 100 * v, unit="%", digits=1,
                                          reason="undefined") for v in frame[column]]
            continue
        digits = 0 if column in ("rows", "accounts", "churned") else 3
        frame[column] = [format_value(v, digits=digits, reason="undefined") for v in frame[column]]
    frame.columns = [str(c).replace("_", " ") for c in frame.columns]
    return Table.from_frame(
        f"model-{name}",
        frame,
        numeric=[str(c).replace("_", " ") for c in numeric] + ["churn rate"],
        caption=_TABLE_CAPTIONS.get(name, path),
    )


def model_section(card: ModelCard, warnings: list[str] | None = None) -> list[Block]:
    """The blocks of the model card: version, warnings, out-of-time metrics, plots and tables.

    ``warnings`` say why the model may not fit the data scored
    (:func:`models.model_check.model_warnings`); they come first.
    """
    if card.reason and not card.run_id:
        return [Text(f"n/a ({card.reason})")]
    alias = f" ({card.alias})" if card.alias else ""
    tested = span_of_test_dates(card.params.get("split.test_dates"))
    blocks: list[Block] = [
        Text(
            f"Model {card.name or 'n/a'} version {card.version or 'n/a'}{alias}, trained {card.trained_at or 'n/a'}. "
            "The figures below were measured on the most recent dates the model never saw in training"
            + (f" ({tested})." if tested else "."),
            css="lead",
        )
    ]
    blocks += [Text(f"Warning: {warning}.", css="warning") for warning in warnings or []]
    if card.metrics:
        blocks.append(Table.from_frame("model-metrics", pd.DataFrame(_card_metric_rows(card.metrics)), numeric=("value",)))
    else:
        blocks.append(Text("n/a (the model's run logged no metrics)"))
    if any(key in card.metrics for key, _ in DRIFT_METRICS[1:]):
        blocks.append(Table.from_frame("model-scorecard-drift", pd.DataFrame([
            {"out of time": label,
             "ROC AUC": format_value(card.metrics.get(key), digits=3,
                                     reason=card.tags.get(f"undefined.{key}", "not logged"))}
            for key, label in DRIFT_METRICS]), numeric=("ROC AUC",),
            caption="The churn model, the scorecard in use and a scorecard re-weighted and "
                    "re-thresholded from the same training dates (customer-health scorecard "
                    "suggest), on the same test dates: a suggestion well above the scorecard in "
                    "use says the scorecard has drifted from the data."))
    contrast = card.tags.get("health_band_contrast")
    if contrast:
        blocks.append(Text(f"Health bands on the test dates: {contrast}."))
    for path, png in card.images.items():
        base = path.rsplit("/", 1)[-1]
        reliability = "reliab" in base or "calibrat" in base
        label = (
            "Reliability: predicted churn risk against the churn that happened (on the diagonal = trustworthy)"
            if reliability
            else "Churn rate by band on the test dates"
        )
        blocks.append(Image(f"model-{Path(base).stem}", label, label, png))
    if not card.images:
        blocks.append(Text("n/a (the model's run logged no reliability or churn-by-band plot)"))
    order = tuple(_TABLE_CAPTIONS)  # the tables in the order of their captions above
    for path in sorted(card.tables, key=lambda p: order.index(Path(p).stem) if Path(p).stem in order else len(order)):
        blocks.append(_card_table(path, card.tables[path]))
    return blocks
