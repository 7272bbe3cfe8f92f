"""Request and response bodies of the v1 API (they make the OpenAPI document)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from returnrisk.data.parsing import TIMESTAMP_MAX, TIMESTAMP_MIN

__all__ = ["Driver", "RiskResponse", "ProductAttributes", "ScoreLine", "ScoreRequest", "ScoredLine",
           "ScoreResponse", "ModelResponse", "ErrorResponse", "Lang", "error_responses"]

Lang = Literal["en", "fr"]


def _finite(value, info: ValidationInfo):
    """Refuse ``1e309``, ``Infinity``, ``NaN`` (JSON parsers read them as non-finite floats) in plain words."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{info.field_name} {value!r} is not a finite number: send a number ≥ 0, e.g. 79.9")
    return value


def _storable(value: datetime | None, info: ValidationInfo) -> datetime | None:
    """Refuse dates a nanosecond timestamp cannot hold (year 9999, 0001…) in plain words."""
    if value is None:
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=TIMESTAMP_MIN.tzinfo)
    if not (TIMESTAMP_MIN <= aware < TIMESTAMP_MAX):
        raise ValueError(f"{info.field_name} {value.year:04d}-{value.month:02d}-{value.day:02d} is outside the dates "
                         f"returnrisk handles ({TIMESTAMP_MIN:%Y-%m-%d} … {TIMESTAMP_MAX:%Y-%m-%d}): send a real date")
    return value


#: A price: a finite number ≥ 0 (``Field`` first, so the schema says ``minimum: 0``).
Price = Annotated[float, Field(ge=0), BeforeValidator(_finite)]
#: The years a scored date may have, as the OpenAPI schema states them (1678–2261: inside what a
#: nanosecond timestamp holds, 1677-09-22 … 2262-04-11), so clients and schema-driven tests know.
STORABLE_YEARS = r"^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])-"
#: A date of a line or product scored: inside what a timestamp holds.
ScoredTime = Annotated[datetime, Field(json_schema_extra={"pattern": STORABLE_YEARS}), AfterValidator(_storable)]


class FieldError(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong and what to do.")
    code: str = Field(description="Stable machine-readable code.")
    errors: list[FieldError] | None = Field(None, description="For invalid requests: each bad field.")
    sizes: list[str] | None = Field(None, description="For size errors: the sizes the product is sold in.")


def error_responses(*statuses: int) -> dict[int, dict]:
    """The OpenAPI ``responses`` of a route that may answer these error statuses."""
    return {status: {"model": ErrorResponse} for status in statuses}


class Driver(BaseModel):
    feature: str
    label: str = Field(description="Human-readable name, in the requested language.")
    value: str | float | None = Field(description="The feature's value for this line.")
    value_text: str
    contribution: float = Field(description="Exact TreeSHAP contribution (log-odds for P(return)).")
    direction: Literal["increases", "decreases"]


class RiskResponse(BaseModel):
    product_id: str
    size: str | None
    customer_id: str | None
    customer_known: bool = Field(description="False when the customer has no history (scored as new).")
    p_return: float = Field(ge=0, le=1, description="Calibrated probability that the line comes back.")
    reasons: dict[str, float] = Field(description="P(return for this reason group); they sum to p_return.")
    risk_band: Literal["low", "medium", "high"] = Field(description="Relative to the product's category.")
    base_log_odds: float | None = Field(None, description="base_log_odds + sum of all contributions = "
                                        "logit(p_return). Like the drivers: always for a visitor, for a known "
                                        "customer and in /v1/score only with explain=true (absent otherwise).")
    order_context_log_odds: float | None = Field(None, description="On a product page (this endpoint) there is no "
                                                 "order yet: the line is scored as bought alone and the contribution "
                                                 "of that order context (items in the order, same item several "
                                                 "times, several sizes) is this sum, left out of the drivers. "
                                                 "base_log_odds + this + the other contributions = logit(p_return).")
    drivers: list[Driver] | None = Field(None, description="The five largest exact TreeSHAP contributions "
                                         "(present as base_log_odds is; on a product page without the order "
                                         "context).")
    reason_drivers: dict[str, list[Driver]] | None = Field(None, description="The three largest per reason group "
                                                           "(present as base_log_odds is).")
    message: str | None = Field(description="Shopper-facing sentence, only when the evidence supports it.")
    model_version: str | None


class ProductAttributes(BaseModel):
    """Attributes of a product the model may never have seen (cold start)."""

    model_config = ConfigDict(extra="ignore")
    category: str | None = Field(None, max_length=200)
    brand: str | None = Field(None, max_length=200)
    price: Price | None = None
    has_size_guide: bool | None = None
    n_photos: int | None = Field(None, ge=0)
    description: str | None = Field(None, max_length=20_000)
    created_at: ScoredTime | None = None
    size_system: Literal["letter", "eu", "us", "waist", "shoe", "unsized"] | None = None


class ScoreLine(BaseModel):
    model_config = ConfigDict(extra="ignore")
    line_id: str | None = Field(None, max_length=200)
    order_id: str | None = Field(None, max_length=200)
    customer_id: str | None = Field(None, max_length=200)
    product_id: str = Field(min_length=1, max_length=200)
    size: str | None = Field(None, max_length=50)
    quantity: int = Field(1, ge=1, le=10_000)
    unit_price: Price | None = None
    ordered_at: ScoredTime | None = Field(None, description="Default: now.")
    product: ProductAttributes | None = None


class ScoreRequest(BaseModel):
    lines: list[ScoreLine] = Field(min_length=1, description="A basket or a batch (at most 1,000 lines).")
    lang: Lang = "en"


class ScoredLine(RiskResponse):
    line_id: str
    product_known: bool = Field(description="False for a product scored from the attributes sent (cold start).")


class ScoreResponse(BaseModel):
    model_version: str | None
    lines: list[ScoredLine]


class ModelResponse(BaseModel):
    version: str | None
    alias: str | None
    uri: str | None
    run_id: str | None
    trained_at: str | None
    as_of: str | None
    data_first_order: str | None
    data_last_order: str | None
    validation_start: str | None
    code_version: str | None
    loaded_at: str
    metrics: dict[str, float]
