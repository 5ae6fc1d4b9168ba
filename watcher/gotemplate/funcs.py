"""Template functions: Go's builtins, Prometheus's rule-template set, Alertmanager's set.

Each set is what its upstream registers (``text/template`` builtins; Prometheus
``template/template.go``; Alertmanager ``template.DefaultFuncs``), minus ``query`` and ``tmpl``:
a template reads the data it is given and nothing else.
"""

from __future__ import annotations

import html
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

from watcher.gotemplate.fmt import sprint, sprintf, sprintln
from watcher.gotemplate.htmlescape import SafeHTML
from watcher.gotemplate.strconv import quote
from watcher.gotemplate.typecheck import MISSING, is_true
from watcher.gotemplate.values import GoFunc, GoMap, Time, go_type, string_slice
from watcher.regex import compile_re2, re2_reason

_INT64 = 2**63


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(a: object, *bs: object) -> bool:
    if not bs:
        msg = "missing argument for comparison"
        raise ValueError(msg)
    for b in bs:
        ka, kb = _kind(a), _kind(b)
        if ka != kb:
            if a is not None and b is not None:
                msg = "incompatible types for comparison"
                raise ValueError(msg)
            continue
        if a == b:
            return True
    return False


def _lt(a: object, b: object) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("bool", "other") or kb in ("bool", "other"):
        msg = "invalid type for comparison"
        raise ValueError(msg)
    if ka != kb:
        msg = "incompatible types for comparison"
        raise ValueError(msg)
    return bool(a < b)  # type: ignore[operator]


def _le(a: object, b: object) -> bool:
    return _lt(a, b) or _eq(a, b)


# Go defines gt as !le and ge as !lt, so gt/ge of NaN are true.
_ORDERED = {
    "lt": _lt,
    "le": _le,
    "gt": lambda a, b: not _le(a, b),
    "ge": lambda a, b: not _lt(a, b),
}


def _len(item: object) -> int:
    if item is None or item is MISSING:
        msg = "len of untyped nil"
        raise ValueError(msg)
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, Mapping | Sequence):
        return len(item)
    msg = f"len of type {go_type(item)}"
    raise ValueError(msg)


def _index(item: object, *keys: object) -> object:
    if item is None:
        msg = "index of untyped nil"
        raise ValueError(msg)
    for key in keys:
        if isinstance(item, Mapping):
            if not isinstance(key, str):
                msg = f"value has type {go_type(key)}; should be string"
                raise ValueError(msg)
            item = item.get(key, item.zero if isinstance(item, GoMap) else "")
        elif isinstance(item, Sequence) and not isinstance(item, str):
            if not isinstance(key, int) or isinstance(key, bool):
                msg = f"cannot index slice/array with type {go_type(key)}"
                raise ValueError(msg)
            if not 0 <= key < len(item):
                msg = f"index out of range: {key}"
                raise ValueError(msg)
            item = item[key]
        else:
            msg = f"can't index item of type {go_type(item)}"
            raise ValueError(msg)
    return item


def _urlquery(*args: object) -> str:
    text = args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(list(args))
    return urllib.parse.quote_plus(text, safe="-_.~")


def _html(*args: object) -> str:
    text = args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(list(args))
    return html.escape(text).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")


BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc("and", lambda *a: a[-1], ("any",), "any", lazy=True),
    "or": GoFunc("or", lambda *a: a[-1], ("any",), "any", lazy=True),
    "not": GoFunc("not", lambda a: not is_true(a), ("any",)),
    "len": GoFunc("len", _len, ("any",)),
    "index": GoFunc("index", _index, ("any",), "any"),
    "print": GoFunc("print", lambda *a: sprint(a), (), "any"),
    "printf": GoFunc("printf", lambda f, *a: sprintf(f, a), ("string",), "any"),
    "println": GoFunc("println", lambda *a: sprintln(a), (), "any"),
    "urlquery": GoFunc("urlquery", _urlquery, (), "any"),
    "html": GoFunc("html", _html, (), "any"),
    "eq": GoFunc("eq", _eq, ("any",), "any"),
    "ne": GoFunc("ne", lambda a, b: not _eq(a, b), ("any", "any")),
    **{name: GoFunc(name, fn, ("any", "any")) for name, fn in _ORDERED.items()},
}


# -- regular expressions (Go's regexp is RE2) ---------------------------------------------


def _compile(pattern: str) -> re2._Regexp:
    try:
        return compile_re2(pattern)
    except re2.error as exc:
        msg = f"error parsing regexp: {re2_reason(exc, 'invalid')}: `{pattern}`"
        raise ValueError(msg) from None


_GO_REPL = re.compile(r"\$(?:\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+)|(\$))")


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    """``regexp.ReplaceAllString``: ``$1``, ``${name}`` and ``$$`` in ``repl``."""
    rx = _compile(pattern)

    def expand(m: re2._Match) -> str:
        def group(g: re.Match[str]) -> str:
            if g.group(3):
                return "$"
            name = g.group(1) if g.group(1) is not None else g.group(2)
            try:
                value = m.group(int(name)) if name.isdigit() else m.group(name)
            except (IndexError, KeyError, re2.error):
                return ""
            return value or ""

        return _GO_REPL.sub(group, repl)

    return str(rx.sub(expand, text))


def _match(pattern: str, text: str) -> bool:
    return _compile(pattern).search(text) is not None


# -- Prometheus -----------------------------------------------------------------------------


def to_float(value: object) -> float:
    """Prometheus's ``convertToFloat``: float64, ints, and strings via ``strconv.ParseFloat``."""
    if isinstance(value, bool):
        msg = "can't convert bool to float"
        raise ValueError(msg)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value
        ok = bool(text) and text == text.strip() and "_" not in text
        if ok:
            try:
                return float(text)
            except ValueError:
                pass
        msg = f"strconv.ParseFloat: parsing {_q(value)}: invalid syntax"
        raise ValueError(msg)
    msg = f"can't convert {go_type(value)} to float"
    raise ValueError(msg)


def _q(text: str) -> str:
    return quote(text)


def _g4(v: float) -> str:
    return sprintf("%.4g", [v])


def _scale(v: float, up: bool) -> tuple[float, str]:
    prefix = ""
    if up:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
    else:
        for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(v) >= 1:
                break
            prefix, v = p, v * 1000
    return v, prefix


def humanize(value: object) -> str:
    """``humanize``: SI prefixes, 4 significant digits."""
    v = to_float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    v, prefix = _scale(v, abs(v) >= 1)
    return _g4(v) + prefix


def humanize_1024(value: object) -> str:
    """``humanize1024``: binary prefixes."""
    v = to_float(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return _g4(v) + prefix


def _int64(v: float) -> int:
    """Go's ``int64(v)`` on amd64: out of range gives the minimum int64."""
    return int(v) if -_INT64 <= v < _INT64 else -_INT64


def _div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _mod(a: int, b: int) -> int:
    return a - b * _div(a, b)


def humanize_duration(value: object) -> str:
    """``humanizeDuration``: ``1d 2h 3m 4s``, ``1.5s``, ``100ms``."""
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign, v = "-", -v
        whole = _int64(v)
        seconds, minutes = _mod(whole, 60), _mod(_div(whole, 60), 60)
        hours, days = _mod(_div(whole, 3600), 24), _div(whole, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    v, prefix = _scale(v, up=False)
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(value: object) -> str:
    """``humanizePercentage``: ``0.1234`` is ``12.34%``."""
    return sprintf("%.4g%%", [to_float(value) * 100])


def humanize_timestamp(value: object) -> str:
    """``humanizeTimestamp``: ``time.Time.String()`` in UTC, milliseconds truncated."""
    v = to_float(value)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    nanos = v * 1e9
    if nanos > _INT64 or nanos < -_INT64:
        formatted = sprint([v])
        msg = (
            f"{formatted} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
        raise ValueError(msg)
    millis = _div(_int64(nanos), 1_000_000)
    return Time(None, nanos=millis * 1_000_000).go_string()


def _args(*values: object) -> GoMap:
    return GoMap({f"arg{i}": v for i, v in enumerate(values)})


def _go_title(text: str) -> str:
    """``strings.Title``: upper-case the first letter of each word, leave the rest."""
    out, prev = [], " "
    for ch in text:
        out.append(ch.upper() if not (prev.isalnum() or prev in {"_", "'"}) else ch)
        prev = ch
    return "".join(out)


def _cases_title(text: str) -> str:
    """``cases.Title(language.AmericanEnglish)``: first letter upper, the rest lower."""
    out, prev = [], " "
    for ch in text:
        word = prev.isalnum() or prev in "'_"
        out.append(ch.lower() if word else ch.upper())
        prev = ch
    return "".join(out)


_COMMON = {
    "toUpper": GoFunc("toUpper", str.upper, ("string",)),
    "toLower": GoFunc("toLower", str.lower, ("string",)),
    "match": GoFunc("match", _match, ("string", "string")),
    "reReplaceAll": GoFunc("reReplaceAll", _re_replace_all, ("string", "string", "string")),
    "safeHtml": GoFunc("safeHtml", SafeHTML, ("string",)),
}

PROMETHEUS: dict[str, GoFunc] = {
    **BUILTINS,
    **_COMMON,
    "title": GoFunc("title", _go_title, ("string",)),
    "humanize": GoFunc("humanize", humanize, ("any",)),
    "humanize1024": GoFunc("humanize1024", humanize_1024, ("any",)),
    "humanizeDuration": GoFunc("humanizeDuration", humanize_duration, ("any",)),
    "humanizePercentage": GoFunc("humanizePercentage", humanize_percentage, ("any",)),
    "humanizeTimestamp": GoFunc("humanizeTimestamp", humanize_timestamp, ("any",)),
    "args": GoFunc("args", _args, (), "any"),
}


def _tz(name: str, t: Time) -> Time:
    try:
        zone = ZoneInfo(name) if name not in ("", "UTC") else None
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name}"
        raise ValueError(msg) from None
    return Time(None, nanos=t.nanos, zone=zone)


ALERTMANAGER: dict[str, GoFunc] = {
    **BUILTINS,
    **_COMMON,
    "title": GoFunc("title", _cases_title, ("string",)),
    "join": GoFunc("join", lambda sep, items: sep.join(items or ()), ("string", "[]string")),
    "stringSlice": GoFunc("stringSlice", lambda *s: string_slice(s), (), "string"),
    "date": GoFunc(
        "date", lambda layout, t: t.go_method("Format").fn(layout), ("string", "time.Time")
    ),
    "tz": GoFunc("tz", _tz, ("string", "time.Time")),
}
