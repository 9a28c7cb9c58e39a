"""The size estimate: a dry run of the compiler over value domains, without gates.

``budget.estimate`` bounds every value's domain by |F|, which overshoots 10 to 240 times
on real models (a value that depends on one token has at most V values, a softmax row's
terms only a few). ``DryWalker`` follows ``Walker`` step by step over the *actual*
domains (each table is evaluated over its operands' grid, as the compiler does) and makes
weighted nodes on a ``CountingBuilder`` instead of gates:

- a lookup table: one node for its minterms, of weight "rows + NOT literals" (once per
  operand tuple, as the compiler's minterm cache; NOTs once per bundle), and one node
  per output bit that is not constant; operands that depend on k tokens reach at most
  V^k rows (for V = 2 and one token, none: such a value's bits are literals of the token
  bit); a sum over dimensions of such values costs at most a table over the k tokens;
- ``tc0``: the term bits, and one node weighing the atoms [S(u) >= m] that range
  analysis leaves open and the ORs and ANDs of the clauses, counted over the same
  clauses ``tc0_sum`` builds (``tc0_clause_gates``);
- ``ac0``, ``tree`` and the exact sums: the constructions themselves, run on the counting
  builder, which folds constants and hashes structure as the real builder does.

The estimate is the weight of what a sweep from the outputs keeps (``CountingBuilder.
live``): dead rows (a last-layer query row that feeds nothing) cost nothing, as in the
compiled circuit. The walk stops as soon as it has made more than ``cap`` (then the
compilation, whose running guard counts the same gates, would stop too). Its cost is that
of the tables' grids in NumPy, plus the Python of the ac0, tree and exact constructions.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from circuits.errors import CircuitTooLarge

from ..model import Model
from .bundles import Bundle, Expr, Term, as_expr, evaluate, grid_size
from .context import Ctx
from .units import to_units
from .walker import Walker


class Over(Exception):
    """The count passed the cap."""


class CountingBuilder:
    """The builder calls the constructions make, counted, with the builder's constant
    folding and structural hashing of AND/OR/NOT; constants are ids 0 and 1."""

    def __init__(self, cap: float):
        self.count = 0
        self.cap = cap
        self._next = 2
        self._hash: dict[tuple, int] = {}
        self.ins: dict[int, tuple] = {}  # a gate's inputs (for the sweep, ``live``)
        self.tag: str | None = None
        self.weight: dict[int, int] = {}  # gates a node stands for (1 for a gate)
        self.tags: dict[int, str | None] = {}

    def add(self, gates: int) -> None:
        self.count += gates
        if self.count > self.cap:
            raise Over

    def virtual(self, ins: Sequence[int], weight: int) -> int:
        """A node that stands for ``weight`` gates reading ``ins``."""
        self.add(weight)
        node = self._next
        self._next += 1
        self.ins[node] = tuple(ins)
        self.weight[node] = weight
        self.tags[node] = self.tag
        return node

    def made_since(self, start: int) -> int:
        return sum(self.weight.get(x, 0) for x in range(start, self._next))

    def reweigh_since(self, start: int, total: int, ins: Sequence[int]) -> None:
        """Count the nodes made since ``start`` as ``total`` gates in all: one node of that
        weight, read by every one of them."""
        cap = self.virtual(ins, total)
        for x in range(start, cap):
            if x in self.weight:
                self.count -= self.weight[x]
                self.weight[x] = 0
                self.ins[x] = self.ins[x] + (cap,)

    def live(self, outputs: Sequence[int]) -> tuple[int, dict]:
        """The weight of the nodes ``outputs`` read (the sweep's survivors), in all and
        per origin tag."""
        seen, stack = set(), [x for x in outputs if x > 1]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            stack.extend(y for y in self.ins.get(x, ()) if y > 1 and y not in seen)
        by_tag: dict = {}
        for x in seen:
            w = self.weight.get(x, 0)
            by_tag[self.tags.get(x)] = by_tag.get(self.tags.get(x), 0) + w
        return sum(by_tag.values()), by_tag

    @property
    def num_nodes(self) -> int:
        return self.count

    def set_tag(self, tag) -> None:
        self.tag = tag

    def const(self, value, name=None) -> int:
        return int(bool(value))

    def inputs(self, names) -> list[int]:
        out = list(range(self._next, self._next + len(names)))
        self._next += len(names)
        return out

    def gate(self, kind, ins, weights=None, threshold=None, name=None) -> int:
        kind = getattr(kind, "name", str(kind))
        if kind == "XNOR":
            return self.XOR(*ins, invert=True)
        if kind == "NOR":
            x = self.OR(*ins)
            return 1 - x if x in (0, 1) else self._new("NOR", tuple(sorted(set(ins))))
        return self._new(kind, tuple(ins), weights, threshold)

    def _new(self, kind: str, ins: tuple, weights=None, threshold=None) -> int:
        key = (kind, ins, None if weights is None else tuple(weights), threshold)
        hit = self._hash.get(key)
        if hit is None:  # structural hashing, as the builder's
            hit = self._hash[key] = self.virtual(ins, 1)
        return hit

    def THR(self, ins, weights, threshold) -> int:
        keep, ws, t = [], [], threshold
        for x, w in zip(ins, weights):
            if x == 1:
                t -= w
            elif x != 0:
                keep.append(x)
                ws.append(w)
        if sum(w for w in ws if w > 0) < t:
            return 0
        if sum(w for w in ws if w < 0) >= t:
            return 1
        return self._new("THR", tuple(keep), ws, t)

    def NOT(self, a):
        return 1 - a if a in (0, 1) else self._new("NOT", (a,))

    def AND(self, *a):  # the builder's constant folding
        if 0 in a:
            return 0
        a = sorted(x for x in set(a) if x != 1)
        return 1 if not a else a[0] if len(a) == 1 else self._new("AND", tuple(a))

    def OR(self, *a):
        if 1 in a:
            return 1
        a = sorted(x for x in set(a) if x != 0)
        return 0 if not a else a[0] if len(a) == 1 else self._new("OR", tuple(a))

    def XOR(self, *a, invert: bool = False):
        parity = int(invert) ^ (sum(1 for x in a if x == 1) & 1)
        a = sorted(x for x in a if x not in (0, 1))
        if not a:
            return parity
        if len(a) == 1:
            return self.NOT(a[0]) if parity else a[0]
        return self._new("XNOR" if parity else "XOR", tuple(a))

    @property
    def _kinds(self):  # what ``blockadd._const_of`` reads
        from circuits.ir import Kind

        return _Kinds(Kind)


class _Kinds:
    def __init__(self, Kind):
        self.Kind = Kind

    def __getitem__(self, node: int):
        return {0: self.Kind.CONST0, 1: self.Kind.CONST1}.get(node, self.Kind.AND)


def _key_bits(x: Bundle) -> int:
    return max(0, math.ceil(math.log2(x.size))) if x.size > 1 else 0


class DryWalker(Walker):
    """``Walker`` over domains: every gate-building step makes weighted nodes on the
    counting builder (a table: one node of weight rows + NOT literals, one node per
    output bit that is not constant), so that the final sweep sees what is dead."""

    def __init__(self, ctx: Ctx, model: Model, sum_mode: str):
        super().__init__(ctx, model, sum_mode)
        self.b = ctx.b
        self.row_nodes: dict[tuple[int, ...], int] = {}
        self.seen_lits: set[int] = set()
        self.keep: list = []  # keeps the ids of ``row_nodes`` alive

    def effective_rows(self, operands: Sequence[Bundle]) -> int:
        """The rows of the operands' grid that some prompt reaches: at most V^k for
        operands that are functions of k tokens (the other rows' minterms fold away:
        for V = 2 every such value is a literal of the token bits)."""
        G = grid_size(operands)
        sup = self.tokens_of(operands)
        if sup is None or len(sup) > 8:
            return G
        V = self.model.vocab
        if V == 2 and len(sup) == 1:
            return 0
        return min(G, V ** len(sup))

    def bundle(self, values: np.ndarray, bits: Sequence[int],
               operands: Sequence[Bundle] = ()) -> Bundle:
        """A bundle of ``values`` on ``bits``; a function of the tokens ``operands``
        depend on."""
        values = np.unique(np.asarray(values, dtype=np.float64))
        if len(values) == 1:
            return self.ctx.const(float(values[0]))
        out = Bundle(tuple(bits), values, self.ctx.encode(values))
        if operands:
            self.mark(out, self.tokens_of(operands))
        return out

    def rows(self, operands: Sequence[Bundle]) -> int:
        """The node of an operand tuple's minterms (once per tuple) and its operands'
        NOT literals (once per bundle)."""
        key = tuple(id(op) for op in operands)
        hit = self.row_nodes.get(key)
        if hit is None:
            self.keep.append(operands)
            weight = 0
            if self.effective_rows(operands):  # else literals of one token bit
                for op in operands:
                    if id(op) not in self.seen_lits:
                        self.seen_lits.add(id(op))
                        weight += _key_bits(op)
                if sum(_key_bits(op) for op in operands) >= 2:
                    weight += self.effective_rows(operands)
            ins = tuple(x for op in operands for x in op.bits)
            hit = self.row_nodes[key] = self.b.virtual(ins, weight)
        return hit

    def columns(self, row: int, codes: np.ndarray, free: bool = False) -> list[int]:
        """One node per output bit: a constant where the bit is, else an OR of rows
        (weight 0 when ``free``: literals)."""
        codes = np.asarray(codes, dtype=np.int64)
        bits = (codes[:, None] >> np.arange(self.ctx.width)) & 1
        lo, hi = bits.min(axis=0), bits.max(axis=0)
        return [int(l) if l == h else self.b.virtual((row,), 0 if free else 1)
                for l, h in zip(lo.tolist(), hi.tolist())]

    # -- Walker's gate-building steps ------------------------------------------------------
    def table(self, term: Term) -> Bundle:
        if isinstance(term, Bundle):
            return term
        expr = as_expr(term)
        self.ctx.reserve(grid_size(expr.operands))
        _, out = evaluate(expr)
        if np.all(out == out[0]):
            return self.ctx.const(float(out[0]))
        values, inverse = np.unique(out, return_inverse=True)
        if len(expr.operands) == 1 and np.array_equal(values, expr.operands[0].values):
            return expr.operands[0]  # the operand itself (the compiler's no-gate case)
        row = self.rows(expr.operands)
        bits = self.columns(row, self.ctx.encode(values)[inverse],
                            free=not self.effective_rows(expr.operands))
        return self.bundle(values, bits, expr.operands)

    def table_bits(self, operands: Sequence[Bundle], matrix: np.ndarray) -> list[int]:
        from .tables import table_bits

        self.ctx.reserve(grid_size(operands))
        return table_bits(self.ctx, operands, matrix)

    def zero_node(self, Z: Bundle) -> int | None:
        if not np.any(Z.values == 0.0):
            return None
        weight = 1
        if id(Z) not in self.seen_lits:
            self.seen_lits.add(id(Z))
            self.keep.append(Z)
            weight += _key_bits(Z)
        return self.b.virtual(Z.bits, weight)

    def dims_sum(self, terms: Sequence[Term]) -> Bundle:
        """A sum over dimensions. When its terms depend on k tokens only, its gates are
        capped by a table over those tokens (V^k rows, w ORs): structural hashing and
        folding reduce it to at most that (for V = 2 and k = 1, to literals)."""
        ops = [op for t in terms for op in as_expr(t).operands]
        sup = self.tokens_of(ops)
        start = self.b._next
        out = self._dims_sum(terms)
        if sup is not None and len(sup) <= 2 and not out.is_const:
            V = self.model.vocab
            cap = 0 if V == 2 and len(sup) == 1 else V ** len(sup) + self.ctx.width
            if self.b.made_since(start) > cap:
                self.b.reweigh_since(start, cap, tuple(x for op in ops for x in op.bits))
            if id(out) not in self.support:
                self.mark(out, sup)
        return out

    def _dims_sum(self, terms: Sequence[Term]) -> Bundle:
        return super().dims_sum(terms)

    def pos_sum(self, terms: Sequence[Term]) -> Bundle:
        if self.exact:
            out = self.exact_sum(terms)
        else:
            out = {"tc0": self.tc0_sum, "ac0": self.ac0_sum}.get(self.ctx.iterative,
                                                                self.tree_sum)(terms)
        if self.ctx.arith == "tables":  # (the tables' estimate counts these as many)
            return out
        return self.mark(out, self.tokens_of([op for t in terms for op in as_expr(t).operands]))

    # -- the sums -----------------------------------------------------------------------
    def term_bits(self, e: Expr, span: int) -> list[int]:
        """A term as the unsigned bits of (term - its least value): its rows and ORs."""
        row = self.rows(e.operands)
        return [self.b.virtual((row,), 1) for _ in range(int(span).bit_length())]

    def exact_sum(self, terms: Sequence[Term]) -> Bundle:
        from .sums import exact_sum

        return exact_sum(self.ctx, terms)

    def tc0_sum(self, terms: Sequence[Term]) -> Bundle:
        from .sums_tc0 import walls

        fmt = self.fmt
        B = walls(fmt)
        if len(terms) <= 1:
            return self.table(terms[0]) if terms else self.ctx.const(0.0)
        lows, spans, bits = [], [], []
        lo = hi = 0
        for t in terms:
            e = as_expr(t)
            _, vals = evaluate(e)
            u = to_units(fmt, vals)
            tlo, thi = int(u.min()), int(u.max())
            lows.append(tlo)
            spans.append(thi - tlo)
            lo, hi = max(-B, min(B, lo + tlo)), max(-B, min(B, hi + thi))
            if thi != tlo:
                bits += self.term_bits(e, thi - tlo)
        if lo == hi:
            return self.ctx.const(float(lo * fmt.min_positive))
        clauses = self.b.virtual(tuple(bits), tc0_clause_gates(lows, spans, B, lo, hi))
        values = np.arange(lo, hi + 1) * fmt.min_positive
        return self.bundle(values, self.columns(clauses, self.ctx.encode(values)))

    def ac0_sum(self, terms: Sequence[Term]) -> Bundle:
        from .sums_ac0 import ac0_sum

        return ac0_sum(self.ctx, terms)

    def tree_sum(self, terms: Sequence[Term]) -> Bundle:
        from .sums import tree_sum

        return tree_sum(self.ctx, terms)


def tc0_clause_gates(lows: list[int], spans: list[int], B: int, lo: int, hi: int) -> int:
    """Gates of ``tc0_sum``'s clauses for v in (lo, hi]: the distinct atoms that range
    analysis leaves open, one OR per clause with two or more open atoms and none true,
    one AND per v with two or more such clauses (the folding of ``_clauses_node``)."""
    n = len(lows)
    C = np.concatenate([np.cumsum(lows[::-1])[::-1], [0]])
    S = np.concatenate([np.cumsum(spans[::-1])[::-1], [0]])
    monotone = min(lows) >= 0 or max(l + s for l, s in zip(lows, spans)) <= 0
    if monotone:  # [S(0) >= v]: one atom per v that range analysis leaves open
        t = np.arange(lo + 1, hi + 1) - C[0]
        return int(((t > 0) & (t <= S[0])).sum())

    def state(m: int) -> np.ndarray:  # [S(u) >= m] for u = 0..n: 1 true, 0 false, 2 open
        t = m - C
        return np.where(t <= 0, 1, np.where(t > S, 0, 2))

    # clause 0 is (0, v) or top[1:]; clause s + 1 is (s, v - B) or top[s + 1:]
    start = np.concatenate([[1], np.arange(1, n + 2)])
    atoms: set[tuple[int, int]] = set()
    gates = 0
    for v in range(lo + 1, hi + 1):
        top = state(v + B)
        first = np.concatenate([state(v)[:1], state(v - B)])
        true_suffix = np.concatenate([np.maximum.accumulate((top == 1)[::-1])[::-1], [False]])
        open_suffix = np.concatenate([np.cumsum((top == 2)[::-1])[::-1], [0]])
        live = ~((first == 1) | true_suffix[start])
        n_open = (first == 2) + open_suffix[start]
        if not live.any() or np.any(live & (n_open == 0)):
            continue  # [x_n >= v] is a constant
        gates += int((live & (n_open >= 2)).sum()) + int(live.sum() >= 2)
        for c in np.flatnonzero(live & (first == 2)).tolist():
            atoms.add((0, v) if c == 0 else (c - 1, v - B))
        k0 = int(start[live].min())
        atoms.update((int(u), v + B) for u in np.flatnonzero(top == 2).tolist() if u >= k0)
    return gates + len(atoms)


def dry_estimate(model: Model, seq_len: int, sum_mode: str, adder: str, iterative: str,
                 cap: float, by_tag: bool = False, arith: str = "tables"):
    """(gates, complete): the dry run's count of the gates that survive the sweep, and
    False when it stopped past ``cap`` gates made (the count is then a lower bound). With
    ``by_tag``, also the count per origin tag."""
    from .walker import token_bits, token_bundle

    b = CountingBuilder(cap)
    ctx = Ctx(model.fmt, b, int(min(cap, 2 ** 62)), adder, iterative)  # no huge grids
    ctx.arith = arith
    walker = DryWalker(ctx, model, sum_mode)
    nb = token_bits(model.vocab)
    tokens = [token_bundle(b.inputs([""] * nb), model.vocab) for _ in range(seq_len)]
    try:
        raw, undef = walker.run(tokens)
    except (Over, CircuitTooLarge):
        return (b.count, False, {}) if by_tag else (b.count, False)
    with ctx.tag("argmax"):  # ``finish_circuit``: NOT undefined, one AND per token bit
        ok = b.NOT(undef)
        outs = [b.AND(x, ok) for x in raw] + [undef]
    total, tags = b.live(outs)
    return (total, True, tags) if by_tag else (total, True)
