"""``GET /metrics``: prometheus-client's content negotiation over the exposition cache.

The body comes from ``watcher.exposition.StoreExposition`` (self-metrics, then the store, cached
per group); a ``name[]`` filter, which the cache does not serve, is answered by prometheus-client
itself from the full registry, as ``prometheus_client.aiohttp.make_aiohttp_handler`` would.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from prometheus_client import exposition as text_format
from prometheus_client.registry import Collector

from watcher.exposition import Format, StoreExposition
from watcher.store import SeriesStore

__all__ = ["MetricsRoute", "metrics_handler"]


class MetricsRoute:
    """Answers ``GET /metrics`` from ``exposition``, or from ``full_registry`` for ``name[]``."""

    def __init__(self, exposition: StoreExposition, full_registry: Collector) -> None:
        self._exposition = exposition
        #: Everything /metrics shows, for the requests the cache does not serve (``name[]``).
        self._full_registry = full_registry

    async def handle(self, request: web.Request) -> web.Response:
        """GET /metrics with prometheus-client's content negotiation (Accept, Accept-Encoding)."""
        accept = ",".join(request.headers.getall(hdrs.ACCEPT, []))
        encoding = ",".join(request.headers.getall(hdrs.ACCEPT_ENCODING, []))
        gzip = text_format.gzip_accepted(encoding)
        if "name[]" in request.query:
            params = {key: request.query.getall(key) for key in request.query}
            status, headers, body = text_format._bake_output(  # type: ignore[no-untyped-call]
                self._full_registry, accept, encoding, params, disable_compression=False
            )
            return web.Response(status=int(status.split(" ")[0]), headers=headers, body=body)
        fmt, content_type = Format.negotiate(accept)
        body = await self._exposition.render_async(fmt, gzip=gzip)
        headers = {hdrs.CONTENT_TYPE: content_type}
        if gzip:
            headers[hdrs.CONTENT_ENCODING] = "gzip"
        return web.Response(body=body, headers=headers)


def metrics_handler(
    store: SeriesStore, self_registry: Collector, full_registry: Collector
) -> Handler:
    """The /metrics route handler over ``store`` and the self-metrics registry."""
    return MetricsRoute(StoreExposition(store, self_registry), full_registry).handle
