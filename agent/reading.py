"""What the router reads besides names and the metric phrase: the *measure* asked for (count,
sum, average, rate, share, list, change), qualifiers that narrow the rows (ageing buckets,
minimum volumes, best/worst), and which content words of the question it did NOT account
for. A word left over means the reading may miss a qualifier: the router then says what it
read ("I read this as: ...") and names the word, or hands the question to a language model,
instead of silently answering a different question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mspilot.prompts.router_cues import FILLER_WORDS, MEASURE_CUES

_MEASURES: Final = [(re.compile(p), kind) for p, kind in MEASURE_CUES]
#: metric kinds that fit a measure asked for (first fit wins among the matched phrases)
FITS: Final[dict[str, frozenset[str]]] = {
    "count": frozenset({"count"}),
    "sum": frozenset({"sum"}),
    "average": frozenset({"average"}),
    "share": frozenset({"share", "rate"}),
    "rate": frozenset({"rate", "share"}),
}
_CONDITION = re.compile(
    r"\b(?:with\s+)?(at least|minimum of|min\.?|more than|over|>=|>)\s+(\d{1,6})\s+"
    r"(tickets|invoices|hours)\b|\(min(?:imum)?\.?\s+(\d{1,6})\s+(tickets|invoices|hours)\)"
)
_AGEING_BUCKET = re.compile(
    r"\b(?:more than|over|older than|beyond|past)\s+90\s+days\b|\b90\s*\+|\b90 plus\b|"
    r"\b(61|31|1)\s*(?:-|–|to)\s*(90|60|30)\s+days\b"
)
_AGEING_DIM = re.compile(r"\b(ageing|aging|aged)\b")
_LINE_KIND = re.compile(r"\b(line kinds?|line types?|kind of invoice line|by line)\b")
_WORD = re.compile(r"[a-z][a-z'-]+")


def measure_of(low: str) -> str | None:
    """The kind of number asked for, from the wording ("how many" → count...)."""
    for pattern, kind in _MEASURES:
        if pattern.search(low):
            return kind
    return None


def pick_metric(
    candidates: Sequence[tuple[str, str]], measure: str | None, kinds: dict[str, str]
) -> tuple[str, str] | None:
    """Among the (phrase, metric) pairs found (best first), the first whose kind fits the
    measure; else the first. "How many invoices are overdue" → the count, not the balance."""
    if not candidates:
        return None
    wanted = FITS.get(measure or "")
    if wanted:
        for phrase, name in candidates:
            if kinds.get(name) in wanted:
                return phrase, name
    return candidates[0]


@dataclass
class Qualifiers:
    conditions: list[dict[str, Any]] = field(default_factory=list)
    ageing_bucket: str | None = None
    ageing_dimension: bool = False
    line_kind_dimension: bool = False
    #: the words these qualifiers used
    words: set[str] = field(default_factory=set)
    #: text spans to hide from the metric scan ("at least 20 tickets" is not about tickets)
    spans: list[str] = field(default_factory=list)


def qualifiers(low: str) -> Qualifiers:
    q = Qualifiers()
    for m in _CONDITION.finditer(low):
        value = int(m.group(2) or m.group(4))
        noun = m.group(3) or m.group(5)
        op = ">" if m.group(1) in ("more than", "over", ">") else ">="
        q.conditions.append({"metric": noun, "op": op, "value": value})
        q.words |= set(_WORD.findall(m.group(0))) | {str(value)}
        q.spans.append(m.group(0))
    bucket = _AGEING_BUCKET.search(low)
    if bucket:
        q.ageing_bucket = f"{bucket.group(1)}-{bucket.group(2)}" if bucket.group(1) else "90+"
        q.words |= set(_WORD.findall(bucket.group(0))) | {"90", "days", "past", "due", "late"}
    if _AGEING_DIM.search(low) or re.search(r"\bbuckets?\b", low):
        q.ageing_dimension = True
        q.words |= {"ageing", "aging", "aged", "bucket", "buckets", "receivables", "ar"}
    if _LINE_KIND.search(low):
        q.line_kind_dimension = True
        q.words |= {"line", "lines", "kind", "kinds", "type", "types", "invoice"}
    return q


def stem(word: str) -> str:
    """A word without its plural ending ("categories" → "category")."""
    word = word.strip("'").removesuffix("'s")
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def unread_words(question: str, consumed: Iterable[str]) -> list[str]:
    """Content words of ``question`` that no part of the reading used (in order)."""
    used = {stem(w) for text in consumed for w in _WORD.findall(text.lower())}
    used |= {stem(w) for w in FILLER_WORDS}
    out: list[str] = []
    for word in _WORD.findall(question.lower()):
        if len(word) < 3 or stem(word) in used or word in out:
            continue
        out.append(word)
    return out
