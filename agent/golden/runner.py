"""Run the golden questions through an :class:`AgentService` and score them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from mspilot.agent.golden.env import GoldenEnv
from mspilot.agent.golden.questions import Case, cases


class CaseResult(BaseModel):
    id: str
    question: str
    ok: bool
    tool_ok: bool
    available: bool
    latency_ms: float
    tools_used: list[str] = Field(default_factory=list)
    mode: str = ""
    detail: str = ""
    answer: str = ""


class EvalReport(BaseModel):
    provider: str
    questions: int
    scored: int
    correct: int
    accuracy: float
    tool_accuracy: float
    p50_ms: float
    p95_ms: float
    unavailable: list[str] = Field(default_factory=list)
    by_mode: dict[str, int] = Field(default_factory=dict)
    results: list[CaseResult] = Field(default_factory=list)


def _tool_ok(case: Case, used: Sequence[str]) -> bool:
    return bool(used) and any(frag in used[0] for frag in case.tools)


def run_case(
    service: Any, ctx: Any, env: GoldenEnv, case: Case, available_tools: set[str]
) -> CaseResult:
    available = any(any(frag in name for name in available_tools) for frag in case.tools)
    thread = f"golden-{uuid.uuid4().hex[:8]}"
    if case.setup:
        service.ask(case.setup, ctx, thread)
    started = time.perf_counter()
    try:
        answer = service.ask(case.question, ctx, thread)
    except Exception as exc:  # an eval reports crashes as wrong answers, it does not stop
        return CaseResult(
            id=case.id, question=case.question, ok=False, tool_ok=False, available=available,
            latency_ms=(time.perf_counter() - started) * 1000, detail=f"crashed: {exc!r}"[:300],
        )  # fmt: skip
    latency = (time.perf_counter() - started) * 1000
    used = [c.name for c in answer.tool_calls if c.ok]
    try:
        check = case.golden.check(env, answer)
        ok, detail = check.ok, check.detail
    except Exception as exc:  # a checker that cannot compute (e.g. no data) fails the case
        ok, detail = False, f"checker error: {exc!r}"[:300]
    return CaseResult(
        id=case.id,
        question=case.question,
        ok=ok,
        tool_ok=_tool_ok(case, used),
        available=available,
        latency_ms=round(latency, 1),
        tools_used=used,
        mode=answer.mode,
        detail=detail,
        answer=answer.answer[:600],
    )


def run_eval(
    service: Any,
    ctx: Any,
    env: GoldenEnv,
    *,
    provider: str,
    available_tools: set[str],
    only: Callable[[Case], bool] | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    warmup: bool = True,
    limit: int | None = None,
) -> EvalReport:
    todo = [c for c in cases(env) if only is None or only(c)][:limit]
    if warmup and todo:  # load the embedder / model once, outside the timings
        service.ask("What was our revenue last month?", ctx, "golden-warmup")
    results: list[CaseResult] = []
    for case in todo:
        result = run_case(service, ctx, env, case, available_tools)
        results.append(result)
        if on_result is not None:
            on_result(result)
    scored = [r for r in results if r.available]
    latencies = np.array([r.latency_ms for r in scored]) if scored else np.array([0.0])
    modes: dict[str, int] = {}
    for r in scored:
        modes[r.mode] = modes.get(r.mode, 0) + 1
    correct = sum(r.ok for r in scored)
    return EvalReport(
        provider=provider,
        questions=len(results),
        scored=len(scored),
        correct=correct,
        accuracy=round(correct / len(scored), 4) if scored else 0.0,
        tool_accuracy=round(sum(r.tool_ok for r in scored) / len(scored), 4) if scored else 0.0,
        p50_ms=round(float(np.percentile(latencies, 50)), 1),
        p95_ms=round(float(np.percentile(latencies, 95)), 1),
        unavailable=sorted({r.id.split("#")[0] for r in results if not r.available}),
        by_mode=modes,
        results=results,
    )
