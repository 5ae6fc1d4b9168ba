"""Prometheus's instant query API, ``/api/v1/query``, over the rule engine and sample history.

Shapes follow https://prometheus.io/docs/prometheus/latest/querying/api/: ``{"status":
"success", "data": {"resultType": "vector"|"scalar", "result": ...}}`` with values as strings
(Go's ``strconv.FormatFloat(v, 'f', -1, 64)``), and ``{"status": "error", "errorType":
"bad_data"|"execution", "error": ...}`` with 400 / 422, so ``promtool query instant`` and
Grafana read it. A query without ``time`` (or with a time at most the 5-minute lookback after
now) reads the series the rules see now; an earlier ``time`` reads the sample history, which
holds what the rules' windows need.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from watcher.errors import RuleError
from watcher.history import LOOKBACK_MS, HistoryView, SampleHistory
from watcher.matchers import Matcher
from watcher.rules.evaluate import Evaluator, SampleLike
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import compile_expr
from watcher.series import Snapshot

if TYPE_CHECKING:
    from watcher.server.views import StatusView

Handler = Callable[[web.Request], Awaitable[web.Response]]
MAX_QUERY_LENGTH = 64 * 1024


def add_query_routes(app: web.Application, view: StatusView) -> None:
    """Register ``GET`` and ``POST /api/v1/query``."""
    handler = query_handler(view.snapshot, lambda: view.history)
    app.router.add_get("/api/v1/query", handler)
    app.router.add_post("/api/v1/query", handler)


def format_value(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_time(text: str) -> float:
    """Unix seconds (a float) or RFC 3339, as Prometheus's API parses ``time``."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        msg = f'invalid parameter "time": cannot parse "{text}" to a valid timestamp'
        raise ValueError(msg) from None


class _AsOf:
    """Every selector of a query at a past time reads the history as of that time."""

    def __init__(self, view: HistoryView, at_ms: int) -> None:
        self.view = view
        self.at_ms = at_ms

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        return self.view.select_at(name, matchers, self.at_ms)

    def select_at(
        self, name: str | None, matchers: Sequence[Matcher], at_ms: int
    ) -> Iterable[SampleLike]:
        return self.view.select_at(name, matchers, at_ms)

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        return self.view.select_range(name, matchers, start_ms, end_ms)


def query_handler(
    snapshot: Callable[[], Snapshot], history: Callable[[], SampleHistory]
) -> Handler:
    """The ``/api/v1/query`` handler over the rules' snapshot and the sample history."""

    async def handle(request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        status, body = run_query(params, snapshot(), history())
        return web.json_response(body, status=status)

    return handle


def run_query(
    params: Mapping[str, str], snap: Snapshot, history: SampleHistory
) -> tuple[int, dict[str, Any]]:
    """Evaluate ``params["query"]`` (at ``params["time"]``, default now): (HTTP status, the
    API's JSON body). Shared by ``/api/v1/query`` and the ``/graph`` page."""
    query = params.get("query", "")
    if not query:
        return _fail(400, "bad_data", 'invalid parameter "query": no query given')
    if len(query) > MAX_QUERY_LENGTH:
        return _fail(400, "bad_data", f'invalid parameter "query": over {MAX_QUERY_LENGTH} bytes')
    try:
        node = compile_expr(query, history=True)
    except RuleError as exc:
        return _fail(400, "bad_data", str(exc))
    view = history.over(SnapshotQueryable(snap))
    at = snap.time
    source: HistoryView | _AsOf = view
    if "time" in params:
        try:
            at = _parse_time(params["time"])
        except ValueError as exc:
            return _fail(400, "bad_data", str(exc))
        # a client's "now" is a moment off the daemon's: within the lookback after the
        # snapshot (and a second before it) the current series answer
        if not snap.time - 1 <= at <= snap.time + LOOKBACK_MS / 1000:
            source = _AsOf(view, round(at * 1000))
    try:
        value = Evaluator(source, at).eval(node)
    except RuleError as exc:
        return _fail(422, "execution", str(exc))
    data: dict[str, Any]
    if isinstance(value, float):
        data = {"resultType": "scalar", "result": [at, format_value(value)]}
    else:
        result = []
        for s in value:
            metric = dict(s.labels)
            if s.name is not None:
                metric["__name__"] = s.name
            result.append({"metric": metric, "value": [at, format_value(s.value)]})
        data = {"resultType": "vector", "result": result}
    return 200, {"status": "success", "data": data}


def _fail(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "errorType": kind, "error": message}
