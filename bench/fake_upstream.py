"""Fake upstreams for the benchmarks, in their own process so their CPU is not the client's.

- a TradeBoss balance endpoint on a bare asyncio protocol (keep-alive HTTP/1.1, one canned
  success answer): fast enough that the client, not the server, is what a benchmark measures;
- optionally the project's simulator (CoinW coupons) holding ``--coupons`` coupons.

Prints one JSON line ``{"tradeboss": URL, "simulator": URL or null}`` and serves until killed.
Run: ``python -m bench.fake_upstream [--coupons N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

from bench.common import ROOT  # noqa: F401 - puts the project on sys.path
from watcher.simulator import SimState, create_app, default_coupons

ANSWER = json.dumps(
    {"code": "0", "ok": True, "msg": "success", "data": {"amount": "1234.56", "amount_digits": 2}}
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(ANSWER)).encode()
    + b"\r\n\r\n"
    + ANSWER
)


class _Http(asyncio.Protocol):
    """Answers every request on a connection with ``RESPONSE``."""

    def __init__(self) -> None:
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buf[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self._buf) < end + 4 + length:
                return
            self._buf = self._buf[end + 4 + length :]
            assert self._transport is not None
            self._transport.write(RESPONSE)


async def serve(coupons: int) -> None:
    """Start the servers, print their URLs, serve forever."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sim_url = None
    if coupons:
        template = next(iter(default_coupons().values()))
        state = SimState(coupons={i: {**template, "id": i} for i in range(1, coupons + 1)})
        state.max_log = 1_000
        runner = web.AppRunner(create_app(state), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sim_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    print(json.dumps({"tradeboss": f"http://127.0.0.1:{port}", "simulator": sim_url}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coupons", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.coupons))


if __name__ == "__main__":
    main()
