"""The router's cue phrases: strong wording that decides an intent without the embedder
("chart", "policy", "likely to leave"), and contract-kind words. Patterns are matched on the
lower-cased question, in order; the first intent whose pattern matches wins."""

from __future__ import annotations

from typing import Final

ROUTER_CUES: Final[list[tuple[str, str]]] = [
    (r"\b(chart|plot|graph|visuali[sz]e|draw)\b", "chart"),
    # before the knowledge cue: "how should we spend a $20k budget" is a plan, not a policy
    (
        (
            r"\b(budget|allocate|spending plan|how should we spend|where should we spend|"
            r"plan (for )?(the |next |this )?quarter)\b"
        ),
        "budget",
    ),
    (
        (
            r"\b(policy|policies|playbook|procedure|runbook|guideline|catalogue|catalog|"
            r"terms and conditions|termination terms|how do we|how should we|how did we fix|"
            r"how to fix|what does our|sla for|response time commitment|knowledge base|"
            r"do we (promise|guarantee|commit)|are we (obliged|committed))\b"
        ),
        "search_knowledge",
    ),
    (
        (
            r"\b(at risk|risk of (leaving|churn)|churn risk|churn drivers|flight risk|"
            r"(might|could|may|likely to|going to|about to|thinking of)\s+"
            r"(leave|churn|cancel|walk away|quit|switch)|"
            r"how likely is .{1,60} to (leave|churn|cancel))\b"
        ),
        "churn",
    ),
    (
        (
            r"\b(should we charge|price recommendation|recommended price|underpriced|"
            r"price (do|would) (you|we) (recommend|suggest)|"
            r"overpriced|(raise|increase|cut|lower) .{0,30}price|"
            r"what if we (raise|increase|cut|lower|charge)|"
            r"(raise|increase|cut|lower) [a-z0-9&' .-]{1,40} by \d{1,3}\s*(%|percent))\b"
        ),
        "pricing",
    ),
    (r"\b(leak|leaks|leaking|leakage|under-?billing|billing mistakes)\b", "leaks"),
    (
        (
            r"\b(forecast|predict|will we (get|need|have|be)|capacity|how busy|"
            r"workload (next|coming))\b"
        ),
        "forecast",
    ),
    (
        (r"\b(unprofitable|least profitable|losing (us )?money|lose us money|cost us more)\b"),
        "margins",
    ),
    (r"\b(tables?|columns?|fields?|schema)\b.*\b(have|available|query|in)\b", "tables"),
    (
        (r"\b(tell me about|overview of|profile|brief me|account summary|how is .+ doing)\b"),
        "client_profile",
    ),
]

CONTRACT_KINDS: Final[dict[str, str]] = {
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

#: What kind of number the question asks for (the first kind whose pattern matches).
MEASURE_CUES: Final[list[tuple[str, str]]] = [
    (
        r"\b(vs\.?|versus|compared? (to|with)|growth|grow|grew|change[ds]?|month over month|"
        r"quarter over quarter|year over year|mom|qoq|yoy)\b",
        "change",
    ),
    (r"\b(share|percent(age)?|proportion|ratio|%|what fraction)\b", "share"),
    (r"\b(rate|utili[sz](ation|ed|e))\b", "rate"),
    (r"\b(average|avg|mean|on average|typical)\b", "average"),
    (r"\b(how many|number of|count( of)?|how often)\b", "count"),
    (r"\b(how much|total|sum|in total|overall)\b", "sum"),
    (r"\b(top|bottom|rank|list|which|who|show|biggest|largest|most|least|best|worst)\b", "list"),
]

#: Words a question may hold without changing what is asked (never "not understood").
FILLER_WORDS: Final = frozenset(
    """a about across after all also am an and any are as at be been before being between both
    break broken by can could current currently did do does doing done down during each
    ever every for from get got give had has have how i in into is it its just last let like
    list many me more most much my need next now of off on one or our ours out over past
    per please right say see show since so some still tell than that the their them then there
    these they this those through to today top total up us was we were what when where which
    while who whom whose why will with within would year years you your month months quarter
    quarters week weeks day days date so far ytd to-date vs versus compared compare against
    each every number count many much average mean share percent percentage rate ratio
    proportion split breakdown down by per kind kinds type types report ranking rank order
    biggest largest highest lowest least best worst most smallest first five three two four
    ten six seven eight nine single overall sum amount value right now currently our total
    bring brought generate generated come came make made put spend spent take took went go
    going logged log worked work did doing open opened raise raised issue issued send sent
    still yet so far again really exactly roughly approximately about around
    """.split()  # noqa: SIM905
)  # fmt: skip
