"""Block-wise iterated addition: exact sums of wide fixed-point integers in constant depth.

The thermometer (``sums.exact_sum``) places one THR gate per step of the rounding
function, with weights 2^j on every bit of the fixed-point terms: for a format whose
values span W bits in units of q = ``min_positive`` (W ~ 2^e + 2s), its weights reach
2^W (refused beyond 2^40, the evaluator's counters). This module is the classic TC0
iterated addition instead, whose weights stay below 2^b with b = O(log log N):

1. Terms. Each term becomes, by one table, the unsigned bits r_ij of (term/q - its least
   value) (a bias, so every bit has a positive weight 2^j); the biases and the constant
   terms add up to the integer C. S = C + sum_ij 2^j r_ij is the exact sum in units of q,
   with known bounds Smin <= S <= Smax. It is computed modulo 2^Wt, with Wt bits enough
   for S in two's complement; C's bits are constant-1 entries of the bit heap.
2. Column sums (stage A): every column c of the heap (the bits of weight 2^c, at most
   N + 1 of them) is summed by thresholds t_m = [column >= m], m = 1..h, and bit k of the
   count is the threshold of the t_m with alternating weights +-1 at the boundaries where
   bit k changes (the t_m are nested, so that sum is 0 or 1). Column c's count lands on
   columns c .. c + log2 h: the heap is now at most bitlen(h) high.
3. Block sums (stage B): blocks of b = bitlen(h') columns, the same way with weights
   2^(c - c0) inside a block. A block's sum has at most 2b bits, so the heap is now at most
   2 high: two numbers.
4. Carry-lookahead: g_i = x_i y_i, t_i = x_i + y_i, c_i = OR_j<i (g_j AND t_j+1..t_i-1),
   sum bit s_i = x_i XOR y_i XOR c_i (unbounded fan-in AND/OR, constant depth).
5. Rounding: with the sign bit sg, V = S XOR sg (V = S, or -S - 1 when S < 0: no
   increment needed). [S q] is then a function of sg, the position L of V's leading one,
   the 2s - 1 bits below it (the paper format's significand window), the next bit r and
   the OR of the rest (sticky). Each such class is one AND row (classes whose results are
   equal are merged; once the rounding saturates at +-B, all higher L are one row), and
   each bit of the result's code is the OR of its rows. Every row's value is computed by
   the simulator's own rounding at the class's two ends, which must agree (a compiler
   bug otherwise).

A sum whose live terms have few operand values in all (their grid no larger than the
adder's estimate, ``blockwise_gates``) is one lookup table instead (depth 3), as a single
live term always is.

Depth: table 3 + stage A 2 + stage B 2 + carries 3 + 1 (V) + 3 (literals, rows, ORs) = 14,
for every N. Gates: O(N Wt) in stage A, O(Wt log^2 N / log log N) in stage B, O(Wt^2)
carries, O(Wt 2^(2s)) rounding rows.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from circuits.builder import CircuitBuilder
from circuits.ir import Kind

from .bundles import Bundle, Expr, Term, as_expr, evaluate, grid, grid_size
from .context import Ctx
from .tables import minterms, or_columns, table
from .units import round_units, to_units

#: depth of a block-wise exact sum, its term tables included (see the module docstring)
BLOCKWISE_SUM_DEPTH = 14


# -- the adder -------------------------------------------------------------------------------

def _const_of(b: CircuitBuilder, node: int) -> int | None:
    k = b._kinds[node]
    return 0 if k == Kind.CONST0 else 1 if k == Kind.CONST1 else None


def _block(b: CircuitBuilder, items: list[tuple[int, int]], out: list[list[int]], c0: int,
           width: int) -> None:
    """Bits of P = sum 2^k x over ``items`` (node x, k), added to ``out`` from column c0:
    t_m = [P >= m] for m = 1..M, and bit k = the alternating threshold of the t_m."""
    nodes = [x for x, _ in items]
    weights = [1 << k for _, k in items]
    M = sum(weights)
    t = [None] + [b.THR(nodes, weights, m) for m in range(1, M + 1)]
    P = np.arange(M + 1)
    for k in range(M.bit_length()):
        if c0 + k >= width:
            break
        bit = (P >> k) & 1
        diffs = np.diff(bit)
        nz = np.flatnonzero(diffs)  # bit k steps at m = nz + 1
        out[c0 + k].append(b.THR([t[m + 1] for m in nz.tolist()], diffs[nz].tolist(), 1))


def compress(b: CircuitBuilder, heap: list[list[int]], bsz: int) -> list[list[int]]:
    """One stage of block sums: blocks of ``bsz`` columns (modulo 2^len(heap))."""
    width = len(heap)
    out: list[list[int]] = [[] for _ in range(width)]
    for c0 in range(0, width, bsz):
        cols = heap[c0:c0 + bsz]
        if all(len(col) <= 1 for col in cols):  # nothing to add: pass through
            for k, col in enumerate(cols):
                out[c0 + k] += col
            continue
        items = [(x, k) for k, col in enumerate(cols) for x in col]
        _block(b, items, out, c0, width)
    return out


def reduce_heap(b: CircuitBuilder, heap: list[list[int]]) -> list[list[int]]:
    """Stage A (column sums) and stage B (block sums): a heap at most 2 high."""
    h = max((len(c) for c in heap), default=0)
    if h > 2:
        heap = compress(b, heap, 1)
        h = max(len(c) for c in heap)
    if h > 2:
        heap = compress(b, heap, h.bit_length())
    assert max((len(c) for c in heap), default=0) <= 2
    return heap


def carry_lookahead(b: CircuitBuilder, heap: list[list[int]]) -> tuple[list[int], list[int]]:
    """For a heap at most 2 high: (p_i, c_i) with sum bit s_i = p_i XOR c_i, where
    p_i = x_i XOR y_i and c_i = OR_(j<i) (g_j AND t_(j+1) .. t_(i-1))."""
    xs, ys, carries = lookahead_carries(b, heap)
    p = [b.XOR(x, y) for x, y in zip(xs, ys)]
    return p, carries


def lookahead_carries(b: CircuitBuilder, heap: list[list[int]]
                      ) -> tuple[list[int], list[int], list[int]]:
    """For a heap at most 2 high: its two rows x, y and the carries c_i =
    OR_(j<i) (g_j AND t_(j+1) .. t_(i-1)), g = x AND y, t = x OR y (AND/OR only)."""
    zero = b.const(0)
    xs = [col[0] if col else zero for col in heap]
    ys = [col[1] if len(col) > 1 else zero for col in heap]
    g = [b.AND(x, y) for x, y in zip(xs, ys)]
    t = [b.OR(x, y) for x, y in zip(xs, ys)]
    carries = []
    for i in range(len(heap)):
        terms, chain = [], []
        for j in range(i - 1, -1, -1):
            if _const_of(b, g[j]) != 0:
                terms.append(b.AND(g[j], *chain) if chain else g[j])
            if _const_of(b, t[j]) == 0:
                break  # no carry passes column j
            chain.append(t[j])
        carries.append(b.OR(*terms) if terms else zero)
    return xs, ys, carries


def iterated_add(b: CircuitBuilder, heap: list[list[int]], const: int = 0) -> list[int]:
    """The bits of (const + sum_c 2^c * sum(heap[c])) mod 2^len(heap), LSB first."""
    width = len(heap)
    heap = [list(col) + ([b.const(1)] if (const >> c) & 1 else []) for c, col in enumerate(heap)]
    p, c = carry_lookahead(b, reduce_heap(b, heap)) if width else ([], [])
    return [b.XOR(pi, ci) for pi, ci in zip(p, c)]


# -- the exact sum ---------------------------------------------------------------------------

def fixed_terms(ctx: Ctx, terms: Sequence[Term]):
    """(C, live): the constants' sum plus every live term's least value, in units of q;
    per live term (expr, its values minus its least, its range)."""
    C = 0
    live = []
    for term in terms:
        e = as_expr(term)
        _, vals = evaluate(e)
        u = to_units(ctx.fmt, vals).tolist()
        lo, hi = min(u), max(u)
        C += lo
        if lo != hi:
            live.append((e, [x - lo for x in u], hi - lo))
    return C, live


def _bit_matrix(r: list[int], width: int) -> np.ndarray:
    if width <= 62:
        return ((np.array(r, dtype=np.int64)[:, None] >> np.arange(width)) & 1).astype(bool)
    arr = np.array(r, dtype=object)
    return np.stack([((arr >> j) & 1).astype(bool) for j in range(width)], axis=1)


def blockwise_sum(ctx: Ctx, terms: Sequence[Term], one_table: bool = True) -> Bundle:
    """[t_0 + ... + t_(N-1)], the exact sum rounded once, by block-wise addition; or by
    one lookup table over the terms' operands when that is smaller (``one_table``)."""
    fmt, b = ctx.fmt, ctx.b
    C, live = fixed_terms(ctx, terms)
    if not live:
        return ctx.const(float(round_units(fmt, [C])[0]))
    Smin, Smax = C, C + sum(span for _, _, span in live)
    ops = list({id(op): op for e, _, _ in live for op in e.operands}.values())
    if len(live) == 1 or one_table and grid_size(ops) <= blockwise_gates(
            len(live), (Smax - Smin).bit_length(), fmt.mantissa_bits, ctx.width):
        return _sum_table(ctx, C, live, ops)  # few operand values: one table is smaller
    signed = Smin < 0
    Wt = max(Smax.bit_length() if Smax > 0 else 0,
             (-Smin - 1).bit_length() if signed else 0) + int(signed)
    Wt = max(Wt, 1)
    heap: list[list[int]] = [[] for _ in range(Wt)]
    ctx.reserve(len(live) * Wt)
    for e, r, span in live:
        width = span.bit_length()
        bits = or_columns(ctx, minterms(ctx, e.operands), _bit_matrix(r, width))
        for j, x in enumerate(bits[:Wt]):
            heap[j].append(x)
    h = max(len(c) for c in heap) + 1
    ctx.reserve(Wt * (h + 2 * h.bit_length() ** 2 + Wt // 2 + 4))
    heap = [col + ([b.const(1)] if ((C % (1 << Wt)) >> c) & 1 else [])
            for c, col in enumerate(heap)]
    p, c = carry_lookahead(b, reduce_heap(b, heap))
    # the sign bit is p XOR c at the top; V = S XOR sign, each bit one XOR of 4 inputs
    if not signed:
        sgn = [b.const(0)]
    elif Smax < 0:
        sgn = [b.const(1)]
    else:
        sgn = [p[-1], c[-1]]
    nv = Wt - 1 if signed else Wt
    V = [b.XOR(p[i], c[i], *sgn) for i in range(nv)]
    nV = [b.gate(Kind.XNOR, [p[i], c[i], *sgn]) for i in range(nv)]
    return round_rows(ctx, V, nV, b.XOR(*sgn), b.gate(Kind.XNOR, sgn), Smin, Smax)


def _sum_table(ctx: Ctx, C: int, live, ops: list[Bundle]) -> Bundle:
    """The exact sum as one lookup table over all the live terms' operands."""
    _, cols = grid(ops)
    pos = {id(op): i for i, op in enumerate(ops)}
    total = [C] * len(cols[0])
    for e, _, _ in live:
        vals = np.asarray(e.fn(*[cols[pos[id(op)]] for op in e.operands]), dtype=np.float64)
        vals = np.broadcast_to(vals.reshape(-1) if vals.size > 1 else vals, (len(total),))
        u = to_units(ctx.fmt, vals).tolist()
        lo = min(u)  # the term's least value, already in C
        total = [a + x - lo for a, x in zip(total, u)]
    out = round_units(ctx.fmt, total)
    return table(ctx, Expr(lambda *xs, v=out: v, tuple(ops)))


def _classes(Vlo: int, Vhi: int, ws: int):
    """Classes of V in [Vlo, Vhi]: (L, pattern, r, st, lo, hi), each an interval on
    which the rounding is constant; L = 0 is V = 0. r/st None when absent."""
    for L in range(0, Vhi.bit_length() + 1):
        if L == 0:
            if Vlo == 0:
                yield 0, 0, None, None, 0, 0
            continue
        if (1 << L) - 1 < Vlo:
            continue
        count = min(L - 1, ws - 1)          # window bits below the leading one
        rpos = L - 1 - count - 1            # the round bit's position (-1: none)
        for pat in range(1 << count):
            top = (1 << (L - 1)) | (pat << (L - 1 - count))
            if rpos < 0:
                subs = [(None, None, top, top)]
            elif rpos == 0:
                subs = [(r, None, top + r, top + r) for r in (0, 1)]
            else:
                subs = [(r, st, top + (r << rpos) + st,
                         top + (r << rpos) + (st and (1 << rpos) - 1))
                        for r in (0, 1) for st in (0, 1)]
            for r, st, lo, hi in subs:
                lo, hi = max(lo, Vlo), min(hi, Vhi)
                if lo <= hi:
                    yield L, pat, r, st, lo, hi


def round_rows(ctx: Ctx, V: list[int], nV: list[int], sg: int, nsg: int, Smin: int,
               Smax: int) -> Bundle:
    """[S q] from V = S XOR sign (``nV``, ``nsg``: the negations), Smin <= S <= Smax."""
    fmt, b = ctx.fmt, ctx.b
    ws = fmt.mantissa_bits
    branches = []
    if Smax >= 0:
        branches.append((0, max(Smin, 0), Smax))
    if Smin < 0:
        branches.append((1, max(0, -Smax - 1), -Smin - 1))
    hi_or: dict[int, tuple[int, int]] = {}

    def above(L: int) -> tuple[int, int]:  # [some bit of V at >= L], and its negation
        if L not in hi_or:
            xs = V[L:]
            hi_or[L] = (b.OR(*xs), b.gate(Kind.NOR, xs)) if xs else (b.const(0), b.const(1))
        return hi_or[L]

    rows: list[tuple[int, float]] = []
    for neg, Vlo, Vhi in branches:
        def S_of(v: int, neg=neg) -> int:
            return -v - 1 if neg else v

        classes = list(_classes(Vlo, Vhi, ws))
        ends = [S_of(x) for cl in classes for x in (cl[4], cl[5])]
        g = round_units(fmt, ends + [S_of(Vhi)])
        sat = g[-1]
        g = g[:-1].reshape(-1, 2)
        assert np.all(g[:, 0] == g[:, 1]), "rounding not constant on a class"
        slit = sg if neg else nsg
        # group: L -> pattern -> [(r, st, value)]
        groups: dict[int, dict[int, list]] = {}
        for (L, pat, r, st, lo, hi), val in zip(classes, g[:, 0].tolist()):
            groups.setdefault(L, {}).setdefault(pat, []).append((r, st, val, lo))
        ctx.reserve(4 * len(classes) + 4 * len(V))
        for L in sorted(groups):
            pats = groups[L]
            if L >= 1:
                first = min(lo for subs in pats.values() for *_, lo in subs)
                if all(v == sat for subs in pats.values() for _, _, v, _ in subs) and \
                        round_units(fmt, [S_of(first)])[0] == sat:
                    # saturated from here on: one row, [V >= 2^(L-1)] (V <= Vhi)
                    rows.append((b.AND(slit, above(L - 1)[0]), sat))
                    break
            if L == 0:
                rows.append((b.AND(slit, above(0)[1]), pats[0][0][2]))
                continue
            count = min(L - 1, ws - 1)
            rpos = L - 1 - count - 1
            base = [slit, V[L - 1], above(L)[1]]
            stn = (b.OR(*V[:rpos]), b.gate(Kind.NOR, V[:rpos])) if rpos > 0 else None
            for pat, subs in pats.items():
                lits = base + [V[L - 1 - count + i] if (pat >> i) & 1 else nV[L - 1 - count + i]
                               for i in range(count)]
                if len({v for _, _, v, _ in subs}) == 1:
                    rows.append((b.AND(*lits), subs[0][2]))
                    continue
                for r in (0, 1):
                    part = [s for s in subs if s[0] == r]
                    if not part:
                        continue
                    rl = V[rpos] if r else nV[rpos]
                    if len({v for _, _, v, _ in part}) == 1:
                        rows.append((b.AND(*lits, rl), part[0][2]))
                        continue
                    for _, st, v, _ in part:
                        rows.append((b.AND(*lits, rl, stn[0] if st else stn[1]), v))
    values = np.unique(np.array([v for _, v in rows]))
    codes = ctx.encode(values)
    code_of = dict(zip(values.tolist(), codes.tolist()))
    out = []
    for j in range(ctx.width):
        ins = [node for node, v in rows if (code_of[v] >> j) & 1]
        out.append(b.OR(*ins) if ins else b.const(0))
    return Bundle(tuple(out), values, codes)


def blockwise_gates(N: int, wfix: float, ws: int, w: int) -> float:
    """Estimated gates of one block-wise sum's adder and rounding (not its term tables)
    for N terms spanning ``wfix`` bits each, significand window ``ws``, code width w."""
    Wt = int(wfix) + max(1, N).bit_length() + 2
    h = N + 1
    hA = h.bit_length()
    bsz = hA.bit_length()
    stage_a = Wt * (h + hA)
    stage_b = math.ceil(Wt / bsz) * (hA * ((1 << bsz) - 1) + 2 * bsz)
    cla = 5 * Wt + Wt * (Wt + 1) / 2
    rows = 2 * (Wt * 3 * 2 ** max(0, ws - 1) + 2 ** ws) + 6 * Wt
    return stage_a + stage_b + cla + rows + w
