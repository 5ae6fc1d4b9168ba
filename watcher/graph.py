"""``GET /graph``: the page a notification's ``generatorURL`` opens.

Alerts link to ``<external_url>/graph?g0.expr=<expr>&g0.tab=1``, Prometheus's format, so the
same links work when a real Prometheus evaluates the rules. Served by the watcher, the page
shows the expression, the rules that use it, and its current result from the same engine as
``/api/v1/query``. Everything on it is escaped text.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from aiohttp import web

from watcher.query import run_query, subquery_step_ms

if TYPE_CHECKING:
    from watcher.server.views import StatusView

#: samples of a range vector series shown on the page
MAX_POINTS = 10
MAX_ROWS = 500
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:70em}"
    "pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap;word-break:break-all}"
    "td,th{padding:.2em .7em;text-align:left;border-bottom:1px solid #ddd}"
    ".error{color:#a00}"
)


def add_graph_routes(app: web.Application, view: StatusView) -> None:
    """Register ``GET /graph``."""

    async def graph(request: web.Request) -> web.Response:
        expr = request.query.get("g0.expr", "")
        status, body = run_query(
            {"query": expr}, view.snapshot(), view.history, subquery_step_ms=subquery_step_ms(view)
        )
        rules = [
            (group.file, group.name, rule.name)
            for group in view.rules.groups
            for rule in group.rules
            if rule.expr.strip() == expr.strip()
        ]
        return web.Response(
            text=render(expr, rules, status, body),
            content_type="text/html",
            status=200 if expr else 400,
        )

    app.router.add_get("/graph", graph)


def render(expr: str, rules: list[tuple[str, str, str]], status: int, body: dict[str, Any]) -> str:
    """The page: the expression, the rules using it, its result (or the engine's error)."""
    e = html.escape
    used = "".join(f"<li><b>{e(n)}</b> (group {e(g)}, {e(f)})</li>" for f, g, n in rules)
    if status != 200:
        result = (
            f'<p class="error">{e(str(body.get("errorType")))}: {e(str(body.get("error")))}</p>'
        )
    else:
        data = body["data"]
        if data["resultType"] == "scalar":
            result = f"<p>scalar <code>{e(data['result'][1])}</code></p>"
        else:
            rows = data["result"]
            shown = "".join(
                f"<tr><td><code>{e(_labels(r['metric']))}</code></td><td>{e(_value(r))}</td></tr>"
                for r in rows[:MAX_ROWS]
            )
            more = f"<p>{len(rows) - MAX_ROWS} more not shown</p>" if len(rows) > MAX_ROWS else ""
            result = (
                f"<p>{len(rows)} series</p><table><tr><th>series</th><th>value</th></tr>"
                f"{shown}</table>{more}"
                if rows
                else "<p>Empty result: the condition does not hold now.</p>"
            )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width,initial-scale=1"><title>watcher: expression</title>'
        f'<style>{_STYLE}</style></head><body><p><a href="./">status page</a> · '
        f'<a href="api/v1/query?query={e(quote_plus(expr))}">as JSON</a></p>'
        f"<h1>Expression</h1><pre>{e(expr)}</pre>"
        f"<h2>Rules using it</h2><ul>{used or '<li>none loaded</li>'}</ul>"
        f"<h2>Result now</h2>{result}</body></html>"
    )


def _value(row: dict[str, Any]) -> str:
    """A vector sample's value, or a range vector series' samples (the last few)."""
    if "value" in row:
        return str(row["value"][1])
    values = row["values"]
    shown = " ".join(f"{v}@{t}" for t, v in values[-MAX_POINTS:])
    return (
        f"{len(values)} samples: {shown}"
        if len(values) <= MAX_POINTS
        else f"{len(values)} samples, the last {MAX_POINTS}: {shown}"
    )


def _labels(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{rest}}}"
