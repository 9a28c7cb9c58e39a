"""The normal forms: to_fanin2 (AND/OR/NOT, fan-in <= 2) and to_aig (2-input AND + NOT)
keep every circuit's function, names and order, checked exhaustively against the
plain-Python reference evaluator and, on ISCAS-85, with ABC's ``cec``."""
from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, evaluate, load, save
from circuits.analysis import basis, depth, max_fanin, stats
from circuits.normalize import to_aig, to_fanin2
from circuits.strategies import circuits
from conftest import ABC, ISCAS, bench_id, needs_abc
from oracles.gates import all_vectors, reference_evaluate

AIG_KINDS = {"AND", "NOT"}


def check_normal_forms(c) -> None:
    """Every input vector: the plain-Python oracle on the source, the bit-parallel
    evaluator on the (larger) normal forms."""
    X = all_vectors(c.num_inputs)
    want = reference_evaluate(c, X)
    f2 = to_fanin2(c)
    aig = to_aig(c)
    for out in (f2, aig):
        assert out.input_names == c.input_names
        assert out.output_names == c.output_names
        assert max_fanin(out) <= 2
        assert np.array_equal(evaluate(out, X), want)
    assert basis(f2) == "fanin2"
    assert set(stats(aig)["kinds"]) <= AIG_KINDS


@given(circuits(basis="general", max_inputs=6, max_gates=12, max_fanin=7, max_abs_weight=9))
def test_random_circuits_keep_their_function(c):
    check_normal_forms(c)


@settings(max_examples=40)
@given(st.integers(1, 8).flatmap(lambda k: st.tuples(
    st.lists(st.integers(-20, 20), min_size=k, max_size=k), st.integers(-60, 60))))
def test_threshold_gates_with_negative_and_large_weights(case):
    ws, t = case
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs([f"x{i}" for i in range(len(ws))])
    b.output("t", b.THR(xs, ws, t))
    b.output("t_repeat", b.THR(xs + xs[:1], ws + [3], t))  # a fan-in read twice
    check_normal_forms(b.build())


@pytest.mark.parametrize("k", range(1, 10))
def test_majority_rule_is_ceil_half(k):
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs([f"x{i}" for i in range(k)])
    b.output("maj", b.MAJ(*xs))
    c = b.build()
    X = all_vectors(k)
    got = reference_evaluate(to_fanin2(c), X)[:, 0]
    assert np.array_equal(got, X.sum(axis=1) >= math.ceil(k / 2))
    check_normal_forms(c)


def test_wide_gates_become_balanced_trees():
    b = CircuitBuilder()
    xs = b.inputs([f"x{i}" for i in range(1024)])
    b.output("and", b.AND(*xs))
    b.output("or", b.OR(*xs))
    b.output("xor", b.XOR(*xs[:64]))
    c = to_fanin2(b.build())
    lv = depth(c.with_outputs(c.output_ids[:2], c.output_names[:2]))
    assert lv == 10  # log2(1024)
    assert depth(c.with_outputs(c.output_ids[2:], c.output_names[2:])) <= 3 * 6  # 3 per XOR2
    assert stats(c)["kinds"]["AND"] == 1023 + 63 * 2


def test_majority_of_many_stays_shallow():
    # A carry-save tree: depth grows like log k, far below a ripple counter's k.
    rng = np.random.default_rng(5)
    for k in (33, 127):
        b = CircuitBuilder()
        xs = b.inputs([f"x{i}" for i in range(k)])
        b.output("maj", b.MAJ(*xs))
        c = b.build()
        f2 = to_fanin2(c)
        assert depth(f2) <= 12 * math.log2(k)
        X = rng.random((64, k)) < rng.random((64, 1))  # biased rows hit both sides
        assert np.array_equal(reference_evaluate(f2, X), reference_evaluate(c, X))


def test_tags_are_copied_from_the_source_gate():
    b = CircuitBuilder(strash=False, fold=False)
    x, y, z = b.inputs(["x", "y", "z"])
    b.set_tag("layer0")
    m = b.MAJ(x, y, z)
    b.set_tag("layer1")
    o = b.XOR(m, x, z)
    b.output("o", o)
    src = b.build()
    for out in (to_fanin2(src), to_aig(src)):
        tags = {out.tag_of(v) for v in range(out.num_inputs, out.num_nodes)}
        assert tags == {"layer0", "layer1"}
        assert out.tag_of(int(out.output_ids[0])) == "layer1"


def test_dead_logic_is_dropped_and_inputs_kept():
    b = CircuitBuilder(strash=False, fold=False)
    x, y, unused = b.inputs(["x", "y", "unused"])
    b.AND(x, unused)  # read by no output
    b.output("o", b.OR(x, y))
    b.output("x_again", x)
    out = to_aig(b.build())
    assert out.input_names == ("x", "y", "unused")
    assert stats(out)["kinds"] == {"AND": 1, "NOT": 3}


@needs_abc
@pytest.mark.parametrize("path", [p for p in ISCAS if p.stem in ("c432", "c499", "c1908")],
                         ids=bench_id)
def test_fanin2_of_iscas_is_equivalent_by_abc(path, tmp_path):
    out = tmp_path / "fanin2.bench"
    save(to_fanin2(load(path)), out)
    r = subprocess.run([ABC, "-c", f"cec -n {path} {out}"], capture_output=True, text=True,
                       timeout=120)
    assert "Networks are equivalent" in r.stdout, r.stdout + r.stderr
