"""Numbers from upstream JSON: exact Decimals that a gauge can hold, and integer codes.

Every source parses amounts and codes through here, so hostile values (``1e400``,
``Infinity``, 5000-digit integers, booleans) are refused the same way everywhere.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from typing import Any

_FLOAT_MAX = Decimal(repr(sys.float_info.max))


def exact_decimal(value: Any, what: str) -> Decimal:
    """``value`` (a decimal string or a JSON number) as an exact Decimal that fits a float.

    Raise ValueError naming ``what`` when it is missing, not a number, not finite, or too
    large to become a gauge value.
    """
    # JSON is decoded with parse_float=Decimal; a Python float here was already rounded.
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        msg = f"{what} is missing or not a number ({value!r:.60})"
        raise ValueError(msg)
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        msg = f"{what} is not a number ({value!r:.60})"
        raise ValueError(msg) from None
    if not number.is_finite() or abs(number) > _FLOAT_MAX:
        msg = f"{what} is not a finite number a gauge can hold ({value!r:.60})"
        raise ValueError(msg)
    return number


def code_number(code: Any) -> int | None:
    """An API ``code`` as an integer (``29001``, ``"6001"``); None for anything else."""
    if isinstance(code, bool) or not isinstance(code, int | str | Decimal):
        return None
    try:
        return int(code)
    except (ValueError, OverflowError, InvalidOperation):
        return None
