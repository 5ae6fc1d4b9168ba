"""The status page as HTML: one function per part, the whole page, and the parts the script
re-fetches. Every value from upstream, a label or an annotation is escaped (``markup.esc``).
"""

from __future__ import annotations

from watcher.page import fmt
from watcher.page.alerts import AlertRow
from watcher.page.assets import CSS, SCRIPT
from watcher.page.markup import badge, esc, table, when, when_both
from watcher.page.model import Page, SilenceRow
from watcher.page.tables import render_balances, render_coupons, render_sources

#: Seconds between the script's refreshes.
REFRESH_SECONDS = 5
SILENCE_DURATIONS = (("1h", 3600), ("4h", 14400), ("1d", 86400), ("7d", 604800))


def render_parts(page: Page) -> dict[str, str]:
    """The inner HTML of every refreshable part, by element id."""
    return {
        "header": render_header(page),
        "alerts": render_alerts(page),
        "coupons": render_coupons(page),
        "balances": render_balances(page),
        "sources": render_sources(page),
    }


def title(page: Page) -> str:
    """The document title: counts first, so a background tab says what is wrong."""
    firing = page.firing_count
    down = sum(1 for s in page.sources if s.state == "down")
    parts = [f"{firing} firing"] if firing else []
    if down:
        parts.append(f"{down} down")
    return " · ".join([*parts, "watcher"])


def render_page(page: Page) -> str:
    """The whole document."""
    parts = render_parts(page)
    sections = "".join(
        f'<section id="{name}" data-part>{parts[name]}</section>'
        for name in ("alerts", "coupons", "balances", "sources")
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title(page))}</title><style>{CSS}</style></head>"
        f'<body data-refresh="{REFRESH_SECONDS}">'
        f'<header id="header" data-part>{parts["header"]}</header>'
        f"<main>{sections}</main>{render_help()}"
        f"<script>{SCRIPT}</script></body></html>"
    )


def render_header(page: Page) -> str:
    """Version, uptime, readiness, config reload, links."""
    h = page.header
    ready = badge("ready", "ok") if h.ready else badge("not ready: first polls running", "warn")
    if h.reload_ok is False:
        reload = badge("last config reload FAILED, old config running", "bad")
    else:
        reload = badge("config ok", "ok")
    loaded = f"config loaded {when(h.reload_at, h.now)}" if h.reload_at is not None else ""
    if h.replica:
        loaded += f" · HA replica {esc(h.replica)}"
    links = " ".join(
        f'<a href="{esc(href)}">{esc(text)}</a>'
        for text, href in (
            ("/metrics", "metrics"),
            ("alerts API", "api/v2/alerts"),
            ("silences API", "api/v2/silences"),
            ("status API", "api/v2/status"),
            ("readiness", "-/ready"),
            ("help", "#help"),
        )
    )
    return (
        f"<h1>watcher <small>{esc(h.version)}</small></h1>"
        f'<p class="meta">up {esc(fmt.duration(h.now - h.started_at))} · {ready} {reload} '
        f'{loaded} · <span id="stamp">as of {esc(fmt.absolute(h.now))}</span></p>'
        f'<nav class="links">{links}</nav>'
    )


def render_alerts(page: Page) -> str:
    """Firing then pending alerts, then the silences in force."""
    firing = [a for a in page.alerts if a.state == "firing"]
    pending = [a for a in page.alerts if a.state == "pending"]
    now = page.header.now
    out = [
        f"<h2>Alerts <small>{page.firing_count} firing · {page.pending_count} pending</small></h2>"
    ]
    if not page.alerts:
        out.append('<p class="empty">No alert is firing or pending.</p>')
    writable = page.silences_api == "read-write"
    out.extend(_alert(a, now, writable) for a in firing)
    if pending:
        out.append(
            '<p class="note">Pending alerts wait for their rule\'s <code>for</code> before they '
            "fire; until then they are not sent to notification and not in "
            "<code>/api/v2/alerts</code>.</p>"
        )
    out.extend(_alert(a, now, writable) for a in pending)
    hidden = page.firing_count + page.pending_count - len(page.alerts)
    if hidden:
        out.append(
            f'<p class="note">{hidden} more, least severe: see <a href="api/v2/alerts">'
            "/api/v2/alerts</a> (firing ones).</p>"
        )
    if not writable:
        out.append(
            f'<p class="note">Silences are {esc(page.silences_api)} here '
            "(<code>server.api.silences</code>): no silence can be added or expired.</p>"
        )
    out.append(_silences(page.silences, now, writable))
    if page.more_silences:
        out.append(
            f'<p class="note">{page.more_silences} more active silences: see '
            '<a href="api/v2/silences">/api/v2/silences</a>.</p>'
        )
    return "".join(out)


def _alert(a: AlertRow, now: float, writable: bool) -> str:
    sev = a.severity or "none"
    if a.state == "firing":
        since = f"firing since {when(a.since, now)}"
    else:
        since = (
            f"pending since {when(a.since, now)}, fires after "
            f"{esc(fmt.duration(a.hold))} if still true"
        )
    flags = []
    if a.silenced_by:
        flags.append(badge(f"silenced by {', '.join(a.silenced_by)}", "muted"))
    if a.inhibited_by:
        flags.append(badge(f"inhibited by {', '.join(a.inhibited_by)}", "muted"))
    labels = " ".join(
        f'<span class="label">{esc(k)}="{esc(v)}"</span>' for k, v in a.labels if k != "alertname"
    )
    summary = esc(a.summary) if a.summary else esc(a.name)
    muted = " suppressed" if a.silenced_by or a.inhibited_by else ""
    return (
        f'<article class="alert {esc(a.state)} sev-{esc(sev)}{muted}" '
        f'data-fingerprint="{esc(a.fingerprint)}">'
        f'<div class="alert-head">{badge(a.state, a.state)} {badge(sev, "sev-" + sev)} '
        f'<strong class="alertname">{esc(a.name)}</strong> <span class="value">{esc(a.value)}</span>'
        f" {''.join(flags)}</div>"
        f'<p class="summary">{summary}</p>'
        + (f'<p class="description">{esc(a.description)}</p>' if a.description else "")
        + f'<p class="meta">{since}</p><p class="labels">{labels}</p>'
        + (_silence_form(a) if writable else "")
        + "</article>"
    )


def _silence_form(a: AlertRow) -> str:
    boxes = "".join(
        f'<label class="matcher"><input type="checkbox" name="matcher" '
        f'value="{esc(k)}={esc(v)}" checked> {esc(k)}="{esc(v)}"</label>'
        for k, v in a.labels
    )
    durations = "".join(
        f'<option value="{seconds}"{" selected" if text == "4h" else ""}>{text}</option>'
        for text, seconds in SILENCE_DURATIONS
    )
    matchers = " ".join(f"{k}={_quoted(v)}" for k, v in a.labels)
    return (
        '<details class="silence"><summary>Silence this alert…</summary>'
        '<form class="silence-form" method="post" action="api/v2/silences">'
        f"<fieldset><legend>Matchers</legend>{boxes}</fieldset>"
        f'<label>For <select name="duration">{durations}</select></label>'
        '<label>Created by <input name="createdBy" required maxlength="100"></label>'
        '<label>Comment <input name="comment" required maxlength="500"></label>'
        '<button type="submit">Create silence</button> <output class="result"></output></form>'
        "<noscript><p>Without JavaScript: <code>amtool silence add --alertmanager.url=THIS_URL "
        f"--comment=... {esc(matchers)}</code></p></noscript></details>"
    )


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _silences(silences: tuple[SilenceRow, ...], now: float, writable: bool) -> str:
    if not silences:
        return '<h3>Silences</h3><p class="empty">No silence in force.</p>'
    rows = [
        (
            "",
            [
                f"<code>{esc(s.matchers)}</code>",
                when_both(s.ends_at, now),
                esc(s.created_by),
                esc(s.comment),
                (
                    f'<button type="button" class="expire" data-silence="{esc(s.id)}">Expire</button>'
                    f"<noscript><code>amtool silence expire {esc(s.id)}</code></noscript>"
                    if writable
                    else ""
                ),
            ],
        )
        for s in silences
    ]
    heads = ["matchers", "ends", "created by", "comment", ""]
    return f"<h3>Silences <small>{len(silences)} active</small></h3>" + table(
        "silences", heads, rows
    )


def render_help() -> str:
    """What the page shows and where the same data is in machine form."""
    return (
        '<footer id="help"><h2>Help</h2><ul>'
        "<li>Alerts: the rule engine's pending and firing alerts; firing ones are sent to "
        'notification and listed by <a href="api/v2/alerts">/api/v2/alerts</a> '
        "(<code>amtool alert query</code>).</li>"
        '<li>Silences: <a href="api/v2/silences">/api/v2/silences</a> '
        "(<code>amtool silence query</code>).</li>"
        '<li>Coupons, balances, volume: the series on <a href="metrics">/metrics</a>; '
        "sparklines show the samples since the daemon started.</li>"
        "<li>Sources: <code>watcher_source_up</code>, "
        "<code>watcher_source_errors_total</code> and "
        "<code>watcher_source_poll_duration_seconds</code> on /metrics.</li>"
        f"<li>The page refreshes itself every {REFRESH_SECONDS}s; without JavaScript, reload it."
        "</li><li>All times are UTC.</li></ul></footer>"
    )
