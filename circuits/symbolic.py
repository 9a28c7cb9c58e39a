"""Conversion between small circuits and SymPy Boolean expressions.

``to_sympy`` gives one expression per output, over one ``Symbol`` per input name. Every
gate becomes the SymPy function of the same name; MAJ and THR, which SymPy lacks, are
expanded exactly (``threshold_expr``). Expressions share their sub-expressions, but
printing or simplifying them can take time exponential in the depth, so circuits over
``max_gates`` gates are refused.

``from_sympy`` builds a circuit (AND/OR/NOT/XOR and constants, hashed and folded) from
expressions over And, Or, Not, Xor, Nand, Nor, Xnor, Implies, Equivalent, Exclusive and
ITE.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping, Sequence

import sympy
from sympy.logic import boolalg as ba

from .builder import CircuitBuilder
from .errors import CotsimInputError
from .ir import Circuit, Kind

DEFAULT_MAX_GATES = 500
#: THR/MAJ gates with more fan-ins than this are refused (the expansion may grow large)
MAX_THRESHOLD_FANIN = 24


def threshold_expr(xs: Sequence[sympy.Basic], weights: Sequence[int],
                   threshold: int) -> sympy.Basic:
    """sum_i w_i x_i >= t as an AND/OR/NOT expression.

    A negative weight w is made positive with NOT x: since w x = |w| (NOT x) - |w|, the
    term moves |w| onto the threshold. The positive threshold function is then
    expanded by Shannon's rule on the heaviest input first,
    T(i, t) = (x_i AND T(i+1, t - w_i)) OR T(i+1, t), with T = true for t <= 0 and
    false when the remaining weights cannot reach t. The memo on (i, t) keeps the
    expression polynomial in the fan-in times the number of distinct partial sums.
    """
    lits: list[tuple[int, sympy.Basic]] = []
    t = int(threshold)
    for x, w in zip(xs, weights):
        w = int(w)
        if w > 0:
            lits.append((w, x))
        elif w < 0:
            lits.append((-w, sympy.Not(x)))
            t += -w
    lits.sort(key=lambda p: -p[0])  # stable: ties keep fan-in order
    rest = [0] * (len(lits) + 1)
    for i in range(len(lits) - 1, -1, -1):
        rest[i] = rest[i + 1] + lits[i][0]

    @lru_cache(maxsize=None)
    def T(i: int, need: int) -> sympy.Basic:
        if need <= 0:
            return sympy.true
        if rest[i] < need:
            return sympy.false
        w, x = lits[i]
        return sympy.Or(sympy.And(x, T(i + 1, need - w)), T(i + 1, need))

    return T(0, t)


def to_sympy(circuit: Circuit, max_gates: int = DEFAULT_MAX_GATES) -> dict[str, sympy.Basic]:
    """One SymPy Boolean expression per output, keyed by output name, over
    ``sympy.Symbol(input_name)`` for each input."""
    c = circuit
    if c.size > max_gates:
        raise CotsimInputError(f"circuit has {c.size} gates; to_sympy takes at most "
                               f"{max_gates} (raise max_gates at your own risk)")
    if len(set(c.output_names)) != len(c.output_names):
        dup = next(n for n in c.output_names if c.output_names.count(n) > 1)
        raise CotsimInputError(f"output name {dup!r} appears twice; to_sympy keys outputs "
                               "by name")
    if len(set(c.input_names)) != len(c.input_names):
        dup = next(n for n in c.input_names if c.input_names.count(n) > 1)
        raise CotsimInputError(f"input name {dup!r} appears twice")
    values: list[sympy.Basic] = []
    for i in range(c.num_nodes):
        kind = c.kind(i)
        xs = [values[j] for j in c.fanins(i).tolist()]
        if kind == Kind.INPUT:
            values.append(sympy.Symbol(c.input_names[i]))
        elif kind == Kind.CONST0:
            values.append(sympy.false)
        elif kind == Kind.CONST1:
            values.append(sympy.true)
        elif kind == Kind.BUF:
            values.append(xs[0])
        elif kind in _SYMPY_OP:
            values.append(_SYMPY_OP[kind](*xs))
        elif kind in (Kind.MAJ, Kind.THR):
            if len(xs) > MAX_THRESHOLD_FANIN:
                raise CotsimInputError(f"{kind.name} gate {c.name_of(i)} has fan-in "
                                       f"{len(xs)}; to_sympy takes at most "
                                       f"{MAX_THRESHOLD_FANIN}")
            if kind == Kind.MAJ:
                ws, t = [1] * len(xs), (len(xs) + 1) // 2
            else:
                ws, t = c.fanin_weights(i).tolist(), int(c.thresholds[i])
            values.append(threshold_expr(xs, ws, t))
        else:  # pragma: no cover - every Kind is handled above
            raise CotsimInputError(f"no SymPy form for {kind.name}")
    return {name: values[o] for name, o in zip(c.output_names, c.output_ids.tolist())}


_SYMPY_OP = {
    Kind.NOT: sympy.Not,
    Kind.AND: sympy.And,
    Kind.OR: sympy.Or,
    Kind.NAND: sympy.Nand,
    Kind.NOR: sympy.Nor,
    Kind.XOR: sympy.Xor,
    Kind.XNOR: ba.Xnor,
}


def from_sympy(exprs: Mapping[str, sympy.Basic],
               inputs: Sequence[str] | None = None) -> Circuit:
    """A circuit with one output per entry of ``exprs`` (in order). Its inputs are
    ``inputs`` in that order, or else the free symbols' names, sorted."""
    free = set()
    for e in exprs.values():
        free |= {str(s) for s in sympy.sympify(e).free_symbols}
    names = list(inputs) if inputs is not None else sorted(free)
    missing = free - set(names)
    if missing:
        raise CotsimInputError(f"symbol(s) {', '.join(sorted(missing))} are not among the "
                               "inputs")
    b = CircuitBuilder()
    ids = dict(zip(names, b.inputs(names)))
    memo: dict[sympy.Basic, int] = {}

    def build(e: sympy.Basic) -> int:
        if e in memo:
            return memo[e]
        if e is sympy.true:
            node = b.const(1)
        elif e is sympy.false:
            node = b.const(0)
        elif isinstance(e, sympy.Symbol):
            node = ids[str(e)]
        else:
            args = [build(a) for a in e.args]
            node = _gate(b, e, args)
        memo[e] = node
        return node

    for name, e in exprs.items():
        b.output(name, build(sympy.sympify(e)))
    return b.build()


def _gate(b: CircuitBuilder, e: sympy.Basic, args: list[int]) -> int:
    if isinstance(e, ba.Not):
        return b.NOT(args[0])
    if isinstance(e, ba.And):
        return b.AND(*args)
    if isinstance(e, ba.Or):
        return b.OR(*args)
    if isinstance(e, ba.Xor):
        return b.XOR(*args)
    if isinstance(e, ba.Nand):
        return b.gate(Kind.NAND, args)
    if isinstance(e, ba.Nor):
        return b.gate(Kind.NOR, args)
    if isinstance(e, ba.Xnor):
        return b.gate(Kind.XNOR, args)
    if isinstance(e, ba.Implies):
        return b.OR(b.NOT(args[0]), args[1])
    if isinstance(e, ba.Equivalent):  # all equal: all true, or all false
        return b.OR(b.AND(*args), b.gate(Kind.NOR, args))
    if isinstance(e, ba.Exclusive):  # at most one true
        return b.AND(*[b.gate(Kind.NAND, [p, q]) for k, p in enumerate(args)
                       for q in args[k + 1:]]) if len(args) > 1 else b.const(1)
    if isinstance(e, ba.ITE):
        c, x, y = args
        return b.OR(b.AND(c, x), b.AND(b.NOT(c), y))
    raise CotsimInputError(f"from_sympy: no gate for {type(e).__name__} in {e}")
