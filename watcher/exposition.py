"""/metrics without re-formatting every sample on every scrape.

The store replaces a group's series tuple whole on every read of it, so a group whose tuple is
the one we rendered last time renders to the same lines. ``StoreExposition`` keeps each group's
lines (per metric name, per requested format) and a scrape only renders the groups that
changed, then joins cached chunks; when no group changed it reuses the joined blocks and their
deflated forms too. The bytes are exactly what prometheus-client's ``generate_latest`` (text)
and ``openmetrics.exposition.generate_latest`` produce for the same registry: the formatting
below mirrors theirs line for line and the golden test in ``tests/test_exposition.py`` holds
them to it. A scrape runs on the event loop in slices of at most ``SLICE_SECONDS``, giving the
loop back between them, so polls keep running during a scrape of a large store (a worker
thread would not do: the work is Python code holding the GIL, and on a busy machine the loop
waited hundreds of ms for it back).

gzip: the self-metrics, the store part and the OpenMetrics ``# EOF`` are deflated as separate
raw-deflate pieces, each ending on a sync flush (byte-aligned, non-final blocks), and joined into
one gzip member (RFC 1952) with one CRC-32, the way pigz joins blocks. The store part is
deflated in blocks of ``BLOCK`` groups per metric family, and a block is deflated again only
when one of its groups changed.
"""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import exposition as text_format
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from prometheus_client.validation import _is_valid_legacy_metric_name

if TYPE_CHECKING:
    from watcher.series import Series
    from watcher.store import SeriesStore

#: The longest one slice of a scrape holds the event loop before giving it back.
SLICE_SECONDS = 0.002
#: Groups compared, or blocks joined, between two looks at the slice's clock.
STEP = 64
#: Above this many bytes the answer is joined in a worker thread (``bytes.join`` lets go of
#: the GIL for its copy), not on the loop.
JOIN_OFF_LOOP = 1024 * 1024
#: Level 1 deflates 12 MB of exposition in ~40 ms (level 6 takes ~100 ms) for ~15 % more bytes.
GZIP_LEVEL = 1
#: Groups per separately deflated block: 1 % of groups changing re-deflates ~15 % of the body.
BLOCK = 16
_GZIP_HEADER = (
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # RFC 1952: deflate, no mtime, OS unknown
)
_EOF = b"# EOF\n"

#: A group's series tuple and its rendered lines per metric name.
_Rendered = tuple[tuple["Series", ...], dict[str, bytes]]


@dataclass(frozen=True, slots=True)
class Format:
    """One output format: ``openmetrics`` or not, and a prometheus-client escaping scheme."""

    openmetrics: bool
    escaping: str

    @classmethod
    def negotiate(cls, accept: str) -> tuple[Format, str]:
        """The format and Content-Type prometheus-client answers ``accept`` with."""
        encoder, content_type = text_format.choose_encoder(accept)
        if isinstance(encoder, partial):
            escaping = str(encoder.keywords.get("escaping", om_format.UNDERSCORES))
            return cls(encoder.func is om_format.generate_latest, escaping), content_type
        return cls(False, om_format.UNDERSCORES), content_type

    def encode(self, registry: Collector) -> bytes:
        """``registry`` rendered by prometheus-client itself, without the OpenMetrics ``# EOF``."""
        if self.openmetrics:
            out: bytes = om_format.generate_latest(registry, escaping=self.escaping)  # type: ignore[no-untyped-call]
            return out[: -len(_EOF)]
        return text_format.generate_latest(registry, escaping=self.escaping)


@dataclass(slots=True)
class _Renderer:
    """Sample lines in one format, with metric and label names escaped once per name."""

    fmt: Format
    _prefix: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    _label: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, help_text: str) -> bytes:
        """The HELP and TYPE lines of a gauge family."""
        escaping = self.fmt.escaping
        if self.fmt.openmetrics:
            doc = om_format._escape(
                help_text, om_format.ALLOWUTF8, om_format._is_legacy_labelname_rune
            )
        else:
            doc = help_text.replace("\\", r"\\").replace("\n", r"\n")
        mname = om_format.escape_metric_name(name, escaping)
        return f"# HELP {mname} {doc}\n# TYPE {mname} gauge\n".encode()

    def _name_parts(self, name: str) -> tuple[str, str, str]:
        # (text before the labels, opening brace, the opening when there are no labels), as the
        # two prometheus-client formatters build them for this name.
        parts = self._prefix.get(name)
        if parts is None:
            escaping = self.fmt.escaping
            legacy = escaping != om_format.ALLOWUTF8 or _is_valid_legacy_metric_name(name)
            if legacy and self.fmt.openmetrics:
                lead = om_format._escape(name, escaping, om_format._is_legacy_labelname_rune)
                parts = (lead, "{", lead)
            elif legacy:
                lead = om_format.escape_metric_name(name, escaping)
                parts = (lead, "{", lead)
            else:
                quoted = om_format.escape_metric_name(name, escaping)
                parts = ("", "{" + quoted + ",", "{" + quoted + "}")
            self._prefix[name] = parts
        return parts

    def _label_name(self, key: str) -> str:
        out = self._label.get(key)
        if out is None:
            out = self._label[key] = om_format.escape_label_name(key, self.fmt.escaping)
        return out

    def line(self, s: Series) -> str:
        """One sample line, byte for byte as prometheus-client writes it."""
        lead, brace, bare = self._name_parts(s.name)
        value = floatToGoString(s.value)  # type: ignore[no-untyped-call]
        if not s.labels:
            return f"{bare} {value}\n"
        label = self._label_name
        labels = ",".join([f'{label(k)}="{_value(v)}"' for k, v in sorted(s.labels.items())])
        return f"{lead}{brace}{labels}}} {value}\n"

    def group(self, series: Iterable[Series]) -> dict[str, bytes]:
        """A group's lines, joined per metric name in store order."""
        lines: dict[str, list[str]] = {}
        for s in series:
            lines.setdefault(s.name, []).append(self.line(s))
        return {name: "".join(chunk).encode() for name, chunk in lines.items()}


def _value(v: str) -> str:
    # Label values always allow UTF-8 (prometheus-client's ``_escape(v, ALLOWUTF8, ...)``).
    return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@dataclass(slots=True)
class _Cache:
    """One format's rendered groups and the store part joined from them."""

    renderer: _Renderer
    #: source -> group -> (the series tuple rendered, its lines per metric name)
    groups: dict[str, dict[str, _Rendered]] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)
    #: The store part in pieces: each family's HELP/TYPE lines, then its groups' lines BLOCK
    #: at a time; ``blocks`` holds each piece joined (None before the first refresh).
    pieces: list[list[bytes]] = field(default_factory=list)
    blocks: list[bytes] | None = None
    #: Each piece with its deflated form, from the last gzip answer.
    deflated_pieces: list[tuple[list[bytes], bytes]] = field(default_factory=list)
    #: Groups rendered by the last refresh (0 when the cached body was reused).
    rendered: int = 0

    def refresh(
        self, items: Iterable[tuple[str, str, tuple[Series, ...], int]], helps: dict[str, str]
    ) -> Iterator[None]:
        """Re-render the groups whose series changed and rejoin the store part if any did;
        yield between steps (a caller may give the event loop a turn there)."""
        groups: dict[str, dict[str, _Rendered]] = {}
        rendered = 0
        # Same keys in the same order too (a group dropped and put again moves to the end),
        # followed along the walk instead of comparing two lists of every key after it.
        same_order = helps == self.helps
        old_sources = iter(self.groups.items())
        previous: dict[str, _Rendered] = {}
        old_keys: Iterator[str] = iter(())
        inner: dict[str, _Rendered] = {}
        for n, (source, key, series, _) in enumerate(items, 1):
            if n % STEP == 0:
                yield
            if source not in groups:
                if same_order and next(old_keys, None) is not None:
                    same_order = False  # the last source lost groups
                old_source, _ = next(old_sources, (None, None))
                same_order = same_order and old_source == source
                previous = self.groups.get(source, {})
                old_keys = iter(previous)
                inner = groups[source] = {}
            if same_order and next(old_keys, None) != key:
                same_order = False
            old = previous.get(key)
            # A put stores a new tuple; the cache holds the old one, so `is` cannot be fooled by
            # a recycled id. Sources put every group on every poll, mostly with the same
            # series: comparing costs a tenth of formatting.
            if old is not None and old[0] is series:
                inner[key] = old
            elif old is not None and old[0] == series:
                inner[key] = (series, old[1])
            else:
                inner[key] = (series, self.renderer.group(series))
                rendered += 1
        if same_order and (next(old_keys, None) is not None or next(old_sources, None)):
            same_order = False  # groups or sources went away at the end
        self.rendered = rendered
        unchanged = rendered == 0 and same_order
        self.groups = groups
        if unchanged and self.blocks is not None:
            return
        self.helps = helps
        families: dict[str, list[bytes]] = {}
        n = 0
        for inner in groups.values():
            for _, chunks in inner.values():
                n += 1
                if n % STEP == 0:
                    yield
                for name, chunk in chunks.items():
                    families.setdefault(name, []).append(chunk)
        header = self.renderer.header
        pieces: list[list[bytes]] = []
        for name in sorted(families):
            pieces.append([header(name, helps.get(name, name.replace("_", " ")))])
            lines = families[name]
            pieces.extend(lines[i : i + BLOCK] for i in range(0, len(lines), BLOCK))
        yield
        joined: list[bytes] = []
        for n, piece in enumerate(pieces, 1):
            if n % STEP == 0:
                yield
            joined.append(b"".join(piece))
        self.pieces = pieces
        self.blocks = joined

    def gzip(self, head: bytes, tail: bytes) -> Generator[None, None, list[bytes]]:
        """One gzip member of ``head + store part + tail`` in pieces to join, reusing each
        unchanged deflated block; yield between steps."""
        assert self.blocks is not None
        blocks = self.blocks
        old = self.deflated_pieces
        fresh: list[tuple[list[bytes], bytes]] = []
        for i, piece in enumerate(self.pieces):
            # Unchanged chunks are the same objects, so this is mostly identity checks.
            if i < len(old) and old[i][0] == piece:
                fresh.append(old[i])
            else:
                fresh.append((piece, _deflate(blocks[i], zlib.Z_SYNC_FLUSH)))
                yield
        self.deflated_pieces = fresh
        # zlib.crc32 runs at GB/s; a pure-Python crc32_combine would be slower.
        crc, size = zlib.crc32(head), len(head) + len(tail)
        for n, block in enumerate(blocks, 1):
            if n % STEP == 0:
                yield
            crc = zlib.crc32(block, crc)
            size += len(block)
        crc = zlib.crc32(tail, crc)
        return [
            _GZIP_HEADER,
            _deflate(head, zlib.Z_SYNC_FLUSH),
            *(deflated for _, deflated in fresh),
            _deflate(tail, zlib.Z_FINISH),
            struct.pack("<II", crc, size & 0xFFFFFFFF),
        ]


def _deflate(data: bytes, flush: int) -> bytes:
    # A fresh compressor per piece: its back-references stay inside the piece, so pieces
    # joined in order are one valid deflate stream.
    z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush(flush)


class StoreExposition:
    """The /metrics body: self-metrics rendered by prometheus-client, the store from the cache.

    ``watcher.server.metrics`` serves it (content negotiation, ``name[]``).
    """

    def __init__(
        self,
        store: SeriesStore,
        self_registry: Collector,
        *,
        slice_seconds: float = SLICE_SECONDS,
    ) -> None:
        self._store = store
        self._self_registry = self_registry
        self._caches: dict[Format, _Cache] = {}
        self._lock = asyncio.Lock()
        self._slice = slice_seconds

    def _cache(self, fmt: Format) -> _Cache:
        cache = self._caches.get(fmt)
        if cache is None:
            cache = self._caches[fmt] = _Cache(_Renderer(fmt))
        return cache

    def last_rendered(self, fmt: Format) -> int:
        """How many groups the last scrape in ``fmt`` had to render."""
        return self._cache(fmt).rendered

    def render(self, fmt: Format, *, gzip: bool) -> bytes:
        """The whole /metrics body in ``fmt`` (gzip-compressed if asked), in one go."""
        head = fmt.encode(self._self_registry)
        steps = self._finish(self._cache(fmt), fmt, head, self._store.help_texts(), gzip=gzip)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return b"".join(done.value)

    async def render_async(self, fmt: Format, *, gzip: bool) -> bytes:
        """Like ``render``, in slices of at most ``slice_seconds`` on the event loop."""
        async with self._lock:
            head = fmt.encode(self._self_registry)  # a few dozen self-metrics
            steps = self._finish(self._cache(fmt), fmt, head, self._store.help_texts(), gzip=gzip)
            clock = time.perf_counter
            until = clock() + self._slice
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    parts: list[bytes] = done.value
                    break
                if clock() >= until:
                    await asyncio.sleep(0)  # polls and other requests run here
                    until = clock() + self._slice
            if sum(map(len, parts)) > JOIN_OFF_LOOP:
                return await asyncio.to_thread(b"".join, parts)
            return b"".join(parts)

    def _finish(
        self, cache: _Cache, fmt: Format, head: bytes, helps: dict[str, str], *, gzip: bool
    ) -> Generator[None, None, list[bytes]]:
        # ``groups()`` copies each source's dict before yielding from it and every group's
        # series tuple is immutable, so polls between two slices cannot tear a group.
        yield from cache.refresh(self._store.groups(), helps)
        assert cache.blocks is not None
        tail = _EOF if fmt.openmetrics else b""
        if gzip:
            return (yield from cache.gzip(head, tail))
        return [head, *cache.blocks, tail]
