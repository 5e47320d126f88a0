"""The phrasing evaluation: accuracy, confidently-wrong rate, clarify/abstain rate and latency,
per provider, on the dev and the test split separately.

Protocol (written before any tuning against this suite):

1. The suite (``agent/golden/suite.py``) is split by intent FAMILY, not by phrasing: every
   phrasing of a test family's intents is in the test split, so a test question's intent has no
   sibling phrasing in dev. :data:`TEST_FAMILIES` is fixed here; nothing moves between splits.
2. The test split was written first, before tuning, and is never used for tuning: router cues,
   vocabulary, thresholds and examples are changed only by looking at dev results. Test is run
   to *report* (the current router before a change, then after), never to choose a change; its
   per-question failures are not printed unless asked for explicitly (``--show-test``).
3. Expected answers are computed from the tenant's data when the suite runs (the semantic
   layer's answer to the right request, the registered models, the saved leak findings), never
   written down as numbers.
4. Each answer is scored one of: **right** (the checker finds the expected value/names; for a
   decline intent: the analyst declined or asked back), **hedged** (not right, but the answer
   said it could not answer, asked one question back, refused, or stated what it read and
   flagged a word it did not understand), **confidently wrong** (anything else).
   ``confidently_wrong_rate`` = confidently wrong / scored questions: the number owners
   would act on wrongly.
5. Questions whose tool the caller's role or install lacks are not scored (counted as
   unavailable).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from mspilot.agent.golden.env import GoldenEnv
from mspilot.agent.golden.suite import INTENTS, Intent, fill
from mspilot.agent.render import NO_ANSWER
from mspilot.prompts import agent as prompts

#: intent families held out for testing (never tuned on)
TEST_FAMILIES = frozenset(
    {
        "billing",
        "utilisation",
        "service_quality",
        "clients",
        "margins",
        "compare",
        "models_leaks",
        "models_pricing",
        "kb_policy",
        "decline_unknowable",
    }
)
Split = Literal["dev", "test"]
Outcome = Literal["right", "hedged", "wrong", "unavailable"]


def split_of(intent: Intent) -> Split:
    return "test" if intent.family in TEST_FAMILIES else "dev"


def hedged(answer: Any) -> bool:
    """The answer declined, asked back, or flagged what it did not understand."""
    text = str(getattr(answer, "answer", answer))
    intent = getattr(answer, "intent", None) or {}
    if intent.get("reply") or intent.get("intent") in ("clarify", "other_client", "decline"):
        return True
    if getattr(answer, "mode", "") == "none" or NO_ANSWER[:40] in text:
        return True
    markers = (prompts.NOT_UNDERSTOOD_MARK, "I could not", "I can't", "I cannot")
    return any(m in text for m in markers)


class SuiteResult(BaseModel):
    id: str
    intent: str
    family: str
    split: Split
    question: str
    outcome: Outcome
    latency_ms: float
    detail: str = ""
    answer: str = ""


class SplitReport(BaseModel):
    split: Split
    provider: str
    intents: int
    questions: int
    scored: int
    accuracy: float
    confidently_wrong_rate: float
    hedged_rate: float
    p50_ms: float
    p95_ms: float


class SuiteReport(BaseModel):
    provider: str
    splits: list[SplitReport]
    results: list[SuiteResult] = Field(default_factory=list)


def run_case(service: Any, ctx: Any, env: GoldenEnv, intent: Intent, index: int) -> SuiteResult:
    question = fill(intent.phrasings[index], env)
    started = time.perf_counter()
    try:
        answer = service.ask(question, ctx, f"suite-{uuid.uuid4().hex[:8]}")
    except Exception as exc:  # a crash is a wrong answer, the run goes on
        return SuiteResult(
            id=f"{intent.id}#{index}", intent=intent.id, family=intent.family,
            split=split_of(intent), question=question, outcome="wrong",
            latency_ms=(time.perf_counter() - started) * 1000, detail=f"crashed: {exc!r}"[:300],
        )  # fmt: skip
    latency = (time.perf_counter() - started) * 1000
    try:
        check = intent.check(env, answer)
        ok, detail = check.ok, check.detail
    except Exception as exc:  # the expectation cannot be computed: not scored as right
        ok, detail = False, f"checker error: {exc!r}"[:300]
    outcome: Outcome = "right" if ok else ("hedged" if hedged(answer) else "wrong")
    return SuiteResult(
        id=f"{intent.id}#{index}", intent=intent.id, family=intent.family, split=split_of(intent),
        question=question, outcome=outcome, latency_ms=round(latency, 1), detail=detail,
        answer=answer.answer[:400],
    )  # fmt: skip


def summarise(provider: str, split: Split, results: Sequence[SuiteResult]) -> SplitReport:
    mine = [r for r in results if r.split == split]
    scored = [r for r in mine if r.outcome != "unavailable"]
    n = max(len(scored), 1)
    lat = np.array([r.latency_ms for r in scored] or [0.0])
    return SplitReport(
        split=split,
        provider=provider,
        intents=len({r.intent for r in mine}),
        questions=len(mine),
        scored=len(scored),
        accuracy=round(sum(r.outcome == "right" for r in scored) / n, 4),
        confidently_wrong_rate=round(sum(r.outcome == "wrong" for r in scored) / n, 4),
        hedged_rate=round(sum(r.outcome == "hedged" for r in scored) / n, 4),
        p50_ms=round(float(np.percentile(lat, 50)), 1),
        p95_ms=round(float(np.percentile(lat, 95)), 1),
    )


def run_suite(
    service: Any,
    ctx: Any,
    env: GoldenEnv,
    *,
    provider: str,
    splits: Sequence[Split] = ("dev", "test"),
    on_result: Callable[[SuiteResult], None] | None = None,
) -> SuiteReport:
    service.ask("What was our revenue last month?", ctx, "suite-warmup")  # load once, untimed
    results: list[SuiteResult] = []
    for intent in INTENTS:
        if split_of(intent) not in splits:
            continue
        for index in range(len(intent.phrasings)):
            result = run_case(service, ctx, env, intent, index)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return SuiteReport(
        provider=provider,
        splits=[summarise(provider, s, results) for s in splits],
        results=results,
    )
