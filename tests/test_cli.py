"""The command line: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import Writer
from tests.e2e import ROOT, Simulator, free_port
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY


async def watcher(*args: str) -> tuple[int, str, str]:
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


def coupon_config(write: Writer, sim: Simulator, secret: str = DEMO_SECRET_KEY) -> str:
    return str(
        write(
            "w.yaml",
            f"""\
server: {{listen: "127.0.0.1:{free_port()}"}}
storage: {{path: {write.root}/state.db}}
sources:
  - {{name: sim, type: coinw_mega_coupon, base_url: "{sim.url}", api_key: {DEMO_API_KEY},
     secret_key: {secret}, statuses: [unused]}}
""",
        )
    )


async def test_check_valid_config_exits_0(write: Writer, sim: Simulator) -> None:
    """`watcher check` on a valid file says OK and exits 0."""
    code, out, _ = await watcher("check", "-c", coupon_config(write, sim))
    assert 0 == code
    assert "OK" in out


async def test_check_lists_every_problem_and_exits_1(write: Writer) -> None:
    """`watcher check` prints one line per problem, with file and line, and exits 1."""
    path = write(
        "w.yaml", "global:\n  evaluation_interval: soon\nsources:\n  - {name: a, type: kraken}\n"
    )
    code, out, err = await watcher("check", "-c", str(path))
    assert 1 == code
    lines = err.strip().splitlines()
    assert [f"{path}:2 global.evaluation_interval", f"{path}:4 sources[0].type"] == [
        line.split(":", 2)[0] + ":" + line.split(":", 2)[1] for line in lines
    ]
    assert "Traceback" not in err + out


async def test_missing_config_file_is_one_line(write: Writer) -> None:
    """A config file that does not exist is a one-line error, exit 1."""
    code, _, err = await watcher("check", "-c", str(write.root / "nope.yaml"))
    assert 1 == code
    assert [
        f"{write.root}/nope.yaml: cannot read config file: No such file or directory"
    ] == err.strip().splitlines()


async def test_usage_error_exits_2() -> None:
    """An unknown command is a usage error."""
    code, _, err = await watcher("frobnicate")
    assert 2 == code
    assert "invalid choice" in err


async def test_once_prints_metrics_and_exits_0(write: Writer, sim: Simulator) -> None:
    """`watcher once` polls each source once and prints the exposition."""
    code, out, _ = await watcher("once", "-c", coupon_config(write, sim))
    assert 0 == code
    assert (
        'coinw_mega_coupon_remaining_amount{coupon_id="800000001",source="sim",status="unused"} 50.0'
        in out
    )
    assert 'watcher_source_up{source="sim"} 1.0' in out


async def test_once_with_a_failing_source_exits_1_without_traceback(
    write: Writer, sim: Simulator
) -> None:
    """`watcher once` with a wrong secret shows the source down and exits 1."""
    code, out, err = await watcher("once", "-c", coupon_config(write, sim, secret="wrong"))
    assert 1 == code
    assert 'watcher_source_up{source="sim"} 0.0' in out
    assert 'watcher_source_errors_total{reason="auth",source="sim"} 1.0' in out
    assert "Traceback" not in err


async def test_listen_conflict_is_one_line(write: Writer, sim: Simulator) -> None:
    """A port already in use is reported in one line, exit 1."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = write(
        "w.yaml", f'server: {{listen: "127.0.0.1:{port}"}}\nstorage: {{path: {write.root}/s.db}}\n'
    )
    try:
        code, _, err = await watcher("run", "-c", str(path))
    finally:
        server.close()
    assert 1 == code
    assert "server.listen: cannot listen on 127.0.0.1:" in err
    assert "Traceback" not in err


async def test_once_sends_nothing_without_send_and_keeps_state_in_memory(
    write: Writer, sim: Simulator
) -> None:
    """`watcher once` prints the alert but posts nothing to the webhook, and writes no state file."""
    from aiohttp import web

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
        code, out, _ = await watcher("once", "-c", str(path))
        assert 0 == code
        assert "# ALERT firing Always {alertname=Always} value=1" in out
        assert [] == posts
        assert not (write.root / "state.db").exists()
        code, _, _ = await watcher("once", "-c", str(path), "--send")
        assert 0 == code
        assert ["/am/api/v2/alerts", "/hook"] == sorted(posts)
    finally:
        await runner.cleanup()
