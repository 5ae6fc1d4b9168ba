"""TradeBoss account balances: ``POST /api/cats-gateway/get-user-amount``, one request per account.

Upstream contract, headers, success rule and limits: docs/upstream-apis.md. Each account is
its own group, so one account failing leaves only that account's series to go stale. Requests
run ``concurrency`` at a time through one limiter per ``base_url`` + ``companyId``, which an
HTTP 429 pauses for every request of the source.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import structlog

from watcher.clock import Clock
from watcher.config.model import TradebossAccount, TradebossConfig
from watcher.errors import RateLimitedError, SourceError, TransientSourceError
from watcher.ratelimit import Limiter, LimiterRegistry
from watcher.series import Series
from watcher.sources.base import PollResult, UpstreamSource, with_source_labels
from watcher.sources.coinw_sign import build_body
from watcher.sources.numbers import exact_decimal
from watcher.sources.upstream import json_object

log = structlog.get_logger()

PATH = "/api/cats-gateway/get-user-amount"
METRIC = "tradeboss_account_balance"
# The gateway's quota is per minute: without a reset hint, wait for the next minute.
DEFAULT_RATE_LIMIT_WAIT = 60.0
# Waits for a quota reset within one poll, per account, before leaving the account stale.
RATE_LIMIT_ATTEMPTS = 3
RATE_LIMIT_CODE = "GGATEWAY_CODE_018"  # too frequent
EXPIRED_CODE = "GGATEWAY_CODE_014"  # request expired: a fresh timestamp may pass
SERVER_ERROR_CODE = "G500"
MAX_DIGITS = 18

HELP = {METRIC: "Balance of a TradeBoss account (amount, in the account's currency)."}


def group_key(account: TradebossAccount) -> str:
    """The store group of one account."""
    return f"{account.third_server_code}/{account.user_name}/{account.currency}"


class TradebossSource(UpstreamSource[TradebossConfig]):
    """Polls the balance of every configured account, a bounded number at a time."""

    HELP = HELP

    def __init__(
        self,
        config: TradebossConfig,
        session: aiohttp.ClientSession,
        limiters: LimiterRegistry,
        clock: Clock,
        new_trace: Callable[[], str] | None = None,
    ) -> None:
        super().__init__(
            config,
            session,
            clock,
            path=PATH,
            secrets=[secret.get() for secret in config.headers.values()],
        )
        # A request id only has to be unique (upstream echoes it back): 128 bits of a generator
        # seeded from os.urandom, as 32 hex digits like uuid4().hex, without a syscall each.
        rng = random.Random()
        self._new_trace = new_trace or (lambda: f"{rng.getrandbits(128):032x}")
        # Everything about a request but its trace and timestamp is fixed: built once here.
        self._url = f"{config.base_url}{PATH}"
        self._headers = {key: secret.get() for key, secret in config.headers.items()}
        self._headers.update(
            {"companyId": str(config.company_id), "Content-Type": "application/json"}
        )
        self._requests = {
            account: (
                build_body(
                    {
                        "thirdServerCode": account.third_server_code,
                        "userName": account.user_name,
                        "currency": account.currency,
                    }
                ).encode(),
                f"POST {PATH} user {account.user_name} {account.currency}",
            )
            for account in config.accounts
        }
        # No per-request spacing is documented, only a per-minute quota answered with 429.
        self._limiter: Limiter = limiters.get(f"{config.base_url}|{config.company_id}", PATH, 0.0)
        # After this many accounts fail in a row for transport reasons, the rest are not
        # tried this poll: a dead upstream must not cost accounts x retries x timeout.
        self._breaker = max(5, 2 * config.concurrency)

    async def poll(self) -> PollResult:
        """One request per account, ``concurrency`` at a time; failures are per account."""
        result = PollResult()
        queue: asyncio.Queue[TradebossAccount] = asyncio.Queue()
        for account in self._config.accounts:
            queue.put_nowait(account)
        state = {"failures_in_a_row": 0, "skipped": 0}

        async def worker() -> None:
            while not queue.empty():
                account = queue.get_nowait()
                if state["failures_in_a_row"] >= self._breaker:
                    state["skipped"] += 1
                    continue
                try:
                    series = await self._account(account, result)
                except SourceError as exc:
                    result.errors.append(exc)
                    if exc.reason in ("timeout", "connection", "http"):
                        state["failures_in_a_row"] += 1
                    continue
                state["failures_in_a_row"] = 0
                result.groups[group_key(account)] = series

        workers = min(self._config.concurrency, len(self._config.accounts))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if state["skipped"]:
            last = result.errors[-1]
            msg = (
                f"{state['skipped']} accounts not polled after {self._breaker} failures in a row "
                f"(last: {last})"
            )
            result.errors.append(SourceError(last.reason, msg))
        return result

    async def _account(self, account: TradebossAccount, result: PollResult) -> list[Series]:
        for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
            paused = self._limiter.next_slot_in
            if paused > self._config.interval:
                # The quota resets after this poll would have ended: fail fast, try next poll.
                msg = f"POST {PATH}: paused {paused:.0f}s for the upstream quota reset"
                raise RateLimitedError(msg, retry_after=paused)
            try:
                amount = await self._retry(lambda: self._fetch(account), result.note_retry)
            except RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RATE_LIMIT_WAIT
                # Pause every request of this company, not just this account's.
                self._limiter.penalize(wait)
                log.warning("source.rate_limited", source=self._config.name, backoff_seconds=wait)
                if attempt == RATE_LIMIT_ATTEMPTS or wait > self._config.interval:
                    raise
                result.note_retry(exc)
                continue
            labels = {
                "user_name": account.user_name,
                "currency": account.currency,
                "third_server_code": account.third_server_code,
            }
            return [with_source_labels(self._config, METRIC, labels, float(amount))]
        msg = "unreachable: the last attempt returns or raises"
        raise AssertionError(msg)  # pragma: no cover

    async def _fetch(self, account: TradebossAccount) -> Decimal:
        body, what = self._requests[account]
        await self._limiter.acquire()
        trace = self._new_trace()
        ts = int(self._clock.time() * 1000)
        headers = {**self._headers, "trace": trace, "timestamp": str(ts)}
        return await self._http.request_json(
            "POST",
            self._url,
            what=what,
            headers=headers,
            data=body,
            now_ms=ts,
            parse=lambda answer: parse_response(answer, what, trace),
        )


def parse_response(body: Any, what: str, trace: str) -> Decimal:
    """The balance of a success answer; raise SourceError for anything else."""
    body = json_object(body, what)
    echoed = body.get("trace")
    if echoed not in (None, "") and echoed != trace:
        # The answer belongs to another request (a confused proxy or cache): never use it.
        msg = f"{what}: response answers another request (trace mismatch)"
        raise SourceError(reason="malformed", message=msg)
    code = body.get("code")
    text = str(body.get("msg") or "")[:200]
    if code != "0":
        if code is None:
            msg = f"{what}: response has no code"
            raise SourceError(reason="malformed", message=msg)
        if code == RATE_LIMIT_CODE:
            msg = f"{what}: code {code}: {text or 'too frequent'}"
            raise RateLimitedError(msg)
        if code in (EXPIRED_CODE, SERVER_ERROR_CODE):
            msg = f"{what}: code {code}: {text}"
            raise TransientSourceError(reason="api_error", message=msg)
        msg = f"{what}: code {code}: {text}"
        raise SourceError(reason="api_error", message=msg)
    if body.get("ok") is not True:
        msg = f"{what}: code 0 but ok is {body.get('ok')!r}: {text}"
        raise SourceError(reason="api_error", message=msg)
    data = json_object(body.get("data"), what, "data")
    try:
        return parse_amount(data.get("amount"), data.get("amount_digits"))
    except (TypeError, ValueError) as exc:
        msg = f"{what}: {exc}"
        raise SourceError(reason="invalid_row", message=msg) from None


def parse_amount(value: Any, digits: Any = None) -> Decimal:
    """``amount`` exactly as upstream wrote it.

    ``amount_digits`` says how many decimals upstream uses; it is checked to be sane but never
    used to round: the exported balance is the upstream string's exact value.
    """
    if digits is not None:
        if isinstance(digits, str) and digits.strip().isdigit():
            digits = int(digits)
        if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= MAX_DIGITS:
            msg = f"amount_digits must be an integer from 0 to {MAX_DIGITS}, got {digits!r:.60}"
            raise ValueError(msg)
    return exact_decimal(value, "amount")
