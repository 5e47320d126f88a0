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
