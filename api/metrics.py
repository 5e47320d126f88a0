"""Prometheus metrics of one app (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        r = self.registry
        self.requests = Counter(
            "mspilot_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "mspilot_http_request_duration_seconds",
            "HTTP request latency (to the last byte for streams)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.agent_turns = Counter(
            "mspilot_agent_turns",
            "Chat turns by answer mode and outcome",
            ["mode", "outcome"],
            registry=r,
        )
        self.agent_turn_latency = Histogram(
            "mspilot_agent_turn_duration_seconds",
            "Wall time of one chat turn",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "mspilot_agent_tool_calls", "Tool calls by tool and result", ["tool", "ok"], registry=r
        )
        self.tool_errors = Counter(
            "mspilot_agent_tool_errors", "Tool calls that failed", ["tool"], registry=r
        )
        self.llm_latency = Histogram(
            "mspilot_llm_turn_duration_seconds",
            "Wall time of turns answered with a language model",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_tokens = Counter(
            "mspilot_llm_streamed_tokens", "Token chunks streamed from a language model", registry=r
        )
        self.open_streams = Gauge(
            "mspilot_chat_streams_open", "Chat streams (SSE + WebSocket) open now", registry=r
        )
        self.queued_turns = Gauge(
            "mspilot_agent_turns_queued", "Chat turns waiting for an agent worker", registry=r
        )
        self.rate_limited = Counter(
            "mspilot_rate_limited", "Requests refused by a rate limit", ["scope"], registry=r
        )
        self.insights_published = Counter(
            "mspilot_insights_published", "Insights pushed to the feed", registry=r
        )

    def observe_request(self, method: str, route: str, status: int, elapsed_s: float) -> None:
        """Count one request and its latency (the labelled children are looked up once)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)
