"""Build a tenant's digest: detect, drop what feedback or history keeps quiet, rank by dollars.

``build_digest`` has no side effects (a preview is the same call); ``commit_digest`` records what
went out so the next digest repeats an insight only when it changed materially:

- churn risk: the risk rose by a quarter of what it was (at least two points, at most five
  needed) since it was sent; a falling risk is not news;
- dollar and hour detectors: the dollars at stake moved by at least 25% either way.

Snoozed (for 30 days), dismissed, "wrong" and approved insights stay quiet. Each "wrong" verdict
raised its detector's threshold; the digest lists the thresholds tuned since the last one.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlalchemy import Engine

from mspilot.insights import store
from mspilot.insights.detectors import detect
from mspilot.insights.model import (
    DETECTORS,
    Digest,
    DigestKind,
    InsightItem,
    Suppressed,
)
from mspilot.insights.signals import Signals, collect_signals

_SUPPRESSED_BY = {
    "snooze": "snoozed",
    "dismiss": "dismissed",
    "wrong": "marked_wrong",
    "approve": "approved",
}


def material_change(item: InsightItem, sent: store.SentRow) -> str | None:
    """Why ``item`` is news again compared with what was sent, or None if it is not."""
    spec = DETECTORS[item.detector]
    rise = spec.change_abs
    if spec.unit == "probability":  # 4% → 6% is news; 55% → 57% is not
        rise = max(0.02, min(spec.change_abs, 0.25 * sent.metric))
    if item.metric - sent.metric >= rise - 1e-9:
        return f"{spec.fmt(sent.metric)} → {spec.fmt(item.metric)} since last sent"
    base = max(abs(sent.dollars), 1.0)
    if abs(item.dollars - sent.dollars) / base >= spec.change_rel:
        return f"${sent.dollars:,.0f} → ${item.dollars:,.0f} at stake since last sent"
    return None


def select_items(
    candidates: list[InsightItem],
    *,
    quiet: dict[str, store.Quiet],
    sent: dict[str, store.SentRow],
    kind: DigestKind,
    max_items: int,
    suppressed: Suppressed,
) -> list[InsightItem]:
    """New or materially changed (a manual digest, asked for on demand, also keeps what was
    sent before), not quieted by feedback, urgent only for daily alerts; ranked by dollars."""
    chosen: list[InsightItem] = []
    for item in candidates:
        verdict = quiet.get(item.key)
        if verdict is not None:
            field = _SUPPRESSED_BY[verdict.verdict]
            setattr(suppressed, field, getattr(suppressed, field) + 1)
            continue
        before = sent.get(item.key)
        if before is not None:
            change = material_change(item, before)
            if change is None and kind != "manual":
                suppressed.already_sent += 1
                continue
            item.status = "sent" if change is None else "changed"
            item.change = change
        if kind == "daily" and not item.urgent:
            suppressed.not_urgent += 1
            continue
        chosen.append(item)
    chosen.sort(key=lambda i: (-i.dollars, i.key))
    if len(chosen) > max_items:
        suppressed.over_limit = len(chosen) - max_items
        chosen = chosen[:max_items]
    return chosen


def build_digest(
    engine: Engine,
    tenant_id: str,
    *,
    as_of: dt.date,
    data_dir: Path,
    kind: DigestKind = "weekly",
    max_items: int = 15,
    signals: Signals | None = None,
    now: dt.datetime | None = None,
) -> Digest:
    """The digest ``tenant_id`` would get now (nothing is recorded)."""
    now = now or store.utcnow()
    started = time.perf_counter()
    name = store.tenant_name(engine, tenant_id)
    if name is None:
        from mspilot.core.errors import UserInputError

        raise UserInputError(f"no tenant {tenant_id!r}")
    limits = store.thresholds(engine, tenant_id)
    if signals is None:
        signals = collect_signals(
            engine, tenant_id, as_of, data_dir, min_churn_risk=limits["churn_risk"]
        )
    t_detect = time.perf_counter()
    found = detect(signals, limits)
    suppressed = Suppressed(below_threshold=found.below_threshold)
    items = select_items(
        found.items,
        quiet=store.quiet_keys(engine, tenant_id, as_of),
        sent=store.sent_records(engine, tenant_id),
        kind=kind,
        max_items=max_items,
        suppressed=suppressed,
    )
    since = store.last_digest_at(engine, tenant_id)
    timings = dict(signals.timings_ms)
    timings["detect_and_select"] = round((time.perf_counter() - t_detect) * 1000, 1)
    timings["total"] = round((time.perf_counter() - started) * 1000, 1)
    return Digest(
        tenant_id=tenant_id,
        tenant_name=name,
        kind=kind,
        as_of=as_of,
        generated_at=now,
        items=items,
        total_dollars=round(sum(i.dollars for i in items), 2),
        thresholds=limits,
        tuning=store.tuning_since(engine, tenant_id, since),
        decisions=store.decisions_since(engine, tenant_id, since),
        suppressed=suppressed,
        notes=list(signals.notes),
        timings_ms=timings,
    )


def commit_digest(engine: Engine, digest: Digest, now: dt.datetime | None = None) -> None:
    """Record the digest's items as sent (call once it has gone out)."""
    store.record_sent(
        engine, digest.tenant_id, digest.items, digest.digest_id, now or store.utcnow()
    )
