"""The IR's invariants, the builder's hashing and folding, and the netlist checks."""
from __future__ import annotations

import numpy as np
import pytest

from circuits import CircuitBuilder, Kind, ParseError
from circuits.analysis import depth, stats
from circuits.netlist import Netlist


def test_circuit_is_immutable_and_hashable():
    b = CircuitBuilder()
    a, c = b.inputs(["a", "c"])
    b.output("y", b.AND(a, c))
    circ = b.build()
    with pytest.raises(ValueError):
        circ.kinds[0] = 5
    with pytest.raises(AttributeError):
        circ.kinds = np.zeros(3)
    b2 = CircuitBuilder()
    a2, c2 = b2.inputs(["a", "c"])
    b2.output("y", b2.AND(c2, a2))
    assert b2.build() == circ  # strash sorts commutative fan-ins


def test_structural_hashing_shares_gates():
    b = CircuitBuilder()
    x, y = b.inputs(["x", "y"])
    assert b.AND(x, y) == b.AND(y, x)
    assert b.XOR(x, y) != b.AND(x, y)
    assert b.THR([x, y], [2, 1], 2) == b.THR([y, x], [1, 2], 2)


@pytest.mark.parametrize("kind,consts,expect", [
    (Kind.AND, [1, 1], 1), (Kind.AND, [1, 0], 0), (Kind.OR, [0, 0], 0), (Kind.OR, [0, 1], 1),
    (Kind.NAND, [1, 1], 0), (Kind.NOR, [0, 0], 1), (Kind.XOR, [1, 1], 0), (Kind.XNOR, [1, 0], 0),
    (Kind.MAJ, [1, 1, 0], 1), (Kind.MAJ, [0, 0, 1], 0),
])
def test_constant_folding(kind, consts, expect):
    b = CircuitBuilder()
    node = b.gate(kind, [b.const(c) for c in consts])
    assert b.build().kind(node) == (Kind.CONST1 if expect else Kind.CONST0)


def test_folding_keeps_live_inputs():
    b = CircuitBuilder()
    x, = b.inputs(["x"])
    assert b.AND(x, b.const(1)) == x
    inv = b.XOR(x, b.const(1))
    assert b.build().kind(inv) == Kind.NOT
    assert b.NOT(b.NOT(x)) == x
    assert b.THR([x, b.const(1)], [3, 2], 4) == x  # 3x + 2 >= 4  <=>  x


def test_topological_order_is_enforced():
    from circuits.ir import Circuit
    with pytest.raises(ValueError, match="topological"):
        Circuit(kinds=np.array([Kind.INPUT, Kind.AND, Kind.NOT], np.uint8),
                fanin_ptr=np.array([0, 0, 2, 3]), fanin=np.array([0, 2, 0]),
                weights=np.ones(3, np.int64), thresholds=np.zeros(3, np.int64),
                input_names=("a",), output_ids=np.array([1]), output_names=("y",))


def test_netlist_orders_and_reports():
    nl = Netlist(path="t.bench")
    nl.add_input("a", 1)
    nl.add_output("y", 2)
    nl.define("y", Kind.NOT, ["m"], 3)  # forward reference
    nl.define("m", Kind.BUF, ["a"], 4)
    c = nl.to_circuit()
    assert [c.kind(i) for i in range(3)] == [Kind.INPUT, Kind.BUF, Kind.NOT]
    assert depth(c) == 2 and stats(c)["gates"] == 2


def test_netlist_errors_name_file_and_line():
    nl = Netlist(path="t.bench")
    nl.add_input("a", 1)
    nl.define("y", Kind.NOT, ["zz"], 3)
    nl.add_output("y", 2)
    with pytest.raises(ParseError, match=r"^t.bench:3: signal 'zz' is used"):
        nl.to_circuit()
    nl = Netlist(path="t.bench")
    nl.define("p", Kind.NOT, ["q"], 5)
    nl.define("q", Kind.NOT, ["p"], 6)
    with pytest.raises(ParseError, match=r"^t.bench:\d: combinational cycle"):
        nl.to_circuit()
    nl = Netlist(path="t.bench")
    nl.define("p", Kind.CONST0, [], 5)
    with pytest.raises(ParseError, match=r"^t.bench:7: signal 'p' defined twice"):
        nl.define("p", Kind.CONST1, [], 7)
