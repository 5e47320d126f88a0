"""Checkers: given the golden environment and the agent's answer, is the answer right?

Expected values are computed from the database at check time (never written down), then
looked for in what the user reads: numbers (allowing the rounding and units of prose), names,
dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mspilot.agent.golden.env import GoldenEnv
from mspilot.agent.grounding import numbers_in


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


Checker = Callable[[GoldenEnv, Any], Check]


def _text(answer: Any) -> str:
    return str(getattr(answer, "answer", answer))


def has_number(text: str, expected: float, *, rel: float = 0.005, percent: bool = False) -> bool:
    for m in numbers_in(text):
        value = m.value * m.scale
        targets = [expected * 100] if percent or m.percent else [expected]
        if m.percent and not percent:
            targets = [expected, expected * 100]
        for target in targets:
            tol = max(abs(target) * rel, 0.51 * 10 ** (-m.decimals) * m.scale, 1e-9)
            if abs(value - target) <= tol:
                return True
    return False


def number(
    fn: Callable[[GoldenEnv], float], *, percent: bool = False, rel: float = 0.005
) -> Checker:
    def check(env: GoldenEnv, answer: Any) -> Check:
        expected = float(fn(env))
        ok = has_number(_text(answer), expected, rel=rel, percent=percent)
        return Check(ok, f"expected {expected:,.4g}{' (as %)' if percent else ''}")

    return check


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", text.lower()) is not None


def names(fn: Callable[[GoldenEnv], Sequence[str]], *, need: int | None = None) -> Checker:
    """All (or at least ``need``) of the expected names appear in the answer."""

    def check(env: GoldenEnv, answer: Any) -> Check:
        expected = [str(n) for n in fn(env)]
        text = _text(answer)
        found = [n for n in expected if _mentions(text, n)]
        want = len(expected) if need is None else min(need, len(expected))
        ok = (len(found) >= want and want > 0) or (not expected and "none" in text.lower())
        missing = [n for n in expected if n not in found][:5]
        return Check(ok, f"found {len(found)}/{len(expected)} names; missing e.g. {missing}")

    return check


def text_has(fn: Callable[[GoldenEnv], Sequence[str]], *, need: int | None = None) -> Checker:
    """Literal strings (dates, invoice numbers, column names) appear in the answer."""

    def check(env: GoldenEnv, answer: Any) -> Check:
        expected = [str(s) for s in fn(env)]
        text = _text(answer).lower()
        found = [s for s in expected if s.lower() in text]
        want = len(expected) if need is None else min(need, len(expected))
        return Check(
            len(found) >= want and want > 0, f"found {len(found)}/{len(expected)}: {expected[:4]}"
        )

    return check


def tool_answered(tool_fragment: str) -> Checker:
    """The named tool ran without error and the answer is not empty."""

    def check(env: GoldenEnv, answer: Any) -> Check:
        calls = getattr(answer, "tool_calls", [])
        ok = any(tool_fragment in c.name and c.ok for c in calls) and bool(_text(answer).strip())
        used = [f"{c.name}{'' if c.ok else ' (error)'}" for c in calls]
        return Check(ok, f"{tool_fragment} expected, used {used or 'no tool'}")

    return check


def artifact_has(fn: Callable[[GoldenEnv], Sequence[float]], *, need: int) -> Checker:
    """At least ``need`` expected values appear in the answer's artifact rows (charts)."""

    def check(env: GoldenEnv, answer: Any) -> Check:
        values = [
            float(v)
            for art in getattr(answer, "artifacts", [])
            for row in art.rows
            for v in row
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        expected = [float(x) for x in fn(env)]
        hits = sum(any(abs(v - e) <= max(0.01, abs(e) * 0.005) for v in values) for e in expected)
        return Check(
            hits >= min(need, len(expected)), f"{hits}/{len(expected)} values in the artifact"
        )

    return check


def all_of(*checks: Checker) -> Checker:
    def check(env: GoldenEnv, answer: Any) -> Check:
        results = [c(env, answer) for c in checks]
        return Check(all(r.ok for r in results), "; ".join(r.detail for r in results))

    return check
