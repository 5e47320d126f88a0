"""The approval graph (``agent.approvals``): it stops at the interrupt until a person decides,
survives a restart (a new process with the same checkpointer), and records the decision."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from mspilot.agent.approvals import ApprovalFlow, ApprovalState

ACTION = {"type": "price_change", "client_id": "c1", "from_price": 100.0, "to_price": 105.0}


def _saver(path: Path) -> SqliteSaver:
    saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    saver.setup()
    return saver


def test_waits_at_the_interrupt_then_records_once_decided(tmp_path: Path) -> None:
    recorded: list[ApprovalState] = []

    def recorder(state: ApprovalState) -> int:
        recorded.append(state)
        return len(recorded)

    flow = ApprovalFlow(recorder, _saver(tmp_path / "cp.sqlite"))
    assert flow.status("t1", "pricing:c1:k1") == "none"
    assert flow.propose("t1", "pricing:c1:k1", ACTION, "raise c1") == "pending"
    assert recorded == []  # nothing happens until a person decides
    assert flow.propose("t1", "pricing:c1:k1", ACTION, "raise c1") == "pending"  # idempotent

    # "another process": a new flow over the same checkpoint store sees the pending approval
    later = ApprovalFlow(recorder, _saver(tmp_path / "cp.sqlite"))
    assert later.pending_action("t1", "pricing:c1:k1") == ACTION
    final = later.decide("t1", "pricing:c1:k1", approved=True, by="u-owner", note="ok")
    assert final["record_id"] == 1 and later.status("t1", "pricing:c1:k1") == "decided"
    (state,) = recorded
    assert state["decision"] == {"approved": True, "by": "u-owner", "note": "ok"}
    assert state["action"] == ACTION and state["tenant_id"] == "t1"
    # tenants do not share approvals
    assert later.status("t2", "pricing:c1:k1") == "none"


def test_deciding_without_a_proposal_needs_the_action() -> None:
    recorded: list[Any] = []
    flow = ApprovalFlow(lambda s: recorded.append(s) or None)
    with pytest.raises(LookupError):
        flow.decide("t", "pricing:x:y", approved=True, by="u")
    flow.decide("t", "pricing:x:y", approved=False, by="u", action=ACTION)
    assert recorded[0]["decision"]["approved"] is False
