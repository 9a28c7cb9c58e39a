"""The batched path's lane kernel (transformer_sim/lanes.py) bit for bit.

- `_round_lane`, the branch-free rounding, against fparith's `rnd` on its fast route, on
  float64s of every magnitude, in every format the lane kernel takes; it flags only
  values outside its rule;
- the row-interleaved products (`_mv`: vectorised, with the scalar recomputation when
  a value is flagged; float32 in hardware float32) against fparith's scalar `mul` and
  `add`, row by row, with values that overflow, go subnormal or underflow to 0;
- no fused multiply-add in the compiled kernels;
- `run_batch` through the lane kernel against the one-prompt `Decoder` on its plain
  route (general kernel, no fast route, no skips) and against the exact-rational
  oracle, on random models whose weights are normal, subnormal-sized or overflowing,
  both softmaxes, with CoT; the next token varies over the prompts.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llvmlite import binding as llvm
from numba import njit
from oracles.forward import make_model, tokens_or_undefined
from oracles.rounding import log_uniform, same_bits
from test_batch import _arbitrary, _check_batch

from transformer_sim import FloatFormat
from transformer_sim import fparith as fa
from transformer_sim import lanes
from transformer_sim.batch import batch_kernel, run_batch
from transformer_sim.model import SOFTMAXES, Model

#: formats of the lane kernel: float32 natively, the others by `_round_lane`
LANE_FORMATS = ["float32", "bfloat16", "float16", "e5m2", "float8_e4m3fn", "float6_e2m3fn",
                "float4_e2m1fn", "paper:e=1,s=2", "paper:e=3,s=4", "paper:e=2,s=12",
                "ieee:e=4,m=3", "ieee:e=5,m=10,rounding=nearest_away",
                "ieee:e=5,m=10,subnormals=0"]
ROUNDED = LANE_FORMATS[1:]


def _params(spec: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    P = np.ascontiguousarray(FloatFormat.parse(spec).params, dtype=np.float64)
    Q = fa.fast_params(P)
    R = lanes.lane_params(Q)
    assert R is not None
    return P, Q, R


@njit  # not cached: a cache would keep the inlined kernels of an older lanes.py
def _round_all(x, R, out, flags, of_sum):
    g = lanes._unpack(R)
    for i in range(x.shape[0]):
        out[i], flags[i] = lanes._round_lane(x[i], g, of_sum)


@njit
def _mv_checked(WT, x, out, R, P, xw):
    """(`_mv`'s result in out, whether its vectorised pass held without a flag)."""
    g = lanes._unpack(R)
    ok = R[lanes.NATIVE] != 0.0 or lanes._mv_rounded(WT, x, out, WT.shape[0], WT.shape[1], g)
    lanes._mv(WT, x, out, WT.shape[0], WT.shape[1], R[lanes.NATIVE] != 0.0, g, P, xw)
    return ok


def test_lane_params_cover_the_fast_route_only():
    for spec in LANE_FORMATS:
        assert lanes.lane_params(_params(spec)[1])[lanes.NATIVE] == (spec == "float32")
    for spec in ("float64", "paper:e=0,s=3", "ieee:e=5,m=10,rounding=toward_zero"):
        P = np.ascontiguousarray(FloatFormat.parse(spec).params, dtype=np.float64)
        assert lanes.lane_params(fa.fast_params(P)) is None


def _check_round_lane(spec, x, of_sum):
    P, Q, R = _params(spec)
    fmt = FloatFormat.parse(spec)
    got, flags = np.empty_like(x), np.empty(x.size, dtype=np.int64)
    _round_all(x, R, got, flags, of_sum)
    want = np.empty_like(x)
    fa.round_array_scalar(x, Q, want)
    ok = flags >= 0
    assert (got[ok].view(np.uint64) == want[ok].view(np.uint64)).all()
    # flagged: only what the rule leaves out (inf, NaN, beyond the largest value, and
    # below the lowest binade where the format has no quantum there)
    low = np.abs(x) < 2.0 ** (R[lanes.LO] - 1023)
    outside = ~np.isfinite(x) | (np.abs(x) >= fmt.max_value) | \
        (low & (x != 0) & (R[lanes.LOWOK] == 0))
    assert not (~ok & ~outside).any()
    assert ok.mean() > 0.5
    return ok, low


@pytest.mark.parametrize("spec", ROUNDED)
def test_round_lane_is_the_fast_route(spec):
    """Any float64 (a product is any float64 for this rule)."""
    x = _arbitrary(np.random.default_rng(5), FloatFormat.parse(spec), 40_000)
    ok, low = _check_round_lane(spec, x, False)
    assert (~ok).any() and (ok & low & (x != 0)).any() == (_params(spec)[2][lanes.LOWOK] != 0)


@pytest.mark.parametrize("spec", ROUNDED)
def test_round_lane_of_sums(spec):
    """Sums of two values of the format, the small ones included: below the lowest
    binade such a sum is its own rounding (``of_sum``)."""
    fmt = FloatFormat.parse(spec)
    rng = np.random.default_rng(6)
    if fmt.num_values <= 3000:
        v = fmt.values()
    else:
        lo = np.log2(fmt.min_positive)
        v = fmt.round(log_uniform(rng, 3000, lo, lo + 12))
        big = np.clip(log_uniform(rng, 3000, lo, np.log2(fmt.max_value)), -fmt.max_value,
                      fmt.max_value)
        v = np.concatenate([v, fmt.round(big)])
    v = np.concatenate([v, -v])
    a, b = rng.choice(v, 200_000), rng.choice(v, 200_000)
    x = a + b
    ok, low = _check_round_lane(spec, x, True)
    assert (low & (x != 0)).any() and (~low).any()


def _operands(rng, fmt: FloatFormat, nin: int, nout: int, scale: float):
    """WT (nin, nout) and x (nin), the format's values around 2^scale."""
    M = fmt.max_value
    WT = fmt.round(np.clip(log_uniform(rng, nin * nout, scale - 4, scale + 4), -M, M))
    WT = WT.reshape(nin, nout)
    x = fmt.round(np.clip(log_uniform(rng, nin, scale - 4, scale + 4), -M, M))
    WT[rng.random(WT.shape) < 0.1] = 0.0            # some exact zeros, some -0
    x[rng.random(nin) < 0.1] = -0.0
    return WT, x


@pytest.mark.parametrize("spec", LANE_FORMATS)
def test_products_equal_the_scalar_route(spec):
    """Products of matrices around the format's smallest values (subnormal or flushed
    results), around 1, and around the square root of its largest (overflow)."""
    P, Q, R = _params(spec)
    fmt = FloatFormat.parse(spec)
    dt = lanes.lane_dtype(R)
    rng = np.random.default_rng(7)
    lo, hi = np.log2(fmt.min_positive), np.log2(fmt.max_value)
    held = recomputed = nonfinite = tiny = 0
    for scale in (lo / 2 + 1, lo / 2 - 2, 0.0, hi / 2 - 1, hi / 2 + 2):
        for _ in range(20):
            nin, nout = int(rng.integers(1, 40)), int(rng.integers(1, 40))
            WT, x = _operands(rng, fmt, nin, nout, scale)
            xw = bool(rng.integers(0, 2))
            want = np.empty(nout)
            lanes._mv_scalar(WT, x, want, nin, nout, Q, xw)
            out = np.empty(nout, dtype=dt)
            ok = _mv_checked(WT.astype(dt), x.astype(dt), out, R, Q, xw)
            assert (out.astype(np.float64).view(np.uint64) == want.view(np.uint64)).all()
            held += ok
            recomputed += not ok
            nonfinite += (~np.isfinite(want)).any() or (np.abs(want) == fmt.max_value).any()
            tiny += ((want != 0) & (np.abs(want) < 2.0 ** (R[lanes.LO] - 1023))).any()
    assert nonfinite and held and (tiny or R[lanes.LOWOK] == 0)
    if dt == np.float64:
        assert recomputed


def _asm(fn, *args) -> str:
    fresh = njit(fn.py_func)          # compiled here, not loaded from the cache
    fresh(*args)
    return "\n".join(fresh.inspect_asm().values())


def test_no_fused_multiply_add():
    """A fused a * b + c rounds once, the evaluation order twice: the kernels must keep
    the multiplication and the addition apart (no fastmath, so LLVM contracts nothing)."""
    for fn in (lanes._mv_native, lanes._mv_rounded, lanes._mv, lanes.lane_step):
        assert not fn.targetoptions.get("fastmath"), fn
    f4 = np.zeros((4, 4), dtype=np.float32)
    native = _asm(lanes._mv_native, f4, f4[0], f4[1].copy(), 4, 4, False)
    g = njit(lambda R: lanes._unpack(R))(_params("bfloat16")[2])
    d4 = np.zeros((4, 4))
    rounded = _asm(lanes._mv_rounded, d4, d4[0], d4[1].copy(), 4, 4, g)
    # the whole float32 step kernel, its callees linked in
    from transformer_sim.forward import dense_weights, lane_params_of
    model = make_model("float32", "iterative", 0, V=5, L=1, H=1, d=4, k=4, f=4, N=4)
    R = lane_params_of(model)
    C = lanes.lane_cache(1, 1, 4, 4, 4, 5, 4, np.zeros(1, np.float32))
    step = _asm(lanes.lane_push, 0, 0, tuple(dense_weights(model)),
                tuple(lanes.lane_weights(model, np.float32)), tuple(C), True,
                fa.fast_params(model.fmt.params), R, np.zeros((1, 1, 4)), np.empty(5))
    assert "mulps" in native and "addps" in native      # vectorised float32 arithmetic
    assert "mulpd" in rounded and "addpd" in rounded
    assert "mulps" in step and "addps" in step
    fma = re.compile(r"\bvf(n)?m(add|sub)")   # vfmadd231ps, vfnmsub213sd, ...
    for code in (native, rounded, step):
        assert not fma.search(code)
    # the check sees a contraction where one is allowed (fastmath), on a CPU with FMA
    contracted = njit(fastmath=True)(lanes._mv_native.py_func)
    contracted(f4, f4[0], f4[1].copy(), 4, 4, False)
    if "+fma" in llvm.get_host_cpu_features().flatten():
        assert fma.search("\n".join(contracted.inspect_asm().values()))


def _prompts(seed: int, n: int = 8, V: int = 5, longest: int = 10) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, V, size=int(rng.integers(1, longest))).tolist() for _ in range(n)]


#: (s, g) per kind of model (`_model`): normal; every value small enough that products
#: fall below float32's normal range; scores large (the paper's softmax then undefined
#: or overflowing on most prompts, the stable one defined); scores that overflow to inf
#: on some prompts
KINDS = {"normal": (1.0, 1.0), "subnormal": (2.0 ** -64, 1.0), "large": (1.0, 2.0 ** 20),
         "overflow": (1.0, 2.0 ** 60)}


def _model(kind: str, seed: int, softmax: str, fmt: str = "float32", **shape) -> Model:
    """make_model's float32 model with TE, PE and the layer matrices times s (b1 times
    s^2), Wq and Wk also times g, and Wout divided by s (so that the logits, and the
    tokens, depend on the prompt), each rounded to the format."""
    s, g = KINDS[kind]
    dims = dict(V=5, L=2, H=2, d=6, k=3, f=5, N=14) | shape
    model = make_model(fmt, "iterative", seed, qk=4.0, softmax=softmax, **dims)
    F = model.fmt

    def r(a, f):
        return F.round(a * f)

    layers = tuple(dataclasses.replace(
        lay, Wq=r(lay.Wq, s * g), Wk=r(lay.Wk, s * g), Wv=r(lay.Wv, s), Wo=r(lay.Wo, s),
        W1=r(lay.W1, s), b1=r(lay.b1, s * s), W2=r(lay.W2, s), b2=r(lay.b2, s))
        for lay in model.layers)
    return dataclasses.replace(model, TE=r(model.TE, s), PE=r(model.PE, s),
                               Wout=r(model.Wout, 1 / s), layers=layers)


@settings(max_examples=30)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from(sorted(KINDS)),
       softmax=st.sampled_from(SOFTMAXES), steps=st.integers(1, 4))
def test_float32_lanes_equal_the_decoder(seed, kind, softmax, steps):
    model = _model(kind, seed, softmax)
    assert batch_kernel(model) == "lanes"
    _check_batch(model, _prompts(seed), steps)


@settings(max_examples=30)
@given(seed=st.integers(0, 10_000), fmt=st.sampled_from(ROUNDED),
       scale=st.sampled_from([1.0, 2.0 ** -5, 2.0 ** 5]), softmax=st.sampled_from(SOFTMAXES),
       steps=st.integers(1, 4))
def test_rounded_lanes_equal_the_decoder(seed, fmt, scale, softmax, steps):
    model = make_model(fmt, "iterative", seed, V=5, L=2, H=2, d=6, k=3, f=5, N=14,
                       scale=scale, softmax=softmax)
    assert batch_kernel(model) == "lanes"
    _check_batch(model, _prompts(seed), steps)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_float32_lanes_see_what_they_claim(kind, softmax):
    """Fixed models of each kind, equal to the Decoder, and seeing what they are for:
    the tokens vary over the prompts (where any prompt is defined); products below
    float32's normal range; overflow (an attention weight NaN or inf) or undefined
    prompts, mixed with defined ones where the softmax allows it."""
    seen, flagged, defined = set(), 0, 0
    for seed in range(3):
        model = _model(kind, seed, softmax)
        prompts = _prompts(seed, n=12)
        _, s = _check_batch(model, prompts, 3)
        seen |= s
        run = run_batch(model, prompts, 3)
        flagged += run.overflow.sum() + run.undefined.sum()
        defined += (~run.undefined).sum()
        if kind == "subnormal":
            prods = np.abs(np.outer(model.layers[0].Wq, model.TE).astype(np.float32))
            assert ((prods > 0) & (prods < np.finfo(np.float32).tiny)).any()
    if kind in ("normal", "subnormal") or softmax == "stable":
        assert len(seen) > 1
    if kind == "overflow" or (kind == "large" and softmax == "paper"):
        assert flagged > 0
    if kind == "overflow" and softmax == "stable":
        assert 0 < flagged < defined


@pytest.mark.parametrize("kind", ["normal", "subnormal", "large"])
@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_float32_lanes_equal_the_exact_oracle(kind, softmax):
    """Next tokens against exact rational arithmetic rounded once per operation
    (tests/oracles/forward.py), which shares no code with the kernels."""
    seen = set()
    for seed in range(3):
        model = _model(kind, seed, softmax, L=1, d=4, k=2, f=4, N=8)
        prompts = _prompts(seed, n=6, longest=7)
        got = run_batch(model, prompts).next_tokens
        want = tokens_or_undefined(model, prompts)
        assert got.tolist() == want.tolist()
        seen |= set(want.tolist())
    assert len(seen) > 1


def test_trained_shape_batch_equals_the_old_route():
    """The benchmark's model shape (d_model 128, 4 heads, d_ff 512) in float32 and
    bfloat16: the lane kernel's tokens equal the previous batched kernel's (`_step` on
    the fast route, tested against the Decoder in test_batch.py) on every position."""
    from transformer_sim.random_model import random_model

    base = random_model(vocab=121, layers=1, heads=4, d_model=128, d_ff=512, max_len=9,
                        fmt="float32", seed=1, softmax="stable", check_prompts=0)
    prompts = np.random.default_rng(0).integers(0, 121, size=(6, 9))
    for spec in ("float32", "bfloat16"):
        model = base.in_format(FloatFormat.parse(spec))
        new, old = run_batch(model, prompts), run_batch(model, prompts, lanes=False)
        assert np.array_equal(new.preds, old.preds)
        assert len(set(new.preds.ravel().tolist())) > 1
