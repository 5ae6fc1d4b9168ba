"""Prometheus's staleness marker (https://prometheus.io/docs/prometheus/latest/querying/basics/#staleness)."""

from __future__ import annotations

import math
import struct

#: A NaN with this exact bit pattern (Prometheus's value.StaleNaN); any other NaN is a value.
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
_STALE_BITS = struct.pack("<d", STALE_NAN)


def is_stale(value: float) -> bool:
    """True for the stale marker (and only for it, not for another NaN)."""
    return math.isnan(value) and struct.pack("<d", value) == _STALE_BITS
