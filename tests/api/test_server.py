"""The HTTP protocol ``mspilot serve`` runs: one write per event-loop turn, streams unharmed.

Unit tests drive :class:`CoalescingTransport` over a recording transport on a real event loop;
the end-to-end test runs uvicorn with the protocol on loopback and talks to it with real
clients: keep-alive requests, a chunked stream that only continues once the client has seen
its first chunk (it would hang if a write waited for the response to end), and a WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mspilot.api.server import (
    APP,
    HTTP_PROTOCOL,
    CoalescingHttpToolsProtocol,
    CoalescingTransport,
    uvicorn_options,
)


class Recorder:
    """The transport under test's transport: records writes, closes like a real one."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.events: list[str] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True
        self.events.append("close")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555)}.get(name, default)


def test_what_one_turn_writes_leaves_as_one_write() -> None:
    async def main() -> tuple[list[bytes], list[bytes], int]:
        inner = Recorder()
        t = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        t.write(memoryview(b"hello"))
        t.write(b"")  # nothing to send adds nothing
        held = t.get_write_buffer_size()
        before = list(inner.writes)
        await asyncio.sleep(0)  # the end of the turn
        first_turn = list(inner.writes)
        t.writelines([b"a", b"b"])
        await asyncio.sleep(0)
        return before, first_turn + inner.writes[len(first_turn) :], held

    before, writes, held = asyncio.run(main())
    assert before == []  # nothing left before the turn ended
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", b"ab"]
    assert held == len(writes[0])


def test_close_sends_what_is_pending_first_and_nothing_after() -> None:
    async def main() -> Recorder:
        inner = Recorder()
        t = CoalescingTransport(inner, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"last words")
        t.close()
        t.write(b"too late")  # written after close: a closed transport drops it
        await asyncio.sleep(0)
        assert t.is_closing() and t.get_extra_info("peername") == ("127.0.0.1", 5555)
        return inner

    inner = asyncio.run(main())
    assert inner.writes == [b"last words"]
    assert inner.events == ["write", "close"]


def test_serve_options_run_the_coalescing_protocol() -> None:
    import uvicorn

    options = uvicorn_options("127.0.0.1", 8123, workers=2)
    assert options["workers"] == 2 and options["port"] == 8123
    config = uvicorn.Config(APP, **options)
    config.load()  # what each worker does: imports the app factory and the protocol
    assert config.http_protocol_class is CoalescingHttpToolsProtocol


# ---- end to end: uvicorn on loopback with the protocol ---------------------------------------


async def demo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/plain: JSON; /stream: a chunk, then waits for /open before the next; /ws: echo."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["gate"] = asyncio.Event()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    gate: asyncio.Event = scope["state"]["gate"]
    if scope["type"] == "websocket":
        await receive()  # connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": "echo: " + message["text"]})
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await asyncio.wait_for(gate.wait(), 10)
        await send({"type": "http.response.body", "body": b"second;", "more_body": False})
        return
    if path == "/open":
        gate.set()
    body = json.dumps({"path": path}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        demo_app, host="127.0.0.1", port=port, http=HTTP_PROTOCOL, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_keep_alive_requests_get_whole_answers(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        for i in range(50):  # one connection, many responses
            r = client.get(f"/plain/{i}")
            assert r.status_code == 200 and r.json() == {"path": f"/plain/{i}"}


def test_a_stream_chunk_is_sent_before_the_stream_ends(base_url: str) -> None:
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", "/stream") as r,
    ):
        chunks = r.iter_raw()
        seen = b""
        while b"first;" not in seen:  # would time out if the chunk waited for the end
            seen += next(chunks)
        assert seen == b"first;"
        assert httpx.get(f"{base_url}/open", timeout=10).status_code == 200
        rest = b"".join(chunks)
    assert rest == b"second;"


def test_websocket_frames_round_trip(base_url: str) -> None:
    from websockets.sync.client import connect

    with connect(base_url.replace("http", "ws") + "/ws", open_timeout=10) as ws:
        for word in ("one", "two", "three"):
            ws.send(word)
            assert ws.recv(timeout=10) == f"echo: {word}"
