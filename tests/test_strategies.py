"""The public Hypothesis strategies: the requested basis, size, depth and fan-in hold,
the examples are valid circuits, every feature is reachable, and failures shrink small."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from circuits import Kind
from circuits.analysis import basis, depth, max_abs_weight, max_fanin
from circuits.ir import NULLARY, Circuit
from circuits.strategies import (BASIS_KINDS, circuits, circuits_with_inputs, gate_kinds,
                                 input_vectors, thr_gates)
from circuits.simulate import evaluate
from oracles.gates import reference_evaluate


ORDER = ["fanin2", "AC0", "TC0", "general"]
FIND = settings(database=None, max_examples=2000, derandomize=True,
                suppress_health_check=list(HealthCheck))
REACH = settings(FIND, phases=[Phase.generate])  # any example will do: no shrinking


def rebuilt(c: Circuit) -> Circuit:
    """The same arrays through the IR's constructor again, which validates them."""
    return Circuit(c.kinds, c.fanin_ptr, c.fanin, c.weights, c.thresholds, c.input_names,
                   c.output_ids, c.output_names)


@pytest.mark.parametrize("b", ORDER)
@given(data=st.data())
def test_basis_and_bounds_are_honoured(b, data):
    lo_in = data.draw(st.integers(0, 3))
    hi_in = data.draw(st.integers(lo_in, 6))
    gates = data.draw(st.integers(0, 25))
    fan = data.draw(st.integers(1, 2 if b == "fanin2" else 6))
    outs = data.draw(st.integers(1, 4))
    c = data.draw(circuits(basis=b, min_inputs=lo_in, max_inputs=hi_in, max_gates=gates,
                           max_fanin=fan, max_outputs=outs, max_abs_weight=3))
    assert ORDER.index(basis(c)) <= ORDER.index(b)
    present = {Kind(int(k)) for k in np.unique(c.kinds)}
    assert present - NULLARY <= set(BASIS_KINDS[b])
    assert lo_in <= c.num_inputs <= hi_in
    assert c.size <= gates and 1 <= c.num_outputs <= outs
    assert max_fanin(c) <= fan
    assert max_abs_weight(c) <= 3
    assert rebuilt(c) == c
    assert c.input_names == tuple(f"x{i}" for i in range(c.num_inputs))


@pytest.mark.parametrize("b", ORDER)
@given(data=st.data())
def test_max_depth_is_honoured(b, data):
    d = data.draw(st.integers(0, 4))
    c = data.draw(circuits(basis=b, max_gates=30, max_depth=d))
    assert depth(c) <= d
    if d == 0:
        assert c.size == 0


@given(circuits(allow_constants=False, max_gates=15))
def test_no_constants_when_asked(c):
    assert not np.isin(c.kinds, [int(Kind.CONST0), int(Kind.CONST1)]).any()


@given(circuits_with_inputs(basis="general", max_gates=25, max_batch=8))
def test_examples_evaluate(case):
    c, X = case
    assert X.dtype == np.bool_ and X.shape[1] == c.num_inputs and 1 <= X.shape[0] <= 8
    ref = reference_evaluate(c, X)
    assert ref.shape == (X.shape[0], c.num_outputs)
    assert np.array_equal(evaluate(c, X), ref)


@given(circuits(min_gates=3, max_gates=10), st.data())
def test_input_vectors_shape(c, data):
    X = data.draw(input_vectors(c, max_size=5, min_size=2))
    assert X.shape[1] == c.num_inputs and 2 <= X.shape[0] <= 5 and X.dtype == np.bool_


@pytest.mark.parametrize("b", ORDER)
@given(data=st.data())
def test_gate_kinds(b, data):
    k = data.draw(gate_kinds(b))
    assert k in BASIS_KINDS[b] and k not in NULLARY


@given(fanin=st.integers(1, 6), w=st.integers(0, 5), data=st.data())
def test_thr_gates(fanin, w, data):
    ws, t = data.draw(thr_gates(fanin, w))
    assert len(ws) == fanin and all(abs(x) <= w for x in ws)
    assert sum(x for x in ws if x < 0) <= t <= sum(x for x in ws if x > 0) + 1


# -- every feature can be drawn ---------------------------------------------------------
@pytest.mark.parametrize("b", ORDER)
def test_every_kind_is_reachable(b):
    for k in BASIS_KINDS[b]:
        find(circuits(basis=b, max_gates=6), lambda c, k=k: int(k) in c.kinds, settings=REACH)


def test_extremes_are_reachable():
    find(circuits(max_gates=12, max_depth=4), lambda c: depth(c) == 4, settings=REACH)
    find(circuits(basis="AC0", max_fanin=5, max_gates=5), lambda c: max_fanin(c) == 5,
         settings=REACH)
    find(circuits(max_gates=5), lambda c: Kind.CONST1 in c.kinds and Kind.CONST0 in c.kinds,
         settings=REACH)
    find(circuits(max_outputs=3), lambda c: c.num_outputs == 3, settings=REACH)


# -- shrinking --------------------------------------------------------------------------
def test_shrinks_to_a_minimal_circuit():
    c = find(circuits(basis="general", max_inputs=8, max_gates=30),
             lambda c: Kind.XOR in c.kinds, settings=FIND)
    assert c.num_inputs == 1 and c.size == 1 and c.num_outputs == 1
    c = find(circuits(basis="fanin2", max_inputs=8, max_gates=30),
             lambda c: depth(c) >= 3, settings=FIND)
    assert c.size == 3 and c.num_inputs == 1 and c.num_nodes == 4


def test_bad_arguments():
    with pytest.raises(ValueError):
        gate_kinds("NC1")
    with pytest.raises(ValueError):
        circuits(basis="fanin2", max_fanin=3).validate()
    with pytest.raises(ValueError):
        circuits(max_gates=2, min_gates=3).validate()
    with pytest.raises(ValueError):
        thr_gates(0)
