"""The reference rounding of a real number to a `FloatFormat`, by exhaustive search.

``brute_round`` is the nearest member of ``values()`` by exact ``Fraction`` comparison,
with the format's tie and overflow rules; it shares no code with the kernels of
``fparith``. ``same_bits`` compares float64 arrays bit for bit, ``log_uniform`` draws
awkward test values.
"""
from __future__ import annotations

import functools
from bisect import bisect_left
from fractions import Fraction

import numpy as np

from transformer_sim import FloatFormat


@functools.lru_cache(maxsize=None)
def _table(fmt: FloatFormat) -> list[Fraction]:
    """Nonnegative members as Fractions, ascending; ieee gets a virtual overflow
    candidate on top, the next point of the top binade's grid past B (IEEE rounds as if
    the exponent were unbounded): 2^(emax+1) for IEEE's layout, B + 2^(emax-m) when the
    top exponent holds numbers (480 for float8_e4m3fn, whose 0x7F is NaN)."""
    vals = fmt.values()
    pos = [Fraction(float(v)) for v in vals[vals >= 0]]
    if fmt.family == "ieee":
        pos.append(pos[-1] + Fraction(2) ** (fmt.exponent_range[1] - fmt.m))
    return pos


def brute_round(fmt: FloatFormat, x) -> float:
    """Round a finite real x (Fraction, int or float) to fmt, by exhaustive search."""
    X = Fraction(x)
    if X == 0:                                             # keeps the sign of an ieee zero
        return float(x) if fmt.family == "ieee" else 0.0
    neg = X < 0
    A = -X if neg else X
    pos = _table(fmt)
    i = bisect_left(pos, A)
    if fmt.family == "paper":
        if i == len(pos):
            r = pos[-1]                                    # clip to B
        elif pos[i] == A:
            r = A
        else:
            lo, hi = pos[i - 1], pos[i]
            r = hi if hi - A < A - lo else lo              # ties: smaller magnitude
        return -float(r) if neg and r else float(r)
    top = len(pos) - 1                                     # the virtual overflow value
    if i < top and pos[i] == A:
        j = i
    elif fmt.rounding == "toward_zero":
        j = min(i - 1, top - 1)
    elif i > top:
        j = top
    else:
        lo, hi = i - 1, i
        dl, dh = A - pos[lo], pos[hi] - A
        if dl != dh:
            j = lo if dl < dh else hi
        elif fmt.rounding == "nearest_away":
            j = hi
        else:                       # even: the even multiple of the quantum at lo
            n = pos[lo] / (pos[hi] - pos[lo])
            assert n.denominator == 1
            j = lo if n.numerator % 2 == 0 else hi
    if j == top:
        r = {"inf": float("inf"), "nan": float("nan")}.get(fmt.overflow, fmt.max_value)
    else:
        r = float(pos[j])
    return -r if neg else r


def ieee_by_definition(e: int, m: int, subnormals: bool, nonfinite: str = "ieee"
                       ) -> set[Fraction]:
    """The values of an ieee format straight from its layout: every pattern, less the top
    exponent (nonfinite "ieee": inf and NaN) or the all-ones NaN pattern ("nan")."""
    bias = 2 ** (e - 1) - 1
    out = set()
    for field in range(0, 2 ** e - (nonfinite == "ieee")):
        for frac in range(2 ** m):
            if nonfinite == "nan" and field == 2 ** e - 1 and frac == 2 ** m - 1:
                continue
            if field == 0:
                if not subnormals and frac:
                    continue
                v = Fraction(frac, 2 ** m) * Fraction(2) ** (1 - bias)
            else:
                v = (1 + Fraction(frac, 2 ** m)) * Fraction(2) ** (field - bias)
            out |= {v, -v}
    return out


def same_bits(a, b) -> np.ndarray:
    """Elementwise bit-identity of float64 arrays (NaN matches NaN)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))


def log_uniform(rng, n: int, lo: float, hi: float) -> np.ndarray:
    """Random signs and log-uniform magnitudes in [2^lo, 2^hi], all mantissa bits random."""
    mag = np.exp2(rng.uniform(lo, hi, n)) * rng.uniform(1, 2, n)
    return np.where(rng.random(n) < 0.5, -mag, mag)
