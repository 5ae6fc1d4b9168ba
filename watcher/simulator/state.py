"""The simulator's world: accounts, coupons, invitees, balances, request log; all changeable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watcher.simulator.faults import Faults

DEMO_API_KEY = "demo-api-key"
DEMO_SECRET_KEY = "demo-secret-key"  # noqa: S105 - the simulator's published demo credential
DAY_MS = 86_400_000


@dataclass
class RequestRecord:
    """One request the simulator saw."""

    endpoint: str
    key_id: str
    at: float
    outcome: str


@dataclass
class Balance:
    """One TradeBoss account balance as upstream renders it."""

    amount: str
    amount_digits: int


def default_balances() -> dict[tuple[str, str, str], Balance]:
    """Three TradeBoss accounts; the HKD one is low (below the shipped rules' threshold)."""
    return {
        ("tsc-1", "86000001", "HKD"): Balance("42.1098", 4),
        ("tsc-1", "86000002", "USD"): Balance("2500.50", 2),
        ("tsc-2", "86000003", "HKD"): Balance("18230.0000", 4),
    }


@dataclass
class SimState:
    """Everything the simulator serves and remembers."""

    accounts: dict[str, str] = field(default_factory=lambda: {DEMO_API_KEY: DEMO_SECRET_KEY})
    coupons: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    requests: list[RequestRecord] = field(default_factory=list)
    last_request: dict[tuple[str, str, str], float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    max_log: int = 100_000
    #: rows the partner volume endpoint holds for any date window (generated on demand)
    invitee_rows: int = 240
    #: partner requests allowed per second per API key and IP (0: unlimited)
    partner_per_second: int = 5
    partner_hits: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    #: TradeBoss balances by (third_server_code, user_name, currency)
    balances: dict[tuple[str, str, str], Balance] = field(default_factory=default_balances)
    tradeboss_company_id: int = 1
    #: TradeBoss requests allowed per minute per companyId and IP (0: unlimited)
    tradeboss_per_minute: int = 600
    tradeboss_window: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)
    #: static headers every TradeBoss request must carry (e.g. a bearer token)
    tradeboss_headers: dict[str, str] = field(default_factory=dict)
    #: the CoinW rate-limit and timestamp checks' clocks (tests hand in a fake clock's)
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time

    def record(self, endpoint: str, key_id: str, at: float, outcome: str) -> None:
        """Append to the request log (bounded)."""
        if len(self.requests) >= self.max_log:
            del self.requests[: self.max_log // 10]
        self.requests.append(RequestRecord(endpoint, key_id, at, outcome))

    def summary(self) -> dict[str, Any]:
        """Counts per endpoint and outcome, and rate-limit violations."""
        by: dict[str, dict[str, int]] = {}
        for r in self.requests:
            by.setdefault(r.endpoint, {}).setdefault(r.outcome, 0)
            by[r.endpoint][r.outcome] += 1
        violations = sum(1 for r in self.requests if r.outcome == "rate_limited")
        return {"total": len(self.requests), "rate_limit_violations": violations, "by_endpoint": by}


def default_coupons(now_ms: int | None = None) -> dict[int, dict[str, Any]]:
    """A scenario with a coupon in every status, one expiring within days, one needing KYC."""
    now = int(time.time() * 1000) if now_ms is None else now_ms

    def coupon(
        cid: int,
        status: int,
        current: Any,
        total: Any,
        start: int,
        end: int,
        kyc: int = 0,
        assets_out: int = 0,
    ) -> dict[str, Any]:
        return {
            "agRecordId": 4000 + cid % 1000,
            "assetsOut": assets_out,
            "backAmount": 0,
            "backMark": 0,
            "createdDate": now - 5 * DAY_MS,
            "currentAmount": current,
            "endTime": end,
            "id": cid,
            "kyc": kyc,
            "name": "万能金",
            "processStatus": 0,
            "remark": "simulated",
            "startTime": start,
            "totalAmount": total,
            "transferExpire": 0,
            "type": status,
            "updateDate": now - DAY_MS,
            "userId": 1162061,
        }

    rows = [
        coupon(800000001, 1, 50, 100, now - 10 * DAY_MS, now + 2 * DAY_MS),  # expiring soon
        coupon(800000002, 1, 20, 20, now - DAY_MS, now + 40 * DAY_MS, kyc=1),  # needs KYC
        coupon(800000003, 1, "12.5", 25, now - DAY_MS, now + 90 * DAY_MS),  # healthy
        coupon(800000004, 0, 30, 30, now + 2 * DAY_MS, now + 60 * DAY_MS),  # pending
        coupon(800000005, 2, 0, 10, now - 30 * DAY_MS, now + 10 * DAY_MS),  # used
        coupon(800000006, 3, 5, 5, now - 60 * DAY_MS, now - 2 * DAY_MS),  # expired
        coupon(800000007, 4, 0, 15, now - DAY_MS, now + 30 * DAY_MS, assets_out=1),  # failed
    ]
    return {int(r["id"]): r for r in rows}
