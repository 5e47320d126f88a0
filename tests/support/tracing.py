"""Reading what the ``span_exporter`` fixture (tests/conftest.py) kept."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mspilot.core import telemetry


def finished_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """Every span ended so far (the batch processor flushed first)."""
    provider = telemetry.provider()
    assert provider is not None
    provider.force_flush()
    return list(exporter.get_finished_spans())
