"""A local OpenAI-compatible ``/v1/chat/completions`` server with scripted replies.

Each scripted reply is ``{"content": "..."}`` or ``{"tool_calls": [{"name": ..., "arguments":
{...}}]}``. Non-streaming requests get a ``chat.completion``; ``"stream": true`` gets SSE
``chat.completion.chunk`` lines (content split into word deltas, tool-call arguments split
into two fragments, as real servers do) and ``data: [DONE]``. Every request body is recorded.

    with FakeOpenAI([...]) as server:
        ChatOpenAI(base_url=server.base_url, api_key="k", use_responses_api=False)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOpenAI:
    def __init__(self, script: list[dict[str, Any]], model: str = "fake-model") -> None:
        self.script = list(script)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404, "only /v1/chat/completions is faked")
                    return
                with fake._lock:
                    fake.requests.append(body)
                    fake.headers.append(dict(self.headers))
                    reply = fake.script.pop(0) if fake.script else {"content": "(script ended)"}
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for chunk in fake._chunks(reply):
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    return
                payload = json.dumps(fake._completion(reply)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # ---- replies --------------------------------------------------------------------------------

    @staticmethod
    def _tool_calls(reply: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "id": call.get("id", f"call_{i}"),
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": json.dumps(call.get("arguments", {})),
                },
            }
            for i, call in enumerate(reply.get("tool_calls", []))
        ]

    def _completion(self, reply: dict[str, Any]) -> dict[str, Any]:
        calls = self._tool_calls(reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _chunks(self, reply: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield self._chunk({"role": "assistant", "content": ""})
        calls = self._tool_calls(reply)
        for index, call in enumerate(calls):
            args = call["function"]["arguments"]
            half = len(args) // 2
            yield self._chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {
                                "name": call["function"]["name"],
                                "arguments": args[:half],
                            },
                        }
                    ]
                }
            )
            yield self._chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": args[half:]}}]}
            )
        content = reply.get("content") or ""
        words = content.split(" ")
        for i, word in enumerate(words):
            if word or i:
                yield self._chunk({"content": word if i == 0 else " " + word})
        yield self._chunk({}, "tool_calls" if calls else "stop")
