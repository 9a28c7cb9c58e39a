"""networkx conversion: exact round trips, graphs built by hand in any node order, and
one clear error for each kind of malformed graph."""
from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, CotsimInputError, Kind
from circuits.analysis import levels
from circuits.nxconv import from_networkx, to_networkx
from circuits.strategies import circuits as random_circuits
from conftest import BENCHMARKS, needs_benchmarks
from oracles.gates import all_vectors, reference_evaluate


def assert_same_circuit(a, b) -> None:
    assert a == b  # structure and interface (digest)
    assert [a.name_of(i) for i in range(a.num_nodes)] == [b.name_of(i) for i in range(b.num_nodes)]
    assert [a.tag_of(i) for i in range(a.num_nodes)] == [b.tag_of(i) for i in range(b.num_nodes)]


@given(random_circuits(basis="general", max_gates=25, max_inputs=6))
def test_round_trip_is_exact(c):
    G = to_networkx(c)
    assert G.number_of_nodes() == c.num_nodes
    assert G.number_of_edges() == len(c.fanin)
    assert_same_circuit(from_networkx(G), c)


@given(random_circuits(basis="general", max_gates=25, max_inputs=6))
def test_graph_attributes_describe_the_circuit(c):
    G = to_networkx(c)
    assert G.graph["inputs"] == list(range(c.num_inputs))
    assert [n for n, _ in G.graph["outputs"]] == list(c.output_names)
    for i in range(c.num_nodes):
        d = G.nodes[i]
        assert d["kind"] == c.kind(i).name
        if c.kind(i) == Kind.THR:
            assert d["weights"] == c.fanin_weights(i).tolist()
            assert d["threshold"] == int(c.thresholds[i])
        slots = sorted((e[-1]["index"], e[0], e[-1]["weight"])
                       for e in G.in_edges(i, data=True))
        assert [s[1] for s in slots] == c.fanins(i).tolist()
        assert [s[2] for s in slots] == c.fanin_weights(i).tolist()
    # the longest path, by networkx, is the deepest level, by circuits.analysis
    if G.number_of_edges():
        assert nx.dag_longest_path_length(G, weight=None) == int(levels(c).max())


@settings(max_examples=40)
@given(random_circuits(basis="general", max_gates=20, max_inputs=5), st.randoms())
def test_any_node_keys_and_order_give_the_same_function(c, rnd):
    """Relabel nodes to strings and shuffle the order in which nodes and edges are added;
    the edges' ``index`` still fixes the fan-in order, so the function is unchanged."""
    G = to_networkx(c)
    key = {i: f"v{rnd.randrange(10**9)}_{i}" for i in G.nodes}
    H = G.__class__()
    nodes = list(G.nodes(data=True))
    rnd.shuffle(nodes)
    H.add_nodes_from((key[v], d) for v, d in nodes)
    edges = list(G.edges(data=True))
    rnd.shuffle(edges)
    H.add_edges_from((key[u], key[v], d) for u, v, d in edges)
    H.graph["inputs"] = [key[v] for v in G.graph["inputs"]]
    H.graph["outputs"] = [(n, key[v]) for n, v in G.graph["outputs"]]
    c2 = from_networkx(H)
    assert c2.input_names == c.input_names and c2.output_names == c.output_names
    X = all_vectors(c.num_inputs)
    assert (reference_evaluate(c2, X) == reference_evaluate(c, X)).all()


def test_repeated_fanins_need_a_multigraph():
    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    g = b.gate("XOR", [x, x, y])
    t = b.THR([g, g, x], [2, -1, 1], 1)
    b.output("t", t)
    c = b.build()
    G = to_networkx(c)
    assert isinstance(G, nx.MultiDiGraph)
    assert G.number_of_edges(0, 2) == 2
    assert_same_circuit(from_networkx(G), c)
    X = all_vectors(2)
    assert (reference_evaluate(from_networkx(G), X) == reference_evaluate(c, X)).all()


def test_tags_names_and_constants_survive():
    b = CircuitBuilder(strash=False, fold=False)
    x = b.inputs(["a[0]", "a[1]"])
    b.set_tag("layer0/attn/head1")
    one = b.const(1, name="ONE")
    g = b.gate("NAND", [x[0], one], name="g")
    b.set_tag("layer0/mlp")
    m = b.MAJ(g, x[1], one)
    b.set_tag(None)
    zero = b.const(0)
    b.output("m", m)
    b.output("z", zero)
    b.output("a[0]", x[0])
    c = b.build()
    assert_same_circuit(from_networkx(to_networkx(c)), c)


@needs_benchmarks
def test_c432_round_trip():
    from circuits import load
    c = load(BENCHMARKS / "iscas85" / "c432.bench")
    G = to_networkx(c)
    assert isinstance(G, nx.DiGraph) and not G.is_multigraph()
    assert_same_circuit(from_networkx(G), c)


def test_edges_without_index_take_the_edge_order():
    G = nx.DiGraph(inputs=["x", "y"], outputs=[("t", "t")])
    G.add_node("x", kind="INPUT")
    G.add_node("y", kind="INPUT")
    G.add_node("t", kind="THR", threshold=1)
    G.add_edge("y", "t", weight=-1)
    G.add_edge("x", "t", weight=2)
    c = from_networkx(G)
    assert c.input_names == ("x", "y")
    # 2x - y >= 1
    assert reference_evaluate(c, all_vectors(2))[:, 0].tolist() == [False, False, True, True]


def good_graph() -> nx.DiGraph:
    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    t = b.THR([x, y], [1, 2], 2)
    b.output("o", b.NOT(t))
    return to_networkx(b.build())


def _no_weights(G):
    G.nodes[2].pop("weights")
    for e in G.in_edges(2):
        G.edges[e].pop("weight")


def _cycle(G):
    G.add_edge(3, 2, index=2, weight=1)
    G.nodes[2]["weights"] = [1, 2, 1]


@pytest.mark.parametrize("breakage,message", [
    (_cycle, "cycle"),
    (lambda G: G.nodes[2].pop("kind"), "no 'kind'"),
    (lambda G: G.nodes[2].update(kind="FROB"), "unknown gate kind"),
    (lambda G: G.nodes[2].pop("threshold"), "no 'threshold'"),
    (_no_weights, "no 'weight'"),
    (lambda G: G.nodes[2].update(weights=[5, 5]), "disagree"),
    (lambda G: G.graph.update(inputs=[0, 7]), "input 7 is not a node"),
    (lambda G: G.graph.update(inputs=[0, 2]), "kind THR, not INPUT"),
    (lambda G: G.graph.update(inputs=[0]), "not in G.graph['inputs']"),
    (lambda G: G.graph.update(outputs=[("o", 99)]), "names no node"),
    (lambda G: G.graph.update(outputs=["o"]), "not a (name, node) pair"),
    (lambda G: G.add_edge(0, 3, index=1, weight=1), "NOT takes exactly one fan-in"),
    (lambda G: G.edges[0, 2].update(index=5), "indices"),
    (lambda G: G.edges[0, 2].pop("index"), "some in-edges have an 'index'"),
    (lambda G: G.add_edge(0, 1, index=0, weight=1), "INPUT has fan-ins"),
])
def test_malformed_graphs_get_one_clear_error(breakage, message):
    G = good_graph()
    from_networkx(G)  # fine before the damage
    breakage(G)
    with pytest.raises(CotsimInputError) as e:
        from_networkx(G)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_not_a_graph():
    with pytest.raises(CotsimInputError):
        from_networkx(nx.Graph())
