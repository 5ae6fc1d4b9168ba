"""CoinW Mega Coupon balances: ``GET /v1/perpum/account/almightyGoldInfo``, one request per status.

Upstream contract, signing and errors: docs/upstream-apis.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import structlog

from watcher.clock import Clock
from watcher.config.model import CoinwCouponConfig
from watcher.ratelimit import LimiterRegistry
from watcher.series import Series
from watcher.sources.base import PollResult, with_source_labels
from watcher.sources.coinw_errors import raise_for_code
from watcher.sources.coinw_key import CoinwKeySource
from watcher.sources.coinw_sign import build_query
from watcher.sources.numbers import code_number, exact_decimal
from watcher.sources.upstream import json_list, json_object

log = structlog.get_logger()

PATH = "/v1/perpum/account/almightyGoldInfo"
# 1 request / 2 s per user ID and IP (upstream "Frequency Limit").
REQUEST_SPACING = 2.0 + 0.2  # plus a margin: arrival gaps jitter by connection set-up time
STATUS_TYPE = {"pending": 0, "unused": 1, "used": 2, "expired": 3, "failed": 4}
TYPE_STATUS = {v: k for k, v in STATUS_TYPE.items()}
# Invalid rows logged one by one per answer; past this, one summary line.
MAX_ROW_LOGS = 10
MAX_REMARK = 200  # characters of a coupon's remark kept for the status page

HELP = {
    "coinw_mega_coupon_remaining_amount": "Remaining amount of the Mega Coupon (currentAmount).",
    "coinw_mega_coupon_total_amount": "Total amount of the Mega Coupon (totalAmount).",
    "coinw_mega_coupon_valid_from_timestamp_seconds": "Start of the coupon's validity (startTime), Unix seconds.",
    "coinw_mega_coupon_expiry_timestamp_seconds": "End of the coupon's validity (endTime), Unix seconds.",
    "coinw_mega_coupon_kyc_required": "1 if using the coupon requires advanced KYC.",
    "coinw_mega_coupon_assets_out_invalid": "1 if the coupon's transferred-out assets are invalid (assetsOut).",
    "coinw_mega_coupons": "Number of Mega Coupons in each status.",
}


class CouponSource(CoinwKeySource[CoinwCouponConfig]):
    """Polls every configured status of one CoinW account's Mega Coupons."""

    HELP = HELP

    def __init__(
        self,
        config: CoinwCouponConfig,
        session: aiohttp.ClientSession,
        limiters: LimiterRegistry,
        clock: Clock,
    ) -> None:
        super().__init__(config, session, limiters, clock, path=PATH, spacing=REQUEST_SPACING)
        # Query, URL and request name of each status, built once.
        self._requests: dict[str, tuple[str, str, str]] = {}
        for status in config.statuses:
            query = build_query({"type": STATUS_TYPE[status]})
            url = f"{config.base_url}{PATH}?{query}"
            self._requests[status] = (query, url, f"GET {PATH}?{query}")
        #: status -> coupon id -> upstream ``remark`` (free text, shown escaped by the page)
        self.remarks: dict[str, dict[str, str]] = {}
        #: pushes applied per status (``coinw_push``): an answer that may predate one is dropped
        self.pushes: dict[str, int] = {}

    async def poll(self) -> PollResult:
        """One request per status; a failed status keeps its previous series until stale."""
        result = PollResult()
        for status in self._config.statuses:
            await self._read_status(status, result)
            if result.rate_limited:
                break  # the rest would be refused too; keep their previous series
        return result

    async def refresh(self, status: str) -> PollResult:
        """Read one status now (after a push said it changed), through the key's limiter."""
        result = PollResult()
        await self._read_status(status, result)
        return result

    async def _read_status(self, status: str, result: PollResult) -> None:
        """Read ``status`` into ``result``.

        An answer read while a push changed the status may predate the push: it is not kept
        (the status keeps the pushed series; the push has asked for another read).
        """
        pushes = self.pushes.get(status, 0)
        read = await self.read(self._retry(lambda: self._fetch(status), result.note_retry), result)
        if read is not None and self.pushes.get(status, 0) == pushes:
            series, skipped = read
            result.groups[status] = series
            result.skipped_rows += skipped

    def pushed(self, row: Any) -> tuple[str, str, list[Series], str]:
        """A pushed coupon's status, id, series and remark; ValueError names a bad field.

        The push carries the REST answer's coupon fields (docs/upstream-apis.md), so it becomes
        exactly the series a poll of its status would give.
        """
        coupon_id, values = parse_row(row)
        raw = row.get("type")
        status = (
            TYPE_STATUS.get(raw) if isinstance(raw, int) and not isinstance(raw, bool) else None
        )
        if status is None:
            msg = f"coupon {coupon_id}: type must be 0 to 4, got {str(raw)[:40]!r}"
            raise ValueError(msg)
        cfg = self._config
        labels = {**cfg.labels, "status": status, "source": cfg.name, "coupon_id": coupon_id}
        remark = row.get("remark")
        return (
            status,
            coupon_id,
            [Series(name, labels, value) for name, value in values.items()],
            remark[:MAX_REMARK] if isinstance(remark, str) else "",
        )

    def count_series(self, status: str, count: int) -> Series:
        """``coinw_mega_coupons{status}``."""
        return with_source_labels(
            self._config, "coinw_mega_coupons", {"status": status}, float(count)
        )

    async def _fetch(self, status: str) -> tuple[list[Series], int]:
        query, url, what = self._requests[status]
        await self._limiter.acquire()
        ts = int(self._clock.time() * 1000)
        headers = self._signer.headers(ts, "GET", PATH, query)
        return await self._http.request_json(
            "GET",
            url,
            what=what,
            headers=headers,
            now_ms=ts,
            # Rows become series in the parse step: a worker thread's work for a large answer.
            parse=lambda body: self._series(status, parse_response(body, what)),
        )

    def _series(self, status: str, rows: list[Any]) -> tuple[list[Series], int]:
        by_id: dict[str, dict[str, float]] = {}
        remarks: dict[str, str] = {}
        skipped = 0
        for row in rows:
            try:
                coupon_id, values = parse_row(row)
            except ValueError as exc:
                skipped += 1
                if skipped <= MAX_ROW_LOGS:  # one bad answer must not flood the log
                    log.warning(
                        "source.invalid_row",
                        source=self._config.name,
                        status=status,
                        error=self._http.clean(str(exc)),
                    )
                continue
            by_id[coupon_id] = values
            remark = row.get("remark")
            remarks[coupon_id] = remark[:MAX_REMARK] if isinstance(remark, str) else ""
        self.remarks[status] = remarks
        if skipped > MAX_ROW_LOGS:
            log.warning("source.invalid_rows", source=self._config.name, skipped=skipped)
        cfg = self._config
        out = [self.count_series(status, len(by_id))]
        base = {**cfg.labels, "status": status, "source": cfg.name}
        for coupon_id, values in by_id.items():
            # One label set per coupon, shared (read-only) by its series: 100k coupons are 600k
            # series, built in the parse step.
            labels = {**base, "coupon_id": coupon_id}
            out.extend(Series(name, labels, value) for name, value in values.items())
        return out, skipped


def parse_response(body: Any, what: str) -> list[Any]:
    """The ``data`` list of a CoinW futures response; raise SourceError for anything else."""
    body = json_object(body, what)
    raise_for_code(body, what, success=code_number(body.get("code")) == 0)
    data = body.get("data")
    return [] if data is None else json_list(data, what, "data")


def parse_row(row: Any) -> tuple[str, dict[str, float]]:
    """A coupon's id and metric values; ValueError names the first bad field."""
    if not isinstance(row, dict):
        msg = f"expected a coupon object, got {type(row).__name__}"
        raise ValueError(msg)
    coupon_id = row.get("id")
    if isinstance(coupon_id, bool) or not isinstance(coupon_id, int | str) or str(coupon_id) == "":
        msg = f"coupon has no valid id ({coupon_id!r})"
        raise ValueError(msg)
    cid = str(coupon_id)
    values = {
        "coinw_mega_coupon_remaining_amount": float(_decimal(row, "currentAmount", cid)),
        "coinw_mega_coupon_total_amount": float(_decimal(row, "totalAmount", cid)),
        "coinw_mega_coupon_valid_from_timestamp_seconds": float(_decimal(row, "startTime", cid))
        / 1000,
        "coinw_mega_coupon_expiry_timestamp_seconds": float(_decimal(row, "endTime", cid)) / 1000,
        "coinw_mega_coupon_kyc_required": _flag(row, "kyc", cid),
        "coinw_mega_coupon_assets_out_invalid": _flag(row, "assetsOut", cid),
    }
    return cid, values


def _decimal(row: dict[str, Any], key: str, cid: str) -> Decimal:
    return exact_decimal(row.get(key), f"coupon {cid}: {key}")


def _flag(row: dict[str, Any], key: str, cid: str) -> float:
    value = row.get(key, 0)
    if value in (0, 1, "0", "1"):
        return float(int(value))
    msg = f"coupon {cid}: {key} must be 0 or 1, got {value!r}"
    raise ValueError(msg)
