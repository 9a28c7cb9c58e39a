"""Building circuits gate by gate, with optional structural hashing and constant folding.

Readers build "as written" (``strash=False, fold=False``) so that statistics match the
file. Generators and passes build with both on, so that equal sub-circuits are shared
and constants disappear.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import CotsimInputError
from .ir import COMMUTATIVE, NULLARY, UNARY, Circuit, Kind


class CircuitBuilder:
    """Builds an immutable `Circuit` one node at a time, in topological order.

    Add the primary inputs first (`input`, `inputs`), then constants (`const`) and gates
    (`gate`, or the shorthands `AND`, `OR`, `NOT`, `XOR`, `MAJ`, `THR`), whose fan-ins
    must be node ids returned earlier: so the node order is topological by
    construction. Name the outputs with `output` (a node may be several outputs), then
    call `build`. Every adding method returns the node id to use as a fan-in later; the
    id can be an existing node, as follows.

    - ``strash`` (structural hashing): a gate equal to one already built (same kind,
      fan-ins and weights, in any order for commutative kinds and THR, same threshold)
      returns the existing node, and there is at most one node per constant. Commutative
      and THR fan-ins are then stored sorted.
    - ``fold`` (constant folding and local simplification): constant fan-ins are
      evaluated away, BUF(x) is x, NOT(NOT(x)) is x, repeated AND/OR fan-ins are merged,
      XOR pairs cancel, MAJ becomes THR once a fan-in is constant, and a gate whose
      value no longer depends on its inputs becomes a constant. A gate can thus come
      back as an existing node, a constant, or a gate of another kind.

    Readers turn both off, so that a file's gates and statistics are kept as written;
    generators and passes keep both on. `set_tag` labels the nodes added after it with
    where they came from (e.g. which part of a construction): `Circuit.tags`, used by
    the diagrams. Node names (``name=``) are kept for gates added as new nodes.
    """

    def __init__(self, *, strash: bool = True, fold: bool = True):
        self.strash = strash
        self.fold = fold
        self._kinds: list[int] = []
        self._ptr: list[int] = [0]
        self._fanin: list[int] = []
        self._weights: list[int] = []
        self._thr: list[int] = []
        self._names: list[str | None] = []
        self._tags: list[int] = []
        self._tag_index: dict[str, int] = {}
        self._tag = -1
        self._inputs: list[str] = []
        self._outputs: list[tuple[str, int]] = []
        self._table: dict[tuple, int] = {}
        self._const: dict[int, int] = {}

    # -- tags -------------------------------------------------------------------------
    def set_tag(self, tag: str | None) -> None:
        """Tag every node added from now on with ``tag`` (its origin, for diagrams)."""
        if tag is None:
            self._tag = -1
        else:
            self._tag = self._tag_index.setdefault(tag, len(self._tag_index))

    # -- nodes ------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        return len(self._kinds)

    def input(self, name: str) -> int:
        if self._kinds and len(self._inputs) != len(self._kinds):
            raise ValueError("add every input before the first gate or constant")
        self._inputs.append(name)
        return self._push(Kind.INPUT, (), (), 0, name)

    def inputs(self, names: Sequence[str]) -> list[int]:
        return [self.input(n) for n in names]

    def const(self, value: bool | int, name: str | None = None) -> int:
        kind = Kind.CONST1 if value else Kind.CONST0
        if self.strash and int(kind) in self._const:
            return self._const[int(kind)]
        node = self._push(kind, (), (), 0, name)
        self._const[int(kind)] = node
        return node

    def gate(self, kind: Kind | str, ins: Sequence[int], weights: Sequence[int] | None = None,
             threshold: int | None = None, name: str | None = None) -> int:
        """Add a gate; returns its node id (or an existing equivalent node)."""
        kind = Kind.parse(kind) if isinstance(kind, str) else Kind(kind)
        ins = [int(i) for i in ins]
        for i in ins:
            if not 0 <= i < len(self._kinds):
                raise ValueError(f"fan-in {i} is not an existing node")
        if kind in NULLARY:
            if kind == Kind.INPUT:
                raise ValueError("use input() for inputs")
            return self.const(kind == Kind.CONST1)
        if kind == Kind.THR:
            if weights is None or threshold is None or len(weights) != len(ins):
                raise ValueError("THR needs one weight per fan-in and a threshold")
            ws = [int(w) for w in weights]
            t = int(threshold)
        else:
            if weights is not None or threshold is not None:
                raise ValueError(f"{kind.name} takes no weights or threshold")
            ws = [1] * len(ins)
            t = 0
        if kind in UNARY and len(ins) != 1:
            raise ValueError(f"{kind.name} takes exactly one fan-in")
        if kind not in UNARY and not ins:
            raise ValueError(f"{kind.name} needs at least one fan-in")
        if self.fold:
            folded = self._fold(kind, ins, ws, t)
            if folded is not None:
                if isinstance(folded, int):
                    return folded
                kind, ins, ws, t = folded
        return self._hashed(kind, ins, ws, t, name)

    # shorthands
    def NOT(self, a: int) -> int: return self.gate(Kind.NOT, [a])
    def AND(self, *a: int) -> int: return self.gate(Kind.AND, list(a))
    def OR(self, *a: int) -> int: return self.gate(Kind.OR, list(a))
    def XOR(self, *a: int) -> int: return self.gate(Kind.XOR, list(a))
    def MAJ(self, *a: int) -> int: return self.gate(Kind.MAJ, list(a))

    def THR(self, ins: Sequence[int], weights: Sequence[int], threshold: int) -> int:
        return self.gate(Kind.THR, ins, weights, threshold)

    def output(self, name: str, node: int) -> None:
        if not 0 <= int(node) < len(self._kinds):
            raise ValueError(f"output {name!r} names no existing node")
        self._outputs.append((name, int(node)))

    def build(self) -> Circuit:
        has_names = any(n is not None for n in self._names[len(self._inputs):])
        tags = np.asarray(self._tags, dtype=np.int32) if self._tag_index else None
        return Circuit(
            kinds=np.asarray(self._kinds, dtype=np.uint8),
            fanin_ptr=np.asarray(self._ptr, dtype=np.int64),
            fanin=np.asarray(self._fanin, dtype=np.int64),
            weights=np.asarray(self._weights, dtype=np.int64),
            thresholds=np.asarray(self._thr, dtype=np.int64),
            input_names=tuple(self._inputs),
            output_ids=np.asarray([o for _, o in self._outputs], dtype=np.int64),
            output_names=tuple(n for n, _ in self._outputs),
            node_names=tuple(self._names) if has_names else None,
            tags=tags,
            tag_names=tuple(self._tag_index),
        )

    # -- internals --------------------------------------------------------------------
    def _push(self, kind: Kind, ins, ws, t: int, name: str | None) -> int:
        node = len(self._kinds)
        self._kinds.append(int(kind))
        self._fanin.extend(ins)
        self._weights.extend(ws)
        self._ptr.append(len(self._fanin))
        self._thr.append(t)
        self._names.append(name)
        self._tags.append(self._tag)
        return node

    def _hashed(self, kind: Kind, ins: list[int], ws: list[int], t: int, name) -> int:
        if not self.strash:
            return self._push(kind, ins, ws, t, name)
        if kind in COMMUTATIVE or kind == Kind.THR:
            pairs = sorted(zip(ins, ws))  # canonical order, stored as such
            ins, ws = [i for i, _ in pairs], [w for _, w in pairs]
            key = (int(kind), tuple(pairs), t)
        else:
            key = (int(kind), tuple(ins), tuple(ws), t)
        hit = self._table.get(key)
        if hit is not None:
            return hit
        node = self._push(kind, ins, ws, t, name)
        self._table[key] = node
        return node

    def _const_of(self, node: int) -> int | None:
        k = self._kinds[node]
        if k == Kind.CONST0:
            return 0
        if k == Kind.CONST1:
            return 1
        return None

    def _fold(self, kind: Kind, ins: list[int], ws: list[int], t: int):
        """Return a node id, a rewritten (kind, ins, ws, t), or None to keep as is."""
        consts = [self._const_of(i) for i in ins]
        if kind == Kind.BUF:
            return ins[0]
        if kind == Kind.NOT:
            c = consts[0]
            if c is not None:
                return self.const(1 - c)
            if self._kinds[ins[0]] == Kind.NOT:  # NOT(NOT(x)) = x
                return self._fanin[self._ptr[ins[0]]]
            return None
        if kind in (Kind.AND, Kind.NAND, Kind.OR, Kind.NOR):
            neg = kind in (Kind.NAND, Kind.NOR)
            absorbing = 0 if kind in (Kind.AND, Kind.NAND) else 1
            if absorbing in consts:
                return self.const(absorbing ^ neg)
            rest = list(dict.fromkeys(i for i, c in zip(ins, consts) if c is None))
            if not rest:
                return self.const((1 - absorbing) ^ neg)
            if len(rest) == 1:
                return self.NOT(rest[0]) if neg else rest[0]
            return kind, rest, [1] * len(rest), 0
        if kind in (Kind.XOR, Kind.XNOR):
            parity = int(kind == Kind.XNOR)
            count: dict[int, int] = {}
            for i, c in zip(ins, consts):
                if c is None:
                    count[i] = count.get(i, 0) ^ 1
                else:
                    parity ^= c
            rest = [i for i, odd in count.items() if odd]
            if not rest:
                return self.const(parity)
            if len(rest) == 1:
                return self.NOT(rest[0]) if parity else rest[0]
            return (Kind.XNOR if parity else Kind.XOR), rest, [1] * len(rest), 0
        if kind in (Kind.MAJ, Kind.THR):
            if kind == Kind.MAJ:
                ws, t = [1] * len(ins), (len(ins) + 1) // 2
            if all(c is None for c in consts) and kind == Kind.MAJ:
                return None
            acc: dict[int, int] = {}
            for i, w, c in zip(ins, ws, consts):
                if c is None:
                    acc[i] = acc.get(i, 0) + w
                elif c == 1:
                    t -= w
            pairs = [(i, w) for i, w in acc.items() if w != 0]
            lo = sum(w for _, w in pairs if w < 0)
            hi = sum(w for _, w in pairs if w > 0)
            if lo >= t:
                return self.const(1)
            if hi < t:
                return self.const(0)
            if len(pairs) == 1 and pairs[0][1] > 0:  # w*x >= t with 0 < t <= w
                return pairs[0][0]
            if len(pairs) == 1 and pairs[0][1] < 0:  # w*x >= t with w < t <= 0
                return self.NOT(pairs[0][0])
            return Kind.THR, [i for i, _ in pairs], [w for _, w in pairs], t
        raise CotsimInputError(f"cannot fold gate kind {kind.name}")
