"""Digests: what the detectors flag, ranking, dedupe, and feedback that changes the next one.

Runs on SQLite and PostgreSQL (the ``engine`` fixture); signals are planted so every test
knows which insights must (and must not) appear.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from mspilot.core.errors import UserInputError
from mspilot.db.schema_insights import ApprovedAction
from mspilot.insights import store
from mspilot.insights.detectors import detect
from mspilot.insights.digest import build_digest, commit_digest
from mspilot.insights.feedback import FeedbackDenied, approval_flow, give_feedback
from mspilot.insights.model import DETECTORS
from mspilot.insights.render import to_html, to_slack, to_text
from mspilot.insights.signals import Signals
from support.insights_world import AS_OF, planted_signals, tenant_with_clients

DEFAULTS = {k: d.default for k, d in DETECTORS.items()}


def _digest(engine: Engine, tenant: str, signals: Signals, **kw: object) -> object:
    return build_digest(
        engine, tenant, as_of=signals.as_of, data_dir=Path("."), signals=signals, **kw
    )


def _send(engine: Engine, tenant: str, signals: Signals, **kw: object) -> object:
    """Build, 'deliver' (record a finished run) and commit, as the scheduler does."""
    digest = _digest(engine, tenant, signals, **kw)
    now = store.utcnow()
    run_id = store.claim_run(engine, tenant, f"test:{now.isoformat()}", "weekly", "t", now)
    assert run_id is not None
    digest.digest_id = run_id
    commit_digest(engine, digest, now)
    store.finish_run(engine, run_id, digest, {}, now)
    return digest


def test_detectors_flag_above_threshold_and_rank_by_dollars() -> None:
    clients = [(f"c{i}", f"Client {i}") for i in range(6)]
    found = detect(planted_signals(clients), DEFAULTS)
    keys = {i.key for i in found.items}
    # churn ≥ 5%: the first three clients; leaks ≥ $250: the first two; pricing ≥ $500: one
    assert {k for k in keys if k.startswith("churn_risk")} == {
        "churn_risk:c0",
        "churn_risk:c1",
        "churn_risk:c2",
    }
    assert sum(k.startswith("revenue_leak") for k in keys) == 2
    assert [k for k in keys if k.startswith("pricing")] == ["pricing:c0:k0"]
    crunch = [i for i in found.items if i.detector == "capacity"]
    assert len(crunch) == 1 and crunch[0].metric == pytest.approx(40.0)
    assert crunch[0].urgent  # the first short week is within two weeks
    assert crunch[0].dollars == pytest.approx(40 * 60.0 * 1.5)
    # below-threshold items are counted, not shown: 3 churn + 1 leak + 1 pricing
    assert found.below_threshold == 5
    churn = {i.client_id: i for i in found.items if i.detector == "churn_risk"}
    assert churn["c0"].urgent and not churn["c2"].urgent
    assert churn["c0"].dollars == pytest.approx(0.55 * 3000 * 12)
    assert "driver 0a" in churn["c0"].body


def test_digest_is_ranked_by_dollars_and_renders(engine: Engine) -> None:
    clients = tenant_with_clients(engine)
    digest = _digest(engine, "acme", planted_signals(clients))
    dollars = [i.dollars for i in digest.items]
    assert dollars == sorted(dollars, reverse=True) and len(dollars) == 7
    assert digest.total_dollars == pytest.approx(sum(dollars))
    text, html, (fallback, blocks) = to_text(digest), to_html(digest), to_slack(digest)
    for item in digest.items:
        assert item.title in text
    assert "<table" in html and "&lt;" not in digest.tenant_name
    assert len(blocks) <= 50 and fallback.startswith("Weekly insights")
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == len(digest.items)
    approve = [e for b in actions for e in b["elements"] if e["action_id"] == "insight_approve"]
    assert [e["value"] for e in approve] == ["pricing:acme.c0:k0"]  # only pricing is approved


def test_daily_alerts_carry_only_urgent_items(sqlite_engine: Engine) -> None:
    clients = tenant_with_clients(sqlite_engine)
    digest = _digest(sqlite_engine, "acme", planted_signals(clients), kind="daily")
    assert digest.items and all(i.urgent for i in digest.items)
    assert {i.detector for i in digest.items} == {"churn_risk", "revenue_leak", "capacity"}
    assert digest.suppressed.not_urgent == 4


def test_sent_insights_repeat_only_when_materially_changed(engine: Engine) -> None:
    clients = tenant_with_clients(engine)
    first = _send(engine, "acme", planted_signals(clients))
    assert len(first.items) == 7
    again = _digest(engine, "acme", planted_signals(clients))
    assert again.items == [] and again.suppressed.already_sent == 7
    # asked for on demand (/mspilot digest) the open insights are all there, marked as sent
    manual = _digest(engine, "acme", planted_signals(clients), kind="manual")
    assert len(manual.items) == 7 and {i.status for i in manual.items} == {"sent"}
    # risk 20% → 22% is not news, 55% → 65% is, and so is 12% → 15% (a quarter up); a leak
    # growing 6,400 → 9,000 is news (+41%), 900 → 950 is not
    moved = planted_signals(clients, risks=(0.65, 0.22, 0.15), leak_dollars=(9000.0, 950.0))
    changed = _digest(engine, "acme", moved)
    assert {i.key for i in changed.items} == {
        "churn_risk:acme.c0",
        "churn_risk:acme.c2",
        "revenue_leak:unbilled_time:acme.c0:2026-08-01",
    }
    assert all(i.status == "changed" and i.change for i in changed.items)
    # a falling risk is not news either
    assert _digest(engine, "acme", planted_signals(clients, risks=(0.3, 0.2, 0.12))).items == []


def test_feedback_changes_the_next_digest(engine: Engine) -> None:
    clients = tenant_with_clients(engine)
    signals = planted_signals(clients)
    _send(engine, "acme", signals)
    today = AS_OF
    give_feedback(engine, "acme", "churn_risk:acme.c0", "snooze", today=today, role="owner")
    give_feedback(
        engine,
        "acme",
        "revenue_leak:unbilled_time:acme.c0:2026-08-01",
        "dismiss",
        today=today,
        role="finance",
    )
    wrong = give_feedback(
        engine,
        "acme",
        "churn_risk:acme.c2",
        "wrong",
        today=today,
        role="service_manager",
        reason="they just renewed for three years",
    )
    assert wrong.threshold == (pytest.approx(0.05), pytest.approx(0.0625))

    # everything changed materially, a new client sits at 6% (above the old 5% threshold)
    moved = planted_signals(
        clients,
        risks=(0.70, 0.30, 0.25, 0.06),
        leak_dollars=(20000.0, 900.0),
    )
    nxt = _digest(engine, "acme", moved)
    keys = {i.key for i in nxt.items}
    assert "churn_risk:acme.c0" not in keys  # snoozed, even though it rose
    assert "revenue_leak:unbilled_time:acme.c0:2026-08-01" not in keys  # dismissed stays quiet
    assert "churn_risk:acme.c2" not in keys  # marked wrong
    assert "churn_risk:acme.c3" not in keys  # 6% is under the tuned 6.25% threshold
    assert "churn_risk:acme.c1" in keys  # 20% → 30%: other churn insights still come through
    assert nxt.thresholds["churn_risk"] == pytest.approx(0.0625)
    assert nxt.suppressed.snoozed == 1 and nxt.suppressed.dismissed == 1
    assert nxt.suppressed.marked_wrong == 1
    # the digest says what was tuned, and why
    assert len(nxt.tuning) == 1 and nxt.tuning[0].detector == "churn_risk"
    text = to_text(nxt)
    assert "Tuned from your feedback" in text
    assert "6.2%" in text and "was 5%" in text and "just renewed" in text
    # the snooze lasts 30 days
    later = planted_signals(clients, risks=(0.70,), as_of=AS_OF + dt.timedelta(days=31))
    assert "churn_risk:acme.c0" in {i.key for i in _digest(engine, "acme", later).items}


def test_wrong_needs_a_reason_and_unknown_verdicts_fail(sqlite_engine: Engine) -> None:
    tenant_with_clients(sqlite_engine)
    with pytest.raises(UserInputError, match="reason"):
        give_feedback(sqlite_engine, "acme", "churn_risk:x", "wrong", today=AS_OF, role="owner")
    with pytest.raises(UserInputError, match="verdict"):
        give_feedback(sqlite_engine, "acme", "churn_risk:x", "love", today=AS_OF, role="owner")
    with pytest.raises(UserInputError, match="insight key"):
        give_feedback(sqlite_engine, "acme", "nonsense", "snooze", today=AS_OF, role="owner")


def test_roles_bound_feedback(sqlite_engine: Engine) -> None:
    tenant_with_clients(sqlite_engine)
    with pytest.raises(FeedbackDenied):
        give_feedback(
            sqlite_engine, "acme", "churn_risk:x", "snooze", today=AS_OF, role="technician"
        )
    with pytest.raises(FeedbackDenied):
        give_feedback(
            sqlite_engine, "acme", "pricing:x:k", "approve", today=AS_OF, role="service_manager"
        )
    with pytest.raises(FeedbackDenied):
        give_feedback(
            sqlite_engine, "acme", "churn_risk:x", "dismiss", today=AS_OF, role="client_user"
        )


def test_approve_records_the_pricing_action(engine: Engine) -> None:
    clients = tenant_with_clients(engine)
    first = _send(engine, "acme", planted_signals(clients))
    key = "pricing:acme.c0:k0"
    assert first.item(key) is not None
    flow = approval_flow(engine, None)
    with pytest.raises(UserInputError, match="pricing"):
        give_feedback(engine, "acme", "churn_risk:acme.c0", "approve", today=AS_OF, role="owner")
    result = give_feedback(
        engine, "acme", key, "approve", today=AS_OF, role="finance", user_id="u-fin", flow=flow
    )
    assert result.decision_id is not None and "105.00" in result.message
    with engine.connect() as conn:
        row = conn.execute(select(ApprovedAction)).one()
    assert (
        row.status == "approved" and row.decided_by == "u-fin" and '"to_price": 105.0' in row.action
    )
    nxt = _digest(engine, "acme", planted_signals(clients, pricing_gains=(9000.0,)))
    assert key not in {i.key for i in nxt.items}  # approved: not raised again
    assert [d.key for d in nxt.decisions] == [key]
    assert "Decisions recorded" in to_text(nxt)


def test_missing_models_become_notes_not_errors(sqlite_engine: Engine, tmp_path: Path) -> None:
    tenant_with_clients(sqlite_engine)
    digest = build_digest(sqlite_engine, "acme", as_of=AS_OF, data_dir=tmp_path)
    assert digest.items == []
    assert any("churn" in n for n in digest.notes) and any("leak" in n for n in digest.notes)
    assert "Not checked" in to_text(digest)
