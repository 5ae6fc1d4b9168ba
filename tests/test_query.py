"""/api/v1/query answers as Prometheus's HTTP API does, over the rules' series and history."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from watcher.history import SampleHistory
from watcher.query import format_value, query_handler
from watcher.series import Series
from watcher.store import SeriesStore

NOW = 600.0


def _app() -> web.Application:
    history = SampleHistory(retention_ms=30 * 60_000)
    store = SeriesStore()
    store.subscribe(history.record)
    for minute in range(11):
        store.put("s", "g", [Series("errors_total", {"source": "s"}, 60.0 * minute)], minute * 60.0)
    app = web.Application()
    handler = query_handler(lambda: store.snapshot(NOW), lambda: history)
    app.router.add_get("/api/v1/query", handler)
    app.router.add_post("/api/v1/query", handler)
    return app


async def test_instant_vector_and_scalar() -> None:
    """A vector result lists metric and [time, "value"]; a scalar is [time, "value"]."""
    async with TestClient(TestServer(_app())) as client:
        vec = await (
            await client.get("/api/v1/query", params={"query": "rate(errors_total[5m])"})
        ).json()
        scalar = await (await client.post("/api/v1/query", data={"query": "1 / 0"})).json()
    assert {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"source": "s"}, "value": [NOW, "1"]}],
        },
    } == vec
    assert {
        "status": "success",
        "data": {"resultType": "scalar", "result": [NOW, "+Inf"]},
    } == scalar


async def test_a_past_time_reads_the_history() -> None:
    """time=120 answers with the sample polled at 120 s, the metric name kept."""
    async with TestClient(TestServer(_app())) as client:
        body = await (
            await client.get("/api/v1/query", params={"query": "errors_total", "time": "120"})
        ).json()
    assert [
        {"metric": {"__name__": "errors_total", "source": "s"}, "value": [120.0, "120"]}
    ] == body["data"]["result"]


async def test_errors_have_prometheus_error_types() -> None:
    """A bad query is 400 bad_data, a failing evaluation 422 execution."""
    async with TestClient(TestServer(_app())) as client:
        bad = await client.get("/api/v1/query", params={"query": "sum("})
        bad_time = await client.get("/api/v1/query", params={"query": "1", "time": "soon"})
        failed = await client.get(
            "/api/v1/query", params={"query": "holt_winters(errors_total[5m], 2, 0.5)"}
        )
        bodies = [await r.json() for r in (bad, bad_time, failed)]
    assert [400, 400, 422] == [bad.status, bad_time.status, failed.status]
    assert ["bad_data", "bad_data", "execution"] == [b["errorType"] for b in bodies]
    assert (
        'invalid parameter "time": cannot parse "soon" to a valid timestamp' == bodies[1]["error"]
    )


async def test_a_clients_now_reads_the_current_series() -> None:
    """promtool sends its own now as time: a moment after the snapshot is still the present."""
    async with TestClient(TestServer(_app())) as client:
        body = await (
            await client.get("/api/v1/query", params={"query": "errors_total", "time": "600.2"})
        ).json()
    assert [
        {"metric": {"__name__": "errors_total", "source": "s"}, "value": [600.2, "600"]}
    ] == body["data"]["result"]


def test_values_are_formatted_like_go() -> None:
    """strconv.FormatFloat(v, 'f', -1, 64): no exponent, shortest digits."""
    assert ["1000000000000000000000", "0.1", "100", "-0", "NaN", "0.00000015"] == [
        format_value(v) for v in (1e21, 0.1, 100.0, -0.0, float("nan"), 1.5e-7)
    ]
