"""The page's data parts: Mega Coupons, balances and volume, sources."""

from __future__ import annotations

from pathlib import PurePath

from watcher.page import fmt
from watcher.page.markup import badge, esc, sparkline, table, when, when_both
from watcher.page.model import AffiliateRow, CouponRow, Page, SourceRow


def render_coupons(page: Page) -> str:
    """Every coupon per source, soonest expiry first, the ones in the expiry rule's window marked."""
    now = page.header.now
    w = page.coupon_window
    if w is None:
        note = "No loaded rule compares the coupon expiry with <code>time()</code>: nothing marked."
    else:
        note = (
            f"Marked: expires within {esc(fmt.duration(w.value))} with money left, the window of "
            f"rule <code>{esc(w.rule)}</code> ({esc(_short(w.file))})."
        )
    out = [f'<h2>Mega Coupons</h2><p class="note">{note}</p>']
    if not page.coupons:
        out.append('<p class="empty">No coupon read yet.</p>')
    for t in page.coupons:
        heads = ["coupon", "status", "remaining / total", "expires", "flags"]
        rows = [("expiring" if r.expiring else "", _coupon_cells(r, now)) for r in t.rows]
        count = len(t.rows) + t.more
        out.append(f"<h3>{esc(t.source)} <small>{count} coupons</small></h3>")
        out.append(table("coupons", heads, rows))
        if t.more:
            out.append(f'<p class="note">{t.more} more, later expiries: see /metrics.</p>')
    return "".join(out)


def _short(path: str) -> str:
    """``rules/coinw.yaml`` rather than the whole path of the file."""
    return "/".join(PurePath(path).parts[-2:])


def _coupon_cells(r: CouponRow, now: float) -> list[str]:
    flags = []
    if r.expiring:
        flags.append(badge("expiring soon", "warn"))
    if r.kyc:
        flags.append(badge("KYC required", "bad"))
    if r.assets_out:
        flags.append(badge("assets out invalid", "bad"))
    remark = f'<br><small class="remark">{esc(r.remark)}</small>' if r.remark else ""
    remaining = "—" if r.remaining is None else fmt.amount(r.remaining)
    total = "—" if r.total is None else fmt.amount(r.total)
    return [
        f"<code>{esc(r.coupon_id)}</code>{remark}",
        badge(r.status, "status-" + r.status),
        f"{esc(remaining)} / {esc(total)}",
        when_both(r.expiry, now),
        " ".join(flags) or "—",
    ]


def render_balances(page: Page) -> str:
    """TradeBoss balances (below-threshold first) and affiliate volume per source."""
    out = ["<h2>Balances and volume</h2>"]
    if page.balances:
        rows = []
        for b in page.balances:
            low = (
                badge(f"below {fmt.amount(b.low.value)} ({b.low.rule})", "bad")
                if b.low is not None
                else ""
            )
            rows.append(
                (
                    "low" if b.low is not None else "",
                    [
                        esc(b.source),
                        f"{esc(b.server)} / <code>{esc(b.user)}</code>",
                        f'<span class="money">{esc(fmt.amount(b.amount))} {esc(b.currency)}</span> {low}',
                        sparkline(b.history, f"recent balances of {b.user}"),
                    ],
                )
            )
        out.append(table("balances", ["source", "account", "balance", "recent"], rows))
        if page.more_balances:
            out.append(f'<p class="note">{page.more_balances} more balances: see /metrics.</p>')
    else:
        out.append('<p class="empty">No TradeBoss balance read yet.</p>')
    out.extend(_affiliate(a) for a in page.affiliates)
    return "".join(out)


def _affiliate(a: AffiliateRow) -> str:
    def num(v: float | None) -> str:
        return "—" if v is None else esc(fmt.number(v))

    top = "".join(
        f"<li><code>{esc(uid)}</code> <span>{esc(fmt.number(volume))}</span></li>"
        for uid, volume in a.top
    )
    return (
        f'<div class="affiliate"><h3>{esc(a.source)} <small>affiliate volume</small></h3>'
        f'<dl class="stats"><div><dt>window total</dt><dd>{num(a.total)} '
        f"{sparkline(a.history, 'recent window totals')}</dd></div>"
        f"<div><dt>last day</dt><dd>{num(a.last_day)} "
        f"{sparkline(a.history_last_day, 'recent last-day volumes')}</dd></div>"
        f"<div><dt>active invitees</dt><dd>{num(a.active)} "
        f"{sparkline(a.history_active, 'recent active invitee counts')}</dd></div></dl>"
        + (f'<h4>Top invitees</h4><ol class="top">{top}</ol>' if top else "")
        + "</div>"
    )


def render_sources(page: Page) -> str:
    """Every source, down ones first."""
    now = page.header.now
    down = sum(1 for s in page.sources if s.state == "down")
    heads = ["source", "state", "last success", "last error", "poll", "errors", "next poll"]
    rows = [(s.state, _source_cells(s, now)) for s in page.sources]
    return f"<h2>Sources <small>{len(page.sources)} · {down} down</small></h2>" + table(
        "sources", heads, rows
    )


def _source_cells(s: SourceRow, now: float) -> list[str]:
    state = {"up": "ok", "down": "bad", "waiting": "warn"}[s.state]
    error = f"<code>{esc(s.error_reason)}</code> {esc(s.error_text)}" if s.error_reason else "—"
    mean = "—" if s.mean_poll_seconds is None else f"{s.mean_poll_seconds * 1000:.0f} ms mean"
    errors = ", ".join(f"{esc(reason)} {count}" for reason, count in s.errors) or "none"
    push = ""
    if s.push:  # the Mega Coupon WebSocket, when enabled
        push = "<br>" + badge(f"push {s.push}", "ok" if s.push == "connected" else "bad")
        push += f"<br><small>{s.push_reconnects} reconnects</small>"
    return [
        f"<strong>{esc(s.name)}</strong><br><small>{esc(s.type)}</small>",
        badge(s.state, state) + push,
        when(s.last_success, now),
        error,
        f"{esc(mean)}<br><small>{s.polls} polls</small>",
        errors,
        "—" if s.next_poll is None else when_both(s.next_poll, now),
    ]
