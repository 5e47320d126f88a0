"""Tables of the proactive insights and the Slack app.

- ``digest_settings``: where and when a tenant's digest goes (Slack channel and workspace,
  e-mail recipients, schedule overrides).
- ``insights_sent``: one row per insight identity (``key``) already delivered, with the value it
  had, so an insight is repeated only when it changed materially.
- ``insight_feedback``: every verdict (snooze, dismiss, wrong with a reason, approve, explain);
  a "wrong" verdict records the detector threshold before and after the tuning it caused.
- ``detector_thresholds``: each tenant's tuned threshold per detector (absent = the default).
- ``digest_runs``: one row per (tenant, schedule slot): the unique key is what makes a slot run
  once however many schedulers race for it; the built digest is kept as JSON for the feed.
- ``scheduler_leases``: a lease row; whoever holds it is the one active scheduler.
- ``slack_users``: a Slack user of a workspace mapped to an mspilot user (roles and scope apply).
- ``approved_actions``: actions a person approved (or rejected) from an insight (pricing).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mspilot.db.schema import Base

_SERIAL = BigInteger().with_variant(Integer, "sqlite")


def _tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant")


class DigestSettings(Base):
    """Where a tenant's digests go and schedule overrides (null = the global setting)."""

    __tablename__ = "digest_settings"
    __table_args__ = (
        _tenant_fk("digest_settings"),
        UniqueConstraint("slack_team_id", name="uq_digest_settings_slack_team_id"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    slack_team_id: Mapped[str | None] = mapped_column(String(40), comment="Slack workspace")
    slack_channel: Mapped[str | None] = mapped_column(String(80), comment="Digest channel id")
    email_to: Mapped[str | None] = mapped_column(Text, comment="Comma-separated recipients")
    weekday: Mapped[int | None] = mapped_column(Integer, comment="0 = Monday")
    hour: Mapped[int | None] = mapped_column(Integer, comment="Tenant local hour")
    daily_alerts: Mapped[bool | None] = mapped_column(Boolean)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime]


class InsightSent(Base):
    """An insight identity already delivered, with the value it had when last sent."""

    __tablename__ = "insights_sent"
    __table_args__ = (_tenant_fk("insights_sent"),)
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    detector: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    metric: Mapped[float] = mapped_column(Float, comment="The detector's measure when sent")
    dollars: Mapped[float] = mapped_column(Float)
    first_sent_at: Mapped[dt.datetime]
    last_sent_at: Mapped[dt.datetime]
    times_sent: Mapped[int] = mapped_column(Integer, default=1)
    last_digest_id: Mapped[int | None] = mapped_column(Integer)


class InsightFeedback(Base):
    """A person's verdict on an insight."""

    __tablename__ = "insight_feedback"
    __table_args__ = (
        _tenant_fk("insight_feedback"),
        Index("ix_insight_feedback_tenant_key", "tenant_id", "key"),
        Index("ix_insight_feedback_tenant_at", "tenant_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    detector: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(
        String(20), comment="snooze / dismiss / wrong / approve / explain"
    )
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(40))
    via: Mapped[str] = mapped_column(String(20), comment="slack / cli / api")
    snooze_until: Mapped[dt.date | None] = mapped_column(Date)
    threshold_before: Mapped[float | None] = mapped_column(Float)
    threshold_after: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime]


class DetectorThreshold(Base):
    """A tenant's tuned threshold for one detector."""

    __tablename__ = "detector_thresholds"
    __table_args__ = (_tenant_fk("detector_thresholds"),)
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    detector: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    wrong_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime]


class DigestRun(Base):
    """One digest of one tenant for one schedule slot (built once, whoever races for it)."""

    __tablename__ = "digest_runs"
    __table_args__ = (
        _tenant_fk("digest_runs"),
        UniqueConstraint("tenant_id", "slot", name="uq_digest_runs_tenant_id_slot"),
        Index("ix_digest_runs_status_finished_at", "status", "finished_at"),
    )
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(80), comment="e.g. weekly:2026-11-02T08:00")
    kind: Mapped[str] = mapped_column(String(10), comment="weekly / daily / manual")
    status: Mapped[str] = mapped_column(String(12), comment="running / done / failed")
    holder: Mapped[str] = mapped_column(String(80), comment="Who built it")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    items: Mapped[int] = mapped_column(Integer, default=0)
    dollars: Mapped[float] = mapped_column(Float, default=0.0)
    payload: Mapped[str | None] = mapped_column(Text, comment="The digest as JSON")
    deliveries: Mapped[str | None] = mapped_column(Text, comment="JSON: channel -> outcome")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class SchedulerLease(Base):
    """The lease that makes one scheduler active among several workers."""

    __tablename__ = "scheduler_leases"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[dt.datetime]
    acquired_at: Mapped[dt.datetime]


class SlackUser(Base):
    """A Slack user of a workspace, mapped to an mspilot user."""

    __tablename__ = "slack_users"
    __table_args__ = (_tenant_fk("slack_users"), Index("ix_slack_users_tenant", "tenant_id"))
    team_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(40), comment="users.id")
    linked_by: Mapped[str] = mapped_column(String(20), comment="email / manual")
    created_at: Mapped[dt.datetime]


class ApprovedAction(Base):
    """An action a person decided on from an insight (e.g. a price change)."""

    __tablename__ = "approved_actions"
    __table_args__ = (
        _tenant_fk("approved_actions"),
        Index("ix_approved_actions_tenant_key", "tenant_id", "key"),
    )
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    detector: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(Text, comment="JSON description of the action")
    status: Mapped[str] = mapped_column(String(20), comment="approved / rejected")
    decided_by: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime]
