"""Theorem 3.3 made executable: the CoT transformer of a circuit emits, through the generic
finite-precision forward pass, the value of every gate in topological order.

The oracle is direct evaluation of the same (lowered) circuit: every CoT token is compared
with the value of the gate it stands for, not only the final outputs.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import evaluate, load
from circuits.simulate import evaluate_nodes
from circuits.strategies import circuits
from transformer_sim.constructions.circuit_cot import BOS, build_circuit_cot
from transformer_sim.constructions.retrieval import DEFAULT_SPEC, FormatTooCoarse
from transformer_sim.cot import run_cot
from transformer_sim.model import Layer, Model

from conftest import BENCHMARKS, needs_benchmarks


def expected_tokens(cot, X: np.ndarray) -> np.ndarray:
    """(batch, T): per CoT step, the value of its gate (or of the output it reads out)."""
    prog = cot.program
    values = evaluate_nodes(prog.lowered, X)
    cols = [node if node >= 0 else None for node in prog.step_node]
    outs = [int(o) for o in prog.lowered.output_ids]
    k = 0
    idx = []
    for c in cols:
        if c is None:
            idx.append(outs[k])
            k += 1
        else:
            idx.append(c)
    return values[:, idx].astype(int)


def check_every_token(circuit, X, fmt=None, sum_mode="iterative"):
    cot = build_circuit_cot(circuit, fmt, sum_mode=sum_mode)
    want = expected_tokens(cot, X)
    direct = evaluate(circuit, X).astype(int)
    for r in range(X.shape[0]):
        trace = run_cot(cot.model, cot.prompt(X[r].astype(int)), cot.cot_steps, progress=False)
        assert not trace.undefined, trace.reason
        assert list(trace.tokens) == want[r].tolist()
        assert cot.read_outputs(trace.tokens) == direct[r].tolist()
    return cot


def test_c17_every_input_every_token():
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    X = ((np.arange(32)[:, None] >> np.arange(5)) & 1).astype(bool)
    cot = check_every_token(c, X)
    assert (cot.model.n_layers, cot.model.heads, cot.model.fmt.spec) == (1, 2, DEFAULT_SPEC)


@needs_benchmarks
@pytest.mark.parametrize("name", ["c432", "c499", "c880"])
def test_iscas_random_vectors(name):
    c = load(BENCHMARKS / "iscas85" / f"{name}.bench")
    X = np.random.default_rng(7).integers(0, 2, (3, c.num_inputs)).astype(bool)
    check_every_token(c, X)


@settings(max_examples=40)
@given(data=st.data(), basis=st.sampled_from(["fanin2", "AC0", "TC0", "general"]))
def test_random_circuits_of_every_basis(data, basis):
    c = data.draw(circuits(basis=basis, max_inputs=5, max_gates=14, max_outputs=3))
    X = ((np.arange(1 << c.num_inputs)[:, None] >> np.arange(c.num_inputs)) & 1).astype(bool)
    check_every_token(c, X[:8])


@pytest.mark.parametrize("spec,mode", [("float16", "iterative"), ("bfloat16", "exact"),
                                       ("paper:e=1,s=2", "iterative"),
                                       ("paper:e=0,s=3", "exact")])
def test_other_formats_and_sum_modes(spec, mode):
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    X = np.random.default_rng(1).integers(0, 2, (6, 5)).astype(bool)
    check_every_token(c, X, spec, mode)


def test_too_coarse_format_is_refused_naming_one_that_works():
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    with pytest.raises(FormatTooCoarse, match=r"paper:e=0,s=2.*paper:e=0,s=3"):
        build_circuit_cot(c, "paper:e=0,s=2")


def test_shape_is_constant_and_width_logarithmic():
    from circuits.families import random_circuit

    seen = set()
    for size in (10, 100, 1000):
        c = random_circuit(8, size, 2, seed=size)
        cot = build_circuit_cot(c)
        positions = 1 + c.num_inputs + cot.cot_steps - 1
        seen.add((cot.model.n_layers, cot.model.heads, cot.model.d_ff, cot.model.fmt.spec))
        assert cot.model.d_model == 8 + 6 * max(1, math.ceil(math.log2(positions)))
    assert len(seen) == 1


def test_prompt_starts_with_bos_and_checks_bits():
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    cot = build_circuit_cot(c)
    assert cot.prompt([1, 0, 1, 0, 1]) == [BOS, 1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="5 inputs"):
        cot.prompt([1, 0])


def test_a_perturbed_weight_is_caught():
    """The comparison can fail: flip one truth-table entry in the positional embedding."""
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    cot = build_circuit_cot(c)
    m = cot.model
    PE = m.PE.copy()
    n = c.num_inputs
    PE[n, cot.layout.T:cot.layout.T + 4] = 1 - PE[n, cot.layout.T:cot.layout.T + 4]
    broken = Model(fmt=m.fmt, sum_mode=m.sum_mode, TE=m.TE, PE=PE, Wout=m.Wout, bout=m.bout,
                   layers=m.layers)
    X = ((np.arange(32)[:, None] >> np.arange(5)) & 1).astype(bool)
    want = expected_tokens(cot, X)
    wrong = 0
    for r in range(32):
        toks = run_cot(broken, cot.prompt(X[r].astype(int)), cot.cot_steps,
                       progress=False).tokens
        wrong += toks[0] != want[r, 0]
    assert wrong == 32  # step 0's gate is inverted on every input


@needs_benchmarks
def test_inverters_fold_into_truth_tables():
    """An AIG is half inverters: folded, they cost no CoT step, and every token and output
    is still right."""
    from transformer_sim.constructions.circuit_cot import circuit_program

    c = load(BENCHMARKS / "epfl" / "random_control" / "int2float.aig")
    folded = circuit_program(c)
    unfolded = circuit_program(c, fold_inverters=False)
    assert folded.cot_steps == 260 + c.num_outputs  # one step per AND node, one per output
    assert unfolded.cot_steps > folded.cot_steps
    X = np.random.default_rng(3).integers(0, 2, (4, c.num_inputs)).astype(bool)
    check_every_token(c, X)
