"""Prometheus's read-only HTTP API besides the queries: series, labels, rules, alerts, metadata.

Shapes and error texts follow web/api/v1/api.go of Prometheus 2.42, so ``promtool query
series|labels`` and Grafana's Prometheus data source read them. The series a lookup sees are
those of the sample history with a sample in [``start``, ``end``] (default: all time) plus the
current ones; the answers hold series names, labels and rule text only, never a source's
config. The request guard (web auth) applies to these routes like to every other.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from watcher import __version__
from watcher.errors import RuleError
from watcher.gotemplate.strconv import format_float
from watcher.names import LABEL_NAME
from watcher.query import parse_time
from watcher.rules.loader import RecordingRule
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import Selector, compile_expr

if TYPE_CHECKING:
    from watcher.server.views import StatusView

_MIN_MS = -(2**62)
_MAX_MS = 2**62
#: ``match[]`` selectors one request may give at most
MAX_MATCHERS = 100

_Labels = tuple[tuple[str, str], ...]


def add_prometheus_api(app: web.Application, view: StatusView) -> None:
    """Register ``/api/v1/series``, ``labels``, ``label/<name>/values``, ``rules``, ``alerts``,
    ``status/buildinfo`` and ``metadata`` (GET, and POST where Prometheus takes it)."""
    series = _handler(view, _series)
    labels = _handler(view, _labels)
    for path, handler in (("/api/v1/series", series), ("/api/v1/labels", labels)):
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)
    app.router.add_get("/api/v1/label/{name}/values", _handler(view, _label_values))
    app.router.add_get("/api/v1/rules", _handler(view, _rules))
    app.router.add_get("/api/v1/alerts", _handler(view, _alerts))
    app.router.add_get("/api/v1/status/buildinfo", _handler(view, _buildinfo))
    app.router.add_get("/api/v1/metadata", _handler(view, _metadata))


class _ApiError(Exception):
    """An answer with Prometheus's error shape."""

    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class _Params:
    """The request's form values: URL and (POST) body, every value of a repeated key."""

    def __init__(self, request: web.Request, body: Mapping[str, Any]) -> None:
        self.request = request
        self.values: dict[str, list[str]] = {}
        for key, value in request.query.items():
            self.values.setdefault(key, []).append(value)
        for key, value in body.items():
            self.values.setdefault(key, []).insert(0, str(value))

    def get(self, key: str) -> str:
        return (self.values.get(key) or [""])[0]

    def all(self, key: str) -> list[str]:
        return self.values.get(key, [])


def _handler(view: StatusView, run: Any) -> Any:
    async def handle(request: web.Request) -> web.Response:
        body: Mapping[str, Any] = {}
        if request.method == "POST":
            post = await request.post()
            body = {k: v for k, v in post.items() if isinstance(v, str)}
        try:
            data = run(view, _Params(request, body))
        except _ApiError as exc:
            error = {"status": "error", "errorType": exc.kind, "error": str(exc)}
            return web.json_response(error, status=exc.status)
        return web.json_response({"status": "success", "data": data})

    return handle


def _time_param(params: _Params, name: str, default: int) -> int:
    text = params.get(name)
    if not text:
        return default
    try:
        return round(parse_time(text, name) * 1000)
    except ValueError:
        msg = f'invalid parameter "{name}": Invalid time value for \'{name}\': cannot parse "{text}" to a valid timestamp'
        raise _ApiError("bad_data", msg) from None


def _selectors(params: _Params, param: str = "match[]") -> list[Selector]:
    texts = params.all(param)
    if len(texts) > MAX_MATCHERS:
        raise _ApiError("bad_data", f"at most {MAX_MATCHERS} {param} parameters are accepted")
    out: list[Selector] = []
    for text in texts:
        try:
            node = compile_expr(text)
        except RuleError as exc:
            raise _ApiError("bad_data", str(exc)) from None
        if not isinstance(node, Selector) or node.offset_ms:
            msg = f"invalid parameter {param!r}: {text!r} is not a series selector"
            raise _ApiError("bad_data", msg)
        out.append(node)
    return out


def _matching(view: StatusView, params: _Params, selectors: Sequence[Selector]) -> set[_Labels]:
    """Label sets (``__name__`` included) of the series with a sample in [start, end]."""
    start = _time_param(params, "start", _MIN_MS)
    end = _time_param(params, "end", _MAX_MS)
    if end < start:
        raise _ApiError("bad_data", "end timestamp must not be before start time")
    wanted = list(selectors) or [Selector(None, ())]
    history = view.history
    snap = view.snapshot()
    current = SnapshotQueryable(snap)
    now_ms = round(snap.time * 1000)
    found: set[_Labels] = set()
    for sel in wanted:
        for p in history.matching(sel.name, sel.matchers):
            if history.samples(p, start, end):
                found.add(_key(p.name, p.labels))
        if start <= now_ms <= end:
            for s in current.select(sel.name, sel.matchers):
                found.add(_key(s.name, s.labels))
    return found


def _key(name: str | None, labels: Mapping[str, str]) -> _Labels:
    items = dict(labels)
    if name is not None:
        items["__name__"] = name
    return tuple(sorted(items.items()))


def _series(view: StatusView, params: _Params) -> list[dict[str, str]]:
    selectors = _selectors(params)
    if not selectors:
        raise _ApiError("bad_data", "no match[] parameter provided")
    return [dict(k) for k in sorted(_matching(view, params, selectors))]


def _labels(view: StatusView, params: _Params) -> list[str]:
    found = _matching(view, params, _selectors(params))
    return sorted({name for key in found for name, _ in key})


def _label_values(view: StatusView, params: _Params) -> list[str]:
    name = params.request.match_info["name"]
    if not LABEL_NAME.match(name):
        raise _ApiError("bad_data", f'invalid label name: "{name}"')
    found = _matching(view, params, _selectors(params))
    return sorted({v for key in found for k, v in key if k == name})


def _rfc3339(ts: float | None) -> str:
    """Go's time.Time JSON (RFC 3339 with nanoseconds trimmed); the zero time when unset."""
    if ts is None:
        return "0001-01-01T00:00:00Z"
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    return text.rstrip(".") + "Z"


def _go_e(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'e', -1, 64)`` (the alerts API's value): ``1e+00``."""
    return format_float(value, "e")


def _active(view: StatusView) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(group, rule name, API alert) of every pending or firing alert."""
    for a in view.rules.active():
        alert: dict[str, Any] = {
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "state": a.state,
            "activeAt": _rfc3339(a.active_at),
            "value": _go_e(a.value),
        }
        if a.keep_firing_since is not None:
            alert["keepFiringSince"] = _rfc3339(a.keep_firing_since)
        yield a.group, a.alertname, alert


def _alerts(view: StatusView, _params: _Params) -> dict[str, Any]:
    return {"alerts": [alert for _, _, alert in _active(view)]}


def _rules(view: StatusView, params: _Params) -> dict[str, Any]:
    kind = params.request.query.get("type", "").lower()
    if kind not in ("", "alert", "record"):
        raise _ApiError("bad_data", f'invalid parameter "type": not supported value "{kind}"')
    alerts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for group, name, alert in _active(view):
        alerts.setdefault((group, name), []).append(alert)
    groups = []
    for run in view.rules.runs:
        g = run.group
        last = _rfc3339(run.last_eval)
        rules: list[dict[str, Any]] = []
        for i, rule in enumerate(g.rules):
            health = "unknown" if run.last_eval is None else "err" if i in run.rule_errors else "ok"
            took = run.rule_seconds.get(i, 0)
            error = {"lastError": run.rule_errors[i]} if i in run.rule_errors else {}
            if isinstance(rule, RecordingRule):
                if kind != "alert":
                    rules.append(_recording(rule, health, error, took, last))
                continue
            if kind == "record":
                continue
            active = alerts.get((g.name, rule.name), [])
            states = {a["state"] for a in active}
            state = "firing" if "firing" in states else "pending" if states else "inactive"
            rules.append({
                "state": state, "name": rule.name, "query": rule.expr,
                "duration": rule.hold, "keepFiringFor": rule.keep_firing_for,
                "labels": {k: t.text for k, t in rule.labels},
                "annotations": {k: t.text for k, t in rule.annotations},
                "alerts": active, "health": health, **error, "evaluationTime": took,
                "lastEvaluation": last, "type": "alerting",
            })  # fmt: skip
        groups.append({
            "name": g.name, "file": g.file, "rules": rules, "interval": g.interval or 0,
            "limit": g.limit, "evaluationTime": run.eval_seconds, "lastEvaluation": last,
        })  # fmt: skip
    return {"groups": groups}


def _recording(
    rule: RecordingRule, health: str, error: dict[str, str], took: float, last: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name, "query": rule.expr}
    if rule.labels:
        out["labels"] = dict(rule.labels)
    out.update({"health": health, **error, "evaluationTime": took, "lastEvaluation": last})
    out["type"] = "recording"
    return out


def _buildinfo(_view: StatusView, _params: _Params) -> dict[str, str]:
    return {
        "version": __version__,
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
    }


def _metadata(view: StatusView, params: _Params) -> dict[str, list[dict[str, str]]]:
    """Each metric's type and HELP: the sources' series (gauges) and the self-metrics."""
    wanted = params.get("metric")
    try:
        limit = int(params.get("limit") or -1)
    except ValueError:
        raise _ApiError("bad_data", 'invalid parameter "limit": not a number') from None
    out: dict[str, list[dict[str, str]]] = {}
    for family in view.self_registry.collect():
        # the text exposition names a counter's family with its _total, as scraped
        name = family.name + "_total" if family.type == "counter" else family.name
        out[name] = [{"type": family.type, "help": family.documentation, "unit": family.unit}]
    for series in view.snapshot().by_name:
        if series not in out and not series.startswith("watcher_"):
            out[series] = [{"type": "gauge", "help": view.store.help_text(series), "unit": ""}]
    if wanted:
        out = {k: v for k, v in out.items() if k == wanted}
    names = sorted(out)
    if limit >= 0:
        names = names[:limit]
    return {n: out[n] for n in names}
