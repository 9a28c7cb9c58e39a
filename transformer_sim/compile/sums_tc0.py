"""Iterative sums in fixed point in constant depth: the paper's Theorem 3.2 (TC0).

In ``FloatFormat.paper(0, s)`` (e = 0) every value is an integer multiple of
q = ``min_positive``, and the values are exactly the integers -B..B in units of q
(B = 2^(2s) - 1). The sum of two values is on the grid, so rounding only clips, and the
iterative sum ((a_1 + a_2) + a_3) + ... (Definition 3.3; a_1 is the first term p0) is the
walk x_0 = 0, x_k = clamp(x_(k-1) + a_k, -B, B). With the suffix sums
S(u) = a_(u+1) + ... + a_n (in units of q; S(n) = 0), for every integer v:

    x_n >= v  iff  ( S(0) >= v  or  exists u in 0..n: S(u) >= v + B )
                   and for all s in 0..n: ( S(s) >= v - B  or  exists u in s..n: S(u) >= v + B )

This is the two-sided Skorokhod map on an interval (Kruk, Lehoczky, Ramanan and Shreve,
"An explicit formula for the Skorokhod map on [0, a]", Ann. Probab. 35(5), 2007),
rewritten so that every predicate is one threshold on a suffix sum. ``ge_clauses``
gives it as an AND of ORs of atoms (u, m) = [S(u) >= m] (in each clause the atom with
u = 0, resp. u = s, implies the clause's first atom and is left out);
``clamped_walk_ge`` evaluates it on integers (the tests hold it against the sequential
walk), and ``tc0_sum`` builds the same clauses as a circuit:

1. each term, by one table (depth 3, ``tables``), as the unsigned bits of
   term/q - its least value (the bias goes into the thresholds, as in ``sums.exact_sum``);
2. each atom [S(u) >= m] is ONE THR gate over the bits of terms u+1..n, weights 2^j
   (depth 4); an atom that range analysis decides (S(u) lies between the sums of its
   terms' least and greatest values) is a constant and folds away;
3. each clause is one OR (depth 5), and [x_n >= v] is the AND of the clauses (depth 6),
   for every v in (lo, hi], the walk's reachable range (interval arithmetic on the walk,
   which is monotone in every term, so the bounds are reached);
4. bit j of the result's code is one THR of the nested [x_n >= v] with weights +-1 at
   the v where bit j changes (depth 7), as at the end of ``sums.exact_sum``.

Depth: ``TC0_SUM_DEPTH`` = 7, whatever n. Size: at most 4B distinct thresholds m per
suffix u (m in (-2B, 2B]), so at most 4Bn THR gates of O(n w) inputs each, plus at most
2B (n + 3) ORs and ANDs and w output gates: polynomial, O(n B) gates and O(n^2 B w)
wires (``tc0_gates``). The paper's O(log n)-bit fixed point has B = poly(n).

A sum whose terms are all >= 0 (the softmax denominator Z_i), or all <= 0, never leaves a
wall once it reaches it: it is min(B, plain sum) (resp. max(-B, plain sum)), and
[x_n >= v] = [S(0) >= v]. That is exactly the circuit ``sums.exact_sum``'s thermometer
builds (the exact sum rounded once only clips at +-B); it is built here from the same
atoms, so that the depth bound holds whatever exact adder the context names (the
block-wise adder is deeper).

Formats with exponent bits are refused: rounding there is not a clip, and the paper
leaves TC0 open for them (``ac0`` or ``tree`` handle them).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from circuits.errors import CotsimInputError

from ..floatformat import FloatFormat
from .bundles import Bundle, Term, as_expr, evaluate
from .context import Ctx
from .tables import minterms, or_columns, table, thermometer_code
from .units import to_units

#: term tables (NOT, AND, OR: ``compiler.TABLE_DEPTH``) + THR atoms + OR + AND + code THR
TC0_SUM_DEPTH = 3 + 4

Atom = tuple[int, int]  # (u, m): [S(u) >= m]


def walls(fmt: FloatFormat) -> int:
    """B in units of q: the walk's walls are -B and B. Refuses formats with exponent bits."""
    if not fmt.is_fixed_point:
        raise CotsimInputError(
            f"format {fmt.spec}: the TC0 iterative sum (Theorem 3.2) needs fixed point "
            "(paper:e=0,s=S); with exponent bits the paper leaves TC0 open")
    return int(round(fmt.max_value / fmt.min_positive))


def ge_clauses(n: int, B: int, v: int) -> list[list[Atom]]:
    """[x_n >= v] for the walk clamped at +-B, as an AND of ORs of atoms (u, m). The
    atom [S(s) >= v + B] is left out of the clauses whose first atom is [S(s) >= v] or
    [S(s) >= v - B]: it implies that atom (B >= 0)."""
    top = [(u, v + B) for u in range(n + 1)]
    return [[(0, v)] + top[1:]] + [[(s, v - B)] + top[s + 1:] for s in range(n + 1)]


def monotone_clauses(v: int) -> list[list[Atom]]:
    """[x_n >= v] when no term changes sign: [S(0) >= v]."""
    return [[(0, v)]]


def clamped_walk_ge(a: Sequence[int], B: int, v: int) -> bool:
    """The closed form: is the walk x_k = clamp(x_(k-1) + a_k, -B, B) from 0 at least v
    after the last term? (``a`` in units of q; integers.)"""
    S = np.concatenate([np.cumsum(np.asarray(a, dtype=np.int64)[::-1])[::-1], [0]])
    return all(any(S[u] >= m for u, m in c) for c in ge_clauses(len(a), B, v))


def tc0_gates(n_terms: int, fmt: FloatFormat, term_bits: int) -> float:
    """Upper estimate of the gates of one ``tc0_sum`` of ``n_terms`` terms beyond the
    terms' minterms (the caller counts the operand grids): ``term_bits`` ORs per term
    table, at most 4B THR atoms per suffix, n + 3 ORs and ANDs per value, w outputs."""
    B = walls(fmt)
    n = n_terms
    return float(n * term_bits + 4 * B * n + 2 * B * (n + 3) + fmt.bit_width)


class _Atoms:
    """[S(u) >= m] as THR gates over the term bits, built once each; True/False where
    range analysis decides them."""

    def __init__(self, ctx: Ctx, lows: list[int], spans: list[int], bits: list[list[int]]):
        self.ctx = ctx
        n = len(lows)
        # suffix constants and spans: S(u) in [C[u], C[u] + span[u]]
        self.C = np.concatenate([np.cumsum(lows[::-1])[::-1], [0]]).tolist()
        self.span = np.concatenate([np.cumsum(spans[::-1])[::-1], [0]]).tolist()
        self.bits = bits
        self.n = n
        self.inputs: dict[int, tuple[list[int], list[int]]] = {}
        self.cache: dict[Atom, int | bool] = {}

    def _inputs(self, u: int) -> tuple[list[int], list[int]]:
        hit = self.inputs.get(u)
        if hit is None:
            nodes = [x for k in range(u, self.n) for x in self.bits[k]]
            weights = [1 << j for k in range(u, self.n) for j in range(len(self.bits[k]))]
            hit = self.inputs[u] = (nodes, weights)
        return hit

    def __call__(self, atom: Atom) -> int | bool:
        hit = self.cache.get(atom)
        if hit is not None:
            return hit
        u, m = atom
        t = m - self.C[u]
        if t <= 0:
            out: int | bool = True
        elif t > self.span[u]:
            out = False
        else:
            nodes, weights = self._inputs(u)
            out = self.ctx.b.THR(nodes, weights, t)
        self.cache[atom] = out
        return out


def _clauses_node(ctx: Ctx, atoms: _Atoms, clauses: list[list[Atom]]) -> int | bool:
    """AND over clauses of OR over atoms, constants folded before any gate is built."""
    b = ctx.b
    ands: list[int] = []
    for clause in clauses:
        ors: list[int] = []
        for a in clause:
            x = atoms(a)
            if x is True:
                break
            if x is not False:
                ors.append(x)
        else:  # no atom is constant 1
            if not ors:
                return False
            ands.append(ors[0] if len(ors) == 1 else b.OR(*dict.fromkeys(ors)))
    ands = list(dict.fromkeys(ands))
    if not ands:
        return True
    return ands[0] if len(ands) == 1 else b.AND(*ands)


def tc0_sum(ctx: Ctx, terms: Sequence[Term]) -> Bundle:
    """((t_0 + t_1) + t_2) + ..., rounded after every addition, in constant depth
    (``TC0_SUM_DEPTH``) for a fixed-point format (see the module docstring)."""
    fmt = ctx.fmt
    B = walls(fmt)
    if not terms:
        return ctx.const(0.0)
    if len(terms) == 1:  # already a format value: no rounding at all
        return table(ctx, terms[0])
    q = fmt.min_positive
    lows: list[int] = []
    spans: list[int] = []
    bits: list[list[int]] = []
    lo = hi = 0  # the walk's reachable range so far (it is monotone in every term)
    for t in terms:
        e = as_expr(t)
        _, vals = evaluate(e)
        u = to_units(fmt, vals)
        tlo, thi = int(u.min()), int(u.max())
        if tlo < -B or thi > B:
            raise AssertionError("a term outside the format")  # a compiler bug, never input
        lows.append(tlo)
        spans.append(thi - tlo)
        lo, hi = max(-B, min(B, lo + tlo)), max(-B, min(B, hi + thi))
        if thi == tlo:
            bits.append([])
            continue
        width = (thi - tlo).bit_length()
        ctx.reserve(width)
        r = u - tlo
        bits.append(or_columns(ctx, minterms(ctx, e.operands),
                               ((r[:, None] >> np.arange(width)) & 1).astype(bool)))
    if lo == hi:
        return ctx.const(float(lo * q))
    atoms = _Atoms(ctx, lows, spans, bits)
    n = len(terms)
    monotone = min(lows) >= 0 or max(l + s for l, s in zip(lows, spans)) <= 0
    ge: list[int | bool] = []
    for v in range(lo + 1, hi + 1):
        clauses = monotone_clauses(v) if monotone else ge_clauses(n, B, v)
        ctx.reserve(2 * (n + 1) + len(clauses) + 1)  # new atoms, ORs, the AND
        ge.append(_clauses_node(ctx, atoms, clauses))
    ctx.reserve(ctx.width)
    return thermometer_code(ctx, np.arange(lo, hi + 1) * q, ge)
