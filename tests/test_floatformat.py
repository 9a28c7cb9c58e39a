"""FloatFormat: rounding against NumPy float16, ml_dtypes, pychop and an exact
brute-force oracle; the paper's format against its definition; specs; bit patterns.

``brute_round`` (tests/oracles/rounding.py) is the reference rounding: the
nearest member of ``values()`` by exact ``Fraction`` comparison, with the format's
tie and overflow rules. ``values()`` itself is checked against an enumeration
straight from each definition.
"""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles.rounding import brute_round, ieee_by_definition, log_uniform, same_bits

from transformer_sim import FloatFormat, FormatError
from transformer_sim import fparith
from transformer_sim.params import NPARAMS

F = FloatFormat


def probe_points(fmt: FloatFormat) -> np.ndarray:
    """Values, midpoints, points near midpoints, beyond the ends, +-0."""
    v = fmt.values()
    mid = (v[1:] + v[:-1]) / 2
    gap = v[1:] - v[:-1]
    B = fmt.max_value
    far = [B * 1.5, B * 2, B * 4, B + (B - v[-2]) / 2, B + (B - v[-2]) / 4,
           B + 3 * (B - v[-2]) / 4, fmt.min_positive / 2, fmt.min_positive / 3,
           fmt.min_positive * 0.75, 1e-300, 1e300]
    pts = np.concatenate([v, mid, mid + gap / 8, mid - gap / 8, v[:-1] + gap / 3, far,
                          np.negative(far), [0.0, -0.0]])
    return pts


def _paper_by_definition(e: int, s: int) -> set[Fraction]:
    h = 2 ** max(0, e - 1)
    return {S * Fraction(2) ** (E - s)
            for E in range(-h, 2 ** e - 1 - h + 1)
            for S in range(-(2 ** (2 * s) - 1), 2 ** (2 * s))}


SMALL_PAPER = [F.paper(e, s) for e in range(4) for s in range(1, 4)]
SMALL_IEEE = [F.ieee(e, m, subnormals=sub, overflow=ov, rounding=rd)
              for (e, m) in [(2, 1), (3, 2), (3, 0), (4, 1)]
              for sub in (True, False)
              for ov in ("inf", "saturate")
              for rd in ("nearest_even", "toward_zero", "nearest_away")]


# ------------------------------------------------------------------ values()

@pytest.mark.parametrize("fmt", SMALL_PAPER, ids=str)
def test_paper_values_follow_the_definition(fmt):
    v = fmt.values()
    assert np.all(np.diff(v) > 0)
    assert {Fraction(float(x)) for x in v} == _paper_by_definition(fmt.e, fmt.s)
    assert fmt.num_values == len(v)
    assert fmt.max_value == v[-1] and fmt.min_positive == v[v > 0][0]
    assert fmt.is_fixed_point == (fmt.e == 0)


@pytest.mark.parametrize("fmt", [f for f in SMALL_IEEE if f.rounding == "nearest_even"
                                 and f.overflow == "inf"], ids=str)
def test_small_ieee_values_follow_the_definition(fmt):
    v = fmt.values()
    assert np.all(np.diff(v) > 0)
    assert {Fraction(float(x)) for x in v} == ieee_by_definition(fmt.e, fmt.m, fmt.subnormals)
    assert fmt.num_values == len(v)
    assert fmt.max_value == v[-1] and fmt.min_positive == v[v > 0][0]


@pytest.mark.parametrize("fmt,dtype", [(F.ieee(5, 10), np.float16),
                                       (F.ieee(8, 7), ml_dtypes.bfloat16),
                                       (F.ieee(5, 2), ml_dtypes.float8_e5m2)], ids=str)
def test_ieee_values_are_all_finite_values_of_the_dtype(fmt, dtype):
    udt = np.uint16 if fmt.bit_width == 16 else np.uint8
    with np.errstate(invalid="ignore"):
        every = np.arange(2 ** fmt.bit_width, dtype=udt).view(dtype).astype(np.float64)
    finite = np.unique(every[np.isfinite(every)])      # -0 and +0 merge
    assert np.array_equal(fmt.values(), finite)
    assert fmt.num_values == len(finite)
    assert fmt.max_value == float(ml_dtypes.finfo(dtype).max)


def test_values_refuses_large_formats():
    with pytest.raises(FormatError, match="values\\(\\) enumerates at most"):
        F.float64().values()
    with pytest.raises(FormatError, match="has .* values"):
        F.ieee(10, 20).values()


# ------------------------------------------------------------------ IEEE vs NumPy / ml_dtypes

def test_float16_bit_for_bit_with_numpy():
    fmt = F.ieee(5, 10)
    every = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64)
    v = fmt.values()
    mids = (v[1:] + v[:-1]) / 2
    rng = np.random.default_rng(16)
    rand = np.concatenate([log_uniform(rng, 10 ** 6, -30, 18),   # subnormal .. overflow
                           rng.standard_normal(1000),
                           [0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324,
                            -5e-324, 65504.0, 65519.99, 65520.0, -65520.0,
                            2.0 ** -25, -(2.0 ** -25), 2.0 ** -25 * 1.0000001]])
    for x in (every, mids, rand):
        with np.errstate(over="ignore"):
            want = x.astype(np.float16).astype(np.float64)
        assert same_bits(fmt.round(x), want).all()
    # +-0 keep their sign, and so do underflows
    assert np.signbit(fmt.round(np.array([-0.0, -1e-10, 1e-10]))).tolist() == [True, True, False]


@pytest.mark.parametrize("fmt,dtype", [(F.ieee(8, 7), ml_dtypes.bfloat16),
                                       (F.ieee(5, 2), ml_dtypes.float8_e5m2)], ids=str)
def test_ml_dtypes_bit_for_bit(fmt, dtype):
    udt = np.uint16 if fmt.bit_width == 16 else np.uint8
    with np.errstate(invalid="ignore"):
        every = np.arange(2 ** fmt.bit_width, dtype=udt).view(dtype).astype(np.float64)
    v = fmt.values()
    mids = (v[1:] + v[:-1]) / 2
    lo = np.log2(fmt.min_positive) - 3
    hi = np.log2(fmt.max_value) + 2
    rng = np.random.default_rng(fmt.bit_width)
    # float32-valued inputs: ml_dtypes converts them with one rounding.
    with np.errstate(over="ignore"):
        rand32 = log_uniform(rng, 10 ** 6, lo, hi).astype(np.float32).astype(np.float64)
    for x in (every, mids, rand32):
        with np.errstate(over="ignore"):
            want = x.astype(dtype).astype(np.float64)
        assert same_bits(fmt.round(x), want).all()


@pytest.mark.parametrize("fmt,dtype", [(F.ieee(8, 7), ml_dtypes.bfloat16),
                                       (F.ieee(5, 2), ml_dtypes.float8_e5m2)], ids=str)
def test_ml_dtypes_on_float64_inputs(fmt, dtype):
    """ml_dtypes converts float64 through float32, so it rounds twice; we round once.
    Every disagreement must be such a double rounding, and ours the exact one."""
    rng = np.random.default_rng(64 + fmt.bit_width)
    x = log_uniform(rng, 10 ** 6, np.log2(fmt.min_positive) - 3, np.log2(fmt.max_value) + 2)
    with np.errstate(over="ignore"):
        theirs = x.astype(dtype).astype(np.float64)
        via32 = x.astype(np.float32).astype(dtype).astype(np.float64)
    ours = fmt.round(x)
    diff = ~same_bits(ours, theirs)
    assert diff.sum() < 100
    assert same_bits(theirs[diff], via32[diff]).all()
    for xi, oi in zip(x[diff], ours[diff]):
        assert oi == brute_round(fmt, xi)


# ------------------------------------------------------------------ IEEE vs pychop

@pytest.mark.parametrize("e,m", [(4, 3), (6, 5), (3, 1), (7, 12), (4, 0)])
def test_other_widths_against_pychop(e, m):
    from pychop import Chop
    fmt = F.ieee(e, m)
    chop = Chop(exp_bits=e, sig_bits=m, rmode=1, subnormal=True)
    rng = np.random.default_rng(100 * e + m)
    x = log_uniform(rng, 200_000, np.log2(fmt.min_positive) - 3, np.log2(fmt.max_value))
    # pychop maps overflow to 0 or a wrong power of two, so stay within +-max here;
    # overflow is checked against the brute-force oracle below.
    x = x[np.abs(x) <= fmt.max_value]
    want = np.asarray(chop(x.copy()), dtype=np.float64)
    assert same_bits(fmt.round(x), want).all()


# ------------------------------------------------------------------ IEEE vs the oracle

@pytest.mark.parametrize("fmt", SMALL_IEEE, ids=str)
def test_small_ieee_against_brute_force(fmt):
    x = probe_points(fmt)
    got = fmt.round(x)
    want = np.array([brute_round(fmt, xi) for xi in x])
    assert same_bits(got, want).all(), x[~same_bits(got, want)][:5]
    # specials
    B = fmt.max_value
    big = np.inf if fmt.overflow == "inf" else B
    assert same_bits(fmt.round(np.array([np.inf, -np.inf, np.nan])), [big, -big, np.nan]).all()


@given(st.sampled_from(SMALL_IEEE + [F.ieee(5, 10, rounding="toward_zero"),
                                     F.ieee(5, 10, rounding="nearest_away"),
                                     F.ieee(5, 10, overflow="saturate")]),
       st.floats(allow_nan=False, allow_infinity=False))
def test_ieee_round_hypothesis(fmt, x):
    assert same_bits(fmt.round(x), brute_round(fmt, x)).all()


def test_fast_path_equals_scalar_kernel():
    rng = np.random.default_rng(7)
    x = np.concatenate([log_uniform(rng, 20_000, -1080, 1023),
                        log_uniform(rng, 20_000, -30, 20),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324]])
    for fmt in SMALL_IEEE + [F.ieee(5, 10), F.ieee(8, 7), F.ieee(10, 51), F.ieee(2, 51)]:
        ref = np.empty_like(x)
        fparith.round_array_scalar(x, fmt.params, ref)
        assert same_bits(fmt.round(x), ref).all(), fmt


# ------------------------------------------------------------------ the paper's format

@pytest.mark.parametrize("fmt", SMALL_PAPER, ids=str)
def test_paper_rounding_exhaustive(fmt):
    v = fmt.values()
    x = probe_points(fmt)
    got = fmt.round(x)
    members = set(v.tolist())
    assert all(g in members for g in got.tolist())                       # result in F
    assert same_bits(got, [brute_round(fmt, xi) for xi in x]).all()       # the nearest
    assert np.array_equal(fmt.round(v), v)                                # idempotent
    assert np.array_equal(fmt.round(got), got)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(got[order]) >= 0)                               # monotone
    # ties go to the smaller magnitude
    mids = (v[1:] + v[:-1]) / 2
    smaller = np.where(np.abs(v[1:]) < np.abs(v[:-1]), v[1:], v[:-1])
    assert np.array_equal(fmt.round(mids), smaller)
    # clipping to +-B, no inf and no NaN for infinite input
    B = fmt.max_value
    assert fmt.round(np.array([B * 1.0001, 1e300, np.inf])).tolist() == [B, B, B]
    assert fmt.round(np.array([-B * 1.0001, -1e300, -np.inf])).tolist() == [-B, -B, -B]
    assert not np.signbit(fmt.round(np.array([-0.0, -fmt.min_positive / 4]))).any()


@given(st.sampled_from(SMALL_PAPER + [F.paper(5, 7), F.paper(10, 25), F.paper(0, 25)]),
       st.floats(allow_nan=False))
def test_paper_round_hypothesis(fmt, x):
    r = float(fmt.round(x))
    if np.isinf(x):
        assert r == np.copysign(fmt.max_value, x)
        return
    if fmt.num_values <= 100_000:
        assert r == brute_round(fmt, x)
    assert float(fmt.round(r)) == r
    assert abs(r) <= fmt.max_value


@given(st.sampled_from(SMALL_PAPER), st.floats(-20, 20), st.floats(-20, 20))
def test_paper_round_monotone(fmt, a, b):
    lo, hi = min(a, b), max(a, b)
    assert fmt.round(lo) <= fmt.round(hi)


def test_paper_large_formats_agree_with_brute_force_on_random_points():
    rng = np.random.default_rng(3)
    for fmt in (F.paper(5, 5), F.paper(4, 8)):
        B = fmt.max_value
        x = log_uniform(rng, 3000, np.log2(fmt.min_positive) - 3, np.log2(B) + 1)
        v = fmt.values()
        # points right at and next to midpoints stress the tie rule
        mids = (v[1:] + v[:-1]) / 2
        picks = rng.choice(mids, 3000)
        x = np.concatenate([x, picks, np.nextafter(picks, np.inf), np.nextafter(picks, -np.inf)])
        assert same_bits(fmt.round(x), [brute_round(fmt, xi) for xi in x]).all()


# ------------------------------------------------------------------ bit patterns

@pytest.mark.parametrize("fmt,dtype,udt", [(F.ieee(5, 10), np.float16, np.uint16),
                                           (F.ieee(8, 7), ml_dtypes.bfloat16, np.uint16),
                                           (F.ieee(5, 2), ml_dtypes.float8_e5m2, np.uint8)],
                         ids=str)
def test_ieee_encode_decode_match_dtype_bits(fmt, dtype, udt):
    v = np.concatenate([fmt.values(), [-0.0, np.inf, -np.inf]])
    bits = fmt.encode(v)
    assert bits.dtype == udt and fmt.bit_width == 8 * np.dtype(udt).itemsize
    assert np.array_equal(bits, v.astype(dtype).view(udt))
    assert same_bits(fmt.decode(bits), v).all()
    every = np.arange(2 ** fmt.bit_width, dtype=udt)
    with np.errstate(invalid="ignore"):
        want = every.view(dtype).astype(np.float64)
    assert same_bits(fmt.decode(every), want).all()
    assert np.isnan(fmt.decode(fmt.encode(np.nan)))


@pytest.mark.parametrize("fmt", SMALL_PAPER + SMALL_IEEE[:12], ids=str)
def test_encode_is_a_bijection_on_values(fmt):
    v = fmt.values()
    bits = fmt.encode(v)
    assert len(set(bits.tolist())) == len(v)                     # injective
    assert int(bits.max()) < 2 ** fmt.bit_width
    assert np.array_equal(fmt.decode(bits), v)                   # decode o encode = id
    if fmt.family == "paper":
        every = fmt.decode(np.arange(2 ** fmt.bit_width))        # every pattern is a value
        assert set(every.tolist()) == set(v.tolist())
        # canonical: the smallest exponent whose range holds |x|
        assert np.array_equal(fmt.encode(fmt.decode(bits)), bits)


def test_paper_encoding_layout():
    fmt = F.paper(1, 1)                       # 1 sign + 1 exponent + 2 significand bits
    assert fmt.bit_width == 4
    # 1.5 = 3 * 2^(0-1): E = 0 (field 1), S = 3; -0.25 = 1 * 2^(-1-1): E = -1 (field 0)
    assert fmt.encode([1.5, -0.25, 0.0]).tolist() == [0b0111, 0b1001, 0]


def test_encode_decode_errors():
    with pytest.raises(FormatError, match="not representable in ieee:e=5,m=10"):
        F.ieee(5, 10).encode([1.0, 0.1])
    with pytest.raises(FormatError, match="not representable in paper:e=1,s=1"):
        F.paper(1, 1).encode(np.inf)
    with pytest.raises(FormatError, match="wider than 4 bits"):
        F.paper(1, 1).decode([16])
    with pytest.raises(FormatError, match="has no value"):
        F.ieee(4, 3, overflow="saturate").decode([0b01111000])      # +inf
    with pytest.raises(FormatError, match="has no value"):
        F.ieee(4, 3, subnormals=False).decode([1])                  # a subnormal


def test_contains():
    f16 = F.ieee(5, 10)
    assert f16.contains([1.0, 0.1, np.inf, np.nan, -0.0]).tolist() == [True, False, True,
                                                                        True, True]
    sat = F.ieee(5, 10, overflow="saturate")
    assert not sat.contains(np.inf)
    p = F.paper(1, 2)
    assert p.contains(p.values()).all()
    assert p.is_representable([np.inf, np.nan, 1.0 / 3]).tolist() == [False, False, False]


# ------------------------------------------------------------------ specs and validation

FORMATS = SMALL_PAPER + SMALL_IEEE + [F.float64(), F.ieee(5, 10), F.paper(10, 25)]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_spec_round_trip(fmt):
    assert F.parse(fmt.spec) == fmt
    assert str(fmt) == fmt.spec
    assert F.parse(f"  {fmt.spec}  ") == fmt
    assert repr(fmt) == f"FloatFormat.parse({fmt.spec!r})"


@given(st.integers(2, 10), st.integers(0, 51), st.booleans(),
       st.sampled_from(["inf", "saturate"]),
       st.sampled_from(["nearest_even", "toward_zero", "nearest_away"]))
def test_ieee_spec_round_trip_hypothesis(e, m, sub, ov, rd):
    fmt = F.ieee(e, m, subnormals=sub, overflow=ov, rounding=rd)
    assert F.parse(fmt.spec) == fmt and hash(F.parse(fmt.spec)) == hash(fmt)


def test_names():
    assert F.parse("float16") == F.ieee(5, 10)
    assert F.parse("bfloat16") == F.ieee(8, 7)
    assert F.parse("e5m2") == F.ieee(5, 2)
    assert F.parse("float64") == F.float64()
    assert F.parse("paper:e=0,s=2") == F.paper(0, 2) and F.paper(0, 2).is_fixed_point
    assert F.parse("ieee:e=4,m=3,rounding=toward_zero,subnormals=0") == \
        F.ieee(4, 3, subnormals=False, rounding="toward_zero")


@pytest.mark.parametrize("spec,message", [
    ("", "empty format spec"),
    ("fp16", "unknown format 'fp16'"),
    ("paper", "needs parameters"),
    ("paper:e=1", "missing s="),
    ("ieee:m=3", "missing e="),
    ("paper:e=1,s=2,m=3", "unknown key 'm' for paper"),
    ("ieee:e=5,m=10,e=3", "e given twice"),
    ("ieee:e=5,m=ten", "m must be an integer, got 'ten'"),
    ("ieee:e=5,m=10,subnormals=yes", "subnormals must be 0 or 1"),
    ("ieee:e=5,m=10,overflow=wrap", "overflow must be one of inf, saturate, got 'wrap'"),
    ("ieee:e=5,m=10,rounding=up", "rounding must be one of nearest_even, toward_zero"),
    ("ieee:e=5,m=52", "mantissa_bits must be between 0 and 51 .*, got 52"),
    ("ieee:e=1,m=3", "exponent_bits must be between 2 and 10, got 1"),
    ("paper:e=-1,s=2", "e must be between 0 and 10 .*, got -1"),
    ("paper:e=1,s=0", "s must be between 1 and 25 .*, got 0"),
    ("paper:e=1,s=26", "s must be between 1 and 25 .*, got 26"),
    ("paper:e=1,,s=2", "expected key=value"),
])
def test_invalid_specs(spec, message):
    with pytest.raises(FormatError, match=message) as info:
        F.parse(spec)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_invalid_constructor_arguments():
    with pytest.raises(FormatError, match="exponent_bits must be between 2 and 10, got -3"):
        F.ieee(-3, 2)
    with pytest.raises(FormatError, match="mantissa_bits must be between 0 and 51 .*, got -1"):
        F.ieee(5, -1)
    with pytest.raises(FormatError, match="must be an integer, got 2.5"):
        F.paper(1, 2.5)
    with pytest.raises(FormatError, match="rounding must be one of"):
        F.ieee(5, 10, rounding="stochastic")
    with pytest.raises(FormatError, match="paper format: overflow is always 'saturate'"):
        F("paper", e=1, s=1, overflow="inf")
    with pytest.raises(FormatError, match="unknown format family 'posit'"):
        F("posit")
    with pytest.raises(FormatError, match="float64 format takes no parameters"):
        F("float64", e=3)


def test_params_vector():
    P = F.paper(2, 3).params
    assert P.dtype == np.float64 and P.shape == (NPARAMS,) and NPARAMS == 11
    P[0] = 99                                               # a fresh copy each time
    assert F.paper(2, 3).params[0] != 99
    assert F.float64().params[0] == 0


def test_import_loads_no_numba():
    code = ("import sys; from transformer_sim import FloatFormat as F; "
            "f = F.parse('bfloat16'); f.spec; f.values(); f.params; f.max_value; "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paper_example_table_in_docs():
    """docs/float-formats.md lists the values of paper:e=1,s=1; keep them in sync."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "float-formats.md").read_text()
    fmt = F.paper(1, 1)
    for v, b in zip(fmt.values(), fmt.encode(fmt.values())):
        assert f"| {v:g} | `{int(b):04b}` |" in doc
