"""The demo's narration: what the daemon does, told briefly on the console as it happens.

A read-only observer of the daemon's public state (its runners, its rule manager's active
alerts, its metrics registry), looked at a few times a second; it changes nothing, so the demo
runs exactly the daemon ``watcher run`` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.metrics_core import Metric

from watcher.durations import format_duration

#: How often the narrator looks (seconds): the pending notice lags the evaluation by at most this.
TICK = 0.5
#: Labels every demo alert shares; the narration names an alert by the others.
_COMMON = frozenset({"alertname", "severity", "team", "cluster"})


class RunnerView(Protocol):
    """What the narrator reads of a source's runner."""

    polls: int
    last_error: str | None


class AlertLike(Protocol):
    """What the narrator reads of an active alert."""

    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def state(self) -> str: ...
    @property
    def active_at(self) -> float: ...
    @property
    def alertname(self) -> str: ...
    @property
    def group(self) -> str: ...


@dataclass(frozen=True)
class View:
    """One look at the daemon."""

    now: float
    runners: Mapping[str, RunnerView]
    alerts: Iterable[AlertLike]
    families: Iterable[Metric]
    #: (group, alertname) -> the rule's ``for``
    holds: Mapping[tuple[str, str], float]


def alert_id(name: str, labels: Mapping[str, str]) -> str:
    """``Name{label=value, ...}`` without the labels every demo alert shares."""
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in _COMMON)
    return f"{name}{{{shown}}}" if shown else name


class Narrator:
    """Turns successive views of the daemon into short sentences, each said once."""

    def __init__(self, say: Callable[[str], None], group_wait: float) -> None:
        self._say = say
        self._group_wait = group_wait
        self._polls: dict[str, int] = {}
        self._errors: dict[str, str | None] = {}
        self._alerts: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self._sent: dict[tuple[str, str], float] = {}
        self._failed: dict[tuple[str, str], float] = {}

    def observe(self, view: View) -> None:
        """Say what changed since the previous view."""
        self._sources(view)
        self._rules(view)
        self._notifications(view)

    def _sources(self, view: View) -> None:
        counts: dict[str, int] | None = None
        for name, runner in sorted(view.runners.items()):
            before = self._polls.get(name, 0)
            self._polls[name] = runner.polls
            if runner.polls == before:
                continue
            error = runner.last_error
            if before == 0:
                if counts is None:
                    counts = _series_per_source(view.families)
                if error is None:
                    self._say(f"polled {name}: {counts.get(name, 0)} series")
                else:
                    self._say(f"polled {name}: failed ({error}); retrying next interval")
            elif error != self._errors.get(name):
                self._say(
                    f"{name} recovered" if error is None else f"poll of {name} failed: {error}"
                )
            self._errors[name] = error

    def _rules(self, view: View) -> None:
        seen: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        for a in view.alerts:
            key = (a.group, a.alertname, tuple(sorted(a.labels.items())))
            seen[key] = a.state
            before = self._alerts.get(key)
            if before == a.state:
                continue
            what = alert_id(a.alertname, a.labels)
            if a.state == "pending":
                hold = view.holds.get((a.group, a.alertname), 0.0)
                left = max(0.0, a.active_at + hold - view.now)
                self._say(f"{what} pending, fires in {left:.0f} s unless it clears")
            elif a.state == "firing":
                wait = format_duration(self._group_wait)
                self._say(f"{what} firing; its first notification waits group_wait ({wait})")
        for key, state in self._alerts.items():
            if key not in seen:
                what = alert_id(key[1], dict(key[2]))
                self._say(f"{what} resolved" if state == "firing" else f"{what} cleared")
        self._alerts = seen

    def _notifications(self, view: View) -> None:
        for family in view.families:
            if family.name == "watcher_notifications":
                for n, to in _increments(family, self._sent):
                    self._say(f"{_plural(n, 'notification')} sent to {to}")
            elif family.name == "watcher_notifications_failed":
                for n, to in _increments(family, self._failed):
                    self._say(f"delivery to {to} failed {_plural(n, 'time')}; it is retried")


def _increments(family: Metric, seen: dict[tuple[str, str], float]) -> Iterator[tuple[int, str]]:
    """(increase, "receiver (integration)") of every counter that grew since the last look."""
    for sample in family.samples:
        if not sample.name.endswith("_total"):
            continue
        key = (sample.labels.get("receiver", ""), sample.labels.get("integration", ""))
        before = seen.get(key, 0.0)
        seen[key] = sample.value
        if sample.value > before:
            yield round(sample.value - before), f"{key[0]} ({key[1]})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _series_per_source(families: Iterable[Metric]) -> dict[str, int]:
    """How many upstream series (not ``watcher_*`` self-metrics) each source has."""
    counts: dict[str, int] = {}
    for family in families:
        if family.name.startswith("watcher_"):
            continue
        for sample in family.samples:
            source = sample.labels.get("source")
            if source is not None:
                counts[source] = counts.get(source, 0) + 1
    return counts
