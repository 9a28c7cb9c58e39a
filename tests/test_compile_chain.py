"""The CoT upper bound: T compiled decoding steps chained into one circuit, against
``run_cot``."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.errors import CotsimInputError
from oracles.forward import undefined_model
from transformer_sim.compile import compile_model, input_bits
from transformer_sim.compile.chain import compile_chain
from transformer_sim.compile.verify import decode_outputs, verify
from transformer_sim.cot import run_cot
from transformer_sim.random_model import random_model


@settings(max_examples=12)
@given(st.integers(2, 3), st.integers(1, 2), st.sampled_from(["exact", "iterative"]),
       st.sampled_from(["paper:e=0,s=1", "paper:e=1,s=1"]), st.integers(1, 3),
       st.integers(1, 4), st.integers(0, 2 ** 16))
def test_chain_equals_run_cot(V, L, mode, fmt, n, T, seed):
    model = random_model(V, L, 1, 2, 2, 8, fmt, mode, seed=seed, check_prompts=4, check_len=8)
    cc = compile_chain(model, n, T)
    v = verify(cc)
    assert v.exhaustive and v.agrees, v.mismatches
    assert cc.circuit.output_names == tuple(
        f"step{s}_tok{j}" for s in range(T) for j in range(cc.token_bits)) + ("undefined",)


def test_chain_is_smaller_than_its_steps():
    model = random_model(3, 2, 1, 2, 2, 12, "paper:e=1,s=1", "exact", seed=5, check_prompts=4)
    n, T = 4, 5
    cc = compile_chain(model, n, T)
    steps = [compile_model(model, n + s).circuit.size for s in range(T)]
    # structural hashing shares every earlier position's work between the steps
    assert max(steps) < cc.circuit.size < sum(steps)
    assert verify(cc).agrees


def test_chain_undefined():
    model = undefined_model("exact")
    cc = compile_chain(model, 3, 3)
    toks = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    from circuits import evaluate

    got = decode_outputs(evaluate(cc.circuit, input_bits(toks, 2)), cc.token_bits)
    for p, row in zip(toks, got):
        trace = run_cot(model, p, 3)
        if trace.undefined:
            assert row.tolist() == [-1, -1, -1]  # undefined set, token bits all 0
        else:
            assert row.tolist() == list(trace.tokens)
    assert (got[:, 0] == -1).sum() == 4  # prompts starting with 1


def test_chain_refusals():
    model = random_model(2, 1, 1, 2, 2, 4, "paper:e=1,s=1", "exact", seed=5, check_prompts=4)
    with pytest.raises(CotsimInputError, match="max_len"):
        compile_chain(model, 3, 3)          # reads 3 + 3 - 1 = 5 > 4 positions
    with pytest.raises(CotsimInputError, match="steps"):
        compile_chain(model, 2, 0)
    with pytest.raises(CotsimInputError, match="budget"):
        compile_chain(model, 2, 2, budget=100)
