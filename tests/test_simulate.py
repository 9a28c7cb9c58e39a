"""The bit-parallel evaluators (Numba kernel and NumPy engine) against the plain-Python
reference evaluator, bit for bit; truth tables; packing; bad input."""
from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, CotsimInputError, Kind, load, strategies
from circuits.simulate import evaluate, evaluate_nodes, pack, simulate_words, unpack
from circuits.truthtable import MAX_INPUTS, exhaustive_words, truth_table, truth_table_words
from conftest import EPFL_AIG, EPFL_BLIF, ISCAS, ISCAS_UPPER, REPO, bench_id
from oracles.gates import reference_evaluate

ENGINES = ["numba", "numpy"]
BATCHES = [0, 1, 63, 64, 65, 200]
ALL_KINDS = [k for k in Kind if k != Kind.INPUT]


# -- a strategy with the corner cases this module cares about -----------------------------
@st.composite
def raw_circuits(draw, max_inputs=8, max_gates=40, max_fanin=6):
    """Circuits of every kind, built as drawn: constants anywhere after the inputs,
    fan-in 1 on wide gates, repeated fan-ins, MAJ of even fan-in, THR with negative and
    (sometimes) huge weights, outputs that are inputs or constants, and zero outputs."""
    n = draw(st.integers(0, max_inputs))
    b = CircuitBuilder(strash=False, fold=False)
    b.inputs([f"x{i}" for i in range(n)])
    if n == 0:
        b.const(draw(st.booleans()))
    wmax = draw(st.sampled_from([3, 1000, 1 << 40]))
    for _ in range(draw(st.integers(0, max_gates))):
        kind = draw(st.sampled_from(ALL_KINDS))
        if kind in (Kind.CONST0, Kind.CONST1):
            b.const(kind == Kind.CONST1)
            continue
        arity = 1 if kind in (Kind.BUF, Kind.NOT) else draw(st.integers(1, max_fanin))
        ins = [draw(st.integers(0, b.num_nodes - 1)) for _ in range(arity)]
        if kind == Kind.THR:
            ws = [draw(st.integers(-wmax, wmax)) for _ in ins]
            lo, hi = sum(w for w in ws if w < 0), sum(w for w in ws if w > 0)
            b.THR(ins, ws, draw(st.integers(lo - 1, hi + 1)))
        else:
            b.gate(kind, ins)
    for j in range(draw(st.integers(0, 5))):
        b.output(f"y{j}", draw(st.integers(0, b.num_nodes - 1)))
    return b.build()


def random_inputs(circuit, batch, seed=0):
    return np.random.default_rng(seed).integers(0, 2, (batch, circuit.num_inputs)).astype(bool)


@given(raw_circuits(), st.sampled_from(BATCHES), st.integers(0, 2**32 - 1))
def test_engines_agree_with_reference(circuit, batch, seed):
    X = random_inputs(circuit, batch, seed)
    want = reference_evaluate(circuit, X)
    for engine in ENGINES:
        got = evaluate(circuit, X, engine=engine)
        assert got.dtype == bool and got.shape == (batch, circuit.num_outputs)
        np.testing.assert_array_equal(got, want, err_msg=engine)


@given(raw_circuits(max_gates=25), st.sampled_from([1, 65]))
def test_every_node_agrees_with_reference(circuit, batch):
    X = random_inputs(circuit, batch)
    every = circuit.with_outputs(range(circuit.num_nodes),
                                 [f"n{i}" for i in range(circuit.num_nodes)])
    want = reference_evaluate(every, X)
    for engine in ENGINES:
        np.testing.assert_array_equal(evaluate_nodes(circuit, X, engine=engine), want)


def test_public_strategies_agree_with_reference():
    @settings(max_examples=40)
    @given(strategies.circuits_with_inputs(max_batch=70, basis="general", max_gates=30))
    def check(case):
        circuit, X = case
        want = reference_evaluate(circuit, X)
        for engine in ENGINES:
            np.testing.assert_array_equal(evaluate(circuit, X, engine=engine), want)

    check()


@given(raw_circuits(max_gates=30), st.sampled_from([1, 2, 3, 7, 300]))
def test_block_length_never_changes_the_result(circuit, block):
    words = np.random.default_rng(block).integers(0, 2**64, (circuit.num_inputs, 11),
                                                  dtype=np.uint64)
    want = simulate_words(circuit, words, engine="numpy")
    np.testing.assert_array_equal(simulate_words(circuit, words, engine="numba", block=block),
                                  want)


def test_long_chain_reuses_rows_correctly():
    # a deep chain with side branches read much later: rows freed and reused many times
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs([f"x{i}" for i in range(6)])
    node, early = xs[0], []
    for i in range(600):
        node = b.gate([Kind.XOR, Kind.AND, Kind.OR, Kind.NAND][i % 4], [node, xs[i % 6]])
        if i % 50 == 0:
            early.append(b.NOT(node))
    for j, e in enumerate(early):
        node = b.gate(Kind.XNOR, [node, e])
        b.output(f"e{j}", e)
    b.output("y", node)
    c = b.build()
    X = random_inputs(c, 130, seed=3)
    np.testing.assert_array_equal(evaluate(c, X, engine="numba"), reference_evaluate(c, X))


# -- benchmark files ----------------------------------------------------------------------
BENCH_FILES = ISCAS + ISCAS_UPPER + EPFL_AIG + EPFL_BLIF


@pytest.mark.parametrize("path", BENCH_FILES, ids=[bench_id(p) for p in BENCH_FILES])
def test_benchmark_files_agree_with_reference(path):
    if not BENCH_FILES:
        pytest.skip("no benchmark files")
    c = load(path)
    # the Python reference is slow: few vectors on big circuits
    batch = 16 if c.num_nodes < 5000 else 8 if c.num_nodes < 20000 else 4
    X = random_inputs(c, batch, seed=len(path.name))
    want = reference_evaluate(c, X)
    for engine in ENGINES:
        np.testing.assert_array_equal(evaluate(c, X, engine=engine), want, err_msg=engine)
    # many more vectors, the two engines against each other
    words = np.random.default_rng(1).integers(0, 2**64, (c.num_inputs, 20), dtype=np.uint64)
    np.testing.assert_array_equal(simulate_words(c, words, engine="numba"),
                                  simulate_words(c, words, engine="numpy"))


# -- packing ------------------------------------------------------------------------------
@given(st.integers(0, 200), st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_pack_unpack_round_trip(batch, n, seed):
    X = np.random.default_rng(seed).integers(0, 2, (batch, n)).astype(bool)
    words = pack(X)
    assert words.dtype == np.uint64 and words.shape == (n, (batch + 63) // 64)
    for v in range(min(batch, 70)):  # vector v is bit v % 64 of word v // 64
        for i in range(n):
            assert bool((int(words[i, v // 64]) >> (v % 64)) & 1) == X[v, i]
    if batch % 64:  # lanes past the batch are 0
        assert np.all(words[:, -1] >> np.uint64(batch % 64) == 0)
    np.testing.assert_array_equal(unpack(words, batch), X)


# -- truth tables -------------------------------------------------------------------------
@given(raw_circuits(max_inputs=9, max_gates=25))
def test_truth_table_agrees_with_reference(circuit):
    n = circuit.num_inputs
    rows = np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool).reshape(2**n, n)
    rows = rows[:, ::-1]  # product() puts input 0 last; the table wants it as bit 0 of r
    table = truth_table(circuit)
    assert table.shape == (2**n, circuit.num_outputs)
    np.testing.assert_array_equal(table, reference_evaluate(circuit, rows))
    packed = truth_table_words(circuit)
    np.testing.assert_array_equal(unpack(packed, 2**n), table)


def test_truth_table_row_order():
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs(["a", "b", "c"])
    for i, x in enumerate(xs):
        b.output(f"y{i}", x)
    table = truth_table(b.build())
    for r in range(8):
        assert [int(v) for v in table[r]] == [(r >> i) & 1 for i in range(3)]


@pytest.mark.parametrize("n", [0, 1, 5, 6, 7, 12])
def test_exhaustive_words_enumerates_every_vector_once(n):
    rows = unpack(exhaustive_words(n), 2**n)
    codes = rows.astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))
    np.testing.assert_array_equal(codes, np.arange(2**n))


def test_truth_table_refuses_too_many_inputs():
    b = CircuitBuilder()
    xs = b.inputs([f"x{i}" for i in range(MAX_INPUTS + 1)])
    b.output("y", b.AND(*xs))
    with pytest.raises(CotsimInputError, match="limit is 24 inputs"):
        truth_table(b.build())


# -- bad input ----------------------------------------------------------------------------
def _and2():
    b = CircuitBuilder()
    x, y = b.inputs(["x", "y"])
    b.output("z", b.AND(x, y))
    return b.build()


@pytest.mark.parametrize("X, message", [
    (np.zeros((4, 3), dtype=bool), "has 2 inputs, but the input array has 3 columns"),
    (np.zeros(2, dtype=bool), "shape"),
    (np.array([[0, 2]]), "0 or 1"),
])
def test_bad_input_arrays(X, message):
    with pytest.raises(CotsimInputError, match=message):
        evaluate(_and2(), X)


def test_integer_zero_one_arrays_are_accepted_and_not_modified():
    X = np.array([[0, 1], [1, 1]], dtype=np.int64)
    before = X.copy()
    assert evaluate(_and2(), X).tolist() == [[False], [True]]
    np.testing.assert_array_equal(X, before)


def test_unknown_engine():
    with pytest.raises(CotsimInputError, match="unknown engine"):
        evaluate(_and2(), np.zeros((1, 2), bool), engine="gpu")


def test_threshold_weights_over_the_counter_limit_are_refused():
    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    b.output("z", b.THR([x, y], [1 << 61, -(1 << 61)], 1))
    with pytest.raises(CotsimInputError, match="63-bit"):
        evaluate(b.build(), np.zeros((1, 2), bool))


def test_large_weights_under_the_limit():
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs(["a", "b", "c"])
    b.output("z", b.THR(xs, [1 << 58, -(1 << 58) + 1, 1 << 57], 1 << 57))
    c = b.build()
    X = unpack(exhaustive_words(3), 8)
    for engine in ENGINES:
        np.testing.assert_array_equal(evaluate(c, X, engine=engine), reference_evaluate(c, X))


# -- import hygiene -----------------------------------------------------------------------
def _numba_loaded_after(code: str) -> bool:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\n"
                          "print('numba' in sys.modules)"], cwd=REPO, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().endswith("True")


def test_import_circuits_does_not_import_numba():
    assert not _numba_loaded_after("import circuits")


def test_small_jobs_in_a_fresh_process_skip_numba_and_large_ones_use_it():
    setup = ("import numpy as np, circuits, circuits.simulate\nb = circuits.CircuitBuilder()\n"
             "x, y = b.inputs(['x', 'y'])\nb.output('z', b.AND(x, y))\nc = b.build()\n")
    assert not _numba_loaded_after(setup + "circuits.evaluate(c, np.ones((5, 2), bool))")
    big = "circuits.simulate.AUTO_NUMPY_MAX_NODE_WORDS = 2\n"
    assert _numba_loaded_after(setup + big + "circuits.evaluate(c, np.ones((65, 2), bool))")
