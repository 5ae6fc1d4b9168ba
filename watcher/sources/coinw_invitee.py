"""CoinW affiliate invitee volume, ``POST PATH`` (the partner "user/volume/list" endpoint).

Upstream contract, signing, errors and limits: docs/upstream-apis.md.
One poll reads the whole lookback window, page by page, and replaces the source's one group; a
poll that cannot read every page changes nothing (partial sums would be wrong sums).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import structlog

from watcher.clock import Clock
from watcher.config.model import CoinwInviteeConfig
from watcher.errors import SourceError
from watcher.ratelimit import LimiterRegistry
from watcher.series import Series
from watcher.sources.base import PollResult, with_source_labels
from watcher.sources.coinw_errors import raise_for_code
from watcher.sources.coinw_key import CoinwKeySource
from watcher.sources.coinw_sign import build_body
from watcher.sources.numbers import code_number, exact_decimal
from watcher.sources.upstream import json_list, json_object

log = structlog.get_logger()

PATH = "/api/v3/patener/openapi/v1/partner/invitation/user/volume/list"
# Sibling partner endpoints allow 5 requests/s per IP and user ID (docs/upstream-apis.md); 5% margin.
REQUEST_SPACING = 0.21
SUCCESS_CODE = "200"
# Error answers are the futures API's: watcher.sources.coinw_errors.
GROUP = "window"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Pages beyond ceil(total / page_size) we still accept when rows shift under us mid-read.
EXTRA_PAGES = 3
# Whatever total upstream announces, one poll reads at most this many pages (1,000,000 rows at
# pageSize 1000, about 3.5 minutes at 5 requests/s).
MAX_PAGES = 1000
# Invalid rows logged one by one per poll; the count covers the rest (invalid_row errors).
MAX_ROW_LOGS = 10

HELP = {
    "coinw_invitee_trading_volume": (
        "Trading volume of one invitee over the lookback window (top N invitees)."
    ),
    "coinw_affiliate_trading_volume": (
        "Trading volume of all direct invitees over the lookback window."
    ),
    "coinw_affiliate_active_invitees": (
        "Invitees with a positive trading volume in the lookback window."
    ),
    "coinw_affiliate_trading_volume_last_day": (
        "Trading volume of all invitees on the latest day present."
    ),
}


@dataclass
class Window:
    """The rows of one read, one per (uid, day): a repeated row replaces, never adds."""

    rows: dict[tuple[str, date], Decimal] = field(default_factory=dict)
    skipped: int = 0

    def add(self, uid: str, day: date, volume: Decimal) -> None:
        """Record one invitee-day (a repeat of the same invitee-day overwrites it)."""
        self.rows[(uid, day)] = volume

    def per_uid(self) -> dict[str, Decimal]:
        """Each invitee's volume summed over the window."""
        out: dict[str, Decimal] = {}
        for (uid, _), volume in self.rows.items():
            out[uid] = out.get(uid, Decimal(0)) + volume
        return out

    def last_day(self) -> tuple[date | None, Decimal]:
        """The latest day present and the volume of all invitees on it."""
        if not self.rows:
            return None, Decimal(0)
        latest = max(day for _, day in self.rows)
        return latest, sum((v for (_, d), v in self.rows.items() if d == latest), Decimal(0))


def window_dates(now: float, lookback_days: int) -> tuple[str, str]:
    """``startTime``/``endTime`` for the last ``lookback_days`` UTC days, today included."""
    today = datetime.fromtimestamp(now, UTC).date()
    start = today - timedelta(days=lookback_days - 1)
    return start.isoformat(), today.isoformat()


class InviteeSource(CoinwKeySource[CoinwInviteeConfig]):
    """Reads the invitees' daily volumes over the lookback window and exports docs/product.md's sums."""

    HELP = HELP

    def __init__(
        self,
        config: CoinwInviteeConfig,
        session: aiohttp.ClientSession,
        limiters: LimiterRegistry,
        clock: Clock,
    ) -> None:
        super().__init__(config, session, limiters, clock, path=PATH, spacing=REQUEST_SPACING)
        self._sort_keys = config.signer == "futures_sorted"

    async def poll(self) -> PollResult:
        """Read every page of the window; any page failing leaves the previous series in place."""
        result = PollResult()
        window = await self.read(self._read_window(result), result)
        if window is not None:
            result.skipped_rows = window.skipped
            result.groups[GROUP] = self._series(window)
        return result

    async def _read_window(self, result: PollResult) -> Window:
        start, end = window_dates(self._clock.time(), self._config.lookback_days)
        size = self._config.page_size
        window = Window()
        page, read, total, most = 1, 0, None, 0
        while True:
            rows, page_total = await self._retry(
                lambda page=page: self._fetch(start, end, page, size),  # type: ignore[misc]
                result.note_retry,
                what=f"{self._config.name} {PATH} page {page}",
            )
            if total is not None and page_total != total:
                # Rows arrived or left while we paged: keep reading up to the new total; rows
                # seen twice collapse on (uid, day).
                log.info(
                    "source.total_changed",
                    source=self._config.name,
                    page=page,
                    before=total,
                    after=page_total,
                )
            total = page_total
            most = max(most, total)
            read += len(rows)
            for row in rows:
                self._add_row(window, row)
            # Stop at the last page: an empty or short one, or once ``total`` rows are read;
            # never past a few pages beyond the largest total announced.
            if (
                not rows
                or len(rows) < size
                or read >= total
                or page >= -(-most // size) + EXTRA_PAGES
            ):
                return window
            if page >= MAX_PAGES:
                log.warning(
                    "source.window_truncated", source=self._config.name, pages=page, total=total
                )
                return window
            page += 1

    def _add_row(self, window: Window, row: Any) -> None:
        try:
            uid, day, volume = parse_row(row)
        except (TypeError, ValueError) as exc:
            window.skipped += 1
            if window.skipped <= MAX_ROW_LOGS:  # one bad window must not flood the log
                log.warning(
                    "source.invalid_row", source=self._config.name, error=self._http.clean(str(exc))
                )
            return
        window.add(uid, day, volume)

    async def _fetch(self, start: str, end: str, page: int, size: int) -> tuple[list[Any], int]:
        params = {"startTime": start, "endTime": end, "pageNo": page, "pageSize": size}
        body = build_body(params, sort_keys=self._sort_keys)
        await self._limiter.acquire()
        ts = int(self._clock.time() * 1000)
        headers = self._signer.headers(ts, "POST", PATH, body)
        headers["Content-Type"] = "application/json"
        what = f"POST {PATH} page {page}"
        return await self._http.request_json(
            "POST",
            f"{self._config.base_url}{PATH}",
            what=what,
            headers=headers,
            data=body,
            now_ms=ts,
            parse=lambda answer: parse_response(answer, what),
        )

    def _series(self, window: Window) -> list[Series]:
        cfg = self._config
        per_uid = window.per_uid()
        # Largest first; uid breaks ties so the exported set does not flap between polls.
        ranked = sorted(per_uid.items(), key=lambda kv: (-kv[1], kv[0]))[: cfg.top_invitees]
        total = sum(per_uid.values(), Decimal(0))
        _, last_day = window.last_day()
        out = [
            with_source_labels(cfg, "coinw_affiliate_trading_volume", {}, float(total)),
            with_source_labels(
                cfg,
                "coinw_affiliate_active_invitees",
                {},
                float(sum(1 for v in per_uid.values() if v > 0)),
            ),
            with_source_labels(cfg, "coinw_affiliate_trading_volume_last_day", {}, float(last_day)),
        ]
        out.extend(
            with_source_labels(cfg, "coinw_invitee_trading_volume", {"uid": uid}, float(v))
            for uid, v in ranked
        )
        return out


def parse_response(body: Any, what: str) -> tuple[list[Any], int]:
    """The page's rows and ``total``; raise SourceError for an error answer or a bad shape."""
    body = json_object(body, what)
    code = body.get("code")
    raise_for_code(
        body, what, success=code in (SUCCESS_CODE, int(SUCCESS_CODE)) and not isinstance(code, bool)
    )
    # A success without data.list is not "no invitees": summing nothing would export a volume
    # of 0 and page on-call for a drop that did not happen.
    data = json_object(body.get("data"), what, "data")
    rows = json_list(data.get("list"), what, "data.list")
    total = code_number(data.get("total", len(rows)))
    if total is None or total < 0:
        msg = f"{what}: data.total is not a count ({data.get('total')!r})"
        raise SourceError(reason="malformed", message=msg)
    return rows, total


def parse_row(row: Any) -> tuple[str, date, Decimal]:
    """One invitee-day: uid, day and volume; ValueError/TypeError names the first bad field."""
    if not isinstance(row, dict):
        msg = f"expected an invitee row object, got {type(row).__name__}"
        raise TypeError(msg)
    raw_uid = row.get("uid")
    if (
        isinstance(raw_uid, bool)
        or not isinstance(raw_uid, int | str)
        or not str(raw_uid).isdigit()
    ):
        msg = f"row has no valid uid ({raw_uid!r})"
        raise ValueError(msg)
    uid = str(int(raw_uid))
    raw_time = row.get("time")
    if not isinstance(raw_time, str) or not _DATE.match(raw_time):
        msg = f"uid {uid}: time is not a yyyy-MM-dd date ({raw_time!r})"
        raise ValueError(msg)
    try:
        day = date.fromisoformat(raw_time)
    except ValueError:
        msg = f"uid {uid}: time is not a calendar date ({raw_time!r})"
        raise ValueError(msg) from None
    return uid, day, parse_volume(row.get("volume"), uid)


def parse_volume(value: Any, uid: str) -> Decimal:
    """A volume given as a decimal string (upstream's form) or a JSON number, exactly."""
    number = exact_decimal(value, f"uid {uid}: volume")
    if number < 0:
        msg = f"uid {uid}: volume must not be negative ({value!r})"
        raise ValueError(msg)
    return number
