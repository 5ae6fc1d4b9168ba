"""Faults the simulator can be told to inject, per endpoint, for a number of requests."""

from __future__ import annotations

from dataclasses import dataclass, field

FAULT_KINDS = (
    "http_500",  # HTTP 500 with an error body
    "http_429",  # HTTP 429 with Retry-After
    "slow",  # answer correctly after `delay` seconds
    "hang",  # never answer (until the client gives up)
    "malformed",  # HTTP 200 with a body that is not JSON
    "bad_shape",  # HTTP 200 JSON of an unexpected shape
    "rate_limit",  # the API's own rate-limit answer (CoinW 29001) even when within limits
    "bad_signature",  # reject the signature (CoinW 6001) even when it is right
    "api_error",  # the API's own error answer (CoinW 904; TradeBoss code "74", ok false)
    "trace_mismatch",  # TradeBoss: a success answer that echoes another request's trace
    "not_ok",  # TradeBoss: code "0" but ok false
    "login_refused",  # WebSocket: refuse the next logins (CoinW's auth error) even when right
    "drop",  # WebSocket: close every live connection now
    "stall",  # WebSocket: every live connection goes silent (no pong, no push)
    "garbage",  # WebSocket: send `count` bad frames on every live connection
    "huge",  # WebSocket: send one frame over 2 MiB on every live connection
)


@dataclass
class Fault:
    """``kind`` for the next ``count`` requests (-1: until cleared)."""

    kind: str
    count: int = 1
    delay: float = 0.0


@dataclass
class Faults:
    """Pending faults per endpoint name (``coupon``, ``partner``, ``tradeboss``, ``push``)."""

    pending: dict[str, list[Fault]] = field(default_factory=dict)

    def inject(self, endpoint: str, kind: str, count: int = 1, delay: float = 0.0) -> None:
        """Queue a fault for ``endpoint``; raise ValueError for an unknown kind."""
        if kind not in FAULT_KINDS:
            msg = f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            raise ValueError(msg)
        self.pending.setdefault(endpoint, []).append(Fault(kind, count, delay))

    def clear(self, endpoint: str | None = None) -> None:
        """Drop pending faults (of one endpoint, or all)."""
        if endpoint is None:
            self.pending.clear()
        else:
            self.pending.pop(endpoint, None)

    def take(self, endpoint: str) -> Fault | None:
        """The fault for this request, if any, consuming one use of it."""
        queue = self.pending.get(endpoint)
        if not queue:
            return None
        fault = queue[0]
        if fault.count > 0:
            fault.count -= 1
            if fault.count == 0:
                queue.pop(0)
        return fault
