"""A real HTTP/1.1 server on 127.0.0.1 that answers with scripted faults.

Written on raw asyncio streams (not aiohttp.web) so a reply can do what a real network or a
broken upstream does: send the body in delayed pieces, drip it a byte at a time, reset the
connection mid-body, hang, lie about its encoding. Every connection is closed after one reply
(``Connection: close``), so each request gets the next scripted reply::

    async with FaultServer() as server:
        server.queue(chunked(body, pieces=4, delay=0.05), json_reply({"code": 0}))
        ...  # requests to server.url
        assert 2 == len(server.requests)

When the queue is empty the server repeats ``server.default`` (a 200 ``{}`` unless set).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    """One request as received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def head(status: int, headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    """A response status line and headers (``Content-Length`` when ``length`` is given)."""
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if length is not None:
        all_headers["Content-Length"] = str(length)
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """``body`` (JSON-encoded unless bytes) in one write, or 1 MiB writes when larger."""
    data = _bytes(body)
    step = 1024 * 1024

    async def reply(w: asyncio.StreamWriter) -> None:
        if len(data) <= step:
            w.write(head(status, headers, len(data)) + data)
        else:  # no 64 MiB copies on the test's own loop
            w.write(head(status, headers, len(data)))
            view = memoryview(data)
            for i in range(0, len(data), step):
                await w.drain()
                w.write(view[i : i + step])
        await w.drain()

    return reply


def chunked(body: Any, *, pieces: int, delay: float, status: int = 200) -> Reply:
    """``body`` in ``pieces`` writes, ``delay`` seconds apart (several TCP reads at the client)."""
    data = _bytes(body)
    step = -(-len(data) // pieces)

    async def reply(w: asyncio.StreamWriter) -> None:
        w.write(head(status, None, len(data)))
        for i in range(0, len(data), step):
            await w.drain()
            await asyncio.sleep(delay)
            w.write(data[i : i + step])
        await w.drain()

    return reply


def drip(body: Any, *, delay: float = 0.0) -> Reply:
    """``body`` one byte per write, each flushed, ``delay`` seconds apart."""
    data = _bytes(body)

    async def reply(w: asyncio.StreamWriter) -> None:
        w.write(head(200, None, len(data)))
        for i in range(len(data)):
            await w.drain()
            await asyncio.sleep(delay)
            w.write(data[i : i + 1])
        await w.drain()

    return reply


def reset_mid_body(body: Any, *, sent: int) -> Reply:
    """Announce all of ``body``, send ``sent`` bytes of it, then reset the connection (RST)."""
    data = _bytes(body)

    async def reply(w: asyncio.StreamWriter) -> None:
        w.write(head(200, None, len(data)) + data[:sent])
        await w.drain()
        await asyncio.sleep(0.05)  # let the client start reading the body before the reset
        sock = w.get_extra_info("socket")
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    return reply


def hang() -> Reply:
    """Accept the request and never answer (until the server stops)."""

    async def reply(w: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    return reply


def gzip_bomb(size: int) -> Reply:
    """A small gzip body that inflates to ``size`` zero bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    block = b"\0" * (1024 * 1024)
    data = b"".join(
        packer.compress(block[: min(len(block), size - i)]) for i in range(0, size, len(block))
    )
    data += packer.flush()

    async def reply(w: asyncio.StreamWriter) -> None:
        w.write(head(200, {"Content-Encoding": "gzip"}, len(data)) + data)
        await w.drain()

    return reply


def gzipped(body: Any) -> Reply:
    """``body`` gzip-compressed, as a server honouring ``Accept-Encoding: gzip`` sends it."""
    data = gzip.compress(_bytes(body))

    async def reply(w: asyncio.StreamWriter) -> None:
        w.write(head(200, {"Content-Encoding": "gzip"}, len(data)) + data)
        await w.drain()

    return reply


def raw(data: bytes) -> Reply:
    """Exactly ``data`` on the wire (status line and headers included)."""

    async def reply(w: asyncio.StreamWriter) -> None:
        w.write(data)
        await w.drain()

    return reply


class FaultServer:
    """Serves scripted replies on 127.0.0.1 at a port the OS picks."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.default: Reply = json_reply({})
        self._replies: list[Reply] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        self._replies.extend(replies)

    async def start(self) -> None:
        """Listen (on the same port again after ``refuse``)."""
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening but keep the port: connections are refused until ``start``."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        """Stop listening and end every open connection (a hanging reply included)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            reply = self._replies.pop(0) if self._replies else self.default
            await reply(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head_bytes = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head_bytes.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, target, headers, body)


class RefusingPort:
    """A port bound on 127.0.0.1 but not listening: connecting to it is refused, every time."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        """Release the port."""
        self._sock.close()
