"""A sync task is one trace with whatever enqueued it: the enqueue span travels in the message
(W3C traceparent), the worker's task span is its child, and the task's SQL hangs below."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mspilot.connectors.demo_sync import FakeVendors
from mspilot.core import telemetry
from mspilot.db.engine import make_engine
from mspilot.db.loader import create_tenant
from mspilot.db.migrate import upgrade
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine
from support.tracing import finished_spans

from .conftest import TENANT, settings_for, task_settings


def test_a_sync_task_is_traced_under_the_request_that_enqueued_it(
    span_exporter: InMemorySpanExporter, tmp_path: Path, vendors: FakeVendors
) -> None:
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    db = make_engine(url)  # made after tracing is on: its statements are traced too
    upgrade(db)
    create_tenant(db, TENANT)
    settings = settings_for(url, tmp_path / "var", vendors, vendors.clock.now().date())
    tasks = TaskEngine(settings, task_settings(), engine=db)
    tasks.start_local_worker(1)  # through the (in-memory) broker, as a real worker takes it
    try:
        with telemetry.span("POST /v1/webhooks/superops", kind=SpanKind.SERVER) as request:
            message_id = tasks.enqueue(
                "sync", {"tenant_id": TENANT, "source": "superops", "trigger": "webhook"}
            )
        assert message_id is not None
        tasks.join(timeout_s=120)
    finally:
        tasks.stop_local_worker()
        db.dispose()
    assert any(r.job == "sync" and r.status == "done" for r in store.runs(db, limit=20))

    spans = finished_spans(span_exporter)
    trace_id = request.get_span_context().trace_id
    mine = [s for s in spans if s.context.trace_id == trace_id]
    (enqueue,) = [s for s in mine if s.name == "enqueue sync"]
    (task,) = [s for s in mine if s.name == "task sync"]
    assert enqueue.parent is not None
    assert enqueue.parent.span_id == request.get_span_context().span_id
    assert task.parent is not None and task.parent.span_id == enqueue.context.span_id
    assert task.kind is SpanKind.CONSUMER and enqueue.kind is SpanKind.PRODUCER
    attributes = dict(task.attributes or {})
    assert attributes["mspilot.task.tenant_id"] == TENANT
    assert attributes["mspilot.task.trigger"] == "webhook"
    # the task's own SQL statements hang below its span, in the same trace
    below = {
        s.context.span_id for s in mine if s.parent and s.parent.span_id == task.context.span_id
    }
    assert below, "the task span has children (its SQL)"
    # follow-up jobs the sync enqueued (rescore, reindex) stay in the same trace
    assert {s.name for s in mine} >= {"enqueue rescore", "task rescore"}


def test_without_tracing_a_message_carries_no_trace_context() -> None:
    telemetry.reset()
    assert telemetry.inject() == {}
    assert telemetry.extract({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) is None
