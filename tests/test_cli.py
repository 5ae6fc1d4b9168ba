"""The command line, run in-process through ``cli.main(argv)``: exit codes, one-line errors,
help, global flags on either side of the command. A few tests run the real entry point as a
subprocess (signals, ``python -m watcher``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from aiohttp import web

from tests.conftest import Writer
from tests.e2e import ROOT, Simulator, free_port, served_from, sim_coupons
from watcher import __version__
from watcher.cli import main
from watcher.simulator import DEMO_SECRET_KEY


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures logging for the process; put it back for the next test."""
    handlers = list(logging.root.handlers)
    level = logging.root.level
    yield
    structlog.reset_defaults()
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


class Run:
    """``main(argv)`` with stdout and stderr captured."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    async def in_thread(self, *argv: str) -> tuple[int, str, str]:
        """Run in a worker thread, so the test's loop keeps serving the simulator."""
        code = await asyncio.to_thread(main, list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


async def subprocess_watcher(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watcher",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def coupon_config(write: Writer, url: str, secret: str = DEMO_SECRET_KEY) -> str:
    write("rules/r.yaml", "groups:\n  - name: g\n    rules:\n      - {alert: A, expr: vector(1)}\n")
    return str(
        write(
            "w.yaml",
            f"""\
{served_from(write.root, free_port())}sources:
{sim_coupons(url, secret=secret, statuses="[unused]")}rule_files: [rules/*.yaml]
""",
        )
    )


# --- check ------------------------------------------------------------------------------------


def test_check_valid_config_exits_0(cli: Run, write: Writer) -> None:
    """`watcher check` on a valid file with sources and rules says OK, warns nothing, exits 0."""
    path = coupon_config(write, "http://127.0.0.1:1")
    assert (0, f"{path}: OK (1 sources, 1 rule files)\n", "") == cli("check", "-c", path)


def test_check_lists_every_problem_and_exits_1(cli: Run, write: Writer) -> None:
    """`watcher check` prints one line per problem, with file and line, and exits 1."""
    path = write(
        "w.yaml", "global:\n  evaluation_interval: soon\nsources:\n  - {name: a, type: kraken}\n"
    )
    code, out, err = cli("check", "-c", str(path))
    assert 1 == code
    assert [f"{path}:2 global.evaluation_interval", f"{path}:4 sources[0].type"] == [
        line.split(":", 2)[0] + ":" + line.split(":", 2)[1] for line in err.strip().splitlines()
    ]
    assert "Traceback" not in err + out


def test_check_warns_about_an_empty_config_and_fails_with_strict(cli: Run, write: Writer) -> None:
    """An empty config is valid but polls and alerts on nothing: two warnings with a line each;
    exit 0, or 1 with --strict."""
    path = write("w.yaml", "# nothing yet\n")
    warnings = [
        f"warning: {path}:1 sources: none, so nothing is polled",
        f"warning: {path}:1 rule_files: no alerting rules, so nothing can ever alert",
    ]
    code, out, err = cli("check", "-c", str(path))
    assert (0, warnings) == (code, err.strip().splitlines())
    assert f"{path}: OK (0 sources, 0 rule files)\n" == out
    code, out, err = cli("check", "--strict", "-c", str(path))
    assert 1 == code
    assert [*warnings, f"{path}: 2 warning(s), an error with --strict"] == err.splitlines()
    assert "" == out


def test_check_gives_the_line_of_a_rule_glob_that_matches_nothing(cli: Run, write: Writer) -> None:
    """`rule_files: [x/*.yaml]` that matches no file is a problem at that item's line."""
    path = write("w.yaml", "sources: []\nrule_files:\n  - rules/*.yaml\n  - nope/*.yaml\n")
    write("rules/r.yaml", "groups:\n  - name: g\n    rules:\n      - {alert: A, expr: vector(1)}\n")
    code, _, err = cli("check", "-c", str(path))
    assert 1 == code
    assert f"{path}:4 rule_files[1]: 'nope/*.yaml' matches no file" in err.splitlines()


def test_missing_config_file_is_one_line(cli: Run, write: Writer) -> None:
    """A config file that does not exist is a one-line error, exit 1."""
    code, _, err = cli("check", "-c", str(write.root / "nope.yaml"))
    assert 1 == code
    assert [
        f"{write.root}/nope.yaml: cannot read config file: No such file or directory"
    ] == err.strip().splitlines()


# --- argv: usage, help, version, global flags --------------------------------------------------


def test_usage_error_exits_2(cli: Run) -> None:
    """An unknown command is a usage error."""
    code, _, err = cli("frobnicate")
    assert 2 == code
    assert "invalid choice" in err


def test_version(cli: Run) -> None:
    """`watcher --version` prints the version and exits 0."""
    assert (0, f"watcher {__version__}\n", "") == cli("--version")


def test_help_is_for_users_with_an_example_per_command(cli: Run) -> None:
    """`watcher --help` explains the program (no internal docstring); each command's help ends
    with an example of that command."""
    code, out, _ = cli("--help")
    assert 0 == code
    assert "Try it without credentials:  watcher demo" in out
    assert "argv" not in out
    for command in ("run", "demo", "check", "once", "simulate", "rules"):
        code, out, _ = cli(command, "--help")
        assert 0 == code
        assert f"example:\n  watcher {command}" in out
    code, out, _ = cli("rules", "test", "--help")
    assert "example:\n  watcher rules test tests/rules/shipped_test.yaml" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "debug", "--log-format", "json", "check", "-c", "{path}"],
        ["check", "-c", "{path}", "--log-level", "debug", "--log-format", "json"],
        ["--log-level", "error", "check", "--log-level", "debug", "-c", "{path}"],
    ],
)
def test_global_flags_work_before_or_after_the_command(
    cli: Run, write: Writer, argv: list[str]
) -> None:
    """--log-level and --log-format are accepted on either side of the command (after wins)."""
    path = write("w.yaml", "sources: []\n")
    code, _, _ = cli(*(a.replace("{path}", str(path)) for a in argv))
    assert 0 == code
    structlog.get_logger().debug("probe.debug", where="after main")
    _, err = cli.capsys.readouterr()
    record = json.loads(err)  # JSON: --log-format json, or auto with stderr not a terminal
    assert "probe.debug" == record["event"]


# --- once -------------------------------------------------------------------------------------


async def test_once_prints_metrics_and_exits_0(cli: Run, write: Writer, sim: Simulator) -> None:
    """`watcher once` polls each source once and prints the exposition and the alert."""
    code, out, _ = await cli.in_thread("once", "-c", coupon_config(write, sim.url))
    assert 0 == code
    assert (
        'coinw_mega_coupon_remaining_amount{coupon_id="800000001",source="sim",status="unused"} 50.0'
        in out
    )
    assert 'watcher_source_up{source="sim"} 1.0' in out
    assert "# ALERT firing A {alertname=A} value=1" in out


async def test_once_with_a_failing_source_exits_1_without_traceback(
    cli: Run, write: Writer, sim: Simulator
) -> None:
    """`watcher once` with a wrong secret shows the source down and exits 1."""
    code, out, err = await cli.in_thread(
        "once", "-c", coupon_config(write, sim.url, secret="wrong")
    )
    assert 1 == code
    assert 'watcher_source_up{source="sim"} 0.0' in out
    assert 'watcher_source_errors_total{reason="auth",source="sim"} 1.0' in out
    assert "Traceback" not in err


async def test_once_sends_nothing_without_send_and_keeps_state_in_memory(
    cli: Run, write: Writer
) -> None:
    """`watcher once` prints the alert but posts nothing to the webhook, and writes no state file."""
    posts: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        posts.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    write(
        "rules/r.yaml",
        "groups:\n  - name: g\n    rules:\n      - {alert: Always, expr: vector(1)}\n",
    )
    path = write(
        "w.yaml",
        f"""\
storage: {{path: {write.root}/state.db}}
rule_files: [rules/*.yaml]
route: {{receiver: r, group_wait: 0s}}
receivers:
  - name: r
    webhook_configs: [{{url: "{url}/hook"}}]
    alertmanager_configs: [{{url: "{url}/am"}}]
""",
    )
    try:
        code, out, _ = await cli.in_thread("once", "-c", str(path))
        assert 0 == code
        assert "# ALERT firing Always {alertname=Always} value=1" in out
        assert [] == posts
        assert not await asyncio.to_thread((write.root / "state.db").exists)
        code, _, _ = await cli.in_thread("once", "-c", str(path), "--send")
        assert 0 == code
        assert ["/am/api/v2/alerts", "/hook"] == sorted(posts)
    finally:
        await runner.cleanup()


# --- run, demo, simulate: served until a signal ------------------------------------------------


def serve_then_terminate(cli: Run, argv: list[str], url: str) -> tuple[int, str, str]:
    """Run ``argv`` in this (the main) thread; once ``url`` answers, SIGTERM ourselves."""
    answered: list[int] = []

    def poke() -> None:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - http://127.0.0.1
                    answered.append(resp.status)
                    break
            except OSError:
                threading.Event().wait(0.1)
        # The loop's handler is installed before the listener answers: SIGTERM ends run_app.
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=poke)
    thread.start()
    try:
        result = cli(*argv)
    finally:
        thread.join()
    assert [200] == answered
    return result


def test_run_serves_until_sigterm_and_exits_0(cli: Run, write: Writer) -> None:
    """`watcher run` answers /-/healthy, and SIGTERM stops it with exit 0."""
    port = free_port()
    path = write(
        "w.yaml", f'server: {{listen: "127.0.0.1:{port}"}}\nstorage: {{path: {write.root}/s.db}}\n'
    )
    code, _, err = serve_then_terminate(
        cli, ["run", "-c", str(path)], f"http://127.0.0.1:{port}/-/healthy"
    )
    assert 0 == code
    assert "watcher.stopped" in err


def test_demo_in_json_prints_json_lines_on_stdout_and_removes_its_state(cli: Run) -> None:
    """With --log-format json every stdout line is JSON (the narration), stderr too (logs);
    the temporary state folder is gone after exit."""
    port = free_port()
    code, out, err = serve_then_terminate(
        cli,
        ["demo", "--listen", f"127.0.0.1:{port}", "--log-format", "json"],
        f"http://127.0.0.1:{port}/-/healthy",
    )
    assert 0 == code
    said = [json.loads(line) for line in out.splitlines()]
    assert {"demo"} == {record["event"] for record in said}
    first = said[0]["lines"][0]
    assert "simulator of the CoinW and TradeBoss APIs at http://127.0.0.1:" in first
    state = Path(first.split("state in ")[1].split(" ")[0])
    assert not state.exists()
    assert all(json.loads(line)["event"] for line in err.splitlines())


def test_simulate_serves_the_control_api(cli: Run) -> None:
    """`watcher simulate` serves the simulator (its control API answers) until SIGTERM."""
    port = free_port()
    code, out, _ = serve_then_terminate(
        cli, ["simulate", "--listen", f"127.0.0.1:{port}"], f"http://127.0.0.1:{port}/_sim/requests"
    )
    assert 0 == code
    assert f"watcher simulate: serving on http://127.0.0.1:{port}" in out


def test_listen_conflict_is_one_line(cli: Run, write: Writer) -> None:
    """A port already in use is reported in one line before anything starts, exit 1."""
    with socket_on_a_port() as port:
        path = write(
            "w.yaml",
            f'server: {{listen: "127.0.0.1:{port}"}}\nstorage: {{path: {write.root}/s.db}}\n',
        )
        code, out, err = cli("run", "-c", str(path))
        assert (1, "") == (code, out)
        assert [
            f"{path}: server.listen: cannot listen on 127.0.0.1:{port}: Address already in use"
        ] == err.splitlines()
        code, out, err = cli("demo", "--listen", f"127.0.0.1:{port}")
        assert (1, "") == (code, out)
        assert [
            f"--listen: cannot listen on 127.0.0.1:{port}: Address already in use; try another "
            f"port, e.g. watcher demo --listen 127.0.0.1:{port + 1}"
        ] == err.splitlines()


def test_bad_listen_argument_is_one_line(cli: Run) -> None:
    """`--listen` that is not host:port is a one-line error, exit 1."""
    assert (
        1,
        "",
        "--listen: expected host:port like 127.0.0.1:9800, got 'nine'\n",
    ) == cli("simulate", "--listen", "nine")


class socket_on_a_port:  # noqa: N801 - used as a context manager, reads like one
    """A listening socket on 127.0.0.1; the context value is its port."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()


# --- the real entry point -----------------------------------------------------------------------


async def test_python_m_watcher_exit_code_and_sigterm(write: Writer) -> None:
    """`python -m watcher` exits with main's code: 2 on a usage error; `run` exits 0 on SIGTERM."""
    code, _, err = await subprocess_watcher("frobnicate")
    assert 2 == code
    assert "invalid choice" in err
    port = free_port()
    path = write(
        "w.yaml", f'server: {{listen: "127.0.0.1:{port}"}}\nstorage: {{path: {write.root}/s.db}}\n'
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watcher",
        "run",
        "-c",
        str(path),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stderr is not None
    line = b""
    while b"watcher.started" not in line:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert line, "the daemon exited before it started"
    proc.send_signal(signal.SIGTERM)
    assert 0 == await asyncio.wait_for(proc.wait(), 20)
