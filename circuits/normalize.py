"""Normal forms: fan-in-2 AND/OR/NOT (the CoT construction's input) and AND-inverter graphs.

``to_fanin2`` expands every gate kind into fan-in-2 AND/OR plus NOT. Wide gates become
balanced trees, so depth grows by a log factor only. MAJ and THR become a carry-save
adder tree over the weighted input bits plus one carry-lookahead comparison with the
threshold (depth O(log k + log W), size O(k log W)).

``to_aig`` goes one step further, to 2-input AND plus NOT (De Morgan on every OR).

Both keep the primary inputs and outputs (names and order), copy each source node's
tag onto the gates it expands into, and build with structural hashing and constant
folding. Only the logic that some output depends on is kept (``sweep``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .builder import CircuitBuilder
from .ir import Circuit, Kind


def _cone(circuit: Circuit) -> list[bool]:
    """Which nodes some output depends on."""
    live = [False] * circuit.num_nodes
    for o in circuit.output_ids.tolist():
        live[o] = True
    ptr, fanin = circuit.fanin_ptr.tolist(), circuit.fanin.tolist()
    for node in range(circuit.num_nodes - 1, -1, -1):
        if live[node]:
            for j in range(ptr[node], ptr[node + 1]):
                live[fanin[j]] = True
    return live


def sweep(circuit: Circuit) -> Circuit:
    """The circuit without the gates that no output depends on (inputs all stay)."""
    live = np.asarray(_cone(circuit), dtype=bool)
    live[:circuit.num_inputs] = True
    if live.all():
        return circuit
    keep = np.flatnonzero(live)
    remap = np.full(circuit.num_nodes, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    arity = np.diff(circuit.fanin_ptr)
    edges = np.repeat(live, arity)
    tags, tag_names = None, circuit.tag_names
    if circuit.tags is not None:
        used = np.unique(circuit.tags[keep])
        used = used[used >= 0]
        retag = np.full(len(circuit.tag_names) + 1, -1, dtype=np.int32)  # [-1] stays -1
        retag[used] = np.arange(len(used))
        tags = retag[circuit.tags[keep]]
        tag_names = tuple(circuit.tag_names[t] for t in used)
    names = circuit.node_names
    return Circuit(
        kinds=circuit.kinds[keep],
        fanin_ptr=np.concatenate([[0], np.cumsum(arity[keep])]),
        fanin=remap[circuit.fanin[edges]],
        weights=circuit.weights[edges],
        thresholds=circuit.thresholds[keep],
        input_names=circuit.input_names,
        output_ids=remap[circuit.output_ids],
        output_names=circuit.output_names,
        node_names=None if names is None else tuple(names[i] for i in keep.tolist()),
        tags=tags,
        tag_names=tag_names,
    )


class _Fanin2:
    """Gate constructors over fan-in-2 AND/OR plus NOT, on one builder; with ``aig``,
    every OR is written as NOT(AND(NOT a, NOT b)) instead."""

    def __init__(self, b: CircuitBuilder, aig: bool = False):
        self.b = b
        self.aig = aig

    def or2(self, a: int, c: int) -> int:
        b = self.b
        if self.aig:
            return b.NOT(b.AND(b.NOT(a), b.NOT(c)))
        return b.OR(a, c)

    def tree(self, kind: Kind, xs: Sequence[int]) -> int:
        """A balanced tree of 2-input ``kind`` gates (AND or OR)."""
        xs = list(xs)
        if not xs:
            return self.b.const(kind == Kind.AND)
        pair = self.b.AND if kind == Kind.AND else self.or2
        while len(xs) > 1:
            nxt = [pair(xs[i], xs[i + 1]) for i in range(0, len(xs) - 1, 2)]
            if len(xs) % 2:
                nxt.append(xs[-1])
            xs = nxt
        return xs[0]

    def xor2(self, a: int, c: int) -> int:
        b = self.b
        return self.or2(b.AND(a, b.NOT(c)), b.AND(b.NOT(a), c))

    def xor(self, xs: Sequence[int]) -> int:
        xs = list(xs)
        if not xs:
            return self.b.const(0)
        while len(xs) > 1:
            nxt = [self.xor2(xs[i], xs[i + 1]) for i in range(0, len(xs) - 1, 2)]
            if len(xs) % 2:
                nxt.append(xs[-1])
            xs = nxt
        return xs[0]

    def full_adder(self, x: int, y: int, z: int) -> tuple[int, int]:
        """(sum, carry) of three bits."""
        b = self.b
        s = self.xor2(self.xor2(x, y), z)
        carry = self.or2(b.AND(x, y), b.AND(z, self.or2(x, y)))
        return s, carry

    def threshold(self, ins: Sequence[int], weights: Sequence[int], t: int) -> int:
        """1 iff sum_i w_i x_i >= t, for any integer weights and threshold."""
        b = self.b
        # A negative weight w on x equals w + |w| * NOT x: afterwards every weight is
        # positive and the threshold grows by the sum of the |w| moved across.
        lits: list[tuple[int, int]] = []
        for x, w in zip(ins, weights):
            w = int(w)
            if w > 0:
                lits.append((x, w))
            elif w < 0:
                lits.append((b.NOT(x), -w))
                t -= w
        total = sum(w for _, w in lits)
        if t <= 0:
            return b.const(1)
        if t > total:
            return b.const(0)
        ys = [x for x, _ in lits]
        if all(w >= t for _, w in lits):  # any one literal reaches t
            return self.tree(Kind.OR, ys)
        if total - min(w for _, w in lits) < t:  # every literal is needed
            return self.tree(Kind.AND, ys)
        return self._compare(lits, t, total)

    def _compare(self, lits: list[tuple[int, int]], t: int, total: int) -> int:
        """Bit W of S + (2^W - t), where S = sum w_i y_i < 2^W: that bit is [S >= t]."""
        b = self.b
        width = total.bit_length()  # 2^W > total >= t >= 1
        cols: list[list[int]] = [[] for _ in range(width + 1)]
        for y, w in lits:
            for j in range(width):
                if w >> j & 1:
                    cols[j].append(y)
        k = (1 << width) - t
        for j in range(width):
            if k >> j & 1:
                cols[j].append(b.const(1))
        # Carry-save reduction, all columns in parallel per round, arithmetic mod 2^(W+1)
        # (S + k < 2^(W+1), so the carries out of column W are always 0).
        while any(len(c) > 2 for c in cols):
            nxt: list[list[int]] = [[] for _ in range(width + 1)]
            for j, col in enumerate(cols):
                full = len(col) - len(col) % 3
                for i in range(0, full, 3):
                    s, carry = self.full_adder(col[i], col[i + 1], col[i + 2])
                    nxt[j].append(s)
                    if j < width:
                        nxt[j + 1].append(carry)
                nxt[j].extend(col[full:])
            cols = nxt
        zero = b.const(0)
        p = [c[0] if len(c) > 0 else zero for c in cols]
        q = [c[1] if len(c) > 1 else zero for c in cols]
        # Carry into column W of p + q: a balanced (generate, propagate) prefix tree.
        gp = [(b.AND(p[j], q[j]), self.or2(p[j], q[j])) for j in range(width)]
        while len(gp) > 1:
            nxt_gp = []
            for i in range(0, len(gp) - 1, 2):
                (g0, p0), (g1, p1) = gp[i], gp[i + 1]  # g1/p1 is the more significant
                nxt_gp.append((self.or2(g1, b.AND(p1, g0)), b.AND(p1, p0)))
            if len(gp) % 2:
                nxt_gp.append(gp[-1])
            gp = nxt_gp
        carry = gp[0][0] if gp else zero
        return self.xor([p[width], q[width], carry])


def _rebuild(circuit: Circuit, aig: bool) -> Circuit:
    b = CircuitBuilder(strash=True, fold=True)
    f = _Fanin2(b, aig)
    new = [-1] * circuit.num_nodes
    for i, name in enumerate(circuit.input_names):
        new[i] = b.input(name)
    live = _cone(circuit)
    kinds = [Kind(k) for k in circuit.kinds.tolist()]
    ptr, fanin = circuit.fanin_ptr.tolist(), circuit.fanin.tolist()
    weights, thresholds = circuit.weights.tolist(), circuit.thresholds.tolist()
    tagged = circuit.tags is not None
    for node in range(circuit.num_inputs, circuit.num_nodes):
        if not live[node]:
            continue
        if tagged:
            b.set_tag(circuit.tag_of(node))
        a, z = ptr[node], ptr[node + 1]
        new[node] = _gate(f, kinds[node], [new[x] for x in fanin[a:z]], weights[a:z],
                         thresholds[node])
    b.set_tag(None)
    for name, o in zip(circuit.output_names, circuit.output_ids.tolist()):
        b.output(name, new[o])
    return sweep(b.build())  # expansions may leave unread bits (e.g. a top sum bit)


def _gate(f: _Fanin2, kind: Kind, ins: list[int], ws: list[int], t: int) -> int:
    b = f.b
    if kind == Kind.CONST0:
        return b.const(0)
    if kind == Kind.CONST1:
        return b.const(1)
    if kind == Kind.BUF:
        return ins[0]
    if kind == Kind.NOT:
        return b.NOT(ins[0])
    if kind in (Kind.AND, Kind.OR):
        return f.tree(kind, ins)
    if kind == Kind.NAND:
        return b.NOT(f.tree(Kind.AND, ins))
    if kind == Kind.NOR:
        return b.NOT(f.tree(Kind.OR, ins))
    if kind == Kind.XOR:
        return f.xor(ins)
    if kind == Kind.XNOR:
        return b.NOT(f.xor(ins))
    if kind == Kind.MAJ:
        return f.threshold(ins, [1] * len(ins), (len(ins) + 1) // 2)
    if kind == Kind.THR:
        return f.threshold(ins, ws, t)
    raise ValueError(f"no fan-in-2 expansion for {kind.name}")


def to_fanin2(circuit: Circuit) -> Circuit:
    """An equivalent circuit over fan-in-2 AND/OR plus NOT (and constants)."""
    return _rebuild(circuit, aig=False)


def to_aig(circuit: Circuit) -> Circuit:
    """An equivalent and-inverter graph: 2-input AND plus NOT (and constants)."""
    return _rebuild(circuit, aig=True)
