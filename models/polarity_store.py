"""The learnt comment polarity stored with the churn model, in a format that runs no code.

The trainer calls :func:`log_polarity_models` inside the churn model's MLflow run: the models
go to the run's artifact ``sentiment/polarity_models.json`` (n-grams, IDF weights,
coefficients: plain JSON, read back with ``json`` and numpy, never unpickled), their cross-
validated ROC AUC to metrics ``polarity_cv_roc_auc_<language>`` and the languages to tags.
:func:`load_polarity_models` reads them back for the run of a loaded model
(:func:`models.registry.load_model`), so the batch job and the service read comments with
the very models trained with the churn model.
"""

from __future__ import annotations

import contextlib
import json
import math
import os

import mlflow
from mlflow.exceptions import MlflowException

from features.polarity import PolarityModels

ARTIFACT_DIR = "sentiment"
ARTIFACT = f"{ARTIFACT_DIR}/polarity_models.json"
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def log_polarity_models(models: PolarityModels | None) -> None:
    """Log ``models`` to the active MLflow run (tags only when there are none)."""
    if models is None:
        mlflow.set_tag("sentiment.learnt_languages", "none (no survey comments)")
        return
    mlflow.log_dict(models.to_dict(), ARTIFACT)
    mlflow.set_tags({
        "sentiment.learnt_languages": ", ".join(sorted(models.models)) or "none",
        "sentiment.examples_before": "undated" if models.examples_before is None
        else models.examples_before.isoformat(),
        **{f"sentiment.unsupported.{code}": reason[:500] for code, reason in models.rejected.items()},
    })
    mlflow.log_metrics({
        f"polarity_cv_roc_auc_{code}": model.cv_roc_auc for code, model in models.models.items()
        if math.isfinite(model.cv_roc_auc)
    })


@contextlib.contextmanager
def _no_progress_bar():
    """MLflow draws a download bar on stderr; library code prints nothing."""
    previous = os.environ.get(_PROGRESS_BAR)
    os.environ[_PROGRESS_BAR] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_PROGRESS_BAR, None)
        else:
            os.environ[_PROGRESS_BAR] = previous


def load_polarity_models(run_id: str, client) -> PolarityModels | None:
    """The polarity models logged in run ``run_id``; None when the run has none.

    Parameters
    ----------
    run_id : str
    client : mlflow.MlflowClient
        The registry's client (:func:`models.registry._client`).

    Raises
    ------
    ValueError
        When the stored file cannot be read as polarity models (damaged, other format).
    """
    try:
        names = [item.path for item in client.list_artifacts(run_id, ARTIFACT_DIR)]
    except (MlflowException, OSError):
        return None
    if ARTIFACT not in names:
        return None
    with _no_progress_bar():
        path = client.download_artifacts(run_id, ARTIFACT)
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    try:
        return PolarityModels.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"run {run_id}: {ARTIFACT} is not a set of polarity models: {exc}") from exc
