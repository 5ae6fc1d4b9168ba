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
from typing import TYPE_CHECKING, Any

from aiohttp import web

from watcher.durations import parse_duration
from watcher.errors import RuleError
from watcher.gotemplate.strconv import format_float
from watcher.history import LOOKBACK_MS, HistoryView, SampleHistory
from watcher.matchers import Matcher
from watcher.rules.evaluate import DEFAULT_STEP_MS, Evaluator, SampleLike
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import Node, compile_expr
from watcher.series import Snapshot

if TYPE_CHECKING:
    from watcher.server.views import StatusView

Handler = Callable[[web.Request], Awaitable[web.Response]]
MAX_QUERY_LENGTH = 64 * 1024
#: Prometheus's ``--query.max-samples`` and ``--query.timeout`` defaults.
MAX_SAMPLES = 50_000_000
QUERY_TIMEOUT = 120.0
#: Points per series a range query may return at most (Prometheus's 11,000).
MAX_POINTS = 11_000
_MAX_TIME = 9.2e9  # seconds: what fits Go's int64 nanoseconds


def add_query_routes(app: web.Application, view: StatusView) -> None:
    """Register ``GET`` and ``POST /api/v1/query`` and ``/api/v1/query_range``."""
    handler = query_handler(
        view.snapshot,
        lambda: view.history,
        lambda params, snap, history: run_query(
            params, snap, history, subquery_step_ms=subquery_step_ms(view)
        ),
    )
    app.router.add_get("/api/v1/query", handler)
    app.router.add_post("/api/v1/query", handler)
    ranged = query_handler(
        view.snapshot,
        lambda: view.history,
        # the deadline runs on the daemon's injected clock, as every other timer does
        lambda params, snap, history: run_query_range(
            params,
            snap,
            history,
            monotonic=view.clock.monotonic,
            subquery_step_ms=subquery_step_ms(view),
        ),
    )
    app.router.add_get("/api/v1/query_range", ranged)
    app.router.add_post("/api/v1/query_range", ranged)


def format_value(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    return format_float(value, "f")


def parse_time(text: str, param: str = "time") -> float:
    """Unix seconds (a float) or RFC 3339, as Prometheus's API parses ``time`` (to the ms)."""
    try:
        value = float(text)
    except ValueError:
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            value = math.nan
    if not math.isfinite(value) or abs(value) > _MAX_TIME:
        msg = f'invalid parameter "{param}": cannot parse "{text}" to a valid timestamp'
        raise ValueError(msg) from None
    return round(value * 1000) / 1000


def parse_api_duration(text: str, param: str) -> float:
    """Seconds (a float) or a Prometheus duration, as the API parses ``step`` and ``timeout``."""
    try:
        value = float(text)
    except ValueError:
        try:
            return parse_duration(text)
        except ValueError:
            msg = f'invalid parameter "{param}": cannot parse "{text}" to a valid duration'
            raise ValueError(msg) from None
    if not math.isfinite(value) or abs(value) > _MAX_TIME:
        msg = (
            f'invalid parameter "{param}": cannot parse "{text}" to a valid duration.'
            " It overflows int64"
        )
        raise ValueError(msg)
    return value


def json_time(ms: int) -> float | int:
    """A timestamp as Prometheus's JSON writes it: seconds, with the milliseconds if any."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


class AsOf:
    """Every selector of a query at a past time reads the history as of that time.

    ``/api/v1/query`` at a past ``time`` and each step of ``/api/v1/query_range`` evaluate over
    one (so does bench/bench_history.py, to time exactly what they run).
    """

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
    snapshot: Callable[[], Snapshot],
    history: Callable[[], SampleHistory],
    run: Callable[[Mapping[str, str], Snapshot, SampleHistory], tuple[int, dict[str, Any]]]
    | None = None,
) -> Handler:
    """The ``/api/v1/query`` handler (or ``run``'s) over the rules' snapshot and history.

    Parameters come from the URL and, for POST, a form body, as Go's ``FormValue`` reads
    them (the body wins).
    """
    run = run or run_query

    async def handle(request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        status, body = run(params, snapshot(), history())
        return web.json_response(body, status=status)

    return handle


def subquery_step_ms(view: StatusView) -> int:
    """The step of a subquery written without one: ``global.evaluation_interval``, as
    Prometheus's ``NoStepSubqueryIntervalFn`` (read per query: a reload may change it)."""
    return max(1, round(view.config.global_.evaluation_interval * 1000))


def run_query(
    params: Mapping[str, str],
    snap: Snapshot,
    history: SampleHistory,
    *,
    subquery_step_ms: int = DEFAULT_STEP_MS,
) -> tuple[int, dict[str, Any]]:
    """Evaluate ``params["query"]`` (at ``params["time"]``, default now): (HTTP status, the
    API's JSON body). Shared by ``/api/v1/query`` and the ``/graph`` page; a subquery without
    a step steps by ``subquery_step_ms``."""
    node = _compile(params)
    if isinstance(node, tuple):
        return node
    view = history.over(SnapshotQueryable(snap))
    at = snap.time
    source: HistoryView | AsOf = view
    if "time" in params:
        try:
            at = parse_time(params["time"])
        except ValueError as exc:
            return _fail(400, "bad_data", str(exc))
        # a client's "now" is a moment off the daemon's: within the lookback after the
        # snapshot (and a second before it) the current series answer
        if not snap.time - 1 <= at <= snap.time + LOOKBACK_MS / 1000:
            source = AsOf(view, round(at * 1000))
    evaluator = Evaluator(source, at, step_ms=subquery_step_ms)
    if node.kind == "matrix":
        return _instant_matrix(evaluator, node)
    try:
        value = evaluator.eval(node)
    except RuleError as exc:
        return _fail(422, "execution", str(exc))
    data: dict[str, Any]
    stamp = json_time(round(at * 1000))
    if isinstance(value, float):
        data = {"resultType": "scalar", "result": [stamp, format_value(value)]}
    else:
        result = [
            {"metric": _metric(s.name, s.labels), "value": [stamp, format_value(s.value)]}
            for s in value
        ]
        data = {"resultType": "vector", "result": result}
    return 200, {"status": "success", "data": data}


def _instant_matrix(
    evaluator: Evaluator, node: Node, max_samples: int = MAX_SAMPLES
) -> tuple[int, dict[str, Any]]:
    """An instant query of a range vector (``x[5m]``, ``x[5m:1m]``): each series' samples in
    the window, as Prometheus answers (``resultType`` ``matrix``, series by labels)."""
    try:
        matrix = list(evaluator.matrix(node))
    except RuleError as exc:
        return _fail(422, "execution", str(exc))
    if sum(len(points) for _, _, points in matrix) > max_samples:
        return _too_many_samples()
    series: _Matrix = {}
    for name, labels, points in matrix:
        if points:
            values = [[json_time(t), format_value(v)] for t, v in points]
            series[tuple(sorted(_metric(name, labels).items()))] = values
    return _matrix_answer(series)


#: A matrix being built: each series' sorted label pairs (``__name__`` included), its points.
_Matrix = dict[tuple[tuple[str, str], ...], list[list[Any]]]


def _metric(name: str | None, labels: Mapping[str, str]) -> dict[str, str]:
    """A result's ``metric``: the labels, and ``__name__`` when the series kept its name."""
    return dict(labels) if name is None else {**labels, "__name__": name}


def _matrix_answer(series: _Matrix) -> tuple[int, dict[str, Any]]:
    """The ``matrix`` answer, series ordered by their labels as Prometheus sorts them."""
    result = [{"metric": dict(k), "values": v} for k, v in sorted(series.items())]
    return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}


def _too_many_samples() -> tuple[int, dict[str, Any]]:
    msg = "query processing would load too many samples into memory in query execution"
    return _fail(422, "execution", msg)


def _compile(
    params: Mapping[str, str], *, for_range: bool = False
) -> Node | tuple[int, dict[str, Any]]:
    """The parsed ``query`` parameter, or the error answer."""
    query = params.get("query", "")
    if not query:
        return _fail(400, "bad_data", 'invalid parameter "query": no query given')
    if len(query) > MAX_QUERY_LENGTH:
        return _fail(400, "bad_data", f'invalid parameter "query": over {MAX_QUERY_LENGTH} bytes')
    try:
        return compile_expr(query, history=True, matrix=not for_range)
    except RuleError as exc:
        if for_range and str(exc).startswith(_NOT_A_RANGE):
            msg = (
                'invalid expression type "range vector" for range query, must be Scalar or'
                " instant Vector"
            )
            return _fail(400, "bad_data", msg)
        return _fail(400, "bad_data", str(exc))


#: compile_expr's refusal of a range vector result (a range query has its own words for it)
_NOT_A_RANGE = "a rule expression must be a vector or a scalar"


def run_query_range(
    params: Mapping[str, str],
    snap: Snapshot,
    history: SampleHistory,
    *,
    monotonic: Callable[[], float],
    max_samples: int = MAX_SAMPLES,
    subquery_step_ms: int = DEFAULT_STEP_MS,
) -> tuple[int, dict[str, Any]]:
    """``/api/v1/query_range``: ``query`` at every ``step`` from ``start`` to ``end``, over the
    sample history, as a matrix (web/api/v1/api.go queryRange of Prometheus 2.42).

    ``monotonic`` is the clock the ``timeout`` is measured on (the daemon's ``Clock``)."""
    try:
        start, end, step, timeout = _range_params(params)
    except ValueError as exc:
        return _fail(400, "bad_data", str(exc))
    node = _compile(params, for_range=True)
    if isinstance(node, tuple):
        return node
    view = history.over(SnapshotQueryable(snap))
    deadline = monotonic() + timeout
    step_ms = max(1, round(step * 1000))
    series: _Matrix = {}
    samples = 0
    for ms in range(round(start * 1000), round(end * 1000) + 1, step_ms):
        if monotonic() > deadline:
            return _fail(503, "timeout", "query timed out in expression evaluation")
        try:
            value = Evaluator(AsOf(view, ms), ms / 1000, step_ms=subquery_step_ms).eval(node)
        except RuleError as exc:
            return _fail(422, "execution", str(exc))
        vector = [_ScalarSample(value)] if isinstance(value, float) else value
        samples += len(vector)
        if samples > max_samples:
            return _too_many_samples()
        for s in vector:
            key = tuple(sorted(_metric(s.name, s.labels).items()))
            series.setdefault(key, []).append([json_time(ms), format_value(s.value)])
    return _matrix_answer(series)


def _range_params(params: Mapping[str, str]) -> tuple[float, float, float, float]:
    """``start``, ``end``, ``step`` and ``timeout``; ValueError with Prometheus's message."""
    start = parse_time(params.get("start", ""), "start")
    end = parse_time(params.get("end", ""), "end")
    step = parse_api_duration(params.get("step", ""), "step")
    timeout = QUERY_TIMEOUT
    if params.get("timeout"):
        timeout = parse_api_duration(params["timeout"], "timeout")
    msg = ""
    if end < start:
        msg = 'invalid parameter "end": end timestamp must not be before start time'
    elif step <= 0:
        msg = (
            'invalid parameter "step": zero or negative query resolution step widths are'
            " not accepted. Try a positive integer"
        )
    elif (end - start) / step > MAX_POINTS:
        msg = (
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing"
            " the query resolution (?step=XX)"
        )
    if msg:
        raise ValueError(msg)
    return start, end, step, timeout


class _ScalarSample:
    """A scalar's value at one step, as the one series of a range query's matrix."""

    name = None
    labels: Mapping[str, str] = {}

    def __init__(self, value: float) -> None:
        self.value = value


def _fail(status: int, kind: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status": "error", "errorType": kind, "error": message}
