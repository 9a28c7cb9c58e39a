"""The Numba arithmetic kernels: exact rational arithmetic + the brute-force rounding
of test_floatformat.py as the oracle, and NumPy/ml_dtypes where they round once."""
from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles.rounding import brute_round, log_uniform, same_bits

from transformer_sim import DivisionByZero, FloatFormat, ModelError
from transformer_sim import fparith as fa

F = FloatFormat
OPS = {
    "add": (fa.add, lambda a, b: a + b),
    "sub": (fa.sub, lambda a, b: a - b),
    "mul": (fa.mul, lambda a, b: a * b),
    "div": (fa.div, lambda a, b: a / b),
}
SMALL = [F.paper(e, s) for e in range(4) for s in range(1, 4)] + [
    F.ieee(3, 2), F.ieee(4, 1, subnormals=False), F.ieee(3, 2, rounding="toward_zero"),
    F.ieee(4, 2, rounding="nearest_away", overflow="saturate"), F.ieee(5, 10), F.ieee(8, 7)]


def oracle(fmt: FloatFormat, op: str, a: float, b: float) -> float:
    exact = OPS[op][1](Fraction(a), Fraction(b))
    r = brute_round(fmt, exact)
    if r == 0 and fmt.family == "ieee":
        # IEEE zero signs: an exact zero sum is +0 (x - x, x + -x) except -0 + -0;
        # a rounded-to-zero or exact zero product/quotient has the sign of the result.
        if exact == 0 and op in ("add", "sub"):
            neg = math.copysign(1, a) < 0 and math.copysign(1, b if op == "add" else -b) < 0
        elif exact == 0:
            neg = (math.copysign(1, a) < 0) != (math.copysign(1, b) < 0)
        else:
            neg = exact < 0
        r = -0.0 if neg else 0.0
    return r


@st.composite
def member_pairs(draw, formats=SMALL):
    fmt = draw(st.sampled_from(formats))
    v = fmt.values()
    a = v[draw(st.integers(0, len(v) - 1))]
    b = v[draw(st.integers(0, len(v) - 1))]
    return fmt, float(a), float(b)


@pytest.mark.parametrize("op", OPS)
@given(member_pairs())
def test_ops_equal_exact_arithmetic_then_rounding(op, case):
    fmt, a, b = case
    if op == "div" and b == 0:
        assert math.isnan(fa.div(a, b, fmt.params))
        return
    got = OPS[op][0](a, b, fmt.params)
    assert same_bits(got, oracle(fmt, op, a, b)), (fmt, a, b, got)


@pytest.mark.parametrize("fmt", [F.paper(1, 1), F.paper(2, 2), F.paper(0, 3), F.ieee(3, 1),
                                 F.ieee(3, 1, rounding="toward_zero", subnormals=False),
                                 F.ieee(3, 1, rounding="nearest_away", overflow="saturate")],
                         ids=str)
def test_ops_exhaustive_on_tiny_formats(fmt):
    v = fmt.values()
    v = np.concatenate([v, [-0.0]]) if fmt.family == "ieee" else v
    A, B = (x.ravel() for x in np.meshgrid(v, v))
    P = fmt.params
    for op, (kernel, _) in OPS.items():
        for a, b in zip(A.tolist(), B.tolist()):
            if op == "div" and b == 0:
                continue
            assert same_bits(kernel(a, b, P), oracle(fmt, op, a, b)), (op, a, b)


@pytest.mark.parametrize("op", OPS)
def test_float16_ops_match_numpy(op):
    """float64 holds >= 2p + 2 bits of float16 (p = 11), so computing in float64 and
    casting to float16 rounds correctly (Figueroa) and is an oracle."""
    fmt = F.ieee(5, 10)
    rng = np.random.default_rng(hash(op) % 1000)
    every = fmt.values()
    a = rng.choice(every, 200_000)
    b = rng.choice(every, 200_000)
    if op == "div":
        b = np.where(b == 0, 1.0, b)
    with np.errstate(over="ignore", invalid="ignore"):
        want = OPS[op][1](a, b).astype(np.float16).astype(np.float64)
    got = getattr(fmt, op)(a, b)
    assert same_bits(got, want).all()


@pytest.mark.parametrize("op", OPS)
def test_bfloat16_ops_match_ml_dtypes(op):
    """bfloat16 (p = 8) via float32 (24 >= 2p + 2): compute in float32, then one
    ml_dtypes rounding. Kept to results in float32's normal range, where that holds."""
    fmt = F.ieee(8, 7)
    rng = np.random.default_rng(7 + hash(op) % 1000)
    every = fmt.values()
    a = rng.choice(every, 200_000)
    b = rng.choice(every, 200_000)
    if op == "div":
        b = np.where(b == 0, 1.0, b)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        r32 = OPS[op][1](a.astype(np.float32), b.astype(np.float32))
        want = r32.astype(ml_dtypes.bfloat16).astype(np.float64)
    keep = (np.abs(r32) >= np.finfo(np.float32).tiny) | (OPS[op][1](a, b) == 0)
    assert keep.mean() > 0.5
    got = getattr(fmt, op)(a, b)
    assert same_bits(got[keep], want[keep]).all()


def textbook_ieee_round(fmt: FloatFormat, X: Fraction) -> float:
    """IEEE rounding of an exact rational by the textbook formula (no enumeration):
    for formats too large for ``values()``."""
    if X == 0:
        return 0.0
    A = abs(X)
    emin, _ = fmt.exponent_range
    E = A.numerator.bit_length() - A.denominator.bit_length()
    while Fraction(2) ** E > A:
        E -= 1
    while Fraction(2) ** (E + 1) <= A:
        E += 1
    if E >= emin:
        q = Fraction(2) ** (E - fmt.m)
    else:
        q = Fraction(2) ** (emin - fmt.m if fmt.subnormals else emin)
    n = math.floor(A / q)
    f = A / q - n
    if fmt.rounding != "toward_zero" and (f > Fraction(1, 2) or (f == Fraction(1, 2) and (
            fmt.rounding == "nearest_away" or n % 2 == 1))):
        n += 1
    r = n * q
    if r > Fraction(fmt.max_value):
        r = fmt.max_value if (fmt.overflow == "saturate" or fmt.rounding == "toward_zero") \
            else math.inf
    return float(r) if X > 0 else -float(r)


WIDE = [F.ieee(8, 40), F.ieee(6, 30), F.ieee(10, 51), F.ieee(10, 51, rounding="nearest_away"),
        F.ieee(7, 45, rounding="toward_zero")]


def test_double_rounding_traps():
    """Exact results a hair off a midpoint, where the float64 result is the midpoint
    itself: p = 41 leaves float64 too few bits, so only the exact remainder helps."""
    fmt = F.ieee(8, 40)
    P = fmt.params
    cases = [(1.0, 2.0 ** -41 + 2.0 ** -81),                  # just above a tie: up
             (1.0 + 2.0 ** -40, 2.0 ** -41 - 2.0 ** -82),     # just below a tie: down
             (-1.0, -(2.0 ** -41 + 2.0 ** -81))]
    for a, b in cases:
        assert fmt.contains([a, b]).all()
        want = textbook_ieee_round(fmt, Fraction(a) + Fraction(b))
        naive = float(fmt.round(a + b))                       # rounds twice
        assert want != naive                                  # a real trap
        assert fa.add(a, b, P) == want
        assert fa.sum_exact(np.array([a, b]), P) == want
    # three float16 terms whose float64 sum is a float16 midpoint
    f16 = F.ieee(5, 10)
    for eps in (2.0 ** -80, -(2.0 ** -80)):
        v = np.array([1.0, 2.0 ** -11, eps])
        want = brute_round(f16, sum(map(Fraction, v.tolist())))
        assert want == (1.0 + 2.0 ** -10 if eps > 0 else 1.0)
        assert fa.sum_exact(v, f16.params) == want


@st.composite
def wide_members(draw):
    fmt = draw(st.sampled_from(WIDE))
    emin, emax = fmt.exponent_range

    def member():
        k = draw(st.integers(0, 2 ** (fmt.m + 1) - 1))
        E = draw(st.integers(emin, emax))
        x = math.ldexp(k, E - fmt.m) * draw(st.sampled_from([1, -1]))
        return float(fmt.round(x))

    return fmt, member(), member()


@pytest.mark.parametrize("op", OPS)
@given(wide_members())
def test_wide_formats_against_textbook_rounding(op, case):
    fmt, a, b = case
    if op == "div" and b == 0:
        return
    want = textbook_ieee_round(fmt, OPS[op][1](Fraction(a), Fraction(b)))
    got = OPS[op][0](a, b, fmt.params)
    assert got == want or (want == 0 and got == 0)


def test_division_by_zero():
    for fmt in (F.paper(1, 2), F.ieee(5, 10), F.float64()):
        assert math.isnan(fa.div(1.0, 0.0, fmt.params))
        assert math.isnan(fa.div(0.0, -0.0, fmt.params))
        with pytest.raises(DivisionByZero, match="division by zero") as info:
            fmt.div([1.0, 2.0], [1.0, 0.0])
        assert isinstance(info.value, ModelError) and isinstance(info.value, ValueError)
        assert isinstance(info.value, ZeroDivisionError)


def test_overflow_underflow_and_signs():
    f16 = F.ieee(5, 10)
    P = f16.params
    assert fa.mul(256.0, 256.0, P) == math.inf
    assert fa.mul(-256.0, 256.0, P) == -math.inf
    assert fa.mul(256.0, 256.0, F.ieee(5, 10, overflow="saturate").params) == 65504.0
    assert fa.mul(256.0, 256.0, F.ieee(5, 10, rounding="toward_zero").params) == 65504.0
    z = fa.mul(-(2.0 ** -14), 2.0 ** -14, P)
    assert z == 0 and math.copysign(1, z) < 0                         # underflow keeps sign
    assert math.copysign(1, fa.add(-0.0, -0.0, P)) < 0
    assert math.copysign(1, fa.sub(1.0, 1.0, P)) > 0
    assert fa.add(math.inf, 1.0, P) == math.inf
    assert math.isnan(fa.add(math.inf, -math.inf, P))
    p = F.paper(1, 2)
    assert fa.mul(3.75, 3.75, p.params) == p.max_value                # clip, no inf
    assert fa.mul(-3.75, 3.75, p.params) == -p.max_value
    assert math.copysign(1, fa.mul(-0.125, 0.125, p.params)) > 0      # no -0 in the paper
    assert fa.div(1.0, 0.125, p.params) == p.max_value


@given(member_pairs([F.paper(1, 2), F.paper(2, 3), F.ieee(4, 3), F.ieee(5, 10)]))
def test_relu_and_exp(case):
    fmt, a, _ = case
    P = fmt.params
    r = fa.relu(a, P)
    assert r == (a if a > 0 else 0.0)
    # exp is rounded from float64 exp. Compare with exp to 200 bits, rounded exactly;
    # a difference is allowed only where float64 exp lies within 2 ulp of the
    # boundary between the two candidates (documented in fparith).
    got = fa.exp_(a, P)
    with mpmath.workprec(200):
        man, ex = mpmath.exp(mpmath.mpf(a)).man_exp
    want = brute_round(fmt, Fraction(man) * Fraction(2) ** ex)
    if got != want:
        e64 = math.exp(a)
        boundary = (Fraction(got) + Fraction(want)) / 2
        assert abs(Fraction(e64) - boundary) <= 2 * Fraction(math.ulp(e64))


# ---------------------------------------------------------------------- sums

def py_sum_iterative(fmt, v):
    if len(v) == 0:
        return 0.0
    acc = brute_round(fmt, v[0]) if v[0] != 0 and math.isfinite(v[0]) else float(v[0])
    for x in v[1:]:
        # after an overflow to inf, IEEE arithmetic on inf is exact
        x = float(x)
        acc = oracle(fmt, "add", acc, x) if math.isfinite(acc + x) else acc + x
    return acc


@st.composite
def member_lists(draw, formats=SMALL, max_size=40):
    fmt = draw(st.sampled_from(formats))
    v = fmt.values()
    idx = draw(st.lists(st.integers(0, len(v) - 1), max_size=max_size))
    return fmt, v[idx].astype(np.float64)


@given(member_lists())
def test_sum_iterative_is_left_fold(case):
    fmt, v = case
    assert same_bits(fa.sum_iterative(v, fmt.params), py_sum_iterative(fmt, v))


@given(member_lists())
def test_sum_exact_rounds_once(case):
    fmt, v = case
    want = brute_round(fmt, sum(map(Fraction, v.tolist()), Fraction(0)))
    got = fa.sum_exact(v, fmt.params)
    assert got == want


@given(member_lists([F.ieee(5, 10), F.ieee(8, 7), F.paper(3, 3)], max_size=300))
def test_sum_exact_with_cancellation(case):
    """Large terms that cancel leave small ones: exercises the expansion."""
    fmt, v = case
    w = np.concatenate([v, -v[::2], v[1::3]])
    want = brute_round(fmt, sum(map(Fraction, w.tolist()), Fraction(0)))
    assert fa.sum_exact(w, fmt.params) == want


def test_sum_exact_float64_is_fsum():
    rng = np.random.default_rng(5)
    P = F.float64().params
    for _ in range(200):
        v = log_uniform(rng, rng.integers(0, 50), -60, 60)
        assert fa.sum_exact(v, P) == math.fsum(v)
        acc = 0.0
        for x in v:
            acc += x
        assert fa.sum_iterative(v, P) == (acc if len(v) else 0.0)


def test_iterative_and_exact_sums_differ():
    bf = F.ieee(8, 7)
    ones = np.ones(1000)
    it, ex = fa.sum_iterative(ones, bf.params), fa.sum_exact(ones, bf.params)
    assert (it, ex) == (py_sum_iterative(bf, ones), brute_round(bf, 1000))
    assert (it, ex) == (256.0, 1000.0)                 # 256 + 1 is a tie, back to 256
    p = F.paper(1, 2)                                  # steps of 1/8 up to 15/8, then 1/4
    eighths = np.full(20, 0.125)
    it, ex = fa.sum_iterative(eighths, p.params), fa.sum_exact(eighths, p.params)
    assert (it, ex) == (py_sum_iterative(p, eighths), brute_round(p, Fraction(20, 8)))
    assert (it, ex) == (2.0, 2.5)                      # 2 + 1/8 ties down to 2
    assert fa.sum_exact(np.zeros(0), p.params) == 0.0 == fa.sum_iterative(np.zeros(0), p.params)


@given(member_lists(max_size=20), st.integers(0, 1))
def test_dot_and_matvec(case, mode):
    fmt, x = case
    P = fmt.params
    v = fmt.values()
    rng = np.random.default_rng(len(x))
    W = rng.choice(v, (3, len(x)))
    out = np.empty(3)
    fa.matvec(W, x, mode, P, out)
    for r in range(3):
        prods = [oracle(fmt, "mul", float(a), float(b)) for a, b in zip(W[r], x)]
        if not all(map(math.isfinite, prods)):
            want = sum(prods) if mode == fa.SUM_EXACT else py_sum_iterative(
                fmt, np.array(prods))                 # inf/NaN: IEEE semantics
        elif mode == fa.SUM_EXACT:
            want = brute_round(fmt, sum(map(Fraction, prods), Fraction(0)))
            if want == 0 and fmt.family == "ieee":   # IEEE: -0 only if every term is -0
                neg = len(prods) > 0 and all(math.copysign(1, p) < 0 and p == 0 for p in prods)
                want = -0.0 if neg else 0.0
        else:
            want = py_sum_iterative(fmt, np.array(prods))
        assert same_bits([fa.dot(W[r], x, mode, P), out[r]], [want, want]).all()
        assert same_bits(fmt.dot(W[r], x, "exact" if mode else "iterative"), want)


def test_format_level_wrappers():
    p = F.paper(1, 2)
    assert p.add([1.0, 3.75], [0.125, 1.0]).tolist() == [1.125, 3.75]
    assert p.sub(0.125, 1.0).shape == ()
    assert p.mul([[1.5]], [2.0]).shape == (1, 1)
    assert p.exp([0.0, -10.0]).tolist() == [1.0, 0.0]
    assert p.relu([-1.0, 0.5]).tolist() == [0.0, 0.5]
    assert p.sum([0.125] * 20) == 2.0 and p.sum([0.125] * 20, mode="exact") == 2.5
    with pytest.raises(ValueError, match="sum mode must be 'iterative' or 'exact'"):
        p.sum([1.0], mode="pairwise")
