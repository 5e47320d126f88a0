"""Tracing overhead on the API bench: the same tenant, server and load, tracing off then on.

    python -m mspilot.bench.tracing_bench [--clients 30] [--duration 5] [--streams 100]

Builds one demo tenant, then runs ``api_bench`` twice against it: without ``OTEL_*`` variables,
and with ``OTEL_TRACES_EXPORTER=otlp`` sending every span over OTLP/HTTP to a sink on loopback
that accepts them (so export costs what it costs, without a collector). Prints p50/p99 of the
prediction mix at 32 connections and chat turns/s for both, and their ratios (on / off).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mspilot.bench import api_bench


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that accepts and counts export requests."""

    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Sink.lock:
            _Sink.received += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # quiet
        return


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    pred = result["predictions"]
    pred = pred.get("predictions", pred)
    chat = result.get("chat") or {}
    return {
        "p50_ms": pred.get("p50_ms"),
        "p99_ms": pred.get("p99_ms"),
        "req_per_s": pred.get("req_per_s"),
        "chat_turns_per_s": chat.get("turns_per_s"),
        "chat_errors": chat.get("errors"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--as-of", default="2026-10-31")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    cli = parser.parse_args()

    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="tracing-bench-") as tmp:
        data_dir = Path(tmp)
        url, tenant = api_bench.build_demo(data_dir, cli.clients, dt.date.fromisoformat(cli.as_of))
        out: dict[str, Any] = {}
        for label, env in (
            ("off", {}),
            (
                "on",
                {
                    "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_port}",
                    "OTEL_BSP_SCHEDULE_DELAY": "500",
                },
            ),
        ):
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                args = argparse.Namespace(
                    clients=cli.clients,
                    as_of=cli.as_of,
                    requests=cli.requests,
                    streams=cli.streams,
                    database_url=url,
                    data_dir=str(data_dir),
                    tenant=tenant,
                    concurrency=32,
                    load="wrk" if shutil.which("wrk") else "python",
                    workers=1,
                    duration=cli.duration,
                    json=False,
                )
                print(f"== tracing {label}")
                out[label] = _summary(asyncio.run(api_bench.run(args)))
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
    sink.shutdown()
    off, on = out["off"], out["on"]
    out["export_requests"] = _Sink.received
    out["ratio_on_off"] = {
        k: round(on[k] / off[k], 3) for k in ("p50_ms", "p99_ms", "req_per_s") if off.get(k)
    }
    print(
        f"tracing off: p50 {off['p50_ms']} ms, p99 {off['p99_ms']} ms, {off['req_per_s']} req/s; "
        f"on: p50 {on['p50_ms']} ms, p99 {on['p99_ms']} ms, {on['req_per_s']} req/s "
        f"({_Sink.received} OTLP export requests); on/off {out['ratio_on_off']}"
    )
    if cli.json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
