"""Agent latency, as ratios against baselines measured in the same run.

    python -m mspilot.bench.agent_bench [--questions N] [--provider none|fake]

Measures, on the configured database (run ``mspilot demo`` first):
- the full answer (``AgentService.ask``, warm process) vs calling the chosen tool directly
  (the agent's overhead: routing, graph, checkpoint, rendering);
- the router alone (``IntentRouter.route``);
- CLI start-up (``mspilot --help``) vs a bare ``python -c pass``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any


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
    env = GoldenEnv.load(ctx.engine, ctx.tenant_id, ctx.today)
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
    questions = [c.question for c in cases(env) if not c.setup][: args.questions]
    service.ask(questions[0], ctx, "warm")  # embedder, graph, caches

    full, direct, routing = [], [], []
    for i, q in enumerate(questions):
        route = router.route(q)
        routing.append(_ms(lambda q=q: router.route(q)))
        full.append(_ms(lambda q=q, i=i: service.ask(q, ctx, f"bench-{i}")))
        if route and route.calls and route.calls[0].name in tools:
            call = route.calls[0]
            direct.append(_ms(lambda call=call: tools[call.name].invoke(call.args)))

    def p(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]

    base = [
        _ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)) for _ in range(3)
    ]
    cli = [
        _ms(lambda: subprocess.run(["mspilot", "--help"], check=True, capture_output=True))
        for _ in range(3)
    ]
    print(f"questions: {len(questions)}  provider: {args.provider}")
    print(f"answer (warm)   p50 {p(full, 50):7.1f} ms  p95 {p(full, 95):7.1f} ms")
    print(f"tool directly   p50 {p(direct, 50):7.1f} ms  p95 {p(direct, 95):7.1f} ms")
    print(f"router alone    p50 {p(routing, 50):7.1f} ms  p95 {p(routing, 95):7.1f} ms")
    print(f"agent overhead: answer / tool p50 = {p(full, 50) / p(direct, 50):.2f}x")
    print(f"CLI start-up: mspilot --help {min(cli):.0f} ms vs python -c pass {min(base):.0f} ms "
          f"({min(cli) / min(base):.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
