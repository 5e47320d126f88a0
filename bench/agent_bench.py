"""Agent latency, as ratios against baselines measured in the same run.

    python -m mspilot.bench.agent_bench [--questions N] [--provider none|fake]

Measures, on the configured database (run ``mspilot demo`` first):
- the full answer (``AgentService.ask``, warm process) vs calling the chosen tool directly
  (the agent's overhead: routing, graph, checkpoint, rendering), for data questions and,
  separately, for the models' questions (churn, margins, leaks, forecast, pricing, budget:
  their tools score trained models, so they need ``mspilot train`` first);
- the router alone (``IntentRouter.route``);
- CLI start-up (``mspilot --help``) vs a bare ``python -c pass``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _cli() -> str:
    """The ``mspilot`` script next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("mspilot")
    return str(beside) if beside.exists() else (shutil.which("mspilot") or "mspilot")


def _ms(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--provider", default="none", choices=("none", "fake"))
    args = parser.parse_args(argv)

    from langgraph.checkpoint.memory import InMemorySaver

    from mspilot.agent.fake_llm import FakeLLMService
    from mspilot.agent.golden.env import GoldenEnv
    from mspilot.agent.golden.questions import cases
    from mspilot.agent.router import router_for_context
    from mspilot.agent.service import AgentService
    from mspilot.agent.templates import render_answer
    from mspilot.cli.ask import _context
    from mspilot.tools.registry import build_tools

    ctx = _context(None)
    env = GoldenEnv.load(ctx.engine, ctx.tenant_id, ctx.today, data_dir=ctx.data_dir)
    tools = {t.name: t for t in build_tools(ctx)}
    router = router_for_context(ctx, list(tools.values()))
    kwargs: dict[str, Any] = {
        "model": None, "checkpointer": InMemorySaver(), "tools_factory": build_tools,
        "renderer": render_answer,
    }  # fmt: skip
    service: AgentService = (
        FakeLLMService(**kwargs, fast_path=False)
        if args.provider == "fake"
        else AgentService(**kwargs, router_factory=router_for_context)
    )
    model_fragments = ("churn", "margin", "leak", "forecast", "pric", "budget")
    everything = [c for c in cases(env) if not c.setup]
    is_model = {
        c.question: any(f in t for t in c.tools for f in model_fragments) for c in everything
    }
    data_qs = [c.question for c in everything if not is_model[c.question]][: args.questions]
    model_qs = [c.question for c in everything if is_model[c.question]]
    questions = data_qs + model_qs
    service.ask(questions[0], ctx, "warm")  # embedder, graph, caches

    full: list[float] = []
    direct: list[float] = []
    routing: list[float] = []
    model_full: list[float] = []
    model_direct: list[float] = []
    for i, q in enumerate(questions):
        route = router.route(q)
        routing.append(_ms(lambda q=q: router.route(q)))
        answer_ms = _ms(lambda q=q, i=i: service.ask(q, ctx, f"bench-{i}"))
        tool_ms = None
        if route and route.calls and route.calls[0].name in tools:
            call = route.calls[0]
            tool_ms = _ms(lambda call=call: tools[call.name].invoke(call.args))
        (model_full if is_model[q] else full).append(answer_ms)
        if tool_ms is not None:
            (model_direct if is_model[q] else direct).append(tool_ms)

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]

    base = [
        _ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)) for _ in range(3)
    ]
    cli = [
        _ms(lambda: subprocess.run([_cli(), "--help"], check=True, capture_output=True))
        for _ in range(3)
    ]
    print(f"questions: {len(data_qs)} data + {len(model_qs)} models'  provider: {args.provider}")
    print(f"answer (warm)   p50 {p(full, 50):7.1f} ms  p95 {p(full, 95):7.1f} ms")
    print(f"tool directly   p50 {p(direct, 50):7.1f} ms  p95 {p(direct, 95):7.1f} ms")
    print(f"router alone    p50 {p(routing, 50):7.1f} ms  p95 {p(routing, 95):7.1f} ms")
    print(f"agent overhead: answer / tool p50 = {p(full, 50) / p(direct, 50):.2f}x")
    if model_full and model_direct:
        mf, md = model_full, model_direct
        print(f"models: answer  p50 {p(mf, 50):7.1f} ms  p95 {p(mf, 95):7.1f} ms")
        print(f"models: tool    p50 {p(md, 50):7.1f} ms  p95 {p(md, 95):7.1f} ms")
        print(f"models: answer / tool p50 = {p(mf, 50) / p(md, 50):.2f}x; "
              f"model answer / data answer p50 = {p(mf, 50) / p(full, 50):.2f}x")  # fmt: skip
    print(f"CLI start-up: mspilot --help {min(cli):.0f} ms vs python -c pass {min(base):.0f} ms "
          f"({min(cli) / min(base):.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
