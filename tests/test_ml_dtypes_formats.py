"""The FP8, FP6 and FP4 formats under ml_dtypes' names, bit for bit against ml_dtypes.

ml_dtypes (an oracle cotsim did not write) converts float64 and float32 to each of them
with one rounding, to nearest even; "fn" formats have no infinities, and what overflow
gives differs per format (found by experiment, below): NaN in float8_e4m3fn, inf in the
IEEE-like float8_e4m3/e3m4/e5m2, the largest value in the FP6/FP4 formats, which have no
NaN (a NaN converts to the zero of the opposite sign there). Compared: every value, every
tie between neighbours (both signs), the floats just above and below each tie, the
overflow boundary and beyond, subnormals, signed zeros, NaN and inf, random float64 and
float32 inputs, through the vectorised ``round`` and the scalar kernel; bit patterns
(``encode``/``decode``) against the dtype's; and +, -, *, / on every pair of values.
The saturating variants (``,overflow=saturate``) are checked against ml_dtypes inside the
range and against the exact brute-force rounding everywhere.
"""
from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracles.rounding import brute_round, ieee_by_definition, log_uniform, same_bits

from transformer_sim import FloatFormat as F
from transformer_sim import FormatError, fparith

NAMES = ("float8_e4m3fn", "float8_e4m3", "float8_e3m4", "float8_e5m2", "float6_e2m3fn",
         "float6_e3m2fn", "float4_e2m1fn")
#: what ml_dtypes' conversion does past the largest value (checked below, per format)
OVERFLOW = {"float8_e4m3fn": "nan", "float8_e4m3": "inf", "float8_e3m4": "inf",
            "float8_e5m2": "inf", "float6_e2m3fn": "saturate", "float6_e3m2fn": "saturate",
            "float4_e2m1fn": "saturate"}


def dtype(name: str):
    return getattr(ml_dtypes, name)


def theirs(x: np.ndarray, name: str) -> np.ndarray:
    """ml_dtypes' conversion of float64 values, back in float64."""
    with np.errstate(all="ignore"):
        return np.asarray(x, np.float64).astype(dtype(name)).astype(np.float64)


def their_bits(x: np.ndarray, name: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(x, np.float64).astype(dtype(name)).view(np.uint8)


def every_pattern(name: str) -> np.ndarray:
    return np.arange(2 ** ml_dtypes.finfo(dtype(name)).bits, dtype=np.uint8)


def scalar_round(fmt: F, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.size)
    fparith.round_array_scalar(np.ascontiguousarray(x, np.float64), fmt.params, out)
    return out


def probe(fmt: F) -> np.ndarray:
    """Values, ties between neighbours (both signs: values() is symmetric), the floats
    next to them, the overflow tie B + gap/2 and around it, far beyond, and specials."""
    v = fmt.values()
    mid = (v[1:] + v[:-1]) / 2                     # exact in float64
    B, gap = fmt.max_value, v[-1] - v[-2]
    top = np.array([B, B + gap / 2, B + gap, B + 3 * gap / 2, 2 * B, 1e300, 5e-324,
                    fmt.min_positive / 2, fmt.min_positive / 4])
    top = np.concatenate([top, -top])
    near = np.concatenate([mid, top])
    return np.concatenate([v, near, np.nextafter(near, np.inf), np.nextafter(near, -np.inf),
                           [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan]])


# ---------------------------------------------------------------- names and value sets
@pytest.mark.parametrize("name", NAMES)
def test_values_are_the_finite_values_of_the_dtype(name):
    fmt = F.parse(name)
    with np.errstate(invalid="ignore"):
        every = every_pattern(name).view(dtype(name)).astype(np.float64)
    finite = np.unique(every[np.isfinite(every)])            # -0 and +0 merge
    assert np.array_equal(fmt.values(), finite) and fmt.num_values == finite.size
    info = ml_dtypes.finfo(dtype(name))
    assert fmt.bit_width == info.bits
    assert fmt.max_value == float(info.max)
    assert fmt.min_positive == float(info.smallest_subnormal)
    assert fmt.has_nan == bool(np.isnan(every).any())
    assert fmt.has_inf == bool(np.isinf(every).any())
    assert fmt.exponent_bits == info.nexp and fmt.mantissa_bits == info.nmant


def test_e4m3fn_top_of_the_range():
    """0x7F and 0xFF are NaN, so the top binade stops at 1.75 * 2^8 = 448, and the
    rounding boundary above it is the tie with the missing 480, at 464."""
    f = F.parse("float8_e4m3fn")
    assert f.max_value == 448.0 and f.values()[-2:].tolist() == [416.0, 448.0]
    assert np.isnan(f.decode([0x7F, 0xFF])).all() and f.encode([448.0]).tolist() == [0x7E]
    x = np.array([449.0, 463.99, 464.0, np.nextafter(464.0, 0), np.nextafter(464.0, 1e9),
                  470.0, 480.0, 1e6, -464.0, -464.5])
    got = f.round(x)
    assert same_bits(got, [448, 448, 448, 448, np.nan, np.nan, np.nan, np.nan, -448,
                           np.nan]).all()
    assert same_bits(got, theirs(x, "float8_e4m3fn")).all()
    sat = F.parse("float8_e4m3fn,overflow=saturate")
    assert same_bits(sat.round(x), [448, 448, 448, 448, 448, 448, 448, 448, -448,
                                    -448]).all()


@pytest.mark.parametrize("name", NAMES)
def test_overflow_is_what_ml_dtypes_does(name):
    """Found by experiment: what ml_dtypes gives past B, per format, and ours agrees."""
    fmt = F.parse(name)
    v = fmt.values()
    beyond = np.array([fmt.max_value + (v[-1] - v[-2]), 1e30, np.inf])
    got = theirs(beyond, name)
    seen = "nan" if np.isnan(got).all() else "inf" if np.isinf(got).all() else \
        "saturate" if (got == fmt.max_value).all() else "mixed"
    assert seen == OVERFLOW[name] == fmt.overflow
    assert same_bits(fmt.round(beyond), got).all()
    assert same_bits(fmt.round(-beyond), theirs(-beyond, name)).all()


def test_names_specs_and_options():
    assert F.parse("float8_e5m2") == F.parse("e5m2") == F.ieee(5, 2)
    assert F.parse("float8_e4m3") == F.ieee(4, 3)
    assert F.parse("float8_e3m4") == F.ieee(3, 4)
    e4m3fn = F.parse("float8_e4m3fn")
    assert e4m3fn == F.ieee(4, 3, nonfinite="nan") and e4m3fn.overflow == "nan"
    assert e4m3fn.spec == "ieee:e=4,m=3,nonfinite=nan"
    sat = F.parse("float8_e4m3fn,overflow=saturate")
    assert sat == F.ieee(4, 3, nonfinite="nan", overflow="saturate") != e4m3fn
    assert sat.spec == "ieee:e=4,m=3,nonfinite=nan,overflow=saturate"
    assert F.parse(" float8_e4m3fn , overflow=saturate ") == sat
    assert F.parse("float4_e2m1fn") == F.ieee(2, 1, nonfinite="none")
    assert F.parse("float4_e2m1fn").overflow == "saturate"
    assert F.parse("e5m2,overflow=saturate") == F.ieee(5, 2, overflow="saturate")
    for name in NAMES:
        f = F.parse(name)
        assert F.parse(f.spec) == f and hash(F.parse(f.spec)) == hash(f)
        with pytest.raises(Exception):
            f.e = 3                                            # frozen


@pytest.mark.parametrize("spec,message", [
    ("float8_e4m3fn,overflow=inf", "overflow must be one of nan, saturate with "
                                   "nonfinite=nan, got 'inf'"),
    ("float6_e2m3fn,overflow=nan", "overflow must be one of saturate with nonfinite=none"),
    ("float8_e4m3,overflow=nan", "overflow must be one of inf, saturate, got 'nan'"),
    ("float8_e4m3fn,m=2", "a name takes only subnormals, overflow, rounding as options"),
    ("float64,overflow=saturate", "float64 takes no options"),
    ("ieee:e=4,m=0,nonfinite=nan", "nonfinite=nan needs mantissa_bits >= 1"),
    ("ieee:e=4,m=3,nonfinite=fn", "nonfinite must be one of ieee, nan, none, got 'fn'"),
    ("float8_e4m3fnuz", "unknown format 'float8_e4m3fnuz'"),
])
def test_invalid_specs(spec, message):
    with pytest.raises(FormatError, match=message):
        F.parse(spec)


def test_invalid_constructor_arguments():
    with pytest.raises(FormatError, match="paper format: has no inf or NaN"):
        F("paper", e=1, s=1, nonfinite="nan")
    with pytest.raises(FormatError, match="float64 format takes no parameters"):
        F("float64", nonfinite="none")
    with pytest.raises(FormatError, match="overflow must be one of saturate with "
                                          "nonfinite=none, got 'inf'"):
        F.ieee(2, 1, nonfinite="none", overflow="inf")


# ---------------------------------------------------------------- rounding
@pytest.mark.parametrize("name", NAMES)
def test_round_bit_for_bit_on_values_ties_and_boundaries(name):
    fmt = F.parse(name)
    x = probe(fmt)
    want = theirs(x, name)
    assert same_bits(fmt.round(x), want).all(), x[~same_bits(fmt.round(x), want)][:5]
    assert same_bits(scalar_round(fmt, x), want).all()
    # signs of zeros and NaNs too: through the bit patterns
    assert np.array_equal(fmt.encode(fmt.round(x)), their_bits(x, name))
    # the probe exercises what it claims: exact ties that round down and up
    v = fmt.values()
    mid = (v[1:] + v[:-1]) / 2
    r = fmt.round(mid[np.abs(mid) < fmt.max_value])
    assert (r == v[:-1][np.abs(mid) < fmt.max_value]).any()
    assert (r == v[1:][np.abs(mid) < fmt.max_value]).any()
    assert (fmt.round(x) == 0).any() and (np.abs(fmt.round(x)) == fmt.min_positive).any()


@pytest.mark.parametrize("name", NAMES)
def test_round_on_random_float64_and_float32(name):
    fmt = F.parse(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    lo, hi = math.log2(fmt.min_positive) - 4, math.log2(fmt.max_value) + 3
    x = log_uniform(rng, 200_000, lo, hi)
    for inputs in (x, x.astype(np.float32).astype(np.float64)):
        want = theirs(inputs, name)
        assert same_bits(fmt.round(inputs), want).all()
        assert same_bits(scalar_round(fmt, inputs), want).all()
    x32 = x.astype(np.float32)
    with np.errstate(all="ignore"):
        from32 = x32.astype(dtype(name)).astype(np.float64)     # ml_dtypes from float32
    assert same_bits(fmt.round(x32.astype(np.float64)), from32).all()


@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(NAMES))
def test_round_hypothesis(x, name):
    fmt = F.parse(name)
    arr = np.array([x])
    assert np.array_equal(fmt.encode(fmt.round(arr)), their_bits(arr, name))
    assert same_bits(scalar_round(fmt, arr), theirs(arr, name)).all()


SATURATING = [F.parse(f"{n},overflow=saturate") for n in NAMES] + \
    [F.parse(f"{n},rounding={r}") for n in ("float8_e4m3fn", "float6_e3m2fn")
     for r in ("toward_zero", "nearest_away")] + \
    [F.parse("float8_e4m3fn,subnormals=0")]


@pytest.mark.parametrize("fmt", SATURATING, ids=str)
def test_variants_against_brute_force(fmt):
    x = probe(fmt)
    finite = np.isfinite(x)
    want = np.array([brute_round(fmt, xi) for xi in x[finite]])
    assert same_bits(fmt.round(x[finite]), want).all()
    assert same_bits(scalar_round(fmt, x[finite]), want).all()
    if fmt.overflow == "saturate":
        B = fmt.max_value
        assert same_bits(fmt.round(np.array([np.inf, -np.inf])), [B, -B]).all()


@pytest.mark.parametrize("name", NAMES)
def test_saturate_agrees_with_ml_dtypes_inside_the_range(name):
    sat = F.parse(f"{name},overflow=saturate")
    x = probe(sat)
    want = theirs(x, name)
    inside = np.isfinite(want) | np.isnan(x)
    assert same_bits(sat.round(x[inside]), want[inside]).all()
    assert (np.abs(sat.round(x[~inside])) == sat.max_value).all()


# ---------------------------------------------------------------- bit patterns
@pytest.mark.parametrize("name", NAMES)
def test_encode_decode_are_the_dtype_bits(name):
    fmt = F.parse(name)
    every = every_pattern(name)
    with np.errstate(invalid="ignore"):
        want = every.view(dtype(name)).astype(np.float64)
    assert same_bits(fmt.decode(every), want).all()
    v = np.concatenate([fmt.values(), [-0.0]])
    assert np.array_equal(fmt.encode(v), their_bits(v, name))
    if fmt.has_nan:
        assert np.array_equal(fmt.encode([np.nan, -np.nan]), their_bits([np.nan, -np.nan],
                                                                        name))
    else:
        with pytest.raises(FormatError, match="not representable"):
            fmt.encode([np.nan])
    if not fmt.has_inf:
        with pytest.raises(FormatError, match="not representable"):
            fmt.encode([np.inf])
    assert not fmt.contains([np.inf]).any() if not fmt.has_inf else fmt.contains([np.inf])


# ---------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("name", NAMES)
def test_arithmetic_on_every_pair_of_values(name):
    """Sums, differences and products of two values are exact in float64 and quotients
    have 53 >= 2p + 2 bits (one rounding to the narrow format is then the same as two,
    Figueroa), so ml_dtypes' conversion of the float64 result is the correct rounding."""
    fmt = F.parse(name)
    v = fmt.values()
    a, b = (g.reshape(-1) for g in np.meshgrid(v, v))
    with np.errstate(all="ignore"):
        for mine, exact in ((fmt.add, a + b), (fmt.sub, a - b), (fmt.mul, a * b)):
            assert same_bits(mine(a, b), theirs(exact, name)).all()
        nz = b != 0
        assert same_bits(fmt.div(a[nz], b[nz]), theirs(a[nz] / b[nz], name)).all()
    # the pairs reach the overflow and the underflow
    assert (np.abs(a + b) > fmt.max_value).any() and (np.abs(a * b) < fmt.min_positive).any()


# ---------------------------------------------------------------- softmax width
def test_softmax_positions_from_ml_dtypes_finfo():
    """floor(min(1, max) / smallest positive), after Li and Cotterell (2025), from the
    dtype's own finfo."""
    for name in NAMES + ("bfloat16", "float16"):
        info = ml_dtypes.finfo(dtype(name)) if name != "float16" else np.finfo(np.float16)
        top = min(Fraction(1), Fraction(float(info.max)))
        want = math.floor(top / Fraction(float(info.smallest_subnormal)))
        assert F.parse(name).softmax_positions() == want
    assert F.parse("bfloat16").softmax_positions() == 2 ** 133
    assert F.parse("float4_e2m1fn").softmax_positions() == 2
    assert F.parse("float8_e4m3fn").softmax_positions() == 512
    # the paper's formats: B < 1 in paper:e=0,s=1 (B = 3/4, smallest 1/4)
    assert F.paper(0, 1).softmax_positions() == 3
    assert F.float64().softmax_positions() == 2 ** 1074


def test_named_formats_table_in_docs():
    """docs/float-formats.md lists every named format; keep its rows in sync."""
    from pathlib import Path

    from transformer_sim.floatformat import NAMES
    doc = (Path(__file__).resolve().parent.parent / "docs" / "float-formats.md").read_text()
    for name in list(NAMES) + ["paper:e=0,s=2", "paper:e=2,s=2", "paper:e=3,s=4"]:
        f = F.parse(name)
        special = {(True, True): "inf, NaN", (False, True): "NaN",
                   (False, False): "none"}[(f.has_inf, f.has_nan)]
        over = {"inf": "to inf", "nan": "to NaN", "saturate": "saturates"}[f.overflow]
        n = f.softmax_positions()
        width = f"2^{n.bit_length() - 1}" if n > 4096 and n & (n - 1) == 0 else str(n)
        row = (f"| `{name}` | `{f.spec}` | {f.bit_width} | {f.max_value:.6g} | "
               f"{f.min_positive:.6g} | {special} | {over} | {width} |")
        assert row in doc, row


def test_rounded_weights_can_exceed_the_softmax_width():
    """The documented examples: the figure assumes weights summing to 1; the rounded
    softmax's uniform weights [1/[n]] stay positive longer."""
    f4 = F.parse("float4_e2m1fn")
    assert f4.softmax_positions() == 2 and f4.div(1.0, f4.round(3.0)) == 0.5
    e4 = F.parse("float8_e4m3fn")
    weights = [float(e4.div(1.0, e4.round(float(n)))) for n in range(1, 466)]
    assert e4.softmax_positions() == 512 and min(weights[:464]) > 0
    assert np.isnan(e4.round(465.0)) and np.isnan(weights[464])
    f6 = F.parse("float6_e2m3fn")                        # Z saturates at B = 7.5
    assert f6.round(1000.0) == 7.5 and f6.div(1.0, 7.5) == 0.125 > 0


def test_model_files_take_the_names(tmp_path):
    """A model's meta may name its format as ml_dtypes does, options included; it is
    written back as the canonical spec."""
    import json

    from oracles.forward import make_model

    from transformer_sim import npz
    model = make_model("float8_e4m3fn", "iterative", 3, N=6)
    path = tmp_path / "m.npz"
    npz.save(model, path)
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    assert meta["format"] == "ieee:e=4,m=3,nonfinite=nan"
    meta["format"] = "float8_e4m3fn,overflow=saturate"
    arrays["meta"] = np.array(json.dumps(meta))
    named = tmp_path / "named.npz"
    np.savez(named, **arrays)
    back = npz.load(named)
    assert back.fmt == F.parse("float8_e4m3fn,overflow=saturate") != model.fmt
    assert all(np.array_equal(back.named_arrays()[k], a)
               for k, a in model.named_arrays().items())


@pytest.mark.parametrize("fmt,seen", [("float8_e4m3fn", "nan"), ("float6_e3m2fn", "saturate")])
def test_forward_pass_overflows_as_the_format_says(fmt, seen):
    """Large weights: the forward pass (full and incremental) overflows to NaN in
    float8_e4m3fn and saturates in float6_e3m2fn, bit for bit with the exact-rational
    reference of tests/oracles/forward.py."""
    from oracles.forward import Undefined, exact_reference, make_model

    from transformer_sim.forward import Decoder, forward_full
    hits = defined = 0
    for seed in range(10):
        model = make_model(fmt, "iterative", seed, V=4, L=2, H=2, d=4, k=2, f=3, N=6,
                           scale=8.0)
        tokens = [int(t) for t in np.random.default_rng(seed).integers(0, 4, size=5)]
        try:
            want = exact_reference(model, tokens)
        except Undefined:
            continue
        defined += 1
        got = forward_full(model, tokens).logits
        np.testing.assert_array_equal(got, want)               # NaN == NaN here
        dec = Decoder(model)
        dec.extend(tokens)
        assert dec.logits.tobytes() == got.tobytes()
        hits += bool(np.isnan(got).any() if seen == "nan" else
                     (np.abs(got) == model.fmt.max_value).any())
    assert defined and hits                  # the overflow this test is about did occur


# ---------------------------------------------------------------- other widths, every option
SMALL_NONFINITE = [F.ieee(e, m, subnormals=sub, overflow=ov, rounding=rd, nonfinite=nf)
                   for (e, m) in [(2, 0), (2, 1), (3, 2), (4, 1)]
                   for nf in ("nan", "none") if m > 0 or nf != "nan"
                   for ov in {"nan": ("nan", "saturate"), "none": ("saturate",)}[nf]
                   for sub in (True, False)
                   for rd in ("nearest_even", "toward_zero", "nearest_away")]


@pytest.mark.parametrize("fmt", SMALL_NONFINITE, ids=str)
def test_small_nonfinite_formats_against_brute_force(fmt):
    v = fmt.values()
    defined = ieee_by_definition(fmt.e, fmt.m, fmt.subnormals, fmt.nonfinite)
    assert {Fraction(float(x)) for x in v} == defined and fmt.num_values == v.size
    assert fmt.max_value == v[-1] and fmt.min_positive == v[v > 0][0]
    x = probe(fmt)
    fin = np.isfinite(x)
    want = np.array([brute_round(fmt, xi) for xi in x[fin]])
    assert same_bits(fmt.round(x[fin]), want).all()
    assert same_bits(scalar_round(fmt, x[fin]), want).all()
    bits = fmt.encode(v)
    assert len(set(bits.tolist())) == v.size and np.array_equal(fmt.decode(bits), v)
    assert F.parse(fmt.spec) == fmt


@given(st.sampled_from(SMALL_NONFINITE), st.floats(allow_nan=False, allow_infinity=False))
def test_small_nonfinite_round_hypothesis(fmt, x):
    assert same_bits(fmt.round(x), brute_round(fmt, x)).all()
