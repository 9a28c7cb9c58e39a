"""The CoT unroller: greedy feedback, traces, the undefined case, limits."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracles.forward import (FORMATS, SUMS, Undefined, exact_reference, make_model,
                             undefined_at_position_one)
from transformer_sim.cot import run_cot
from transformer_sim.errors import ModelError, ModelUndefined
from transformer_sim.forward import forward_full


def greedy_by_full_recompute(model, prompt, steps):
    """The unroller's tokens, recomputed from scratch each step (no KV cache)."""
    seq, out = list(prompt), []
    for _ in range(steps):
        try:
            tok = forward_full(model, seq).token
        except ModelUndefined:
            return out, True
        out.append(tok)
        seq.append(tok)
    return out, False


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), fmt=st.sampled_from(FORMATS),
       sum_mode=st.sampled_from(SUMS), n=st.integers(1, 5), steps=st.integers(1, 10),
       qk=st.sampled_from([1.0, 4.0]))
def test_cot_equals_greedy_full_recompute(seed, fmt, sum_mode, n, steps, qk):
    model = make_model(fmt, sum_mode, seed, V=4, L=2, H=2, d=4, k=2, f=4, N=16, qk=qk)
    prompt = np.random.default_rng(seed).integers(0, 4, size=n)
    trace = run_cot(model, prompt, steps)
    want, undefined = greedy_by_full_recompute(model, prompt, steps)
    assert list(trace.tokens) == want
    assert trace.undefined == undefined
    assert trace.undefined_at == (len(want) if undefined else None)
    assert trace.prompt == tuple(int(t) for t in prompt)
    assert trace.sequence == trace.prompt + trace.tokens


@pytest.mark.parametrize("fmt", ["paper:e=1,s=2", "e5m2"])
def test_cot_tokens_against_exact_reference(fmt):
    model = make_model(fmt, "iterative", 7, V=3, L=1, H=2, d=3, k=2, f=3, N=8)
    trace = run_cot(model, [0, 2], 5)
    seq = [0, 2]
    for tok in trace.tokens:  # each step's token is the reference's argmax
        try:
            assert tok == int(np.argmax(exact_reference(model, seq)))
        except Undefined:
            pytest.fail("the reference is undefined where the unroller emitted a token")
        seq.append(tok)


def test_attention_trace_matches_full_pass():
    model = make_model("bfloat16", "exact", 1, V=4, L=2, H=3, d=5, k=2, f=4, N=12)
    trace = run_cot(model, [1, 2, 3], 6, record_attention=True)
    assert len(trace.attention) == 3 + 6 - 1  # every position read
    full = forward_full(model, trace.sequence[:-1], record_attention=True).attention
    for p, a in enumerate(trace.attention):
        assert a.shape == (2, 3, p + 1)
        assert np.array_equal(a, full[:, :, p, :p + 1])
    mat = trace.attention_matrix(1, 2)
    assert np.array_equal(np.tril(np.nan_to_num(mat)), full[1, 2])
    assert np.isnan(mat[np.triu_indices(8, 1)]).all()


def test_undefined_is_recorded_not_raised():
    model = undefined_at_position_one()
    trace = run_cot(model, [0], 4)
    assert trace.tokens == (1,) and trace.undefined and trace.undefined_at == 1
    assert trace.undefined_position == 1 and "position 1" in trace.reason
    trace = run_cot(model, [0, 0], 3)
    assert trace.tokens == () and trace.undefined_at == 0


def test_stop_token_ends_the_run():
    model = make_model("float16", "iterative", 2, V=3, N=30)
    full = run_cot(model, [0], 20)
    stop = full.tokens[3]
    trace = run_cot(model, [0], 20, stop_token=stop)
    assert trace.tokens == full.tokens[:full.tokens.index(stop) + 1]
    with pytest.raises(ModelError, match="stop token 3"):
        run_cot(model, [0], 2, stop_token=3)


def test_length_limits():
    model = make_model("float16", "iterative", 2, V=3, N=6)
    assert len(run_cot(model, [0, 1], 5).tokens) == 5  # reads 2 + 4 = 6 positions
    with pytest.raises(ModelError, match="2 tokens \\+ 5 fed-back CoT tokens = 7 "
                                         "positions is longer than max_len 6"):
        run_cot(model, [0, 1], 6)
    with pytest.raises(ModelError, match="at least 1"):
        run_cot(model, [0], 0)
    with pytest.raises(ModelError, match="outside the vocabulary"):
        run_cot(model, [3], 1)


def test_progress(capsys):
    model = make_model("float16", "iterative", 2, V=3, N=12)
    seen = []
    run_cot(model, [0], 10, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10, 10) and all(t == 10 for _, t in seen)
    run_cot(model, [0], 10)  # stderr is not a terminal here: nothing printed
    assert capsys.readouterr().err == ""
    run_cot(model, [0], 10, progress=True)
    err = capsys.readouterr().err  # a tqdm bar: "cot:   0%|...| 0/10 [..., ?token/s]"
    assert "cot:" in err and "/10 [" in err and "token/s" in err
