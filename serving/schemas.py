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
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

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


def _windowed(stem: str, meaning: str, example: float, *, group: str, ge=None, le=None,
              le_is_window: bool = False) -> dict[str, _Spec]:
    return {
        f"{stem}_{w}d": _Spec(
            f"{meaning} over the last {w} days.", example, ge=ge, le=w if le_is_window else le,
            group=group,
        )
        for w in WINDOWS
    }


def _indicator_specs() -> dict[str, _Spec]:
    """The numeric indicators of docs/indicators.md, in the document's order."""
    specs: dict[str, _Spec] = {
        "tenure_days": _Spec("Days from signup to the scoring date.", 412, ge=0, group="account"),
        "mrr": _Spec("Monthly recurring revenue.", 1250.0, ge=0, group="account"),
    }
    specs |= _windowed("active_days", "Distinct days with a session", 12, ge=0,
                       le_is_window=True, group="engagement")
    specs |= _windowed("sessions", "Sessions started (a count)", 40, ge=0, group="engagement")
    specs |= _windowed("active_users", "Distinct users with a session (a count)", 5, ge=0,
                       group="engagement")
    specs |= _windowed("pages_per_session", "Mean page views per session", 6.5, ge=0,
                       group="engagement")
    specs |= _windowed("avg_session_minutes", "Mean session duration in minutes", 11.2, ge=0,
                       group="engagement")
    specs["days_since_last_activity"] = _Spec(
        "Days since the last session (omit when the account never had one).", 3, ge=0,
        group="engagement",
    )
    specs["sessions_trend_30d"] = _Spec(
        "Percent change of sessions, last 30 days against the 30 before (-100 or more).",
        -12.5, ge=PERCENT_CHANGE_MIN, group="engagement",
    )
    specs |= _windowed("tickets", "Support tickets created (a count)", 2, ge=0, group="support")
    specs |= _windowed("resolution_hours_mean", "Mean resolution time in hours of tickets resolved",
                       18.0, ge=0, group="support")
    specs |= _windowed("resolution_hours_median", "Median resolution time in hours of tickets resolved",
                       12.0, ge=0, group="support")
    specs |= _windowed("first_response_hours_mean", "Mean first-response time in hours",
                       2.5, ge=0, group="support")
    specs["open_tickets"] = _Spec("Tickets still open at the scoring date (a count).", 1, ge=0,
                                  group="support")
    specs["open_ticket_age_days_max"] = _Spec("Age in days of the oldest open ticket.", 9, ge=0,
                                              group="support")
    specs |= _windowed("reopened_share", "Percent (0-100) of tickets reopened at least once",
                       10.0, ge=0, le=100, group="support")
    specs["nps_latest"] = _Spec("Latest NPS answer, 0-10.", 8, ge=0, le=10, group="satisfaction")
    specs |= _windowed("nps_mean", "Mean NPS answer (0-10)", 7.5, ge=0, le=10, group="satisfaction")
    specs |= _windowed("csat", "Percent (0-100) of satisfied CSAT answers", 80.0, ge=0, le=100,
                       group="satisfaction")
    specs |= _windowed("csat_mean", "Mean CSAT answer on the configured CSAT scale", 4.1, ge=0,
                       group="satisfaction")
    specs |= _windowed("ces_mean", "Mean CES answer on the configured scale, higher = easier",
                       3.9, ge=0, group="satisfaction")
    specs |= _windowed("comments", "Comments the sentiment analyser could read (a count)", 3,
                       ge=0, group="sentiment")
    specs |= _windowed("sentiment_mean", "Mean polarity (-1...1) of readable comments", 0.2,
                       ge=-1, le=1, group="sentiment")
    specs |= _windowed("negative_comment_share",
                       "Percent (0-100) of readable comments with polarity below -0.1", 25.0,
                       ge=0, le=100, group="sentiment")
    specs |= _windowed("unsupported_comment_share",
                       "Percent (0-100) of comments in a language the analyser cannot read", 0.0,
                       ge=0, le=100, group="sentiment")
    specs["sentiment_latest"] = _Spec("Polarity (-1...1) of the latest readable comment.", 0.1,
                                      ge=-1, le=1, group="sentiment")
    specs["sentiment_trend_90d"] = _Spec(
        "Mean polarity of the last 90 days minus the 90 before (-2...2).", -0.05, ge=-2, le=2,
        group="sentiment",
    )
    specs |= _windowed("orders", "Orders placed (a count)", 4, ge=0, group="commercial")
    specs |= _windowed("repeat_purchase", "1 with two or more orders, 0 with one (omit with none)",
                       1, ge=0, le=1, group="commercial")
    specs |= _windowed("return_rate", "Percent (0-100) of ordered items returned", 5.0, ge=0,
                       le=100, group="commercial")
    specs |= _windowed("revenue", "Sum of order amounts", 3200.0, ge=0, group="commercial")
    specs["revenue_trend_90d"] = _Spec(
        "Percent change of revenue, last 90 days against the 90 before (-100 or more).", 8.0,
        ge=PERCENT_CHANGE_MIN, group="commercial",
    )
    specs["clv"] = _Spec(
        "Customer lifetime value: mrr x 12 x expected lifetime years - acquisition cost "
        "(may be negative).", 41000.0, group="commercial",
    )
    return specs


INDICATOR_SPECS: dict[str, _Spec] = _indicator_specs()
NUMERIC_INDICATORS: tuple[str, ...] = tuple(INDICATOR_SPECS)
CATEGORICAL_INDICATORS: tuple[str, ...] = ("segment", "region", "plan", "nps_category_latest")

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
                      examples=["CSAT 38% (poor ≤ 50%) cost 9.4 points"])


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

    indicator: str = Field(examples=["days_since_last_activity"])
    value: float | str | None = Field(examples=[21.0])
    contribution: float = Field(description="Contribution to the model's score (log-odds scale).",
                                examples=[0.42])
    text: str = Field(examples=["21 days since the last activity raised the risk"])


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
