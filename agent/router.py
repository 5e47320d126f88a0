"""The deterministic intent router: no language model.

1. Slots: client and technician names (fuzzy, from the tenant's rows), the period (relative
   to the product clock), metric and dimension phrases (the semantic layer's names and
   synonyms plus ours), priorities, categories, contract kinds, industries, amounts, top-N.
2. Intent: MiniLM similarity of the question (names replaced by placeholders) to example
   utterances per intent, overruled by strong cues ("chart", "policy", "likely to leave").
3. Calls: mostly one ``query_metrics`` request; other intents fill their tool's arguments
   from the slots; a few long-tail questions become fixed read-only SQL templates whose only
   literals are dates and names taken from the database, never the user's text.

A confident route answers without any language model; the graph uses it as the fast path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mspilot.agent.entities import (
    Catalogue,
    Named,
    NameMatch,
    amount_filter,
    hours_amount,
    match_names,
    match_vocabulary,
    money_amount,
    names_another_org,
    other_clients,
    percent_change,
    priorities,
    tokens,
    top_n,
)
from mspilot.agent.intents import (
    INTENT_TOOLS,
    SQL_TOOL,
    BudgetArgs,
    ClientArgs,
    ForecastArgs,
    MarginArgs,
    MetricArgs,
    NoArgs,
    PeriodRange,
    QueryArgs,
    RankedArgs,
    RouterArgs,
    SqlArgs,
    TableArgs,
    WhatIfArgs,
)
from mspilot.agent.plan import PlannedCall, Route
from mspilot.agent.reading import FITS, measure_of, pick_metric, qualifiers, stem, unread_words
from mspilot.agent.sql_templates import SQL_INTENTS, sql_for
from mspilot.core.periods import Period, PeriodMatch, find_comparison, find_period
from mspilot.db.semantic_access import SQL_TABLES
from mspilot.prompts.agent import OTHER_CLIENT_REFUSAL
from mspilot.prompts.router_cues import CONTRACT_KINDS, ROUTER_CUES
from mspilot.prompts.router_examples import (
    CLIENT_PLACEHOLDER,
    DIMENSION_PHRASES,
    INTENT_EXAMPLES,
    METRIC_PHRASES,
    TECH_PLACEHOLDER,
)
from mspilot.tools.context import ToolContext

CONFIDENT = 0.62
#: a metric matched by meaning (no phrase of it in the question): similarity and lead needed
MEANING_MIN = 0.6
MEANING_MARGIN = 0.05
MIN_MARGIN = 0.03
#: tables a question may name ("describe the tickets table")
KNOWN_TABLES = tuple(sorted(SQL_TABLES["owner"]))

_CUES = [(re.compile(pattern), intent) for pattern, intent in ROUTER_CUES]
_DIM_LEAD = r"(by|per|for each|each|across|which|what|every|split by|broken down by)"
_COUNT_WORD = r"(\d{1,3}|three|four|five|six|seven|eight|nine|ten)"
_COUNTING = re.compile(r"\b(how many|how much|number of|total|count of|what is our|what's our)\b")
_RANKED_NOUN = re.compile(
    r"\b(top|bottom|most|least|biggest|largest|best|worst|highest|lowest|busiest|noisiest|"
    r"which|the)\s+(\d+\s+|[a-z]+\s+)?(clients?|customers?|accounts?|technicians?|techs?|"
    r"engineers?|(?:ticket\s+)?categor(?:y|ies))\b"
    r"|\b(clients?|customers?|technicians?|techs?|categor(?:y|ies))\s+with\s+the\s+"
    r"(most|largest|highest|biggest|fewest|lowest|least)\b"
)
#: "assets by type", "MRR by kind": the kind a metric's rows have
_KIND_DIMENSIONS = {
    "assets": "asset_kind",
    "managed_devices": "asset_kind",
    "mrr": "contract_kind",
    "active_contracts": "contract_kind",
    "revenue": "line_kind",
}
#: a guard per SQL intent: its list only when the question says so ("critical tickets from X
#: last month" is a count, not the oldest open tickets)
_SQL_GUARDS = {
    "oldest_open_tickets": re.compile(r"\b(oldest|longest|waiting|unresolved|still open|aged)\b"),
    "clients_onboarded": re.compile(
        r"\b(onboard\w*|become a client|since when|how long has|joined|signed up|new clients?)\b"
    ),
}
_BREAKDOWN = re.compile(r"\b(by|per|for each|broken down by|split by|break ?down)\b")
#: words of the intents a metric phrase may still belong to (tables, lists, greetings)
_NOT_A_METRIC = re.compile(
    r"\b(tables?|columns?|schema|fields?|hi|hello|thanks|list|oldest|largest invoice|"
    r"biggest invoice|expir\w*|renew\w*|onboard\w*|become a client|checked in|not seen)\b"
)
_AHEAD = re.compile(
    r"\b(next|coming|will|forecast|predict|capacity|busy|ahead|upcoming|future|expect)"
)
_FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|same but|now|ok,? and|then)\b")
_SUPERLATIVE = re.compile(
    r"\b(most|highest|biggest|largest|top|best|least|lowest|fewest|worst|smallest|bottom|"
    r"busiest|greatest|maximum|minimum)\b"
)
_ASCENDING = re.compile(r"\b(least|lowest|fewest|smallest|bottom|minimum)\b")
_WHICH = re.compile(r"\b(which|what|who|whose)\b\s*(\w+)?")
_PLURAL_WHICH = re.compile(
    r"\bwhich\s+(clients|customers|accounts|technicians|techs|engineers|categories|"
    r"priorities|industries)\b|\bwho\s+are\b|\blist\b|\bshow\b"
)
_MONEY_METRICS = {
    "revenue",
    "margin",
    "margin_pct",
    "effective_rate",
    "balance_due",
    "overdue_balance",
    "mrr",
    "invoiced_amount",
    "payments_received",
    "licence_cost",
    "labour_cost",
}


@functools.cache
def _example_matrix(examples: tuple[tuple[str, str], ...]) -> npt.NDArray[np.float32]:
    """The example utterances' embeddings: computed once per machine and kept in the cache
    directory, keyed by the model and the texts (a CLI question embeds only itself)."""
    from mspilot.core.embeddings import MODEL_NAME, cache_dir, get_embedder

    texts = [text for _, text in examples]
    key = hashlib.blake2b("\n".join([MODEL_NAME, *texts]).encode(), digest_size=16).hexdigest()
    path = cache_dir() / "router" / f"examples-{key}.npy"
    with contextlib.suppress(OSError, ValueError):
        cached: npt.NDArray[np.float32] = np.load(path)
        if cached.shape[0] == len(texts):
            return cached
    matrix = get_embedder().embed(texts)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, matrix)
        tmp.replace(path)
    return matrix


@dataclass(frozen=True)
class Phrase:
    """A vocabulary phrase as tokens; its last word may take a plural ending."""

    words: tuple[str, ...]
    plural: bool

    @classmethod
    def of(cls, text: str) -> Phrase:
        return cls(tuple(tokens(text)) or (text.lower(),), text[-1:].isalnum())

    def found_in(self, toks: Sequence[str]) -> bool:
        n, head, last = len(self.words), self.words[:-1], self.words[-1]
        # the last word singular or plural ("active contract count" names "active contracts")
        endings = {last, last + "s", last + "es", stem(last)} if self.plural else {last}
        return any(
            tuple(toks[i : i + n - 1]) == head
            and (toks[i + n - 1] in endings or (self.plural and stem(toks[i + n - 1]) in endings))
            for i in range(len(toks) - n + 1)
        )


@dataclass
class Slots:
    period: PeriodMatch | None = None
    clients: list[NameMatch] = field(default_factory=list)
    technicians: list[NameMatch] = field(default_factory=list)
    metric: str | None = None
    metric_phrase: str = ""
    dimensions: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)
    top_n: int | None = None
    order: str = "desc"
    amount: tuple[str, float] | None = None
    table: str | None = None
    days: int | None = None
    money: float | None = None  # "a $20k budget"
    hours: float | None = None  # "300 hours"
    change_pct: float | None = None  # "raise Contoso 10%"
    measure: str | None = None  # count, sum, average, rate, share, list, change
    compare_to: Period | None = None  # the baseline of a comparison
    conditions: list[dict[str, Any]] = field(default_factory=list)  # "at least 20 tickets"
    unread: list[str] = field(default_factory=list)  # content words the reading did not use
    by_meaning: bool = False  # the metric was matched by meaning, not by one of its phrases
    consumed: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "measure": self.measure,
            "compare_to": _period_dict(self.compare_to) if self.compare_to else None,
            "conditions": self.conditions,
            "unread": self.unread,
            "dimensions": self.dimensions,
            "filters": self.filters,
            "period": _period_dict(self.period.period) if self.period else None,
            "period_label": _period_label(self.period.period) if self.period else None,
            "top_n": self.top_n,
            "order": self.order,
            "amount": list(self.amount) if self.amount else None,
            "money": self.money,
            "hours": self.hours,
            "change_pct": self.change_pct,
            "clients": [m.entity.name for m in self.clients],
            "technicians": [m.entity.name for m in self.technicians],
        }


def _period_dict(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def _period_label(period: Period) -> str:
    if (
        period.start.month == 1
        and period.start.day == 1
        and period.end == dt.date(period.start.year + 1, 1, 1)
    ):
        return str(period.start.year)
    return period.label()


class IntentRouter:
    """Routes a question to tool calls without a language model."""

    def __init__(
        self,
        catalogue: Catalogue,
        today: dt.date,
        tools: Iterable[str | HasName],
        *,
        metrics: dict[str, Any] | None = None,
        dimensions: dict[str, Any] | None = None,
        role: str = "owner",
        other_clients: Sequence[Named] = (),
    ) -> None:
        from mspilot.db.semantic import DIMENSIONS, METRICS

        self.catalogue = catalogue
        self.today = today
        self.role = role
        #: a client user's own client, and the tenant's others (recognised only to refuse)
        self.own_client = catalogue.clients[0].name if role == "client_user" else None
        self.other_clients = list(other_clients)
        #: the tools the caller's role has (exact names; see ``agent.intents``)
        self.tool_names = frozenset(t if isinstance(t, str) else t.name for t in tools)
        self.metrics = metrics if metrics is not None else METRICS
        self.dimensions = dimensions if dimensions is not None else DIMENSIONS
        self._metric_phrases = self._build_metric_phrases()
        #: words that never change what is asked: dimension names, placeholders, cue words
        self._always_read = [
            *(p for p, _ in self._build_dimension_phrases()),
            CLIENT_PLACEHOLDER,
            TECH_PLACEHOLDER,
            "client clients customer customers account accounts technician technicians tech",
            "techs engineer engineers team staff we us our money dollars invoice",
            "chart graph plot visualise visualize draw monthly trend time profitable",
        ]
        self._dimension_phrases = self._build_dimension_phrases()
        intents = [
            i for i in INTENT_EXAMPLES if self._tool_for(i) or i in SQL_INTENTS or i == "greeting"
        ]
        self._examples = tuple((i, text) for i in intents for text in INTENT_EXAMPLES[i])
        self._lock = threading.Lock()

    # ---- vocabulary -------------------------------------------------------------------------

    def _build_metric_phrases(self) -> list[tuple[Phrase, str, str]]:
        pairs: dict[str, str] = {}
        for name, metric in self.metrics.items():
            pairs.setdefault(name.replace("_", " "), name)
            for syn in getattr(metric, "synonyms", ()):
                pairs.setdefault(syn.lower(), name)
        for name, phrases in METRIC_PHRASES.items():
            if name in self.metrics:
                for phrase in phrases:
                    pairs[phrase.lower()] = name
        # phrases that are also dimension words ("clients", "customers") count only when no
        # other metric phrase is present ("top 5 clients by margin" is about margin)
        dim_words = {
            syn.lower() for d in self.dimensions.values() for syn in getattr(d, "synonyms", ())
        }
        dim_words |= {n.replace("_", " ") for n in self.dimensions}
        dim_words |= {p.lower() for phrases in DIMENSION_PHRASES.values() for p in phrases}
        dim_words |= {w + "s" for w in list(dim_words)}

        def weak(phrase: str, metric: str) -> bool:
            return phrase in dim_words or (
                metric == "active_clients" and phrase != "active clients"
            )

        ordered = sorted(pairs.items(), key=lambda kv: (weak(*kv), -len(kv[0]), kv[0]))
        return [(Phrase.of(p), p, n) for p, n in ordered]

    def _build_dimension_phrases(self) -> list[tuple[str, str]]:
        pairs: dict[str, str] = {}
        for name, dim in self.dimensions.items():
            pairs.setdefault(name.replace("_", " "), name)
            for syn in getattr(dim, "synonyms", ()):
                pairs.setdefault(syn.lower(), name)
        for name, phrases in DIMENSION_PHRASES.items():
            if name in self.dimensions:
                for phrase in phrases:
                    pairs.setdefault(phrase.lower(), name)
        return sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def _tool_for(self, intent: str) -> str | None:
        """The exact tool answering ``intent``, when the caller's role has it."""
        if intent in SQL_INTENTS:
            name = SQL_TOOL[0]
        elif intent in INTENT_TOOLS:
            name = INTENT_TOOLS[intent][0]
        else:
            return None
        return name if name in self.tool_names else None

    # ---- slots ------------------------------------------------------------------------------

    def slots(self, question: str) -> tuple[Slots, str]:
        """The slots, and the question with names replaced by placeholders."""
        low = question.lower()
        s = Slots()
        s.period = find_period(question, self.today)
        s.clients = match_names(question, self.catalogue.clients)
        s.technicians = [
            m
            for m in match_names(question, self.catalogue.technicians)
            if not any(_overlaps(m.span, c.span) for c in s.clients)
        ]
        toks = tokens(question)
        masked_toks = list(toks)
        for m in s.clients:
            masked_toks[m.span[0] : m.span[1]] = [CLIENT_PLACEHOLDER.lower()] + [""] * (
                m.span[1] - m.span[0] - 1
            )
        for m in s.technicians:
            masked_toks[m.span[0] : m.span[1]] = [TECH_PLACEHOLDER.lower()] + [""] * (
                m.span[1] - m.span[0] - 1
            )
        masked = " ".join(t for t in masked_toks if t)
        s.measure = measure_of(low)
        quals = qualifiers(low)
        s.conditions = quals.conditions
        s.consumed |= quals.words
        comparison = find_comparison(question, self.today)
        if comparison is not None:
            s.period, s.compare_to = comparison.current, comparison.baseline.period
            s.measure = "change"
            s.consumed |= {comparison.text, comparison.current.text, comparison.baseline.text}
        elif s.measure == "change" and s.period is not None:
            # "revenue in September compared with August": two periods apart in the sentence
            rest = re.sub(re.escape(s.period.text), " ", question, count=1, flags=re.IGNORECASE)
            other = find_period(rest, self.today)
            if other is not None and other.period != s.period.period:
                later, earlier = sorted((s.period, other), key=lambda m: m.period.start)[::-1]
                s.period, s.compare_to = later, earlier.period
                s.consumed.add(other.text)
        if s.period is not None:
            s.consumed.add(s.period.text)
        # metric: the longest phrase whose kind fits the measure (names and conditions hidden)
        scan_text = masked
        for span in quals.spans:
            scan_text = scan_text.replace(" ".join(tokens(span)), " ")
        scan = scan_text.split()
        found = [
            (phrase, name)
            for pattern, phrase, name in self._metric_phrases
            if pattern.found_in(scan)
        ]
        kinds = {n: str(getattr(m, "kind", "")) for n, m in self.metrics.items()}
        picked = pick_metric(found, s.measure, kinds)
        if picked is not None:
            s.metric_phrase, s.metric = picked
            s.consumed |= {phrase for phrase, name in found if name == s.metric}
        if picked is None and s.measure in FITS and self._tool_for("metric"):
            meant = self._metric_by_meaning(scan_text)
            if meant is not None:  # never confident: the answer says what it read
                s.metric, s.by_meaning = meant, True
        if quals.ageing_bucket:
            s.filters["ageing_bucket"] = [quals.ageing_bucket]
            if s.metric in ("overdue_balance", "overdue_invoices", None):
                s.metric = "balance_due"
        elif quals.ageing_dimension:
            s.dimensions.append("ageing_bucket")
            if s.metric in ("overdue_balance", None):
                s.metric = "balance_due"
        if quals.line_kind_dimension:
            s.dimensions.append("line_kind")
        # dimensions: "by X", "per X", "each X", "which X", "who"
        taken: list[tuple[int, int]] = []  # "by contract kind" is not also "by contract"
        for phrase, dim in self._dimension_phrases:
            pat = rf"\b{_DIM_LEAD}\s+(the\s+)?({_COUNT_WORD}\s+)?{re.escape(phrase)}\b"
            hit = re.search(pat, low)
            if hit and dim not in s.dimensions and not any(_overlaps(hit.span(), t) for t in taken):
                s.dimensions.append(dim)
                s.consumed.add(phrase)
                taken.append(hit.span())
        if (
            re.search(r"\b(trend|over time|month by month|monthly(?! recurring))\b", low)
            and "month" not in s.dimensions
        ):
            s.dimensions.append("month")
        if not s.dimensions and re.search(r"\b(kinds?|types?)\b", low):
            kind_dim = _KIND_DIMENSIONS.get(s.metric or "")
            if kind_dim:
                s.dimensions.append(kind_dim)
                s.consumed |= {"kind", "kinds", "type", "types"}
        ranked_noun = _RANKED_NOUN.search(low)
        if (
            ranked_noun
            and not s.dimensions
            and (_SUPERLATIVE.search(low) or top_n(question) or ranked_noun.group(4))
        ):
            noun = ranked_noun.group(3) or ranked_noun.group(4)
            dim = (
                "technician"
                if noun.startswith(("tech", "engineer"))
                else ("category" if "categor" in noun else "client")
            )
            s.dimensions.append(dim)
        if re.search(r"\bwho\b", low) and not s.dimensions and not s.clients and not s.technicians:
            person_metric = s.metric in ("hours", "billable_hours", "tickets", "labour_cost")
            s.dimensions.append("technician" if person_metric and "owe" not in low else "client")
        # filters
        if s.clients:
            s.filters["client"] = [m.entity.name for m in s.clients]
        if s.technicians:
            s.filters["technician"] = [m.entity.name for m in s.technicians]
        prios = priorities(question)
        if prios and s.metric != "p1_share" and "priority" not in s.dimensions:
            s.filters["priority"] = prios
        if prios:
            s.consumed |= {"priority", "critical", "urgent", "high", "medium", "low", *prios}
            s.consumed |= {p[1] for p in prios}
        cats = match_vocabulary(masked, self.catalogue.categories)
        if cats and "category" not in s.dimensions:
            s.filters["category"] = cats
        inds = match_vocabulary(masked, self.catalogue.industries, threshold=92.0)
        if inds and "industry" not in s.dimensions:
            s.filters["industry"] = inds
        products = match_vocabulary(masked, self.catalogue.products, threshold=90.0)
        if products and "product" not in s.dimensions:
            s.filters["product"] = products[:1]
            money = re.search(r"\b(revenue|invoic\w*|sales|bill\w*|sold)\b", low)
            if money and "licence_revenue" in self.metrics:
                s.metric = "licence_revenue"  # "revenue from <product> licences"
                s.consumed.add(money.group(0))
        asset_kinds = match_vocabulary(masked, self.catalogue.asset_kinds, threshold=92.0)
        if (
            asset_kinds
            and "asset_kind" not in s.dimensions
            and s.metric
            in (
                "assets",
                "managed_devices",
            )
        ):
            s.filters["asset_kind"] = asset_kinds[:1]
        s.consumed |= {*cats, *inds, *products, *asset_kinds}
        for phrase, kind in CONTRACT_KINDS.items():
            if phrase in low and "contract_kind" not in s.dimensions:
                s.filters.setdefault("contract_kind", []).append(kind)
                s.consumed |= {phrase, "contract", "contracts", "agreements"}
        if re.search(r"\bnon-?billable\b", low) and s.metric == "hours":
            s.filters["billable"] = ["false"]
            s.consumed |= {"non-billable", "nonbillable", "non", "billable"}
        # ranking
        s.top_n = top_n(question)
        superlative = bool(_SUPERLATIVE.search(low))
        if re.search(r"\bworst\b", low):
            s.order = "worst"
        elif re.search(r"\bbest\b", low):
            s.order = "best"
        elif _ASCENDING.search(low):
            s.order = "asc"
        if s.metric == "tickets" and s.measure == "share" and "ticket_share" in self.metrics:
            s.metric = "ticket_share"
        if s.metric == "ticket_share" and prios == ["p1"] and "p1_share" in self.metrics:
            s.metric = "p1_share"
            s.filters.pop("priority", None)
        if s.top_n is None and superlative and s.dimensions and not _PLURAL_WHICH.search(low):
            which = _WHICH.search(low)
            s.top_n = 1 if which else 5
        if s.top_n is None and superlative and s.dimensions and _PLURAL_WHICH.search(low):
            s.top_n = 5
        s.amount = amount_filter(question)
        s.money = money_amount(question) if s.amount is None else None
        s.hours = hours_amount(question)
        s.change_pct = percent_change(question)
        days = re.search(r"\b(\d{1,3})\s+days\b", low)
        s.days = int(days.group(1)) if days else None
        for table in KNOWN_TABLES:
            if re.search(rf"\b{table.replace('_', '[ _]')}\b", low) or re.search(
                rf"\b{table[:-1].replace('_', '[ _]')}\b", low
            ):
                s.table = table
        names = [m.entity.name for m in (*s.clients, *s.technicians)]
        s.unread = unread_words(question, [*s.consumed, *names, *self._always_read])
        return s, masked

    def _metric_by_meaning(self, text: str) -> str | None:
        """The metric whose name or synonym is closest in meaning (MiniLM) to ``text``, when
        it is close enough and clearly closer than the next metric (thresholds calibrated on
        dev phrasings: :data:`MEANING_MIN`, :data:`MEANING_MARGIN`)."""
        from mspilot.core.embeddings import get_embedder

        pairs = tuple(
            (name, phrase)
            for name, metric in self.metrics.items()
            for phrase in (name.replace("_", " "), *getattr(metric, "synonyms", ()))
        )
        matrix = _example_matrix(pairs)
        with self._lock:
            vec = get_embedder().embed([text])[0]
        best: dict[str, float] = {}
        for (name, _), sim in zip(pairs, matrix @ vec, strict=True):
            best[name] = max(best.get(name, -1.0), float(sim))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        if len(ranked) < 2:
            return None
        (top, top_sim), (_, second) = ranked[0], ranked[1]
        return top if top_sim >= MEANING_MIN and top_sim - second >= MEANING_MARGIN else None

    # ---- intent -----------------------------------------------------------------------------

    def _similarities(self, text: str) -> dict[str, float]:
        from mspilot.core.embeddings import get_embedder

        matrix = _example_matrix(self._examples)
        with self._lock:
            vec = get_embedder().embed([text])[0]
        sims = matrix @ vec
        best: dict[str, float] = {}
        for (intent, _), sim in zip(self._examples, sims, strict=True):
            best[intent] = max(best.get(intent, -1.0), float(sim))
        return best

    def _cue(self, low: str, s: Slots) -> str | None:
        for pattern, intent in _CUES:
            if not pattern.search(low):
                continue
            if intent == "tables":
                intent = "describe_table" if s.table else "list_tables"
            if intent == "client_profile" and not s.clients:
                continue
            if intent == "forecast" and not re.search(
                r"\b(next|coming|will|forecast|predict|capacity)\b", low
            ):
                continue
            if intent == "chart" and not s.metric:
                continue
            if self._tool_for(intent) is None:
                continue
            return intent
        return None

    def classify(self, question: str, s: Slots, masked: str) -> tuple[str, float, bool]:
        low = question.lower()
        cue = self._cue(low, s)
        if cue is not None:  # a strong cue needs no embedding
            return cue, 0.8, True
        if (
            s.metric is not None
            and self._tool_for("metric")
            and (_COUNTING.search(low) or _BREAKDOWN.search(low) or s.compare_to is not None)
            and not _NOT_A_METRIC.search(low)
        ):
            # a counted, totalled, broken-down or compared metric phrase is a metric question
            # whatever the examples say (the same outcome as below, without the embedder)
            return "metric", 0.7, True
        sims = self._similarities(masked)
        ranked = sorted(sims.items(), key=lambda kv: -kv[1])
        top, top_sim = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0

        # a metric broken down "by" something is a metric question, however list-like
        guard = _SQL_GUARDS.get(top)
        if guard is not None and not guard.search(low):
            sims[top] = 0.0  # its wording is missing: not that list
            ranked = sorted(sims.items(), key=lambda kv: -kv[1])
            top, top_sim = ranked[0]
            second = ranked[1][1] if len(ranked) > 1 else 0.0
        counting = s.metric is not None and (
            _COUNTING.search(low) is not None
            or (bool(s.dimensions) and _BREAKDOWN.search(low) is not None)
            or s.compare_to is not None
        )
        if (top in SQL_INTENTS and not counting) or top in (
            "list_tables",
            "describe_table",
            "greeting",
        ):
            confident = top_sim >= CONFIDENT and top_sim - second >= MIN_MARGIN
            if confident or not s.metric:
                return top, top_sim, confident
        if s.metric and self._tool_for("metric"):
            # a metric phrase: a metric question unless another intent is clearly closer
            if (
                not counting
                and top not in ("metric", "chart")
                and top_sim - sims.get("metric", 0.0) > 0.12
                and top_sim >= CONFIDENT
            ):
                return top, top_sim, True
            return "metric", max(sims.get("metric", 0.0), 0.7), True
        confident = top_sim >= CONFIDENT and top_sim - second >= MIN_MARGIN
        if top == "metric" and not s.metric:
            confident = False
        if top == "client_profile" and not s.clients:
            confident = False
        return top, top_sim, confident

    # ---- routing ----------------------------------------------------------------------------

    def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route | None:
        if self.own_client is not None and names_another_org(
            question, self.own_client, self.other_clients
        ):
            return Route(
                intent="other_client",
                confidence=1.0,
                confident=True,
                reply=OTHER_CLIENT_REFUSAL.format(client=self.own_client),
            )
        s, masked = self.slots(question)
        if (
            last_intent
            and last_intent.get("intent") == "metric"
            and not s.metric
            and (_FOLLOW_UP.search(question.lower()) or len(tokens(question)) <= 5)
        ):
            return self._follow_up(s, last_intent)
        intent, confidence, confident = self.classify(question, s, masked)
        calls = self.calls_for(intent, question, s)
        slots = s.as_dict()
        if intent in ("metric", "chart") and s.by_meaning and not s.unread:
            s.unread = [w for w in unread_words(question, []) if len(w) > 3][:3] or [question]
        if intent in ("metric", "chart") and s.unread:
            # a word the reading did not use may be a qualifier it missed: not confident (an
            # LLM takes it); without one, the answer says what was read and names the words
            confident = False
            confidence = min(confidence, CONFIDENT - 0.01)
            slots["unread"] = s.unread
            slots["reading"] = self.reading(s)
        else:
            slots["unread"] = []
        if not calls:
            return Route(intent=intent, confidence=confidence, confident=False, slots=slots)
        return Route(
            intent=intent,
            confidence=round(confidence, 3),
            confident=confident,
            calls=calls,
            slots=slots,
        )

    def reading(self, s: Slots) -> str:
        """What the router understood, in words: measure, metric, filters, grouping, period."""
        metric = (s.metric or "?").replace("_", " ")
        parts = [f"{s.measure} of {metric}" if s.measure in ("count", "sum", "average") else metric]
        for key, values in s.filters.items():
            parts.append(f"{key.replace('_', ' ')} {', '.join(values)}")
        if s.dimensions:
            parts.append("by " + " and ".join(d.replace("_", " ") for d in s.dimensions))
        if s.conditions:
            parts.append("; ".join(f"{c['metric']} {c['op']} {c['value']}" for c in s.conditions))
        parts.append(_period_label(s.period.period) if s.period else "all time")
        if s.compare_to is not None:
            parts.append(f"compared with {_period_label(s.compare_to)}")
        return ", ".join(parts)

    def _follow_up(self, s: Slots, last: dict[str, Any]) -> Route | None:
        """ "And in September?" / "what about Contoso?": the previous metric with new slots."""
        merged = Slots(
            metric=last.get("metric"),
            dimensions=list(last.get("dimensions") or []),
            filters=dict(last.get("filters") or {}),
            top_n=last.get("top_n"),
            order=last.get("order") or "desc",
        )
        if s.period:
            merged.period = s.period
        elif last.get("period"):
            p = last["period"]
            merged.period = PeriodMatch(
                Period(dt.date.fromisoformat(p["start"]), dt.date.fromisoformat(p["end"])),
                "",
                "range",
            )
        if s.clients:
            merged.clients = s.clients
            merged.filters["client"] = [m.entity.name for m in s.clients]
        if s.technicians:
            merged.technicians = s.technicians
            merged.filters["technician"] = [m.entity.name for m in s.technicians]
        for key in ("priority", "category", "industry", "contract_kind"):
            if key in s.filters:
                merged.filters[key] = s.filters[key]
        for dim in s.dimensions:
            if dim not in merged.dimensions:
                merged.dimensions = [dim]
        if s.top_n:
            merged.top_n = s.top_n
        calls = self.calls_for("metric", "", merged)
        if not calls:
            return None
        return Route(
            intent="metric", confidence=0.75, confident=True, calls=calls, slots=merged.as_dict()
        )

    # ---- calls ------------------------------------------------------------------------------

    def metric_request(self, s: Slots) -> dict[str, Any] | None:
        if not s.metric or s.metric not in self.metrics:
            return None
        metric = self.metrics[s.metric]
        valid = set(getattr(metric, "dimensions", ()) or self.dimensions)
        dims = [d for d in s.dimensions if d in valid]
        filters = {k: v for k, v in s.filters.items() if k in valid}
        # a single client/technician filter makes grouping by that same thing pointless
        dims = [d for d in dims if not (d in filters and len(filters[d]) == 1)]
        if s.metric == "ticket_share" and not dims:
            dims = ["priority"] if "priority" in valid else dims
        request: dict[str, Any] = {"metric": s.metric}
        if dims:
            request["dimensions"] = dims[:2]
        if filters:
            request["filters"] = filters
        if s.period:
            request["period"] = _period_dict(s.period.period)
        if s.top_n and dims:
            request["top_n"] = s.top_n
        if s.order != "desc" and dims:
            request["order"] = s.order
        if s.compare_to is not None and s.period is not None:
            request["compare_to"] = _period_dict(s.compare_to)
        conditions = [c for c in s.conditions if c["metric"] in self.metrics and dims]
        if conditions:
            request["conditions"] = conditions
        return request

    def calls_for(self, intent: str, question: str, s: Slots) -> list[PlannedCall]:
        """The typed call (``agent.intents``) for ``intent`` from the slots, or none when a
        slot it needs is missing."""
        tool = self._tool_for(intent)
        if tool is None:
            return []
        args: RouterArgs | None = None
        client = s.clients[0].entity.name if s.clients else None
        period = PeriodRange(**_period_dict(s.period.period)) if s.period else None
        if intent in ("metric", "chart"):
            request = self.metric_request(s)
            if request is None:
                return []
            if intent == "chart" and not request.get("dimensions"):
                request["dimensions"] = ["month"]
            args = MetricArgs.model_validate(request)
        elif intent in SQL_INTENTS:
            sql = sql_for(
                intent,
                question,
                today=self.today,
                client=client,
                industries=s.filters.get("industry")
                or match_vocabulary(question.lower(), self.catalogue.industries, 80.0),
                period=s.period.period if s.period else None,
                days=s.days,
                top_n=s.top_n,
            )
            args = SqlArgs(sql=sql) if sql is not None else None
        elif intent == "client_profile":
            args = ClientArgs(client=client) if client else None
        elif intent == "search_knowledge":
            args = QueryArgs(query=question)
        elif intent == "list_tables":
            args = NoArgs()
        elif intent == "describe_table":
            args = TableArgs(table=s.table) if s.table else None
        elif intent == "forecast":
            if not _AHEAD.search(question.lower()):
                return []  # "and in August?" is not a forecast, however close its wording
            args = ForecastArgs(client=client, period=period)
        elif intent == "pricing" and s.change_pct is not None and client:
            what_if = self._tool_for("what_if")  # "what if we raise Contoso 10%?"
            if what_if is not None:
                tool, args = what_if, WhatIfArgs(client=client, change_pct=s.change_pct)
            else:
                args = RankedArgs(client=client, top=s.top_n)
        elif intent in ("churn", "leaks", "pricing"):
            args = RankedArgs(client=client, top=s.top_n)
        elif intent == "margins":
            args = MarginArgs(client=client, top=s.top_n, period=period)
        elif intent == "budget":
            args = BudgetArgs(amount=s.money, hours=s.hours)
        if args is None:
            return []
        return [PlannedCall(name=tool, args=args.as_args())]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class HasName(Protocol):
    @property
    def name(self) -> str: ...


def router_for_context(ctx: ToolContext, tools: Iterable[str | HasName]) -> IntentRouter:
    """The router for a caller's scope (its catalogue is read from the tenant's rows)."""
    catalogue = Catalogue.load(ctx.engine, ctx.tenant_id, ctx.client_id)
    others = other_clients(ctx.engine, ctx.tenant_id, ctx.client_id) if ctx.client_id else []
    return IntentRouter(catalogue, ctx.today, tools, role=ctx.role, other_clients=others)
