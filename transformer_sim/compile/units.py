"""Values of a paper format as exact integers in units of its smallest step, and back.

Every value of a paper format is an integer multiple of q = ``min_positive`` = 2^k; the
fixed-point sums (``sums.exact_sum``, ``blockadd``, ``sums_tc0``) add those integers and
round the total once, with the simulator's own rounding. One converter serves them all.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def unit_exponent(fmt) -> int:
    """k with q = min_positive = 2^k."""
    m, ex = math.frexp(fmt.min_positive)
    assert m == 0.5
    return ex - 1


def to_units(fmt, values: np.ndarray) -> np.ndarray:
    """Values as integers in units of q: an int64 array when every one is below 2^52,
    else an object array of exact Python integers (any width)."""
    k = unit_exponent(fmt)
    values = np.asarray(values, dtype=np.float64)
    u = np.ldexp(values, -k)
    if np.all(np.abs(u) < 2.0 ** 52):
        out = u.astype(np.int64)
        assert np.array_equal(out.astype(np.float64), u), "value not a multiple of q"
        return out
    res = []
    for v in values.tolist():
        m, ex = math.frexp(abs(v))
        i = int(m * (1 << 53))
        sh = ex - 53 - k
        if sh < 0:
            assert i % (1 << -sh) == 0, "value not a multiple of q"
            i >>= -sh
        else:
            i <<= sh
        res.append(-i if v < 0 else i)
    return np.array(res, dtype=object)


def round_units(fmt, S: Sequence[int]) -> np.ndarray:
    """[S q] for exact integers S, by the simulator's own rounding (its exact sum
    of float64 pieces for integers beyond 2^52)."""
    k = unit_exponent(fmt)
    S = [int(x) for x in np.asarray(S, dtype=object).reshape(-1)]
    if all(abs(x) < (1 << 52) for x in S):
        return fmt.round(np.ldexp(np.array(S, dtype=np.float64), k))
    out = np.empty(len(S))
    mask = (1 << 52) - 1
    for i, x in enumerate(S):
        a, j, pieces = abs(x), 0, []
        while a:
            pieces.append(math.ldexp(a & mask, 52 * j + k))
            a >>= 52
            j += 1
        arr = np.array(pieces or [0.0])
        out[i] = fmt.sum(-arr if x < 0 else arr, "exact")
    return out
