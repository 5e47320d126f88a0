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

import datetime as dt
import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from langchain_core.tools import BaseTool

from mspilot.agent.entities import (
    Catalogue,
    NameMatch,
    amount_filter,
    hours_amount,
    match_names,
    match_vocabulary,
    money_amount,
    percent_change,
    priorities,
    tokens,
    top_n,
)
from mspilot.agent.plan import PlannedCall, Route
from mspilot.core.periods import Period, PeriodMatch, find_period
from mspilot.db.semantic_access import SQL_TABLES
from mspilot.prompts.router_examples import (
    CLIENT_PLACEHOLDER,
    DIMENSION_PHRASES,
    INTENT_EXAMPLES,
    METRIC_PHRASES,
    TECH_PLACEHOLDER,
)

CONFIDENT = 0.62
MIN_MARGIN = 0.03
#: intents answered by a tool of this name (or a registry name containing it)
INTENT_TOOLS = {
    "metric": "query_metrics",
    "client_profile": "client_profile",
    "search_knowledge": "search_knowledge",
    "list_tables": "list_tables",
    "describe_table": "describe_table",
    "chart": "make_chart",
    "churn": "churn",
    "margins": "margin",
    "leaks": "leak",
    "forecast": "forecast",
    "pricing": "pric",
    "budget": "budget",
}
SQL_INTENTS = (
    "clients_in_industry",
    "contracts_expiring",
    "clients_onboarded",
    "stale_devices",
    "oldest_open_tickets",
    "largest_invoices",
    "technician_list",
)
#: tables a question may name ("describe the tickets table")
KNOWN_TABLES = tuple(sorted(SQL_TABLES["owner"]))

_CUES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(chart|plot|graph|visuali[sz]e|draw)\b"), "chart"),
    # before the knowledge cue: "how should we spend a $20k budget" is a plan, not a policy
    (
        re.compile(
            r"\b(budget|allocate|spending plan|how should we spend|where should we spend|"
            r"plan (for )?(the |next |this )?quarter)\b"
        ),
        "budget",
    ),
    (
        re.compile(
            r"\b(policy|policies|playbook|procedure|runbook|guideline|catalogue|catalog|"
            r"terms and conditions|termination terms|how do we|how should we|how did we fix|"
            r"how to fix|what does our|sla for|response time commitment|knowledge base|"
            r"do we (promise|guarantee|commit)|are we (obliged|committed))\b"
        ),
        "search_knowledge",
    ),
    (
        re.compile(
            r"\b(at risk|risk of (leaving|churn)|churn risk|churn drivers|flight risk|"
            r"(might|could|may|likely to|going to|about to|thinking of)\s+"
            r"(leave|churn|cancel|walk away|quit|switch)|"
            r"how likely is .{1,60} to (leave|churn|cancel))\b"
        ),
        "churn",
    ),
    (
        re.compile(
            r"\b(should we charge|price recommendation|recommended price|underpriced|"
            r"price (do|would) (you|we) (recommend|suggest)|"
            r"overpriced|(raise|increase|cut|lower) .{0,30}price|"
            r"what if we (raise|increase|cut|lower|charge)|"
            r"(raise|increase|cut|lower) [a-z0-9&' .-]{1,40} by \d{1,3}\s*(%|percent))\b"
        ),
        "pricing",
    ),
    (re.compile(r"\b(leak|leaks|leaking|leakage|under-?billing|billing mistakes)\b"), "leaks"),
    (
        re.compile(
            r"\b(forecast|predict|will we (get|need|have|be)|capacity|how busy|"
            r"workload (next|coming))\b"
        ),
        "forecast",
    ),
    (
        re.compile(
            r"\b(unprofitable|least profitable|losing (us )?money|lose us money|cost us more)\b"
        ),
        "margins",
    ),
    (re.compile(r"\b(tables?|columns?|fields?|schema)\b.*\b(have|available|query|in)\b"), "tables"),
    (
        re.compile(
            r"\b(tell me about|overview of|profile|brief me|account summary|how is .+ doing)\b"
        ),
        "client_profile",
    ),
]
_DIM_LEAD = r"(by|per|for each|each|across|which|what|every|split by|broken down by)"
_COUNT_WORD = r"(\d{1,3}|three|four|five|six|seven|eight|nine|ten)"
_COUNTING = re.compile(r"\b(how many|how much|number of|total|count of|what is our|what's our)\b")
_RANKED_NOUN = re.compile(
    r"\b(top|bottom|most|least|biggest|largest|best|worst|highest|lowest)\s+"
    r"(\d+\s+|[a-z]+\s+)?(clients|customers|accounts|technicians|techs|engineers)\b"
)
_AHEAD = re.compile(
    r"\b(next|coming|will|forecast|predict|capacity|busy|ahead|upcoming|future|expect)"
)
_FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|same but|now|ok,? and|then)\b")
_SUPERLATIVE = re.compile(
    r"\b(most|highest|biggest|largest|top|best|least|lowest|fewest|worst|smallest|bottom|"
    r"busiest|greatest|maximum|minimum)\b"
)
_ASCENDING = re.compile(r"\b(least|lowest|fewest|worst|smallest|bottom|minimum)\b")
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
_CONTRACT_KINDS = {
    "per user": "per_user",
    "per-user": "per_user",
    "per device": "per_device",
    "per-device": "per_device",
    "block hours": "block_hours",
    "block-hour": "block_hours",
    "time and materials": "time_and_materials",
    "t&m": "time_and_materials",
    "flat": "flat",
}


@functools.cache
def _example_matrix(examples: tuple[tuple[str, str], ...]) -> npt.NDArray[np.float32]:
    from mspilot.core.embeddings import get_embedder

    return get_embedder().embed([text for _, text in examples])


def _phrase_regex(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in tokens(phrase)] or [re.escape(phrase.lower())]
    body = r"\s+".join(words)
    tail = r"(?:s|es)?" if phrase[-1].isalnum() else ""
    return re.compile(rf"(?<![\w]){body}{tail}(?![\w])")


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
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


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class IntentRouter:
    """Routes a question to tool calls without a language model."""

    def __init__(
        self,
        catalogue: Catalogue,
        today: dt.date,
        tools: Sequence[BaseTool] | Sequence[str],
        *,
        metrics: dict[str, Any] | None = None,
        dimensions: dict[str, Any] | None = None,
        role: str = "owner",
    ) -> None:
        from mspilot.db.semantic import DIMENSIONS, METRICS

        self.catalogue = catalogue
        self.today = today
        self.role = role
        self.tool_schemas: dict[str, dict[str, Any]] = {}
        for t in tools:
            if isinstance(t, str):
                self.tool_schemas[t] = {}
            else:
                self.tool_schemas[t.name] = dict(t.args or {})
        self.metrics = metrics if metrics is not None else METRICS
        self.dimensions = dimensions if dimensions is not None else DIMENSIONS
        self._metric_phrases = self._build_metric_phrases()
        self._dimension_phrases = self._build_dimension_phrases()
        intents = [
            i for i in INTENT_EXAMPLES if self._tool_for(i) or i in SQL_INTENTS or i == "greeting"
        ]
        self._examples = tuple((i, text) for i in intents for text in INTENT_EXAMPLES[i])
        self._lock = threading.Lock()

    # ---- vocabulary -------------------------------------------------------------------------

    def _build_metric_phrases(self) -> list[tuple[re.Pattern[str], str, str]]:
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
        return [(_phrase_regex(p), p, n) for p, n in ordered]

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
        if intent in SQL_INTENTS:
            return "run_sql" if "run_sql" in self.tool_schemas else None
        key = INTENT_TOOLS.get(intent)
        if key is None:
            return None
        if key in self.tool_schemas:
            return key
        if intent == "metric":
            return None
        return next((n for n in self.tool_schemas if key in n), None)

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
        # metric: the longest phrase (ignoring the words of matched names)
        scan = " " + masked + " "
        for pattern, phrase, name in self._metric_phrases:
            if pattern.search(scan):
                s.metric, s.metric_phrase = name, phrase
                break
        # dimensions: "by X", "per X", "each X", "which X", "who"
        for phrase, dim in self._dimension_phrases:
            pat = rf"\b{_DIM_LEAD}\s+(the\s+)?({_COUNT_WORD}\s+)?{re.escape(phrase)}\b"
            if re.search(pat, low) and dim not in s.dimensions:
                s.dimensions.append(dim)
        if (
            re.search(r"\b(trend|over time|month by month|monthly)\b", low)
            and "month" not in s.dimensions
        ):
            s.dimensions.append("month")
        ranked_noun = _RANKED_NOUN.search(low)
        if ranked_noun and not s.dimensions:
            noun = ranked_noun.group(3)
            s.dimensions.append("technician" if noun.startswith(("tech", "engineer")) else "client")
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
        cats = match_vocabulary(masked, self.catalogue.categories)
        if cats and "category" not in s.dimensions:
            s.filters["category"] = cats
        inds = match_vocabulary(masked, self.catalogue.industries, threshold=92.0)
        if inds and "industry" not in s.dimensions:
            s.filters["industry"] = inds
        for phrase, kind in _CONTRACT_KINDS.items():
            if phrase in low and "contract_kind" not in s.dimensions:
                s.filters.setdefault("contract_kind", []).append(kind)
        if re.search(r"\bnon-?billable\b", low) and s.metric == "hours":
            s.filters["billable"] = ["false"]
        # ranking
        s.top_n = top_n(question)
        superlative = bool(_SUPERLATIVE.search(low))
        if _ASCENDING.search(low):
            s.order = "asc"
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
        return s, masked

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
        sims = self._similarities(masked)
        ranked = sorted(sims.items(), key=lambda kv: -kv[1])
        top, top_sim = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0

        counting = s.metric is not None and _COUNTING.search(low) is not None
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
        if not calls:
            return Route(intent=intent, confidence=confidence, confident=False, slots=s.as_dict())
        return Route(
            intent=intent,
            confidence=round(confidence, 3),
            confident=confident,
            calls=calls,
            slots=s.as_dict(),
        )

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
        if s.order == "asc" and dims:
            request["order"] = "asc"
        return request

    def _args_for(self, tool: str, mapping: dict[str, Any]) -> dict[str, Any]:
        """Fill a tool's own argument names from generic slot values."""
        schema = self.tool_schemas.get(tool, {})
        if not schema:
            return {k: v for k, v in mapping.items() if v is not None}
        args: dict[str, Any] = {}
        for name in schema:
            low = name.lower()
            for key, value in mapping.items():
                if value is None:
                    continue
                if low == key or key in low.split("_") or low.startswith(key):
                    args[name] = value
                    break
        return args

    def calls_for(self, intent: str, question: str, s: Slots) -> list[PlannedCall]:
        tool = self._tool_for(intent)
        if tool is None:
            return []
        if intent == "metric":
            request = self.metric_request(s)
            if request is None:
                return []
            schema = self.tool_schemas.get(tool, {})
            if "request" in schema:
                return [PlannedCall(name=tool, args={"request": request})]
            return [PlannedCall(name=tool, args=request)]
        if intent in SQL_INTENTS:
            sql = self.sql_for(intent, question, s)
            if sql is None:
                return []
            key = next((k for k in self.tool_schemas.get(tool, {}) if k in ("sql", "query")), "sql")
            return [PlannedCall(name=tool, args={key: sql})]
        client = s.clients[0].entity.name if s.clients else None
        if intent == "client_profile":
            if not client:
                return []
            return [
                PlannedCall(
                    name=tool, args=self._args_for(tool, {"client": client, "name": client})
                )
            ]
        if intent == "search_knowledge":
            return [
                PlannedCall(
                    name=tool,
                    args=self._args_for(
                        tool, {"query": question, "question": question, "text": question}
                    ),
                )
            ]
        if intent == "list_tables":
            return [PlannedCall(name=tool, args={})]
        if intent == "describe_table":
            if not s.table:
                return []
            return [
                PlannedCall(
                    name=tool, args=self._args_for(tool, {"table": s.table, "name": s.table})
                )
            ]
        if intent == "chart":
            request = self.metric_request(s)
            if request is None:
                return []
            if not request.get("dimensions"):
                request["dimensions"] = ["month"]
            schema = self.tool_schemas.get(tool, {})
            if "request" in schema:
                return [PlannedCall(name=tool, args={"request": request})]
            args = {k: v for k, v in request.items() if not schema or k in schema}
            return [PlannedCall(name=tool, args=args)]
        if intent == "forecast" and not _AHEAD.search(question.lower()):
            return []  # "and in August?" is not a forecast, however close its wording
        if intent == "pricing" and s.change_pct is not None and client:
            # "what if we raise Contoso 10%?": the what-if tool, when there is one
            tool = next((n for n in self.tool_schemas if "pric" in n and "if" in n), tool)
        generic = {
            "client": client,
            "period": _period_dict(s.period.period) if s.period else None,
            "top": s.top_n,
            "limit": s.top_n,
            "n": s.top_n,
            "horizon": None,
            "amount": s.money,
            "hours": s.hours,
            "change": s.change_pct,
        }
        return [PlannedCall(name=tool, args=self._args_for(tool, generic))]

    def sql_for(self, intent: str, question: str, s: Slots) -> str | None:
        low = question.lower()
        today = self.today
        client_clause = ""
        if s.clients:
            client_clause = f" AND c.name = {_sql_str(s.clients[0].entity.name)}"
        if intent == "clients_in_industry":
            inds = s.filters.get("industry") or match_vocabulary(
                low, self.catalogue.industries, 80.0
            )
            if not inds:
                return None
            return (
                "SELECT c.name, c.status, c.seats, c.onboarded_on FROM clients c "
                f"WHERE c.industry = {_sql_str(inds[0])} AND c.status = 'active' "
                "AND c.deleted_at IS NULL ORDER BY c.name"
            )
        if intent == "contracts_expiring":
            period = (
                s.period.period
                if s.period
                else Period(today, today + dt.timedelta(days=s.days or 90))
            )
            return (
                "SELECT c.name AS client, k.name AS contract, k.kind, k.ends_on, k.monthly_value "
                "FROM contracts k JOIN clients c ON c.id = k.client_id "
                f"WHERE k.ends_on >= '{period.start.isoformat()}' "
                f"AND k.ends_on < '{period.end.isoformat()}' "
                "AND k.status = 'active' AND k.deleted_at IS NULL"
                + client_clause
                + " ORDER BY k.ends_on"
            )
        if intent == "clients_onboarded":
            if s.clients:
                return (
                    "SELECT c.name, c.onboarded_on, c.status, c.industry FROM clients c "
                    f"WHERE c.deleted_at IS NULL{client_clause}"
                )
            period = (
                s.period.period
                if s.period
                else Period(dt.date(today.year, 1, 1), today + dt.timedelta(days=1))
            )
            return (
                "SELECT c.name, c.industry, c.onboarded_on FROM clients c "
                f"WHERE c.onboarded_on >= '{period.start.isoformat()}' "
                f"AND c.onboarded_on < '{period.end.isoformat()}' AND c.deleted_at IS NULL "
                "ORDER BY c.onboarded_on"
            )
        if intent == "stale_devices":
            cutoff = today - dt.timedelta(days=s.days or 30)
            return (
                "SELECT c.name AS client, a.name AS device, a.kind, a.last_seen_at "
                "FROM assets a JOIN clients c ON c.id = a.client_id "
                f"WHERE a.managed = TRUE AND a.last_seen_at < '{cutoff.isoformat()}' "
                "AND a.deleted_at IS NULL" + client_clause + " ORDER BY a.last_seen_at"
            )
        if intent == "oldest_open_tickets":
            limit = s.top_n or 10
            return (
                "SELECT t.subject, c.name AS client, t.priority, t.opened_at "
                "FROM tickets t JOIN clients c ON c.id = t.client_id "
                "WHERE t.resolved_at IS NULL AND t.deleted_at IS NULL"
                + client_clause
                + f" ORDER BY t.opened_at LIMIT {limit}"
            )
        if intent == "largest_invoices":
            if "overdue" in low or "past due" in low:
                return (
                    "SELECT i.number, c.name AS client, i.due_on, i.balance "
                    "FROM invoices i JOIN clients c ON c.id = i.client_id "
                    f"WHERE i.balance > 0 AND i.due_on < '{today.isoformat()}' "
                    "AND i.status <> 'void' AND i.deleted_at IS NULL"
                    + client_clause
                    + " ORDER BY i.due_on"
                )
            period_sql = ""
            if s.period:
                period_sql = (
                    f" AND i.issued_on >= '{s.period.period.start.isoformat()}'"
                    f" AND i.issued_on < '{s.period.period.end.isoformat()}'"
                )
            return (
                "SELECT i.number, c.name AS client, i.issued_on, i.total "
                "FROM invoices i JOIN clients c ON c.id = i.client_id "
                "WHERE i.status <> 'void' AND i.deleted_at IS NULL"
                + period_sql
                + client_clause
                + f" ORDER BY i.total DESC LIMIT {s.top_n or 5}"
            )
        if intent == "technician_list":
            return (
                "SELECT t.name, t.role FROM technicians t "
                "WHERE t.active = TRUE AND t.deleted_at IS NULL ORDER BY t.name"
            )
        return None


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def router_for_context(ctx: Any, tools: Sequence[BaseTool]) -> IntentRouter:
    """The router for a caller's scope (its catalogue is read from the tenant's rows)."""
    catalogue = Catalogue.load(ctx.engine, ctx.tenant_id, getattr(ctx, "client_id", None))
    return IntentRouter(catalogue, ctx.today, tools, role=getattr(ctx, "role", "owner"))
