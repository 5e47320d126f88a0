"""Repository functions over the insights tables (``db.schema_insights``).

Everything that must hold across processes lives here: what was sent, the feedback and the
thresholds it tuned, the digest runs (one per tenant and slot) and the scheduler lease.

Size (~710 lines): the repository of the insights tables, one short function per query,
grouped by table (sent, feedback, thresholds, runs, delivery, lease).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mspilot.db import leases
from mspilot.db.schema import Tenant
from mspilot.db.schema_insights import (
    ApprovedAction,
    DetectorThreshold,
    DigestRun,
    DigestSettings,
    InsightFeedback,
    InsightSent,
    SchedulerLease,
    SlackUser,
)
from mspilot.db.tenants import tenant_ids
from mspilot.insights.model import DETECTORS, Decision, Digest, InsightItem, Tuning

#: Verdicts that keep an insight quiet (a snooze only until its date).
QUIETING = ("snooze", "dismiss", "wrong", "approve")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- thresholds -----------------------------------------------------------------------------


def thresholds(engine: Engine, tenant_id: str) -> dict[str, float]:
    """Each detector's threshold for the tenant (tuned value, else the default)."""
    out = {name: d.default for name, d in DETECTORS.items()}
    with engine.connect() as conn:
        for name, value in conn.execute(
            select(DetectorThreshold.detector, DetectorThreshold.value).where(
                DetectorThreshold.tenant_id == tenant_id
            )
        ):
            if name in out:
                out[name] = float(value)
    return out


def raise_threshold(
    engine: Engine, tenant_id: str, detector: str, now: dt.datetime
) -> tuple[float, float]:
    """One "wrong" verdict's step up for ``detector``; returns (before, after)."""
    spec = DETECTORS[detector]
    with engine.begin() as conn:
        row = conn.execute(
            select(DetectorThreshold.value, DetectorThreshold.wrong_count).where(
                DetectorThreshold.tenant_id == tenant_id, DetectorThreshold.detector == detector
            )
        ).first()
        before = float(row[0]) if row else spec.default
        after = spec.raised(before)
        if row is None:
            conn.execute(
                insert(DetectorThreshold).values(
                    tenant_id=tenant_id,
                    detector=detector,
                    value=after,
                    wrong_count=1,
                    updated_at=now,
                )
            )
        else:
            conn.execute(
                update(DetectorThreshold)
                .where(
                    DetectorThreshold.tenant_id == tenant_id,
                    DetectorThreshold.detector == detector,
                )
                .values(value=after, wrong_count=DetectorThreshold.wrong_count + 1, updated_at=now)
            )
    return before, after


# ---- sent -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentRow:
    metric: float
    dollars: float
    last_sent_at: dt.datetime
    times_sent: int


def sent_records(engine: Engine, tenant_id: str) -> dict[str, SentRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                InsightSent.key,
                InsightSent.metric,
                InsightSent.dollars,
                InsightSent.last_sent_at,
                InsightSent.times_sent,
            ).where(InsightSent.tenant_id == tenant_id)
        )
        return {str(k): SentRow(float(m), float(d), at, int(n)) for k, m, d, at, n in rows}


def record_sent(
    engine: Engine,
    tenant_id: str,
    items: Sequence[InsightItem],
    digest_id: int | None,
    now: dt.datetime,
) -> None:
    """Remember what went out (the value each insight had), so it is not repeated."""
    if not items:
        return
    keys = [i.key for i in items]
    with engine.begin() as conn:
        known = set(
            conn.scalars(
                select(InsightSent.key).where(
                    InsightSent.tenant_id == tenant_id, InsightSent.key.in_(keys)
                )
            )
        )
        fresh = [i for i in items if i.key not in known]
        if fresh:
            conn.execute(
                insert(InsightSent),
                [
                    {
                        "tenant_id": tenant_id,
                        "key": i.key,
                        "detector": i.detector,
                        "client_id": i.client_id,
                        "title": i.title[:300],
                        "metric": i.metric,
                        "dollars": i.dollars,
                        "first_sent_at": now,
                        "last_sent_at": now,
                        "times_sent": 1,
                        "last_digest_id": digest_id,
                    }
                    for i in fresh
                ],
            )
        for i in items:
            if i.key in known:
                conn.execute(
                    update(InsightSent)
                    .where(InsightSent.tenant_id == tenant_id, InsightSent.key == i.key)
                    .values(
                        title=i.title[:300],
                        metric=i.metric,
                        dollars=i.dollars,
                        last_sent_at=now,
                        times_sent=InsightSent.times_sent + 1,
                        last_digest_id=digest_id,
                    )
                )


# ---- feedback -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quiet:
    verdict: str
    until: dt.date | None


def quiet_keys(engine: Engine, tenant_id: str, today: dt.date) -> dict[str, Quiet]:
    """Insights a verdict keeps quiet today: the latest quieting verdict per key (a snooze
    only until its date; a later snooze or approval replaces an earlier verdict)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(InsightFeedback.key, InsightFeedback.verdict, InsightFeedback.snooze_until)
            .where(InsightFeedback.tenant_id == tenant_id, InsightFeedback.verdict.in_(QUIETING))
            .order_by(InsightFeedback.created_at, InsightFeedback.id)
        ).all()
    latest: dict[str, Quiet] = {}
    for key, verdict, until in rows:
        latest[str(key)] = Quiet(str(verdict), until)
    return {
        k: q
        for k, q in latest.items()
        if q.verdict != "snooze" or (q.until is not None and q.until > today)
    }


def add_feedback(
    engine: Engine,
    tenant_id: str,
    key: str,
    detector: str,
    verdict: str,
    *,
    now: dt.datetime,
    user_id: str | None = None,
    reason: str | None = None,
    via: str = "cli",
    snooze_until: dt.date | None = None,
    threshold: tuple[float, float] | None = None,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(InsightFeedback).values(
                tenant_id=tenant_id,
                key=key,
                detector=detector,
                verdict=verdict,
                reason=reason,
                user_id=user_id,
                via=via,
                snooze_until=snooze_until,
                threshold_before=threshold[0] if threshold else None,
                threshold_after=threshold[1] if threshold else None,
                created_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def feedback_log(engine: Engine, tenant_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(InsightFeedback)
            .where(InsightFeedback.tenant_id == tenant_id)
            .order_by(InsightFeedback.created_at.desc(), InsightFeedback.id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "key": r.key,
                "verdict": r.verdict,
                "reason": r.reason,
                "user_id": r.user_id,
                "via": r.via,
                "snooze_until": r.snooze_until,
                "threshold_before": r.threshold_before,
                "threshold_after": r.threshold_after,
                "at": r.created_at,
            }
            for r in rows
        ]


def tuning_since(engine: Engine, tenant_id: str, since: dt.datetime | None) -> list[Tuning]:
    """Thresholds raised by "wrong" verdicts since ``since`` (all of them when None)."""
    conds = [
        InsightFeedback.tenant_id == tenant_id,
        InsightFeedback.verdict == "wrong",
        InsightFeedback.threshold_after.is_not(None),
    ]
    if since is not None:
        conds.append(InsightFeedback.created_at > since)
    with engine.connect() as conn:
        rows = conn.execute(
            select(InsightFeedback).where(and_(*conds)).order_by(InsightFeedback.created_at)
        ).all()
        return [
            Tuning(
                detector=r.detector,
                before=float(r.threshold_before or 0.0),
                after=float(r.threshold_after or 0.0),
                reason=r.reason,
                by=r.user_id,
                at=r.created_at,
            )
            for r in rows
        ]


# ---- approved actions -----------------------------------------------------------------------


def record_decision(
    engine: Engine,
    tenant_id: str,
    key: str,
    detector: str,
    action: dict[str, Any],
    *,
    approved: bool,
    by: str | None,
    note: str | None,
    now: dt.datetime,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(ApprovedAction).values(
                tenant_id=tenant_id,
                key=key,
                detector=detector,
                action=json.dumps(action, default=str),
                status="approved" if approved else "rejected",
                decided_by=by,
                note=note,
                decided_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def decisions_since(engine: Engine, tenant_id: str, since: dt.datetime | None) -> list[Decision]:
    conds = [ApprovedAction.tenant_id == tenant_id]
    if since is not None:
        conds.append(ApprovedAction.decided_at > since)
    with engine.connect() as conn:
        rows = conn.execute(
            select(ApprovedAction).where(*conds).order_by(ApprovedAction.decided_at)
        ).all()
        return [
            Decision(
                key=r.key,
                status=r.status,
                action=json.loads(r.action),
                by=r.decided_by,
                at=r.decided_at,
            )
            for r in rows
        ]


# ---- digest settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """Where one tenant's digest goes and when (None = the global default)."""

    tenant_id: str
    slack_team_id: str | None = None
    slack_channel: str | None = None
    email_to: tuple[str, ...] = ()
    weekday: int | None = None
    hour: int | None = None
    daily_alerts: bool | None = None
    paused: bool = False


def delivery_for(engine: Engine, tenant_id: str) -> Delivery:
    with engine.connect() as conn:
        row = conn.execute(
            select(DigestSettings).where(DigestSettings.tenant_id == tenant_id)
        ).first()
    return Delivery(tenant_id) if row is None else _delivery(row)


def _delivery(r: Any) -> Delivery:
    return Delivery(
        tenant_id=r.tenant_id,
        slack_team_id=r.slack_team_id,
        slack_channel=r.slack_channel,
        email_to=tuple(e.strip() for e in (r.email_to or "").split(",") if e.strip()),
        weekday=r.weekday,
        hour=r.hour,
        daily_alerts=r.daily_alerts,
        paused=bool(r.paused),
    )


def configure_delivery(engine: Engine, tenant_id: str, now: dt.datetime, **values: Any) -> Delivery:
    """Set some of a tenant's delivery fields (others unchanged)."""
    allowed = {
        "slack_team_id",
        "slack_channel",
        "email_to",
        "weekday",
        "hour",
        "daily_alerts",
        "paused",
    }
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown delivery fields {sorted(unknown)}")
    if isinstance(values.get("email_to"), list | tuple):
        values["email_to"] = ",".join(values["email_to"])
    with engine.begin() as conn:
        exists = conn.scalar(
            select(func.count())
            .select_from(DigestSettings)
            .where(DigestSettings.tenant_id == tenant_id)
        )
        if exists:
            conn.execute(
                update(DigestSettings)
                .where(DigestSettings.tenant_id == tenant_id)
                .values(updated_at=now, **values)
            )
        else:
            conn.execute(
                insert(DigestSettings).values(
                    tenant_id=tenant_id,
                    paused=values.pop("paused", False),
                    updated_at=now,
                    **values,
                )
            )
    return delivery_for(engine, tenant_id)


def tenant_name(engine: Engine, tenant_id: str) -> str | None:
    with engine.connect() as conn:
        name = conn.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    return None if name is None else str(name)


def tenant_for_team(engine: Engine, team_id: str) -> str | None:
    with engine.connect() as conn:
        tid = conn.scalar(
            select(DigestSettings.tenant_id).where(DigestSettings.slack_team_id == team_id)
        )
    return None if tid is None else str(tid)


# ---- digest runs ----------------------------------------------------------------------------


def claim_run(
    engine: Engine, tenant_id: str, slot: str, kind: str, holder: str, now: dt.datetime
) -> int | None:
    """Claim (tenant, slot): the run id if this caller won it, None if it was already taken.

    The unique key on (tenant_id, slot) decides: two schedulers (or a scheduler and cron) can
    race, exactly one insert succeeds. A failed run may be retried (at most 3 attempts)."""
    try:
        with engine.begin() as conn:
            result = conn.execute(
                insert(DigestRun).values(
                    tenant_id=tenant_id,
                    slot=slot,
                    kind=kind,
                    status="running",
                    holder=holder,
                    attempts=1,
                    items=0,
                    dollars=0.0,
                    started_at=now,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:
        pass
    with engine.begin() as conn:
        retried = conn.execute(
            update(DigestRun)
            .where(
                DigestRun.tenant_id == tenant_id,
                DigestRun.slot == slot,
                DigestRun.status == "failed",
                DigestRun.attempts < 3,
            )
            .values(
                status="running",
                holder=holder,
                attempts=DigestRun.attempts + 1,
                started_at=now,
                error=None,
            )
        )
        if retried.rowcount != 1:
            return None
        run_id = conn.scalar(
            select(DigestRun.id).where(DigestRun.tenant_id == tenant_id, DigestRun.slot == slot)
        )
    return None if run_id is None else int(run_id)


def finish_run(
    engine: Engine,
    run_id: int,
    digest: Digest,
    deliveries: dict[str, str],
    now: dt.datetime,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(DigestRun)
            .where(DigestRun.id == run_id)
            .values(
                status="done",
                items=len(digest.items),
                dollars=digest.total_dollars,
                payload=digest.model_dump_json(),
                deliveries=json.dumps(deliveries),
                finished_at=now,
            )
        )


def fail_run(engine: Engine, run_id: int, error: str, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(DigestRun)
            .where(DigestRun.id == run_id)
            .values(status="failed", error=error[:4000], finished_at=now)
        )


def last_digest_at(engine: Engine, tenant_id: str) -> dt.datetime | None:
    """When the tenant's last digest (of any kind) was finished."""
    with engine.connect() as conn:
        value = conn.scalar(
            select(func.max(DigestRun.finished_at)).where(
                DigestRun.tenant_id == tenant_id, DigestRun.status == "done"
            )
        )
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregate bypasses the column type
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class RunRow:
    id: int
    tenant_id: str
    slot: str
    kind: str
    status: str
    holder: str
    attempts: int
    items: int
    dollars: float
    finished_at: dt.datetime | None
    deliveries: dict[str, str]
    error: str | None


def runs(engine: Engine, tenant_id: str | None = None, limit: int = 50) -> list[RunRow]:
    stmt = select(DigestRun).order_by(DigestRun.id.desc()).limit(limit)
    if tenant_id is not None:
        stmt = stmt.where(DigestRun.tenant_id == tenant_id)
    with engine.connect() as conn:
        return [
            RunRow(
                r.id,
                r.tenant_id,
                r.slot,
                r.kind,
                r.status,
                r.holder,
                r.attempts,
                r.items,
                float(r.dollars),
                r.finished_at,
                json.loads(r.deliveries) if r.deliveries else {},
                r.error,
            )
            for r in conn.execute(stmt).all()
        ]


def digests_finished_since(
    engine: Engine, since: dt.datetime, seen: Iterable[int] = ()
) -> list[Digest]:
    """Finished digests (payload parsed) whose run finished at or after ``since``."""
    skip = set(seen)
    with engine.connect() as conn:
        rows = conn.execute(
            select(DigestRun.id, DigestRun.payload)
            .where(DigestRun.status == "done", DigestRun.finished_at >= since)
            .order_by(DigestRun.finished_at, DigestRun.id)
        ).all()
    out = []
    for run_id, payload in rows:
        if run_id in skip or not payload:
            continue
        digest = Digest.model_validate_json(payload)
        digest.digest_id = int(run_id)
        out.append(digest)
    return out


def latest_digests(engine: Engine, per_tenant: int = 1) -> list[Digest]:
    """The most recent finished digest(s) of every tenant, oldest first."""
    out: list[Digest] = []
    for tenant_id in tenant_ids(engine):
        with engine.connect() as conn:
            rows = conn.execute(
                select(DigestRun.id, DigestRun.payload)
                .where(DigestRun.tenant_id == tenant_id, DigestRun.status == "done")
                .order_by(DigestRun.id.desc())
                .limit(per_tenant)
            ).all()
        for run_id, payload in reversed(rows):
            if payload:
                digest = Digest.model_validate_json(payload)
                digest.digest_id = int(run_id)
                out.append(digest)
    return out


def find_item(engine: Engine, tenant_id: str, key: str, look_back: int = 30) -> InsightItem | None:
    """The insight ``key`` as last delivered (from the tenant's recent digests)."""
    with engine.connect() as conn:
        payloads = conn.scalars(
            select(DigestRun.payload)
            .where(DigestRun.tenant_id == tenant_id, DigestRun.status == "done")
            .order_by(DigestRun.id.desc())
            .limit(look_back)
        ).all()
    for payload in payloads:
        if payload and key in payload:
            item = Digest.model_validate_json(payload).item(key)
            if item is not None:
                return item
    return None


# ---- the scheduler lease --------------------------------------------------------------------


def acquire_lease(engine: Engine, name: str, holder: str, now: dt.datetime, ttl_s: float) -> bool:
    """Take or renew the scheduler lease ``name`` for ``holder`` (``db.leases.acquire``)."""
    return leases.acquire(engine, SchedulerLease, name, holder, now, ttl_s)


def release_lease(engine: Engine, name: str, holder: str) -> None:
    leases.release(engine, SchedulerLease, name, holder)


def lease_holder(engine: Engine, name: str) -> tuple[str, dt.datetime] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(SchedulerLease.holder, SchedulerLease.expires_at).where(
                SchedulerLease.name == name
            )
        ).first()
    return None if row is None else (str(row[0]), row[1])


# ---- Slack users ----------------------------------------------------------------------------


def slack_user(engine: Engine, team_id: str, slack_user_id: str) -> tuple[str, str] | None:
    """(tenant_id, user_id) the Slack user is mapped to."""
    with engine.connect() as conn:
        row = conn.execute(
            select(SlackUser.tenant_id, SlackUser.user_id).where(
                SlackUser.team_id == team_id, SlackUser.slack_user_id == slack_user_id
            )
        ).first()
    return None if row is None else (str(row[0]), str(row[1]))


def link_slack_user(
    engine: Engine,
    team_id: str,
    slack_user_id: str,
    tenant_id: str,
    user_id: str,
    *,
    linked_by: str,
    now: dt.datetime,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(SlackUser).where(
                SlackUser.team_id == team_id, SlackUser.slack_user_id == slack_user_id
            )
        )
        conn.execute(
            insert(SlackUser).values(
                team_id=team_id,
                slack_user_id=slack_user_id,
                tenant_id=tenant_id,
                user_id=user_id,
                linked_by=linked_by,
                created_at=now,
            )
        )
