"""The status page's view model: plain dataclasses built from the daemon's objects (read through ``StatusView``).

One source of truth: the alerts come from the rule manager and the dispatcher (what
``/api/v2/alerts`` shows), silences from the dispatcher (``/api/v2/silences``), numbers from one
store snapshot (what ``/metrics`` shows), sources from ``StatusView.sources()``. Nothing here formats HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher import __version__
from watcher.page.alerts import AlertRow, alert_rows
from watcher.page.ring import SampleRing
from watcher.page.thresholds import Threshold, first_crossed, thresholds
from watcher.series import Series, Snapshot

if TYPE_CHECKING:
    from watcher.server.views import StatusView

COUPON = "coinw_mega_coupon_"
BALANCE = "tradeboss_account_balance"
EXPIRY = "coinw_mega_coupon_expiry_timestamp_seconds"
#: Rows shown per table: the page stays small however much upstream returns (all on /metrics).
MAX_ROWS = 200
TOP_INVITEES = 10


@dataclass(frozen=True, slots=True)
class Header:
    """The page's first lines."""

    version: str
    now: float
    started_at: float
    ready: bool
    reload_ok: bool | None
    reload_at: float | None
    #: ``ha``: "watcher-0 (1 of 2)", from watcher_ha_replica_info; "" without ha
    replica: str = ""


@dataclass(frozen=True, slots=True)
class SilenceRow:
    """One silence in force."""

    id: str
    matchers: str
    starts_at: float
    ends_at: float
    created_by: str
    comment: str


@dataclass(frozen=True, slots=True)
class CouponRow:
    """One Mega Coupon as the store holds it."""

    source: str
    coupon_id: str
    status: str
    remaining: float | None
    total: float | None
    expiry: float | None
    kyc: bool
    assets_out: bool
    remark: str
    expiring: bool


@dataclass(frozen=True, slots=True)
class CouponTable:
    """The coupons of one source, soonest expiry first."""

    source: str
    rows: tuple[CouponRow, ...]
    more: int = 0  # coupons beyond MAX_ROWS, not shown


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One TradeBoss account balance."""

    source: str
    server: str
    user: str
    currency: str
    amount: float
    low: Threshold | None
    history: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class AffiliateRow:
    """The affiliate volume of one source."""

    source: str
    total: float | None
    last_day: float | None
    active: float | None
    top: tuple[tuple[str, float], ...]
    history: tuple[float, ...]  # recent window totals
    history_last_day: tuple[float, ...] = ()
    history_active: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source's health."""

    name: str
    type: str
    state: str  # "up", "down" or "waiting"
    polls: int
    last_success: float | None
    last_poll: float | None
    error_reason: str
    error_text: str
    mean_poll_seconds: float | None
    errors: tuple[tuple[str, int], ...]
    next_poll: float | None
    #: the Mega Coupon WebSocket: "" when push is off, else "connected" or "disconnected"
    push: str = ""
    push_reconnects: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """Everything the page shows."""

    header: Header
    alerts: tuple[AlertRow, ...]  # at most MAX_ROWS
    pending_count: int  # of every alert, shown or not
    firing_count: int
    silences: tuple[SilenceRow, ...]
    coupon_window: Threshold | None
    coupons: tuple[CouponTable, ...]
    balances: tuple[BalanceRow, ...]
    affiliates: tuple[AffiliateRow, ...]
    sources: tuple[SourceRow, ...]
    more_balances: int = 0  # balances beyond MAX_ROWS, not shown
    #: ``server.api.silences``: the forms and Expire buttons only when it is "read-write"
    silences_api: str = "read-write"
    more_silences: int = 0  # active silences beyond MAX_ROWS, not shown


def build_page(view: StatusView, ring: SampleRing) -> Page:
    """Read every object the page shows, once, at the daemon clock's now."""
    snapshot = view.snapshot()
    now = snapshot.time
    groups = view.rules.groups
    alerts = alert_rows(view)
    shown = alerts[:MAX_ROWS]  # firing and most severe first, so the cap drops the least
    window = next(iter(t for t in thresholds(groups, EXPIRY) if t.until), None)
    balances = _balances(snapshot, thresholds(groups, BALANCE), ring)
    silences, more_silences = _silences(view, now)
    return Page(
        header=_header(view, snapshot),
        alerts=shown,
        pending_count=sum(1 for a in alerts if a.state == "pending"),
        firing_count=sum(1 for a in alerts if a.state == "firing"),
        silences=silences,
        coupon_window=window,
        coupons=_coupons(view, snapshot, window),
        balances=balances[:MAX_ROWS],
        affiliates=_affiliates(snapshot, ring),
        sources=_sources(view, snapshot),
        more_balances=max(0, len(balances) - MAX_ROWS),
        silences_api=view.config.server.api.silences,
        more_silences=more_silences,
    )


def _one(snapshot: Snapshot, name: str) -> float | None:
    for s in snapshot.select(name):
        return s.value
    return None


def _header(view: StatusView, snapshot: Snapshot) -> Header:
    ok = _one(snapshot, "watcher_config_last_reload_successful")
    return Header(
        version=__version__,
        now=snapshot.time,
        started_at=view.dispatcher.started_at,
        ready=view.ready,
        reload_ok=None if ok is None else ok == 1,
        reload_at=_one(snapshot, "watcher_config_last_reload_success_timestamp_seconds"),
        replica=_replica(snapshot),
    )


def _replica(snapshot: Snapshot) -> str:
    for s in snapshot.select("watcher_ha_replica_info"):
        index, total = s.labels.get("index", "0"), s.labels.get("replicas", "?")
        number = int(index) + 1 if index.isdigit() else index
        return f"{s.labels.get('replica', '')} ({number} of {total})"
    return ""


def _silences(view: StatusView, now: float) -> tuple[tuple[SilenceRow, ...], int]:
    active = [s for s in view.dispatcher.silences() if s.state(now) == "active"]
    return tuple(
        SilenceRow(
            s.id,
            ", ".join(str(m) for m in s.matchers),
            s.starts_at,
            s.ends_at,
            s.created_by,
            s.comment,
        )
        for s in active[:MAX_ROWS]
    ), max(0, len(active) - MAX_ROWS)


def _coupons(
    view: StatusView, snapshot: Snapshot, window: Threshold | None
) -> tuple[CouponTable, ...]:
    fields: dict[tuple[str, str, str], dict[str, float]] = {}
    labels_of: dict[tuple[str, str, str], Mapping[str, str]] = {}
    remarks = {src.name: src.remarks for src in view.sources()}
    for name, series in snapshot.by_name.items():
        if not name.startswith(COUPON) or name == "coinw_mega_coupons":
            continue
        for s in series:
            key = (
                s.labels.get("source", ""),
                s.labels.get("coupon_id", ""),
                s.labels.get("status", ""),
            )
            fields.setdefault(key, {})[name.removeprefix(COUPON)] = s.value
            labels_of.setdefault(key, s.labels)
    by_source: dict[str, list[CouponRow]] = {}
    for (source, cid, status), f in fields.items():
        expiry = f.get("expiry_timestamp_seconds")
        remaining = f.get("remaining_amount")
        expiring = (
            window is not None
            and expiry is not None
            and (remaining is None or remaining > 0)
            and window.crossed(expiry, snapshot.time)  # cheap, and rarely true: first
            and window.applies(labels_of[(source, cid, status)])
        )
        by_source.setdefault(source, []).append(
            CouponRow(
                source,
                cid,
                status,
                remaining,
                f.get("total_amount"),
                expiry,
                f.get("kyc_required") == 1,
                f.get("assets_out_invalid") == 1,
                _remark(remarks, source, status, cid),
                expiring,
            )
        )
    tables = []
    for source, rows in sorted(by_source.items()):
        rows.sort(key=lambda r: _expiry_order(r, snapshot.time))
        tables.append(CouponTable(source, tuple(rows[:MAX_ROWS]), max(0, len(rows) - MAX_ROWS)))
    return tuple(tables)


def _expiry_order(row: CouponRow, now: float) -> tuple[bool, float, str]:
    """Soonest expiry first; coupons already past their expiry after every live one."""
    expiry = row.expiry if row.expiry is not None else float("inf")
    return (expiry <= now, expiry, row.coupon_id)


def _remark(
    remarks: Mapping[str, Mapping[str, Mapping[str, str]]], source: str, status: str, cid: str
) -> str:
    return remarks.get(source, {}).get(status, {}).get(cid, "")


def _balances(
    snapshot: Snapshot, found: Sequence[Threshold], ring: SampleRing
) -> tuple[BalanceRow, ...]:
    rows = [
        BalanceRow(
            s.labels.get("source", ""),
            s.labels.get("third_server_code", ""),
            s.labels.get("user_name", ""),
            s.labels.get("currency", ""),
            s.value,
            first_crossed(found, s.labels, s.value, snapshot.time),
            ring.values(BALANCE, s.labels),
        )
        for s in snapshot.select(BALANCE)
    ]
    return tuple(
        sorted(rows, key=lambda r: (r.low is None, r.source, r.server, r.user, r.currency))
    )


def _affiliates(snapshot: Snapshot, ring: SampleRing) -> tuple[AffiliateRow, ...]:
    by_source: dict[str, dict[str, Series]] = {}
    top: dict[str, list[tuple[str, float]]] = {}
    for name in (
        "coinw_affiliate_trading_volume",
        "coinw_affiliate_trading_volume_last_day",
        "coinw_affiliate_active_invitees",
    ):
        for s in snapshot.select(name):
            by_source.setdefault(s.labels.get("source", ""), {})[name] = s
    for s in snapshot.select("coinw_invitee_trading_volume"):
        top.setdefault(s.labels.get("source", ""), []).append((s.labels.get("uid", ""), s.value))
    out = []
    for source in sorted(by_source.keys() | top.keys()):
        got = by_source.get(source, {})

        def history(name: str, got: Mapping[str, Series] = got) -> tuple[float, ...]:
            s = got.get(name)
            return () if s is None else ring.values(name, s.labels)

        out.append(
            AffiliateRow(
                source,
                _value(got, "coinw_affiliate_trading_volume"),
                _value(got, "coinw_affiliate_trading_volume_last_day"),
                _value(got, "coinw_affiliate_active_invitees"),
                tuple(sorted(top.get(source, []), key=lambda t: -t[1])[:TOP_INVITEES]),
                history("coinw_affiliate_trading_volume"),
                history("coinw_affiliate_trading_volume_last_day"),
                history("coinw_affiliate_active_invitees"),
            )
        )
    return tuple(out)


def _value(got: Mapping[str, Series], name: str) -> float | None:
    s = got.get(name)
    return None if s is None else s.value


def _sources(view: StatusView, snapshot: Snapshot) -> tuple[SourceRow, ...]:
    errors: dict[str, list[tuple[str, int]]] = {}
    for s in snapshot.select("watcher_source_errors_total"):
        if s.value > 0:
            errors.setdefault(s.labels.get("source", ""), []).append(
                (s.labels.get("reason", ""), int(s.value))
            )
    sums = {
        s.labels.get("source"): s.value
        for s in snapshot.select("watcher_source_poll_duration_seconds_sum")
    }
    counts = {
        s.labels.get("source"): s.value
        for s in snapshot.select("watcher_source_poll_duration_seconds_count")
    }
    push = {
        s.labels.get("source"): "connected" if s.value else "disconnected"
        for s in snapshot.select("watcher_source_push_connected")
    }
    reconnects: dict[str | None, float] = {}
    for s in snapshot.select("watcher_source_push_reconnects_total"):
        reconnects[s.labels.get("source")] = reconnects.get(s.labels.get("source"), 0) + s.value
    rows = []
    for src in view.sources():
        name = src.name
        reason, _, text = (src.last_error or "").partition(": ")
        state = "waiting" if not src.polls else ("down" if src.last_error else "up")
        count = counts.get(name) or 0
        last = src.last_poll_at
        rows.append(
            SourceRow(
                name=name,
                type=src.type,
                state=state,
                polls=src.polls,
                last_success=src.last_success_at,
                last_poll=last,
                error_reason=reason,
                error_text=text,
                mean_poll_seconds=sums.get(name, 0.0) / count if count else None,
                errors=tuple(sorted(errors.get(name, []))),
                next_poll=None if last is None else last + src.interval,
                push=push.get(name, ""),
                push_reconnects=int(reconnects.get(name, 0)),
            )
        )
    order = {"down": 0, "waiting": 1, "up": 2}
    return tuple(sorted(rows, key=lambda r: (order[r.state], r.name)))
