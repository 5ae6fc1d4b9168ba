"""Go's number formatting, as Prometheus's templates and promtool's output print numbers.

Prometheus is written in Go; users compare our annotations and test output with its, so
``{{ $value }}``, ``humanize`` and ``printf`` must print what Go's fmt and strconv print.
"""

from __future__ import annotations

import math
import re


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(value) and the decimal exponent of the first digit."""
    mant, _, e = repr(abs(value)).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    point = len(whole) + (int(e) if e else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", point - 1


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def _exp_form(sign: str, digits: str, exp: int, letter: str) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    esign = "-" if exp < 0 else "+"
    return f"{sign}{mant}{letter}{esign}{abs(exp):02d}"


def format_shortest(value: float, *, exp_threshold: int = 6, letter: str = "e") -> str:
    """Shortest representation, as Go's ``%v`` / ``strconv.FormatFloat(v, 'g', -1, 64)``."""
    special = _special(value)
    if special is not None:
        return special
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, exp = _digits(value)
    if exp < -4 or exp >= exp_threshold:
        return _exp_form(sign, digits, exp, letter)
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return f"{sign}{digits}{'0' * (exp + 1 - len(digits))}"
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"


def format_value(value: float) -> str:
    """What Go's fmt prints for a float64 with ``%v`` (how ``{{ $value }}`` renders)."""
    return format_shortest(value)


def format_exp_upper(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'E', -1, 64)``: ``1.5E+01`` (promtool's sample output)."""
    special = _special(value)
    if special is not None:
        return special
    if value == 0:
        return "-0E+00" if math.copysign(1.0, value) < 0 else "0E+00"
    digits, exp = _digits(value)
    return _exp_form("-" if value < 0 else "", digits, exp, "E")


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def go_percent_g(value: float, precision: int) -> str:
    """Go's ``%.<precision>g``."""
    special = _special(value)
    if special is not None:
        return special
    return f"%.{precision}g" % value


def sprintf(fmt: str, args: list[object]) -> str:
    """A safe subset of Go's fmt.Sprintf for templates: %s %v %d %f %e %g %x %q %t %%."""
    out: list[str] = []
    pos = 0
    i = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[i]
        i += 1
        out.append(_one(flags, width, prec, verb, arg))
    out.append(fmt[pos:])
    if i < len(args):
        extra = ", ".join(f"{_type(a)}={_plain(a)}" for a in args[i:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _type(arg: object) -> str:
    if isinstance(arg, bool):
        return "bool"
    if isinstance(arg, int):
        return "int"
    if isinstance(arg, float):
        return "float64"
    return "string"


def _plain(arg: object) -> str:
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, float):
        return format_value(arg)
    return str(arg)


def go_quote(text: str) -> str:
    """Quote like Go's strconv.Quote for the printable text labels hold."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{out}"'


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width or width == "*":
        return text
    w = int(width)
    if "-" in flags:
        return text.ljust(w)
    if "0" in flags and text and (text[0].isdigit() or text[0] in "+-"):
        sign = text[0] if text[0] in "+-" else ""
        body = text[len(sign) :]
        return sign + body.rjust(w - len(sign), "0")
    return text.rjust(w)


def _one(flags: str, width: str | None, prec: str | None, verb: str, arg: object) -> str:
    p = int(prec) if prec and prec != "*" else None
    if verb in "fFeEgG" and isinstance(arg, int | float) and not isinstance(arg, bool):
        value = float(arg)
        special = _special(value)
        if special is not None:
            text = special if "+" in flags or value < 0 or math.isnan(value) else special[1:]
        elif verb in "gG" and p is None:
            text = format_shortest(value, letter="e" if verb == "g" else "E")
        else:
            py_flags = "+" if "+" in flags else (" " if " " in flags else "")
            text = f"%{py_flags}.{6 if p is None else p}{verb}" % value
        return _pad(text, flags, width)
    if verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
        return _pad(("+" if "+" in flags and arg >= 0 else "") + str(arg), flags, width)
    if verb in "xX" and isinstance(arg, int) and not isinstance(arg, bool):
        text = format(arg, "x" if verb == "x" else "X")
        return _pad(text, flags, width)
    if verb in "sv":
        text = _plain(arg)
        if verb == "s" and isinstance(arg, int | float) and not isinstance(arg, bool):
            text = f"%!s({_type(arg)}={text})"
        if p is not None and verb == "s":
            text = text[:p]
        return _pad(text, flags, width)
    if verb == "q" and isinstance(arg, str):
        return _pad(go_quote(arg), flags, width)
    if verb == "t" and isinstance(arg, bool):
        return _pad(_plain(arg), flags, width)
    return f"%!{verb}({_type(arg)}={_plain(arg)})"
