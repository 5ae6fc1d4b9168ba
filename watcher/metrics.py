"""watcher's own metrics, on an injected registry so tests and reloads get a clean one."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from watcher import __version__

SOURCE_ERROR_REASONS = (
    "timeout",
    "connection",
    "http",
    "rate_limited",
    "auth",
    "api_error",
    "malformed",
    "invalid_row",
    "too_large",
)
ALERT_STATES = ("pending", "firing")
#: ``watcher_source_push_messages_total{kind}``: frames understood, then the bad ones (skipped)
PUSH_MESSAGE_KINDS = (
    "coupon",
    "pong",
    "answer",
    "not_json",
    "bad_shape",
    "unknown_type",
    "invalid_coupon",
    "too_large",
)
#: ``watcher_source_push_reconnects_total{reason}``: why the previous connection ended
PUSH_RECONNECT_REASONS = (
    "connect_failed",
    "dropped",
    "login_failed",
    "subscribe_failed",
    "missed_pong",
    "bad_frames",
    "too_large",
)


class WatcherMetrics:
    """Every self-metric of docs/product.md, created once on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.build_info = Gauge(
            "watcher_build_info", "Build information; always 1.", ["version"], registry=registry
        )
        self.build_info.labels(version=__version__).set(1)
        # Set once at start when the config has ``ha`` (watcher.config.ha); alerts carry no replica.
        self.ha_replica_info = Gauge(
            "watcher_ha_replica_info",
            "1 for the HA replica this process is: its name, its index and the replica count.",
            ["replica", "index", "replicas"],
            registry=registry,
        )
        self.source_up = Gauge(
            "watcher_source_up",
            "1 if the last poll of the source succeeded.",
            ["source"],
            registry=registry,
        )
        self.source_last_success = Gauge(
            "watcher_source_last_success_timestamp_seconds",
            "Unix time of the last successful poll of the source.",
            ["source"],
            registry=registry,
        )
        self.source_poll_duration = Histogram(
            "watcher_source_poll_duration_seconds",
            "Duration of one poll of the source.",
            ["source"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.source_errors = Counter(
            "watcher_source_errors",
            "Errors while polling the source, by reason.",
            ["source", "reason"],
            registry=registry,
        )
        self.source_push_connected = Gauge(
            "watcher_source_push_connected",
            "1 while the source's WebSocket is logged in and subscribed (push enabled only).",
            ["source"],
            registry=registry,
        )
        self.source_push_messages = Counter(
            "watcher_source_push_messages",
            "Frames received on the source's WebSocket, by kind; bad kinds are skipped.",
            ["source", "kind"],
            registry=registry,
        )
        self.source_push_reconnects = Counter(
            "watcher_source_push_reconnects",
            "WebSocket connections of the source made again, by why the previous one ended.",
            ["source", "reason"],
            registry=registry,
        )
        self.rule_evaluation_duration = Histogram(
            "watcher_rule_evaluation_duration_seconds",
            "Duration of one evaluation of every rule.",
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.rule_evaluation_failures = Counter(
            "watcher_rule_evaluation_failures",
            "Rule evaluations that failed.",
            ["alertname"],
            registry=registry,
        )
        self.alerts = Gauge(
            "watcher_alerts",
            "Active alerts by alert name and state.",
            ["alertname", "state"],
            registry=registry,
        )
        self.notifications = Counter(
            "watcher_notifications",
            "Notifications sent, by receiver and integration.",
            ["receiver", "integration"],
            registry=registry,
        )
        self.notifications_failed = Counter(
            "watcher_notifications_failed",
            "Notification attempts that failed.",
            ["receiver", "integration"],
            registry=registry,
        )
        self.notification_queue_length = Gauge(
            "watcher_notification_queue_length",
            "Notifications waiting in the outbox.",
            registry=registry,
        )
        self.notification_queue_capacity = Gauge(
            "watcher_notification_queue_capacity",
            "Notifications the outbox holds at most (storage.notification_queue_capacity).",
            registry=registry,
        )
        self.notification_queue_overflows = Counter(
            "watcher_notification_queue_overflows",
            "Notifications queued while the outbox was full.",
            registry=registry,
        )
        self.notifications_dropped = Counter(
            "watcher_notifications_dropped",
            "Resolved notifications dropped undelivered from a full outbox.",
            ["receiver", "integration"],
            registry=registry,
        )
        self.state_write_errors = Counter(
            "watcher_state_write_errors",
            "Writes to the state file that failed (full disk, I/O error); retried.",
            ["what"],
            registry=registry,
        )
        for what in ("open", "series", "alerts", "notifications", "silences", "samples"):
            self.state_write_errors.labels(what=what)
        self.samples_unsaved = Counter(
            "watcher_state_samples_unsaved",
            "Samples never written to the state file: its write queue was full (storage failing).",
            registry=registry,
        )
        self.state_persistent = Gauge(
            "watcher_state_persistent",
            "1 if state is written to storage.path; 0 if it is kept in memory only.",
            registry=registry,
        )
        self.state_corruptions = Counter(
            "watcher_state_corruptions",
            "State files found corrupt at start and moved aside (the daemon started fresh).",
            registry=registry,
        )
        self.loop_crashes = Counter(
            "watcher_loop_crashes",
            "Crashes of a background loop (it is restarted), by loop.",
            ["loop"],
            registry=registry,
        )
        self.config_last_reload_successful = Gauge(
            "watcher_config_last_reload_successful",
            "1 if the last config (re)load succeeded.",
            registry=registry,
        )
        self.config_last_reload_success_timestamp = Gauge(
            "watcher_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            registry=registry,
        )

    def init_source(self, source: str) -> None:
        """Pre-create a source's error and duration series so they read 0 before the first error.

        ``watcher_source_up`` is left out: it appears with the first poll (or with the health the
        previous process recorded), as Prometheus's ``up`` appears with the first scrape, so a
        start never reads as "down".
        """
        self.source_poll_duration.labels(source=source)
        for reason in SOURCE_ERROR_REASONS:
            self.source_errors.labels(source=source, reason=reason)

    def init_push(self, source: str) -> None:
        """Pre-create a push-enabled source's WebSocket series (disconnected, nothing counted)."""
        self.source_push_connected.labels(source=source).set(0)
        for kind in PUSH_MESSAGE_KINDS:
            self.source_push_messages.labels(source=source, kind=kind)
        for reason in PUSH_RECONNECT_REASONS:
            self.source_push_reconnects.labels(source=source, reason=reason)

    def forget_push(self, source: str) -> None:
        """Drop a source's WebSocket series (push turned off, or the source removed)."""
        with contextlib.suppress(KeyError):
            self.source_push_connected.remove(source)
        for kind in PUSH_MESSAGE_KINDS:
            with contextlib.suppress(KeyError):
                self.source_push_messages.remove(source, kind)
        for reason in PUSH_RECONNECT_REASONS:
            with contextlib.suppress(KeyError):
                self.source_push_reconnects.remove(source, reason)

    def forget_source(self, source: str) -> None:
        """Drop a removed source's series (config reload)."""
        for metric in (self.source_up, self.source_last_success, self.source_poll_duration):
            with contextlib.suppress(KeyError):
                metric.remove(source)
        for reason in SOURCE_ERROR_REASONS:
            with contextlib.suppress(KeyError):
                self.source_errors.remove(source, reason)
        self.forget_push(source)
