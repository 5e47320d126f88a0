"""Names in a question: clients and technicians (fuzzy, from the tenant's own rows), ticket
categories, priorities, contract kinds, industries, numbers and top-N."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Engine, select

from mspilot.core.periods import NUMBER_WORDS
from mspilot.db.schema import Asset, Client, Contract, License, Technician, Ticket
from mspilot.prompts.agent import CLIENT_SCOPE_LINE
from mspilot.tools.context import ToolContext

_STOP_SUFFIXES = {"inc", "llc", "ltd", "co", "corp", "corporation", "the", "pllc", "pc", "llp"}
_TOKEN = re.compile(r"[a-z0-9&]+")
_COMMON_WORDS = {
    "all",
    "any",
    "the",
    "our",
    "top",
    "most",
    "best",
    "last",
    "this",
    "next",
    "group",
    "services",
    "care",
    "partners",
    "support",
    "summit",
}


def tokens(text: str) -> list[str]:
    text = text.lower().replace("'s ", " ").replace("’s ", " ")
    return _TOKEN.findall(text)


def _core(name: str) -> list[str]:
    toks = tokens(name)
    return [t for t in toks if t not in _STOP_SUFFIXES] or toks


@dataclass(frozen=True)
class Named:
    id: str
    name: str
    kind: str  # client, technician


@dataclass(frozen=True)
class NameMatch:
    entity: Named
    score: float
    span: tuple[int, int]  # token positions in the question


@dataclass
class Catalogue:
    """The tenant's vocabulary, loaded once per router."""

    clients: list[Named] = field(default_factory=list)
    technicians: list[Named] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    contract_kinds: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    asset_kinds: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, engine: Engine, tenant_id: str, client_id: str | None = None) -> Catalogue:
        def scoped(model: Any, column: Any) -> Any:
            q = select(column).where(model.tenant_id == tenant_id, model.deleted_at.is_(None))
            if client_id is not None and hasattr(model, "client_id"):
                q = q.where(model.client_id == client_id)
            return q.distinct()

        with engine.connect() as conn:
            cq = select(Client.id, Client.name).where(
                Client.tenant_id == tenant_id, Client.deleted_at.is_(None)
            )
            if client_id is not None:
                cq = cq.where(Client.id == client_id)
            clients = [Named(r.id, r.name, "client") for r in conn.execute(cq)]
            techs = [
                Named(r.id, r.name, "technician")
                for r in conn.execute(
                    select(Technician.id, Technician.name).where(
                        Technician.tenant_id == tenant_id, Technician.deleted_at.is_(None)
                    )
                )
            ]

            def values(model: Any, column: Any) -> list[str]:
                return sorted({str(v) for (v,) in conn.execute(scoped(model, column)) if v})

            return cls(
                clients=clients,
                technicians=techs if client_id is None else [],
                categories=values(Ticket, Ticket.category),
                contract_kinds=values(Contract, Contract.kind),
                industries=values(Client, Client.industry),
                asset_kinds=values(Asset, Asset.kind),
                products=values(License, License.product),
            )


def other_clients(engine: Engine, tenant_id: str, client_id: str) -> list[Named]:
    """The tenant's clients other than ``client_id``: only to recognise (and refuse) a client
    user's question about another client; never shown to that user."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Client.id, Client.name).where(
                Client.tenant_id == tenant_id, Client.id != client_id, Client.deleted_at.is_(None)
            )
        )
        return [Named(r.id, r.name, "client") for r in rows]


def client_name(engine: Engine, tenant_id: str, client_id: str) -> str:
    with engine.connect() as conn:
        name = conn.execute(
            select(Client.name).where(Client.tenant_id == tenant_id, Client.id == client_id)
        ).scalar()
    return str(name) if name else client_id


def client_scope_line(ctx: ToolContext) -> str | None:
    """A client user's answers all say whose data they are: "For Contoso (...):"."""
    if ctx.role != "client_user" or not ctx.client_id:
        return None
    return CLIENT_SCOPE_LINE.format(client=client_name(ctx.engine, ctx.tenant_id, ctx.client_id))


_ORG = re.compile(
    r"\b(?:[A-Z][\w&'.-]*\s+){1,4}(?:Inc|LLC|Ltd|Corp|Corporation|Co|Group|Partners|Associates|"
    r"LLP|PLLC|GmbH|Law|Clinic|Dental|Medical|Holdings|Industries|Logistics|Labs)\b"
)


def names_another_org(question: str, own: str, others: Sequence[Named]) -> bool:
    """Does a client user's question name a client or organisation other than ``own``? A
    tenant client by (fuzzy) name, or any capitalised organisation name, so the answer is
    the same whether the named organisation is a client or not."""
    own_core = set(_core(own))
    for m in match_names(question, others):
        if not set(_core(m.entity.name)) <= own_core:
            return True
    for org in _ORG.finditer(question):
        words = set(tokens(org.group(0))) - _STOP_SUFFIXES
        if words and not words <= own_core:
            return True
    return False


def _windows(toks: Sequence[str], size: int) -> Iterable[tuple[int, int, str]]:
    for i in range(0, max(len(toks) - size + 1, 0)):
        yield i, i + size, " ".join(toks[i : i + size])


def _best_window(toks: Sequence[str], target: list[str]) -> tuple[float, tuple[int, int]]:
    best, span = 0.0, (0, 0)
    joined = " ".join(target)
    k = len(target)
    for size in {max(k - 1, 1), k, k + 1}:
        for i, j, window in _windows(toks, size):
            score = fuzz.ratio(window, joined)
            if score > best:
                best, span = score, (i, j)
    return best, span


def match_names(question: str, entities: Sequence[Named]) -> list[NameMatch]:
    """Entities named in the question, best first, non-overlapping.

    A full name matches with typos (ratio ≥ 85); a distinctive leading part ("Riverside
    Medical" for "Riverside Medical Clinic", or a technician's first or last name) matches when
    only one entity has it.
    """
    toks = tokens(question)
    found: list[NameMatch] = []
    for entity in entities:
        core = _core(entity.name)
        score, span = _best_window(toks, core)
        threshold = 85.0 if len(core) > 1 else 92.0
        if score >= threshold:
            found.append(NameMatch(entity, score, span))
    # partial names: the first two tokens, or a single first/last name, when unique
    if not found:
        partial: dict[str, list[tuple[Named, int]]] = {}
        for entity in entities:
            core = _core(entity.name)
            keys = [" ".join(core[:2])] if len(core) > 2 else []
            if entity.kind == "technician" or len(core) <= 2:
                keys += [core[0], core[-1]]
            for key in keys:
                partial.setdefault(key, []).append((entity, len(key.split())))
        for key, owners in partial.items():
            if len(owners) != 1 or key in _COMMON_WORDS or len(key) < 4:
                continue
            size = owners[0][1]
            for i, j, window in _windows(toks, size):
                if fuzz.ratio(window, key) >= 90:
                    found.append(NameMatch(owners[0][0], 80.0, (i, j)))
    found.sort(key=lambda m: (-m.score, m.span))
    chosen: list[NameMatch] = []
    taken: set[int] = set()
    seen: set[str] = set()
    for m in found:
        cells = set(range(*m.span))
        if cells & taken or m.entity.id in seen:
            continue
        chosen.append(m)
        taken |= cells
        seen.add(m.entity.id)
    return chosen


def match_vocabulary(question: str, words: Sequence[str], threshold: float = 88.0) -> list[str]:
    """Values from a small vocabulary (ticket categories, industries...) named in the question."""
    toks = tokens(question)
    out = []
    for word in words:
        target = tokens(word)
        if not target:
            continue
        score, _ = _best_window(toks, target)
        plural, _ = _best_window(toks, [*target[:-1], target[-1] + "s"])
        if max(score, plural) >= threshold:
            out.append(word)
    return out


_NUM_WORDS = {**NUMBER_WORDS, "fifteen": 15, "twenty": 20}
_TOP_N = re.compile(
    r"\b(?:top|best|biggest|largest|highest|worst|lowest|bottom|first|smallest|least)\s+"
    r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty)\b"
    r"|\b(\d{1,3}|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:biggest|largest|highest|top|worst|lowest|best|most|least|smallest)\b"
    r"|\b(?:which|the)\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:clients|customers|accounts|technicians|techs|engineers|categories)\b"
)


def top_n(question: str) -> int | None:
    m = _TOP_N.search(question.lower())
    if not m:
        return None
    raw = m.group(1) or m.group(2) or m.group(3)
    return int(raw) if raw.isdigit() else _NUM_WORDS[raw]


_AMOUNT = re.compile(
    r"\b(over|above|more than|greater than|at least|exceeding|under|below|less than|at most)\s+"
    r"\$?(\d[\d,]*(?:\.\d+)?)\s*(k|m)?\b"
)


def amount_filter(question: str) -> tuple[str, float] | None:
    """("gt"|"lt", value) for "over $5,000", "less than 10 hours"..."""
    m = _AMOUNT.search(question.lower())
    if not m:
        return None
    value = float(m.group(2).replace(",", "")) * {"k": 1e3, "m": 1e6}.get(m.group(3) or "", 1)
    op = "lt" if m.group(1) in ("under", "below", "less than", "at most") else "gt"
    return op, value


_PRIORITY = re.compile(
    r"\b(?:p([1-4])|priority\s*([1-4])|(critical|urgent|high|medium|low)\s+priority)\b"
)
_PRIORITY_WORDS = {"critical": "p1", "urgent": "p1", "high": "p2", "medium": "p3", "low": "p4"}


_URGENT = re.compile(
    r"\b(critical|urgent|emergency|sev(?:erity)?[ -]?1)\s+(tickets?|issues?|incidents?|cases?)\b"
)


def priorities(question: str) -> list[str]:
    out = ["p1"] if _URGENT.search(question.lower()) else []
    for m in _PRIORITY.finditer(question.lower()):
        value = (
            f"p{m.group(1) or m.group(2)}"
            if (m.group(1) or m.group(2))
            else _PRIORITY_WORDS[m.group(3)]
        )
        if value not in out:
            out.append(value)
    return out


_MONEY = re.compile(
    r"(?:\$\s?(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million)?\b"
    r"|\b(\d[\d,]*(?:\.\d+)?)\s*(k|m|thousand|million)?\s*(?:dollars|usd|budget)\b"
    r"|\b(\d[\d,]*(?:\.\d+)?)\s*(k|m)\b)"
)
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}


def money_amount(question: str) -> float | None:
    """A sum of money the question gives ("a $20k budget", "$20,000", "15 thousand dollars")."""
    m = _MONEY.search(question.lower())
    if not m:
        return None
    raw = m.group(1) or m.group(3) or m.group(5)
    scale = m.group(2) or m.group(4) or m.group(6) or ""
    return float(raw.replace(",", "")) * _SCALES.get(scale, 1.0)


_HOURS = re.compile(r"\b(\d[\d,]*(?:\.\d+)?)\s*(?:technician\s+|tech\s+|staff\s+)?(?:hours|hrs)\b")


def hours_amount(question: str) -> float | None:
    """A number of hours the question gives ("300 hours", "with 120 technician hours")."""
    m = _HOURS.search(question.lower())
    return float(m.group(1).replace(",", "")) if m else None


_PERCENT = re.compile(r"([-+−]?)\b(\d{1,3}(?:\.\d+)?)\s*(?:%|percent\b|pct\b|per cent\b)")
_DOWN = re.compile(r"\b(cut|cuts|lower|lowered|reduce|reduced|decrease|drop|discount|down)\b")


def percent_change(question: str) -> float | None:
    """A signed price change in percent: "raise Contoso 10%" → 10, "cut by 5 percent" → -5."""
    low = question.lower()
    m = _PERCENT.search(low)
    if not m:
        return None
    value = float(m.group(2))
    if m.group(1) in ("-", "−") or _DOWN.search(low[: m.start()]):
        value = -value
    return value
