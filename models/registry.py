"""The model registry: one registered name, a ``champion`` and a ``challenger`` alias.

Promotion rule: a new version becomes ``champion`` only if it passes the promotion gates
(:mod:`models.gates`: calibrated log loss below a constant guess, churn monotone across its
risk bands, validation and test ROC AUC close) and its ROC AUC beats the current
champion's on the *same* out-of-time window, the champion being re-scored on that window
(its own logged metric was measured on older data and is not comparable). Otherwise the new
version becomes ``challenger``. ``promote=True`` forces champion, and the reason it would
not have been is kept. Either way the decision and
its reason are written to the training run (tags ``promotion.*``) and to the model version.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.evaluation import roc_auc
from models.polarity_store import load_polarity_models
from models.tracking import missing_store, quiet_mlflow_logs, shown_tracking_uri, tracking_uri

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
    gate_failures: tuple[str, ...] = ()


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
    return roc_auc(np.asarray(y, dtype=float), proba)


def register_and_promote(
    model_uri: str, *, run_id: str, candidate_auc: float, X_test: pd.DataFrame, y_test,
    name: str = DEFAULT_MODEL_NAME, promote: bool = False, champion_auc: float | None = None,
    comparison: str | None = None, gate_failures: Sequence[str] = (),
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
    gate_failures : sequence of str
        The promotion gates the new version fails (:func:`models.gates.promotion_gates`):
        any of them keeps it from champion, even as the first version, unless ``promote``.
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
    if gate_failures:
        alias, reason = CHALLENGER, "refused by the promotion gates: " + "; ".join(gate_failures)
    if promote and alias != CHAMPION:
        alias, reason = CHAMPION, f"forced by --promote; without it: {reason}"

    client.set_registered_model_alias(name, alias, version)
    decision = PromotionDecision(
        name=name, version=str(version), alias=alias, reason=reason,
        candidate_roc_auc=float(candidate_auc),
        champion_version=None if champion is None else str(champion.version),
        champion_roc_auc=None if champion_auc is None or math.isnan(champion_auc) else float(champion_auc),
        forced=promote, gate_failures=tuple(gate_failures),
    )
    tags = {
        "promotion.alias": alias, "promotion.reason": reason, "promotion.forced": str(promote),
        "promotion.gates": "; ".join(gate_failures) or "passed",
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
    ``params`` are its training run's parameters (data fingerprint, test window), which
    :func:`models.model_check.model_warnings` compares with the data scored.
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
    #: The learnt comment polarity trained with the model (models.polarity_store), or None.
    polarity_models: object = field(default=None, repr=False)
    params: dict = field(default_factory=dict, repr=False)

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
    absent = missing_store(tracking_uri())
    if absent and uri.startswith("models:/"):  # reading it would create an empty store
        raise NoModelError(f"no model at {uri}: {absent}")
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
    metrics, params, trained_at, polarity_models = {}, {}, None, None
    if run_id:
        run = client.get_run(run_id)
        metrics, params = dict(run.data.metrics), dict(run.data.params)
        trained_at = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)
        polarity_models = load_polarity_models(run_id, client)
    python_model = pyfunc.unwrap_python_model()
    return LoadedModel(
        pyfunc=pyfunc, uri=uri, name=name, version=version, alias=alias, run_id=run_id,
        trained_at=trained_at, metrics=metrics,
        feature_names=list(getattr(python_model, "feature_columns", [])),
        python_model=python_model, params=params, polarity_models=polarity_models,
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
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, tz=UTC),
                "run_id": v.run_id,
                "promotion_reason": (v.tags or {}).get("promotion.reason", ""),
                **{m: metrics.get(m, math.nan) for m in HEADLINE},
            })
    return rows


# --- what the report and the demo read from MLflow ------------------------------------


def _client_at(uri: str | None) -> MlflowClient:
    """A client of the store at ``uri``; of the configured store (:func:`_client`) when None."""
    if uri is None:
        return _client()
    quiet_mlflow_logs()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def find_trained_model(
    inputs_sha256: str, *, model_name: str | None = None, tracking_uri: str | None = None
) -> tuple[str, str | None] | None:
    """A registered version trained on data with this fingerprint, champion first.

    Parameters
    ----------
    inputs_sha256 : str
        The data fingerprint the trainer logs as the run parameter ``data.inputs_sha256``.
    model_name : str, optional
        Registered model name; :data:`DEFAULT_MODEL_NAME` when None.
    tracking_uri : str, optional
        The MLflow store; the configured one (``MLFLOW_TRACKING_URI``) when None.

    Returns
    -------
    tuple of (model URI, alias) or None
        ``("models:/NAME/VERSION", alias)`` of the newest matching version (a champion before
        any other), or None when no version was trained on that data.
    """
    name = model_name or DEFAULT_MODEL_NAME
    client = _client_at(tracking_uri)
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    matching = []
    for version in versions:
        if not version.run_id:
            continue
        try:
            params = client.get_run(version.run_id).data.params
        except MlflowException:
            continue
        if params.get("data.inputs_sha256") == inputs_sha256:
            # search results may leave aliases out; the version itself carries them
            aliases = list(client.get_model_version(name, version.version).aliases or [])
            matching.append((CHAMPION in aliases, int(version.version), aliases))
    if not matching:
        return None
    _, version, aliases = max(matching)
    alias = CHAMPION if CHAMPION in aliases else (aliases[0] if aliases else None)
    return f"models:/{name}/{version}", alias


class ModelURIError(ValueError):
    """A model URI that does not name a registered version (``models:/NAME@ALIAS`` or ``/VERSION``)."""


@dataclass(frozen=True)
class ModelCardData:
    """What MLflow holds about one model version for its model card, as plain data.

    Attributes
    ----------
    name, version, alias : str or None
        The registered version and the alias it holds (``champion`` before any other).
    run_id : str or None
        Its training run; None when it has none, and then nothing below is filled.
    trained_at : datetime or None
        When the training run started (UTC).
    metrics, params, tags : dict
        Of the training run.
    images : dict of str to bytes
        The run's PNG plots of calibration and of churn by band, by artifact path.
    tables : dict of str to DataFrame
        The run's evaluation tables (model comparison, churn rate by band), by artifact path.
    """

    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None
    trained_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def card_model_version(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``.

    ``models:/NAME`` alone means its champion.

    Raises
    ------
    ModelURIError
        For any other URI (``runs:/...``): a card is about a registered version.

    Examples
    --------
    >>> card_model_version("models:/customer-health-churn@champion")
    ('customer-health-churn', 'champion', None)
    >>> card_model_version("models:/customer-health-churn/3")
    ('customer-health-churn', None, '3')
    >>> card_model_version("models:/customer-health-churn")
    ('customer-health-churn', 'champion', None)
    """
    if not uri.startswith("models:/"):
        raise ModelURIError(f"model URI {uri!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
    name, version, alias = parse_models_uri(uri)
    if name is None:  # neither an alias nor a version
        return uri[len("models:/"):], CHAMPION, None
    return name, alias, version


def model_card_data(model, *, tracking_uri: str | None = None) -> ModelCardData:
    """Read what the model card of ``model`` shows from its registered version and run.

    Parameters
    ----------
    model : str or LoadedModel
        A ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` URI, or a loaded model (anything
        with ``name``, ``version``, ``alias`` and ``run_id`` attributes, such as
        :class:`LoadedModel`).
    tracking_uri : str, optional
        The MLflow store; the configured one (``MLFLOW_TRACKING_URI``) when None.

    Returns
    -------
    ModelCardData
        With ``run_id`` None and nothing else read when the model has no training run.

    Raises
    ------
    ModelURIError
        When ``model`` is a URI that does not name a registered version.
    NoModelError
        When the version or its run is not in the store, with MLflow's reason.

    Notes
    -----
    Artifacts of a local store are read where they lie. Those of a remote store are
    downloaded to a temporary folder, and MLflow may draw a progress bar for it; the
    command line turns it off with :func:`models.tracking.quiet_artifact_downloads`.
    """
    client = _client_at(tracking_uri)
    shown = model if isinstance(model, str) else getattr(model, "name", None)
    try:
        if isinstance(model, str):
            name, alias, version = card_model_version(model)
            found = (client.get_model_version_by_alias(name, alias) if alias
                     else client.get_model_version(name, version))
            version, run_id = str(found.version), found.run_id
            if alias is None:  # a version asked by number: show the alias it holds, if any
                aliases = sorted(client.get_model_version(name, version).aliases or [])
                alias = CHAMPION if CHAMPION in aliases else (aliases[0] if aliases else None)
        else:
            name, alias = getattr(model, "name", None), getattr(model, "alias", None)
            run_id = getattr(model, "run_id", None)
            version = None if getattr(model, "version", None) is None else str(model.version)
        if not run_id:
            return ModelCardData(name, version, alias, None)
        run = client.get_run(run_id)
    except MlflowException as exc:
        reason = (str(exc).splitlines() or [""])[0]
        raise NoModelError(f"model {shown} not found in MLflow: {reason}") from exc
    images, tables = _card_artifacts(client, run)
    return ModelCardData(
        name, version, alias, run_id,
        trained_at=datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
        metrics=dict(run.data.metrics), params=dict(run.data.params), tags=dict(run.data.tags),
        images=images, tables=tables,
    )


# Artifacts a card shows, matched on the file name: plots of calibration and of churn by
# band (PNG), and the evaluation tables (CSV).
CARD_IMAGE_WORDS = ("reliab", "calibrat", "band")
CARD_TABLE_WORDS = ("comparison", "churn_rate_by", "input_selection")
# Folders of the logged model itself: large, and nothing a card shows.
_MODEL_FOLDERS = ("model", "python_model", "artifacts")


def _card_kind(path: str) -> str | None:
    """``"image"``, ``"table"`` or None (not on a card) for an artifact path."""
    base = path.rsplit("/", 1)[-1].lower()
    if base.endswith(".png") and any(word in base for word in CARD_IMAGE_WORDS):
        return "image"
    if base.endswith(".csv") and any(word in base for word in CARD_TABLE_WORDS):
        return "table"
    return None


def _card_artifacts(client: MlflowClient, run) -> tuple[dict[str, bytes], dict[str, pd.DataFrame]]:
    run_id, root = run.info.run_id, run.info.artifact_uri.rstrip("/")
    wanted = []
    folders: list[str | None] = [None]
    while folders:
        for item in client.list_artifacts(run_id, folders.pop()):
            if not item.is_dir:
                wanted.append(item.path)
            elif item.path.rsplit("/", 1)[-1] not in _MODEL_FOLDERS:
                folders.append(item.path)
    images, tables = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(p for p in wanted if _card_kind(p)):
            if urlparse(root).scheme in ("", "file"):
                # A local store hands back the file where it lies: no copy, no progress bar.
                local = mlflow.artifacts.download_artifacts(artifact_uri=f"{root}/{path}",
                                                            tracking_uri=client.tracking_uri)
            else:  # downloaded from the client's own store, not MLflow's global one
                local = client.download_artifacts(run_id, path, tmp)
            if _card_kind(path) == "image":
                images[path] = Path(local).read_bytes()
            else:
                tables[path] = pd.read_csv(local)
    return images, tables


def champion_cv_on_same_table(name: str, data_hash: str) -> float | None:
    """The champion's cross-validated ROC AUC when its run logged the same data hash.

    Re-scoring a champion on the very table it was fitted on would measure it in-sample, so
    when the champion's run logged the same data hash its cross-validated ROC AUC is the
    comparable figure; on a different table (None here) the champion is re-scored on every
    row (all out of sample for it).
    """
    client = _client()
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
        champion_run = client.get_run(champion.run_id)
    except MlflowException:
        return None
    if champion_run.data.params.get("data.hash") == data_hash:
        return champion_run.data.metrics.get("test_roc_auc")
    return None
