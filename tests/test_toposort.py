"""The readers' shared depth-first order (circuits/toposort.py): against networkx on
random graphs, and the exact cycle messages of the .bench and AIGER readers."""
from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuits import aiger, bench
from circuits.errors import ParseError
from circuits.toposort import depth_first_order


class Cycle(Exception):
    def __init__(self, path):
        super().__init__(path)
        self.path = path


@st.composite
def graphs(draw):
    """Nodes 0..n-1 with fan-ins among 0..n+2 (n, n+1, n+2 are leaves: never followed)."""
    n = draw(st.integers(1, 12))
    return {v: draw(st.lists(st.integers(0, n + 2), max_size=3)) for v in range(n)}


def order_of(g):
    out = []
    depth_first_order(g, g.__getitem__, lambda child, parent: child in g, out.append,
                      Cycle)
    return out


@given(graphs())
def test_order_or_cycle_as_networkx_says(g):
    G = nx.DiGraph([(c, v) for v, ins in g.items() for c in ins if c in g])
    G.add_nodes_from(g)
    try:
        order = order_of(g)
    except Cycle as e:
        path = e.path
        assert not nx.is_directed_acyclic_graph(G)
        # path[i + 1] is a fan-in of path[i], and path[0] of path[-1]: a real cycle
        for a, b in zip(path, path[1:] + path[:1]):
            assert b in g[a]
        assert len(set(path)) == len(path)
        return
    assert nx.is_directed_acyclic_graph(G)
    assert sorted(order) == sorted(g)  # every node once
    pos = {v: i for i, v in enumerate(order)}
    assert all(pos[c] < pos[v] for v, ins in g.items() for c in ins if c in g)


@given(st.integers(1, 30), st.data())
def test_a_topological_file_keeps_its_order(n, data):
    g = {v: data.draw(st.lists(st.integers(0, v - 1), max_size=3)) if v else []
         for v in range(n)}
    assert order_of(g) == list(range(n))


def test_follow_sees_fanins_in_depth_first_order():
    g = {"y": ["a", "q"], "q": ["b", "y"]}
    seen = []

    def follow(child, parent):
        seen.append((parent, child))
        return child in g

    with pytest.raises(Cycle) as e:
        depth_first_order(g, g.__getitem__, follow, lambda v: None, Cycle)
    assert e.value.path == ["y", "q"]
    assert seen == [("y", "a"), ("y", "q"), ("q", "b"), ("q", "y")]


BENCH = [  # (text, message): the readers' messages, unchanged by the shared helper
    ("INPUT(a)\nOUTPUT(y)\ny = AND(a, q)\nq = OR(y, a)\n",
     "t.bench:3: combinational cycle: y -> q -> y"),
    ("INPUT(a)\nOUTPUT(y)\ny = AND(a, n1)\nn1 = NOT(n2)\nn2 = NOT(n3)\nn3 = NOT(n4)\n"
     "n4 = NOT(n5)\nn5 = NOT(n6)\nn6 = NOT(n7)\nn7 = BUF(y)\n",
     "t.bench:3: combinational cycle: y -> n1 -> n2 -> n3 -> n4 -> n5 -> ... -> y"),
    ("INPUT(a)\nOUTPUT(y)\ny = AND(a, q)\nq = OR(z, a)\nz = NOT(q)\n",
     "t.bench:4: combinational cycle: q -> z -> q"),
    ("INPUT(a)\nOUTPUT(y)\ny = AND(q, a)\nq = OR(zz, y)\n",
     "t.bench:4: signal 'zz' is used by 'q' but never defined"),
]
AAG = [
    ("aag 4 2 0 1 2\n2\n4\n6\n6 2 8\n8 6 4\n",
     "t.aag:5: combinational cycle through AND literals 6 -> 8 -> 6"),
    ("aag 12 2 0 1 10\n2\n4\n6\n6 2 8\n8 10 4\n10 12 4\n12 14 4\n14 16 4\n16 18 4\n"
     "18 20 4\n20 22 4\n22 24 4\n24 6 4\n",
     "t.aag:5: combinational cycle through AND literals 6 -> 8 -> 10 -> 12 -> 14 -> 16 -> "
     "18 -> 20 ..."),
]


@pytest.mark.parametrize("text, message", BENCH)
def test_bench_cycle_messages(text, message):
    with pytest.raises(ParseError) as e:
        bench.parse(text.encode(), "t.bench")
    assert str(e.value) == message


@pytest.mark.parametrize("text, message", AAG)
def test_aiger_cycle_messages(text, message):
    with pytest.raises(ParseError) as e:
        aiger.parse(text.encode(), "t.aag")
    assert str(e.value) == message
