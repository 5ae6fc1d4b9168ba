"""Go's fmt for template values: ``Sprint``, ``Sprintln``, ``Sprintf`` and ``%v``.

What a template prints is what Go would print (https://pkg.go.dev/fmt): floats in shortest
form with Go's exponent rules, ``+Inf``/``-Inf``/``NaN``, ``map[k:v]``, ``[a b]``, ``{a b}``,
and Go's ``%!verb(type=value)`` markers for a wrong argument.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from watcher.gotemplate.strconv import format_float, quote
from watcher.gotemplate.values import GoStruct, go_type

_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.)", re.DOTALL)
MAX_WIDTH = 10_000  # a bounded template: "%1000000000d" must not build a gigabyte


def _float_verb(value: float, verb: str, prec: int | None) -> str:
    """``strconv.AppendFloat`` for verbs e E f F g G x X, sign always present for ±Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if verb in "xX":
        return _hex_float(value, prec, verb)
    if verb in "gG" and prec is None:
        return format_float(value, verb)
    return f"%.{6 if prec is None else prec}{verb}" % value


def _hex_float(value: float, prec: int | None, verb: str) -> str:
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    value = abs(value)
    if value == 0:
        mant, exp = "0", 0
    else:
        m, e = math.frexp(value)  # value = m * 2**e, 0.5 <= m < 1
        bits = int(m * (1 << 53))  # 53 significant bits, leading 1 at bit 52
        exp = e - 1
        frac = bits - (1 << 52)
        text = f"{frac:013x}".rstrip("0") if prec is None else f"{frac:013x}"[: prec or 0]
        mant = "1" + ("." + text if text else "")
    out = f"{sign}0x{mant}p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return out.upper().replace("0X", "0X") if verb == "X" else out


def value_string(value: object, plus: bool = False) -> str:
    """Go's ``%v`` (``%+v`` with ``plus``) of a template value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value, "g")
    if isinstance(value, str):
        return value
    if isinstance(value, GoStruct):
        stringer = value.go_string()
        if stringer is not None:
            return stringer
        fields = value.go_fields()
        if plus:
            return "{" + " ".join(f"{k}:{value_string(v, plus)}" for k, v in fields) + "}"
        return "{" + " ".join(value_string(v, plus) for _, v in fields) + "}"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{k}:{value_string(v, plus)}" for k, v in items) + "]"
    if isinstance(value, Sequence):
        return "[" + " ".join(value_string(v, plus) for v in value) + "]"
    return str(value)


def sprint(args: Sequence[object]) -> str:
    """``fmt.Sprint``: a space between operands when neither side is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(value_string(arg))
    return "".join(out)


def sprintln(args: Sequence[object]) -> str:
    """``fmt.Sprintln``: operands separated by spaces, then a newline."""
    return " ".join(value_string(a) for a in args) + "\n"


def _bad(verb: str, arg: object) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={value_string(arg)})"


def _pad(text: str, flags: str, width: int | None, numeric: bool) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text + " " * (width - len(text))
    if "0" in flags and numeric and text[:1] in "+- " and text[1:2].isdigit():
        return text[0] + "0" * (width - len(text)) + text[1:]
    if "0" in flags and (not numeric or text[:1].isdigit()):
        return "0" * (width - len(text)) + text
    return " " * (width - len(text)) + text


def _signed(text: str, flags: str) -> str:
    if text.startswith("-"):
        return text
    if "+" in flags:
        return "+" + text
    if " " in flags:
        return " " + text
    return text


def _one(flags: str, width: int | None, prec: int | None, verb: str, arg: object) -> str:
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    if verb in "eEfFgGxX" and isinstance(arg, float):
        text = _float_verb(arg, verb, prec)
        if text == "NaN" and ("+" in flags or " " in flags):
            text = ("+" if "+" in flags else " ") + text
        elif text[0] not in "+-":
            text = _signed(text, flags)
        return _pad(text, flags.replace("0", "") if text[-1] in "fN" else flags, width, True)
    if verb == "d" and is_int:
        return _pad(_signed(str(arg), flags), flags, width, True)
    if verb in "xXob" and is_int:
        assert isinstance(arg, int)
        base = {"x": "x", "X": "X", "o": "o", "b": "b"}[verb]
        body = format(abs(arg), base)
        if "#" in flags and verb in "xX":
            body = ("0x" if verb == "x" else "0X") + body
        return _pad(("-" if arg < 0 else "") + body, flags, width, True)
    if verb in "xX" and isinstance(arg, str):
        body = arg.encode().hex()
        return _pad(body.upper() if verb == "X" else body, flags, width, False)
    if verb == "c" and is_int:
        assert isinstance(arg, int)
        return _pad(chr(arg), flags, width, False)
    if verb == "q" and isinstance(arg, str):
        return _pad(quote(arg), flags, width, False)
    if verb == "q" and is_int:
        assert isinstance(arg, int)
        return _pad("'" + quote(chr(arg))[1:-1].replace("'", "\\'") + "'", flags, width, False)
    if verb == "t" and isinstance(arg, bool):
        return _pad(value_string(arg), flags, width, False)
    if verb == "v" or (verb == "s" and _stringish(arg)):
        text = value_string(arg, plus="+" in flags)
        if prec is not None and isinstance(arg, str):
            text = text[:prec]
        numeric = isinstance(arg, int | float) and not isinstance(arg, bool)
        if numeric and verb == "v":
            text = _signed(text, flags) if isinstance(arg, int) or text[0] not in "+-" else text
        return _pad(text, flags, width, numeric)
    return _bad(verb, arg)


def _stringish(arg: object) -> bool:
    """Values ``%s`` prints: strings, Stringers, and containers of them (as Go recurses)."""
    if isinstance(arg, str):
        return True
    if isinstance(arg, GoStruct):
        return True
    if isinstance(arg, Mapping):
        return all(_stringish(v) for v in arg.values())
    if isinstance(arg, Sequence):
        return all(_stringish(v) for v in arg)
    return False


def sprintf(fmt: str, args: Sequence[object]) -> str:
    """``fmt.Sprintf`` with Go's verbs, flags, width, precision and error markers."""
    out: list[str] = []
    pos = 0
    used = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        w = min(int(width), MAX_WIDTH) if width else None
        p = (min(int(prec), MAX_WIDTH) if prec else 0) if prec is not None else None
        out.append(_one(flags, w, p, verb, args[used]))
        used += 1
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type(a)}={value_string(a)}" for a in args[used:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
