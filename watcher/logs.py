"""Console set-up, called once by the CLI: one format per stream.

Logs (structlog and the stdlib logging aiohttp uses) go to stderr: console lines on a terminal,
JSON lines otherwise. What is meant for the user (the console receiver's alerts, the demo's
narration) goes to stdout as plain text, or as JSON lines with ``--log-format json``.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

import structlog

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("auto", "console", "json")


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog (and the stdlib logging aiohttp uses) for the whole process."""
    number = getattr(logging, level.upper())
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=_stderr_logger,
        # No caching: a module's logger bound once would ignore a later configure (the CLI run
        # in-process by tests, structlog.testing.capture_logs); binding costs microseconds.
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=max(number, logging.WARNING), stream=sys.stderr, format="%(name)s: %(message)s"
    )


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    """A logger on the current ``sys.stderr`` (looked up per logger, not once at configure)."""
    return structlog.PrintLogger(sys.stderr)


class JsonLines(io.TextIOBase):
    """A text stream that turns each flushed block of text into one JSON line on ``out``.

    The console receiver writes a notification as one block and flushes; with
    ``--log-format json`` it becomes ``{"timestamp", "event", "lines": [...]}``.
    """

    def __init__(self, out: TextIO, event: str) -> None:
        super().__init__()
        self._out = out
        self._event = event
        self._pending: list[str] = []

    def writable(self) -> bool:
        """Always."""
        return True

    def write(self, s: str) -> int:
        """Buffer ``s`` until the next flush."""
        self._pending.append(s)
        return len(s)

    def flush(self) -> None:
        """Write what was buffered as one JSON line."""
        text = "".join(self._pending)
        self._pending.clear()
        if text.strip():
            record = {
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "event": self._event,
                "lines": text.rstrip("\n").splitlines(),
            }
            self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._out.flush()


def user_stream(*, json_lines: bool, event: str, out: TextIO | None = None) -> TextIO:
    """The stream for text meant for the user: stdout, or JSON lines on stdout."""
    target = out if out is not None else sys.stdout
    return JsonLines(target, event) if json_lines else target  # type: ignore[return-value]
