"""Repository functions over the task tables (``db.schema_tasks``): leases, schedule slots,
run records, vendor accounts and webhook deliveries. Everything here holds across processes
and machines: it lives in the database every worker and scheduler shares."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mspilot.db import leases
from mspilot.db.schema_tasks import TaskLock, TaskRun, TaskSlot, VendorAccount, WebhookEvent

#: statuses a run ends in
FINAL = ("done", "skipped", "failed", "dead", "lost")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates bypass the column type
        value = dt.datetime.fromisoformat(value)
    stamp: dt.datetime = value
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


# ---- leases -----------------------------------------------------------------------------------


def acquire_lock(engine: Engine, name: str, holder: str, now: dt.datetime, ttl_s: float) -> bool:
    """Take or renew the task lock ``name`` for ``holder`` (``db.leases.acquire``)."""
    return leases.acquire(engine, TaskLock, name, holder, now, ttl_s)


def release_lock(engine: Engine, name: str, holder: str) -> None:
    leases.release(engine, TaskLock, name, holder)


def lock_holder(engine: Engine, name: str, now: dt.datetime | None = None) -> str | None:
    """Who holds ``name`` now (None when free or expired)."""
    now = now or utcnow()
    with engine.connect() as conn:
        row = conn.execute(
            select(TaskLock.holder, TaskLock.expires_at).where(TaskLock.name == name)
        ).first()
    if row is None or (_aware(row[1]) or now) < now:
        return None
    return str(row[0])


# ---- schedule slots ---------------------------------------------------------------------------


def claim_slot(engine: Engine, name: str, holder: str, now: dt.datetime) -> bool:
    """True for exactly one caller per slot name, however many race for it."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(TaskSlot).values(name=name, holder=holder, claimed_at=now))
        return True
    except IntegrityError:
        return False


def slot_enqueued(engine: Engine, name: str, message_id: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(update(TaskSlot).where(TaskSlot.name == name).values(message_id=message_id))


def release_slot(engine: Engine, name: str) -> None:
    """Give a slot back (its task could not be enqueued: the next tick tries again)."""
    with engine.begin() as conn:
        conn.execute(delete(TaskSlot).where(TaskSlot.name == name))


def prune_slots(engine: Engine, before: dt.datetime) -> int:
    with engine.begin() as conn:
        return int(conn.execute(delete(TaskSlot).where(TaskSlot.claimed_at < before)).rowcount)


# ---- runs -------------------------------------------------------------------------------------


def start_run(
    engine: Engine,
    *,
    job: str,
    tenant_id: str | None,
    key: str,
    args: dict[str, Any],
    message_id: str | None,
    attempt: int,
    worker: str,
    now: dt.datetime,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(TaskRun).values(
                job=job,
                tenant_id=tenant_id,
                key=key[:200],
                args=json.dumps(args, default=str, sort_keys=True),
                message_id=message_id,
                attempt=attempt,
                status="running",
                worker=worker[:120],
                started_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish_run(
    engine: Engine,
    run_id: int,
    status: str,
    now: dt.datetime,
    *,
    duration_s: float,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(TaskRun)
            .where(TaskRun.id == run_id)
            .values(
                status=status,
                finished_at=now,
                duration_s=round(duration_s, 4),
                result=None if result is None else json.dumps(result, default=str)[:20_000],
                error=None if error is None else error[:4000],
            )
        )


def mark_dead(engine: Engine, message_id: str, error: str, now: dt.datetime) -> None:
    """The broker gave up on a message (retries exhausted): its last run is dead-lettered."""
    with engine.begin() as conn:
        last = conn.scalar(select(func.max(TaskRun.id)).where(TaskRun.message_id == message_id))
        if last is not None:
            conn.execute(
                update(TaskRun)
                .where(TaskRun.id == last)
                .values(status="dead", error=error[:4000], finished_at=now)
            )


def mark_lost(engine: Engine, message_id: str, now: dt.datetime) -> list[str]:
    """Earlier attempts of a redelivered message still 'running': their worker died (the
    broker only redelivers an unacknowledged message when its worker's connection is gone).
    Marks them lost and frees the leases those workers held; returns the workers."""
    where = (TaskRun.message_id == message_id, TaskRun.status == "running")
    with engine.begin() as conn:
        workers = sorted({str(w) for w in conn.scalars(select(TaskRun.worker).where(*where))})
        if workers:
            conn.execute(
                update(TaskRun)
                .where(*where)
                .values(status="lost", error="worker died; redelivered", finished_at=now)
            )
            conn.execute(delete(TaskLock).where(TaskLock.holder.in_(workers)))
    return workers


def abandon_runs(engine: Engine, worker_prefix: str, now: dt.datetime) -> int:
    """Runs left 'running' by a worker that died (its messages are redelivered)."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(TaskRun)
                .where(TaskRun.status == "running", TaskRun.worker.like(f"{worker_prefix}%"))
                .values(status="failed", error="worker died", finished_at=now)
            ).rowcount
        )


@dataclass(frozen=True)
class RunRow:
    id: int
    job: str
    tenant_id: str | None
    key: str
    args: dict[str, Any]
    message_id: str | None
    attempt: int
    status: str
    worker: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_s: float | None
    result: dict[str, Any] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "tenant_id": self.tenant_id,
            "key": self.key,
            "args": self.args,
            "message_id": self.message_id,
            "attempt": self.attempt,
            "status": self.status,
            "worker": self.worker,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration_s,
            "result": self.result,
            "error": self.error,
        }


def _run_row(r: Any) -> RunRow:
    return RunRow(
        id=int(r.id),
        job=str(r.job),
        tenant_id=r.tenant_id,
        key=str(r.key),
        args=json.loads(r.args) if r.args else {},
        message_id=r.message_id,
        attempt=int(r.attempt),
        status=str(r.status),
        worker=str(r.worker),
        started_at=_aware(r.started_at) or utcnow(),
        finished_at=_aware(r.finished_at),
        duration_s=None if r.duration_s is None else float(r.duration_s),
        result=json.loads(r.result) if r.result else None,
        error=r.error,
    )


def runs(
    engine: Engine,
    *,
    job: str | None = None,
    tenant_id: str | None = None,
    statuses: Iterable[str] | None = None,
    limit: int = 50,
) -> list[RunRow]:
    """The latest runs, newest first."""
    stmt = select(TaskRun).order_by(TaskRun.id.desc()).limit(limit)
    if job is not None:
        stmt = stmt.where(TaskRun.job == job)
    if tenant_id is not None:
        stmt = stmt.where(TaskRun.tenant_id == tenant_id)
    if statuses is not None:
        stmt = stmt.where(TaskRun.status.in_(list(statuses)))
    with engine.connect() as conn:
        return [_run_row(r) for r in conn.execute(stmt).all()]


def last_run_by_key(engine: Engine, tenant_id: str | None = None) -> dict[str, RunRow]:
    """The latest run of every task key (``sync:acme:superops`` ...)."""
    latest = select(func.max(TaskRun.id)).group_by(TaskRun.key)
    if tenant_id is not None:
        latest = latest.where(TaskRun.tenant_id == tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(select(TaskRun).where(TaskRun.id.in_(latest.scalar_subquery())))
        return {str(r.key): _run_row(r) for r in rows.all()}


def last_success(engine: Engine, job: str) -> dict[str, dt.datetime]:
    """key -> when its latest successful run of ``job`` finished."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(TaskRun.key, func.max(TaskRun.finished_at))
            .where(TaskRun.job == job, TaskRun.status == "done")
            .group_by(TaskRun.key)
        ).all()
    return {str(k): v for k, at in rows if (v := _aware(at)) is not None}


def counts_by_status(engine: Engine, since: dt.datetime) -> dict[tuple[str, str], int]:
    """(job, status) -> runs started since ``since``."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(TaskRun.job, TaskRun.status, func.count())
            .where(TaskRun.started_at >= since)
            .group_by(TaskRun.job, TaskRun.status)
        ).all()
    return {(str(j), str(s)): int(n) for j, s, n in rows}


def prune_runs(engine: Engine, before: dt.datetime) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                delete(TaskRun).where(and_(TaskRun.started_at < before, TaskRun.status.in_(FINAL)))
            ).rowcount
        )


# ---- vendor accounts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    tenant_id: str
    source: str
    account: str | None
    overrides: dict[str, Any]
    sync_every_minutes: int | None
    enabled: bool
    has_webhook_secret: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _account(r: Any) -> Account:
    return Account(
        tenant_id=str(r.tenant_id),
        source=str(r.source),
        account=r.account,
        overrides=json.loads(r.overrides) if r.overrides else {},
        sync_every_minutes=r.sync_every_minutes,
        enabled=bool(r.enabled),
        has_webhook_secret=r.webhook_secret_hash is not None,
    )


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def save_account(
    engine: Engine,
    tenant_id: str,
    source: str,
    now: dt.datetime,
    *,
    webhook_secret: str | None = None,
    **values: Any,
) -> Account:
    """Create or change a tenant's account at ``source`` (fields not given stay as they are)."""
    allowed = {"account", "overrides", "sync_every_minutes", "enabled"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown account fields {sorted(unknown)}")
    if isinstance(values.get("overrides"), dict):
        values["overrides"] = json.dumps(values["overrides"], sort_keys=True)
    if webhook_secret is not None:
        values["webhook_secret_hash"] = secret_hash(webhook_secret)
    where = (VendorAccount.tenant_id == tenant_id, VendorAccount.source == source)
    with engine.begin() as conn:
        if conn.scalar(select(func.count()).select_from(VendorAccount).where(*where)):
            if values:
                conn.execute(update(VendorAccount).where(*where).values(updated_at=now, **values))
        else:
            conn.execute(
                insert(VendorAccount).values(
                    tenant_id=tenant_id,
                    source=source,
                    enabled=values.pop("enabled", True),
                    updated_at=now,
                    **values,
                )
            )
        row = conn.execute(select(VendorAccount).where(*where)).one()
    return _account(row)


def accounts(engine: Engine, tenant_id: str | None = None) -> list[Account]:
    stmt = select(VendorAccount).order_by(VendorAccount.tenant_id, VendorAccount.source)
    if tenant_id is not None:
        stmt = stmt.where(VendorAccount.tenant_id == tenant_id)
    with engine.connect() as conn:
        return [_account(r) for r in conn.execute(stmt).all()]


def account_of(engine: Engine, tenant_id: str, source: str) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(VendorAccount).where(
                VendorAccount.tenant_id == tenant_id, VendorAccount.source == source
            )
        ).first()
    return None if row is None else _account(row)


def tenant_for_account(engine: Engine, source: str, account: str) -> str | None:
    """The tenant whose ``source`` account is ``account`` (a QuickBooks realm id)."""
    with engine.connect() as conn:
        tid = conn.scalar(
            select(VendorAccount.tenant_id).where(
                VendorAccount.source == source,
                VendorAccount.account == account,
                VendorAccount.enabled.is_(True),
            )
        )
    return None if tid is None else str(tid)


def check_webhook_secret(engine: Engine, tenant_id: str, source: str, secret: str) -> bool:
    """Constant-time check of a per-tenant webhook secret (False when none is set)."""
    with engine.connect() as conn:
        stored = conn.scalar(
            select(VendorAccount.webhook_secret_hash).where(
                VendorAccount.tenant_id == tenant_id,
                VendorAccount.source == source,
                VendorAccount.enabled.is_(True),
            )
        )
    if not stored:
        return False
    return hmac.compare_digest(str(stored), secret_hash(secret))


# ---- webhook deliveries -----------------------------------------------------------------------


def record_webhook(
    engine: Engine,
    source: str,
    digest: str,
    tenant_id: str | None,
    enqueued: list[dict[str, Any]],
    now: dt.datetime,
) -> bool:
    """Remember an accepted delivery; False if the same one was accepted before (a replay)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(WebhookEvent).values(
                    source=source,
                    tenant_id=tenant_id,
                    digest=digest,
                    enqueued=json.dumps(enqueued, default=str),
                    received_at=now,
                )
            )
        return True
    except IntegrityError:
        return False


def forget_webhook(engine: Engine, source: str, digest: str) -> None:
    """Undo :func:`record_webhook` (the enqueue failed: the vendor's retry must get through)."""
    with engine.begin() as conn:
        conn.execute(
            delete(WebhookEvent).where(WebhookEvent.source == source, WebhookEvent.digest == digest)
        )
