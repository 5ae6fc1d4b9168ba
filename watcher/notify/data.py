"""What one notification is about: a group's alerts, as Alertmanager's template data.

Field names follow Alertmanager's ``template.Data``
(https://prometheus.io/docs/alerting/latest/notifications/#data), so the webhook payload and
Slack templates read like Alertmanager's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from watcher.alerts import Alert

# Go's zero time: what Alertmanager shows as endsAt for an alert that has not ended.
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(t: float | None) -> str:
    """Format Unix seconds as RFC 3339 UTC with milliseconds; None is Go's zero time."""
    if t is None:
        return ZERO_TIME
    millis = round(t * 1000)
    dt = datetime.fromtimestamp(millis // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def go_json_time(t: float | None) -> str:
    """A ``time.Time`` as Go's JSON encoder writes it (``RFC3339Nano``: the fraction without
    trailing zeros, none for whole seconds), at millisecond precision; None is Go's zero time.

    Alertmanager's webhook body carries times this way (``18.35Z``, ``18Z``); its API uses
    ``rfc3339``'s fixed three digits instead.
    """
    text = rfc3339(t)
    if t is None:
        return text
    head, _, fraction = text[:-1].partition(".")
    fraction = fraction.rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def parse_rfc3339(text: str) -> float:
    """Parse an RFC 3339 timestamp into Unix seconds; raise ValueError when it is not one."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python 3.11 accepts at most 6 fractional digits; Go sends up to 9.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        s = f"{head}.{(digits or '0')[:6]}{rest}"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        msg = f'timestamp "{text}" has no time zone'
        raise ValueError(msg)
    return dt.timestamp()


def is_resolved(alert: Alert, now: float) -> bool:
    """Whether ``alert`` has ended at ``now`` (Alertmanager's ``Resolved()``)."""
    return alert.ends_at is not None and alert.ends_at <= now


def _before(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """``model.LabelSet.Before``: fewer labels first, then the first differing sorted pair."""
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted({*a, *b}):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


def _alert_less(x: Alert, y: Alert) -> int:
    """``types.AlertSlice.Less``: ``job``, then ``instance`` (present before absent), then labels."""
    for key in ("job", "instance"):
        xv, yv = x.labels.get(key), y.labels.get(key)
        if xv is None and yv is None:
            continue
        if xv is None:
            return 1
        if yv is None:
            return -1
        if xv != yv:
            return -1 if xv < yv else 1
    if _before(x.labels, y.labels):
        return -1
    return 1 if _before(y.labels, x.labels) else 0


sort_key = functools.cmp_to_key(_alert_less)
"""Key for ``sorted`` giving Alertmanager's alert order within a notification."""


def common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Pairs present with the same value in every map."""
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class NotificationData:
    """One group's notification: Alertmanager's template data."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    external_url: str
    now: float

    @property
    def firing(self) -> list[Alert]:
        """Alerts still firing."""
        return [a for a in self.alerts if not is_resolved(a, self.now)]

    @property
    def resolved(self) -> list[Alert]:
        """Alerts that have ended."""
        return [a for a in self.alerts if is_resolved(a, self.now)]

    @property
    def status(self) -> str:
        """``firing`` if any alert fires, else ``resolved``."""
        return "firing" if self.firing else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        """Labels every alert shares."""
        return common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        """Annotations every alert shares."""
        return common([a.annotations for a in self.alerts])
