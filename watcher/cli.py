"""Command line: the only place that parses argv and configures logging.

Exit codes: 0 ok, 1 invalid input or failed checks, 2 usage error. Bad input never shows a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import structlog

from watcher import __version__
from watcher.errors import ConfigError
from watcher.logs import LEVELS, configure_logging

log = structlog.get_logger()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="watcher", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"watcher {__version__}")
    p.add_argument("--log-level", choices=LEVELS, default="info")
    p.add_argument("--log-format", choices=("auto", "console", "json"), default="auto")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("-c", "--config", required=True, help="config file")
    run.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=None,
        help="exporter-toolkit web config (TLS, basic auth); overrides server.web_config_file",
    )

    demo = sub.add_parser("demo", help="run the daemon against the built-in simulator")
    demo.add_argument(
        "--listen",
        # Loopback unless told otherwise; the container image sets WATCHER_DEMO_LISTEN=0.0.0.0:9746.
        default=os.environ.get("WATCHER_DEMO_LISTEN", "127.0.0.1:9746"),
        help="host:port of the daemon (default %(default)s, or $WATCHER_DEMO_LISTEN)",
    )
    demo.add_argument(
        "--state", default=None, help="folder for the state database (default: a temporary one)"
    )
    demo.add_argument(
        "--slack-url",
        default=os.environ.get("WATCHER_DEMO_SLACK_URL"),
        help="also send the demo's alerts to this Slack incoming webhook (default: $WATCHER_DEMO_SLACK_URL)",
    )

    check = sub.add_parser("check", help="validate the config and every rule file")
    check.add_argument("-c", "--config", required=True, help="config file")

    once = sub.add_parser("once", help="poll every source once, print metrics and alerts")
    once.add_argument("-c", "--config", required=True, help="config file")
    once.add_argument(
        "--send", action="store_true", help="deliver the alerts through the receivers"
    )

    rules = sub.add_parser("rules", help="rule file tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    test = rules_sub.add_parser("test", help="run rule unit tests (promtool's test-file format)")
    test.add_argument("files", nargs="+", metavar="FILE")

    sim = sub.add_parser("simulate", help="run only the simulator of the upstream APIs")
    sim.add_argument("--listen", default="127.0.0.1:9800", help="host:port (default %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watcher`` command."""
    args = _parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from watcher import commands

    if args.command == "check":
        return commands.check(args.config)
    if args.command == "run":
        return commands.run(args.config, args.web_config_file)
    if args.command == "demo":
        return commands.demo(args.listen, args.state, args.slack_url)
    if args.command == "once":
        return asyncio.run(commands.once(args.config, send=args.send))
    if args.command == "simulate":
        return commands.simulate(args.listen)
    if args.command == "rules":
        return commands.rules_test(args.files)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
