"""Conversion between ``Circuit`` and a networkx directed graph.

``to_networkx`` gives one graph node per circuit node, keyed by node id, with the
attributes ``kind`` (the ``Kind`` name), ``name`` (the signal name, or None), ``weights``
(THR only, in fan-in order), ``threshold`` (THR only) and ``tag`` (origin tag, or None).
Each edge is one fan-in slot, with ``index`` (its position among the gate's fan-ins) and
``weight`` (its THR weight; 1 elsewhere). The graph attributes ``inputs`` (node keys, in
order) and ``outputs`` (``(name, node key)`` pairs, in order) give the interface.

A gate that reads the same node twice (``AND(x, x)`` as written in a file) needs two
parallel edges, so such circuits give an ``nx.MultiDiGraph``; all others an
``nx.DiGraph``. ``from_networkx`` takes either, with any hashable node keys.
"""
from __future__ import annotations

from typing import Any, Hashable

import networkx as nx

from .builder import CircuitBuilder
from .errors import CotsimInputError
from .ir import NULLARY, Circuit, Kind


def to_networkx(circuit: Circuit) -> nx.DiGraph:
    """The circuit as a networkx graph (see the module docstring for the attributes)."""
    c = circuit
    multi = any(len(set(c.fanins(i).tolist())) < len(c.fanins(i))
                for i in range(c.num_inputs, c.num_nodes))
    G: nx.DiGraph = nx.MultiDiGraph() if multi else nx.DiGraph()
    G.graph["inputs"] = list(range(c.num_inputs))
    G.graph["outputs"] = [(name, int(o)) for name, o in zip(c.output_names,
                                                             c.output_ids.tolist())]
    for i in range(c.num_nodes):
        kind = c.kind(i)
        own = None
        if i < c.num_inputs:
            own = c.input_names[i]
        elif c.node_names is not None:
            own = c.node_names[i]
        attrs: dict[str, Any] = {"kind": kind.name, "name": own, "tag": c.tag_of(i)}
        if kind == Kind.THR:
            attrs["weights"] = [int(w) for w in c.fanin_weights(i)]
            attrs["threshold"] = int(c.thresholds[i])
        G.add_node(i, **attrs)
    for i in range(c.num_inputs, c.num_nodes):
        for pos, (j, w) in enumerate(zip(c.fanins(i).tolist(), c.fanin_weights(i).tolist())):
            G.add_edge(int(j), i, index=pos, weight=int(w))
    return G


def _err(message: str) -> CotsimInputError:
    return CotsimInputError(f"networkx graph: {message}")


def _fanins(G: nx.DiGraph, v: Hashable) -> list[tuple[Hashable, int | None, Any]]:
    """(source, index, weight) for each in-edge of ``v``, parallel edges included."""
    if G.is_multigraph():
        edges = G.in_edges(v, keys=True, data=True)
        return [(u, d.get("index"), d.get("weight")) for u, _, _, d in edges]
    return [(u, d.get("index"), d.get("weight")) for u, _, d in G.in_edges(v, data=True)]


def from_networkx(G: nx.DiGraph) -> Circuit:
    """Build a ``Circuit`` from a graph shaped as ``to_networkx`` makes them.

    Node keys may be anything hashable; gates are numbered in a topological order that
    keeps the graph's node order where it can, so ``from_networkx(to_networkx(c))``
    gives back ``c`` node for node. Edges without ``index`` take their fan-in order
    from the graph's edge order. Raises ``CotsimInputError`` on cycles, unknown kinds,
    missing attributes, or an interface that names no node.
    """
    if not isinstance(G, nx.DiGraph):
        raise _err(f"expected a networkx DiGraph or MultiDiGraph, not {type(G).__name__}")
    inputs = list(G.graph.get("inputs", []))
    outputs = list(G.graph.get("outputs", []))
    kinds: dict[Hashable, Kind] = {}
    for v, d in G.nodes(data=True):
        if "kind" not in d:
            raise _err(f"node {v!r} has no 'kind' attribute")
        k = d["kind"]
        kinds[v] = k if isinstance(k, Kind) else Kind.parse(str(k))
    input_set = set()
    for v in inputs:
        if v not in kinds:
            raise _err(f"input {v!r} is not a node")
        if kinds[v] != Kind.INPUT:
            raise _err(f"input {v!r} has kind {kinds[v].name}, not INPUT")
        if v in input_set:
            raise _err(f"input {v!r} is listed twice")
        input_set.add(v)
    for v in inputs:
        if G.in_degree(v):
            raise _err(f"node {v!r} of kind INPUT has fan-ins")
    stray = [v for v, k in kinds.items() if k == Kind.INPUT and v not in input_set]
    if stray:
        raise _err(f"node {stray[0]!r} has kind INPUT but is not in G.graph['inputs']")

    position = {v: n for n, v in enumerate(G.nodes)}
    try:
        order = list(nx.lexicographical_topological_sort(G, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(G)
        path = " -> ".join(repr(e[0]) for e in cycle) + f" -> {cycle[0][0]!r}"
        raise _err(f"cycle {path}") from None

    b = CircuitBuilder(strash=False, fold=False)
    ids: dict[Hashable, int] = {}
    for v in inputs:
        name = G.nodes[v].get("name")
        b.set_tag(_tag(G, v))
        ids[v] = b.input(str(name) if name is not None else str(v))
    for v in order:
        if v in input_set:
            continue
        ids[v] = _add_gate(b, G, v, kinds[v], ids)
    for entry in outputs:
        try:
            name, v = entry
        except (TypeError, ValueError):
            raise _err(f"output entry {entry!r} is not a (name, node) pair") from None
        if v not in ids:
            raise _err(f"output {name!r} names no node ({v!r})")
        b.output(str(name), ids[v])
    return b.build()


def _tag(G: nx.DiGraph, v: Hashable) -> str | None:
    tag = G.nodes[v].get("tag")
    return None if tag is None else str(tag)


def _add_gate(b: CircuitBuilder, G: nx.DiGraph, v: Hashable, kind: Kind,
              ids: dict[Hashable, int]) -> int:
    d = G.nodes[v]
    b.set_tag(_tag(G, v))
    name = d.get("name")
    name = str(name) if name is not None else None
    slots = _fanins(G, v)
    if kind in NULLARY:
        if slots:
            raise _err(f"node {v!r} of kind {kind.name} has fan-ins")
        return b.const(kind == Kind.CONST1, name=name)  # no strash: every constant is kept
    have = [i for _, i, _ in slots]
    if all(i is not None for i in have):
        if sorted(have) != list(range(len(slots))):
            raise _err(f"node {v!r}: edge indices {sorted(have)} are not 0..{len(slots) - 1}")
        slots = sorted(slots, key=lambda s: s[1])
    elif any(i is not None for i in have):
        raise _err(f"node {v!r}: some in-edges have an 'index' and some do not")
    ins = [ids[u] for u, _, _ in slots]
    weights = threshold = None
    if kind == Kind.THR:
        if "threshold" not in d:
            raise _err(f"THR node {v!r} has no 'threshold' attribute")
        edge_w = [w for _, _, w in slots]
        if all(w is not None for w in edge_w):
            weights = edge_w
        elif "weights" in d:
            weights = list(d["weights"])
        else:
            raise _err(f"THR node {v!r}: its in-edges have no 'weight' attribute")
        if "weights" in d and list(d["weights"]) != weights:
            raise _err(f"THR node {v!r}: node weights {list(d['weights'])} disagree with "
                       f"edge weights {weights}")
        try:
            weights = [int(w) for w in weights]
            threshold = int(d["threshold"])
        except (TypeError, ValueError):
            raise _err(f"THR node {v!r}: weights and threshold must be integers") from None
    try:
        return b.gate(kind, ins, weights, threshold, name=name)
    except ValueError as e:
        raise _err(f"node {v!r}: {e}") from None
