"""Hypothesis strategies for circuits, for property tests of your own constructions.

They need Hypothesis (``pip install cotsim[test]``); nothing else in cotsim imports them.

Example: a property test that a construction of yours preserves a circuit's function.

    from hypothesis import given
    from circuits import evaluate
    from circuits.strategies import circuits, circuits_with_inputs

    @given(circuits_with_inputs(basis="TC0", max_gates=30))
    def test_my_pass_preserves_function(case):
        circuit, X = case
        assert (evaluate(my_pass(circuit), X) == evaluate(circuit, X)).all()

The strategies shrink well: sizes are drawn first, every fan-in is an index back into
the nodes before it (0 is the newest, so a failing example shrinks towards a short chain
of gates, and deleting a gate leaves the wiring of later gates alone), and gate kinds
shrink towards AND. Circuits are built as drawn (no structural
hashing, no constant folding), so the drawn size and depth are the circuit's own.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .builder import CircuitBuilder
from .ir import Circuit, Kind

#: Gate kinds per basis, simplest first (Hypothesis shrinks towards the first).
BASIS_KINDS: dict[str, tuple[Kind, ...]] = {
    "fanin2": (Kind.AND, Kind.OR, Kind.NOT, Kind.BUF),
    "AC0": (Kind.AND, Kind.OR, Kind.NOT, Kind.BUF),
    "TC0": (Kind.AND, Kind.OR, Kind.NOT, Kind.BUF, Kind.MAJ, Kind.THR),
    "general": (Kind.AND, Kind.OR, Kind.NOT, Kind.BUF, Kind.NAND, Kind.NOR, Kind.XOR,
                Kind.XNOR, Kind.MAJ, Kind.THR),
}


def _check_basis(basis: str) -> None:
    if basis not in BASIS_KINDS:
        raise ValueError(f"basis must be one of {', '.join(BASIS_KINDS)}, not {basis!r}")


def gate_kinds(basis: str = "general") -> st.SearchStrategy[Kind]:
    """A gate kind of the basis (no inputs or constants); shrinks towards AND."""
    _check_basis(basis)
    return st.sampled_from(BASIS_KINDS[basis])


def thr_gates(fanin: int, max_abs_weight: int = 4
              ) -> st.SearchStrategy[tuple[list[int], int]]:
    """(weights, threshold) for a THR gate of the given fan-in: weights in
    -max_abs_weight..max_abs_weight, and a threshold from one below the least reachable
    sum to one above the greatest, so the constant gates (always 0, always 1) occur too."""
    if fanin < 1 or max_abs_weight < 0:
        raise ValueError("thr_gates needs fanin >= 1 and max_abs_weight >= 0")

    @st.composite
    def draw(data: st.DrawFn) -> tuple[list[int], int]:
        ws = data(st.lists(st.integers(-max_abs_weight, max_abs_weight),
                           min_size=fanin, max_size=fanin))
        lo = sum(w for w in ws if w < 0)
        hi = sum(w for w in ws if w > 0)
        return ws, data(st.integers(lo, hi + 1))

    return draw()


def circuits(basis: str = "general", min_inputs: int = 1, max_inputs: int = 6,
             max_gates: int = 20, max_depth: int | None = None, max_fanin: int | None = None,
             allow_constants: bool = True, max_outputs: int = 3, min_gates: int = 0,
             max_abs_weight: int = 4) -> st.SearchStrategy[Circuit]:
    """A random circuit in ``basis``:

    - ``"fanin2"``: AND/OR/NOT/BUF, fan-in at most 2;
    - ``"AC0"``: AND/OR/NOT/BUF, fan-in at most ``max_fanin`` (default 4);
    - ``"TC0"``: adds MAJ and THR (weights within +-``max_abs_weight``);
    - ``"general"``: every gate kind.

    It has ``min_inputs..max_inputs`` inputs ``x0 ..``, ``min_gates..max_gates`` gates
    (constants not counted), depth at most ``max_depth`` (levels as in
    ``circuits.analysis.depth``: every gate counts, BUF too) and 1..``max_outputs``
    outputs ``y0 ..``, which may be any nodes (gates, inputs or constants). With
    ``allow_constants``, CONST0/CONST1 may appear after the inputs. Fan-ins may repeat
    (AND(x, x)), and a wide gate may have fan-in 1, as netlists allow.
    """
    _check_basis(basis)
    if basis == "fanin2":
        if max_fanin is not None and max_fanin > 2:
            raise ValueError("basis fanin2 allows max_fanin <= 2")
        max_fanin = 2 if max_fanin is None else max_fanin
    elif max_fanin is None:
        max_fanin = 4
    if max_fanin < 1 or min_inputs < 0 or max_inputs < min_inputs or max_outputs < 1:
        raise ValueError("circuits() needs max_fanin >= 1, 0 <= min_inputs <= max_inputs "
                         "and max_outputs >= 1")
    if max_gates < min_gates or min_gates < 0:
        raise ValueError("circuits() needs 0 <= min_gates <= max_gates")
    if max_depth is not None and (max_depth < 0 or (max_depth == 0 and min_gates > 0)):
        raise ValueError("circuits() needs max_depth >= 0 (and >= 1 when min_gates > 0)")
    if max_abs_weight < 0:
        raise ValueError("circuits() needs max_abs_weight >= 0")
    return _circuits(basis, min_inputs, max_inputs, max_gates, max_depth, max_fanin,
                     allow_constants, max_outputs, min_gates, max_abs_weight)


@st.composite
def _circuits(draw: st.DrawFn, basis: str, min_inputs: int, max_inputs: int, max_gates: int,
              max_depth: int | None, max_fanin: int, allow_constants: bool, max_outputs: int,
              min_gates: int, max_abs_weight: int) -> Circuit:
    kinds = BASIS_KINDS[basis]

    num_inputs = draw(st.integers(min_inputs, max_inputs))
    num_gates = 0 if max_depth == 0 else draw(st.integers(min_gates, max_gates))
    consts = []
    if allow_constants:
        consts = [v for v in (0, 1) if draw(st.booleans())]
    if num_inputs == 0 and not consts and num_gates:
        consts = [0]  # gates need something to read

    b = CircuitBuilder(strash=False, fold=False)
    b.inputs([f"x{i}" for i in range(num_inputs)])
    for v in consts:
        b.const(v)
    level = [0] * b.num_nodes
    open_nodes = list(range(b.num_nodes))  # nodes a new gate may read within max_depth
    for _ in range(num_gates):
        kind = draw(st.sampled_from(kinds))
        pool = open_nodes if max_depth is not None else range(b.num_nodes)
        if kind in (Kind.NOT, Kind.BUF):
            arity = 1
        else:
            arity = draw(st.integers(1, max_fanin))
        # Offsets back from the newest node: 0 reads the gate just made, so a shrunk
        # example is a chain, and deleting a gate keeps the wiring of the later ones.
        ins = [pool[len(pool) - 1 - draw(st.integers(0, len(pool) - 1))] for _ in range(arity)]
        if kind == Kind.THR:
            ws, t = draw(thr_gates(arity, max_abs_weight))
            node = b.THR(ins, ws, t)
        else:
            node = b.gate(kind, ins)
        level.append(1 + max(level[i] for i in ins))
        if max_depth is None or level[node] < max_depth:
            open_nodes.append(node)

    if b.num_nodes == 0:  # no inputs, constants or gates: an output needs a node
        b.const(0)
    n = b.num_nodes
    for j in range(draw(st.integers(1, max_outputs))):
        b.output(f"y{j}", n - 1 - draw(st.integers(0, n - 1)))  # shrinks to the last node
    return b.build()


def input_vectors(circuit: Circuit, max_size: int = 16, min_size: int = 1
                  ) -> st.SearchStrategy[np.ndarray]:
    """A (batch, circuit.num_inputs) bool array, min_size <= batch <= max_size."""
    shape = st.tuples(st.integers(min_size, max_size), st.just(circuit.num_inputs))
    return hnp.arrays(np.bool_, shape)


def circuits_with_inputs(max_batch: int = 16, **kwargs
                         ) -> st.SearchStrategy[tuple[Circuit, np.ndarray]]:
    """(circuit, X): a circuit from ``circuits(**kwargs)`` and input vectors for it."""
    return circuits(**kwargs).flatmap(
        lambda c: st.tuples(st.just(c), input_vectors(c, max_batch)))


__all__ = ["BASIS_KINDS", "gate_kinds", "thr_gates", "circuits", "input_vectors",
           "circuits_with_inputs"]
