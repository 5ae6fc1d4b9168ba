"""Parse argv, configure logging once, dispatch to ``watcher.commands``.

Exit codes: 0 ok, 1 invalid input or failed checks, 2 usage error. Bad input never shows a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from watcher import DEFAULT_PORT, __version__
from watcher.errors import ConfigError
from watcher.logs import FORMATS, LEVELS, configure_logging

_DESCRIPTION = """\
Watch CoinW Mega Coupons, CoinW affiliate volume and TradeBoss balances: export them as
Prometheus metrics, evaluate Prometheus alerting rules and notify on-call.

Try it without credentials:  watcher demo
Options --log-level and --log-format go before or after the command.
Exit codes: 0 ok, 1 invalid input or failed checks, 2 usage error."""


def _logging_options(*, defaults: bool) -> argparse.ArgumentParser:
    """--log-level and --log-format, accepted before and after the command.

    The command's copy has no defaults (SUPPRESS) so it only overrides a value given there.
    """
    p = argparse.ArgumentParser(add_help=False)
    level = "info" if defaults else argparse.SUPPRESS
    fmt = "auto" if defaults else argparse.SUPPRESS
    p.add_argument(
        "--log-level", choices=LEVELS, default=level, help="log threshold (default info)"
    )
    p.add_argument(
        "--log-format",
        choices=FORMATS,
        default=fmt,
        help="console or JSON lines on stderr; json also prints alerts as JSON lines "
        "(default auto: console on a terminal, JSON otherwise)",
    )
    return p


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    example: str,
    *,
    config: bool = False,
) -> argparse.ArgumentParser:
    """One (sub)command with its one-line summary, its description and an example; ``config``
    gives it the ``-c/--config FILE`` option."""
    command = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_logging_options(defaults=False)],
    )
    if config:
        command.add_argument("-c", "--config", required=True, metavar="FILE", help="config file")
    return command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="watcher",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_logging_options(defaults=True)],
    )
    p.add_argument("--version", action="version", version=f"watcher {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(
        sub,
        "run",
        "run the daemon",
        "Run the daemon: poll the sources, serve /metrics and the HTTP API, evaluate the rules,\n"
        "send notifications. SIGHUP or POST /-/reload re-reads the config; SIGTERM drains and\n"
        "exits 0.",
        "watcher run -c /etc/watcher/watcher.yaml",
        config=True,
    )
    run.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=None,
        metavar="FILE",
        help="exporter-toolkit web config (TLS, basic auth); overrides server.web_config_file",
    )

    demo = _command(
        sub,
        "demo",
        "run the daemon against the built-in simulator; no credentials needed",
        "Run the simulator of every upstream API and the daemon against it, with the bundled\n"
        "demo config and the shipped rules. The console tells what happens: sources polled,\n"
        "alerts pending and when they fire, notifications sent. Alerts print to stdout.",
        "watcher demo --listen 127.0.0.1:9747",
    )
    demo.add_argument(
        "--listen",
        # Loopback unless told otherwise; the container image sets WATCHER_DEMO_LISTEN=0.0.0.0:9746.
        default=os.environ.get("WATCHER_DEMO_LISTEN", f"127.0.0.1:{DEFAULT_PORT}"),
        metavar="HOST:PORT",
        help="where the daemon listens (default %(default)s, or $WATCHER_DEMO_LISTEN)",
    )
    demo.add_argument(
        "--state",
        default=None,
        metavar="DIR",
        help="keep the state database in DIR (default: a temporary folder, removed on exit)",
    )
    demo.add_argument(
        "--slack-url",
        default=os.environ.get("WATCHER_DEMO_SLACK_URL"),
        metavar="URL",
        help="also send the alerts to this Slack incoming webhook (default $WATCHER_DEMO_SLACK_URL)",
    )
    demo.add_argument("--quiet", action="store_true", help="no narration, only logs and alerts")

    check = _command(
        sub,
        "check",
        "validate the config and every rule file it names",
        "Validate the config and every rule file it names. Every problem is printed as\n"
        "file:line key.path: message; exit 0 when valid, 1 when not. A config without sources\n"
        "or without rules is valid but gets a warning (an error with --strict).",
        "watcher check -c watcher.yaml --strict",
        config=True,
    )
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")

    once = _command(
        sub,
        "once",
        "poll every source once, print the metrics and the alerts that would fire",
        "Poll every source once and print the metrics, then the pending and firing alerts.\n"
        "Nothing is sent unless --send; state stays in memory, so a running daemon's database\n"
        "is never touched. Exit 1 when a source failed.",
        "watcher once -c watcher.yaml --send",
        config=True,
    )
    once.add_argument(
        "--send", action="store_true", help="deliver the alerts through the receivers"
    )

    rules = _command(
        sub,
        "rules",
        "rule file tools",
        "Rule file tools; `watcher rules test --help` for the one there is.",
        "watcher rules test tests/rules/shipped_test.yaml",
    )
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    test = _command(
        rules_sub,
        "test",
        "run rule unit tests (promtool's test-file format)",
        "Run rule unit tests written in promtool's test-file format; report like promtool.",
        "watcher rules test tests/rules/shipped_test.yaml",
    )
    test.add_argument("files", nargs="+", metavar="FILE")

    sim = _command(
        sub,
        "simulate",
        "run only the simulator of the upstream APIs",
        "Serve only the simulator of the CoinW and TradeBoss APIs (real signing, real rate\n"
        "limits, a control API under /_sim/), for trying configs and for benchmarks.",
        "watcher simulate --listen 127.0.0.1:9800",
    )
    sim.add_argument(
        "--listen",
        default="127.0.0.1:9800",
        metavar="HOST:PORT",
        help="where to listen (default %(default)s)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watcher`` command; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
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
        return commands.check(args.config, strict=args.strict)
    if args.command == "run":
        return commands.run(
            args.config, args.web_config_file, json_console=args.log_format == "json"
        )
    if args.command == "demo":
        return commands.demo(
            args.listen,
            args.state,
            args.slack_url,
            quiet=args.quiet,
            json_console=args.log_format == "json",
        )
    if args.command == "once":
        return asyncio.run(commands.once(args.config, send=args.send))
    if args.command == "simulate":
        return commands.simulate(args.listen)
    return commands.rules_test(args.files)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
