"""Alerts posted to ``POST /api/v2/alerts`` (Alertmanager's ``postableAlert``), validated.

Checks and messages follow Alertmanager (``api/v2`` and ``types.Alert.Validate``): labels are
required, names are Prometheus label names, empty label values are dropped, ``startsAt``
defaults to now (or to ``endsAt``), and ``endsAt`` may not precede ``startsAt``. An alert whose
``endsAt`` is past is resolved; a firing one stays firing until its ``endsAt``, or, without
one, for ``global.resolve_timeout`` after it was last posted (Alertmanager's ``Timeout``).
"""

from __future__ import annotations

from watcher.alerts import Alert
from watcher.gotemplate.strconv import quote
from watcher.names import LABEL_NAME
from watcher.notify.data import parse_rfc3339

MAX_POSTED_ALERTS = 1000  # per request; the body itself is capped by the server
_GO_ZERO_TIME = -62135596800.0  # 0001-01-01T00:00:00Z


def _pairs(raw: object, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        msg = f"{what}: expected an object of strings"
        raise ValueError(msg)
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            msg = f"{what}: value of {quote(str(name))} is not a string"
            raise ValueError(msg)
        if not LABEL_NAME.match(str(name)):
            msg = f"invalid name {quote(str(name))}"
            raise ValueError(msg)
        out[str(name)] = value
    return out


def _time(raw: object, what: str) -> float | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        msg = f"{what}: expected an RFC 3339 timestamp"
        raise ValueError(msg)
    try:
        value = parse_rfc3339(raw)
    except (ValueError, OverflowError):
        msg = f"{what}: {quote(raw)} is not an RFC 3339 timestamp"
        raise ValueError(msg) from None
    return None if value <= _GO_ZERO_TIME else value  # amtool sends Go's zero time for "unset"


def posted(raw: object, now: float, resolve_timeout: float) -> tuple[Alert, float | None]:
    """One posted alert as the dispatcher's ``Alert``, and how long it stays firing unless
    posted again (None: resolved); raise ValueError naming the problem."""
    if not isinstance(raw, dict):
        msg = "expected an alert object"
        raise ValueError(msg)
    if raw.get("labels") is None:
        msg = "labels in body is required"
        raise ValueError(msg)
    labels = {k: v for k, v in _pairs(raw.get("labels"), "labels").items() if v != ""}
    annotations = _pairs(raw.get("annotations"), "annotations")
    starts = _time(raw.get("startsAt"), "startsAt")
    ends = _time(raw.get("endsAt"), "endsAt")
    if starts is None:
        starts = ends if ends is not None else now
    if ends is not None and ends < starts:
        msg = "start time must be before end time"
        raise ValueError(msg)
    if not labels:
        msg = "at least one label pair required"
        raise ValueError(msg)
    generator = raw.get("generatorURL", "")
    if not isinstance(generator, str):
        msg = "generatorURL: expected a string"
        raise ValueError(msg)
    if ends is not None and ends <= now:
        return Alert(labels, annotations, starts, ends, 0.0, generator), None
    lifetime = resolve_timeout if ends is None else ends - now
    return Alert(labels, annotations, starts, None, 0.0, generator), lifetime
