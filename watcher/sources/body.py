"""Response bodies: read whole but bounded, decompressed by us, decoded as JSON.

``read_body`` reads until the end of the body, however many TCP reads it takes, and stops
with a ``too_large`` error as soon as the *decompressed* bytes pass the source's
``body_size_limit`` (Prometheus's ``body_size_limit`` semantics): aiohttp's own decompression is
off, we inflate at most ``CHUNK`` bytes at a time, so a gzip bomb costs at most the limit plus
one chunk of memory.

``decode_json`` follows RFC 8259: the text is UTF-8 (a BOM is ignored, §8.1); bytes that are
not UTF-8, and lone surrogate escapes (§8.2), become U+FFFD in the strings they belong to and
the rest of the answer is kept. Numbers with a fraction or exponent are ``Decimal``.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import aiohttp

from watcher.config.model import DEFAULT_BODY_SIZE_LIMIT
from watcher.errors import SourceError

__all__ = ["ACCEPT_ENCODING", "DEFAULT_BODY_SIZE_LIMIT", "decode_json", "read_body", "too_large"]

CHUNK = 64 * 1024
# What we can inflate ourselves; anything else from upstream is refused as malformed.
ACCEPT_ENCODING = "gzip, deflate"
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def too_large(what: str, limit: int) -> SourceError:
    """The error for a body over ``limit`` bytes."""
    return SourceError("too_large", f"{what}: body larger than body_size_limit ({limit} bytes)")


class _Inflater:
    """A gzip or deflate stream inflated ``CHUNK`` bytes at a time."""

    def __init__(self, encoding: str, what: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._what = what
        self._obj: Any = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            # RFC 9110 "deflate" is zlib-wrapped; some servers send raw deflate (as aiohttp
            # accepts): the first byte tells which.
            wbits = 31 if self._gzip else (15 if data and data[0] & 0x0F == 8 else -15)
            self._obj = zlib.decompressobj(wbits)
        try:
            while not self._obj.eof:
                out = self._obj.decompress(data, CHUNK)
                data = self._obj.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < CHUNK:
                    break  # input used up and no output pending
        except zlib.error:
            msg = f"{self._what}: body is not valid {'gzip' if self._gzip else 'deflate'}"
            raise SourceError("malformed", msg) from None

    def finish(self) -> None:
        if self._obj is not None and not self._obj.eof:
            msg = f"{self._what}: compressed body ends early"
            raise SourceError("malformed", msg)


async def read_body(resp: aiohttp.ClientResponse, limit: int, what: str) -> list[bytes]:
    """The whole body of ``resp``, decompressed, in pieces of at most ``CHUNK`` bytes (never
    joined: one 64 MiB copy would hold the GIL); SourceError ``too_large`` past ``limit``."""
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    inflater: _Inflater | None = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _Inflater(encoding, what)
    elif encoding not in ("", "identity"):
        msg = f"{what}: unsupported Content-Encoding {encoding[:40]!r}"
        raise SourceError("malformed", msg)
    elif (length := resp.content_length) is not None and length > limit:
        raise too_large(what, limit)
    elif length is not None and length <= CHUNK:
        # The common small answer: one read of a length already checked, no chunk loop.
        data = await resp.read()
        return [data] if data else []
    parts: list[bytes] = []
    size = 0
    async for data in resp.content.iter_chunked(CHUNK):
        for piece in inflater.feed(data) if inflater is not None else (data,):
            size += len(piece)
            if size > limit:
                raise too_large(what, limit)
            parts.append(piece)
    if inflater is not None:
        inflater.finish()
    return parts


def decode_json(body: bytes | Sequence[bytes]) -> Any:
    """``body`` (bytes, or ``read_body``'s pieces) as JSON; None when empty.

    ValueError/RecursionError when it is not JSON. Work is done piece by piece where it can
    be, and the parse hooks are Python functions on purpose: the C scanner then returns to the
    interpreter at every object and fraction, so a parse in a worker thread lets the event
    loop run.
    """
    parts = [body] if isinstance(body, bytes) else body
    if len(parts) == 1 and len(parts[0]) <= CHUNK:
        small = _decode_small(parts[0])
        if small is not _SLOW:
            return small
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces = [decoder.decode(part) for part in parts]
    pieces.append(decoder.decode(b"", final=True))
    surrogates = any(
        _LONE_SURROGATE_ESCAPE.search(piece)
        # an escape may straddle two pieces
        or (i and _LONE_SURROGATE_ESCAPE.search(pieces[i - 1][-5:] + piece[:5]))
        for i, piece in enumerate(pieces)
    )
    text = "".join(pieces)
    del pieces  # the decoded pieces and their join would otherwise both be alive at the peak
    if text.startswith("\ufeff"):  # RFC 8259 8.1: a parser may ignore a byte order mark
        text = text[1:]
    if not text or text.isspace():
        return None
    if surrogates:
        return _clean(json.loads(text, parse_float=_decimal, object_pairs_hook=_clean_object))
    return json.loads(text, parse_float=_decimal, object_hook=_keep)


# A small body is parsed on the event loop in one go, so it needs no Python object hook.
_SMALL = json.JSONDecoder(parse_float=Decimal)
_SLOW = object()


def _decode_small(part: bytes) -> Any:
    """``part`` as JSON, or ``_SLOW`` when it needs the careful path (bad UTF-8, lone
    surrogate escapes)."""
    try:
        text = part.decode()
    except UnicodeDecodeError:
        return _SLOW
    if "\\u" in text and _LONE_SURROGATE_ESCAPE.search(text):
        return _SLOW
    if text.startswith("\ufeff"):  # RFC 8259 8.1
        text = text[1:]
    if not text or text.isspace():
        return None
    return _SMALL.decode(text)


def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _keep(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _clean_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Objects come here already cleaned (the hook runs innermost first); strings and arrays of
    # strings directly inside this object are cleaned now.
    return {_clean(k): _clean(v) for k, v in pairs}
