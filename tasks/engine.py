"""The task engine: Dramatiq actors over RabbitMQ or Redis, or the same actors in-process.

- ``TaskEngine(settings, task_settings)`` declares one actor per job (``tasks.jobs.JOBS``) on
  a broker: RabbitMQ (``amqp://``) or Redis (``redis://``) when ``MSPILOT_BROKER_URL`` is set,
  else Dramatiq's in-memory broker (the embedded default: no service needed).
- Messages are acknowledged only after the job returns (Dramatiq acks late by design): a worker
  killed mid-job leaves its message unacknowledged and the broker redelivers it (RabbitMQ: when
  the connection drops; Redis: once the worker's heartbeat is older than
  ``MSPILOT_TASKS__REDIS_HEARTBEAT_TIMEOUT_MS``). Jobs are idempotent, so a redelivery resumes.
- Failures are retried with exponential backoff (``min_backoff_ms`` .. ``max_backoff_ms``,
  ``max_retries``); each job has a time limit. A message that fails every retry, or raises an
  error retrying cannot fix (bad arguments, missing configuration), goes to the broker's
  dead-letter queue and its run is marked ``dead`` (``mspilot jobs status`` lists them).
- Every attempt is a ``task_runs`` row: job, tenant, arguments, status, duration, error.

``mspilot worker`` consumes the broker; ``engine.enqueue(job, kwargs)`` sends (the API's
webhooks, the scheduler, ``mspilot jobs run``). In embedded mode ``start_local_worker()`` runs
worker threads in the calling process, and without one ``enqueue`` runs the job at once.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from mspilot.core import telemetry
from mspilot.core.errors import ConfigurationError, DataError, UserInputError
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.tasks import store
from mspilot.tasks.jobs import JOBS, JobContext, LockBusy, job_key
from mspilot.tasks.settings import TaskSettings

log = get_logger(__name__)
ACTOR_PREFIX = "mspilot_"
#: errors a retry cannot fix (bad arguments, missing configuration, data that cannot support
#: the job, e.g. too few churned clients to train on): the message is dead-lettered at once
POISON = (UserInputError, ConfigurationError, DataError, TypeError)
#: the message option carrying the enqueuer's trace context (W3C traceparent)
TRACE_OPTION = "trace_context"
#: how often, at most, a job that finds its lock taken is deferred before it gives up
MAX_DEFERRALS = 20


def _span_attributes(name: str, kwargs: dict[str, Any]) -> dict[str, str]:
    """What a task span says: the job, its tenant, source and trigger (no other arguments)."""
    attributes = {"messaging.system": "dramatiq", "mspilot.task.job": name}
    for key in ("tenant_id", "source", "trigger"):
        if kwargs.get(key) is not None:
            attributes[f"mspilot.task.{key}"] = str(kwargs[key])
    return attributes


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def make_broker(tasks: TaskSettings) -> dramatiq.Broker:
    """The broker ``MSPILOT_BROKER_URL`` names (RabbitMQ or Redis), else the in-memory one."""
    url = tasks.broker_url
    if not url:
        return StubBroker()
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, confirm_delivery=True)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(  # type: ignore[no-untyped-call]
            url=url,
            namespace="mspilot-tasks",
            heartbeat_timeout=tasks.tasks.redis_heartbeat_timeout_ms,
        )
    raise ConfigurationError(
        f"MSPILOT_BROKER_URL {url.split('://')[0]}://...: use amqp:// (RabbitMQ) or redis://"
    )


class RunRecorder(Middleware):
    """Marks the run of a message the broker gave up on as ``dead`` (dead-letter queue)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        """A failed message is rejected into the dead-letter queue (nack)."""
        exc = getattr(message, "_exception", None)
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "rejected"
        error = f"dead-lettered after {message.options.get('retries', 0)} retries: {reason}"
        try:
            store.mark_dead(self.engine, message.message_id, error, store.utcnow())
        except Exception as exc:  # the broker's own dead-letter queue still has it
            log.warning("dead letter not recorded", error=repr(exc))


class TaskEngine:
    """The actors of every job on one broker, and how to send to them."""

    def __init__(
        self,
        settings: Settings,
        tasks: TaskSettings,
        *,
        engine: Engine | None = None,
        broker: dramatiq.Broker | None = None,
        source_factory: Callable[..., Any] | None = None,
    ) -> None:
        from mspilot.db.engine import make_engine

        self.settings = settings
        self.tasks = tasks
        self.db = engine or make_engine(settings.resolved_database_url)
        self.broker = broker or make_broker(tasks)
        self.broker.add_middleware(CurrentMessage())
        self.broker.add_middleware(RunRecorder(self.db))
        self.embedded = isinstance(self.broker, StubBroker)
        self.queue = tasks.tasks.queue
        self.worker_id = worker_name()
        self.source_factory = source_factory
        self.actors: dict[str, dramatiq.Actor[Any, Any]] = {
            name: dramatiq.Actor(
                self._entry(name),
                broker=self.broker,
                actor_name=ACTOR_PREFIX + name,
                queue_name=self.queue,
                priority=0,
                options=self._options(name),
            )
            for name in JOBS
        }
        self._worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()

    # ---- actors ---------------------------------------------------------------------------

    def _options(self, name: str) -> dict[str, Any]:
        t = self.tasks.tasks
        limit_s = {"sync": t.sync_time_limit_s, "train": t.train_time_limit_s}.get(
            name, t.default_time_limit_s
        )
        return {
            "max_retries": t.max_retries,
            "min_backoff": t.min_backoff_ms,
            "max_backoff": t.max_backoff_ms,
            "time_limit": int(limit_s * 1000),
            "throws": POISON,
        }

    def _entry(self, name: str) -> Callable[..., None]:
        def run(**kwargs: Any) -> None:  # results live in task_runs, not in the broker
            self.execute(name, kwargs)

        run.__name__ = ACTOR_PREFIX + name
        run.__qualname__ = ACTOR_PREFIX + name
        return run

    def context(self) -> JobContext:
        return JobContext(
            self.settings,
            self.tasks,
            self.db,
            self.worker_id,
            self._enqueue_follow_up,
            self.source_factory,
        )

    def execute(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Run one job now, recorded as a ``task_runs`` row (the actor's body), in a trace span
        whose parent is the span that enqueued it (carried in the message) or, in-process, the
        caller's."""
        if name not in JOBS:
            raise UserInputError(f"unknown job {name!r}; jobs: {', '.join(JOBS)}")
        message = CurrentMessage.get_current_message()
        carried = message.options.get(TRACE_OPTION) if message is not None else None
        with telemetry.span(
            f"task {name}",
            _span_attributes(name, kwargs),
            kind=SpanKind.CONSUMER if message is not None else SpanKind.INTERNAL,
            parent=telemetry.extract(carried),
        ):
            return self._execute(name, kwargs, message)

    def _execute(self, name: str, kwargs: dict[str, Any], message: Any) -> dict[str, Any]:
        message_id = message.message_id if message is not None else None
        attempt = int(message.options.get("retries", 0)) + 1 if message is not None else 1
        params = {k: v for k, v in kwargs.items() if k != "deferrals"}
        tenant_id = params.get("tenant_id")
        now = store.utcnow()
        if message_id is not None:
            store.mark_lost(self.db, message_id, now)
        run_id = store.start_run(
            self.db,
            job=name,
            tenant_id=tenant_id,
            key=job_key(name, params),
            args=params,
            message_id=message_id,
            attempt=attempt,
            worker=self.worker_id,
            now=now,
        )
        started = time.perf_counter()
        try:
            result = JOBS[name](self.context(), **params)
        except LockBusy as exc:
            result = {"status": "skipped", "reason": str(exc)}
            if self._defers(name, params):
                deferrals = int(kwargs.get("deferrals", 0))
                if deferrals < MAX_DEFERRALS:
                    delay = self.tasks.tasks.defer_ms
                    self.enqueue(name, {**params, "deferrals": deferrals + 1}, delay_ms=delay)
                    result["deferred_ms"] = delay
            store.finish_run(
                self.db,
                run_id,
                "skipped",
                store.utcnow(),
                duration_s=time.perf_counter() - started,
                result=result,
            )
            return result
        except BaseException as exc:
            store.finish_run(
                self.db,
                run_id,
                "failed",
                store.utcnow(),
                duration_s=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}",
            )
            log.warning("task failed", job=name, key=job_key(name, params), error=repr(exc))
            raise
        status = str(result.get("status", "done"))
        store.finish_run(
            self.db,
            run_id,
            status if status in store.FINAL else "done",
            store.utcnow(),
            duration_s=time.perf_counter() - started,
            result=result,
        )
        return result

    @staticmethod
    def _defers(name: str, params: dict[str, Any]) -> bool:
        """A busy lock defers the job (tries again later) unless the holder already does the
        same work: a scheduled sync or a training finds one already running and skips."""
        if name == "sync":
            return str(params.get("trigger", "schedule")) != "schedule"
        return name in ("reindex", "rescore")

    # ---- sending ------------------------------------------------------------------------

    def enqueue(
        self, name: str, kwargs: dict[str, Any], *, delay_ms: int | None = None
    ) -> str | None:
        """Send a job to the workers (its message id). Embedded without local worker
        threads the job runs here and now (its delay ignored)."""
        if name not in self.actors:
            raise UserInputError(f"unknown job {name!r}; jobs: {', '.join(self.actors)}")
        if self.embedded and self._worker is None:
            if delay_ms:  # a deferral: nothing else runs here, so nothing holds the lock long
                return None
            try:
                self.execute(name, kwargs)
            except Exception as exc:  # recorded as a failed run; the caller's work goes on
                log.warning("in-process task failed", job=name, error=repr(exc))
            return None
        with telemetry.span(
            f"enqueue {name}", _span_attributes(name, kwargs), kind=SpanKind.PRODUCER
        ):
            message = self.actors[name].send_with_options(
                kwargs=kwargs, delay=delay_ms, trace_context=telemetry.inject()
            )
        return str(message.message_id)

    def _enqueue_follow_up(
        self, name: str, kwargs: dict[str, Any], delay_ms: int | None
    ) -> str | None:
        return self.enqueue(name, kwargs, delay_ms=delay_ms)

    # ---- workers ------------------------------------------------------------------------

    def worker(self, threads: int | None = None) -> dramatiq.Worker:
        """A worker consuming this engine's queue (start it, later ``stop()`` it)."""
        return dramatiq.Worker(
            self.broker,
            queues={self.queue},
            worker_threads=threads or self.tasks.tasks.worker_threads,
            worker_timeout=1000,
        )

    def start_local_worker(self, threads: int | None = None) -> dramatiq.Worker:
        """Worker threads in this process (embedded mode: the API server, the scheduler)."""
        with self._lock:
            if self._worker is None:
                self._worker = self.worker(threads)
                self._worker.start()
            return self._worker

    def stop_local_worker(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop(timeout=30_000)
                self._worker = None

    def join(self, timeout_s: float = 600.0) -> None:
        """Wait until the queue is empty and the local worker idle (embedded, tests)."""
        if isinstance(self.broker, StubBroker):
            self.broker.join(self.queue, timeout=int(timeout_s * 1000), fail_fast=False)
        if self._worker is not None:
            self._worker.join()

    # ---- introspection ------------------------------------------------------------------

    def queue_depth(self) -> dict[str, int]:
        """Messages waiting (ready), delayed (retries, deferrals) and dead-lettered."""
        return queue_depth(self.broker, self.queue)

    def ping(self) -> dict[str, Any]:
        """Readiness of the broker: reachable, and its queue depth."""
        if self.embedded:
            return {"ok": True, "broker": "embedded"}
        try:
            depth = self.queue_depth()
        except Exception as exc:
            return {"ok": False, "broker": broker_kind(self.broker), "error": type(exc).__name__}
        return {"ok": True, "broker": broker_kind(self.broker), **depth}

    def close(self) -> None:
        self.stop_local_worker()
        self.broker.close()


def broker_kind(broker: dramatiq.Broker) -> str:
    name = type(broker).__name__
    return {"RabbitmqBroker": "rabbitmq", "RedisBroker": "redis", "StubBroker": "embedded"}.get(
        name, name
    )


def queue_depth(broker: dramatiq.Broker, queue: str) -> dict[str, int]:
    from dramatiq.common import dq_name, xq_name

    kind = broker_kind(broker)
    if kind == "rabbitmq":
        ready, delayed, dead = broker.get_queue_message_counts(queue)  # type: ignore[attr-defined]
        return {"ready": int(ready), "delayed": int(delayed), "dead": int(dead)}
    if kind == "redis":
        client = broker.client  # type: ignore[attr-defined]
        ns = broker.namespace  # type: ignore[attr-defined]
        return {
            "ready": int(client.llen(f"{ns}:{queue}")),
            "delayed": int(client.llen(f"{ns}:{dq_name(queue)}")),
            "dead": int(client.zcard(f"{ns}:{xq_name(queue)}")),
        }
    if isinstance(broker, StubBroker):
        queues = broker.queues
        return {
            "ready": queues[queue].qsize() if queue in queues else 0,
            "delayed": queues[dq_name(queue)].qsize() if dq_name(queue) in queues else 0,
            "dead": len(broker.dead_letters),
        }
    return {"ready": 0, "delayed": 0, "dead": 0}


_ENGINES: dict[tuple[str, str | None], TaskEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(settings: Settings, tasks: TaskSettings | None = None) -> TaskEngine:
    """One engine per (database, broker) in a process (the API's webhooks, the CLI)."""
    tasks = tasks or TaskSettings()
    key = (settings.resolved_database_url, tasks.broker_url)
    with _ENGINES_LOCK:
        found = _ENGINES.get(key)
        if found is None:
            found = _ENGINES[key] = TaskEngine(settings, tasks)
        return found
