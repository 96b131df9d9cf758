"""The customer-health HTTP service (BentoML 1.4): health scores and churn risk.

One ``@bentoml.service`` class, :class:`CustomerHealth`, with typed APIs:

* ``POST /health_score``: the deterministic scorecard only; works without a model;
* ``POST /churn_risk``: the churn model's calibrated probability, band and drivers, with
  the model's name, version and alias; 503 with the reason when no model is registered;
* ``POST /score``: both for a batch of up to ``CUSTOMER_HEALTH_MAX_BATCH`` accounts
  (default 1,000; past it the request is refused with 413 and the limit);
* ``GET /model``: the loaded model, its metrics and the indicator schema.

BentoML adds ``/livez``, ``/readyz`` (false until a model is loaded, through
``__is_ready__``), ``/metrics`` and the OpenAPI document ``/docs.json``.

Configuration comes from the environment, read once at start-up: ``CUSTOMER_HEALTH_MODEL_URI``
(default ``models:/customer-health-churn@champion``), ``MLFLOW_TRACKING_URI``,
``CUSTOMER_HEALTH_SCORECARD`` (a scorecard TOML; otherwise the packaged default that fits the
served model's churn definition: the transactional one when it was trained on a lapse),
``CUSTOMER_HEALTH_MAX_BATCH``, ``CUSTOMER_HEALTH_BODY_TIMEOUT`` (seconds, default 15) and
``CUSTOMER_HEALTH_WORKERS`` (processes, default one per CPU core). A new champion is picked up by restarting the service.

The service is thin: it validates requests (``serving.schemas``), calls
``features.scorecard`` and the model from ``models.registry``, and shapes the answers.
Bad input is a 400 naming the field, an unavailable model a 503 with the reason: never a
500 for anything a client sent.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from datetime import date
from http import HTTPStatus
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from bentoml.exceptions import BadInput, BentoMLException, ServiceUnavailable
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from features.catalogue import describe_indicator, lookup
from features.health_score import HealthArrays
from features.scorecard_config import load_scorecard
from features.values import json_safe
from models.model_check import model_provenance, model_warnings, trained_churn
from models.scoring import RowScores, insufficient_reason, score_rows
from serving.http_balance import ConnectionSpreader
from serving.http_guard import (
    BODY_TIMEOUT_ENV,
    ClientErrorTracebacks,
    RequestGuard,
    body_limit,
    read_body_timeout,
)
from serving.schemas import (
    CATEGORICAL_INDICATORS,
    DEFAULT_MAX_BATCH,
    INDICATOR_SPECS,
    AccountScore,
    AccountsRequest,
    ChurnDriver,
    ChurnRisk,
    ChurnRiskResponse,
    CommentLanguage,
    ErrorBody,
    HealthDriver,
    HealthScore,
    HealthScoreResponse,
    IndicatorInfo,
    ModelInfo,
    ModelProvenance,
    ModelRef,
    ScorecardInForce,
    ScoreResponse,
    columns_from_accounts,
    complete_openapi,
)

logger = logging.getLogger(__name__)

MODEL_URI_ENV = "CUSTOMER_HEALTH_MODEL_URI"
SCORECARD_ENV = "CUSTOMER_HEALTH_SCORECARD"
MAX_BATCH_ENV = "CUSTOMER_HEALTH_MAX_BATCH"
WORKERS_ENV = "CUSTOMER_HEALTH_WORKERS"
DEFAULT_MODEL_URI = "models:/customer-health-churn@champion"
# Loopback unless told otherwise (``--host`` / ``BENTOML_HOST``): the API has no
# authentication, so exposing it is a deliberate choice (docs/service.md, "Exposing it").
DEFAULT_HOST = "127.0.0.1"
API_ROUTES = ("/health_score", "/churn_risk", "/score", "/model")


class BatchTooLarge(BentoMLException):
    """A request with more accounts than the service's batch limit (HTTP 413)."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def _positive_int(value: str | None, default: int, name: str, unit: str) -> int:
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a whole number of {unit} >= 1, got {value!r}")
    return number


def read_max_batch(value: str | None) -> int:
    """The batch limit from ``CUSTOMER_HEALTH_MAX_BATCH`` (default 1,000).

    Examples
    --------
    >>> read_max_batch(None), read_max_batch("250")
    (1000, 250)
    """
    return _positive_int(value, DEFAULT_MAX_BATCH, MAX_BATCH_ENV, "accounts")


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity, which a container may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def read_workers(value: str | None) -> int:
    """Worker processes from ``CUSTOMER_HEALTH_WORKERS`` (default one per CPU core).

    One request keeps one worker's core busy (the scoring is CPU-bound Python), so fewer
    workers than cores leaves cores idle under load; each worker loads its own model.

    Examples
    --------
    >>> read_workers(None) == cpu_cores(), read_workers("2")
    (True, 2)
    """
    return _positive_int(value, cpu_cores(), WORKERS_ENV, "processes")


# --- error answers -------------------------------------------------------------------


def _location(loc: list | tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


_HINTS = {
    "extra_forbidden": "unknown field; /docs.json lists the accepted fields",
    "finite_number": "NaN and infinity are not allowed; leave the field out when there is no data",
    "json_invalid": "the body is not valid JSON",
    "too_short": "send at least one account",
}


def describe_validation_errors(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """One line naming the fields and a full list, from pydantic's error dicts.

    Examples
    --------
    >>> describe_validation_errors([{"type": "extra_forbidden", "loc": ["accounts", 0, "foo"],
    ...                              "msg": "Extra inputs are not permitted"}])[0]
    'invalid request: accounts[0].foo: Extra inputs are not permitted (unknown field; /docs.json lists the accepted fields)'
    """
    lines = []
    for error in errors:
        hint = _HINTS.get(error.get("type", ""))
        line = f"{_location(error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        lines.append(f"{line} ({hint})" if hint else line)
    head = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    return f"invalid request: {head}", "\n".join(lines)


def _reshape_error(status: int, body: bytes) -> dict[str, Any] | None:
    """BentoML's error bodies in the shape the OpenAPI document declares.

    BentoML answers a request validation error with ``{"error", "detail": [...]}``, other
    4xx with ``[{"error": ...}]`` and hides the message of 5xx; the document promises
    ``{"error": str, "detail": str}``. The 503 of a missing model gets its reason back.
    """
    try:
        parsed = json.loads(body or b"null")
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("detail"), list):
        error, detail = describe_validation_errors(parsed["detail"])
        return {"error": error, "detail": detail}
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict) and "error" in parsed[0]:
        return {"error": str(parsed[0]["error"])}
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        instance = bentoml.get_current_service()
        reason = getattr(instance, "model_unavailable", None)
        if reason:
            return {"error": reason}
    return None


class ErrorBodyMiddleware:
    """Rewrite error answers of the API routes to ``{"error", "detail"}`` (see above)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in API_ROUTES:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if message["status"] < 400:
                    start["passthrough"] = True
                    await send(message)
                else:
                    start.update(message)
                return
            if start.get("passthrough") or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            reshaped = _reshape_error(start["status"], body)
            if reshaped is not None:
                body = json.dumps(reshaped, ensure_ascii=False).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


class OpenApiDocument:
    """Serve ``/docs.json`` as :func:`serving.schemas.complete_openapi` completes it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.body: bytes | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != "/docs.json":
            await self.app(scope, receive, send)
            return
        if self.body is None:  # built once: the service does not change while it runs
            document = complete_openapi(CustomerHealth.openapi_spec.asdict())
            self.body = json.dumps(document).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": self.body})


def _floats_or_none(values: np.ndarray) -> list[list[float | None]]:
    """Rows of a float matrix as Python lists, NaN and infinity as None (JSON has neither).

    Examples
    --------
    >>> _floats_or_none(np.array([[1.5, 2.0], [float("nan"), float("inf")]]))
    [[1.5, 2.0], [None, None]]
    """
    rows = values.astype(object)
    rows[~np.isfinite(values)] = None
    return rows.tolist()


def _comment_languages(polarity_models: Any) -> list[CommentLanguage]:
    """The learnt comment polarity stored with the model, per language."""
    if polarity_models is None:
        return []
    rows = [CommentLanguage(language=code, method="learnt", cv_roc_auc=round(m.cv_roc_auc, 4),
                            reason=None)
            for code, m in sorted(polarity_models.models.items())]
    rows += [CommentLanguage(language=code, method="none", cv_roc_auc=None, reason=reason)
             for code, reason in sorted(polarity_models.rejected.items())]
    return rows


# --- the service ---------------------------------------------------------------------

info_app = FastAPI(title="customer-health", docs_url=None, redoc_url=None, openapi_url=None)


# BentoML reads the worker count when the class is declared, hence at import.
@bentoml.service(name="customer_health", traffic={"timeout": 60},
                 http={"host": DEFAULT_HOST},
                 workers=read_workers(os.environ.get(WORKERS_ENV)))
@bentoml.asgi_app(info_app, path="/")
class CustomerHealth:
    """Explained customer health scores and churn risk per account.

    Health scores come from the deterministic scorecard and need no model; churn risk comes
    from the registered champion model (``CUSTOMER_HEALTH_MODEL_URI``).
    """

    def __init__(self, *, model_uri: str | None = None, scorecard: str | None = None,
                 max_batch: int | None = None) -> None:
        self.model_uri = model_uri or os.environ.get(MODEL_URI_ENV) or DEFAULT_MODEL_URI
        self.max_batch = max_batch or read_max_batch(os.environ.get(MAX_BATCH_ENV))
        self.model, self.model_unavailable = self._load_model(self.model_uri)
        self.scorecard, self.scorecard_reason = self._pick_scorecard(
            scorecard or os.environ.get(SCORECARD_ENV) or None)
        self._warnings_by_date: dict[date, list[str]] = {}
        self._ref: ModelRef | None = None  # built on first use: the model does not change

    @staticmethod
    def _load_model(uri: str) -> tuple[Any, str | None]:
        from mlflow.exceptions import MlflowException

        from models.registry import NoModelError, load_model

        try:
            return load_model(uri), None
        except NoModelError as exc:
            reason = str(exc)
        except MlflowException as exc:  # registry unreachable or the URI malformed
            reason = f"the model registry could not serve {uri}: {exc.message}"
        return None, (
            f"no churn model is loaded: {reason}. Restart the service once a model is "
            "registered; /health_score works meanwhile."
        )

    def _pick_scorecard(self, path: str | None) -> tuple[Any, str]:
        """The operator's scorecard, else the default that fits how the model's churn was
        defined: scores and churn risk then speak of the same kind of loss."""
        if path is not None:
            return load_scorecard(path), "named by the operator (serve --scorecard)"
        if self.model is None:
            return load_scorecard(), ("the subscription default: no model is loaded to say "
                                      "how churn is defined")
        churn = trained_churn(getattr(self.model, "params", None) or {})
        kind = "transactional" if churn.is_lapse else "subscription"
        return load_scorecard(churn=churn), (
            f"the {kind} default, for the model's training run: {churn.describe()}")

    def __is_ready__(self) -> bool:
        """Ready once a churn model is loaded (the scorecard alone is not enough)."""
        return self.model is not None

    # --- helpers shaping requests and answers --------------------------------------

    def _rows(self, request: AccountsRequest) -> tuple[list[str], dict, dict, np.ndarray]:
        """(account ids, numbers, labels, previous scores) of a request, checked."""
        accounts = request.accounts
        if len(accounts) > self.max_batch:
            raise BatchTooLarge(
                f"accounts: a batch of {len(accounts)} accounts is over this service's limit of "
                f"{self.max_batch} accounts per request; split it into smaller batches"
            )
        ids = [a.account_id for a in accounts]
        if len(set(ids)) < len(ids):
            repeated = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
            raise BadInput(
                f"accounts: account_id {', '.join(map(repr, repeated))} appears more than once; "
                "send each account once per request"
            )
        numbers, labels = columns_from_accounts(accounts)
        previous = np.array([a.previous_score for a in accounts], dtype="float64")
        return ids, numbers, labels, previous

    @staticmethod
    def _health(ids: list[str], scored: HealthArrays) -> list[dict[str, Any]]:
        """Health answers from the scorecard's arrays."""
        # Whole float blocks to Python floats / None at once: ~50 values per account.
        numbers = _floats_or_none(np.column_stack([scored.health, scored.delta, scored.coverage]))
        group_rows = _floats_or_none(scored.groups)
        measure_rows = _floats_or_none(scored.measures)
        return [
            {
                "account_id": account,
                "health_score": numbers[i][0],
                "health_band": scored.band[i],
                "health_color": scored.color[i],
                "health_coverage": numbers[i][2],
                "health_trend": scored.trend[i],
                "health_delta": numbers[i][1],
                "groups": dict(zip(scored.group_names, group_rows[i])),
                "measures": dict(zip(scored.measure_names, measure_rows[i])),
                "drivers": [HealthDriver(**json_safe(d)) for d in scored.drivers[i]],
            }
            for i, account in enumerate(ids)
        ]

    def _require_model(self) -> Any:
        if self.model is None:
            raise ServiceUnavailable(self.model_unavailable)
        return self.model

    @staticmethod
    def _churn(ids: list[str], scored: RowScores) -> list[dict[str, Any]]:
        """Churn answers from the scoring path's arrays."""
        probabilities = _floats_or_none(scored.churn_probability[:, None])
        return [
            {
                "account_id": account,
                "churn_probability": probability,
                "risk_band": band,
                # Driver values are already plain Python (models.explain: None for no data).
                "top_drivers": [ChurnDriver(**d) for d in drivers],
                "churn_coverage": float(coverage),
                # The same rule as the batch job's (models.scoring), in words.
                "churn_reason": None if probability is not None else insufficient_reason(coverage),
            }
            for account, (probability,), band, drivers, coverage in zip(
                ids, probabilities, scored.risk_band, scored.churn_drivers, scored.churn_coverage,
            )
        ]

    def _score(self, request: AccountsRequest, *, health: bool,
               churn: bool) -> tuple[list[str], RowScores]:
        # The request went through the pydantic models of serving.schemas (types, ranges,
        # no NaN/infinity, no unknown fields), so it goes to the scoring path as arrays,
        # with no frame and no MLflow input checks (models.scoring.score_rows).
        ids, numbers, labels, previous = self._rows(request)
        return ids, score_rows(
            numbers, labels, len(ids), self.scorecard if health else None,
            model=self._require_model() if churn else None, previous=previous,
        )

    def _model_ref(self) -> ModelRef:
        model = self._require_model()
        if self._ref is None:
            version = None if model.version is None else str(model.version)
            self._ref = ModelRef(name=model.name, version=version, alias=model.alias,
                                 uri=model.uri, trained_on=self._provenance())
        return self._ref

    def _provenance(self) -> ModelProvenance | None:
        params = getattr(self.model, "params", None)
        return ModelProvenance(**model_provenance(params)) if params else None

    def _model_warnings(self, as_of: date | None) -> list[str]:
        """Why the model may not fit accounts described as of ``as_of`` (none without a date).

        The service has no tables to fingerprint, so only the date is checked
        (:func:`models.model_check.model_warnings`). The answer for a date is kept, and its
        warnings logged when first found: once per date, not once per request.
        """
        if as_of is None or self.model is None:
            return []
        known = self._warnings_by_date
        if as_of not in known:
            if len(known) >= 1000:  # bounded: clients may send any date
                known.clear()
            known[as_of] = model_warnings(getattr(self.model, "params", None) or {},
                                          as_of=pd.Timestamp(as_of))
            for warning in known[as_of]:
                logger.warning("model %s: %s", self.model.uri, warning)
        return known[as_of]

    # --- the APIs --------------------------------------------------------------------

    @bentoml.api(route="/health_score")
    def health_score(self, request: AccountsRequest, /) -> HealthScoreResponse:
        """Health score 0-100, band, coverage, group and measure scores, the measures that
        cost the most points in words, and the trend against `previous_score`. Needs no model."""
        ids, scored = self._score(request, health=True, churn=False)
        return HealthScoreResponse(accounts=[HealthScore(**a) for a in self._health(ids, scored.health)])

    @bentoml.api(route="/churn_risk")
    def churn_risk(self, request: AccountsRequest, /) -> ChurnRiskResponse:
        """Calibrated churn probability, risk band and top drivers per account, with the
        model's name, version and alias. 503 when no model is registered."""
        model = self._model_ref()
        ids, scored = self._score(request, health=False, churn=True)
        return ChurnRiskResponse(model=model, model_warnings=self._model_warnings(request.as_of),
                                 accounts=[ChurnRisk(**a) for a in self._churn(ids, scored)])

    @bentoml.api(route="/score")
    def score(self, request: AccountsRequest, /) -> ScoreResponse:
        """Health score and churn risk together for a batch of accounts (up to the service's
        limit, 1,000 by default; 413 past it). Without a model the churn fields are null and
        `churn_unavailable` says why."""
        ids, scored = self._score(request, health=True, churn=self.model is not None)
        health = self._health(ids, scored.health)
        if self.model is None:
            empty = {"churn_probability": None, "risk_band": None, "top_drivers": None}
            return ScoreResponse(model=None, churn_unavailable=self.model_unavailable,
                                 accounts=[AccountScore(**h, **empty) for h in health])
        churn = self._churn(ids, scored)
        return ScoreResponse(
            model=self._model_ref(), churn_unavailable=None,
            model_warnings=self._model_warnings(request.as_of),
            accounts=[AccountScore(**h, **{k: v for k, v in c.items() if k != "account_id"})
                      for h, c in zip(health, churn)],
        )

    def model_info(self) -> ModelInfo:
        """The loaded model, its training date and metrics, and the indicator schema.

        Raises
        ------
        ServiceUnavailable
            When no model is loaded.
        """
        model = self._require_model()
        features = list(model.feature_names)
        used_by_scorecard = set(self.scorecard.indicator_names())
        indicators = [
            IndicatorInfo(
                name=name, type="category", group=lookup(name)[0].group,
                description=f"{describe_indicator(name).label} (a label).", minimum=None,
                maximum=None, used_by_model=name in features,
                used_by_scorecard=name in used_by_scorecard,
            )
            for name in CATEGORICAL_INDICATORS
        ] + [
            IndicatorInfo(
                name=name, type="number", group=spec.group, description=spec.description,
                minimum=spec.ge, maximum=spec.le, used_by_model=name in features,
                used_by_scorecard=name in used_by_scorecard,
            )
            for name, spec in INDICATOR_SPECS.items()
        ]
        trained = model.trained_at
        return ModelInfo(
            name=model.name, version=None if model.version is None else str(model.version),
            alias=model.alias, uri=model.uri,
            run_id=model.run_id,
            trained_at=trained.isoformat() if hasattr(trained, "isoformat") else json_safe(trained),
            metrics={str(k): json_safe(v) for k, v in (model.metrics or {}).items()},
            feature_names=features, trained_on=self._provenance(), indicators=indicators,
            comment_languages=_comment_languages(getattr(model, "polarity_models", None)),
            scorecard=ScorecardInForce(source=self.scorecard.source, reason=self.scorecard_reason),
        )

    @info_app.get(
        "/model", response_model=ModelInfo, tags=["Service APIs"],
        summary="The loaded model, its metrics and the indicator schema",
        responses={503: {"model": ErrorBody, "description": "No model is loaded."}},
    )
    def get_model(self):  # noqa: ANN201 - FastAPI reads response_model, not the annotation
        """`GET /model`: the loaded model's version, training date, metrics and indicator
        schema; 503 with the reason when no model is loaded."""
        try:
            return self.model_info()
        except ServiceUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=HTTPStatus.SERVICE_UNAVAILABLE)


# First added is outermost: size, type and time of the body are checked before anything
# else reads it, and the guard logs the error answers as ErrorBodyMiddleware shaped them.
CustomerHealth.add_asgi_middleware(
    RequestGuard, routes=API_ROUTES,
    max_bytes=body_limit(read_max_batch(os.environ.get(MAX_BATCH_ENV))),
    timeout=read_body_timeout(os.environ.get(BODY_TIMEOUT_ENV)),
)
CustomerHealth.add_asgi_middleware(ErrorBodyMiddleware)
CustomerHealth.add_asgi_middleware(OpenApiDocument)
# Keep-alive clients that all connected to one worker are sent to the idle one.
CustomerHealth.add_asgi_middleware(ConnectionSpreader, routes=API_ROUTES)
logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorTracebacks())
