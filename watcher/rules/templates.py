"""Alert label and annotation templates: a small, safe interpreter of Go text/template.

Prometheus expands ``{{ $labels.x }}``, ``{{ $value | humanize }}``, ``{{ printf "%.2f" $value }}``
with Go's text/template. We interpret the part of that language alert rules use, and nothing
reaches Python: a template sees only ``$labels``, ``$value``, ``$externalLabels``,
``$externalURL`` (and the same under ``.``), literals, ``if``/``else``, and the functions in
``FUNCTIONS``. There is no attribute access, no eval and no Jinja.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watcher.errors import RuleError
from watcher.rules.gofmt import format_value, go_percent_g, sprintf

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\\n]|\\.)*")
    |(?P<raw>`[^`]*`)
    |(?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))
    |(?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    |(?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>:=|=|\||\(|\)|,)
    )""",
    re.VERBOSE,
)
_VARIABLES = {"$", "$labels", "$externalLabels", "$externalURL", "$value"}
_ROOT_FIELDS = {
    "Labels": "$labels",
    "ExternalLabels": "$externalLabels",
    "ExternalURL": "$externalURL",
    "Value": "$value",
}


class TemplateExecError(Exception):
    """A template failed at expansion (rendered as Prometheus does, not raised to callers)."""


def _float(value: object) -> float:
    """Prometheus's convertToFloat: floats, ints and numeric strings."""
    if isinstance(value, bool):
        msg = "can't convert bool to float"
        raise TemplateExecError(msg)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text and "_" not in text:
            try:
                return float(text)
            except ValueError:
                pass
        msg = f'strconv.ParseFloat: parsing "{value}": invalid syntax'
        raise TemplateExecError(msg)
    msg = f"can't convert {type(value).__name__} to float"
    raise TemplateExecError(msg)


def humanize(value: object) -> str:
    """Prometheus ``humanize``: SI prefixes with 4 significant digits."""
    v = _float(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return go_percent_g(v, 4)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return go_percent_g(v, 4) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return go_percent_g(v, 4) + prefix


def humanize_duration(value: object) -> str:
    """Prometheus ``humanizeDuration``: ``1d 2h 3m 4s`` or ``1.5s`` or ``100ms``."""
    v = _float(value)
    if math.isnan(v) or math.isinf(v):
        return go_percent_g(v, 4)
    if v == 0:
        return go_percent_g(v, 4) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        d = int(v)
        seconds, minutes, hours, days = d % 60, (d // 60) % 60, (d // 3600) % 24, d // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_percent_g(v, 4)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{go_percent_g(v, 4)}{prefix}s"


def humanize_timestamp(value: object) -> str:
    """Prometheus ``humanizeTimestamp``: Go's time.String() in UTC, millisecond precision."""
    v = _float(value)
    if math.isnan(v) or math.isinf(v):
        return go_percent_g(v, 4)
    ms = int(v * 1000)
    try:
        t = datetime.fromtimestamp(ms // 1000, tz=UTC)
    except (OverflowError, ValueError, OSError) as exc:
        msg = f"timestamp out of range: {v}"
        raise TemplateExecError(msg) from exc
    frac = f".{ms % 1000:03d}".rstrip("0").rstrip(".")
    return t.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


def _compare(name: str, op: Callable[[Any, Any], bool]) -> Callable[..., object]:
    def cmp(a: object, *bs: object) -> bool:
        for b in bs:
            if isinstance(a, str) != isinstance(b, str):
                msg = f"error calling {name}: incompatible types for comparison"
                raise TemplateExecError(msg)
        if name == "eq":
            return any(a == b for b in bs)
        return op(a, bs[0]) if len(bs) == 1 else False

    return cmp


def _index(container: object, *keys: object) -> object:
    for key in keys:
        if not isinstance(container, Mapping):
            msg = "error calling index: can't index item"
            raise TemplateExecError(msg)
        container = container.get(str(key), "")
    return container


FUNCTIONS: dict[str, Callable[..., object]] = {
    "humanize": humanize,
    "humanizeDuration": humanize_duration,
    "humanizeTimestamp": humanize_timestamp,
    "printf": lambda fmt, *args: sprintf(str(fmt), list(args)),
    "eq": _compare("eq", lambda a, b: a == b),
    "ne": _compare("ne", lambda a, b: a != b),
    "lt": _compare("lt", lambda a, b: a < b),
    "le": _compare("le", lambda a, b: a <= b),
    "gt": _compare("gt", lambda a, b: a > b),
    "ge": _compare("ge", lambda a, b: a >= b),
    "not": lambda a: not _truth(a),
    "index": _index,
}


def _truth(value: object) -> bool:
    if isinstance(value, float | int | str | Mapping):
        return bool(value)
    return value is not None and value is not False


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_value(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(value.items())) + "]"
    if value is None:
        return "<no value>"
    return str(value)


# --- parse ---------------------------------------------------------------------------------

Arg = tuple[str, Any]  # ("lit", value) | ("var", (name, fields)) | ("pipe", Pipeline)
Command = list[Arg]
Pipeline = list[Command]


@dataclass
class _If:
    branches: list[tuple[Pipeline, list[_Node]]] = field(default_factory=list)
    otherwise: list[_Node] = field(default_factory=list)


_Node = str | Pipeline | _If


@dataclass(frozen=True)
class Template:
    """A parsed template; ``expand`` never raises, like Prometheus it renders errors inline."""

    text: str
    nodes: tuple[_Node, ...]

    def expand(
        self,
        labels: Mapping[str, str],
        value: float,
        external_labels: Mapping[str, str],
        external_url: str = "",
    ) -> str:
        """Render with the alert's data."""
        env: dict[str, object] = {
            "$labels": dict(labels),
            "$value": value,
            "$externalLabels": dict(external_labels),
            "$externalURL": external_url,
        }
        out: list[str] = []
        try:
            _run(list(self.nodes), env, out)
        except TemplateExecError as exc:
            return f"<error expanding template: {exc}>"
        return "".join(out)


def parse_template(text: str) -> Template:
    """Parse ``text``; raise RuleError with Go-like messages for syntax errors."""
    if "{{" not in text:
        return Template(text, (text,) if text else ())
    parts: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(text):
        lit = text[pos : m.start()]
        if m.group(1):
            lit = lit.rstrip()
        parts.append(("text", lit))
        parts.append(("action", m.group(2)))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    tail = text[pos:]
    if "{{" in tail:
        msg = "unclosed action"
        raise RuleError(msg)
    parts.append(("text", tail))
    stack: list[tuple[_If, list[_Node]]] = []
    top: list[_Node] = []
    current = top
    for kind, body in parts:
        if kind == "text":
            if body:
                current.append(body)
            continue
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                msg = "unclosed comment"
                raise RuleError(msg)
            continue
        word = stripped.split(None, 1)[0] if stripped else ""
        if word == "if":
            node = _If()
            body_list: list[_Node] = []
            node.branches.append((_pipeline(stripped[2:]), body_list))
            current.append(node)
            stack.append((node, current))
            current = body_list
        elif word == "else":
            if not stack:
                msg = "unexpected {{else}}"
                raise RuleError(msg)
            node = stack[-1][0]
            rest = stripped[4:].strip()
            if rest.startswith("if ") or rest == "if":
                body_list = []
                node.branches.append((_pipeline(rest[2:]), body_list))
                current = body_list
            elif rest:
                msg = f"unexpected {rest!r} in else"
                raise RuleError(msg)
            else:
                current = node.otherwise
        elif word == "end":
            if not stack:
                msg = "unexpected {{end}}"
                raise RuleError(msg)
            current = stack.pop()[1]
        elif word in ("range", "with", "define", "template", "block", "break", "continue"):
            msg = f'"{word}" is not supported in watcher templates'
            raise RuleError(msg)
        else:
            current.append(_pipeline(stripped))
    if stack:
        msg = "unexpected EOF: missing {{end}}"
        raise RuleError(msg)
    return Template(text, tuple(top))


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            msg = f"unexpected {text[pos:].strip()[:20]!r} in command"
            raise RuleError(msg)
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _pipeline(text: str) -> Pipeline:
    tokens = _tokens(text)
    pipe, rest = _parse_pipe(tokens, 0)
    if rest != len(tokens):
        msg = f"unexpected {tokens[rest][1]!r} in operand"
        raise RuleError(msg)
    return pipe


def _parse_pipe(tokens: list[tuple[str, str]], i: int) -> tuple[Pipeline, int]:
    pipe: Pipeline = []
    cmd: Command = []
    while i < len(tokens):
        kind, tok = tokens[i]
        if kind == "punct" and tok == ")":
            break
        i += 1
        if kind == "punct":
            if tok == "|":
                if not cmd:
                    msg = "missing value for command"
                    raise RuleError(msg)
                pipe.append(cmd)
                cmd = []
            elif tok == "(":
                inner, i = _parse_pipe(tokens, i)
                if i >= len(tokens) or tokens[i][1] != ")":
                    msg = "unclosed left paren"
                    raise RuleError(msg)
                i += 1
                cmd.append(("pipe", inner))
            else:
                msg = f"{tok} (variable declarations and assignments) is not supported"
                raise RuleError(msg)
        else:
            cmd.append(_operand(kind, tok, first=not cmd))
    if not cmd:
        msg = "missing value for command" if pipe else "empty command"
        raise RuleError(msg)
    pipe.append(cmd)
    for later in pipe[1:]:
        if later[0][0] != "func":
            msg = "non executable command in pipeline stage 2"
            raise RuleError(msg)
    return pipe, i


def _operand(kind: str, tok: str, *, first: bool) -> Arg:
    if kind == "str":
        return ("lit", _unquote(tok))
    if kind == "raw":
        return ("lit", tok[1:-1])
    if kind == "num":
        try:
            return ("lit", int(tok, 0))
        except ValueError:
            return ("lit", float(tok))
    if kind == "var":
        name, *rest = tok.split(".")
        if name not in _VARIABLES:
            msg = f'undefined variable "{name}"'
            raise RuleError(msg)
        return ("var", (name, tuple(rest)))
    if kind == "field":
        fields = tuple(f for f in tok.split(".") if f)
        return ("var", ("$", fields))
    if tok in ("true", "false"):
        return ("lit", tok == "true")
    if tok == "nil":
        msg = "nil is not a command"
        raise RuleError(msg)
    if tok not in FUNCTIONS:
        msg = f'function "{tok}" not defined'
        raise RuleError(msg)
    del first
    return ("func", tok)


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _unquote(tok: str) -> str:
    body, out, i = tok[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                msg = f"invalid syntax in string {tok}"
                raise RuleError(msg)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# --- execute -------------------------------------------------------------------------------


def _run(nodes: Sequence[_Node], env: Mapping[str, object], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _If):
            for cond, body in node.branches:
                if _truth(_exec_pipe(cond, env)):
                    _run(body, env, out)
                    break
            else:
                _run(node.otherwise, env, out)
        else:
            out.append(_render(_exec_pipe(node, env)))


def _exec_pipe(pipe: Pipeline, env: Mapping[str, object]) -> object:
    result: object = None
    for n, cmd in enumerate(pipe):
        args = cmd[1:] if cmd[0][0] == "func" else cmd
        values = [_arg(a, env) for a in args]
        if n > 0:
            values.append(result)
        if cmd[0][0] == "func":
            result = _call(cmd[0][1], values)
        elif len(values) != 1:
            msg = f"can't give argument to non-function {_render(values[0])}"
            raise TemplateExecError(msg)
        else:
            result = values[0]
    return result


def _call(name: str, values: list[object]) -> object:
    fn = FUNCTIONS[name]
    try:
        return fn(*values)
    except TemplateExecError as exc:
        msg = str(exc) if str(exc).startswith("error calling") else f"error calling {name}: {exc}"
        raise TemplateExecError(msg) from None
    except TypeError:
        msg = f"wrong number of args for {name}: got {len(values)}"
        raise TemplateExecError(msg) from None


def _arg(arg: Arg, env: Mapping[str, object]) -> object:
    kind, payload = arg
    if kind == "lit":
        return payload
    if kind == "pipe":
        return _exec_pipe(payload, env)
    if kind == "func":
        return _call(payload, [])
    name, fields = payload
    if name == "$":
        if not fields:
            return {k[1:]: v for k, v in env.items()}
        root = _ROOT_FIELDS.get(fields[0])
        if root is None:
            msg = f"can't evaluate field {fields[0]} in type template.tmplData"
            raise TemplateExecError(msg)
        name, fields = root, fields[1:]
    value = env[name]
    for f in fields:
        if not isinstance(value, Mapping):
            msg = f"can't evaluate field {f} in type {type(value).__name__}"
            raise TemplateExecError(msg)
        value = value.get(f, "")
    return value
