"""``mspilot worker`` and ``mspilot scheduler``: the task engine's processes.

With ``MSPILOT_BROKER_URL`` (RabbitMQ ``amqp://`` or Redis ``redis://``) run any number of
workers and schedulers on any machines sharing the database; without it ``mspilot scheduler``
alone runs the schedules with the jobs in-process (one box, no service).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from mspilot.cli.context import console, friendly_errors, settings

Threads = Annotated[
    int | None,
    typer.Option(
        "--threads", min=1, max=64, help="Worker threads (MSPILOT_TASKS__WORKER_THREADS)."
    ),
]


def task_engine() -> Any:
    """The task engine of the configured database and broker (schema checked)."""
    from mspilot.core.errors import DataError
    from mspilot.db import migrate
    from mspilot.tasks.engine import engine_for
    from mspilot.tasks.settings import TaskSettings

    engine = engine_for(settings(), TaskSettings())
    if not migrate.is_current(engine.db):
        raise DataError("the database schema is missing or old: run `mspilot db upgrade` first")
    return engine


def _until_signalled() -> threading.Event:
    stop = threading.Event()

    def handle(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


@friendly_errors
def worker(threads: Threads = None) -> None:
    """Consume the broker's queue: sync, rescore, train, reindex and digest tasks."""
    from mspilot.core import telemetry
    from mspilot.core.errors import ConfigurationError
    from mspilot.core.logging import configure_logging

    s = settings()
    configure_logging(s.log_format, s.log_level)
    telemetry.configure()  # spans for tasks and SQL when OTEL_* variables ask for them
    engine = task_engine()
    if engine.embedded:
        raise ConfigurationError(
            "no MSPILOT_BROKER_URL: without a broker tasks run in-process; run "
            "`mspilot scheduler` (schedules + jobs in one process) or set "
            "MSPILOT_BROKER_URL=amqp://guest:guest@127.0.0.1:5672/ (or redis://...)"
        )
    stop = _until_signalled()
    consumer = engine.worker(threads)
    consumer.start()
    console.print(
        f"worker {engine.worker_id} consuming {engine.queue!r} "
        f"({consumer.worker_threads} threads); Ctrl-C stops"
    )
    try:
        stop.wait()
    finally:
        consumer.stop(timeout=30_000)
        engine.close()


@friendly_errors
def scheduler(
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit (cron).")] = False,
    threads: Threads = None,
) -> None:
    """Enqueue each tenant's due syncs, trainings and digests, each slot once (leader lease)."""
    from mspilot.core import telemetry
    from mspilot.core.logging import configure_logging
    from mspilot.tasks.schedule import Scheduler

    s = settings()
    configure_logging(s.log_format, s.log_level)
    telemetry.configure()  # spans for tasks and SQL when OTEL_* variables ask for them
    engine = task_engine()
    sched = Scheduler(engine)
    if engine.embedded and not once:
        engine.start_local_worker(threads)  # no broker: the jobs run in this process
    if once:
        sent = sched.tick()
        console.print(
            f"{'leader' if sched.leader else 'not the leader'}: {len(sent)} slot(s) enqueued"
        )
        for item in sent:
            console.print(f"  {item.slot}")
        return
    stop = _until_signalled()
    runner = threading.Thread(target=sched.run, name="scheduler", daemon=True)
    runner.start()
    mode = "in-process jobs" if engine.embedded else f"broker queue {engine.queue!r}"
    console.print(f"scheduler {sched.holder} ({mode}); Ctrl-C stops")
    try:
        stop.wait()
    finally:
        sched.stop()
        runner.join(timeout=30)
        engine.close()
