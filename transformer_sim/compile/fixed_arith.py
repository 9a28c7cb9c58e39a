"""Arithmetic on the bits of fixed-point values: Theorem 3.2 with precision growing in n.

A lookup table over two variable values has |x| |y| rows: with O(log n)-bit fixed point
(|F| = 2^(2s+1) - 1, s ~ log2 n) that is up to |F|^2 = O(n^4) rows per operation. In a
fixed-point paper format (``FloatFormat.paper(0, s)``) every value is X q with
q = 2^-(s+1) and an integer |X| <= K = 2^(2s) - 1, coded as sign (bit 2s) | |X| (bits
0..2s-1); zero is all zeros. The operations here read those bits and build their result's
code in constant depth with poly(s) gates, each exactly as ``fparith`` rounds it (nearest,
ties toward zero, clipped at +-K):

- ``fixed_mul``: [x y] = (X Y) q^2 rounded to a multiple of q. The partial products
  a_i AND b_j (weight 2^(i+j)) are summed by the block-wise exact adder's stages
  (``add_heap``: constant depth) into P = |X| |Y|; then
  M = P >> (s+1), the guard g = bit s of P and the sticky OR of bits 0..s-1 decide the
  rounding: ties go toward zero, so M is incremented iff g AND sticky (an increment is
  bit i XOR the AND of the bits below it: constant depth); a result above K clips to K.
  The sign is sign(x) XOR sign(y), forced to 0 on a zero result (no -0).
- ``fixed_add``: [x + y] = clip(X + Y): each operand in two's complement
  (|X| XOR sign, plus sign at the lowest column), summed by ``add_heap``, then back to
  sign and magnitude (bit i of -S is S_i XOR OR_(k<i) S_k) and clipped.
- ``fixed_softmax``: the softmax weight [e_j / Z] for Z = min(B, e_0 + ... + e_i) (the
  iterative sum of terms e_k >= 0 in fixed point only clips), whose quotient lies in
  [0, 1]: k q with k in 0..D, D = 2^(s+1) = 1/q, and k >= m iff 2 D E_j > (2m - 1) Z,
  i.e. 2 D E_j > (2m - 1) sum_k E_k or 2 D E_j > (2m - 1) K: an OR of two THR gates on
  the terms' bits (ties toward zero; m <= K, the clip), then the thermometer code.
  Read through its terms, Z costs the same depth whether or not it folds to a constant.
  Z = 0 gives 0, as the table route does (the pass is undefined there).
- ``fixed_ge``: [x >= y] as one THR over the signed bits (x's positive part minus its
  negative part, minus y's).

Which operations take this route is ``allowed``: under ``Ctx.arith`` = "auto", every
operation on two variable values that are not *local* (functions of at most
``walker.LOCAL_TOKENS`` positions, whose tables have at most V^4 rows at any n), e.g.
in layer 0 the scores q_i k_j stay tables and everything after the softmax's Z_i is
arithmetic; the route depends on the model's structure only, not on n, so no stage
changes depth as n grows. "tables" never uses it, "always" always does (tests: every
route through the compiler, on small models). ``Ctx.arith_ops`` counts the operations
built by arithmetic, per kind.

Every result is a ``Bundle`` whose domain is computed at compile time: exactly, over the
operands' grid, when that grid is small (``EXACT_DOMAIN_ROWS``), else every value of F
between the rounded extremes (a superset: sound, the minterms of a later table need only
contain every reachable value). Depths (``ARITH_DEPTH``) do not depend
on s: the adder's stages, the increment and the clip are each a fixed number of levels.
Only AND/OR/NOT and THR gates are used (each XOR is a ``parity`` of two THR levels), so
the circuits stay in the TC0 basis.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from circuits.builder import CircuitBuilder

from ..floatformat import FloatFormat
from .blockadd import _const_of as const_of, lookahead_carries, reduce_heap
from .bundles import Bundle, grid, grid_size
from .context import Ctx

#: operand grids up to this many rows get their result's domain exactly (NumPy, once)
EXACT_DOMAIN_ROWS = 1 << 18
#: the arithmetic's depth from its operands' bits, for every s: ``add_heap`` is at most
#: 9 levels (two block stages of 2 THR levels, g/t 1, carries 2, the sum's parity 2); the
#: product adds its partial products (1) and the sticky OR, the carry AND, a parity (2)
#: and the clip OR (5): 15; the sum adds its parities (2) and the negation's OR, AND,
#: parity (2) and the clip OR (5): 16; the softmax quotient an OR of THRs and the code's
#: THR; the
#: comparison a THR on (bit, sign) then a THR (``tests/test_fixed_arith.py`` measures
#: them for s = 1..9)
MUL_DEPTH, ADD_DEPTH, QUOTIENT_DEPTH, GE_DEPTH = 15, 16, 3, 2
ARITH_DEPTH = max(MUL_DEPTH, ADD_DEPTH, QUOTIENT_DEPTH, GE_DEPTH)
ARITH_MODES = ("tables", "auto", "always")


def _s(fmt: FloatFormat) -> int:
    if not fmt.is_fixed_point:
        raise ValueError(f"format {fmt.spec}: arithmetic on bits needs fixed point (e = 0)")
    return fmt.s


# -- the bit-level constructions (a builder and node lists; no domains) ------------------
# Threshold gates and AND/OR/NOT only (the TC0 basis): a parity is two levels of THR.

def parity(b: CircuitBuilder, *xs: int) -> int:
    """x_1 XOR ... XOR x_k: t_m = [sum >= m], then one THR with weights +1, -1, +1, ...
    (the t_m are nested, so the alternating sum is the parity)."""
    live = [x for x in xs if const_of(b, x) is None]
    flip = sum(const_of(b, x) or 0 for x in xs) & 1
    if not live:
        return b.const(flip)
    if len(live) == 1:
        return b.NOT(live[0]) if flip else live[0]
    k = len(live)
    t = [b.THR(live, [1] * k, m) for m in range(1, k + 1)]
    sign = -1 if flip else 1  # an odd count (flip 0), or an even one (flip 1)
    return b.THR(t, [sign * (-1) ** m for m in range(k)], 0 if flip else 1)


def add_heap(b: CircuitBuilder, heap: list[list[int]]) -> list[int]:
    """sum_c 2^c * sum(heap[c]) mod 2^len(heap), LSB first: the block-wise adder's
    stages (``blockadd.reduce_heap``: THR), its carry-lookahead (AND/OR), and each sum
    bit x XOR y XOR c as a ``parity``."""
    if not heap:
        return []
    xs, ys, carries = lookahead_carries(b, reduce_heap(b, heap))
    return [parity(b, x, y, c) for x, y, c in zip(xs, ys, carries)]

def split(bits: Sequence[int]) -> tuple[list[int], int]:
    """(magnitude bits |X|, LSB first; the sign bit) of a fixed-point code."""
    return list(bits[:-1]), bits[-1]


def prefix_and(b: CircuitBuilder, xs: Sequence[int], head: Sequence[int] = ()) -> list[int]:
    """out[i] = AND(head, xs[0..i-1]) (out[0] = AND(head), 1 when empty)."""
    return [b.AND(*head, *xs[:i]) if (head or i) else b.const(1) for i in range(len(xs) + 1)]


def mul_bits(b: CircuitBuilder, s: int, x: Sequence[int], y: Sequence[int]) -> list[int]:
    """The code bits of [x y] in paper:e=0,s=s (see the module docstring)."""
    (A, sa), (B, sb) = split(x), split(y)
    w = 2 * s
    heap: list[list[int]] = [[] for _ in range(2 * w)]
    for i, a in enumerate(A):
        for j, c in enumerate(B):
            heap[i + j].append(b.AND(a, c))
    P = add_heap(b, heap)
    D = s + 1
    M, g = P[D:], P[D - 1]
    sticky = b.OR(*P[:D - 1]) if D > 1 else b.const(0)
    carry = prefix_and(b, M[:w], (g, sticky))  # carry[i]: the increment reaches bit i
    sat = b.OR(*M[w:], carry[w])               # above K: clip
    mag = [b.OR(parity(b, M[i], carry[i]), sat) for i in range(w)]
    nonzero = b.OR(*M, carry[0])
    return mag + [b.AND(parity(b, sa, sb), nonzero)]


def twos_complement(b: CircuitBuilder, x: Sequence[int], width: int) -> list[list[int]]:
    """A heap (columns) whose sum mod 2^width is X in two's complement:
    (|X| XOR sign) sign-extended, plus sign at column 0."""
    A, sg = split(x)
    cols = [[parity(b, a, sg)] for a in A] + [[sg] for _ in range(width - len(A))]
    cols[0].append(sg)
    return cols


def signed_to_code(b: CircuitBuilder, S: Sequence[int], w: int) -> list[int]:
    """The code of clip(S) for S in two's complement (|S| < 2^(w+1)), magnitude w bits."""
    sg = S[-1]
    seen = [b.OR(*S[:i]) if i else b.const(0) for i in range(len(S) - 1)]
    mag = [parity(b, S[i], b.AND(sg, seen[i])) for i in range(len(S) - 1)]
    sat = b.OR(*mag[w:])
    return [b.OR(m, sat) for m in mag[:w]] + [sg]


def add_bits(b: CircuitBuilder, s: int, x: Sequence[int], y: Sequence[int]) -> list[int]:
    """The code bits of [x + y] in paper:e=0,s=s."""
    w = 2 * s
    W = w + 2  # |X + Y| <= 2K < 2^(w+1): w + 1 magnitude bits and a sign
    heap = [a + c for a, c in zip(twos_complement(b, x, W), twos_complement(b, y, W))]
    return signed_to_code(b, add_heap(b, heap), w)


def signed_form(b: CircuitBuilder, x: Sequence[int], scale: int = 1) -> tuple[list[int], list[int]]:
    """(nodes, weights) with sum w * node = scale X: the positive part's bits with +2^j,
    the negative part's with -2^j (one level: THR and AND on a bit and the sign)."""
    A, sg = split(x)
    nodes, weights = [], []
    for j, a in enumerate(A):
        nodes += [b.THR([a, sg], [1, -1], 1), b.AND(a, sg)]
        weights += [scale << j, -(scale << j)]
    return nodes, weights


def ge_bits(b: CircuitBuilder, x: Sequence[int], y: Sequence[int]) -> int:
    """[x >= y] for two codes of one fixed-point format."""
    nx, wx = signed_form(b, x)
    ny, wy = signed_form(b, y, -1)
    return b.THR(nx + ny, wx + wy, 0)


def softmax_ge(b: CircuitBuilder, s: int, j: int, es: Sequence[Sequence[int]],
               ms: Sequence[int]) -> list[int]:
    """t_m = [[e_j / Z] >= m q] for m in ``ms`` (1 <= m <= min(D, K)), where
    Z = min(K, S) in units, S = sum_k e_k (the codes ``es``, all >= 0; sign bits
    ignored): 2 D E_j > (2m - 1) Z iff 2 D E_j > (2m - 1) S or 2 D E_j > (2m - 1) K, an
    OR of two THR gates (ties toward zero; 0 when Z = 0)."""
    D, K = 1 << (s + 1), 4 ** s - 1
    mags = [list(e[:-1]) for e in es]
    out = []
    for m in ms:
        nodes, weights = [], []
        for k, bits in enumerate(mags):
            c = (2 * D if k == j else 0) - (2 * m - 1)
            nodes += bits
            weights += [c << i for i in range(len(bits))]
        own = [2 * D << i for i in range(len(mags[j]))]
        out.append(b.OR(b.THR(nodes, weights, 1),
                        b.THR(mags[j], own, (2 * m - 1) * K + 1)))
    return out


# -- cost and choice -----------------------------------------------------------------------

@lru_cache(maxsize=None)
def arith_gates(spec: str, op: str) -> int:
    """Gates of one ``op`` ("mul", "add", "ge") on free operands in format ``spec``,
    built once (structural hashing and folding on) and counted."""
    fmt = FloatFormat.parse(spec)
    s = _s(fmt)
    w = fmt.bit_width
    b = CircuitBuilder()
    x, y = b.inputs([f"x{i}" for i in range(w)]), b.inputs([f"y{i}" for i in range(w)])
    if op == "mul":
        outs = mul_bits(b, s, x, y)
    elif op == "add":
        outs = add_bits(b, s, x, y)
    else:
        outs = [ge_bits(b, x, y)]
    for i, o in enumerate(outs):
        b.output(f"o{i}", o)
    from circuits.normalize import sweep
    return sweep(b.build()).size


def allowed(ctx: Ctx, operands: Sequence[Bundle], local: bool) -> bool:
    """Whether an operation on ``operands`` takes the arithmetic route: fixed point, no
    constant operand, and ``ctx.arith`` = "always", or "auto" and the operands not
    ``local`` (``Walker.local``: they depend on more than a few positions, so their
    domains may grow with n; a local operation's table has at most V^4 rows). The route
    is a function of the model's structure, never of n: the depth of each stage is the
    same at every n."""
    if ctx.arith == "tables" or not ctx.fmt.is_fixed_point:
        return False
    if any(x.is_const for x in operands):
        return False
    return ctx.arith == "always" or not local


# -- bundles ---------------------------------------------------------------------------------

def result_domain(ctx: Ctx, fn, operands: Sequence[Bundle]) -> np.ndarray:
    """The values fn can take over the operands' grid: exactly when the grid is small,
    else F between fn's extremes over the grid's corners (fn monotone in each operand on
    each sign, as rounded +, *, and the clip are, so the extremes are at corners of the
    box [min, max]^k; a superset)."""
    if grid_size(operands) <= EXACT_DOMAIN_ROWS:
        _, vals = grid(operands)
        return np.unique(np.asarray(fn(*vals), dtype=np.float64))
    ends = [np.array([op.values.min(), 0.0, op.values.max()])
            if op.values.min() < 0 < op.values.max()
            else np.array([op.values.min(), op.values.max()]) for op in operands]
    idx = np.indices([len(e) for e in ends]).reshape(len(ends), -1)
    corners = np.asarray(fn(*[e[i] for e, i in zip(ends, idx)]), dtype=np.float64)
    F = ctx.fvalues
    return F[(F >= corners.min()) & (F <= corners.max())]


def _binary(ctx: Ctx, op: str, x: Bundle, y: Bundle) -> Bundle:
    """The bundle of [x op y] ("mul" or "add"), by arithmetic."""
    fmt = ctx.fmt
    ctx.reserve(arith_gates(fmt.spec, op))
    ctx.arith_ops[op] += 1
    values = result_domain(ctx, getattr(fmt, op), (x, y))
    if len(values) == 1:
        return ctx.const(float(values[0]))
    bits = (mul_bits if op == "mul" else add_bits)(ctx.b, _s(fmt), x.bits, y.bits)
    return Bundle(tuple(bits), values, ctx.encode(values))


def fixed_mul(ctx: Ctx, x: Bundle, y: Bundle) -> Bundle:
    """The bundle of [x y], by arithmetic (see the module docstring)."""
    return _binary(ctx, "mul", x, y)


def fixed_add(ctx: Ctx, x: Bundle, y: Bundle) -> Bundle:
    """The bundle of [x + y], by arithmetic."""
    return _binary(ctx, "add", x, y)


def fixed_ge(ctx: Ctx, x: Bundle, y: Bundle) -> int:
    """The node [x >= y]."""
    _s(ctx.fmt)
    ctx.reserve(arith_gates(ctx.fmt.spec, "ge"))
    ctx.arith_ops["ge"] += 1
    return ge_bits(ctx.b, x.bits, y.bits)


def fixed_softmax(ctx: Ctx, j: int, es: Sequence[Bundle], z: Bundle) -> Bundle:
    """The bundle of [e_j / Z] for Z = min(B, sum_k e_k) (the iterative sum of the
    e_k >= 0 in fixed point, whatever its construction; ``z`` is its bundle, read for
    its domain only): thresholds on the terms (``softmax_ge``) at the values the
    quotient can take, then their thermometer code."""
    from .tables import thermometer_code

    fmt = ctx.fmt
    s = _s(fmt)
    e = es[j]
    if min(x.values.min() for x in es) < 0 or z.values.min() < 0:
        raise AssertionError("softmax terms must be >= 0")  # a compiler bug
    ctx.arith_ops["quot"] += 1

    def quotient(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(y == 0, 0.0, fmt.div(x, np.where(y == 0, 1.0, y)))

    top = min(1 << (s + 1), 4 ** s - 1)  # D, or K when 1 > B (s = 1)
    vals = result_domain(ctx, quotient, (e, z))  # the grid's pairs with e > z go past
    vals = vals[vals <= top * fmt.min_positive]  # 1; no reachable pair does
    if len(vals) == 1:
        return ctx.const(float(vals[0]))
    steps = np.rint(vals[1:] / fmt.min_positive).astype(np.int64).tolist()
    ctx.reserve(2 * len(steps) + ctx.width)
    t = softmax_ge(ctx.b, s, j, [x.bits for x in es], steps)
    return thermometer_code(ctx, vals, t)
