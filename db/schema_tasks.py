"""Tables of the task engine (``mspilot.tasks``), webhooks in and alerts out.

- ``task_runs``: one row per attempt of a task (job, tenant, arguments, status, timings,
  error): what ``mspilot jobs status`` and ``/metrics`` read, and the dead-letter view.
- ``task_locks``: leases by name (``sync:<tenant>:<source>``, ``train:<tenant>``, the
  scheduler's leader lease): one holder at a time, expiring if the holder dies.
- ``task_slots``: one row per schedule slot claimed (``sync:acme:superops@2026-12-08T01:15``):
  the primary key makes each slot run once however many schedulers race for it.
- ``vendor_accounts``: a tenant's connected vendor account per source (SuperOps subdomain,
  QuickBooks realm id), its vendor settings (endpoints, limits; secrets stay encrypted in
  ``source_credentials``), its sync cadence and the hash of its webhook secret; a QuickBooks
  webhook names a realm, and this maps it to the tenant.
- ``webhook_events``: the digest of every accepted webhook delivery (replays are refused).
- ``alert_channels``: where a tenant's digests go besides Slack and e-mail (Microsoft Teams,
  a generic signed webhook).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mspilot.db.schema import Base

_SERIAL = BigInteger().with_variant(Integer, "sqlite")


class TaskRun(Base):
    """One attempt of one task."""

    __tablename__ = "task_runs"
    __table_args__ = (
        Index("ix_task_runs_job_tenant_started", "job", "tenant_id", "started_at"),
        Index("ix_task_runs_status_finished", "status", "finished_at"),
        Index("ix_task_runs_message_id", "message_id"),
    )
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    job: Mapped[str] = mapped_column(String(40), comment="sync / rescore / train / reindex / ...")
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200), comment="e.g. sync:acme:superops")
    args: Mapped[str] = mapped_column(Text, comment="JSON arguments")
    message_id: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(
        String(12), comment="running / done / skipped / failed / dead"
    )
    worker: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    result: Mapped[str | None] = mapped_column(Text, comment="JSON summary")
    error: Mapped[str | None] = mapped_column(Text)


class TaskLock(Base):
    """A named lease: whoever holds it unexpired is the only one doing that work."""

    __tablename__ = "task_locks"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime]
    acquired_at: Mapped[dt.datetime]


class TaskSlot(Base):
    """A schedule slot, claimed once."""

    __tablename__ = "task_slots"
    __table_args__ = (Index("ix_task_slots_claimed_at", "claimed_at"),)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    message_id: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime]


class VendorAccount(Base):
    """A tenant's account at a vendor, synced on a schedule and named by its webhooks."""

    __tablename__ = "vendor_accounts"
    __table_args__ = (UniqueConstraint("source", "account", name="uq_vendor_accounts_account"),)
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    account: Mapped[str | None] = mapped_column(
        String(120), comment="SuperOps subdomain / QuickBooks realm id"
    )
    overrides: Mapped[str | None] = mapped_column(
        Text, comment="JSON: this account's vendor settings (endpoints, limits), no secrets"
    )
    sync_every_minutes: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_secret_hash: Mapped[str | None] = mapped_column(
        String(64), comment="sha256 of the per-tenant webhook secret"
    )
    updated_at: Mapped[dt.datetime]


class WebhookEvent(Base):
    """An accepted webhook delivery (its digest), so a replay is refused."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("source", "digest", name="uq_webhook_events_digest"),
        Index("ix_webhook_events_received_at", "received_at"),
    )
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(64))
    enqueued: Mapped[str] = mapped_column(Text, comment="JSON: what it enqueued")
    received_at: Mapped[dt.datetime]


class AlertChannel(Base):
    """A destination of a tenant's digests besides Slack and e-mail."""

    __tablename__ = "alert_channels"
    __table_args__ = (Index("ix_alert_channels_tenant", "tenant_id"),)
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20), comment="teams / webhook")
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(
        Text, comment="webhook: the HMAC key, encrypted with MSPILOT_SECRET_KEY"
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]
