"""Requests and results of the semantic layer."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mspilot.core.periods import Period, parse_period
from mspilot.db.semantic.catalogue import canonical_dimension, canonical_metric

Order = Literal["desc", "asc", "best", "worst"]


class MetricCondition(BaseModel):
    """A condition on a group's value of a metric of the same fact ("at least 20 tickets")."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    op: Literal[">=", ">", "<=", "<", "="] = ">="
    value: float

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, value: Any) -> Any:
        return canonical_metric(value) if isinstance(value, str) else value


class MetricRequest(BaseModel):
    """A metric, broken down by dimensions, filtered, over a period.

    ``order``: desc/asc by value, or best/worst by the metric's own good end (the worst SLA
    breach rate is the highest). ``conditions``: keep only groups meeting them (HAVING), e.g.
    ``{"metric": "tickets", "op": ">=", "value": 20}``. ``compare_to``: a second (baseline)
    period; the result then holds the value in both and the change (absolute and relative)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    metric: str
    dimensions: list[str] = Field(default_factory=list)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    period: Period | None = None
    top_n: int | None = Field(default=None, ge=1, le=1000)
    order: Order = "desc"
    as_of: dt.date | None = None
    conditions: list[MetricCondition] = Field(default_factory=list)
    compare_to: Period | None = None

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

    @field_validator("period", "compare_to", mode="before")
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
    #: The metric's measure kind (count, sum, average, rate, share, list), or "change".
    measure: str = ""
    #: With ``compare_to``: the baseline period's label.
    baseline_label: str | None = None
