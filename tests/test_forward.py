"""The forward pass against two independent oracles, and the KV cache against the full
recompute.

- `exact_reference` (tests/oracles/forward.py): DESIGN.md's evaluation order
  re-implemented in plain Python with exact rational arithmetic, rounded once per
  operation. It shares no code with the Numba kernels. Compared bit for bit in every
  format.
- `numpy_reference`: the textbook transformer in vectorised float64 NumPy; the float64
  mode must agree with it to 1e-12.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles.forward import (FORMATS, SUMS, Undefined, exact_reference, make_model,
                             numpy_reference, undefined_model)

from transformer_sim.errors import ModelError, ModelUndefined
from transformer_sim.floatformat import FloatFormat
from transformer_sim.forward import Decoder, forward_full, next_token
from transformer_sim.model import SOFTMAXES, Layer, Model


def incremental(model: Model, tokens) -> tuple[np.ndarray, int]:
    dec = Decoder(model)
    tok = dec.extend(tokens)
    return dec.logits, tok


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# --- tests ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sum_mode", SUMS)
@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_kernels_match_exact_reference_bit_for_bit(fmt, sum_mode, softmax):
    undefined = 0
    for seed in range(6):
        qk = 3.0 if fmt.startswith("paper") else 1.0  # large scores: some Z_i = 0
        model = make_model(fmt, sum_mode, seed, V=4, L=2, H=2, d=4, k=2, f=3, N=6, qk=qk,
                           softmax=softmax)
        tokens = list(np.random.default_rng(seed).integers(0, 4, size=4 + seed % 3))
        try:
            want = exact_reference(model, tokens)
        except Undefined:
            undefined += 1
            with pytest.raises(ModelUndefined):
                forward_full(model, tokens)
            with pytest.raises(ModelUndefined):
                incremental(model, tokens)
            continue
        got = forward_full(model, tokens)
        np.testing.assert_array_equal(got.logits, want)  # NaN == NaN here; 0.0 == -0.0
        assert got.token == int(np.argmax(want))
        logits, tok = incremental(model, tokens)
        assert _same_bits(logits, got.logits) and tok == got.token
    assert undefined < 6  # the comparison above ran on defined prompts
    if softmax == "stable":
        assert undefined == 0  # Z_i >= [exp(0)] > 0


@pytest.mark.parametrize("sum_mode", SUMS)
@pytest.mark.parametrize("softmax", SOFTMAXES)
def test_float64_matches_numpy(sum_mode, softmax):
    for seed in range(5):
        model = make_model("float64", sum_mode, seed, V=7, L=3, H=2, d=8, k=4, f=10, N=20,
                           softmax=softmax)
        tokens = np.random.default_rng(seed).integers(0, 7, size=20)
        want, att = numpy_reference(model, tokens)
        got = forward_full(model, tokens, record_attention=True)
        np.testing.assert_allclose(got.logits, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.attention, att, rtol=1e-12, atol=1e-12)
        assert got.token == int(np.argmax(want))


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), fmt=st.sampled_from(FORMATS),
       sum_mode=st.sampled_from(SUMS), L=st.integers(1, 3), H=st.integers(1, 3),
       d=st.integers(1, 6), k=st.integers(1, 4), f=st.integers(1, 6), n=st.integers(1, 14),
       qk=st.sampled_from([0.5, 1.0, 4.0]), softmax=st.sampled_from(SOFTMAXES))
def test_incremental_equals_full_recompute(seed, fmt, sum_mode, L, H, d, k, f, n, qk, softmax):
    model = make_model(fmt, sum_mode, seed, V=6, L=L, H=H, d=d, k=k, f=f, N=16, qk=qk,
                       softmax=softmax)
    tokens = np.random.default_rng(seed).integers(0, 6, size=n)
    dec = Decoder(model)
    for t in range(n):  # every prefix: the decoder's state after t+1 pushes
        try:
            tok = dec.push(int(tokens[t]))
        except ModelUndefined as e:
            with pytest.raises(ModelUndefined) as full_err:
                forward_full(model, tokens[:t + 1])
            assert str(full_err.value) == str(e)  # same first (position, layer, head)
            for u in range(t + 1, n):  # longer prompts contain the undefined position
                with pytest.raises(ModelUndefined):
                    forward_full(model, tokens[:u + 1])
            return
        full = forward_full(model, tokens[:t + 1], record_attention=True)
        assert _same_bits(dec.logits, full.logits) and tok == full.token
        assert _same_bits(dec.attention, np.ascontiguousarray(full.attention[:, :, t, :t + 1]))


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), sum_mode=st.sampled_from(SUMS),
       n=st.integers(1, 10), L=st.integers(1, 2), H=st.integers(1, 3))
def test_float64_matches_numpy_hypothesis(seed, sum_mode, n, L, H):
    model = make_model("float64", sum_mode, seed, V=5, L=L, H=H, d=5, k=3, f=4, N=10)
    tokens = np.random.default_rng(seed + 1).integers(0, 5, size=n)
    want, _ = numpy_reference(model, tokens)
    logits, _ = incremental(model, tokens)
    np.testing.assert_allclose(logits, want, rtol=1e-12, atol=1e-12)


def _one_dim_model(q: float, fmt="paper:e=1,s=2") -> Model:
    """d = k = 1, one head: h_0 = 1, so s_00 = [q * 1] * [1 * 1] = q."""
    F = FloatFormat.parse(fmt)
    one = np.ones((1, 1, 1))
    layer = Layer(Wq=q * one, Wk=one, Wv=one, Wo=one, W1=np.zeros((1, 1)), b1=np.zeros(1),
                  W2=np.zeros((1, 1)), b2=np.zeros(1))
    return Model(fmt=F, sum_mode="iterative", TE=np.ones((2, 1)), PE=np.zeros((4, 1)),
                 Wout=np.array([[0.0], [1.0]]), bout=np.zeros(2), layers=(layer,))


def test_undefined_when_exp_underflows():
    # paper:e=1,s=2: smallest positive value 1/8, so [exp(-3.75)] = [0.0235] = 0 = Z_0.
    model = _one_dim_model(-3.75)
    assert model.fmt.round(np.array([math.exp(-3.75)]))[0] == 0.0
    with pytest.raises(ModelUndefined, match="position 0, layer 0, head 0"):
        next_token(model, [0])
    with pytest.raises(Undefined):
        exact_reference(model, [0])
    with pytest.raises(ModelUndefined):
        Decoder(model).push(0)
    # A score of -1 gives [exp(-1)] = 3/8 > 0: defined, and the read-out prefers token 1.
    assert next_token(_one_dim_model(-1.0), [0, 1]) == 1


def test_decoder_stays_undefined():
    dec = Decoder(_one_dim_model(-3.75))
    for _ in range(2):
        with pytest.raises(ModelUndefined):
            dec.push(0)


def test_argmax_ties_go_to_the_lowest_id():
    F = FloatFormat.parse("paper:e=1,s=2")
    layer = Layer(Wq=np.zeros((1, 1, 2)), Wk=np.zeros((1, 1, 2)), Wv=np.zeros((1, 1, 2)),
                  Wo=np.zeros((1, 2, 1)), W1=np.zeros((1, 2)), b1=np.zeros(1),
                  W2=np.zeros((2, 1)), b2=np.zeros(2))
    # logits = [Wout h + bout] = bout: ids 1 and 3 tie for the maximum.
    model = Model(fmt=F, sum_mode="exact", TE=np.ones((4, 2)), PE=np.zeros((3, 2)),
                  Wout=np.zeros((4, 2)), bout=np.array([0.5, 1.5, -1.0, 1.5]), layers=(layer,))
    assert next_token(model, [2, 0]) == 1
    assert Decoder(model).extend([2, 0]) == 1


def test_bad_tokens_are_rejected_before_the_kernels():
    model = make_model("float16", "iterative", 0, V=5, N=6)
    with pytest.raises(ModelError, match="token 5 at position 1 is outside the vocabulary 0..4"):
        forward_full(model, [0, 5])
    with pytest.raises(ModelError, match="longer than max_len 6"):
        forward_full(model, [0] * 7)
    with pytest.raises(ModelError, match="empty"):
        forward_full(model, [])
    dec = Decoder(model)
    with pytest.raises(ModelError, match="outside the vocabulary"):
        dec.push(-1)
    for _ in range(6):
        dec.push(1)
    with pytest.raises(ModelError, match="longer than max_len 6"):
        dec.push(1)


# --- the stable softmax ------------------------------------------------------------------
def _stable(model: Model) -> Model:
    return dataclasses.replace(model, softmax="stable")


@pytest.mark.parametrize("sum_mode", SUMS)
def test_stable_softmax_is_defined_where_the_papers_is_not(sum_mode):
    """undefined_model: the paper's pass is undefined exactly on prompts starting with 1
    ([exp(-3.75)] = 0). Stable: [exp(s - m)] has exp(0) = 1 at the maximum, so every
    prompt is defined, and the kernels agree with the oracle bit for bit."""
    paper = undefined_model(sum_mode)
    stable = _stable(paper)
    tokens_seen = set()
    for prompt in itertools.product([0, 1], repeat=4):
        with pytest.raises(ModelUndefined) if prompt[0] == 1 else contextlib.nullcontext():
            forward_full(paper, prompt)
        want = exact_reference(stable, prompt)
        got = forward_full(stable, prompt)
        np.testing.assert_array_equal(got.logits, want)
        assert _same_bits(incremental(stable, prompt)[0], got.logits)
        tokens_seen.add(got.token)
    assert tokens_seen == {0, 1}  # the next token depends on the prompt


@pytest.mark.parametrize("q,paper_result", [(-20.0, "undefined"), (12.0, "nan")])
def test_stable_softmax_in_float16_where_exp_under_or_overflows(q, paper_result):
    """float16: [exp(-20)] = 0 (below the smallest subnormal), [exp(12)] = inf; the
    paper's softmax is undefined or NaN (inf / inf) there, the stable one is not."""
    model = _one_dim_model(q, "float16")
    prompt = [0, 1, 0]
    if paper_result == "undefined":
        with pytest.raises(ModelUndefined):
            forward_full(model, prompt)
    else:
        assert np.isnan(forward_full(model, prompt).logits).any()
    stable = _stable(model)
    got = forward_full(stable, prompt, record_attention=True)
    assert np.isfinite(got.logits).all()
    np.testing.assert_array_equal(got.logits, exact_reference(stable, prompt))
    # every score is q: s - m = 0, e = 1, a_2j = [1/3]
    third = model.fmt.round(np.array([1 / 3]))[0]
    assert got.attention[0, 0, 2, :3].tolist() == [third] * 3
    assert _same_bits(incremental(stable, prompt)[0], got.logits)


def test_random_model_with_the_stable_softmax():
    from transformer_sim.random_model import random_model

    model = random_model(vocab=7, layers=2, heads=2, d_model=8, d_ff=8, max_len=10,
                         fmt="bfloat16", seed=3, softmax="stable")
    assert model.softmax == "stable"
    tokens = np.random.default_rng(0).integers(0, 7, size=(12, 6))
    outs = {incremental(model, t)[1] for t in tokens}
    assert all(forward_full(model, t).token == incremental(model, t)[1] for t in tokens)
    assert len(outs) > 1
