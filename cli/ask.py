"""``mspilot ask``, ``mspilot chat`` and ``mspilot eval``: the agent from the command line.

Heavy imports (LangGraph, the embedder, the tools) happen inside the commands, so the CLI
starts fast.
"""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mspilot.cli.context import (
    console,
    emit_json,
    err_console,
    friendly_errors,
    print_table,
    settings,
)
from mspilot.core.errors import UserInputError

if TYPE_CHECKING:
    from mspilot.agent.service import AgentService
    from mspilot.tools.context import ToolContext

PROVIDERS = ("none", "local", "fake", "openai", "openai-compatible")

Provider = Annotated[
    str | None,
    typer.Option(
        "--provider", help=f"LLM provider ({', '.join(PROVIDERS)}); default from settings."
    ),
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Tenant id (default: the first one).")]
Role = Annotated[str, typer.Option("--role", help="Caller role (owner, finance, technician...).")]
ClientOpt = Annotated[str | None, typer.Option("--client-id", help="Client id for client_user.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class _Stderr:
    """Whatever ``sys.stderr`` is at write time (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _logs_to_stderr() -> None:
    """Structured logs go to stderr so stdout carries only the answer (or the JSON)."""
    import logging

    import structlog

    from mspilot.core.logging import configure_logging

    s = settings()
    configure_logging(s.log_format, s.log_level)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        wrapper_class=structlog.make_filtering_bound_logger(
            max(
                logging.getLevelNamesMapping().get(s.log_level.upper(), logging.INFO),
                logging.WARNING,
            )
        ),
    )


def _context(tenant: str | None, role: str = "owner", client_id: str | None = None) -> ToolContext:
    from sqlalchemy import inspect

    from mspilot.cli.deps import resolve_tenant_id
    from mspilot.core.clock import Clock
    from mspilot.db.engine import make_engine
    from mspilot.tools.context import ToolContext

    _logs_to_stderr()
    s = settings()
    s.ensure_data_dir()
    engine = make_engine(s.resolved_database_url)
    if not inspect(engine).has_table("alembic_version"):  # no Alembic import on this path
        from mspilot.core.errors import DataError

        raise DataError(
            "the database has no schema yet: run `mspilot demo` (or `mspilot db upgrade`)"
        )
    tenant_id = resolve_tenant_id(engine, tenant)  # the CLI's one rule (cli/deps.py)
    today = Clock(s.today).today()
    try:
        return ToolContext(
            engine=engine,
            tenant_id=tenant_id,
            today=today,
            data_dir=s.data_dir,
            role=role,
            client_id=client_id,
        )
    except ValueError as exc:
        raise UserInputError(str(exc)) from None


def _service(provider: str | None, *, fast_path: bool = True) -> AgentService:
    from mspilot.agent.service import AgentService

    if provider is not None and provider not in PROVIDERS:
        raise UserInputError(f"--provider must be one of {', '.join(PROVIDERS)}, not {provider!r}")
    if provider == "fake":
        from mspilot.agent.fake_llm import fake_service

        return fake_service(settings(), fast_path=fast_path)
    return AgentService.from_settings(settings(), provider=provider, fast_path=fast_path)


def _print_events(service: AgentService, question: str, ctx: Any, thread: str) -> Any:
    final = None
    streamed: list[str] = []
    for event in service.stream(question, ctx, thread):
        if event.type == "tool_start":
            err_console.print(f"[dim]→ {event.tool} {event.args}[/]")
        elif event.type == "tool_end":
            status = "ok" if event.ok else "error"
            err_console.print(f"[dim]← {event.tool} {status}, {event.rows} rows[/]")
        elif event.type == "token":
            streamed.append(event.text)
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif event.type == "final":
            final = event.answer
    sys.stdout.write("\n")
    if final is not None:
        if "".join(streamed).strip() != final.answer.strip():
            if streamed:
                err_console.print(
                    "[yellow]The answer above had numbers no tool produced; grounded answer:[/]"
                )
            console.print(final.answer, markup=False, highlight=False)  # data text stays text
        if not streamed or "Source:" not in "".join(streamed):
            pass
    return final


@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    provider: Provider = None,
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread.")] = None,
    tenant: Tenant = None,
    role: Role = "owner",
    client_id: ClientOpt = None,
    as_json: AsJson = False,
) -> None:
    """Ask one question; the answer streams, with the tools it used."""
    if not question.strip():
        raise UserInputError('ask needs a question, e.g. mspilot ask "revenue last month"')
    ctx = _context(tenant, role, client_id)
    if thread is None and (provider or settings().llm.provider) == "none":
        # the router answers without the graph: no LangChain, no tracing, no chat model
        from mspilot.agent.quick import quick_answer

        quick = quick_answer(question, ctx)
        if quick is not None:
            if as_json:
                emit_json(quick.model_dump(mode="json"))
            else:
                for call in quick.tool_calls:
                    status = "ok" if call.ok else "error"
                    err_console.print(f"[dim]← {call.name} {status}, {call.rows} rows[/]")
                sys.stdout.write(quick.answer + "\n")
            return
    service = _service(provider)
    thread_id = thread or uuid.uuid4().hex[:12]
    if as_json:
        emit_json(service.ask(question, ctx, thread_id).model_dump(mode="json"))
        return
    _print_events(service, question, ctx, thread_id)
    err_console.print(f"[dim]thread {thread_id}[/]")


@friendly_errors
def chat(
    provider: Provider = None,
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread.")] = None,
    tenant: Tenant = None,
    role: Role = "owner",
    client_id: ClientOpt = None,
) -> None:
    """A conversation that keeps its thread (memory); empty line or Ctrl-D to leave."""
    ctx = _context(tenant, role, client_id)
    service = _service(provider)
    thread_id = thread or uuid.uuid4().hex[:12]
    err_console.print(f"[dim]thread {thread_id} — ask away (empty line to quit)[/]")
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question or question in ("exit", "quit"):
            break
        sys.stdout.write("mspilot> ")
        _print_events(service, question, ctx, thread_id)


@friendly_errors
def eval_(
    provider: Annotated[
        str, typer.Option("--provider", help=f"One of {', '.join(PROVIDERS)}.")
    ] = "none",
    only: Annotated[
        str | None, typer.Option("--only", help="Only question ids containing this.")
    ] = None,
    fast_path: Annotated[
        bool, typer.Option("--fast-path/--no-fast-path", help="Let the router answer first.")
    ] = True,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Only the first N questions.")
    ] = None,
    tenant: Tenant = None,
    as_json: AsJson = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every answer.")] = False,
    suite: Annotated[
        str, typer.Option("--suite", help="golden (the product's set) or phrasings (dev/test).")
    ] = "golden",
    split: Annotated[str, typer.Option("--split", help="phrasings: dev, test or both.")] = "both",
    show_test: Annotated[
        bool, typer.Option("--show-test", help="phrasings: print test-split failures too.")
    ] = False,
) -> None:
    """Run the golden questions (accuracy, tool choice, latency) or the phrasing suite
    (accuracy, confidently-wrong and hedged rates, latency; dev and test reported apart)."""
    if suite == "phrasings":
        _eval_phrasings(provider, fast_path, tenant, split, as_json, verbose, show_test)
        return
    from mspilot.agent.golden.env import GoldenEnv
    from mspilot.agent.golden.runner import run_eval
    from mspilot.tools.registry import build_tools

    ctx = _context(tenant)
    service = _service(provider, fast_path=fast_path)
    env = GoldenEnv.load(ctx.engine, ctx.tenant_id, ctx.today, data_dir=ctx.data_dir)
    available = {t.name for t in build_tools(ctx)}

    def show(result: Any) -> None:
        if as_json:
            return
        mark = (
            "[green]ok[/]" if result.ok else ("[red]FAIL[/]" if result.available else "[dim]n/a[/]")
        )
        err_console.print(f"{mark} {result.id:32} {result.latency_ms:8.0f} ms  {result.question}")
        if verbose or (result.available and not result.ok):
            err_console.print(f"     [dim]{result.detail} | {result.answer[:300]!r}[/]")

    report = run_eval(
        service, ctx, env, provider=provider, available_tools=available,
        only=(lambda c: only in c.id) if only else None, on_result=show, limit=limit,
    )  # fmt: skip
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    print_table(
        f"Golden questions — provider {provider}",
        ["questions", "scored", "correct", "accuracy", "tool choice", "p50 ms", "p95 ms"],
        [[
            report.questions, report.scored, report.correct, f"{report.accuracy:.1%}",
            f"{report.tool_accuracy:.1%}", f"{report.p50_ms:.0f}", f"{report.p95_ms:.0f}",
        ]],
    )  # fmt: skip
    if report.unavailable:
        console.print(f"not scored (tool not available): {', '.join(report.unavailable)}")


def _eval_phrasings(
    provider: str,
    fast_path: bool,
    tenant: str | None,
    split: str,
    as_json: bool,
    verbose: bool,
    show_test: bool,
) -> None:
    from mspilot.agent.golden.env import GoldenEnv
    from mspilot.agent.golden.evaluate import Split, SuiteResult, run_suite

    if split not in ("dev", "test", "both"):
        raise UserInputError(f"--split must be dev, test or both, not {split!r}")
    splits: tuple[Split, ...] = ("dev", "test") if split == "both" else (split,)  # type: ignore[assignment]
    ctx = _context(tenant)
    service = _service(provider, fast_path=fast_path)
    env = GoldenEnv.load(ctx.engine, ctx.tenant_id, ctx.today, data_dir=ctx.data_dir)

    def show(r: SuiteResult) -> None:
        if as_json or (r.split == "test" and not show_test):
            return  # the test split's failures stay unseen while tuning (the protocol)
        mark = {"right": "[green]ok[/]", "hedged": "[yellow]hedged[/]"}.get(
            r.outcome, "[red]WRONG[/]"
        )
        err_console.print(f"{mark} {r.id:30} {r.latency_ms:7.0f} ms  {r.question}", markup=True)
        if verbose or r.outcome != "right":
            err_console.print(f"     {r.detail} | {r.answer[:240]!r}", markup=False)

    report = run_suite(service, ctx, env, provider=provider, splits=splits, on_result=show)
    if as_json:
        emit_json(report.model_dump(mode="json", exclude={"results"} if not show_test else set()))
        return
    print_table(
        f"Phrasing suite — provider {provider}",
        ["split", "intents", "questions", "accuracy", "confidently wrong", "hedged", "p50 ms",
         "p95 ms"],
        [[r.split, r.intents, r.questions, f"{r.accuracy:.1%}", f"{r.confidently_wrong_rate:.1%}",
          f"{r.hedged_rate:.1%}", f"{r.p50_ms:.0f}", f"{r.p95_ms:.0f}"] for r in report.splits],
    )  # fmt: skip
