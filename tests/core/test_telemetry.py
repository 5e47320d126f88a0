"""Tracing is off by default, configured only by OTEL_* variables, and never exports a secret
or (unless text capture is on) a user's words."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mspilot.core import telemetry
from mspilot.core.telemetry import (
    SECRET_ATTRIBUTES,
    TEXT_ATTRIBUTES,
    RedactingExporter,
    capture_text,
    tracing_enabled,
)


def test_off_by_default_and_on_only_by_the_standard_variables() -> None:
    assert not tracing_enabled({})
    assert not tracing_enabled({"OTEL_SERVICE_NAME": "x"})
    assert tracing_enabled({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing_enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing_enabled({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"})
    assert not tracing_enabled({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})
    assert not capture_text({})
    assert capture_text({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"})


def test_configure_installs_nothing_when_off(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for var in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(telemetry, "_provider", None)
    assert telemetry.configure() is None
    assert telemetry.provider() is None


def _export(attributes: dict[str, str], *, keep_text: bool) -> dict[str, object]:
    inner = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(inner, keep_text=keep_text)))
    with provider.get_tracer("t").start_as_current_span("s", attributes=attributes):
        pass
    (span,) = inner.get_finished_spans()
    return dict(span.attributes or {})


_keys = st.sampled_from([*sorted(SECRET_ATTRIBUTES | TEXT_ATTRIBUTES), "http.method", "a.b"])
_values = st.text(alphabet=string.printable, min_size=1, max_size=30)


@given(attrs=st.dictionaries(_keys, _values, max_size=8), keep_text=st.booleans())
def test_secrets_never_leave_and_text_leaves_only_when_captured(
    attrs: dict[str, str], keep_text: bool
) -> None:
    out = _export(attrs, keep_text=keep_text)
    for key, value in attrs.items():
        if key in SECRET_ATTRIBUTES or (key in TEXT_ATTRIBUTES and not keep_text):
            assert key not in out
        else:
            assert out[key] == value
