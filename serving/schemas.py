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
import re
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

from features.indicators import CATEGORICAL_COLUMNS, describe_indicator, indicator_columns

DEFAULT_MAX_BATCH = 1000
WINDOWS = (30, 90, 180)
# A percent change computed as (new - old) / old x 100 can land a rounding error below
# -100 (-100.00000000000001 when new is 0); the bound allows for it.
PERCENT_CHANGE_MIN = -100.000001


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
    children = list(node.get("properties", {}).values()) + list(node.get("anyOf", []))
    children += [node[k] for k in ("items", "additionalProperties") if isinstance(node.get(k), dict)]
    for child in children:
        _openapi_30_nullable(child)


def _openapi_schema(schema: dict[str, Any], cls: type) -> None:
    _openapi_30_nullable(schema)


class _Model(BaseModel):
    """Base of every request and response model: OpenAPI 3.0 friendly schemas."""

    model_config = ConfigDict(json_schema_extra=_openapi_schema)


class _Spec:
    """How one indicator is checked and described: type, bounds, meaning, an example."""

    def __init__(self, description: str, example: float, *, ge: float | None = None,
                 le: float | None = None, group: str) -> None:
        self.description, self.example, self.ge, self.le, self.group = (
            description, example, ge, le, group
        )


_WINDOW = "window"  # an upper bound equal to the indicator's window in days

# What the schema adds to the indicator catalogue: per indicator (windowed ones by stem), its
# group, an example value and the range a request is checked against (ge, le; None = open).
# Labels, units and directions come from features.indicators.describe_indicator, the one
# catalogue of how indicators read; the names and their order from indicator_columns.
_RANGES: dict[str, tuple[str, float, float | None, float | str | None]] = {
    "tenure_days": ("account", 412, 0, None),
    "mrr": ("account", 1250.0, 0, None),
    "active_days": ("engagement", 12, 0, _WINDOW),
    "sessions": ("engagement", 40, 0, None),
    "active_users": ("engagement", 5, 0, None),
    "pages_per_session": ("engagement", 6.5, 0, None),
    "avg_session_minutes": ("engagement", 11.2, 0, None),
    "days_since_last_activity": ("engagement", 3, 0, None),
    "sessions_trend_30d": ("engagement", -12.5, PERCENT_CHANGE_MIN, None),
    "tickets": ("support", 2, 0, None),
    "resolution_hours_mean": ("support", 18.0, 0, None),
    "resolution_hours_median": ("support", 12.0, 0, None),
    "first_response_hours_mean": ("support", 2.5, 0, None),
    "open_tickets": ("support", 1, 0, None),
    "open_ticket_age_days_max": ("support", 9, 0, None),
    "reopened_share": ("support", 10.0, 0, 100),
    "nps_latest": ("satisfaction", 8, 0, 10),
    "nps_mean": ("satisfaction", 7.5, 0, 10),
    "csat": ("satisfaction", 80.0, 0, 100),
    "csat_mean": ("satisfaction", 4.1, 0, None),
    "ces_mean": ("satisfaction", 3.9, 0, None),
    "comments": ("sentiment", 3, 0, None),
    "sentiment_mean": ("sentiment", 0.2, -1, 1),
    "negative_comment_share": ("sentiment", 25.0, 0, 100),
    "unsupported_comment_share": ("sentiment", 0.0, 0, 100),
    "sentiment_latest": ("sentiment", 0.1, -1, 1),
    "sentiment_trend_90d": ("sentiment", -0.05, -2, 2),
    "orders": ("commercial", 4, 0, None),
    "repeat_purchase": ("commercial", 1, 0, 1),
    "return_rate": ("commercial", 5.0, 0, 100),
    "revenue": ("commercial", 3200.0, 0, None),
    "revenue_trend_90d": ("commercial", 8.0, PERCENT_CHANGE_MIN, None),
    "clv": ("commercial", 41000.0, None, None),
}
# What the catalogue does not say: what leaving a field out means, and ranges worth words.
_NOTES = {
    "days_since_last_activity": "Leave it out when the account never had a session.",
    "repeat_purchase": "Leave it out when the account placed no order.",
    "clv": "May be negative (acquisition cost above the expected revenue).",
    "sessions_trend_30d": "A percent change: -100 or more.",
    "revenue_trend_90d": "A percent change: -100 or more.",
}
_UNITS = {"%": "percent", "currency": "in the data's currency", "count": "a count",
          "yes/no": "1 = yes, 0 = no"}
_DIRECTIONS = {"higher": "higher is healthier", "lower": "lower is healthier"}


def _description(name: str, stem: str) -> str:
    """The field's description from the indicator catalogue, plus its note if any.

    Examples
    --------
    >>> _description("csat_90d", "csat")
    'CSAT, last 90 days (percent; higher is healthier).'
    """
    about = describe_indicator(name)
    details = [_UNITS.get(about.unit, about.unit), _DIRECTIONS.get(about.good_is, "")]
    text = f"{about.label} ({'; '.join(d for d in details if d)})."
    return f"{text} {_NOTES[stem]}" if stem in _NOTES else text


def _indicator_specs() -> dict[str, _Spec]:
    """The numeric indicators of docs/indicators.md, in the document's order."""
    specs: dict[str, _Spec] = {}
    for name in indicator_columns(WINDOWS):
        if name in CATEGORICAL_COLUMNS:
            continue
        match = re.fullmatch(r"(?P<stem>[a-z_]+)_(?P<days>[0-9]+)d", name)
        stem = match["stem"] if match and match["stem"] in _RANGES and name not in _RANGES else name
        group, example, ge, le = _RANGES[stem]
        if le == _WINDOW:
            le = int(match["days"])
        specs[name] = _Spec(_description(name, stem), example, ge=ge, le=le, group=group)
    return specs


INDICATOR_SPECS: dict[str, _Spec] = _indicator_specs()
NUMERIC_INDICATORS: tuple[str, ...] = tuple(INDICATOR_SPECS)
CATEGORICAL_INDICATORS: tuple[str, ...] = tuple(CATEGORICAL_COLUMNS)

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


def _indicator_field(spec: _Spec) -> tuple[Any, Any]:
    return (
        float | None,
        Field(None, ge=spec.ge, le=spec.le, description=spec.description, examples=[spec.example]),
    )


AccountIndicators = create_model(
    "AccountIndicators",
    __base__=_AccountBase,
    __doc__=(
        "One account: its id, optional segment and previous score, and any subset of the "
        "indicators of docs/indicators.md. A missing indicator means no data, never 0."
    ),
    **{name: _indicator_field(spec) for name, spec in INDICATOR_SPECS.items()},
)
AccountIndicators.__module__ = __name__


class AccountsRequest(_Model):
    """One or many accounts to score (an empty list is refused)."""

    model_config = _STRICT

    accounts: list[AccountIndicators] = Field(  # type: ignore[valid-type]
        min_length=1,
        description=(
            "The accounts to score, at least one. The service refuses batches above its "
            f"limit (default {DEFAULT_MAX_BATCH}) with 413."
        ),
        examples=[[{"account_id": "A-00042", "segment": "smb", "csat_90d": 62.5,
                    "sessions_30d": 14, "tickets_90d": 3, "days_since_last_activity": 2}]],
    )


def frame_from_accounts(accounts: list[BaseModel]) -> pd.DataFrame:
    """An indicator DataFrame indexed by ``account_id`` from request accounts.

    Every indicator column is present; a field the client left out is NaN (no data).

    Examples
    --------
    >>> account = AccountIndicators(account_id="A1", csat_90d=50.0)
    >>> frame = frame_from_accounts([account])
    >>> float(frame.loc["A1", "csat_90d"]), bool(pd.isna(frame.loc["A1", "sessions_30d"]))
    (50.0, True)
    """
    # One float block built row by row: a request is small, and per-column conversions
    # would cost more than the scoring itself for a single account.
    values = np.array(
        [[getattr(a, name) for name in NUMERIC_INDICATORS] for a in accounts], dtype="float64"
    ).reshape(len(accounts), len(NUMERIC_INDICATORS))
    index = pd.Index([a.account_id for a in accounts], name="account_id")
    numbers = pd.DataFrame(values, index=index, columns=list(NUMERIC_INDICATORS))
    labels = pd.DataFrame(
        {name: pd.Series([getattr(a, name) for a in accounts], index=index, dtype=object)
         for name in CATEGORICAL_INDICATORS}
    )
    return pd.concat([labels, numbers], axis=1)


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
    churn_probability: float = Field(ge=0, le=1, description="Calibrated probability 0-1.",
                                     examples=[0.27])
    risk_band: Literal["high", "medium", "low"] = Field(examples=["medium"])
    top_drivers: list[ChurnDriver] = Field(description="Indicators that pushed the risk most.")


class ModelRef(_Model):
    """Which registered model answered."""

    name: str = Field(examples=["customer-health-churn"])
    version: str = Field(examples=["3"])
    alias: str | None = Field(examples=["champion"])
    uri: str = Field(examples=["models:/customer-health-churn@champion"])


class HealthScoreResponse(_Model):
    """Health scores, one per account, in the request's order."""

    accounts: list[HealthScore]


class ChurnRiskResponse(_Model):
    """Churn risk, one per account, in the request's order, and the model that produced it."""

    model: ModelRef
    accounts: list[ChurnRisk]


class AccountScore(HealthScore):
    """Health score and churn risk of one account."""

    churn_probability: float | None = Field(
        description="Calibrated probability 0-1; null when no model is loaded.", examples=[0.27]
    )
    risk_band: Literal["high", "medium", "low"] | None = Field(examples=["medium"])
    top_drivers: list[ChurnDriver] | None = Field(
        description="Indicators that pushed the risk most; null when no model is loaded."
    )


class ScoreResponse(_Model):
    """Health score and churn risk per account, in the request's order."""

    model: ModelRef | None = Field(description="The model that gave the churn risk; null without one.")
    churn_unavailable: str | None = Field(
        description="Why the churn fields are null (no model registered), else null.",
        examples=[None],
    )
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


class ModelInfo(_Model):
    """The loaded model and the indicator schema it expects."""

    name: str = Field(examples=["customer-health-churn"])
    version: str = Field(examples=["3"])
    alias: str | None = Field(examples=["champion"])
    uri: str = Field(examples=["models:/customer-health-churn@champion"])
    run_id: str | None = Field(examples=["5f1c0e..."])
    trained_at: str | None = Field(description="ISO 8601 training date.",
                                   examples=["2026-11-20T02:14:00"])
    metrics: dict[str, float | None] = Field(description="Evaluation metrics logged at training.",
                                             examples=[{"roc_auc": 0.81}])
    feature_names: list[str] = Field(description="Indicators the model reads, in its order.")
    indicators: list[IndicatorInfo] = Field(description="Every indicator the service accepts.")


def finite_or_none(value: Any) -> Any:
    """NaN/NaT/None become None so that JSON answers never carry NaN.

    Examples
    --------
    >>> finite_or_none(float("nan")) is None, finite_or_none(2.5)
    (True, 2.5)
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalar -> python scalar
        return value.item()
    return value
