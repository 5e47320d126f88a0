"""Requests and results of the semantic layer."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mspilot.core.periods import Period, parse_period
from mspilot.db.semantic.catalogue import canonical_dimension, canonical_metric


class MetricRequest(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    metric: str
    dimensions: list[str] = Field(default_factory=list)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    period: Period | None = None
    top_n: int | None = Field(default=None, ge=1, le=1000)
    order: Literal["desc", "asc"] = "desc"
    as_of: dt.date | None = None

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, value: Any) -> Any:
        return canonical_metric(value) if isinstance(value, str) else value

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dimensions(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [canonical_dimension(v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any, info: ValidationInfo) -> Period | None:
        """Codes, labels and ranges; relative words ("last month") only with a ``today`` in
        the validation context (``MetricRequest.model_validate(data, context={"today": d})``)."""
        today = (info.context or {}).get("today")
        return parse_period(value, today)

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                canonical_dimension(k): v if isinstance(v, list) else [v] for k, v in value.items()
            }
        return value


class MetricResult(BaseModel):
    metric: str
    columns: list[str]
    rows: list[list[Any]]
    period_label: str | None
    sql: str
    row_count: int
    unit: str = ""
    as_of: dt.date | None = None
