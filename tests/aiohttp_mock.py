"""aioresponses that works on every aiohttp the lock file may pin (3.13 and 3.14).

aioresponses 0.7.9, its latest release, builds ``ClientResponse`` without the keyword-only
``stream_writer`` that aiohttp 3.14 requires, so every mocked request raises ``TypeError``
(pnuckowski/aioresponses#289; the fix proposed upstream, #288, is not released). aiohttp only
reads ``stream_writer.output_size`` when the request was already sent, which is how aioresponses
builds its responses, so a writer that sent nothing is enough; and a body over 128 KiB trips an
assertion when aioresponses' reader pauses a protocol that has no parser. Import ``aioresponses`` and
``CallbackResult`` from here; drop this module once aioresponses releases the fix.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, Self

from aiohttp import ClientResponse, StreamReader, hdrs
from aiohttp.client_proto import ResponseHandler
from aioresponses import CallbackResult
from aioresponses import aioresponses as _aioresponses

__all__ = ["CallbackResult", "aioresponses"]

_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(ClientResponse.__init__).parameters


class _SentNothing:
    """The request writer of a request that was never written anywhere."""

    output_size = 0


class _InMemory(ResponseHandler):
    """The protocol of a body that is all in memory: there is no transport to pause.

    aiohttp 3.14 asserts a parser when a body over twice the reader's limit pauses reading;
    aioresponses' protocol has none.
    """

    def pause_reading(self) -> None:
        """Note the pause; nothing to stop."""
        self._reading_paused = True

    def resume_reading(self, *_args: Any, **_kwargs: Any) -> None:
        """Note the resume; nothing to restart (3.14 passes ``resume_parser``)."""
        self._reading_paused = False


class MockResponse(ClientResponse):
    """``ClientResponse`` as aioresponses builds it, made to work on aiohttp 3.14.

    Supplies the missing ``stream_writer``, and reads the body through a protocol that need
    not pause (aioresponses assigns ``content`` once, then feeds the whole body to it).
    """

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _SentNothing())
        super().__init__(method, url, **kwargs)

    @property
    def content(self) -> StreamReader:
        """The body's reader."""
        return self._mock_content

    @content.setter
    def content(self, _reader: StreamReader) -> None:
        loop = asyncio.get_running_loop()
        self._mock_content = StreamReader(_InMemory(loop), limit=2**16, loop=loop)


def _fixed(result: Any) -> Any:
    if isinstance(result, CallbackResult) and result.response_class is None:
        result.response_class = MockResponse
    return result


def _with_response_class(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` whose ``CallbackResult`` builds a ``MockResponse`` unless it names a class.

    Stays a coroutine function when ``callback`` is one: aioresponses awaits only those.
    """
    if inspect.iscoroutinefunction(callback):

        async def awaited(*args: Any, **kwargs: Any) -> Any:
            return _fixed(await callback(*args, **kwargs))

        return awaited

    def called(*args: Any, **kwargs: Any) -> Any:
        return _fixed(callback(*args, **kwargs))

    return called


class aioresponses(_aioresponses):  # noqa: N801 - the name the tests know
    """``aioresponses.aioresponses`` whose responses default to ``MockResponse``."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def add(  # type: ignore[override]
        self,
        url: Any,
        method: str = hdrs.METH_GET,
        *,
        response_class: type[ClientResponse] | None = None,
        callback: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Register a mocked answer (see aioresponses), built as ``MockResponse`` by default."""
        super().add(
            url,
            method,
            response_class=response_class or MockResponse,
            callback=None if callback is None else _with_response_class(callback),
            **kwargs,
        )
