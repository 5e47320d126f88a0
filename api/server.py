"""Running the app under uvicorn: one configuration for ``mspilot serve`` and the benchmark.

uvicorn's httptools protocol writes a response's status line and headers with one ``send()``
and its body with another. On a busy server those two system calls per response are a large
share of the main thread's time (each one wakes the reader), so :class:`CoalescingHttpToolsProtocol`
hands it a transport that gathers what one turn of the event loop writes to a connection and
sends it at the end of that turn: one ``send()`` per response. Nothing waits longer than the
turn it was written in, so streams (SSE, WebSocket frames) keep their timing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: The app factory ``mspilot serve`` runs (each worker process builds its own).
APP = "mspilot.api.app:app_from_env"
#: The protocol ``mspilot serve`` runs (an import string, as uvicorn's ``http=`` takes it).
HTTP_PROTOCOL = "mspilot.api.server:CoalescingHttpToolsProtocol"


class CoalescingTransport:
    """A transport that sends what is written to it during one event-loop turn at the end
    of that turn, as one write; every other call goes to the real transport (``close`` and
    ``write_eof`` send what is pending first)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what is pending now (the end of the turn does this by itself)."""
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        held = sum(len(chunk) for chunk in self._pending) if self._pending else 0
        return self._transport.get_write_buffer_size() + held

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


def raise_open_file_limit() -> None:
    """Lift the soft limit on open files to the hard one: each open chat stream or WebSocket
    holds a socket, and the usual soft limit (1,024) is below a thousand streams plus files."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def uvicorn_options(host: str, port: int, workers: int = 1) -> dict[str, Any]:
    """The keyword arguments ``mspilot serve`` gives ``uvicorn.run`` (the bench uses them too)."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "http": HTTP_PROTOCOL,
        "access_log": False,  # our own request log never records query strings (WS tokens)
        "log_level": "warning",
        "backlog": 4096,  # a burst of connections (1,000 chat streams) is queued, not refused
        "timeout_keep_alive": 30,
        "timeout_graceful_shutdown": 10,
    }
