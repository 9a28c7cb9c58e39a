"""The stable softmax in the compiler: the row maximum, in constant depth, AND/OR/NOT.

A model with ``softmax = "stable"`` computes, per layer, head and position i
(DESIGN.md, "Exact evaluation order"):

    m_i = max_{j <= i} s_ij (exact),  e_ij = [exp([s_ij - m_i])],
    Z_i = sum_j e_ij (the model's sum mode),  a_ij = [e_ij / Z_i].

The maximum (``row_max``). Each score s_j is a bundle whose domain D_j the compiler
knows; eq_j(u) = [s_j = u] is its minterm (NOT, AND). For every candidate value v:

    [m = v] = OR_{j: v in D_j} eq_j(v)  AND  AND_j le_j(v),   le_j(v) = OR_{u in D_j, u <= v} eq_j(u)

(some score equals v, and no score exceeds v): NOT, AND, OR, AND, so the one-hot
decoder of m sits 4 gate levels above the scores' bits, whatever n, with AND/OR/NOT
only. The candidates are the values of the D_j at least max_j min D_j (m is never
below any score's least value). It costs O(n |D|) gates per row. The one-hot nodes
serve as m's literals (``Bundle._lits``): a table over (s_j, m) ANDs s_j's literals
with the single node [m = v], so the tables of the row need no encoder of m; m's code
bits (one OR each) are built for completeness and swept when unused.

[exp([s_j - m])] is one table of the two bundles (s_j, m), fused into the sum Z as its
terms (``Expr``); rows with s_j > m never fire (m is the maximum) and are given the value
0, which keeps the sums' range analysis tight. Against the paper's softmax, whose term
tables read the scores' literals (1 level above the scores' bits), the terms here read
[m = v] (4 levels above): ``STABLE_EXTRA_DEPTH`` = 3 more levels per layer, free of n,
for every sum construction (``budget.depth_bound``). The weights a_ij are one table of
(e_ij, Z_i), with e_ij the bundle of the same (s_j, m) table (its minterms are shared).

Z_i >= [exp(0)] (``z_floor``). The row's maximising score gives the term
[exp([m - m])] = [exp(0)] = e0; every term is >= 0, and rounding is monotone, so the
iterative partial sums never fall ([x + t] >= [x] = x for t >= 0) and never fall below
e0 once it is added ([x + e0] >= [e0] = e0 for x >= 0); the exact sum gives [sum] >= [e0]
= e0 likewise. So when e0 > 0 (every paper format: e0 = 1, or its largest value when that
is below 1), the compiler narrows Z_i's domain to values >= e0 (``at_least``): no value 0
is left, the zero test is never built, and the ``undefined`` output is the constant 0.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .bundles import Bundle, Expr, Term
from .context import Ctx
from .tables import literals, table

#: levels from the scores' bits to [m = v] (NOT, AND, OR, AND)
MAX_DEPTH = 4
#: levels the stable softmax adds to a layer: the sum's term tables read [m = v]
#: (MAX_DEPTH levels up) where the paper's read the scores' negated literals (1 level)
STABLE_EXTRA_DEPTH = MAX_DEPTH - 1


def _and(ctx: Ctx, lits: Sequence[int]) -> int:
    return ctx.b.AND(*lits) if lits else ctx.b.const(1)


def _or(ctx: Ctx, nodes: Sequence[int]) -> int:
    return ctx.b.OR(*nodes) if nodes else ctx.b.const(0)


def row_max(ctx: Ctx, scores: Sequence[Bundle]) -> Bundle:
    """The bundle of max_j scores[j], exact; its literals are the one-hot [m = v]."""
    lo = max(float(s.values.min()) for s in scores)
    dom = np.unique(np.concatenate([s.values for s in scores]))
    dom = dom[dom >= lo]
    if len(dom) == 1:
        return ctx.const(float(dom[0]))
    ctx.reserve(len(dom) * (len(scores) + 2) + sum(s.size for s in scores) + ctx.width)
    eq = [[_and(ctx, lits) for lits in literals(ctx, s)] for s in scores]
    onehot = []
    for v in dom.tolist():
        some = [eq[j][k] for j, s in enumerate(scores)
                for k in np.flatnonzero(s.values == v).tolist()]
        # le_j(v) is the constant 1 when every value of s_j is <= v: left out
        none_above = [_or(ctx, [eq[j][k] for k in np.flatnonzero(s.values <= v).tolist()])
                      for j, s in enumerate(scores) if s.values.max() > v]
        onehot.append(ctx.b.AND(_or(ctx, some), *none_above) if none_above
                      else _or(ctx, some))
    codes = ctx.encode(dom)
    bits = tuple(_or(ctx, [onehot[k] for k in np.flatnonzero((codes >> j) & 1).tolist()])
                 for j in range(ctx.width))
    m = Bundle(bits, dom, codes)
    m._lits = [(node,) for node in onehot]
    return m


def z_floor(fmt) -> float:
    """e0 = [exp(0)]: Z_i >= e0 in the stable softmax (module docstring)."""
    return float(fmt.exp(np.array([0.0]))[0])


def at_least(x: Bundle, floor: float) -> Bundle:
    """``x`` with the values below ``floor`` dropped from its domain: sound only where
    x >= floor on every valid input (here: Z_i >= [exp(0)]). Its literals are rebuilt
    over the smaller domain."""
    keep = x.values >= floor
    if keep.all():
        return x
    assert keep.any(), "no value of the sum reaches the proven floor"  # a compiler bug
    return Bundle(x.bits, x.values[keep], x.codes[keep])


def stable_row(ctx: Ctx, scores: Sequence[Bundle], pos_sum: Callable[[Sequence[Term]], Bundle],
               weights: bool) -> tuple[Bundle, list[Bundle]]:
    """One row of the stable softmax: Z_i (narrowed to >= [exp(0)] where that is > 0)
    and, when ``weights``, the a_ij (else an empty list). ``pos_sum`` is the walker's
    sum over positions (the sum mode's construction)."""
    fmt = ctx.fmt
    m = row_max(ctx, scores)

    def shifted_exp(s: np.ndarray, mx: np.ndarray) -> np.ndarray:
        # rows with s > m never fire: 0 keeps the sums' ranges tight
        return np.where(s <= mx, fmt.exp(fmt.sub(s, mx)), 0.0)

    terms = [Expr(shifted_exp, (s, m)) for s in scores]
    Z = pos_sum(terms)
    floor = z_floor(fmt)
    if floor > 0:
        Z = at_least(Z, floor)
    if not weights:
        return Z, []
    e = [table(ctx, t) for t in terms]
    return Z, [table(ctx, Expr(_quotient(fmt), (ej, Z))) for ej in e]


def _quotient(fmt) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def q(e: np.ndarray, z: np.ndarray) -> np.ndarray:
        """[e / Z]; 0 where Z = 0 (the pass is undefined there anyway)."""
        return np.where(z == 0.0, 0.0, fmt.div(e, np.where(z == 0.0, 1.0, z)))
    return q


def max_gates(rows: Sequence[int], dom: float, fmt) -> float:
    """Gate estimate of the row maxima of rows of the given lengths, each score with
    at most ``dom`` values: the scores' minterms, one le_j(v) OR per score and value,
    one OR and one AND per value, and the code bits."""
    w = fmt.bit_width
    return sum(N * 2 * dom + 2 * dom + w for N in rows)
