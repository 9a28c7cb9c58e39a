"""The step kernel of the batched path, with row-interleaved matrix-vector products.

`lane_step` computes what `forward._step` computes (DESIGN.md's evaluation order,
iterative sums), for the formats on fparith's fast rounding route, with the work laid
out for the vector unit. A matrix-vector product W (x) x runs over the transposed
matrix column by column, one accumulator per row:

    out[r] = [W[r, 0] x[0]];   for c = 1, 2, ...:  out[r] = [out[r] + [W[r, c] x[c]]]

Each row still adds its terms in increasing c, rounding after every product and every
addition, so every out[r] is the same iterative sum as `fparith.dot`'s; what changes is
that the additions of independent rows (the lanes) are in flight together, instead of
one row's chain of dependent additions at a time. Scores (one lane per key) and the mix
o = sum_j [a_j v_j] (one lane per coordinate) run the same way over the KV cache.

Two roundings:
- float32 (IEEE binary32, subnormals, to inf, nearest even): the values are float32
  arrays and the arithmetic is the hardware's float32 arithmetic. A float32 product or
  sum of float32 operands, rounded to nearest even, is the float64 operation rounded to
  float32 (the product is exact in float64; for a sum the double rounding is innocuous,
  53 >= 2 * 24 + 2), which is what fparith computes. No fused multiply-add: the kernels
  are compiled without fastmath, and Numba then lets LLVM contract nothing
  (tests/test_lanes.py checks the machine code).
- every other format of the fast route: float64 values, each result rounded by fparith's
  bit-pattern rule, written without branches so that it vectorises (`_round_lane`); a
  value the rule does not cover (an overflow, an inf or NaN, a value below the lowest
  binade where the format has no quantum there) sets a flag, and the whole product is
  then recomputed with fparith's scalar `mul` and `add`. Rounding the same float64 value
  by the same rule, the results are the fast route's bit for bit.

The other operations (embedding, softmax, the sum over heads, biases, ReLU, read-out
bias) are a few thousand a position against hundreds of thousands in the products;
they call fparith's scalar kernels on float64 values, whatever the array type.
tests/test_lanes.py checks the tokens, undefined positions and overflow flags against
the one-prompt `Decoder`, the exact-rational oracle and the plain route.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .fparith import (FAST, FAST_HI, FAST_LO, FAST_Q, FAST_SHIFT, FAST_TIES,
                      _f2i, _i2f, add, div, exp_, mul, relu, rnd, sub)
from .rowmax import row_max as _row_max
from .model import Model
from .params import FAMILY, IEEE, MAXV, NPARAMS, R_AWAY, R_EVEN

_MAG = 0x7FFFFFFFFFFFFFFF
_SIGN = -0x8000000000000000

#: entries of the lane parameter vector (`lane_params`)
(NATIVE, SHIFT, TADD, TODD, LO, HI, MAXBITS, LOWOK, KEEPZ, Q, TIE_ODD, TIE_AWAY) = range(12)


def lane_params(P: np.ndarray) -> np.ndarray | None:
    """What `_round_lane` needs, from a parameter vector on fparith's fast route (see
    `fparith.fast_params`); None when ``P`` is not on it. Entry NATIVE is 1 for float32
    itself (hardware arithmetic on float32 arrays)."""
    if not (P.shape[0] > NPARAMS + FAST and P[NPARAMS + FAST] != 0.0):
        return None
    shift = int(P[NPARAMS + FAST_SHIFT])
    half = 1 << (shift - 1)
    ties = int(P[NPARAMS + FAST_TIES])
    R = np.zeros(12, dtype=np.float64)
    R[NATIVE] = 1.0 if P[NPARAMS + FAST] == 2.0 else 0.0
    R[SHIFT] = shift
    # normal binades: keep the top bits of mag + TADD + (the last kept bit & TODD)
    R[TADD] = half if ties == R_AWAY else half - 1
    R[TODD] = 1.0 if ties == R_EVEN else 0.0
    R[LO], R[HI] = P[NPARAMS + FAST_LO], P[NPARAMS + FAST_HI]
    R[MAXBITS] = float(np.array([P[MAXV]]).view(np.int64)[0])   # < 2^63, exact in float64
    assert int(R[MAXBITS]) == np.array([P[MAXV]]).view(np.int64)[0]
    # below the lowest binade: multiples of Q (when the format has them there)
    R[LOWOK] = 1.0 if P[NPARAMS + FAST_Q] != 0.0 else 0.0
    R[Q] = P[NPARAMS + FAST_Q]
    R[TIE_ODD] = R[TODD]
    R[TIE_AWAY] = 1.0 if ties == R_AWAY else 0.0
    R[KEEPZ] = 1.0 if int(P[FAMILY]) == IEEE else 0.0   # the paper's format has no -0
    return R


class LaneRound(NamedTuple):
    """`lane_params` unpacked once per kernel call (ints for the bit arithmetic)."""

    shift: int
    tadd: int
    todd: int
    mask: int
    lo: int
    hi: int
    maxbits: int
    nolow: int
    keepz: int
    q: float
    invq: float
    tie_odd: float
    tie_away: float


@njit(cache=True)
def _unpack(R):
    shift = np.int64(R[SHIFT])
    q = R[Q]
    return LaneRound(shift, np.int64(R[TADD]), np.int64(R[TODD]),
                     ~((np.int64(1) << shift) - np.int64(1)), np.int64(R[LO]),
                     np.int64(R[HI]), np.int64(R[MAXBITS]),
                     np.int64(0 if R[LOWOK] != 0.0 else -1),
                     np.int64(_SIGN if R[KEEPZ] != 0.0 else 0), q,
                     1.0 / q if q != 0.0 else 0.0, R[TIE_ODD], R[TIE_AWAY])


@njit(cache=True, inline="always")
def _round_lane(x, g, of_sum):
    """(fparith's fast-route rounding of the float64 x, an int64 that is negative when
    that rounding is not this rule's: the caller then recomputes), without branches.

    Normal binades: the bit-pattern rule of `fparith._rnd_fast`. Below the lowest binade
    (zero included): the nearest multiple of q, ties by the format's rule, as there:
    t = |x| / q is exact, its integer part fl and fraction d are exact, and the tie
    (d = 1/2) goes up for ties-away, to even for ties-even, down for ties-to-zero.
    Flags, as sign bits (magnitudes are < 2^63): beyond the top binade (inf and NaN
    included), above the largest value, and a nonzero value below the lowest binade
    where the format has no quantum (``g.nolow`` = -1).

    ``of_sum`` (a constant at each call): x is the float64 sum of two values of the
    format. Below the lowest binade it is then already a multiple of q (both terms are,
    and the exact sum, a multiple of q below 2^lo, has p - 1 <= 52 bits, so float64
    holds it exactly), and rounds to itself: the quotient by q is left out."""
    b = _f2i(x)
    mag = b & _MAG
    ex = mag >> 52
    low = ex < g.lo
    rr = (mag + g.tadd + ((mag >> g.shift) & g.todd)) & g.mask
    if of_sum:
        lr = mag
    else:
        t = _i2f(mag) * g.invq
        fl = np.floor(t)                  # (math.floor would go through int64)
        d = t - fl
        tie = g.tie_away + g.tie_odd * (fl - 2.0 * np.floor(fl * 0.5))
        n = fl + (1.0 if d > 0.5 else 0.0) + (tie if d == 0.5 else 0.0)
        lr = _f2i(n * g.q)
    rm = lr if low else rr
    bad = (g.hi - ex) | (((0 - mag) & g.nolow) if low else (g.maxbits - rr))
    sg = b & ((0 - rm) | g.keepz) & _SIGN     # the sign, but no -0 where keepz = 0
    return _i2f(rm | sg), bad


@njit(cache=True)
def _mv_native(WT, x, out, nin, nout, xw):
    """out[r] = sum over c < nin of W[r, c] x[c] (WT = W transposed), r < nout, in the
    arrays' own arithmetic (float32 for the float32 format). The products are
    W[r, c] * x[c], or x[c] * W[r, c] when ``xw``: the operand order of the evaluation
    order's sum, which decides the sign of a NaN when both factors are NaN."""
    x0 = x[0]
    if xw:
        for r in range(nout):
            out[r] = x0 * WT[0, r]
        for c in range(1, nin):
            xc = x[c]
            row = WT[c]
            for r in range(nout):
                out[r] = out[r] + xc * row[r]
    else:
        for r in range(nout):
            out[r] = WT[0, r] * x0
        for c in range(1, nin):
            xc = x[c]
            row = WT[c]
            for r in range(nout):
                out[r] = out[r] + row[r] * xc


@njit(cache=True)
def _mv_rounded(WT, x, out, nin, nout, g):
    """`_mv_native` with every product and sum rounded by `_round_lane`; False when some
    value fell outside its rule (out is then to be recomputed, NaNs among them: so the
    operand order does not matter here)."""
    x0 = np.float64(x[0])
    bad = np.int64(0)
    for r in range(nout):
        y, f = _round_lane(np.float64(WT[0, r]) * x0, g, False)
        out[r] = y
        bad |= f
    for c in range(1, nin):
        xc = np.float64(x[c])
        row = WT[c]
        for r in range(nout):
            p, f1 = _round_lane(np.float64(row[r]) * xc, g, False)
            s, f2 = _round_lane(np.float64(out[r]) + p, g, True)
            out[r] = s
            bad |= f1 | f2
    return bad >= 0


@njit(cache=True)
def _mv_scalar(WT, x, out, nin, nout, P, xw):
    """The same sums by fparith's scalar `mul` and `add`, one row at a time."""
    for r in range(nout):
        acc = _mul_ordered(WT[0, r], x[0], P, xw)
        for c in range(1, nin):
            acc = add(acc, _mul_ordered(WT[c, r], x[c], P, xw), P)
        out[r] = acc


@njit(cache=True, inline="always")
def _mul_ordered(w, v, P, xw):
    return mul(np.float64(v), np.float64(w), P) if xw else mul(np.float64(w), np.float64(v), P)


@njit(cache=True)
def _mv(WT, x, out, nin, nout, native, g, P, xw):
    """out[r] = W[r] (x) x (iterative), r < nout, over the first nin columns; products
    x[c] * W[r, c] when ``xw`` (see `_mv_native`)."""
    if native:
        _mv_native(WT, x, out, nin, nout, xw)
    elif not _mv_rounded(WT, x, out, nin, nout, g):
        _mv_scalar(WT, x, out, nin, nout, P, xw)


class LaneWeights(NamedTuple):
    """The matrices transposed (input index first), in the value type of the kernel
    (float32 for the float32 format, else float64): Wq/Wk/Wv (L, H, d, k), Wo
    (L, H, k, d), W1 (L, d, f), W2 (L, f, d), Wout (d, V). Embeddings and biases stay
    float64 (`forward.Weights`). Built by `lane_weights`; pass ``tuple(lw)``."""

    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    Wo: np.ndarray
    W1: np.ndarray
    W2: np.ndarray
    Wout: np.ndarray


def lane_dtype(R: np.ndarray) -> type:
    return np.float32 if R[NATIVE] else np.float64


def lane_weights(model: Model, dtype: type) -> LaneWeights:
    s = model.stacked

    def t(a):
        return np.ascontiguousarray(np.swapaxes(a, -1, -2), dtype=dtype)

    return LaneWeights(Wq=t(s["Wq"]), Wk=t(s["Wk"]), Wv=t(s["Wv"]), Wo=t(s["Wo"]),
                       W1=t(s["W1"]), W2=t(s["W2"]), Wout=t(model.Wout))


class LaneCache(NamedTuple):
    """Per-run scratch of `lane_step`, allocated once (`lane_cache`): keys Kc (L, H, k,
    N) by coordinate (a score lane per key), values Vr (L, H, N, k) by position (a mix
    lane per coordinate), and the vectors of one position."""

    Kc: np.ndarray
    Vr: np.ndarray
    h: np.ndarray
    q: np.ndarray
    kv: np.ndarray
    s: np.ndarray
    a: np.ndarray
    e: np.ndarray
    o: np.ndarray
    U: np.ndarray
    z: np.ndarray
    m: np.ndarray
    lg: np.ndarray


@njit(cache=True)
def lane_cache(L, H, k, d, f, V, cap, proto):
    """A `LaneCache` in proto's dtype (float32 or float64)."""
    dt = proto.dtype
    return LaneCache(np.zeros((L, H, k, cap), dt), np.zeros((L, H, cap, k), dt),
                     np.empty(d, dt), np.empty(k, dt), np.empty(k, dt), np.empty(cap, dt),
                     np.empty(cap, dt), np.empty(cap), np.empty(k, dt), np.empty((H, d), dt),
                     np.empty(f, dt), np.empty(d, dt), np.empty(V, dt))


@njit(cache=True)
def lane_step(tok, t, w, lw, C, stable, P, native, g, A, logits):
    """Position t (token ``tok``) given the cache of positions 0..t-1; fills ``logits``
    and A (L, H, N) with a_tj, j <= t. Returns 0, or 1 + layer * H + head for the first
    Z_t = 0 (as `forward._step`). ``w``: `forward.Weights` (float64; embeddings and
    biases), ``lw``: `LaneWeights`, C: `LaneCache`, ``g``: `_unpack` of `lane_params`."""
    TE, PE, b1, b2, bout = w[0], w[1], w[7], w[9], w[11]
    WqT, WkT, WvT, WoT, W1T, W2T, WoutT = lw
    L, H, d, k = WqT.shape
    f = W1T.shape[2]
    V = WoutT.shape[1]
    h, q, kv, s, a, e, o, U, z, m, lg = C.h, C.q, C.kv, C.s, C.a, C.e, C.o, C.U, C.z, C.m, C.lg
    n = t + 1
    for c in range(d):
        h[c] = add(TE[tok, c], PE[t, c], P)
    for l in range(L):
        for hd in range(H):
            Kc, Vr = C.Kc[l, hd], C.Vr[l, hd]
            _mv(WqT[l, hd], h, q, d, k, native, g, P, False)
            _mv(WkT[l, hd], h, kv, d, k, native, g, P, False)
            for c in range(k):
                Kc[c, t] = kv[c]
            _mv(WvT[l, hd], h, Vr[t], d, k, native, g, P, False)
            # s_j = sum_c [q[c] k_j[c]]: a lane per key j
            _mv(Kc, q, s, k, n, native, g, P, True)
            if stable:
                mx = np.float64(_row_max(s, n))
                for j in range(n):
                    e[j] = exp_(sub(np.float64(s[j]), mx, P), P)
            else:
                for j in range(n):
                    e[j] = exp_(np.float64(s[j]), P)
            Z = rnd(e[0], P)
            for j in range(1, n):
                Z = add(Z, e[j], P)
            if Z == 0.0:
                return 1 + l * H + hd
            for j in range(n):
                aj = div(e[j], Z, P)
                A[l, hd, j] = aj
                a[j] = aj
            # o[c] = sum_j [a_j v_j[c]]: a lane per coordinate c
            _mv(Vr, a, o, n, k, native, g, P, True)
            _mv(WoT[l, hd], o, U[hd], k, d, native, g, P, False)
        for c in range(d):
            acc = rnd(np.float64(U[0, c]), P)
            for hd in range(1, H):
                acc = add(acc, np.float64(U[hd, c]), P)
            h[c] = add(np.float64(h[c]), acc, P)
        _mv(W1T[l], h, z, d, f, native, g, P, False)
        for r in range(f):
            z[r] = relu(add(np.float64(z[r]), b1[l, r], P), P)
        _mv(W2T[l], z, m, f, d, native, g, P, False)
        for c in range(d):
            h[c] = add(np.float64(h[c]), add(np.float64(m[c]), b2[l, c], P), P)
    _mv(WoutT, h, lg, d, V, native, g, P, False)
    for v in range(V):
        logits[v] = add(np.float64(lg[v]), bout[v], P)
    return 0


@njit(cache=True, nogil=True)
def lane_push(tok, t, w, lw, C, stable, P, R, A, logits):
    """`lane_step` with the lane parameters R as `lane_params` gives them (for callers in
    Python: the Decoder); ``C`` is a `LaneCache` as a plain tuple."""
    return lane_step(tok, t, w, lw, LaneCache(*C), stable, P, R[NATIVE] != 0.0,
                     _unpack(R), A, logits)
