"""Time intervals with Alertmanager's semantics, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.notify_support import Sink, dispatching, serve
from watcher.alerts import Alert
from watcher.clock import FakeClock
from watcher.config import parse_config
from watcher.errors import ConfigError
from watcher.timeinterval import parse_interval


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("entry", "instant", "inside"),
    [
        ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2024-03-04T09:00", True),
        ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, "2024-03-04T17:00", False),
        ({"times": [{"start_time": "17:00", "end_time": "24:00"}]}, "2024-03-04T23:59", True),
        ({"weekdays": ["monday:friday"]}, "2024-03-04T12:00", True),  # a Monday
        ({"weekdays": ["monday:friday"]}, "2024-03-03T12:00", False),  # a Sunday
        ({"weekdays": ["saturday", "sunday"]}, "2024-03-03T12:00", True),
        ({"days_of_month": ["-1"]}, "2024-02-29T12:00", True),  # leap year's last day
        ({"days_of_month": ["-3:-1"]}, "2024-02-26T12:00", False),
        ({"days_of_month": ["1:5"]}, "2024-02-05T23:59", True),
        ({"days_of_month": ["31"]}, "2024-04-30T12:00", False),  # April has no 31st
        ({"months": ["january:march"]}, "2024-03-31T23:00", True),
        ({"months": ["12"]}, "2024-11-30T23:00", False),
        ({"years": ["2023:2024"]}, "2024-12-31T23:59", True),
        (
            {"times": [{"start_time": "09:00", "end_time": "17:00"}], "location": "Asia/Tokyo"},
            "2024-03-04T00:30",  # 09:30 in Tokyo
            True,
        ),
        (
            {
                "weekdays": ["monday"],
                "times": [{"start_time": "00:00", "end_time": "01:00"}],
                "location": "Europe/Berlin",
            },
            "2024-03-03T23:30",  # Monday 00:30 in Berlin, Sunday in UTC
            True,
        ),
    ],
)
def test_interval_contains_as_alertmanager(
    entry: dict[str, object], instant: str, inside: bool
) -> None:
    """Each field matches as upstream: end time exclusive, ranges inclusive, negative days."""
    assert inside == parse_interval(entry).contains(ts(instant))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"times": [{"start_time": "17:00", "end_time": "09:00"}]},
            "start time cannot be equal or greater than end time",
        ),
        (
            {"times": [{"start_time": "9:00", "end_time": "17:00"}]},
            "couldn't parse timestamp 9:00, invalid format",
        ),
        ({"weekdays": ["funday"]}, "funday is not a valid weekday"),
        ({"days_of_month": ["0"]}, "0 is not a valid day of the month: out of range"),
        ({"location": "Mars/Olympus"}, "unknown time zone Mars/Olympus"),
    ],
)
def test_bad_intervals_are_refused(entry: dict[str, object], message: str) -> None:
    """Refused with Alertmanager's reason."""
    with pytest.raises(ValueError, match=message):
        parse_interval(entry)


CONFIG = """
time_intervals:
  - name: weekend
    time_intervals: [{weekdays: ['saturday', 'sunday']}]
mute_time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
    - {receiver: hook, matchers: [team=weekday], mute_time_intervals: [weekend, night]}
    - {receiver: hook, matchers: [team=weekend], active_time_intervals: [weekend]}
receivers:
  - name: hook
    webhook_configs: [{url: 'URL'}]
"""


async def test_routes_mute_outside_or_inside_their_intervals(tmp_path: Path) -> None:
    """mute_time_intervals holds a route's pages inside them, active_time_intervals outside."""
    async with serve(Sink()) as sink:
        config = parse_config(CONFIG.replace("URL", sink.url + "/h"), tmp_path / "w.yaml")
        clock = FakeClock(ts("2024-03-02T12:00"))  # a Saturday noon
        async with dispatching(config, tmp_path / "s.db", clock) as d:
            alerts = [
                Alert({"alertname": "A", "team": team}, {}, clock.time(), None, 1.0)
                for team in ("weekday", "weekend")
            ]
            sent: list[tuple[str, list[str]]] = []
            for instant in ("2024-03-02T12:00", "2024-03-04T03:00", "2024-03-04T12:00"):
                clock.advance(ts(instant) - clock.time())
                await d.send(alerts, clock.time())
                await d.tick()
                sent.append(
                    (
                        instant,
                        sorted(a["labels"]["team"] for b in sink.accepted for a in b["alerts"]),
                    )
                )
                sink.accepted.clear()
    assert [
        ("2024-03-02T12:00", ["weekend"]),  # Saturday: weekday route muted, weekend route active
        ("2024-03-04T03:00", []),  # Monday night: muted by "night"; weekend route inactive
        ("2024-03-04T12:00", ["weekday"]),  # Monday noon
    ] == sent


def test_undefined_or_root_intervals_are_config_errors(tmp_path: Path) -> None:
    """A route naming an unknown interval, or the root route muting, is refused."""
    text = (
        "route:\n  receiver: h\n  mute_time_intervals: [x]\n"
        "  routes:\n    - {receiver: h, active_time_intervals: [nope]}\n"
        "receivers: [{name: h}]\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "w.yaml")
    assert [
        f"{tmp_path / 'w.yaml'}:3 route.mute_time_intervals: the root route must not have any mute time intervals",
        f'{tmp_path / "w.yaml"}:5 route.routes[0].active_time_intervals: undefined time interval "nope" used in route',
    ] == err.value.problems


def test_every_problem_of_an_interval_is_reported_at_its_key(tmp_path: Path) -> None:
    """Each bad field or item is named at its own line and key path; typos get a suggestion."""
    text = (
        "time_intervals:\n"
        "  - name: office\n"
        "    time_intervals:\n"
        "      - times:\n"
        "          - {start_time: '9am', end_time: '17:00'}\n"
        "          - {start_time: '18:00', end_tme: '19:00'}\n"
        "          - {start_time: '20:00', end_time: '19:00'}\n"
        "        weekdays: [monday, mondy]\n"
        "        days_of_month: ['1:5', '0']\n"
        "        months: [janury]\n"
        "        years: ['2025:2024']\n"
        "        locaton: Europe/Berlin\n"
        "      - location: Mars/Olympus\n"
        "route: {receiver: h}\n"
        "receivers: [{name: h}]\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "w.yaml")
    at = f"{tmp_path / 'w.yaml'}:"
    entry = "time_intervals[0].time_intervals[0]"
    assert [
        f"{at}5 {entry}.times[0].start_time: couldn't parse timestamp 9am, invalid format",
        f"{at}6 {entry}.times[1].end_time: is required",
        f'{at}6 {entry}.times[1].end_tme: unknown key (did you mean "end_time"?)',
        f"{at}7 {entry}.times[2]: start time cannot be equal or greater than end time",
        f'{at}8 {entry}.weekdays[1]: mondy is not a valid weekday (did you mean "monday"?)',
        f"{at}9 {entry}.days_of_month[1]: 0 is not a valid day of the month: out of range",
        f'{at}10 {entry}.months[0]: janury is not a valid month (did you mean "january"?)',
        f"{at}11 {entry}.years[0]: end year must be greater than or equal to start year",
        f'{at}12 {entry}.locaton: unknown key (did you mean "location"?)',
        f"{at}13 time_intervals[0].time_intervals[1].location: unknown time zone Mars/Olympus",
    ] == err.value.problems


def test_parse_interval_names_every_problem() -> None:
    """An entry read on its own names each bad key, not only the first."""
    with pytest.raises(ValueError, match=r"^times\[0\]") as err:
        parse_interval({"weekdays": ["mondy"], "times": [{"start_time": "9am"}], "locaton": "x"})
    assert (
        "times[0].start_time: couldn't parse timestamp 9am, invalid format; "
        "times[0].end_time: is required; "
        'weekdays[0]: mondy is not a valid weekday (did you mean "monday"?); '
        'locaton: unknown key (did you mean "location"?)'
    ) == str(err.value)


def test_too_many_ranges_are_refused() -> None:
    """A field is bounded: more than 100 ranges is a mistake, refused at the field's key."""
    refused = []
    for entry in (
        {"times": [{"start_time": "00:00", "end_time": "01:00"}] * 101},
        {"weekdays": ["monday"] * 101},
    ):
        with pytest.raises(ValueError, match=r"at most 100 entries") as err:
            parse_interval(entry)
        refused.append(str(err.value))
    assert [
        "times: expected a list of at most 100 entries",
        "weekdays: expected a list of at most 100 entries",
    ] == refused
