"""The model registry: one registered name, a ``champion`` and a ``challenger`` alias.

Promotion rule: a new version becomes ``champion`` only if its ROC AUC beats the current
champion's on the *same* out-of-time window, the champion being re-scored on that window
(its own logged metric was measured on older data and is not comparable). Otherwise the new
version becomes ``challenger``. ``promote=True`` forces champion. Either way the decision and
its reason are written to the training run (tags ``promotion.*``) and to the model version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.evaluation import roc_auc_score
from models.tracking import quiet_mlflow_logs, shown_tracking_uri, tracking_uri

DEFAULT_MODEL_NAME = "customer-health-churn"
CHAMPION = "champion"
CHALLENGER = "challenger"
# The metrics `customer-health models` shows, as logged by the trainer for the chosen model.
HEADLINE = ("test_roc_auc", "test_pr_auc", "test_brier", "test_lift_top10")


class NoModelError(LookupError):
    """No registered model (or no version under the requested alias) to load."""


def _client() -> MlflowClient:
    # Listing or loading models may be the first touch of a new SQLite store: keep its
    # routine set-up lines out of the user's output, as training does.
    quiet_mlflow_logs()
    uri = tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass(frozen=True)
class PromotionDecision:
    """What happened to a newly registered version, and why."""

    name: str
    version: str
    alias: str
    reason: str
    candidate_roc_auc: float
    champion_version: str | None = None
    champion_roc_auc: float | None = None
    forced: bool = False


def _champion(client: MlflowClient, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def rescore_auc(model_uri: str, X: pd.DataFrame, y) -> float:
    """ROC AUC of a registered pyfunc churn model on rows ``X`` with labels ``y``.

    Raises
    ------
    ValueError
        When the model cannot score these rows (other feature columns), naming why.
    """
    model = mlflow.pyfunc.load_model(model_uri)
    python_model = model.unwrap_python_model()
    try:
        frame = python_model.input_frame(X)
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"{model_uri} cannot score these rows: {exc}") from exc
    proba = model.predict(frame)["churn_probability"].to_numpy(dtype=float)
    return roc_auc_score(np.asarray(y, dtype=float), proba)


def register_and_promote(
    model_uri: str, *, run_id: str, candidate_auc: float, X_test: pd.DataFrame, y_test,
    name: str = DEFAULT_MODEL_NAME, promote: bool = False, champion_auc: float | None = None,
    comparison: str | None = None,
) -> PromotionDecision:
    """Register ``model_uri`` as a new version of ``name`` and apply the promotion rule.

    Parameters
    ----------
    model_uri : str
        The logged pyfunc (``ModelInfo.model_uri``).
    run_id : str
        The training run, which receives the ``promotion.*`` tags.
    candidate_auc : float
        The new model's ROC AUC on ``X_test`` / ``y_test``.
    X_test, y_test
        The out-of-time test window on which the current champion is re-scored.
    name : str
        Registered model name.
    promote : bool
        Make the new version champion whatever the comparison says (``--promote``).
    champion_auc : float, optional
        The champion's comparable ROC AUC when the caller knows it (flat tables: its
        cross-validated figure on the same table); by default it is re-scored on ``X_test``.
    comparison : str, optional
        How the two figures were obtained, for the reason text; default "on the same
        out-of-time window".
    """
    client = _client()
    try:
        client.get_registered_model(name)
        new_name = False
    except MlflowException:
        new_name = True
    champion = None if new_name else _champion(client, name)
    version = mlflow.register_model(model_uri, name).version
    if new_name:
        client.update_registered_model(
            name, description="Churn probability within the horizon, with drivers (customer-health)."
        )

    comparison = comparison or "on the same out-of-time window"
    if champion is None:
        alias, reason = CHAMPION, "first registered version: no champion to beat"
    else:
        why = None
        if champion_auc is None:
            try:
                champion_auc = rescore_auc(f"models:/{name}/{champion.version}", X_test, y_test)
            except (ValueError, MlflowException) as exc:
                champion_auc = math.nan
                why = (f"champion v{champion.version} could not be re-scored on this window "
                       f"({exc}); kept as champion")
        if why is None and math.isnan(champion_auc):
            why = f"champion v{champion.version}'s ROC AUC is undefined on this window; kept"
        if why is None and candidate_auc > champion_auc:
            alias = CHAMPION
            reason = (f"ROC AUC {candidate_auc:.4f} beats champion v{champion.version}'s "
                      f"{champion_auc:.4f} {comparison}")
        else:
            alias = CHALLENGER
            reason = why or (f"ROC AUC {candidate_auc:.4f} does not beat champion "
                             f"v{champion.version}'s {champion_auc:.4f} {comparison}")
    if promote and alias != CHAMPION:
        alias, reason = CHAMPION, f"forced by --promote; without it: {reason}"

    client.set_registered_model_alias(name, alias, version)
    decision = PromotionDecision(
        name=name, version=str(version), alias=alias, reason=reason,
        candidate_roc_auc=float(candidate_auc),
        champion_version=None if champion is None else str(champion.version),
        champion_roc_auc=None if champion_auc is None or math.isnan(champion_auc) else float(champion_auc),
        forced=promote,
    )
    tags = {
        "promotion.alias": alias, "promotion.reason": reason, "promotion.forced": str(promote),
        "promotion.version": str(version),
        "promotion.champion_version": decision.champion_version or "none",
        "promotion.champion_roc_auc": "n/a" if decision.champion_roc_auc is None
        else f"{decision.champion_roc_auc:.6f}",
    }
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
        client.set_model_version_tag(name, version, key, value)
    return decision


@dataclass
class LoadedModel:
    """A registered churn model ready to score indicator frames.

    ``predict(frame)`` returns ``churn_probability``, ``risk_band`` and ``top_drivers``
    indexed like ``frame``; integer indicator columns are accepted (cast to the logged types).
    ``python_model`` is the unwrapped :class:`models.pyfunc.ChurnModel`, kept so the service
    can call it without going through MLflow's input checks (see :meth:`predict`).
    """

    pyfunc: object = field(repr=False)
    uri: str
    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None
    trained_at: datetime | None
    metrics: dict
    feature_names: list[str]
    python_model: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.python_model is None:
            self.python_model = self.pyfunc.unwrap_python_model()

    def predict(self, frame: pd.DataFrame, *, validated: bool = False) -> pd.DataFrame:
        """Churn probability, risk band and drivers for the indicator rows of ``frame``.

        Parameters
        ----------
        frame : DataFrame
            Indicator columns (extra columns are ignored).
        validated : bool
            True when the caller has already checked every value against the indicator
            schema (the HTTP service: its pydantic request models refuse unknown fields,
            wrong types, NaN/infinity and out-of-range values before this is called). The
            frame then goes straight to the model's own frame-level predict, skipping
            MLflow's signature enforcement, which would only re-check column by column what
            ``input_frame`` has just typed. False (the default, e.g. the batch job) keeps
            the generic pyfunc path with MLflow's checks.
        """
        if validated:
            return self.python_model.predict_frame(frame)  # types the input itself, once
        frame = self.python_model.input_frame(frame)
        result = self.pyfunc.predict(frame)
        result.index = frame.index
        return result


def parse_models_uri(uri: str) -> tuple[str | None, str | None, str | None]:
    """(name, version, alias) of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``.

    All three are None for any other URI (``runs:/...``, or ``models:/NAME`` with neither
    an alias nor a version); the caller decides whether that is an error.

    Examples
    --------
    >>> parse_models_uri("models:/churn@champion")
    ('churn', None, 'champion')
    >>> parse_models_uri("models:/churn/3")
    ('churn', '3', None)
    >>> parse_models_uri("runs:/abc/model")
    (None, None, None)
    >>> parse_models_uri("models:/churn")
    (None, None, None)
    """
    if not uri.startswith("models:/"):
        return None, None, None
    rest = uri[len("models:/"):]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, None, alias
    if "/" in rest:
        name, version = rest.rsplit("/", 1)
        return name, version, None
    return None, None, None


def load_model(uri: str | None = None) -> LoadedModel:
    """Load a churn model; None means ``models:/customer-health-churn@champion``.

    Raises
    ------
    NoModelError
        When the name, version or alias is not registered, with how to train one.
    """
    uri = uri or f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}"
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_registry_uri(tracking_uri())
    client = _client()
    name, version, alias = parse_models_uri(uri)
    model_version = None
    if name is not None:
        try:
            model_version = (client.get_model_version_by_alias(name, alias) if alias
                             else client.get_model_version(name, version))
        except MlflowException as exc:
            raise NoModelError(
                f"no model at {uri} in the registry {shown_tracking_uri()}: train one with "
                "`customer-health train DIR` (or set MLFLOW_TRACKING_URI to the store that "
                "holds it)"
            ) from exc
        version = str(model_version.version)
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise NoModelError(f"cannot load the model at {uri}: {exc}") from exc
    run_id = model_version.run_id if model_version is not None else pyfunc.metadata.run_id
    metrics, trained_at = {}, None
    if run_id:
        run = client.get_run(run_id)
        metrics = dict(run.data.metrics)
        trained_at = datetime.fromtimestamp(run.info.start_time / 1000, tz=timezone.utc)
    python_model = pyfunc.unwrap_python_model()
    return LoadedModel(
        pyfunc=pyfunc, uri=uri, name=name, version=version, alias=alias, run_id=run_id,
        trained_at=trained_at, metrics=metrics,
        feature_names=list(getattr(python_model, "feature_columns", [])),
        python_model=python_model,
    )


def list_versions(name: str | None = None) -> list[dict]:
    """Registered versions (newest first) with aliases and headline metrics.

    Parameters
    ----------
    name : str, optional
        One registered model; None lists every registered model.

    Returns
    -------
    list of dict
        ``name``, ``version``, ``aliases`` (list), ``created`` (UTC datetime), ``run_id``,
        ``promotion_reason`` and the :data:`HEADLINE` metrics (NaN when not logged).
    """
    client = _client()
    names = [name] if name else [m.name for m in client.search_registered_models()]
    rows = []
    for model_name in names:
        try:
            versions = client.search_model_versions(f"name = '{model_name}'")
        except MlflowException:
            continue
        # search_model_versions leaves aliases empty on some stores; the model has them all.
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(model_name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
            metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
            rows.append({
                "name": model_name,
                "version": str(v.version),
                "aliases": sorted(aliases.get(str(v.version), [])),
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, tz=timezone.utc),
                "run_id": v.run_id,
                "promotion_reason": (v.tags or {}).get("promotion.reason", ""),
                **{m: metrics.get(m, math.nan) for m in HEADLINE},
            })
    return rows
