"""Correctly rounded finite-precision arithmetic, as Numba kernels.

Every kernel takes the format's parameter vector ``P`` (``FloatFormat.params``,
layout in ``params.py``) and returns a float64 that is already a member of
the format. Scalars in, scalars out; the vector kernels loop over them.

How exactness is guaranteed
---------------------------
No result is rounded twice. Each operation first produces a float64 ``hi`` and
the *sign* ``sl`` of the exact remainder ``exact - hi``, with ``|exact - hi| <
ulp64(hi)`` (``hi`` is faithful). ``_round2`` then rounds the exact value using
``hi`` and ``sl`` only:

* ``a + b``: TwoSum gives ``hi = fl(a + b)`` and the exact error ``lo``.
* ``a * b``: the significands (frexp, so nothing under- or overflows) are
  multiplied with Dekker's split TwoProduct; ``hi + lo`` is exact.
* ``a / b``: ``q = fl(ma / mb)`` is correctly rounded; the remainder
  ``ma - q*mb`` is exact (Sterbenz for ``ma - fl(q*mb)``, then TwoProduct's tail)
  and its sign is the sign of ``ma/mb - q`` (``mb > 0`` after taking signs out).
* exact sums: a Shewchuk expansion (msum, as in Python's ``math.fsum``) holds the
  exact sum as non-overlapping partials; summing them from the top until the first
  inexact step gives a faithful ``hi`` and the sign of the rest (proof at
  ``_round_expansion``).

Why the sign is enough (``_iround``): scale the exact value by the target quantum q
to ``t = th + tail`` with ``th = hi / q`` exact. The target precision is at most
52 bits (ieee ``m <= 51``; paper ``2s + 1 <= 51``), so ``th < 2^52`` and
``ulp(th) <= 1/2``; ``|tail| < ulp(th)``. Then the fractional part ``fh`` of ``th``
is a multiple of ``ulp(th)``, as is ``1/2``, so ``fh - 1/2`` is either 0 (the tail's
sign decides) or at least ``ulp(th)`` away (the tail cannot change the comparison).
When ``fh == 0`` the tail alone is the fraction: in ``(0, 1/2)`` if positive, and
``1 + tail`` in ``(1/2, 1)`` with a borrow if negative. So the comparison of the
exact fraction with 0 and 1/2, all the rounding needs, is decided exactly.

Fast paths (bit for bit the general route; tests/test_fastpath.py): for fixed-point
formats (paper, e = 0) ``_round2`` takes ``_round_fixed``, a scaling and one
``_iround`` instead of the exponent search of ``_round_paper``; and the ``fx_*``
kernels at the end of the module run fixed-point arithmetic on the integers k of the
values k u, for the forward pass. ``general_params(P)`` gives a parameter vector that
turns the fast paths off, so that the two can be compared.

Division by zero returns NaN: the kernels cannot raise cheaply, and the caller
(``FloatFormat.div`` or the forward pass) reports the model error. ``exp_`` rounds
the float64 ``math.exp``, which is not correctly rounded (error < 1 ulp64): the
result can be wrong only when exp(x) lies within 1 ulp64 (2^-52 relative) of a
rounding boundary of the target format; see docs/float-formats.md.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic

from .params import (EMAX, EMIN, F64, FAMILY, IEEE, KPAPER, MANT, MAXV, MINPOS, NF_NONE,
                     NONFIN, NPARAMS, OV_INF, OV_NAN, OVERFLOW, PAPER, R_AWAY, R_EVEN,
                     R_TIES_ZERO, R_ZERO, ROUNDING, SUBN)

SUM_ITERATIVE = 0
SUM_EXACT = 1

_MAG = 0x7FFFFFFFFFFFFFFF
_SIGN = -0x8000000000000000
_INF_BITS = 0x7FF0000000000000
_NAN_BITS = 0x7FF8000000000000

# Upper bound on the partials of an expansion: they are non-overlapping, so each
# holds at least one distinct bit position of the float64 range (2098 of them).
_MAX_PARTIALS = 2100


@njit(cache=True)
def _sign(x: float) -> int:
    if x > 0.0:
        return 1
    if x < 0.0:
        return -1
    return 0


@njit(cache=True)
def _iround(th, sl, mode):
    """Round t = th + tail to an integer (t >= 0, ``sl`` = sign of tail).

    Needs ``th < 2^52`` and ``|tail| < ulp(th)``; see the module docstring.
    """
    fl = math.floor(th)
    fh = th - fl
    if sl == 0:
        if fh == 0.0:
            return fl
        c = fh - 0.5
    elif fh > 0.0:
        c = fh - 0.5
        if c == 0.0:
            c = float(sl)
    elif sl > 0:
        c = -1.0            # fraction = tail in (0, 1/2)
    else:
        fl -= 1.0           # fraction = 1 + tail in (1/2, 1)
        c = 1.0
    if mode == R_ZERO:
        return fl
    if c > 0.0:
        return fl + 1.0
    if c < 0.0:
        return fl
    if mode == R_EVEN:
        return fl + (fl % 2.0)
    if mode == R_AWAY:
        return fl + 1.0
    return fl               # R_TIES_ZERO: ties to the smaller magnitude


@njit(cache=True)
def _overflow(neg, P):
    """An ieee result beyond B: inf, B (saturate, or toward zero) or NaN (as ml_dtypes'
    float8_e4m3fn conversion), with the sign of the result."""
    ov = int(P[OVERFLOW])
    if ov == OV_INF and int(P[ROUNDING]) != R_ZERO:
        r = math.inf
    elif ov == OV_NAN and int(P[ROUNDING]) != R_ZERO:
        r = math.nan
    else:
        r = P[MAXV]
    return math.copysign(r, -1.0) if neg else r       # (-NaN needs copysign in Numba)


@njit(cache=True)
def _round_ieee(a, sl, k, P):
    """Round (a + tail) * 2^k to the IEEE-like format (a > 0 finite; magnitude)."""
    m, ex = math.frexp(a)
    be = ex - 1 + k                       # exponent of the exact value
    if m == 0.5 and sl < 0:
        be -= 1                           # just below a power of two
    mant = int(P[MANT])
    emin = int(P[EMIN])
    if be > int(P[EMAX]):
        return -1.0                       # overflow marker
    if be >= emin:
        qe = be - mant
    elif P[SUBN] != 0.0:
        qe = emin - mant
    else:
        qe = emin                         # no subnormals: grid {0, 2^emin}
    if be < qe - 1:
        return 0.0                        # below a quarter quantum... below half
    th = math.ldexp(a, k - qe)
    n = _iround(th, sl, int(P[ROUNDING]))
    r = math.ldexp(n, qe)
    if r > P[MAXV]:
        return -1.0
    return r


@njit(cache=True)
def _round_paper(a, sl, k, P):
    """Round (a + tail) * 2^k to the paper's format (a > 0 finite; magnitude).

    F+ = union over E of {S * 2^(E-s) : 0 <= S <= K}, K = 4^s - 1, M_E = K*2^(E-s).
    Let E be the smallest exponent >= Emin with value <= M_E. If E = Emin, the
    members in [0, M_Emin] are exactly the multiples of 2^(Emin-s). If E > Emin,
    then M_(E-1) < value <= M_E; in units u = 2^(E-1-s) the value t lies in
    (K, 2K]. Grids E' < E stop at M_(E-1) = K*u; grids E' >= E are subsets of the
    multiples of 2u, i.e. of the even integers. So the members around t are K
    (= M_(E-1)) and the even integers in (K, 2K]: for t < K + 1 the neighbours are K
    and K + 1 (K is odd, so K + 1 is even); otherwise they are consecutive even
    integers. Ties go to the lower neighbour (smaller magnitude).
    """
    s = int(P[MANT])
    Emin = int(P[EMIN])
    Emax = int(P[EMAX])
    K = P[KPAPER]
    m, ex = math.frexp(a)
    be = ex - 1 + k
    if m == 0.5 and sl < 0:
        be -= 1
    if be < Emin - s - 1:
        return 0.0                        # below half the smallest positive value
    E0 = be + 1 - s                       # M_E0 in [2^be, 2^(be+1))
    if E0 > Emax:
        return -1.0
    if E0 < Emin:
        E = Emin
    else:
        th = math.ldexp(a, k - (E0 - s))
        if th < K or (th == K and sl <= 0):
            E = E0
        else:
            E = E0 + 1
        if E > Emax:
            return -1.0
    if E == Emin:
        th = math.ldexp(a, k - (E - s))
        n = _iround(th, sl, R_TIES_ZERO)
        return math.ldexp(n, E - s)
    u = E - 1 - s
    th = math.ldexp(a, k - u)
    if th < K + 1.0 or (th == K + 1.0 and sl < 0):
        n = _iround(th, sl, R_TIES_ZERO)
    else:
        n = 2.0 * _iround(th * 0.5, sl, R_TIES_ZERO)
    return math.ldexp(n, u)


@njit(cache=True)
def _general(P):
    """True when ``P`` carries the GENERAL flag (see `general_params`): fast paths off."""
    return P.shape[0] > NPARAMS and P[NPARAMS] != 0.0


@njit(cache=True)
def _fixed(P):
    """A paper format with e = 0: fixed point, every value k * u, u = 2^(-1-s), |k| <= K."""
    return int(P[FAMILY]) == PAPER and P[EMIN] == P[EMAX]


@njit(cache=True)
def _round_fixed(hi, sl, k, P):
    """`_round2` for fixed-point formats: nearest multiple of u = MINPOS (ties toward
    zero), clipped to +-K u. t = |hi| 2^(k + s + 1) is exact (a power-of-two scaling)
    except on overflow (inf >= K: clipped, as it should) or underflow (then the exact
    value is far below u/2 and every branch of ``_iround`` gives 0); t < K < 2^50, so
    ``_iround``'s conditions hold. Same results as ``_round_paper`` with Emin = Emax:
    there ``E0 > Emax`` or ``E > Emax`` is exactly ``exact > K u + tie``, i.e. clipping."""
    neg = hi < 0.0
    a = -hi if neg else hi
    if neg:
        sl = -sl
    K = P[KPAPER]
    t = math.ldexp(a, k + int(P[MANT]) + 1)
    if t >= K:
        n = K                              # the exact value is >= K - ulp: K or clipped
    else:
        n = _iround(t, sl, R_TIES_ZERO)
    if n == 0.0:
        return 0.0
    r = n * P[MINPOS]
    return -r if neg else r


# ------------------------------------------------------------------ fast route
#
# `fast_params(P)` appends to P what this route needs (see FAST_* below); `rnd`, `add`,
# `mul` and `div` given such a P compute the operation in float64 and round the float64
# result once, here by integer arithmetic on its bit pattern when it lies in a normal
# binade of the target and does not overflow; every other case (zero, subnormal,
# overflow, inf, NaN) goes the general way. Why this is the exact rounding:
# - rounding a float64 value is `rnd`'s job, and on a normal binade of a binary format
#   of p <= 25 significant bits it is the classic bit trick (the carry out of the
#   significand moves into the exponent), for each rounding to nearest;
# - the format's values have p significant bits, so a product is exact in float64
#   (2p <= 53), and for a sum or a quotient the float64 rounding is innocuous: with
#   53 >= 2p + 2, fl64(a op b) rounds to nearest exactly as a op b does (Figueroa, "When
#   is double rounding innocuous?", 1995), whatever the tie rule, since the exact result
#   is a midpoint of the target only when fl64 leaves it unchanged;
# - the exponent ranges are such that float64 neither overflows nor underflows.
# The paper's format e >= 1 is such a format: its positive values are the 2s-bit
# significands S * 2^(E-s), 2^(2s-1) <= S <= K, for Emin <= E <= Emax, and the multiples
# of 2^(Emin-s) below (see `_round_paper`), with ties toward zero and no overflow. The
# fixed-point formats keep their own fast route. tests/test_batch.py checks all of it
# bit for bit against the general route (exhaustively on the pairs of small formats).

#: appended by `fast_params` at NPARAMS + i: flag, shift (53 - p), float64 biased
#: exponents of the lowest and highest normal binade, tie rule, and below the lowest
#: binade (0: none, then the general route) the quantum q of the values and 1/q
FAST, FAST_SHIFT, FAST_LO, FAST_HI, FAST_TIES, FAST_Q, FAST_INVQ = range(1, 8)


@intrinsic
def _f2i(typingctx, x):
    """The bit pattern of a float64, as an int64."""
    if x == types.float64:
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], llvm_ir.IntType(64))
        return types.int64(types.float64), codegen
    return None


@intrinsic
def _i2f(typingctx, x):
    """The float64 of an int64 bit pattern."""
    if x == types.int64:
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], llvm_ir.DoubleType())
        return types.float64(types.int64), codegen
    return None


def fast_params(P: np.ndarray) -> np.ndarray:
    """``P`` with the fast route on, where the format allows it (an IEEE-like or paper
    format of at most 25 significant bits, rounding to nearest, exponents within
    +-500); else ``P`` itself. Same results as ``P``, faster."""
    P = np.asarray(P, dtype=np.float64)
    fam, mant, emin, emax = int(P[FAMILY]), int(P[MANT]), int(P[EMIN]), int(P[EMAX])
    if P.shape[0] > NPARAMS and P[NPARAMS] != 0.0:
        return P                                  # the GENERAL flag: keep it general
    if fam == IEEE and 1 <= mant <= 24 and int(P[ROUNDING]) in (R_EVEN, R_AWAY, R_TIES_ZERO):
        p, lo, hi, ties = mant + 1, emin, emax, int(P[ROUNDING])
    elif fam == PAPER and emin < emax and 1 <= 2 * mant <= 25:
        p, lo, hi, ties = 2 * mant, emin + mant - 1, emax + mant - 1, R_TIES_ZERO
    else:
        return P
    if not (-500 <= lo - p and hi <= 500):
        return P
    out = np.zeros(NPARAMS + 8, dtype=np.float64)
    out[:NPARAMS] = P[:NPARAMS]
    # float32 itself: the hardware's float64 -> float32 conversion is that rounding
    f32 = (fam == IEEE and (mant, emin, emax) == (23, -126, 127) and P[SUBN] != 0.0
           and P[OVERFLOW] == 0.0 and int(P[ROUNDING]) == R_EVEN
           and P[MAXV] == float(np.finfo(np.float32).max))
    out[NPARAMS + FAST] = 2.0 if f32 else 1.0
    out[NPARAMS + FAST_SHIFT] = 53 - p
    out[NPARAMS + FAST_LO] = lo + 1023
    out[NPARAMS + FAST_HI] = hi + 1023
    out[NPARAMS + FAST_TIES] = ties
    if fam == PAPER or P[SUBN] != 0.0:   # below the lowest binade: multiples of q
        out[NPARAMS + FAST_Q] = 2.0 ** (lo - p + 1)
        out[NPARAMS + FAST_INVQ] = 2.0 ** -(lo - p + 1)
    return out


@njit(cache=True, inline="always")
def _fast(P):
    return P.shape[0] > NPARAMS + FAST and P[NPARAMS + FAST] != 0.0


@njit(cache=True, inline="always")
def _rnd_fast(x, P):
    """`rnd` by the bit pattern on the normal binades (see the section's comment); for
    float32 (flag 2) by the hardware's conversion, which rounds to nearest even, keeps
    subnormals, and overflows to inf, as `rnd` does."""
    if P[NPARAMS + FAST] == 2.0:
        return float(np.float32(x))
    b = _f2i(x)
    mag = b & _MAG
    ex = mag >> 52
    if ex < int(P[NPARAMS + FAST_LO]) and x != 0.0 and P[NPARAMS + FAST_Q] != 0.0:
        # below the lowest binade: the nearest multiple of q (|x| / q < 2^(p-1), exact)
        t = abs(x) * P[NPARAMS + FAST_INVQ]
        ties = int(P[NPARAMS + FAST_TIES])
        if ties == R_EVEN:
            n = np.rint(t)
        elif ties == R_AWAY:
            n = math.floor(t + 0.5)
        else:
            n = math.ceil(t - 0.5)
        if n == 0.0:   # the paper's format has no -0; IEEE keeps the sign
            return 0.0 if (b >= 0 or int(P[FAMILY]) == PAPER) else -0.0
        y = n * P[NPARAMS + FAST_Q]
        return -y if b < 0 else y
    if ex < int(P[NPARAMS + FAST_LO]) or ex > int(P[NPARAMS + FAST_HI]):
        return _rnd_general(x, P)
    shift = np.int64(P[NPARAMS + FAST_SHIFT])
    half = np.int64(1) << (shift - 1)
    ties = int(P[NPARAMS + FAST_TIES])
    if ties == R_EVEN:
        r = mag + (half - 1) + ((mag >> shift) & 1)
    elif ties == R_AWAY:
        r = mag + half
    else:
        r = mag + (half - 1)
    y = _i2f(r & ~((np.int64(1) << shift) - 1))
    if y > P[MAXV]:
        return _rnd_general(x, P)
    return -y if b < 0 else y


@njit(cache=True)
def _round2(hi, sl, k, P):
    """Round (hi + tail) * 2^k, hi finite and nonzero, sign(tail) = sl, |tail| < ulp(hi)."""
    if _fixed(P) and not _general(P):
        return _round_fixed(hi, sl, k, P)
    return _round2_general(hi, sl, k, P)


@njit(cache=True)
def _round2_general(hi, sl, k, P):
    """Round (hi + tail) * 2^k, hi finite and nonzero, sign(tail) = sl, |tail| < ulp(hi)."""
    neg = hi < 0.0
    a = -hi if neg else hi
    if neg:
        sl = -sl
    if int(P[FAMILY]) == IEEE:
        r = _round_ieee(a, sl, k, P)
        if r < 0.0:
            return _overflow(neg, P)
        return -r if neg else r           # keeps -0.0 on underflow
    r = _round_paper(a, sl, k, P)
    if r < 0.0:
        return -P[MAXV] if neg else P[MAXV]
    if r == 0.0:
        return 0.0                        # the paper's format has no -0
    return -r if neg else r


@njit(cache=True)
def rnd(x, P):
    """Round a float64 value to the format.

    A NaN stays NaN, except in an ieee format without NaN (nonfinite="none"), where it
    becomes the zero of the opposite sign: ml_dtypes' conversion to its FP6 and FP4
    formats. An inf becomes inf, B or NaN as the format's overflow says."""
    if _fast(P):
        return _rnd_fast(x, P)
    return _rnd_general(x, P)


@njit(cache=True)
def _rnd_general(x, P):
    """`rnd` by the general route."""
    fam = int(P[FAMILY])
    if fam == F64:
        return x
    if x != x:
        if fam == IEEE and int(P[NONFIN]) == NF_NONE:
            return 0.0 if math.copysign(1.0, x) < 0.0 else -0.0
        return x
    if x == 0.0:
        return x if fam == IEEE else 0.0
    if math.isinf(x):
        if fam == IEEE and int(P[OVERFLOW]) in (OV_INF, OV_NAN):
            return x if int(P[OVERFLOW]) == OV_INF else math.copysign(math.nan, x)
        return P[MAXV] if x > 0 else -P[MAXV]
    return _round2(x, 0, 0, P)


@njit(cache=True)
def add(a, b, P):
    """[a + b]."""
    s = a + b
    if int(P[FAMILY]) == F64:
        return s
    if _fast(P):
        return _rnd_fast(s, P)
    if not (math.isfinite(a) and math.isfinite(b)):
        return rnd(s, P)
    if math.isinf(s):
        return _overflow(s < 0, P) if int(P[FAMILY]) == IEEE else rnd(s, P)
    if s == 0.0:
        return rnd(s, P)                  # an exact zero
    bb = s - a                            # TwoSum (Knuth): s + err == a + b exactly
    err = (a - (s - bb)) + (b - bb)
    return _round2(s, _sign(err), 0, P)


@njit(cache=True)
def sub(a, b, P):
    """[a - b]."""
    return add(a, -b, P)


@njit(cache=True)
def _two_product_err(a, b, p):
    """Exact a*b - p for p = fl(a*b), by Dekker's split (no FMA needed)."""
    c = 134217729.0 * a                   # 2^27 + 1
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def mul(a, b, P):
    """[a * b]."""
    if int(P[FAMILY]) == F64:
        return a * b
    if _fast(P):
        return _rnd_fast(a * b, P)
    if not (math.isfinite(a) and math.isfinite(b)) or a == 0.0 or b == 0.0:
        return rnd(a * b, P)
    ma, ka = math.frexp(a)                # |ma| in [1/2, 1): no under/overflow below
    mb, kb = math.frexp(b)
    p = ma * mb
    return _round2(p, _sign(_two_product_err(ma, mb, p)), ka + kb, P)


@njit(cache=True)
def div(a, b, P):
    """[a / b]; NaN when b == 0 (the caller reports the model error)."""
    if b == 0.0:
        return math.nan
    if int(P[FAMILY]) == F64:
        return a / b
    if _fast(P):
        return _rnd_fast(a / b, P)
    if not (math.isfinite(a) and math.isfinite(b)) or a == 0.0:
        return rnd(a / b, P)
    ma, ka = math.frexp(a)
    mb, kb = math.frexp(b)
    if mb < 0.0:
        ma, mb = -ma, -mb
    q = ma / mb                           # correctly rounded, |q| in (1/2, 2)
    ph = q * mb
    r = (ma - ph) - _two_product_err(q, mb, ph)   # = ma - q*mb exactly
    return _round2(q, _sign(r), ka - kb, P)


@njit(cache=True)
def exp_(x, P):
    """[exp(x)], from float64 exp (not correctly rounded; see the module docstring)."""
    return rnd(math.exp(x), P)


@njit(cache=True)
def relu(x, P):
    """[max(x, 0)]."""
    if x != x:
        return x
    return rnd(x if x > 0.0 else 0.0, P)


# ---------------------------------------------------------------------- sums

@njit(cache=True)
def sum_iterative(v, P):
    """((v0 + v1) + v2) + ..., rounded after each addition; empty sum = 0.

    v0 alone is rounded too, which leaves members of the format unchanged.
    """
    n = v.shape[0]
    if n == 0:
        return 0.0
    acc = rnd(v[0], P)
    for i in range(1, n):
        acc = add(acc, v[i], P)
    return acc


@njit(cache=True)
def _grow(parts, m, x):
    """Add x to the expansion parts[:m] (non-overlapping, increasing); return new m."""
    i = 0
    for j in range(m):
        y = parts[j]
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo != 0.0:
            parts[i] = lo
            i += 1
        x = hi
    parts[i] = x
    return i + 1


@njit(cache=True)
def _round_expansion(parts, m, P):
    """Round the exact sum of the expansion parts[:m] once.

    Sum from the top while each step is exact. At the first inexact step,
    hi = fl(x + y) with error lo != 0, and the exact sum is hi + lo + rest, rest =
    parts[:i]. All of x, y, hi, lo are multiples of lsb(y) (the higher partials are
    multiples of larger powers of two), so |lo| >= lsb(y) > |rest| (non-overlapping
    partials sum to less than the lowest bit of the next one): the remainder
    lo + rest has the sign of lo and magnitude < 2|lo| <= ulp(hi), so hi is faithful.
    """
    if m == 0:
        return rnd(0.0, P)
    i = m - 1
    hi = parts[i]
    lo = 0.0
    while i > 0:
        i -= 1
        x = hi
        y = parts[i]
        hi = x + y
        lo = y - (hi - x)
        if lo != 0.0:
            break
    if int(P[FAMILY]) == F64:
        # float64 target: math.fsum's correction of the half-way case.
        if i > 0 and ((lo < 0.0 and parts[i - 1] < 0.0) or (lo > 0.0 and parts[i - 1] > 0.0)):
            y = lo * 2.0
            x = hi + y
            if y == x - hi:
                hi = x
        return hi
    if hi == 0.0 or not math.isfinite(hi):
        return rnd(hi, P)
    return _round2(hi, _sign(lo), 0, P)


@njit(cache=True)
def exact_push(parts, m, plain, finite, x):
    """Add one term to an exact sum in progress: (partials, count, plain float sum, all
    terms finite so far) -> the new (count, plain, finite). `exact_finish` rounds it."""
    if math.isfinite(x):
        m = _grow(parts, m, x)
    else:
        finite = False
    return m, plain + x, finite


@njit(cache=True)
def exact_finish(parts, m, plain, finite, P):
    """The exact sum pushed so far, rounded once; with an inf/NaN term, IEEE semantics."""
    if not finite:
        return rnd(plain, P)
    return _round_expansion(parts, m, P)


@njit(cache=True)
def _new_parts(n):
    return np.empty(min(n, _MAX_PARTIALS) + 2, dtype=np.float64)


@njit(cache=True)
def sum_exact(v, P):
    """The exact sum of v, rounded once; empty sum = 0."""
    n = v.shape[0]
    parts = _new_parts(n)
    m = 0
    plain = 0.0
    finite = True
    for i in range(n):
        m, plain, finite = exact_push(parts, m, plain, finite, v[i])
    return exact_finish(parts, m, plain, finite, P)


@njit(cache=True)
def _dot(w, x, mode, P, parts):
    n = w.shape[0]
    if mode == SUM_ITERATIVE:
        if n == 0:
            return 0.0
        if _fast(P):  # add and mul on the fast route, inlined
            acc = _rnd_fast(w[0] * x[0], P)
            for c in range(1, n):
                acc = _rnd_fast(acc + _rnd_fast(w[c] * x[c], P), P)
            return acc
        acc = mul(w[0], x[0], P)
        for c in range(1, n):
            acc = add(acc, mul(w[c], x[c], P), P)
        return acc
    m = 0
    plain = 0.0
    finite = True
    for c in range(n):
        m, plain, finite = exact_push(parts, m, plain, finite, mul(w[c], x[c], P))
    return exact_finish(parts, m, plain, finite, P)


@njit(cache=True)
def dot(w, x, mode, P):
    """sum over c of [w[c] * x[c]], mode SUM_ITERATIVE (0) or SUM_EXACT (1)."""
    n = w.shape[0] if mode == SUM_EXACT else 0     # iterative mode needs no partials
    return _dot(w, x, mode, P, _new_parts(n))


@njit(cache=True)
def matvec(W, x, mode, P, out):
    """out[r] = dot(W[r], x, mode, P) for every row r of W."""
    parts = _new_parts(W.shape[1] if mode == SUM_EXACT else 0)
    for r in range(W.shape[0]):
        out[r] = _dot(W[r], x, mode, P, parts)


# ---------------------------------------------------------- array wrappers

@njit(cache=True)
def round_array_scalar(x, P, out):
    """out[i] = rnd(x[i]) over flat arrays (the reference for ``round_array``)."""
    for i in range(x.shape[0]):
        out[i] = rnd(x[i], P)




@njit(cache=True)
def _round_bits_ieee(xb, x, P, maxbits, ob, out):
    """IEEE fast path on the bit patterns: targets in the normal range are rounded
    by integer arithmetic on the float64 pattern (the carry out of the mantissa
    moves into the exponent); everything else goes through ``rnd``. With m = 0
    the significand's last bit is the implicit 1, so ties always go up (as in
    ``_iround``: the lower candidate is an odd multiple of its quantum)."""
    m = int(P[MANT])
    shift = 52 - m                               # >= 1 since m <= 51
    half = np.int64(1) << np.int64(shift - 1)
    low = (np.int64(1) << np.int64(shift)) - np.int64(1)
    lo_ex = int(P[EMIN]) + 1023                  # float64 biased exponent range of
    hi_ex = int(P[EMAX]) + 1023                  # the target's normal numbers
    mode = int(P[ROUNDING])
    ov = int(P[OVERFLOW])
    if mode == R_ZERO or ov not in (OV_INF, OV_NAN):
        ovf = maxbits
    else:
        ovf = np.int64(_INF_BITS) if ov == OV_INF else np.int64(_NAN_BITS)
    for i in range(xb.shape[0]):
        b = xb[i]
        mag = b & _MAG
        ex = mag >> 52
        if ex >= lo_ex and ex <= hi_ex:
            if mode == R_EVEN:
                r = mag + (half - 1) + (((mag >> shift) & 1) if m > 0 else 1)
            elif mode == R_AWAY:
                r = mag + half
            else:
                r = mag
            r = r & ~low
            if r > maxbits:
                r = ovf
            ob[i] = (r | _SIGN) if b < 0 else r
        else:
            out[i] = rnd(x[i], P)


def round_array(x: np.ndarray, P: np.ndarray, out: np.ndarray) -> None:
    """out[i] = rnd(x[i]) over flat contiguous float64 arrays (fast path for ieee)."""
    if int(P[FAMILY]) == IEEE:
        maxbits = np.array([P[MAXV]]).view(np.int64)[0]
        _round_bits_ieee(x.view(np.int64), x, P, maxbits, out.view(np.int64), out)
    else:
        round_array_scalar(x, P, out)


OP_ADD, OP_SUB, OP_MUL, OP_DIV = 0, 1, 2, 3


@njit(cache=True)
def binary_array(op, a, b, P, out):
    """out[i] = [a[i] op b[i]] over flat arrays of one length."""
    for i in range(a.shape[0]):
        if op == OP_ADD:
            out[i] = add(a[i], b[i], P)
        elif op == OP_SUB:
            out[i] = sub(a[i], b[i], P)
        elif op == OP_MUL:
            out[i] = mul(a[i], b[i], P)
        else:
            out[i] = div(a[i], b[i], P)


OP_EXP, OP_RELU = 0, 1


@njit(cache=True)
def unary_array(op, x, P, out):
    for i in range(x.shape[0]):
        out[i] = exp_(x[i], P) if op == OP_EXP else relu(x[i], P)


# ------------------------------------------------------------ general switch

def general_params(P: np.ndarray) -> np.ndarray:
    """A copy of ``P`` with the GENERAL flag: every kernel given it skips the fast paths
    (the fixed-point branch of ``_round2``) and runs the general route. For tests and
    benchmarks that compare the two."""
    out = np.empty(NPARAMS + 1, dtype=np.float64)
    out[:NPARAMS] = P[:NPARAMS]
    out[NPARAMS] = 1.0
    return out


# ----------------------------------------------------- fixed point in k-space
#
# A fixed-point format (paper, e = 0) holds the values k u, u = 2^(-1-s), integer
# |k| <= K = 4^s - 1. These kernels work on k itself, held in a float64 (k-space):
# with s <= FX_MAX_S every product of two members is an integer below 2^52 and every
# sum of up to 2^20 rounded terms is below 2^53, so all of it is exact float64
# arithmetic, and rounding a product k_a k_b (value k_a k_b u^2 = (k_a k_b / D) u,
# D = 2^(1+s)) is an integer division by D with ties toward zero, then a clip to +-K.
# They never produce -0.0 (the paper's format has no -0). tests/test_fastpath.py
# checks them bit for bit against the general kernels, exhaustively for s = 1..4.

FX_MAX_S = 13
FX_TABLE_MAX_S = 8    # exp by table up to 2K+1 = 131071 entries


def fixed_point_s(P: np.ndarray) -> int:
    """s when ``P`` is a fixed-point format that the k-space kernels handle, else 0."""
    if int(P[FAMILY]) == PAPER and P[EMIN] == P[EMAX] and int(P[MANT]) <= FX_MAX_S:
        return int(P[MANT])
    return 0


@njit(cache=True)
def fx_mul(a, b, inv_d, K):
    """k of [a u * b u] (k-space); ``inv_d`` = 1/D = u."""
    p = a * b
    n = math.ceil(abs(p) * inv_d - 0.5)    # nearest, ties toward zero; exact (see above)
    if n > K:
        n = K
    return n if p >= 0.0 else 0.0 - n       # 0.0 - 0.0 = +0.0


@njit(cache=True)
def fx_clip(x, K):
    if x > K:
        return K
    if x < -K:
        return -K
    return x


@njit(cache=True)
def fx_add(a, b, K):
    """k of [a u + b u]: the sum is exact, only the clip remains."""
    return fx_clip(a + b, K)


@njit(cache=True)
def fx_div(a, b, D, K):
    """k of [a u / b u], b != 0: round(a D / b), ties toward zero, clipped. num < 2^53,
    so floor(fl(num / den)) is the exact integer quotient."""
    num = abs(a) * D
    den = abs(b)
    q = math.floor(num / den)
    r = num - q * den
    if r + r > den:
        q += 1.0
    if q > K:
        q = K
    if q == 0.0:
        return 0.0
    return q if (a < 0.0) == (b < 0.0) else -q


@njit(cache=True)
def fx_exp(a, P, D):
    """k of [exp(a u)], by the scalar kernel ``exp_`` (so exactly its semantics)."""
    return exp_(a * P[MINPOS], P) * D


@njit(cache=True)
def fx_exp_table(P):
    """k of [exp(k' u)] for k' = -K .. K, index k' + K."""
    K = int(P[KPAPER])
    D = 1.0 / P[MINPOS]
    tab = np.empty(2 * K + 1)
    for i in range(2 * K + 1):
        tab[i] = fx_exp(float(i - K), P, D)
    return tab
