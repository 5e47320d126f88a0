"""The shapes of the insights: detectors, one insight, one digest.

Four detectors read the models' outputs; each has a threshold on its own measure (tuned per
tenant by "wrong" verdicts), a rule for what counts as a material change (an insight already
sent is repeated only then), an urgency rule (urgent items also go out as daily alerts) and an
audience (the roles that may see it, the same rules as the API).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from mspilot.core.roles import MONEY
from mspilot.models.explain import ChurnDriver

DetectorName = Literal["churn_risk", "revenue_leak", "pricing", "capacity"]
DigestKind = Literal["weekly", "daily", "manual"]
Severity = Literal["info", "warning", "critical"]
Status = Literal["new", "changed", "sent"]
Verdict = Literal["snooze", "dismiss", "wrong", "approve", "explain"]

SNOOZE_DAYS = 30


@dataclass(frozen=True)
class Detector:
    name: DetectorName
    label: str
    measure: str  # what the threshold is compared with, in words
    unit: Literal["probability", "dollars", "hours"]
    default: float
    #: a "wrong" verdict adds ``step_add`` (probabilities) or multiplies by ``step_mul``
    step_add: float = 0.0
    step_mul: float = 1.0
    ceiling: float = float("inf")
    #: material change: the measure rose by at least this much (for probabilities: a quarter
    #: of the previous risk, between two points and ``change_abs``) ...
    change_abs: float = float("inf")
    #: ... or the dollars at stake moved by at least this share
    change_rel: float = 0.25
    audience: frozenset[str] = MONEY

    def raised(self, value: float) -> float:
        new = value + self.step_add if self.step_add else value * self.step_mul
        return round(min(new, self.ceiling), 4)

    def fmt(self, value: float) -> str:
        if self.unit == "probability":
            return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"
        if self.unit == "dollars":
            return f"${value:,.0f}"
        return f"{value:,.0f} h"


DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        Detector(
            "churn_risk",
            "Churn risk",
            "90-day churn probability",
            "probability",
            default=0.05,
            step_mul=1.25,
            ceiling=0.95,
            change_abs=0.05,
            change_rel=float("inf"),  # only a rising risk is news again
        ),
        Detector(
            "revenue_leak",
            "Revenue leak",
            "dollars not billed",
            "dollars",
            default=250.0,
            step_mul=1.5,
        ),
        Detector(
            "pricing",
            "Pricing opportunity",
            "expected 12-month gain",
            "dollars",
            default=500.0,
            step_mul=1.5,
            audience=frozenset({"owner", "finance"}),
        ),
        Detector(
            "capacity",
            "Capacity crunch",
            "forecast hours beyond capacity (next 8 weeks)",
            "hours",
            default=8.0,
            step_mul=1.5,
        ),
    )
}


def detector_of(key: str) -> Detector:
    name = key.split(":", 1)[0]
    if name not in DETECTORS:
        from mspilot.core.errors import UserInputError

        raise UserInputError(f"{key!r} is not an insight key (detectors: {', '.join(DETECTORS)})")
    return DETECTORS[name]


class InsightItem(BaseModel):
    """One finding in a digest."""

    key: str = Field(description="Stable identity: detector and subject")
    detector: DetectorName
    status: Status = "new"
    title: str
    body: str = ""
    dollars: float = Field(description="Dollars at stake (ranking key)")
    metric: float = Field(description="The detector's measure, compared with its threshold")
    threshold: float
    severity: Severity = "warning"
    urgent: bool = False
    client_id: str | None = None
    client_name: str | None = None
    evidence: list[str] = Field(default_factory=list)
    drivers: list[ChurnDriver] = Field(
        default_factory=list, description="Reasons raising the risk (churn items), largest first"
    )
    change: str | None = Field(default=None, description="What changed since it was last sent")
    action: dict[str, Any] | None = Field(default=None, description="What Approve would record")
    audience: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("drivers", mode="before")
    @classmethod
    def _stored_text(cls, value: Any) -> Any:
        """Digests stored before drivers were typed kept their text only."""
        if isinstance(value, list):
            return [
                {"group": "", "text": v, "contribution": 0.0} if isinstance(v, str) else v
                for v in value
            ]
        return value


class Suppressed(BaseModel):
    below_threshold: int = 0
    already_sent: int = 0
    snoozed: int = 0
    dismissed: int = 0
    marked_wrong: int = 0
    approved: int = 0
    not_urgent: int = 0
    over_limit: int = 0


class Tuning(BaseModel):
    detector: str
    before: float
    after: float
    reason: str | None = None
    by: str | None = None
    at: dt.datetime

    def text(self) -> str:
        d = DETECTORS[self.detector]
        why = f" — reason: “{self.reason}”" if self.reason else ""
        return (
            f"{d.label}: now flagged from {d.fmt(self.after)} {d.measure} "
            f"(was {d.fmt(self.before)}) after a “wrong” verdict{why}"
        )


class Decision(BaseModel):
    key: str
    status: str
    action: dict[str, Any]
    by: str | None = None
    at: dt.datetime


class Digest(BaseModel):
    tenant_id: str
    tenant_name: str
    kind: DigestKind
    as_of: dt.date
    generated_at: dt.datetime
    items: list[InsightItem]
    total_dollars: float
    thresholds: dict[str, float]
    tuning: list[Tuning] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    suppressed: Suppressed = Field(default_factory=Suppressed)
    notes: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    digest_id: int | None = None

    @property
    def empty(self) -> bool:
        return not self.items and not self.tuning and not self.decisions

    def item(self, key: str) -> InsightItem | None:
        return next((i for i in self.items if i.key == key), None)
