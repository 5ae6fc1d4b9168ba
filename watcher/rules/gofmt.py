"""promtool's output of samples and labels, built on the Go formatting in ``watcher.gotemplate``.

``format_exp_upper`` is Go's ``strconv.FormatFloat(v, 'E', -1, 64)`` (how ``promtool test
rules`` prints sample values); ``go_quote`` is ``strconv.Quote`` (how label values print).
"""

from __future__ import annotations

from watcher.gotemplate.strconv import format_float
from watcher.gotemplate.strconv import quote as go_quote

__all__ = ["format_exp_upper", "go_quote"]


def format_exp_upper(value: float) -> str:
    """``1.5E+01``, ``-0E+00``, ``NaN``, ``+Inf``: always the exponent form, shortest digits."""
    return format_float(value, "E")
