"""SymPy conversion: every expression's truth table equals the reference evaluator's,
and SymPy's own satisfiable/simplify_logic agree with circuits whose function is known."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.logic.inference import satisfiable

from circuits import CircuitBuilder, CotsimInputError
from circuits.strategies import circuits as random_circuits
from circuits.symbolic import from_sympy, threshold_expr, to_sympy
from conftest import BENCHMARKS, needs_benchmarks
from oracles.gates import all_vectors, reference_evaluate


def truth_table(exprs: dict, input_names, X: np.ndarray) -> np.ndarray:
    syms = [sympy.Symbol(n) for n in input_names]
    out = np.zeros((len(X), len(exprs)), dtype=bool)
    for r, row in enumerate(X):
        env = {s: sympy.true if v else sympy.false for s, v in zip(syms, row)}
        for k, e in enumerate(exprs.values()):
            v = e.xreplace(env)
            assert v in (sympy.true, sympy.false), v  # fully evaluated
            out[r, k] = v is sympy.true
    return out


@settings(max_examples=40)
@given(random_circuits(basis="general", max_gates=14, max_inputs=5))
def test_expressions_have_the_circuits_truth_table(c):
    if len(set(c.output_names)) < c.num_outputs:
        return
    exprs = to_sympy(c)
    assert list(exprs) == list(c.output_names)
    X = all_vectors(c.num_inputs)
    assert (truth_table(exprs, c.input_names, X) == reference_evaluate(c, X)).all()


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=6), st.integers(-12, 12))
def test_threshold_expansion_is_exact(weights, t):
    xs = sympy.symbols(f"x0:{len(weights)}")
    e = threshold_expr(xs, weights, t)
    for bits in itertools.product([0, 1], repeat=len(weights)):
        want = sum(w * b for w, b in zip(weights, bits)) >= t
        got = e.xreplace({x: sympy.true if b else sympy.false for x, b in zip(xs, bits)})
        assert (got is sympy.true) == want


def test_majority_simplifies_to_the_textbook_formula():
    b = CircuitBuilder()
    a, c, d = b.inputs(["a", "b", "c"])
    b.output("maj", b.MAJ(a, c, d))
    maj = to_sympy(b.build())["maj"]
    A, B, C = sympy.symbols("a b c")
    assert sympy.simplify_logic(maj, form="dnf") == (A & B) | (A & C) | (B & C)
    assert satisfiable(maj ^ ((A & B) | (A & C) | (B & C))) is False


def test_an_unreachable_threshold_is_unsatisfiable():
    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    b.output("never", b.THR([x, y], [1, -1], 2))
    b.output("always", b.THR([x, y], [1, -1], -1))
    e = to_sympy(b.build())
    assert satisfiable(e["never"]) is False
    assert satisfiable(sympy.Not(e["always"])) is False


@needs_benchmarks
def test_c17_models_from_sympy_check_out_on_the_reference_evaluator():
    from circuits import load
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    exprs = to_sympy(c)
    syms = [sympy.Symbol(n) for n in c.input_names]
    for k, name in enumerate(c.output_names):
        for want in (True, False):
            model = satisfiable(exprs[name] if want else sympy.Not(exprs[name]))
            assert model
            x = np.array([[bool(model.get(s, False)) for s in syms]])
            assert reference_evaluate(c, x)[0, k] == want
    # G22 = NAND(NAND(1,3), NAND(2, NAND(3,6))), worked out by hand
    g1, g2, g3, g6 = sympy.symbols("G1gat G2gat G3gat G6gat")
    by_hand = (g1 & g3) | (g2 & ~g3) | (g2 & ~g6)
    assert satisfiable(exprs["G22gat"] ^ by_hand) is False
    assert satisfiable(sympy.simplify_logic(exprs["G22gat"]) ^ by_hand) is False


@needs_benchmarks
def test_large_circuits_are_refused():
    from circuits import load
    c = load(BENCHMARKS / "iscas85" / "c432.bench")
    with pytest.raises(CotsimInputError, match="160 gates"):
        to_sympy(c, max_gates=100)


def test_wide_thresholds_and_duplicate_names_are_refused():
    b = CircuitBuilder()
    xs = b.inputs([f"x{i}" for i in range(30)])
    b.output("m", b.MAJ(*xs))
    with pytest.raises(CotsimInputError, match="fan-in 30"):
        to_sympy(b.build())
    b = CircuitBuilder()
    x, y = b.inputs(["x", "y"])
    b.output("o", b.AND(x, y))
    b.output("o", b.OR(x, y))
    with pytest.raises(CotsimInputError, match="appears twice"):
        to_sympy(b.build())


@settings(max_examples=30)
@given(random_circuits(basis="general", max_gates=12, max_inputs=4))
def test_from_sympy_round_trip(c):
    if len(set(c.output_names)) < c.num_outputs:
        return
    c2 = from_sympy(to_sympy(c), inputs=c.input_names)
    assert c2.input_names == c.input_names and c2.output_names == c.output_names
    X = all_vectors(c.num_inputs)
    assert (reference_evaluate(c2, X) == reference_evaluate(c, X)).all()


def test_from_sympy_other_connectives():
    a, b, c = sympy.symbols("a b c")
    from sympy.logic.boolalg import Exclusive, ITE, Equivalent, Implies, Nand, Nor, Xnor
    exprs = {"imp": Implies(a, b), "eq": Equivalent(a, b, c), "ite": ITE(a, b, c),
             "ex": Exclusive(a, b, c), "nand": Nand(a, b), "nor": Nor(a, c),
             "xnor": Xnor(a, b, c), "t": sympy.true, "f": sympy.false}
    circ = from_sympy(exprs)
    assert circ.input_names == ("a", "b", "c")
    X = all_vectors(3)
    assert (reference_evaluate(circ, X) == truth_table(exprs, ("a", "b", "c"), X)).all()
    with pytest.raises(CotsimInputError, match="not among the inputs"):
        from_sympy({"o": a & b}, inputs=["a"])
