"""Hypothesis strategies for small named circuits, shared by the file-format tests."""
from __future__ import annotations

from hypothesis import strategies as st

from circuits import CircuitBuilder, Kind

NAMES = ["a", "b", "c", "y", "z", "n5", "n7", "g[0]", "G1gat"]


@st.composite
def named_circuits(draw, min_inputs: int = 0, max_inputs: int = 5, max_gates: int = 12):
    """Small circuits of every kind, with clashing internal names, constants, outputs
    wired to inputs, and the same node behind several outputs."""
    b = CircuitBuilder(strash=False, fold=False)
    n_in = draw(st.integers(min_inputs, max_inputs))
    input_names = draw(st.lists(st.sampled_from(NAMES + ["x1", "x2", "x3"]), min_size=n_in,
                                max_size=n_in, unique=True))
    nodes = b.inputs(input_names)
    for _ in range(draw(st.integers(0 if nodes else 1, max_gates))):
        kind = draw(st.sampled_from([k for k in Kind if k != Kind.INPUT]))
        name = draw(st.one_of(st.none(), st.sampled_from(NAMES)))
        if kind in (Kind.CONST0, Kind.CONST1) or not nodes:
            nodes.append(b.const(kind == Kind.CONST1 if kind in (Kind.CONST0, Kind.CONST1)
                                 else draw(st.booleans()), name=name))
            continue
        k = 1 if kind in (Kind.NOT, Kind.BUF) else draw(st.integers(1, 5))
        ins = draw(st.lists(st.sampled_from(nodes), min_size=k, max_size=k))
        if kind == Kind.THR:
            ws = draw(st.lists(st.integers(-3, 3), min_size=k, max_size=k))
            nodes.append(b.gate(kind, ins, ws, draw(st.integers(-4, 6)), name=name))
        else:
            nodes.append(b.gate(kind, ins, name=name))
    outs = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=5))
    taken: dict[str, int] = {}
    probe = b.build()
    for j, node in enumerate(outs):
        name = probe.name_of(node) if draw(st.booleans()) else draw(
            st.sampled_from(["y", "z", "o1", "o2", "n5", f"out{j}"]))
        if name in input_names and node != input_names.index(name):
            name = f"out{j}"
        if taken.get(name, node) != node:
            name = f"out{j}"
        taken[name] = node
        b.output(name, node)
    return b.build()
