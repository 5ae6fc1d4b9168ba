"""promtool's output of samples and labels, built on the Go formatting in ``watcher.gotemplate``.

``format_exp_upper`` is Go's ``strconv.FormatFloat(v, 'E', -1, 64)`` (how ``promtool test
rules`` prints sample values); ``go_quote`` is ``strconv.Quote`` (how label values print).
"""

from __future__ import annotations

import math

from watcher.gotemplate.fmt import format_float, shortest_digits
from watcher.gotemplate.strconv import quote as go_quote

__all__ = ["format_exp_upper", "go_quote"]


def format_exp_upper(value: float) -> str:
    """``1.5E+01``, ``-0E+00``, ``NaN``, ``+Inf``: always the exponent form, shortest digits."""
    if math.isnan(value) or math.isinf(value):
        return format_float(value)
    if value == 0:
        return "-0E+00" if math.copysign(1.0, value) < 0 else "0E+00"
    digits, exp = shortest_digits(value)
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{mant}E{'-' if exp < 0 else '+'}{abs(exp):02d}"
