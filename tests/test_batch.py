"""Batched exact inference (transformer_sim/batch.py) against the one-prompt Decoder, and
fparith's fast rounding route against the general one, bit for bit.

- fast route: `rnd` on arbitrary float64s, and +, -, *, / exhaustively on every pair of
  values of small formats (e5m2, paper:e=1,s=2, paper:e=3,s=4 and paper:e=2,s=3), on
  random pairs of wider ones (float16, bfloat16, float32, subnormals included);
- `run_batch`: every prompt's tokens, its undefined position and its overflow flag
  equal those of `forward.Decoder` fed the same prompt one token at a time (the
  general kernel, no fast route), on random models in every format family, both sum
  modes and both softmaxes, prompts of different lengths, with CoT, and with
  undefined prompts mixed in.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles.forward import FORMATS, SUMS, make_model, undefined_model
from oracles.rounding import same_bits

from transformer_sim import FloatFormat
from transformer_sim import fparith as fa
from transformer_sim.batch import run_batch
from transformer_sim.errors import ModelError, ModelUndefined
from transformer_sim.forward import Decoder
from transformer_sim.model import SOFTMAXES

FAST = ["float32", "float16", "bfloat16", "e5m2", "paper:e=1,s=2", "paper:e=2,s=3",
        "paper:e=3,s=4", "ieee:e=4,m=3", "paper:e=2,s=12",
        "ieee:e=5,m=10,rounding=nearest_away", "ieee:e=5,m=10,subnormals=0"]


def _params(spec: str) -> tuple[np.ndarray, np.ndarray]:
    P = np.ascontiguousarray(FloatFormat.parse(spec).params, dtype=np.float64)
    Q = fa.fast_params(P)
    assert Q.shape[0] > P.shape[0]  # the fast route is on
    return P, Q


def _binary(op, a, b, P):
    out = np.empty_like(a)
    fa.binary_array(op, a, b, P, out)
    return out


def _round(x, P):
    out = np.empty_like(x)
    fa.round_array_scalar(x, P, out)
    return out


def _arbitrary(rng, fmt: FloatFormat, n: int) -> np.ndarray:
    """float64s of every magnitude around the format's range, its values and their
    midpoints, +-0, inf and NaN."""
    x = rng.standard_normal(n) * np.exp2(rng.integers(-160, 140, n))
    v = fmt.round(rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n)))
    w = fmt.round(v * (1 + 2.0 ** -rng.integers(1, 30, n)))
    return np.concatenate([x, v, (v + w) / 2, np.nextafter((v + w) / 2, np.inf),
                           [0.0, -0.0, np.inf, -np.inf, np.nan, fmt.max_value,
                            -fmt.max_value, fmt.max_value * 1.0001]])


@pytest.mark.parametrize("spec", FAST)
def test_fast_rounding_of_arbitrary_floats(spec):
    P, Q = _params(spec)
    x = _arbitrary(np.random.default_rng(1), FloatFormat.parse(spec), 40_000)
    assert same_bits(_round(x, Q), _round(x, P)).all()


@pytest.mark.parametrize("spec", ["e5m2", "paper:e=1,s=2", "paper:e=2,s=3", "paper:e=3,s=4"])
def test_fast_ops_exhaustive(spec):
    P, Q = _params(spec)
    v = FloatFormat.parse(spec).values()
    v = np.concatenate([v, -v[v > 0]])
    a, b = (g.ravel().copy() for g in np.meshgrid(v, v, indexing="ij"))
    for op in (fa.OP_ADD, fa.OP_SUB, fa.OP_MUL, fa.OP_DIV):
        assert same_bits(_binary(op, a, b, Q), _binary(op, a, b, P)).all(), op


@pytest.mark.parametrize("spec", ["float16", "bfloat16", "float32", "ieee:e=4,m=3",
                                  "paper:e=2,s=12"])
def test_fast_ops_random(spec):
    P, Q = _params(spec)
    fmt = FloatFormat.parse(spec)
    rng = np.random.default_rng(2)
    n = 300_000
    # values of every binade, subnormals and the largest ones included
    a = fmt.round(rng.standard_normal(n) * np.exp2(rng.uniform(np.log2(fmt.min_positive),
                                                               np.log2(fmt.max_value), n)))
    b = rng.permutation(a)
    for op in (fa.OP_ADD, fa.OP_SUB, fa.OP_MUL, fa.OP_DIV):
        got, want = _binary(op, a, b, Q), _binary(op, a, b, P)
        assert same_bits(got, want).all(), op
    x = rng.uniform(-120, 90, 50_000)
    for op in (fa.OP_EXP, fa.OP_RELU):
        got, want = np.empty_like(x), np.empty_like(x)
        fa.unary_array(op, x, Q, got)
        fa.unary_array(op, x, P, want)
        assert same_bits(got, want).all()


def test_fast_route_stays_off_where_it_does_not_apply():
    # float64 (no rounding), fixed point (its own route), too wide, a directed rounding
    for spec in ("float64", "paper:e=0,s=3", "ieee:e=10,m=40", "ieee:e=5,m=10,rounding=toward_zero"):
        P = np.ascontiguousarray(FloatFormat.parse(spec).params, dtype=np.float64)
        assert fa.fast_params(P) is P
    G = fa.general_params(np.ascontiguousarray(FloatFormat.parse("float16").params))
    assert fa.fast_params(G) is G


# --- run_batch against the Decoder -------------------------------------------------------
def _decoder_run(model, prompt, steps):
    """(preds per position read, undefined position or -1, overflow) from the Decoder
    (general kernel, no fast route), feeding back its own tokens after the prompt."""
    dec = Decoder(model, capacity=len(prompt) + steps - 1, fast=False, skips=False)
    preds, overflow = [], False
    try:
        for t in range(len(prompt) + steps - 1):
            tok = prompt[t] if t < len(prompt) else preds[-1]
            preds.append(dec.push(int(tok)))
            overflow |= not np.isfinite(dec.attention).all()
        return preds, -1, overflow
    except ModelUndefined:
        return preds, len(preds), overflow


def _check_batch(model, prompts, steps) -> tuple[int, set]:
    run = run_batch(model, prompts, steps, threads=3)
    undefined, seen = 0, set()
    for b, prompt in enumerate(prompts):
        preds, und, ovf = _decoder_run(model, prompt, steps)
        row = run.preds[b]
        assert row[:len(preds)].tolist() == preds
        assert (row[len(preds):] == -1).all()
        assert run.undefined_at[b] == und and run.overflow[b] == ovf
        undefined += und >= 0
        seen.update(preds)
        tokens, was_undefined = run.cot(b)
        n = len(prompt)
        assert tokens == preds[n - 1:] and was_undefined == (und >= 0)
    return undefined, seen


@settings(max_examples=40)
@given(seed=st.integers(0, 10_000), fmt=st.sampled_from(FORMATS + ["float32", "paper:e=3,s=4"]),
       sum_mode=st.sampled_from(SUMS), softmax=st.sampled_from(SOFTMAXES),
       steps=st.integers(1, 5), qk=st.sampled_from([1.0, 3.0]))
def test_batch_equals_the_decoder(seed, fmt, sum_mode, softmax, steps, qk):
    model = make_model(fmt, sum_mode, seed, V=5, L=2, H=2, d=5, k=3, f=4, N=14, qk=qk,
                       softmax=softmax)
    rng = np.random.default_rng(seed)
    prompts = [rng.integers(0, 5, size=int(rng.integers(1, 10))).tolist() for _ in range(7)]
    _check_batch(model, prompts, steps)


@pytest.mark.parametrize("fmt", FORMATS + ["float32", "paper:e=3,s=4"])
@pytest.mark.parametrize("sum_mode", SUMS)
@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_batch_sees_varied_tokens_and_undefined_prompts(fmt, sum_mode, softmax):
    """Normal and large scores (in the paper's softmax some prompts are then undefined,
    mixed with defined ones); the tokens vary over the prompts."""
    rng = np.random.default_rng(3)
    prompts = [rng.integers(0, 5, size=int(rng.integers(1, 12))).tolist() for _ in range(24)]
    seen: set = set()
    undefined = 0
    for qk in (1.0, 3.0):
        model = make_model(fmt, sum_mode, 7, V=5, L=2, H=2, d=5, k=3, f=4, N=16, qk=qk,
                           softmax=softmax)
        u, s = _check_batch(model, prompts, 4)
        undefined, seen = undefined + u, seen | s
    assert len(seen) > 1
    if softmax == "stable":
        assert undefined == 0


@pytest.mark.parametrize("sum_mode", SUMS)
def test_batch_mixes_undefined_and_defined_prompts(sum_mode):
    """undefined_model: undefined exactly on the prompts that start with 1."""
    model = undefined_model(sum_mode)
    prompts = [[1, 0], [0, 1, 1], [1], [0], [0, 0, 0, 1, 1], [1, 1, 1]]
    undefined, seen = _check_batch(model, prompts, 3)
    assert undefined == 3
    run = run_batch(model, prompts, 3)
    assert run.undefined.tolist() == [p[0] == 1 for p in prompts]
    assert run.next_tokens[0] == -1 and run.next_tokens[1] >= 0


def test_batch_of_2d_array_and_overflow_flag():
    """float16, every score 12: [exp(12)] = inf, a = inf/inf = NaN (paper softmax) on
    every prompt; the stable softmax has none."""
    from test_forward import _one_dim_model, _stable

    model = _one_dim_model(12.0, "float16")
    prompts = np.array([[0, 1, 0], [1, 1, 0]])
    assert run_batch(model, prompts).overflow.all()
    assert not run_batch(_stable(model), prompts).overflow.any()
    _check_batch(model, prompts.tolist(), 1)


def test_bad_prompts_are_named():
    model = make_model("float16", "iterative", 0, V=5, N=6)
    with pytest.raises(ModelError, match="prompt 2: token 7 at position 1"):
        run_batch(model, [[0, 1], [0, 7]])
    with pytest.raises(ModelError, match="prompt 1: .*longer than max_len 6"):
        run_batch(model, [[0] * 5], steps=3)
    with pytest.raises(ModelError, match="prompt 2: .*empty"):
        run_batch(model, [[0], []])
    with pytest.raises(ModelError, match="no prompts"):
        run_batch(model, [])
