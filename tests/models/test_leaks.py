"""Revenue leaks: every planted leak found, priced and evidenced; the rules are exact on a
hand-built MSP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from mspilot.models.data import load_frames
from mspilot.models.evaluation import leak_rows
from mspilot.models.leaks import LEAK_TYPES, find_leaks, load_findings, save_findings


def test_tiny_msp_leaks_by_hand(tiny_engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    as_of = dt.date(2025, 10, 31)
    frames = load_frames(tiny_engine, "tiny", until=as_of)
    findings = find_leaks(tiny_engine, "tiny", as_of, frames)
    by_type = {f.type: f for f in findings}
    assert set(by_type) == {"unbilled_time", "discount_beyond_policy"}
    unbilled = by_type["unbilled_time"]
    assert unbilled.client_name == "Contoso"
    assert unbilled.dollars == pytest.approx(6 * 150.0)  # 6 h at the contract's $150/h
    assert unbilled.evidence == ["te-0", "te-1", "te-2"]
    assert unbilled.period_start == dt.date(2025, 8, 1)
    discount = by_type["discount_beyond_policy"]
    # 25% given, 10% allowed: 15% of $1,000 on nine monthly invoices
    assert discount.dollars == pytest.approx(9 * 150.0)
    assert discount.evidence[0] == "k-c2"
    assert len(discount.evidence) == 1 + 9
    save_findings(findings, tmp_path, "tiny", as_of)
    assert load_findings(tmp_path, "tiny") == findings


def test_escalation_rule_sees_the_applied_increase(tiny_engine: Engine) -> None:
    """The tiny MSP's renewal rose by its 10% clause: no escalation leak."""
    as_of = dt.date(2025, 10, 31)
    findings = find_leaks(tiny_engine, "tiny", as_of, load_frames(tiny_engine, "tiny"))
    assert not [f for f in findings if f.type == "escalation_not_applied"]


def test_planted_leaks_recovered(demo_world) -> None:  # type: ignore[no-untyped-def]
    findings = demo_world.report.artefacts["leaks"]
    rows = {r.model.split(": ")[1]: r for r in leak_rows(findings, demo_world.truth)}
    assert set(rows) == set(LEAK_TYPES)
    for kind, row in rows.items():
        planted = [leak for leak in demo_world.truth.leaks if leak.type == kind]
        assert planted, f"the generator planted no {kind}"
        assert row.passed, f"{kind}: {row.note}"
    # every finding carries evidence and a dollar amount
    assert all(f.evidence and f.dollars >= 0 for f in findings)


def test_leak_dollars_close_to_planted(demo_world) -> None:  # type: ignore[no-untyped-def]
    findings = demo_world.report.artefacts["leaks"]
    found = sum(f.dollars for f in findings)
    planted = sum(float(leak.dollars) for leak in demo_world.truth.leaks)
    assert found == pytest.approx(planted, rel=0.1)
