"""Sums of many values: thresholds (``exact`` mode) and composed maps (``iterative``).

Exact mode (constant depth). Every value of a paper format is an integer multiple of
q = ``min_positive``. Each non-constant term becomes, by one table, the unsigned bits
r_ij of (term/q - its least value); then S = C + sum_ij 2^j r_ij is the exact sum in
units of q. The rounded result R(S) = [S q] is a non-decreasing step function of S;
let m_1 < ... < m_K be the S where it steps. One THR gate each gives t_k = [S >= m_k]
(weights 2^j on the term bits). Bit j of the result's code is b_j(v_0) +
sum_k (b_j(v_k) - b_j(v_(k-1))) t_k: since t_1 >= t_2 >= ..., that is one more THR
gate with weights +-1 at the steps where the bit changes. Depth: table (3) + 2.

Iterative mode (depth O(log n)). ((p0 + p1) + p2) + ... is p0 pushed through the maps
f_k(x) = [x + p_k]. A map is kept as a table: for each x of the accumulator's possible
values (the values of F between the least and greatest reachable partial sums), the
bundle of f_k(x). Composing two maps, or applying a map to a value, is a multiplexer:
bit j of g(f(x)) is the OR over y of [f(x) = y] AND g(y)_j (depth 3). The maps are
composed in a balanced tree, so a sum of n terms has depth 3 ceil(log2 n) + O(1).
A sum over a constant number of terms (dimensions, heads) is the plain chain of
two-operand tables instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .blockadd import blockwise_sum
from .bundles import Bundle, Expr, Term, as_expr, evaluate, grid_size
from .context import Ctx
from .tables import code_bits, literals, minterms, or_columns, table, thermometer_code
from .units import round_units, to_units

#: exact sums need S * q exact in float64 and THR sums inside 63-bit counters
MAX_FIXED_POINT = 1 << 40


def exact_sum(ctx: Ctx, terms: Sequence[Term]) -> Bundle:
    """[t_0 + ... + t_(N-1)], the exact sum rounded once (by the thermometer, or by
    ``blockadd.blockwise_sum`` when ``ctx.adder`` says so)."""
    if ctx.adder == "blockwise":
        return blockwise_sum(ctx, terms)
    fmt, b = ctx.fmt, ctx.b
    C = 0
    live = []
    for t in terms:
        e = as_expr(t)
        idx, vals = evaluate(e)
        u = to_units(fmt, vals)
        if not np.all(np.abs(u) < MAX_FIXED_POINT):
            raise ValueError("value outside the fixed-point range of the exact sums")
        lo, hi = int(u.min()), int(u.max())
        C += lo
        if lo != hi:
            live.append((e, u - lo, hi - lo, lo))
    if not live:
        return ctx.const(float(round_units(fmt, [C])[0]))
    if len(live) == 1:  # one term plus constants: a single table
        e, _, _, lo = live[0]
        base = float((C - lo) * fmt.min_positive)  # the constants' exact sum
        return table(ctx, Expr(lambda *xs, fn=e.fn: fmt.round(fn(*xs) + base), e.operands))
    nodes: list[int] = []
    weights: list[int] = []
    span = 0
    for e, r, width_range, _ in live:
        width = int(width_range).bit_length()
        bits = or_columns(ctx, minterms(ctx, e.operands),
                          ((r[:, None] >> np.arange(width)) & 1).astype(bool))
        nodes += bits
        weights += [1 << j for j in range(width)]
        span += width_range
    Smin, Smax = C, C + span
    rlo, rhi = round_units(fmt, [Smin, Smax])
    vals = ctx.fvalues[(ctx.fvalues >= rlo) & (ctx.fvalues <= rhi)]
    steps = _steps(ctx, vals[1:], Smin, Smax)
    ctx.reserve(len(steps) + ctx.width)
    t = [b.THR(nodes, weights, int(m) - C) for m in steps.tolist()]
    return thermometer_code(ctx, vals, t)


def _steps(ctx: Ctx, targets: np.ndarray, Smin: int, Smax: int) -> np.ndarray:
    """For each target value, the least S in [Smin, Smax] with [S q] >= target
    (a vectorised binary search; [Smin q] is below every target)."""
    lo = np.full(len(targets), Smin, dtype=np.int64)
    hi = np.full(len(targets), Smax, dtype=np.int64)
    while len(targets) and np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        ok = round_units(ctx.fmt, mid) >= targets
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return hi


def chain_sum(ctx: Ctx, terms: Sequence[Term], tab=None, arith: bool = False) -> Bundle:
    """((t_0 + t_1) + t_2) + ..., one table per addition. A term of several operands
    (a product [q k]) is fused into its addition's table unless that table, over
    (acc, operands), would have more rows than the term's own table plus a two-operand
    addition (``split_term``): |F|^3 rows become 2 |F|^2. The depth is the same: the
    term tables sit beside the chain. ``tab`` makes a table of a term (default
    ``tables.table``; the dry run counts instead). With ``arith`` (the caller's
    ``fixed_arith.allowed``) each addition of two variable values is
    ``fixed_arith.fixed_add`` instead, the term a table of its own."""
    from .fixed_arith import fixed_add

    fmt = ctx.fmt
    tab = tab or (lambda term: table(ctx, term))
    acc = tab(terms[0]) if terms else ctx.const(0.0)
    for t in terms[1:]:
        e = as_expr(t)
        if arith and not acc.is_const:
            term = tab(e)
            if not term.is_const:
                acc = fixed_add(ctx, acc, term)
                continue
            e = as_expr(term)
        if split_term(acc, e):
            e = as_expr(tab(e))
        acc = tab(Expr(lambda a, *xs, fn=e.fn: fmt.add(a, fn(*xs)), (acc,) + e.operands))
    return acc


def split_term(acc: Bundle, e: Expr) -> bool:
    """Whether the term is cheaper as its own table before the addition: |acc| |grid|
    fused rows against |grid| + |acc| |values of the term|."""
    if len(e.operands) < 2:
        return False
    g = grid_size(e.operands)
    _, vals = evaluate(e)
    return acc.size * g > g + acc.size * len(np.unique(vals))


@dataclass(eq=False)
class Map:
    """A map x -> bundle, for x in ``dom`` (sorted values)."""

    dom: np.ndarray
    outs: list[Bundle]


def _leaf(ctx: Ctx, term: Term, dom: np.ndarray) -> Map:
    """x -> [x + term] for x in dom, sharing one decoder of the term's operands."""
    e = as_expr(term)
    idx, tv = evaluate(e)
    ctx.reserve(len(dom) * ctx.width)
    table_all = ctx.fmt.add(dom[:, None], tv[None, :])
    rows = minterms(ctx, e.operands)
    outs = []
    for x in range(len(dom)):
        values, inverse = np.unique(table_all[x], return_inverse=True)
        codes = ctx.encode(values)
        if len(values) == 1:
            outs.append(ctx.const(float(values[0])))
            continue
        bits = or_columns(ctx, rows, code_bits(codes[inverse], ctx.width))
        outs.append(Bundle(tuple(bits), values, codes))
    return Map(dom, outs)


def apply_map(ctx: Ctx, v: Bundle, g: Map) -> Bundle:
    """The bundle of g(v): a multiplexer over v's values."""
    pos = np.searchsorted(g.dom, v.values)
    if np.any(pos >= len(g.dom)) or np.any(g.dom[np.minimum(pos, len(g.dom) - 1)] != v.values):
        raise AssertionError("map domain misses a value")  # a compiler bug, never input
    outs = [g.outs[p] for p in pos.tolist()]
    values = np.unique(np.concatenate([o.values for o in outs]))
    if len(values) == 1:
        return ctx.const(float(values[0]))
    codes = ctx.encode(values)
    lits = literals(ctx, v)
    b = ctx.b
    ctx.reserve(len(outs) * ctx.width + ctx.width)
    bits = []
    for j in range(ctx.width):
        ins = []
        for i, o in enumerate(outs):
            col = (o.codes >> j) & 1
            if not col.any():
                continue
            if col.all():
                ins.append(b.AND(*lits[i]) if lits[i] else b.const(1))
            else:
                ins.append(b.AND(*lits[i], o.bits[j]))
        bits.append(b.OR(*ins) if ins else b.const(0))
    return Bundle(tuple(bits), values, codes)


def _compose(ctx: Ctx, f: Map, g: Map) -> Map:
    """x -> g(f(x))."""
    return Map(f.dom, [apply_map(ctx, o, g) for o in f.outs])


def tree_sum(ctx: Ctx, terms: Sequence[Term]) -> Bundle:
    """((t_0 + t_1) + t_2) + ..., as a balanced tree of composed maps."""
    if len(terms) <= 2:
        return chain_sum(ctx, terms)
    fmt = ctx.fmt
    ranges = []
    for t in terms:
        _, v = evaluate(as_expr(t))
        ranges.append((v.min(), v.max()))
    lo, hi = ranges[0]
    items: list = [table(ctx, terms[0])]
    for t, (tlo, thi) in zip(terms[1:], ranges[1:]):
        dom = ctx.fvalues[(ctx.fvalues >= lo) & (ctx.fvalues <= hi)]
        items.append(_leaf(ctx, t, dom))
        lo = float(fmt.add(lo, tlo))
        hi = float(fmt.add(hi, thi))
    while len(items) > 1:
        nxt = []
        for i in range(0, len(items) - 1, 2):
            a, g = items[i], items[i + 1]
            nxt.append(apply_map(ctx, a, g) if isinstance(a, Bundle) else _compose(ctx, a, g))
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]
