"""The storage behind ``watcher rules test``: promtool's input series and what rules write.

Input series come from promtool's notation (``a+bxN``, ``_``, ``stale``, octal ``010``), and
are loaded the way promtool's lazy loader loads them; rule outputs (recording rules,
``ALERTS``, ``ALERTS_FOR_STATE``) are appended at each evaluation with stale markers, as
Prometheus's rule group appends them. Selectors look back 5 minutes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import promql_parser as pp

from watcher.errors import TestFileError
from watcher.matchers import Matcher
from watcher.rules.evaluate import Sample, SampleLike
from watcher.rules.pqlparse import go_parse_number as go_number
from watcher.rules.pqlparse import parse

LOOKBACK_MS = 5 * 60 * 1000
_STALE = object()
# promtool's series values (promql/parser generated_parser.y, series_item): a number, then
# optionally a signed step, then xN; numbers are read by the parser's number(), where an
# integer with a leading 0 is octal (010 is 8)
# (Inf and NaN are identifiers to the lexer when an x follows: "Infx2" is an error)
_NUM = r"(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_SEQ = re.compile(rf"^(?P<a>[-+]?{_NUM})(?:(?P<b>[-+]{_NUM}))?x(?P<n>\d+)$")
_VALUE = re.compile(rf"^[-+]?(?:{_NUM}|[iI][nN][fF]|[nN][aA][nN])$")


def parse_values(text: str) -> list[object]:
    """Expand promtool's value notation into floats, None (missing) and the stale marker."""
    out: list[object] = []
    for tok in str(text).split():
        if tok == "_":
            out.append(None)
        elif tok.startswith("_x") and tok[2:].isdigit():
            out.extend([None] * int(tok[2:]))
        elif tok == "stale":
            out.append(_STALE)
        elif (m := _SEQ.match(tok)) is not None:
            value = go_number(m.group("a"))
            out.append(value)
            if m.group("b") is None:  # axN repeats a as is (so -0 stays -0)
                out.extend([value] * int(m.group("n")))
                continue
            step = go_number(m.group("b"))
            for _ in range(int(m.group("n"))):
                value += step
                out.append(value)
        elif _VALUE.match(tok):
            out.append(go_number(tok))
        else:
            msg = f'invalid value "{tok}" in input series values'
            raise TestFileError(msg)
    return out


def parse_series(text: str) -> tuple[str | None, dict[str, str]]:
    """``name{a="b"}`` -> name and labels."""
    try:
        expr = parse(text)
    except ValueError as exc:
        msg = f'invalid series "{text}": {exc}'
        raise TestFileError(msg) from None
    if not isinstance(expr, pp.VectorSelector):
        msg = f'invalid series "{text}"'
        raise TestFileError(msg)
    labels: dict[str, str] = {}
    name = expr.name
    for m in expr.matchers.matchers:
        if m.op != pp.MatchOp.Equal:
            msg = f'invalid series "{text}": only = matchers describe a series'
            raise TestFileError(msg)
        if m.name == "__name__":
            name = m.value
        elif m.value:
            labels[m.name] = m.value
    return name, labels


@dataclass
class InputSeries:
    """One series of a test group: name, labels and (ms, float | stale marker) points."""

    name: str | None
    labels: dict[str, str]
    points: list[tuple[int, object]]  # ascending


_Key = tuple[str | None, tuple[tuple[str, str], ...]]


class History:
    """Samples over time with Prometheus's 5-minute lookback and staleness markers.

    Series are kept in creation order, the order Prometheus's head hands them to an
    aggregation (sum and avg round differently in another order): input series by the
    evaluation step that loads their first sample, a rule's output series at the step it
    is first written, after the inputs that step loaded.
    """

    def __init__(self, series: list[InputSeries], eval_ms: int = 0) -> None:
        self.series = series
        self.eval_ms = eval_ms
        self.at_ms = 0
        #: samples after this time are not loaded yet (promtool's lazy loader appends the
        #: input up to each evaluation step before evaluating the rules at it); None: all
        self.loaded_ms: int | None = None
        self._order = [(self._step(s.points[0][0]) if s.points else 0, 0) for s in series]
        self._by_key = {(s.name, tuple(sorted(s.labels.items()))): s for s in series}
        #: the series each rule (owner) wrote at its last evaluation
        self._written: dict[Hashable, set[_Key]] = {}

    def _step(self, ms: int) -> int:
        return -(-ms // self.eval_ms) if self.eval_ms > 0 else 0

    @classmethod
    def loaded(cls, series: list[InputSeries], eval_ms: int, max_ms: int) -> History:
        """The samples promtool's lazy loader holds after its last evaluation step.

        promtool appends samples step by step up to the last evaluation step at or before the
        largest eval_time, so later samples are never seen; a series is created at the first
        step that loads one of its samples; a series listed twice keeps its last values
        (cmd/promtool/unittest.go and promql/test.go, LazyLoader.appendTill).
        """
        last_ms = max_ms - max_ms % eval_ms if eval_ms > 0 else max_ms
        by_key: dict[_Key, InputSeries] = {}
        for s in series:
            key = (s.name, tuple(sorted(s.labels.items())))
            points = [p for p in s.points if p[0] <= last_ms]
            if key in by_key:
                by_key[key].points = points
            else:
                by_key[key] = InputSeries(s.name, s.labels, points)

        def created(s: InputSeries) -> int:
            return -(-s.points[0][0] // eval_ms) if eval_ms > 0 else 0

        alive = [s for s in by_key.values() if s.points]
        return cls(sorted(alive, key=created), eval_ms)

    def write(self, owner: Hashable, ms: int, samples: Sequence[SampleLike]) -> None:
        """Append a rule's result at ``ms``; stale markers for what it wrote last time only.

        A sample at a time its series already has is dropped (Prometheus refuses a duplicate
        timestamp), as is a stale marker there (another rule wrote the series).
        """
        keys: set[_Key] = set()
        for sample in samples:
            key: _Key = (sample.name, tuple(sorted(sample.labels.items())))
            keys.add(key)
            self._append(key, sample, ms, sample.value)
        for key in self._written.get(owner, set()) - keys:
            self._append(key, None, ms, _STALE)
        self._written[owner] = keys

    def _append(self, key: _Key, sample: SampleLike | None, ms: int, value: object) -> None:
        series = self._by_key.get(key)
        if series is None:
            if sample is None:
                return
            series = InputSeries(sample.name, dict(sample.labels), [])
            order = (self._step(ms), 1)
            at = bisect.bisect_right(self._order, order)
            self._order.insert(at, order)
            self.series.insert(at, series)
            self._by_key[key] = series
        times = [t for t, _ in series.points]
        at = bisect.bisect_left(times, ms)
        if at < len(times) and times[at] == ms:
            return
        series.points.insert(at, (ms, value))

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        """Latest sample of each matching series in [t-5m, t], unless it is a stale marker."""
        return self.select_at(name, matchers, self.at_ms)

    def _matching(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[InputSeries]:
        for s in self.series:
            if name is not None and s.name != name:
                continue
            if all(
                m.matches_value(
                    (s.name or "") if m.name == "__name__" else s.labels.get(m.name, "")
                )
                for m in matchers
            ):
                yield s

    def select_at(
        self, name: str | None, matchers: Sequence[Matcher], at_ms: int
    ) -> Iterable[SampleLike]:
        """Latest sample of each matching series in [at-5m, at], unless it is a stale marker."""
        out: list[SampleLike] = []
        for s in self._matching(name, matchers):
            latest: object = None
            limit = at_ms if self.loaded_ms is None else min(at_ms, self.loaded_ms)
            for ts, v in s.points:
                if ts > limit:
                    break
                if ts >= at_ms - LOOKBACK_MS:
                    latest = v
            if isinstance(latest, float):
                out.append(Sample(s.name, s.labels, latest))
        return out

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        """Each matching series' samples in [start_ms, end_ms] (Prometheus 2.x: both ends)."""
        if self.loaded_ms is not None:
            end_ms = min(end_ms, self.loaded_ms)
        for s in self._matching(name, matchers):
            points = [
                (ts, v) for ts, v in s.points if start_ms <= ts <= end_ms and isinstance(v, float)
            ]
            yield s.name, s.labels, points
