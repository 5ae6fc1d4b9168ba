"""Go's ``math`` functions where their results differ from Python's, bit for bit.

Prometheus is written in Go, and promtool compares floats exactly, so ``^``, ``ceil``,
``clamp_min`` and friends must round and keep the sign of zero as Go does. ``go_pow`` is a
line-by-line port of Go's ``math.Pow`` (src/math/pow.go), which multiplies by repeated
squaring instead of rounding once as C's ``pow`` does; ``Exp`` and ``Log`` inside it are the
C library's (Go's amd64 assembly agrees with them to the last bit for almost every input).
"""

from __future__ import annotations

import math
import struct

_MASK = 0x7FF
_SHIFT = 52
_BIAS = 1023


def _bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def _from_bits(b: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", b & 0xFFFF_FFFF_FFFF_FFFF))[0])


def go_div(a: float, b: float) -> float:
    """IEEE division, as Go divides floats (x/0 is ±Inf or NaN, never an exception)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def go_max(x: float, y: float) -> float:
    """Go's ``math.Max``: NaN wins, +0 beats -0."""
    if (math.isinf(x) and x > 0) or (math.isinf(y) and y > 0):
        return math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0 and x == y:
        return y if math.copysign(1.0, x) < 0 else x
    return x if x > y else y


def go_min(x: float, y: float) -> float:
    """Go's ``math.Min``: NaN wins, -0 beats +0."""
    if (math.isinf(x) and x < 0) or (math.isinf(y) and y < 0):
        return -math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0 and x == y:
        return x if math.copysign(1.0, x) < 0 else y
    return x if x < y else y


def go_floor(x: float) -> float:
    """Go's ``math.Floor``: a float, and -0 stays -0."""
    if math.isnan(x) or math.isinf(x) or x == 0:
        return x
    return math.copysign(float(math.floor(x)), x) if -1 < x < 1 else float(math.floor(x))


def go_ceil(x: float) -> float:
    """Go's ``math.Ceil``: ``-Floor(-x)``, so ceil(-0.5) is -0."""
    return -go_floor(-x)


def _modf(f: float) -> tuple[float, float]:
    if f < 1:
        if f < 0:
            i, frac = _modf(-f)
            return -i, -frac
        if f == 0:
            return f, f
        return 0.0, f
    i = float(math.trunc(f)) if not math.isinf(f) else f
    return i, f - i


def _is_odd_int(x: float) -> bool:
    if abs(x) >= 1 << 53:
        return False
    xi, xf = _modf(x)
    return xf == 0 and int(xi) & 1 == 1


def _ldexp(frac: float, exp: int) -> float:
    """Go's ``math.Ldexp`` (denormals via one multiplication, as Go rounds them)."""
    if frac == 0 or math.isinf(frac) or math.isnan(frac):
        return frac
    if abs(frac) < 2.2250738585072014e-308:  # normalize a denormal
        frac *= 1 << 52
        exp -= 52
    x = _bits(frac)
    exp += ((x >> _SHIFT) & _MASK) - _BIAS
    if exp < -1075:
        return math.copysign(0.0, frac)
    if exp > 1023:
        return -math.inf if frac < 0 else math.inf
    m = 1.0
    if exp < -1022:
        exp += 53
        m = 1.0 / (1 << 53)
    x &= ~(_MASK << _SHIFT)
    x |= (exp + _BIAS) << _SHIFT
    return m * _from_bits(x)


def go_pow(x: float, y: float) -> float:
    """Go's ``math.Pow(x, y)`` (special cases in Go's order, then repeated squaring)."""
    if y == 0 or x == 1:
        return 1.0
    if y == 1:
        return x
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0:
        negative_zero = math.copysign(1.0, x) < 0
        if y < 0:
            return -math.inf if negative_zero and _is_odd_int(y) else math.inf
        return x if negative_zero and _is_odd_int(y) else 0.0
    if math.isinf(y):
        if x == -1:
            return 1.0
        if (abs(x) < 1) == (y > 0):
            return 0.0
        return math.inf
    if math.isinf(x):
        if x < 0:
            return go_pow(1 / x, -y)  # Pow(-0, -y)
        return 0.0 if y < 0 else math.inf
    if y == 0.5:
        return math.sqrt(x) if x >= 0 else math.nan
    if y == -0.5:
        return 1 / math.sqrt(x) if x >= 0 else math.nan

    yi, yf = _modf(abs(y))
    if yf != 0 and x < 0:
        return math.nan
    if yi >= 1 << 63:
        if x == -1:
            return 1.0
        if (abs(x) < 1) == (y > 0):
            return 0.0
        return math.inf

    a1 = 1.0
    ae = 0
    if yf != 0:
        if yf > 0.5:
            yf -= 1
            yi += 1
        a1 = math.exp(yf * math.log(x))

    x1, xe = math.frexp(x)
    i = int(yi)
    while i != 0:
        if xe < -(1 << 12) or 1 << 12 < xe:
            ae += xe
            break
        if i & 1 == 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1

    if y < 0:
        a1 = 1 / a1
        ae = -ae
    return _ldexp(a1, ae)


def _xatan(x: float) -> float:
    """Go's math.xatan: Cephes' series on [0, 0.66], operation by operation."""
    p0, p1, p2, p3, p4 = (
        -8.750608600031904122785e-01,
        -1.615753718733365076637e01,
        -7.500855792314704667340e01,
        -1.228866684490136173410e02,
        -6.485021904942025371773e01,
    )
    q0, q1, q2, q3, q4 = (
        2.485846490142306297962e01,
        1.650270098316988542046e02,
        4.328810604912902668951e02,
        4.853903996359136964868e02,
        1.945506571482613964425e02,
    )
    z = x * x
    z = (
        z
        * ((((p0 * z + p1) * z + p2) * z + p3) * z + p4)
        / (((((z + q0) * z + q1) * z + q2) * z + q3) * z + q4)
    )
    return x * z + x


def _satan(x: float) -> float:
    morebits = 6.123233995736765886130e-17  # pi/2 = PIO2 + morebits
    tan3pio8 = 2.41421356237309504880  # tan(3*pi/8)
    if x <= 0.66:
        return _xatan(x)
    if x > tan3pio8:
        return math.pi / 2 - _xatan(1 / x) + morebits
    return math.pi / 4 + _xatan((x - 1) / (x + 1)) + 0.5 * morebits


def _go_atan(x: float) -> float:
    if x == 0:
        return x
    return _satan(x) if x > 0 else -_satan(-x)


def go_atan2(y: float, x: float) -> float:
    """Go's ``math.Atan2`` (pure Go on amd64: atan2.go over atan.go's Cephes series), so
    PromQL's ``atan2`` operator agrees bit for bit; libm's atan2 can differ by an ulp."""
    if math.isnan(y) or math.isnan(x):
        return math.nan
    if y == 0:
        if x >= 0 and math.copysign(1.0, x) > 0:
            return math.copysign(0.0, y)
        return math.copysign(math.pi, y)
    if x == 0:
        return math.copysign(math.pi / 2, y)
    if math.isinf(x):
        if x > 0:
            return math.copysign(math.pi / 4, y) if math.isinf(y) else math.copysign(0.0, y)
        return math.copysign(3 * math.pi / 4, y) if math.isinf(y) else math.copysign(math.pi, y)
    if math.isinf(y):
        return math.copysign(math.pi / 2, y)
    q = _go_atan(y / x)
    if x < 0:
        return q + math.pi if q <= 0 else q - math.pi
    return q
