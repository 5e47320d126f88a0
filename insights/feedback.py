"""Feedback on insights, stored and used.

- ``snooze``: quiet for 30 days (product clock);
- ``dismiss``: quiet from now on;
- ``wrong`` (with a reason): quiet, and its detector's threshold goes up one step (the next
  digest says so);
- ``approve`` (pricing only, owners and finance): the action is resumed through the agent's
  approval graph (``agent.approvals``), which records it in ``approved_actions``;
- ``explain``: logged (the caller opens an agent thread).

Who may give feedback: the roles the insight is for (its detector's audience); approving also
needs the pricing roles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine

from mspilot.agent.approvals import ApprovalFlow, ApprovalState
from mspilot.core.errors import UserInputError
from mspilot.insights import store
from mspilot.insights.model import DETECTORS, SNOOZE_DAYS, InsightItem, Verdict, detector_of

VERDICTS: tuple[str, ...] = ("snooze", "dismiss", "wrong", "approve", "explain")
APPROVERS = frozenset({"owner", "finance"})


class FeedbackDenied(UserInputError):
    """The user's role may not give this feedback."""


@dataclass(frozen=True)
class FeedbackResult:
    key: str
    verdict: str
    message: str
    snooze_until: dt.date | None = None
    threshold: tuple[float, float] | None = None
    decision_id: int | None = None


def approval_flow(engine: Engine, checkpointer: BaseCheckpointSaver[Any] | None) -> ApprovalFlow:
    """The approval graph whose ``record`` step writes ``approved_actions``."""

    def recorder(state: ApprovalState) -> int | None:
        decision = state.get("decision") or {}
        key = state.get("key", "")
        return store.record_decision(
            engine,
            state.get("tenant_id", ""),
            key,
            detector_of(key).name,
            state.get("action") or {},
            approved=bool(decision.get("approved")),
            by=decision.get("by"),
            note=decision.get("note"),
            now=store.utcnow(),
        )

    return ApprovalFlow(recorder, checkpointer)


def check_allowed(role: str, key: str, verdict: str) -> None:
    detector = detector_of(key)
    if role not in detector.audience:
        raise FeedbackDenied(f"role {role!r} does not receive {detector.label.lower()} insights")
    if verdict == "approve" and role not in APPROVERS:
        raise FeedbackDenied("only an owner or finance may approve a price change")


def give_feedback(
    engine: Engine,
    tenant_id: str,
    key: str,
    verdict: Verdict | str,
    *,
    today: dt.date,
    role: str,
    user_id: str | None = None,
    reason: str | None = None,
    via: str = "cli",
    flow: ApprovalFlow | None = None,
    now: dt.datetime | None = None,
) -> FeedbackResult:
    """Store one verdict and apply it (threshold, approval); the next digest reflects it."""
    if verdict not in VERDICTS:
        raise UserInputError(f"unknown verdict {verdict!r}; choose from {', '.join(VERDICTS)}")
    now = now or store.utcnow()
    detector = detector_of(key)
    check_allowed(role, key, verdict)
    reason = (reason or "").strip()[:1000] or None
    if verdict == "snooze":
        until = today + dt.timedelta(days=SNOOZE_DAYS)
        store.add_feedback(
            engine,
            tenant_id,
            key,
            detector.name,
            "snooze",
            now=now,
            user_id=user_id,
            via=via,
            snooze_until=until,
            reason=reason,
        )
        return FeedbackResult(key, verdict, f"Snoozed until {until:%d %b %Y}.", snooze_until=until)
    if verdict == "dismiss":
        store.add_feedback(
            engine,
            tenant_id,
            key,
            detector.name,
            "dismiss",
            now=now,
            user_id=user_id,
            via=via,
            reason=reason,
        )
        return FeedbackResult(key, verdict, "Dismissed: it will not be raised again.")
    if verdict == "wrong":
        if not reason:
            raise UserInputError("say why it is wrong (a reason is required)")
        before, after = store.raise_threshold(engine, tenant_id, detector.name, now)
        store.add_feedback(
            engine,
            tenant_id,
            key,
            detector.name,
            "wrong",
            now=now,
            user_id=user_id,
            via=via,
            reason=reason,
            threshold=(before, after),
        )
        return FeedbackResult(
            key,
            verdict,
            f"Thanks — noted as wrong. {detector.label} alerts now start at "
            f"{detector.fmt(after)} (was {detector.fmt(before)}).",
            threshold=(before, after),
        )
    if verdict == "approve":
        return _approve(engine, tenant_id, key, now, user_id, reason, via, flow)
    store.add_feedback(
        engine, tenant_id, key, detector.name, "explain", now=now, user_id=user_id, via=via
    )
    return FeedbackResult(key, verdict, "Explaining…")


def _approve(
    engine: Engine,
    tenant_id: str,
    key: str,
    now: dt.datetime,
    user_id: str | None,
    note: str | None,
    via: str,
    flow: ApprovalFlow | None,
) -> FeedbackResult:
    detector = detector_of(key)
    if detector.name != "pricing":
        raise UserInputError("only pricing insights carry an action to approve")
    item = store.find_item(engine, tenant_id, key)
    flow = flow or approval_flow(engine, None)
    action = item.action if item is not None else flow.pending_action(tenant_id, key)
    if action is None:
        raise UserInputError(f"no delivered insight {key!r} to approve")
    state = flow.decide(
        tenant_id,
        key,
        approved=True,
        by=user_id,
        note=note,
        action=action,
        summary=item.title if item is not None else key,
    )
    store.add_feedback(
        engine, tenant_id, key, detector.name, "approve", now=now, user_id=user_id, via=via
    )
    what = (
        f"{action.get('client_name')}: ${action.get('from_price'):,.2f} → "
        f"${action.get('to_price'):,.2f}/{action.get('unit')} from {action.get('effective_on')}"
        if action.get("type") == "price_change"
        else key
    )
    return FeedbackResult(
        key, "approve", f"Approved and recorded: {what}.", decision_id=state.get("record_id")
    )


def propose_approvals(flow: ApprovalFlow, tenant_id: str, items: list[InsightItem]) -> int:
    """Open an approval (waiting at the graph's interrupt) for each item with an action."""
    opened = 0
    for item in items:
        if item.action is not None and DETECTORS[item.detector].name == "pricing":
            flow.propose(tenant_id, item.key, item.action, item.title)
            opened += 1
    return opened
