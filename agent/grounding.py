"""Grounded answers: every number in a reply must come from a tool result of this turn.

``ungrounded_numbers(text, evidence)`` lists the numbers in ``text`` that no tool produced
(allowing for the rounding a writer does: "$12.3k" matches 12,345.67; "41%" matches 0.4107).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b")
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.#-])"  # not part of an identifier such as P1, Q3, INV-1001
    r"(?P<sign>[-−])?\$?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<suffix>\s?(?:%|k\b|K\b|m\b|M\b|million\b|thousand\b|bn\b|billion\b))?"
)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}


@dataclass(frozen=True)
class Mention:
    """A number as written in prose."""

    text: str
    value: float
    decimals: int
    scale: float
    percent: bool


def numbers_in(text: str) -> list[Mention]:
    mentions: list[Mention] = []
    for match in _NUMBER.finditer(_ISO_DATE.sub(" ", text)):
        raw = match.group("num").replace(",", "")
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        suffix = (match.group("suffix") or "").strip().lower()
        scale = _SCALE.get(suffix, 1.0)
        value = float(raw) * (-1 if match.group("sign") else 1)
        mentions.append(Mention(match.group(0), value, decimals, scale, suffix == "%"))
    return mentions


def dates_in(text: str) -> set[str]:
    return {m.group(0)[:10] for m in _ISO_DATE.finditer(text)}


@dataclass
class Evidence:
    """Numbers and dates the tools of this turn produced (plus the question's own)."""

    values: set[float] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)

    def add_text(self, text: str) -> None:
        self.dates |= dates_in(text)
        for mention in numbers_in(text):
            self.values.add(mention.value * mention.scale)
            self.values.add(abs(mention.value * mention.scale))

    def add_value(self, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            self.values.add(float(value))
            self.values.add(abs(float(value)))
        elif isinstance(value, str):
            self.add_text(value)
        elif isinstance(value, dict):
            for v in value.values():
                self.add_value(v)
        elif isinstance(value, list | tuple):
            for v in value:
                self.add_value(v)

    def add_count(self, n: int) -> None:
        """A result's row count, and the ranks 1..n a list of it may be numbered with."""
        self.values.update(float(i) for i in range(n + 1))

    def supports(self, mention: Mention) -> bool:
        target = abs(mention.value) * mention.scale
        tol = 0.5 * 10 ** (-mention.decimals) * mention.scale + 1e-9
        for value in self.values:
            v = abs(value)
            if abs(v - target) <= tol:
                return True
            if mention.percent and abs(v * 100 - target) <= tol:
                return True
            whole = not mention.percent and mention.scale == 1 and mention.decimals == 0
            if whole and v >= 100 and abs(v - target) < 1.0:
                return True  # "about 1,235" for 1234.56
        return False


def ungrounded_numbers(text: str, evidence: Evidence) -> list[str]:
    bad = [m.text.strip() for m in numbers_in(text) if not evidence.supports(m)]
    bad += sorted(d for d in dates_in(text) if d not in evidence.dates)
    return bad


def build_evidence(
    question: str, tool_texts: Iterable[str], artifacts: Iterable[dict[str, Any] | None]
) -> Evidence:
    evidence = Evidence()
    evidence.add_text(question)
    for text in tool_texts:
        evidence.add_text(text)
    for table in artifacts:
        if not table:
            continue
        evidence.add_value(table.get("rows"))
        evidence.add_value(table.get("meta"))
        evidence.add_count(len(table.get("rows") or []))
        meta = table.get("meta") or {}
        if isinstance(meta.get("row_count"), int):
            evidence.add_count(min(int(meta["row_count"]), 1000))
    return evidence
