"""OpenTelemetry tracing: configured only by the standard ``OTEL_*`` variables, off by default.

Tracing is on when an exporter is named (``OTEL_TRACES_EXPORTER=otlp|console``) or an OTLP
endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), and
``OTEL_SDK_DISABLED`` is not ``true``. The service name is ``OTEL_SERVICE_NAME`` (default
``mspilot``); sampling, batching and the OTLP protocol follow the SDK's own variables.

Nothing that may carry a secret or a user's words leaves the process: every exporter is wrapped
so that query strings (a WebSocket token may ride there), SQL text (the SQL tool runs queries a
model wrote from the question) and GenAI prompt/completion text are dropped, unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` turns text capture on. Query strings
are always dropped.

``span(name, **attributes)`` is the one way product code opens a span; with tracing off it costs
a lookup of the no-op tracer. The provider is passed to every instrumentation explicitly instead
of being installed globally, so tests can install an in-memory exporter and take it away again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from fastapi import FastAPI

TRACER_NAME = "mspilot"
CAPTURE_TEXT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# attributes that may carry a secret: always dropped (a token may ride in the query string)
SECRET_ATTRIBUTES = frozenset({"url.query", "http.target", "http.url", "url.full"})
# attributes that carry user or model text: dropped unless text capture is on
TEXT_ATTRIBUTES = frozenset(
    {
        "db.statement",
        "db.query.text",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "mspilot.question",
    }
)

_lock = threading.Lock()
_provider: TracerProvider | None = None


def tracing_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether the standard variables ask for traces."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def capture_text(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(CAPTURE_TEXT_ENV, "").strip().lower() == "true"


class RedactingExporter(SpanExporter):
    """Drops secret (always) and text (unless captured) attributes before a span leaves."""

    def __init__(self, inner: SpanExporter, *, keep_text: bool) -> None:
        self.inner = inner
        self.dropped = SECRET_ATTRIBUTES if keep_text else SECRET_ATTRIBUTES | TEXT_ATTRIBUTES

    def _clean(self, span: ReadableSpan) -> ReadableSpan:
        attributes = span.attributes or {}
        if not self.dropped.intersection(attributes):
            return span
        kept: dict[str, AttributeValue] = {
            k: v for k, v in attributes.items() if k not in self.dropped
        }
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=kept,
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self._clean(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _standard_exporter(env: Mapping[str, str]) -> SpanExporter:
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "console":
        return ConsoleSpanExporter()
    if kind != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={kind!r}: mspilot supports otlp and console")
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter()


def configure(exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install the global tracer provider once; ``exporter`` replaces the standard one (tests).

    Returns None (and installs nothing) when tracing is off and no exporter is given."""
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        if exporter is None and not tracing_enabled():
            return None
        env = os.environ
        resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", TRACER_NAME)})
        provider = TracerProvider(resource=resource)
        inner = exporter if exporter is not None else _standard_exporter(env)
        provider.add_span_processor(
            BatchSpanProcessor(RedactingExporter(inner, keep_text=capture_text(env)))
        )
        _provider = provider
        _instrument_sqlalchemy(provider)
        return provider


def _instrument_sqlalchemy(current: TracerProvider) -> None:
    """A span for every SQL statement of every engine created from now on (its text only with
    text capture on: the exporter drops it otherwise)."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # skip_dep_check: its declared range stops below SQLAlchemy 2.1, whose engine events it uses
    # unchanged (tests/api/test_tracing.py sees the statements)
    SQLAlchemyInstrumentor().instrument(
        tracer_provider=current, enable_commenter=False, skip_dep_check=True
    )


def reset() -> None:
    """Flush and forget the provider (tests; a process otherwise keeps it for life)."""
    global _provider
    with _lock:
        if _provider is not None:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

            SQLAlchemyInstrumentor().uninstrument()
            _provider.force_flush()
            _provider.shutdown()
        _provider = None


def provider() -> TracerProvider | None:
    return _provider


def tracer() -> trace.Tracer:
    current = _provider
    if current is None:
        return trace.NoOpTracer()
    return current.get_tracer(TRACER_NAME)


def instrument_app(app: FastAPI) -> None:
    """A server span for every HTTP request (health, readiness and metrics polls excluded)."""
    current = configure()
    if current is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # one server span per request: the ASGI "http send/receive" child spans (one per body
    # chunk) tripled the spans of a cached prediction and the tracing overhead with them
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=current,
        excluded_urls="/healthz,/readyz,/metrics",
        exclude_spans=["receive", "send"],
    )


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    parent: Context | None = None,
) -> Iterator[trace.Span]:
    """A span around a unit of product work (a task, its enqueueing); ``parent`` is a context
    carried from another process (``extract``), else the current span is the parent."""
    with tracer().start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes
    ) as current:
        yield current


def inject() -> dict[str, str]:
    """The current trace context as W3C ``traceparent`` headers, to travel with a message."""
    carrier: dict[str, str] = {}
    if _provider is not None:
        propagate.inject(carrier)
    return carrier


def extract(carrier: Mapping[str, str] | None) -> Context | None:
    """The context a message carried (``inject``), or None when it carried none."""
    if not carrier or _provider is None:
        return None
    return propagate.extract(dict(carrier))
