"""``console_configs``: print notifications, one block per group (the demo's receiver)."""

from __future__ import annotations

from typing import TextIO

from watcher.config import ConsoleConfig
from watcher.notify.base import Payload
from watcher.notify.data import NotificationData, is_resolved
from watcher.notify.slack import format_value


def console_lines(data: NotificationData) -> list[str]:
    """Readable lines: a header per group, then one line per alert."""
    group = ", ".join(f"{k}={v}" for k, v in data.group_labels.items()) or "all"
    header = f"[{data.status.upper()}:{len(data.firing)}] {data.receiver} {{{group}}}"
    lines = [header]
    for a in data.alerts:
        resolved = is_resolved(a, data.now)
        state = "resolved" if resolved else "firing"
        summary = a.annotations.get("summary") or a.annotations.get("description") or ""
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
        at = " at resolution" if resolved else ""
        lines.append(
            f"  {state:8} {a.name}: {summary} (value{at} {format_value(a.value)}) {{{labels}}}"
        )
    return lines


class ConsoleNotifier:
    """Writes to the injected text stream."""

    name = "console"

    def __init__(self, config: ConsoleConfig, out: TextIO) -> None:
        self._config = config
        self._out = out

    @property
    def send_resolved(self) -> bool:
        """``send_resolved`` (default true)."""
        return self._config.send_resolved

    def render(self, data: NotificationData) -> Payload:
        """The lines to print."""
        return {"lines": console_lines(data)}

    async def deliver(self, payload: Payload, now: float) -> None:
        """Print the lines and flush."""
        self._out.write("\n".join(str(line) for line in payload.get("lines", ())) + "\n")
        self._out.flush()
