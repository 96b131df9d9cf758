"""Request and response models of the HTTP service.

The indicator fields are the account-level indicators of ``docs/indicators.md`` with their
documented ranges (percentages 0-100, counts and durations >= 0, polarity -1...1). Every
field is optional: a client sends the indicators it has, and a missing indicator means "no
data", never 0. Unknown fields, wrong types (a string or a boolean where a number belongs),
NaN and infinity are refused with a 400 that names the field.

The batch limit is not part of the schema: it is configurable per deployment
(``CUSTOMER_HEALTH_MAX_BATCH``) and checked by the service, which answers 413 with the limit
in the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

from features.catalogue import (
    categorical_columns,
    describe_indicator,
    lookup,
    numeric_columns,
    valid_range,
)

DEFAULT_MAX_BATCH = 1000


def _openapi_30_nullable(node: dict[str, Any]) -> None:
    """Write optional values the OpenAPI 3.0 way (``nullable: true``), in place.

    Pydantic writes ``anyOf: [X, {"type": "null"}]`` (JSON Schema, OpenAPI 3.1), but BentoML
    publishes an OpenAPI 3.0 document, where ``null`` is not a type: clients and
    schemathesis would then read a null as a schema violation.
    """
    options = node.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node.update(rest[0])
        elif len(rest) == 1:
            node["allOf"] = rest  # a $ref takes no sibling keywords in OpenAPI 3.0
        else:
            node["anyOf"] = rest
        node["nullable"] = True
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]  # OpenAPI 3.0.3: a nullable enum lists null
    children = list(node.get("properties", {}).values()) + list(node.get("anyOf", []))
    children += [node[k] for k in ("items", "additionalProperties") if isinstance(node.get(k), dict)]
    for child in children:
        _openapi_30_nullable(child)


def _openapi_schema(schema: dict[str, Any], cls: type) -> None:
    _openapi_30_nullable(schema)


class _Model(BaseModel):
    """Base of every request and response model: OpenAPI 3.0 friendly schemas."""

    model_config = ConfigDict(json_schema_extra=_openapi_schema)


@dataclass(frozen=True)
class IndicatorSpec:
    """How the service checks and describes one numeric indicator field."""

    group: str
    description: str
    example: float | None
    ge: float | None
    le: float | None


_UNITS = {"%": "percent", "currency": "in the data's currency", "count": "a count",
          "yes/no": "1 = yes, 0 = no"}
_DIRECTIONS = {"higher": "higher is healthier", "lower": "lower is healthier"}


def _description(name: str) -> str:
    """The field's description from the indicator catalogue, plus its note if any.

    Examples
    --------
    >>> _description("csat_90d")
    'CSAT, last 90 days (percent; higher is healthier).'
    """
    about = describe_indicator(name)
    record, _ = lookup(name)
    details = [_UNITS.get(about.unit, about.unit), _DIRECTIONS.get(about.good_is, "")]
    text = f"{about.label} ({'; '.join(d for d in details if d)})."
    return f"{text} {record.note}" if record.note else text


def indicator_specs() -> dict[str, IndicatorSpec]:
    """The numeric indicators of the catalogue at its default windows, in output order."""
    specs = {}
    for name in numeric_columns():
        record, _ = lookup(name)
        ge, le = valid_range(name)
        specs[name] = IndicatorSpec(record.group, _description(name), record.example, ge, le)
    return specs


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True,
                     json_schema_extra=_openapi_schema)


class _AccountBase(BaseModel):
    model_config = _STRICT

    account_id: str = Field(
        min_length=1, max_length=200, description="Your identifier of the account; answers echo it.",
        examples=["A-00042"],
    )
    segment: str | None = Field(
        None, max_length=200,
        description="Customer segment; picks the segment's scorecard when one is configured.",
        examples=["enterprise"],
    )
    region: str | None = Field(None, max_length=200, description="Region of the account.",
                               examples=["emea"])
    plan: str | None = Field(None, max_length=200, description="Plan of the account.",
                             examples=["pro"])
    nps_category_latest: Literal["promoter", "passive", "detractor"] | None = Field(
        None, description="NPS category of the latest answer.", examples=["passive"]
    )
    previous_score: float | None = Field(
        None, ge=0, le=100,
        description="The account's previous health score (0-100), to report the trend.",
        examples=[71.0],
    )


def _indicator_field(spec: IndicatorSpec) -> tuple[Any, Any]:
    return (
        float | None,
        Field(None, ge=spec.ge, le=spec.le, description=spec.description, examples=[spec.example]),
    )


def account_model(specs: dict[str, IndicatorSpec] | None = None) -> type[BaseModel]:
    """The request model of one account: a field per numeric indicator of the catalogue.

    Built from the catalogue when called (:func:`indicator_specs`), so a new catalogue
    record becomes a checked, documented request field with no other edit.
    """
    specs = indicator_specs() if specs is None else specs
    model = create_model(
        "AccountIndicators",
        __base__=_AccountBase,
        __doc__=(
            "One account: its id, optional segment and previous score, and any subset of the "
            "indicators of docs/indicators.md. A missing indicator means no data, never 0."
        ),
        **{name: _indicator_field(spec) for name, spec in specs.items()},
    )
    model.__module__ = __name__
    return model


INDICATOR_SPECS: dict[str, IndicatorSpec] = indicator_specs()
NUMERIC_INDICATORS: tuple[str, ...] = tuple(INDICATOR_SPECS)
CATEGORICAL_INDICATORS: tuple[str, ...] = categorical_columns()
AccountIndicators = account_model(INDICATOR_SPECS)


class AccountsRequest(_Model):
    """One or many accounts to score (an empty list is refused)."""

    model_config = _STRICT

    as_of: date | None = Field(
        None, strict=False, ge=date(1678, 1, 1), le=date(2261, 12, 31),
        description=(
            "The date the indicators describe (ISO date, 1678-01-01 to 2261-12-31), optional. "
            "Given, the service checks "
            "the model against it: a model whose test window ends after it answers with a "
            "warning in `model_warnings`."
        ),
        examples=["2026-07-01"],
    )

    accounts: list[AccountIndicators] = Field(  # type: ignore[valid-type]
        min_length=1,
        description=(
            "The accounts to score, at least one. The service refuses batches above its "
            f"limit (default {DEFAULT_MAX_BATCH}) with 413."
        ),
        examples=[[{"account_id": "A-00042", "segment": "smb", "csat_90d": 62.5,
                    "sessions_30d": 14, "tickets_90d": 3, "days_since_last_activity": 2}]],
    )


def columns_from_accounts(accounts: list[BaseModel]) -> tuple[dict[str, np.ndarray],
                                                                dict[str, np.ndarray]]:
    """Request accounts as arrays by indicator: (numbers, labels), for
    :func:`models.scoring.score_rows`.

    Every indicator is present: a numeric field the client left out is NaN, a label None.

    Examples
    --------
    >>> numbers, labels = columns_from_accounts([AccountIndicators(account_id="A1", csat_90d=50.0)])
    >>> numbers["csat_90d"].tolist(), bool(np.isnan(numbers["sessions_30d"][0])), labels["segment"].tolist()
    ([50.0], True, [None])
    """
    # One float block built row by row (None becomes NaN): a request is small, and
    # per-column conversions would cost more than the scoring itself for one account.
    values = np.array(
        [[getattr(a, name) for name in NUMERIC_INDICATORS] for a in accounts], dtype="float64"
    ).reshape(len(accounts), len(NUMERIC_INDICATORS))
    numbers = {name: values[:, j] for j, name in enumerate(NUMERIC_INDICATORS)}
    labels = {}
    for name in CATEGORICAL_INDICATORS:
        column = np.empty(len(accounts), dtype=object)
        column[:] = [getattr(a, name) for a in accounts]
        labels[name] = column
    return numbers, labels


def request_bodies(indicators: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON request accounts from an indicator table (``compute_indicators`` output).

    Missing values are left out (no data), numbers become floats, labels strings; columns
    the schema does not know are ignored. Clients, tests and benchmarks use it to send real
    indicators.

    Examples
    --------
    >>> table = pd.DataFrame({"csat_90d": [80.0, float("nan")], "segment": ["SMB", None]},
    ...                      index=pd.Index(["a", "b"], name="account_id"))
    >>> request_bodies(table)
    [{'account_id': 'a', 'segment': 'SMB', 'csat_90d': 80.0}, {'account_id': 'b'}]
    """
    known = [c for c in CATEGORICAL_INDICATORS + NUMERIC_INDICATORS if c in indicators.columns]
    bodies = []
    for account, values in zip(indicators.index, indicators[known].itertuples(index=False)):
        body: dict[str, Any] = {"account_id": str(account)}
        for name, value in zip(known, values):
            if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                continue
            body[name] = str(value) if name in CATEGORICAL_INDICATORS else float(value)
        bodies.append(body)
    return bodies


class ErrorBody(_Model):
    """The body of every error answer."""

    error: str = Field(description="What is wrong, naming the field.",
                       examples=["accounts[0].csat_90d: Input should be less than or equal to 100"])
    detail: str | None = Field(None, description="Every problem, one per line.")


class HealthDriver(_Model):
    """A measure that cost the account points, in words."""

    measure: str = Field(description="Scorecard measure.", examples=["csat"])
    indicator: str = Field(description="Indicator the measure reads.", examples=["csat_90d"])
    value: float | None = Field(description="The indicator's value.", examples=[38.0])
    points_lost: float = Field(description="Points of the overall score this measure cost.",
                               examples=[9.4])
    text: str = Field(description="The reason in words.",
                      examples=["CSAT, last 90 days: 38% (poor ≤ 50%) cost 9.4 points"])


class HealthScore(_Model):
    """The deterministic health score of one account."""

    account_id: str = Field(examples=["A-00042"])
    health_score: float | None = Field(
        description="0-100; null when too few indicators were given (see coverage).",
        examples=[64.3],
    )
    health_band: str = Field(description="Band label, or 'insufficient data'.",
                             examples=["yellow"])
    health_color: str | None = Field(description="Colour of the band.", examples=["#f2c744"])
    health_coverage: float = Field(description="Share 0-1 of the scorecard's weight that had data.",
                                   examples=[0.8])
    health_trend: Literal["up", "down", "flat"] | None = Field(
        description="Against previous_score; null when none was given.", examples=["down"]
    )
    health_delta: float | None = Field(description="Score minus previous_score.",
                                       examples=[-6.5])
    groups: dict[str, float | None] = Field(description="Score 0-100 of each measure group.",
                                            examples=[{"engagement": 71.0}])
    measures: dict[str, float | None] = Field(description="Score 0-100 of each measure.",
                                              examples=[{"csat": 40.0}])
    drivers: list[HealthDriver] = Field(description="The measures that cost the most points.")


class ChurnDriver(_Model):
    """An indicator that pushed the churn probability, in words."""

    indicator: str = Field(description="Indicator column (docs/indicators.md).",
                           examples=["csat_90d"])
    label: str = Field(description="The indicator in words.", examples=["CSAT, last 90 days"])
    value: float | str | None = Field(description="The account's value; null for no data.",
                                      examples=[38.0])
    contribution: float = Field(
        description="SHAP contribution to the model's score (log-odds of churn; positive "
                    "raises the risk).",
        examples=[0.91],
    )
    text: str = Field(description="The driver in words, with how strongly it moved the risk.",
                      examples=["CSAT, last 90 days is 38% — raises churn risk strongly"])


class ChurnRisk(_Model):
    """The model's churn risk for one account."""

    account_id: str = Field(examples=["A-00042"])
    churn_probability: float | None = Field(
        ge=0, le=1, description="Calibrated probability 0-1; null when too few of the model's "
        "indicators were given (see churn_reason).", examples=[0.27])
    risk_band: Literal["high", "medium", "low", "insufficient data"] = Field(examples=["medium"])
    top_drivers: list[ChurnDriver] = Field(description="Indicators that pushed the risk most.")
    churn_coverage: float = Field(ge=0, le=1, description="Share 0-1 of the model's indicators "
                                  "that had data.", examples=[0.85])
    churn_reason: str | None = Field(default=None, description="Why there is no churn "
                                     "probability; null when there is one.")


class ModelProvenance(_Model):
    """What the model learnt from, to compare with the accounts sent (see ``as_of``)."""

    mode: str | None = Field(description="'tables' (event tables) or 'flat table'.",
                             examples=["tables"])
    data_start: str | None = Field(description="First day of its training data (ISO date).",
                                   examples=["2025-01-01"])
    data_end: str | None = Field(description="Last day of its training data (ISO date).",
                                 examples=["2026-01-01"])
    test_start: str | None = Field(description="First date of its out-of-time test.",
                                   examples=["2025-08-19"])
    test_window_end: str | None = Field(
        description="End of its test dates' label windows: its figures were measured on what "
        "happened up to this day.", examples=["2026-01-01"])
    data_sha256: str | None = Field(description="Content hash of the tables it was trained on.",
                                    examples=["a6cabb82..."])


class ModelRef(_Model):
    """Which registered model answered, and what it learnt from."""

    name: str | None = Field(description="Registered name; null for a model loaded by path.",
                             examples=["customer-health-churn"])
    version: str | None = Field(description="Registered version; null for a model loaded by path.",
                                examples=["3"])
    alias: str | None = Field(examples=["champion"])
    uri: str = Field(examples=["models:/customer-health-churn@champion"])
    trained_on: ModelProvenance | None = Field(
        default=None, description="Its training data and test window; null when unknown.")


_WARNINGS = ("Why the model may not fit these accounts: given the request's `as_of`, a model "
             "whose test window ends after it was measured on that date's future. Empty when "
             "nothing says so.")


class HealthScoreResponse(_Model):
    """Health scores, one per account, in the request's order."""

    accounts: list[HealthScore]


class ChurnRiskResponse(_Model):
    """Churn risk, one per account, in the request's order, and the model that produced it."""

    model: ModelRef
    model_warnings: list[str] = Field(default_factory=list, description=_WARNINGS)
    accounts: list[ChurnRisk]


class AccountScore(HealthScore):
    """Health score and churn risk of one account."""

    churn_probability: float | None = Field(
        description="Calibrated probability 0-1; null when no model is loaded or too few of "
        "its indicators were given (see churn_reason).", examples=[0.27]
    )
    risk_band: Literal["high", "medium", "low", "insufficient data"] | None = Field(
        examples=["medium"])
    top_drivers: list[ChurnDriver] | None = Field(
        description="Indicators that pushed the risk most; null when no model is loaded."
    )
    churn_coverage: float | None = Field(
        default=None, description="Share 0-1 of the model's indicators that had data; null "
        "without a model.", examples=[0.85])
    churn_reason: str | None = Field(default=None, description="Why there is no churn "
                                     "probability; null when there is one.")


class ScoreResponse(_Model):
    """Health score and churn risk per account, in the request's order."""

    model: ModelRef | None = Field(description="The model that gave the churn risk; null without one.")
    churn_unavailable: str | None = Field(
        description="Why the churn fields are null (no model registered), else null.",
        examples=[None],
    )
    model_warnings: list[str] = Field(default_factory=list, description=_WARNINGS)
    accounts: list[AccountScore]


class IndicatorInfo(_Model):
    """One indicator the service accepts."""

    name: str = Field(examples=["csat_90d"])
    type: Literal["number", "category"] = Field(examples=["number"])
    group: str = Field(examples=["satisfaction"])
    description: str
    minimum: float | None = Field(examples=[0])
    maximum: float | None = Field(examples=[100])
    used_by_model: bool = Field(description="The loaded model reads this indicator.")
    used_by_scorecard: bool = Field(description="The default scorecard reads this indicator.")


class CommentLanguage(_Model):
    """How comments in one language are read by the polarity trained with the model."""

    language: str = Field(description="ISO 639-1 code.", examples=["fa"])
    method: str = Field(description="learnt (a polarity learnt from survey scores) or none "
                                    "(unsupported: polarity NaN, never 0). English is always "
                                    "read by TextBlob.", examples=["learnt"])
    cv_roc_auc: float | None = Field(description="Cross-validated ROC AUC of the learnt model.",
                                     examples=[0.88])
    reason: str | None = Field(description="Why the language has no learnt model.",
                               examples=[None])


class ScorecardInForce(_Model):
    """The scorecard the service scores health with, and why that one."""

    source: str = Field(description="The scorecard file: a packaged default or the operator's.",
                        examples=["features/scorecard_transactional.toml"])
    reason: str = Field(
        description="Why it is in force: named by the operator, or the default that fits the "
                    "churn definition the model was trained with.",
        examples=["the transactional default, for the model's training run: churn = a lapse: "
                  "no order for 180 days (derived from the gaps between orders)"])


class ModelInfo(_Model):
    """The loaded model and the indicator schema it expects."""

    name: str | None = Field(description="Registered name; null for a model loaded by path.",
                             examples=["customer-health-churn"])
    version: str | None = Field(description="Registered version; null for a model loaded by path.",
                                examples=["3"])
    alias: str | None = Field(examples=["champion"])
    uri: str = Field(examples=["models:/customer-health-churn@champion"])
    run_id: str | None = Field(examples=["5f1c0e..."])
    trained_at: str | None = Field(description="ISO 8601 training date.",
                                   examples=["2026-11-20T02:14:00"])
    metrics: dict[str, float | None] = Field(description="Evaluation metrics logged at training.",
                                             examples=[{"roc_auc": 0.81}])
    feature_names: list[str] = Field(description="Indicators the model reads, in its order.")
    trained_on: ModelProvenance | None = Field(
        default=None, description="Its training data, test window and data fingerprint.")
    indicators: list[IndicatorInfo] = Field(description="Every indicator the service accepts.")
    comment_languages: list[CommentLanguage] = Field(
        default_factory=list,
        description="The comment polarity stored with the model, per language: what the batch "
                    "job reads comments with when it scores with this model.")
    scorecard: ScorecardInForce = Field(
        description="The scorecard in force for health scores (`used_by_scorecard` refers to it).")


# Answers every POST route may give besides 200 and BentoML's own 400/404/500, in the body
# of :class:`ErrorBody` (see ``serving.http_guard`` and ``serving.service``).
ERROR_ANSWERS = {
    "408": "The body did not arrive in time (CUSTOMER_HEALTH_BODY_TIMEOUT).",
    "413": "Too many accounts, or a body over the byte limit that follows from it.",
    "415": "The body is not sent as application/json.",
    "503": "No churn model is loaded (the reason says why); /health_score never answers it.",
}


def complete_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """BentoML's OpenAPI document, made to say what the service does, in place.

    Request bodies of the ``POST`` routes are required; their 408, 413, 415 and 503 answers
    are declared with :class:`ErrorBody`; ``/readyz`` declares its 503 (no model yet) and
    ``/metrics`` its Prometheus text.
    """
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for methods in document.get("paths", {}).values():
        post = methods.get("post")
        if post is None or "requestBody" not in post:
            continue
        post["requestBody"]["required"] = True
        for status, text in ERROR_ANSWERS.items():
            post["responses"].setdefault(status, {"description": text, **error})
    paths = document.get("paths", {})
    if "/readyz" in paths:
        paths["/readyz"]["get"]["responses"].setdefault(
            "503", {"description": "Not ready: no churn model is loaded yet."})
    if "/metrics" in paths:
        paths["/metrics"]["get"]["responses"]["200"]["content"] = {
            "text/plain": {"schema": {"type": "string"}}}
    return document
