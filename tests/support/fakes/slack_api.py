"""A local fake of the Slack Web API (Bolt's own offline test recipe, on 127.0.0.1).

Routes on the last path segment and ignores the query string. Every call is recorded with its
parsed body (JSON or form-encoded, query parameters merged). Answers:

- ``auth.test``, ``chat.postMessage`` (incrementing ``ts``), ``chat.update``,
  ``chat.postEphemeral``, ``views.open``, ``users.info`` (from ``emails``),
  ``files.getUploadURLExternal`` (an upload URL on this server), the upload itself (bytes
  recorded), ``files.completeUploadExternal``, and ``response_url`` posts (``/respond/…``);
- a channel listed in ``not_in_channel`` answers ``{"ok": false, "error": "not_in_channel"}``;
- anything else ``{"ok": false, "error": "unknown_method"}``.

    with FakeSlack() as slack:
        AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        slack.wait_for("chat.update")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes = b""
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeSlack:
    emails: dict[str, str] = field(default_factory=dict)  # Slack user id -> e-mail
    not_in_channel: set[str] = field(default_factory=set)
    socket_url: str | None = None  # what apps.connections.open hands out (Socket Mode)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    # ---- inspection ---------------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 20.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """The calls of ``method`` (matching ``where``) once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.of(method) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [c.method for c in self.calls]
                raise AssertionError(f"waited for {count} × {method}; calls so far: {seen}")
            time.sleep(0.02)

    def blocks(self, call: Call) -> list[dict[str, Any]]:
        blocks = call.body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    # ---- answers ------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or body.get("channel_id") or "")
        if channel in self.not_in_channel and method.startswith("chat."):
            return {"ok": False, "error": "not_in_channel"}
        if method == "apps.connections.open":
            if self.socket_url is None:
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": True, "url": self.socket_url}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "mspilot",
                "team_id": "T111",
                "user_id": "UBOT",
                "bot_id": "BBOT",
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            return {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {
                    "type": "message",
                    "text": body.get("text"),
                    "bot_id": "BBOT",
                    "ts": ts,
                },
            }
        if method == "chat.update":
            return {"ok": True, "channel": channel, "ts": body.get("ts"), "text": body.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V123"}}
        if method == "users.info":
            uid = str(body.get("user"))
            if uid not in self.emails:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": uid, "profile": {"email": self.emails[uid]}}}
        if method == "files.getUploadURLExternal":
            return {
                "ok": True,
                "upload_url": f"http://127.0.0.1:{self.port}/upload/F123",
                "file_id": "F123",
            }
        if method == "files.completeUploadExternal":
            files = body.get("files")
            if isinstance(files, str):
                files = json.loads(files)
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        return {"ok": False, "error": "unknown_method"}

    # ---- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                parts = urlsplit(self.path)
                segments = [s for s in parts.path.split("/") if s]
                kind = self.headers.get("content-type", "")
                body: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if segments and segments[0] == "upload":
                    fake._record(Call("upload", {"file": segments[-1]}, dict(self.headers), raw))
                    self._reply(200, b"OK", "text/plain")
                    return
                if "json" in kind and raw:
                    body.update(json.loads(raw))
                elif raw:
                    body.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                if segments and segments[0] == "respond":
                    name = {"path": segments[-1]}
                    fake._record(Call("response_url", body, dict(self.headers), raw, name))
                    self._reply(200, b"ok", "text/plain")
                    return
                method = segments[-1] if segments else ""
                answer = fake.answer(method, body)
                fake._record(Call(method, body, dict(self.headers), raw, answer))
                payload = json.dumps(answer).encode()
                self._reply(200, payload, "application/json")

            do_GET = do_POST

            def _reply(self, status: int, payload: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class SocketModeServer:
    """A WebSocket endpoint playing Slack's Socket Mode side: it sends each queued envelope to
    the connected client and records the client's acknowledgements."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._outbox: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop: Any = None
        self._runner: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    def send(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            self._outbox.append(envelope)

    def __enter__(self) -> SocketModeServer:
        import asyncio

        from aiohttp import WSMsgType, web

        server = self

        async def link(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            server.connected.set()

            async def pump() -> None:
                while not ws.closed:
                    with server._lock:
                        out, server._outbox[:] = list(server._outbox), []
                    for envelope in out:
                        await ws.send_str(json.dumps(envelope))
                    await asyncio.sleep(0.02)

            sender = asyncio.ensure_future(pump())
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    server.acks.append(json.loads(msg.data))
            sender.cancel()
            return ws

        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_get("/link", link)
            self._runner = web.AppRunner(app)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            started.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        import asyncio

        if self._loop is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            try:
                fut.result(5)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
