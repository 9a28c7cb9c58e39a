"""Problem families as circuits: parity, majority, iterated addition, comparison,
addition mod p, the S5 word problem, iterated squaring mod p, and random circuits (circuit
value problem instances).

Every generator returns a ``Circuit`` with named inputs and outputs. Numbers are written
least significant bit first. Generators build with structural hashing and constant folding
on, then drop gates that no output uses; ``random_circuit`` alone keeps its gates as drawn.

``basis`` picks the gate set:

- ``"fanin2"``: AND/OR/NOT with fan-in at most 2 (XOR is expanded);
- ``"AC0"``: AND/OR/NOT of any fan-in;
- ``"general"``: AND/OR/NOT/XOR (XOR kept as a primitive);
- ``"TC0"``: AND/OR/NOT plus MAJ/THR, where a family has a threshold construction.

Sizes and depths below are for the constructions as written; folding can only shrink them.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np

from .builder import CircuitBuilder
from .errors import CotsimInputError
from .ir import NULLARY, Circuit, Kind

#: A guard against asking for astronomically large circuits by mistake.
MAX_GATES = 2_000_000


# -- bit-level toolkit -------------------------------------------------------------------
class _Ops:
    """Gates over one builder, in one basis: wide AND/OR or fan-in-2 trees, XOR as a
    primitive or expanded into AND/OR/NOT."""

    def __init__(self, b: CircuitBuilder, basis: str):
        self.b = b
        self.wide = basis in ("AC0", "general", "TC0")
        self.xor_ok = basis == "general"

    def const(self, v: int) -> int:
        return self.b.const(v)

    def not_(self, a: int) -> int:
        return self.b.NOT(a)

    def _tree(self, kind: Kind, xs: Sequence[int], unit: int) -> int:
        xs = list(xs)
        if not xs:
            return self.const(unit)
        if self.wide:
            return self.b.gate(kind, xs) if len(xs) > 1 else xs[0]
        while len(xs) > 1:  # balanced, so the depth is ceil(log2 len)
            nxt = [self.b.gate(kind, xs[i:i + 2]) for i in range(0, len(xs) - 1, 2)]
            if len(xs) % 2:
                nxt.append(xs[-1])
            xs = nxt
        return xs[0]

    def and_(self, xs: Sequence[int]) -> int:
        return self._tree(Kind.AND, xs, 1)

    def or_(self, xs: Sequence[int]) -> int:
        return self._tree(Kind.OR, xs, 0)

    def xor2(self, a: int, c: int) -> int:
        if self.xor_ok:
            return self.b.XOR(a, c)
        return self.or_([self.and_([a, self.not_(c)]), self.and_([self.not_(a), c])])

    def mux(self, s: int, one: int, zero: int) -> int:
        """s ? one : zero."""
        return self.or_([self.and_([s, one]), self.and_([self.not_(s), zero])])

    def full_adder(self, a: int, c: int, d: int) -> tuple[int, int]:
        p = self.xor2(a, c)
        return self.xor2(p, d), self.or_([self.and_([a, c]), self.and_([p, d])])

    def half_adder(self, a: int, c: int) -> tuple[int, int]:
        return self.xor2(a, c), self.and_([a, c])

    def add(self, xs: Sequence[int], ys: Sequence[int], width: int) -> tuple[list[int], int]:
        """Kogge-Stone adder: the low ``width`` bits of xs + ys, and the carry out of bit
        ``width - 1``. Depth O(log width), size O(width log width)."""
        zero = self.const(0)
        xs = (list(xs) + [zero] * width)[:width]
        ys = (list(ys) + [zero] * width)[:width]
        p = [self.xor2(a, c) for a, c in zip(xs, ys)]
        g = [self.and_([a, c]) for a, c in zip(xs, ys)]
        G, P = list(g), list(p)
        d = 1
        while d < width:
            G, P = ([G[i] if i < d else self.or_([G[i], self.and_([P[i], G[i - d]])])
                     for i in range(width)],
                    [P[i] if i < d else self.and_([P[i], P[i - d]]) for i in range(width)])
            d *= 2
        s = [p[0]] + [self.xor2(p[i], G[i - 1]) for i in range(1, width)]
        return s, G[width - 1]

    def compress(self, columns: list[list[int]], width: int) -> list[int]:
        """Sum of weighted bits (column j has weight 2^j), mod 2^width: Wallace tree of
        full and half adders down to two rows, then one fast adder."""
        cols = [list(c) for c in columns[:width]] + [[] for _ in range(width - len(columns))]
        while any(len(c) > 2 for c in cols):
            nxt: list[list[int]] = [[] for _ in range(width + 1)]
            for j, col in enumerate(cols):
                i = 0
                while len(col) - i >= 3:
                    s, c = self.full_adder(col[i], col[i + 1], col[i + 2])
                    nxt[j].append(s)
                    nxt[j + 1].append(c)
                    i += 3
                if len(col) - i == 2 and len(col) > 2:
                    s, c = self.half_adder(col[i], col[i + 1])
                    nxt[j].append(s)
                    nxt[j + 1].append(c)
                    i += 2
                nxt[j].extend(col[i:])
            cols = nxt[:width]  # bits of weight >= 2^width drop out (mod 2^width)
        zero = self.const(0)
        xs = [c[0] if c else zero for c in cols]
        ys = [c[1] if len(c) > 1 else zero for c in cols]
        return self.add(xs, ys, width)[0]

    def add_const_carry(self, xs: Sequence[int], c: int, width: int) -> tuple[list[int], int]:
        """xs + c mod 2^width, and the carry out."""
        bits = [self.const((c >> j) & 1) for j in range(width)]
        return self.add(xs, bits, width)

    def sub_if_ge(self, xs: list[int], m: int) -> list[int]:
        """x >= m ? x - m : x, for a constant m >= 1 (same width as xs)."""
        width = len(xs) + 1  # one spare bit so that 2^width - m fits
        t, ge = self.add_const_carry(xs, (1 << width) - m, width)  # carry out <=> x >= m
        return [self.mux(ge, t[j], xs[j]) for j in range(len(xs))]

    def mod_const(self, xs: list[int], m: int, out_width: int) -> list[int]:
        """x mod m by restoring reduction (conditional subtraction of m * 2^j, j falling).
        Assumes m < 2^out_width."""
        x = list(xs)
        top = (1 << len(x)) - 1
        j = 0
        while m << (j + 1) <= top:
            j += 1
        for jj in range(j, -1, -1):
            if m << jj <= top:
                x = self.sub_if_ge(x, m << jj)
        zero = self.const(0)
        return (x + [zero] * out_width)[:out_width]

    def less_than(self, a: Sequence[int], c: Sequence[int]) -> int:
        """[a < c] for equal-width unsigned numbers (LSB first)."""
        k = len(a)
        lt = [self.and_([self.not_(a[j]), c[j]]) for j in range(k)]
        if self.wide:  # constant depth: some bit j decides, all higher bits equal
            eq = [self.not_(self.xor2(a[j], c[j])) if self.xor_ok else
                  self.or_([self.and_([a[j], c[j]]),
                            self.and_([self.not_(a[j]), self.not_(c[j])])]) for j in range(k)]
            return self.or_([self.and_([lt[j]] + eq[j + 1:]) for j in range(k)])
        eq = [self.not_(self.xor2(a[j], c[j])) for j in range(k)]
        # Balanced tree from the top: (lt, eq) of hi then lo -> lt_hi | eq_hi & lt_lo.
        pairs = [(lt[j], eq[j]) for j in reversed(range(k))]
        while len(pairs) > 1:
            nxt = []
            for i in range(0, len(pairs) - 1, 2):
                (lh, eh), (ll, el) = pairs[i], pairs[i + 1]
                nxt.append((self.or_([lh, self.and_([eh, ll])]), self.and_([eh, el])))
            if len(pairs) % 2:
                nxt.append(pairs[-1])
            pairs = nxt
        return pairs[0][0] if pairs else self.const(0)


def _sum_bit_tc0(b: CircuitBuilder, terms: list[tuple[int, int]], bit: int, smax: int) -> int:
    """Bit ``bit`` of S = sum w*x over ``terms`` (w >= 0, S <= smax), in depth 2:
    t_q = [S >= q 2^bit], then [sum_q (-1)^(q+1) t_q >= 1] (the bit flips at each q 2^bit)."""
    step = 1 << bit
    ts, ws = [], []
    for q in range(1, smax // step + 1):
        ts.append(b.THR([x for x, _ in terms], [w for _, w in terms], q * step))
        ws.append(1 if q % 2 else -1)
    if not ts:
        return b.const(0)
    return b.THR(ts, ws, 1)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise CotsimInputError(message)


def _check_basis(basis: str, allowed: Sequence[str], family: str) -> None:
    _check(basis in allowed, f"{family}: basis must be one of {', '.join(allowed)}, not {basis!r}")


def _finish(b: CircuitBuilder) -> Circuit:
    """Build, then keep only the gates that some output needs (inputs always stay)."""
    c = b.build()
    _check(c.num_nodes <= MAX_GATES, f"circuit would have {c.num_nodes} nodes, over {MAX_GATES}")
    live = np.zeros(c.num_nodes, dtype=bool)
    live[:c.num_inputs] = True
    stack = [int(o) for o in c.output_ids]
    while stack:
        v = stack.pop()
        if not live[v]:
            live[v] = True
            stack.extend(int(f) for f in c.fanins(v))
    if live.all():
        return c
    nb = CircuitBuilder(strash=False, fold=False)
    new = {i: nb.input(name) for i, name in enumerate(c.input_names)}
    for v in range(c.num_inputs, c.num_nodes):
        if not live[v]:
            continue
        k = c.kind(v)
        if k in NULLARY:
            new[v] = nb.const(k == Kind.CONST1)
        elif k == Kind.THR:
            new[v] = nb.gate(k, [new[int(f)] for f in c.fanins(v)],
                             [int(w) for w in c.fanin_weights(v)], int(c.thresholds[v]))
        else:
            new[v] = nb.gate(k, [new[int(f)] for f in c.fanins(v)])
    for name, o in zip(c.output_names, c.output_ids):
        nb.output(name, new[int(o)])
    return nb.build()


def _bits_for(p: int) -> int:
    """Bits to write 0 .. p-1: max(1, ceil(log2 p))."""
    return max(1, (p - 1).bit_length())


def _number_inputs(b: CircuitBuilder, n: int, k: int, name: str = "x") -> list[list[int]]:
    return [[b.input(f"{name}{i}_{j}") for j in range(k)] for i in range(n)]


# -- parity ------------------------------------------------------------------------------
def parity(n: int, basis: str = "fanin2", group: int | None = None) -> Circuit:
    """x0 XOR ... XOR x{n-1}. Inputs ``x0 .. x{n-1}``; output ``parity``.

    - ``"xor"``: one XOR gate of fan-in n (size 1, depth 1).
    - ``"xor2"``: a balanced tree of 2-input XORs (size n-1, depth ceil(log2 n)).
    - ``"fanin2"``: that tree with each XOR as (a AND NOT b) OR (NOT a AND b)
      (size <= 5(n-1), depth <= 3 ceil(log2 n)).
    - ``"AC0"``: blocks of ``group`` signals (default max(2, ceil(log2 n))), each block's
      parity and its complement as DNFs of 2^(group-1) terms, recursively. Depth
      1 + 2 ceil(log_group n), size O(n 2^group / group): polynomial, but no constant
      depth does it in polynomial size (Furst-Saxe-Sipser, Hastad).
    - ``"TC0"``: t_m = [sum x >= m] for m = 1..n, then [t_1 - t_2 + t_3 - ... >= 1]
      (size n+1, depth 2).
    """
    _check(n >= 1, "parity: n must be at least 1")
    _check_basis(basis, ("fanin2", "xor2", "xor", "AC0", "TC0"), "parity")
    b = CircuitBuilder(strash=True, fold=True)
    xs = [b.input(f"x{i}") for i in range(n)]
    if basis == "xor":
        out = b.XOR(*xs)
    elif basis in ("xor2", "fanin2"):
        ops = _Ops(b, "general" if basis == "xor2" else "fanin2")
        layer = xs
        while len(layer) > 1:
            nxt = [ops.xor2(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
            layer = nxt + ([layer[-1]] if len(layer) % 2 else [])
        out = layer[0]
    elif basis == "TC0":
        out = _sum_bit_tc0(b, [(x, 1) for x in xs], 0, n)
    else:
        g = group if group is not None else max(2, math.ceil(math.log2(n)) if n > 1 else 2)
        _check(2 <= g <= 16, "parity: group must be between 2 and 16")
        pos, neg = xs, [b.NOT(x) for x in xs]
        while len(pos) > 1:
            last = len(pos) <= g  # the top block: its complement is not needed
            npos, nneg = [], []
            for s in range(0, len(pos), g):
                P, N = pos[s:s + g], neg[s:s + g]
                if len(P) == 1:
                    npos.append(P[0])
                    nneg.append(N[0])
                    continue
                odd, even = [], []
                for bits in itertools.product((0, 1), repeat=len(P)):
                    if last and sum(bits) % 2 == 0:
                        continue
                    term = b.AND(*[P[i] if v else N[i] for i, v in enumerate(bits)])
                    (odd if sum(bits) % 2 else even).append(term)
                npos.append(b.OR(*odd))
                nneg.append(b.OR(*even) if even else -1)
            pos, neg = npos, nneg
        out = pos[0]
    b.output("parity", out)
    return _finish(b)


# -- majority ----------------------------------------------------------------------------
def majority(n: int, basis: str = "TC0") -> Circuit:
    """[at least ceil(n/2) of x0 .. x{n-1} are 1] (so a tie, for even n, gives 1: the MAJ
    gate's rule; the paper's MAJORITY is strict, > n/2, and gives 0 on a tie). Inputs
    ``x0 .. x{n-1}``; output ``maj``.

    - ``"TC0"``: one MAJ gate (size 1, depth 1).
    - ``"fanin2"`` / ``"general"``: count the ones with a Wallace tree of full adders
      (O(n) gates, depth O(log n)), then compare the count with ceil(n/2) (O(log n) gates).
      Depth O(log n) in all; XOR is a primitive in ``"general"`` and expanded in ``"fanin2"``.
    """
    _check(n >= 1, "majority: n must be at least 1")
    _check_basis(basis, ("TC0", "fanin2", "general"), "majority")
    b = CircuitBuilder(strash=True, fold=True)
    xs = [b.input(f"x{i}") for i in range(n)]
    if basis == "TC0":
        out = b.MAJ(*xs)
    else:
        ops = _Ops(b, basis)
        width = n.bit_length()
        count = ops.compress([xs], width)
        half = [b.const(((n + 1) // 2 >> j) & 1) for j in range(width)]
        out = ops.not_(ops.less_than(count, half))
    b.output("maj", out)
    return _finish(b)


# -- iterated addition -------------------------------------------------------------------
def iterated_addition(n: int, k: int, basis: str = "general") -> Circuit:
    """x_0 + ... + x_{n-1} for n numbers of k bits. Inputs ``x{i}_{j}`` (bit j of number
    i, numbers in order, each LSB first); outputs ``s0 .. s{W-1}``, LSB first, with
    W = k + ceil(log2 n), which always holds the sum.

    - ``"general"`` / ``"fanin2"``: a Wallace tree of full adders (n k gates-ish) to two
      rows, then a Kogge-Stone adder. Size O(n k + W log W), depth O(log n + log W).
    - ``"TC0"``: bit b of the sum is bit b of S_b = sum_i sum_{j<=b} 2^j x_ij, and that is
      a depth-2 threshold circuit (``_sum_bit_tc0``): about 2n THR gates per output bit,
      fan-in n (b+1), weights up to 2^(k-1) (polynomial when k = O(log n)).
    """
    _check(n >= 1 and k >= 1, "iterated_addition: n and k must be at least 1")
    _check_basis(basis, ("general", "fanin2", "TC0"), "iterated_addition")
    width = k + math.ceil(math.log2(n))
    b = CircuitBuilder(strash=True, fold=True)
    xs = _number_inputs(b, n, k)
    if basis == "TC0":
        outs = []
        for bit in range(width):
            terms = [(xs[i][j], 1 << j) for i in range(n) for j in range(min(bit + 1, k))]
            outs.append(_sum_bit_tc0(b, terms, bit, sum(w for _, w in terms)))
    else:
        ops = _Ops(b, basis)
        cols = [[xs[i][j] for i in range(n)] for j in range(k)]
        outs = ops.compress(cols, width)
    for j, o in enumerate(outs):
        b.output(f"s{j}", o)
    return _finish(b)


# -- comparison --------------------------------------------------------------------------
def comparison(k: int, basis: str = "AC0") -> Circuit:
    """[a < b] for k-bit unsigned a and b (strictly less; a >= b is its negation).
    Inputs ``a0 .. a{k-1}`` then ``b0 .. b{k-1}``, LSB first; output ``lt``.

    - ``"AC0"``: OR over j of (NOT a_j AND b_j AND a_i == b_i for all i > j):
      O(k^2) wires, O(k) gates, depth 5.
    - ``"fanin2"``: a balanced tree of (lt, eq) pairs from the top bit: O(k) gates,
      depth O(log k).
    - ``"TC0"``: one THR gate, sum_j 2^j (b_j - a_j) >= 1, with weights up to 2^(k-1).
    """
    _check(k >= 1, "comparison: k must be at least 1")
    _check_basis(basis, ("AC0", "fanin2", "TC0"), "comparison")
    b = CircuitBuilder(strash=True, fold=True)
    a = [b.input(f"a{j}") for j in range(k)]
    c = [b.input(f"b{j}") for j in range(k)]
    if basis == "TC0":
        out = b.THR(a + c, [-(1 << j) for j in range(k)] + [1 << j for j in range(k)], 1)
    else:
        out = _Ops(b, basis).less_than(a, c)
    b.output("lt", out)
    return _finish(b)


# -- addition mod p ----------------------------------------------------------------------
def addition_mod_p(n: int, p: int, basis: str = "general") -> Circuit:
    """(x_0 + ... + x_{n-1}) mod p. Each x_i has w = max(1, ceil(log2 p)) bits; inputs
    ``x{i}_{j}`` (bit j of x_i, LSB first); outputs ``s0 .. s{w-1}``, LSB first, always
    < p. An input pattern >= p is read as the integer it writes (so it counts as itself
    mod p): the circuit computes a total function.

    Each input is first reduced (one conditional subtraction of p), then a balanced tree
    of n-1 modular adders, each an adder plus a conditional subtraction of p.
    Size O(n w log w), depth O(log n log w). XOR is a primitive in ``"general"``.
    """
    _check(n >= 1, "addition_mod_p: n must be at least 1")
    _check(p >= 2, "addition_mod_p: p must be at least 2")
    _check_basis(basis, ("general", "fanin2"), "addition_mod_p")
    w = _bits_for(p)
    b = CircuitBuilder(strash=True, fold=True)
    ops = _Ops(b, basis)
    xs = _number_inputs(b, n, w)
    zero = b.const(0)
    if (1 << w) == p:
        layer = xs  # every w-bit pattern is already < p
    else:
        layer = [ops.sub_if_ge(x + [zero], p)[:w] for x in xs]
    while len(layer) > 1:
        nxt = []
        for i in range(0, len(layer) - 1, 2):
            s, carry = ops.add(layer[i], layer[i + 1], w)
            nxt.append(ops.sub_if_ge(s + [carry], p)[:w])  # s < 2p, so once is enough
        layer = nxt + ([layer[-1]] if len(layer) % 2 else [])
    for j, o in enumerate(layer[0]):
        b.output(f"s{j}", o)
    return _finish(b)


# -- the S5 word problem -----------------------------------------------------------------
def s5_word_problem(n: int, basis: str = "AC0") -> Circuit:
    """The product of n permutations of {0..4}, as the S5 automaton of DESIGN.md reads
    them: from the start 01234, reading g maps the state q to x -> g[q[x]]. So the output
    is x -> g_{n-1}[ ... g_1[g_0[x]] ... ].

    Encoding (one-line notation): permutation g_i is its images g_i[0..4], 3 bits each,
    LSB first. Inputs ``g{i}_{x}_{b}`` = bit b of g_i[x], in the order i, x, b. Outputs
    ``q{x}_{b}`` = bit b of the final state's image of x. The inputs must be permutations;
    on other bit patterns the output is not specified.

    A balanced tree of n-1 compositions; each is a 5-way multiplexer per image bit,
    R[L[x]]_b = OR_y (L[x] == y AND R[y]_b): 15 NOT, 75 AND (fan-in 4), 15 OR (fan-in 5).
    Size about 105 (n-1), depth 3 ceil(log2 n) in ``"AC0"``; ``"fanin2"`` splits the wide
    gates (depth about 6 ceil(log2 n)). Barrington: this problem is NC1-complete.
    """
    _check(n >= 1, "s5_word_problem: n must be at least 1")
    _check_basis(basis, ("AC0", "fanin2"), "s5_word_problem")
    b = CircuitBuilder(strash=True, fold=True)
    ops = _Ops(b, basis)
    perms = [[[b.input(f"g{i}_{x}_{bit}") for bit in range(3)] for x in range(5)]
             for i in range(n)]

    def compose(L: list[list[int]], R: list[list[int]]) -> list[list[int]]:
        out = []
        for x in range(5):
            neg = [ops.not_(v) for v in L[x]]
            lits = [[L[x][bit] if (y >> bit) & 1 else neg[bit] for bit in range(3)]
                    for y in range(5)]
            out.append([ops.or_([ops.and_(lits[y] + [R[y][bit]]) for y in range(5)])
                        for bit in range(3)])
        return out

    layer = perms
    while len(layer) > 1:  # earlier (left) factor first: the state is read left to right
        nxt = [compose(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        layer = nxt + ([layer[-1]] if len(layer) % 2 else [])
    for x in range(5):
        for bit in range(3):
            b.output(f"q{x}_{bit}", layer[0][x][bit])
    return _finish(b)


def permutation_bits(perm: Sequence[int]) -> list[int]:
    """The 15 input bits of one permutation in ``s5_word_problem``'s encoding."""
    _check(sorted(perm) == list(range(5)), f"not a permutation of 0..4: {list(perm)}")
    return [(v >> bit) & 1 for v in perm for bit in range(3)]


# -- iterated squaring -------------------------------------------------------------------
def iterated_squaring(k: int, p: int, r_bits: int | None = None,
                      basis: str = "general") -> Circuit:
    """r^(2^k) mod p, by k modular squarings in a row. Inputs ``r0 .. r{r_bits-1}``
    (default r_bits = w = max(1, ceil(log2 p))), LSB first, any value (it is reduced mod p
    first); outputs ``y0 .. y{w-1}``, LSB first.

    Each squaring multiplies (w^2/2 partial products, Wallace tree, fast adder) and reduces
    the 2w-bit square mod p by w+1 conditional subtractions of p 2^j. Size
    O(k w^2 log w), depth O(k w log w). The depth grows with k in this construction only:
    for a fixed p and the default r_bits the input has w bits, and a lookup table of
    constant depth gives the same answer. For iterated squaring the paper relies on a
    cryptographic assumption (that it is inherently serial, as in Rivest-Shamir-Wagner
    time-lock puzzles), which a fixed p does not meet.
    """
    _check(k >= 0, "iterated_squaring: k must be at least 0")
    _check(p >= 2, "iterated_squaring: p must be at least 2")
    _check_basis(basis, ("general", "fanin2"), "iterated_squaring")
    w = _bits_for(p)
    rb = w if r_bits is None else r_bits
    _check(rb >= 1, "iterated_squaring: r_bits must be at least 1")
    b = CircuitBuilder(strash=True, fold=True)
    ops = _Ops(b, basis)
    x = ops.mod_const([b.input(f"r{j}") for j in range(rb)], p, w)
    for _ in range(k):
        cols: list[list[int]] = [[] for _ in range(2 * w)]
        for i in range(w):
            cols[2 * i].append(x[i])  # x_i x_i = x_i
            for j in range(i + 1, w):
                cols[i + j + 1].append(ops.and_([x[i], x[j]]))  # 2 x_i x_j
        x = ops.mod_const(ops.compress(cols, 2 * w), p, w)
    for j, o in enumerate(x):
        b.output(f"y{j}", o)
    return _finish(b)


# -- random circuits: circuit value problem instances ------------------------------------
_RANDOM_KINDS = {
    "fanin2": (Kind.AND, Kind.OR, Kind.NOT),
    "AC0": (Kind.AND, Kind.OR, Kind.NOT),
    "TC0": (Kind.AND, Kind.OR, Kind.NOT, Kind.MAJ, Kind.THR),
    "general": (Kind.AND, Kind.OR, Kind.NOT, Kind.NAND, Kind.NOR, Kind.XOR, Kind.XNOR,
                Kind.MAJ, Kind.THR),
}


def random_circuit(num_inputs: int, size: int, max_fanin: int = 2, depth: int | None = None,
                   basis: str = "fanin2", seed: int = 0,
                   num_outputs: int | None = None) -> Circuit:
    """A random circuit with exactly ``size`` gates: a circuit value problem instance.

    Inputs ``x0 .. x{num_inputs-1}``. Gate kinds are drawn uniformly from the basis
    (``"fanin2"``/``"AC0"``: AND/OR/NOT; ``"TC0"`` adds MAJ and THR with weights in
    -3..3; ``"general"`` adds NAND/NOR/XOR/XNOR), fan-ins from 2..max_fanin (1 for NOT),
    distinct where there are enough earlier nodes. With ``depth`` = d (1 <= d <= size),
    the gates get levels 1..d (one gate on each level at least), every gate takes one
    fan-in from the level just below it, and the circuit's depth is exactly d. Outputs
    ``y0 ..`` are the sinks (gates no gate reads), in order, so the deepest gates are
    among them; ``num_outputs`` keeps only the last ones.

    Built as drawn (no hashing, no folding), so that the size is exactly ``size``.
    Deterministic for a given ``seed``.
    """
    _check_basis(basis, tuple(_RANDOM_KINDS), "random_circuit")
    _check(num_inputs >= 1, "random_circuit: num_inputs must be at least 1")
    _check(0 <= size <= MAX_GATES, f"random_circuit: size must be in 0..{MAX_GATES}")
    _check(max_fanin >= 1, "random_circuit: max_fanin must be at least 1")
    _check(basis != "fanin2" or max_fanin <= 2, "random_circuit: fanin2 needs max_fanin <= 2")
    _check(depth is None or 1 <= depth <= size, "random_circuit: depth must be in 1..size")
    _check(num_outputs is None or num_outputs >= 1, "random_circuit: num_outputs must be >= 1")
    rng = np.random.default_rng(seed)
    kinds = _RANDOM_KINDS[basis]
    b = CircuitBuilder(strash=False, fold=False)
    nodes = b.inputs([f"x{i}" for i in range(num_inputs)])
    level = [0] * num_inputs
    if depth is not None and size:
        lv = np.concatenate([np.arange(1, depth + 1), rng.integers(1, depth + 1, size - depth)])
        targets = np.sort(lv).tolist()
    else:
        targets = [None] * size
    by_level: dict[int, list[int]] = {0: list(nodes)}
    below: dict[int, int] = {}  # level t -> how many nodes have a level < t (a prefix)
    read = set()
    for t in targets:
        kind = kinds[int(rng.integers(len(kinds)))]
        arity = 1 if kind == Kind.NOT else int(rng.integers(min(2, max_fanin), max_fanin + 1))
        if t is None:
            ins = _distinct(rng, len(nodes), arity, None)
        else:
            below.setdefault(t, len(nodes))
            first = int(rng.choice(by_level[t - 1]))
            ins = [first] + _distinct(rng, below[t], arity - 1, first)
        if kind == Kind.THR:
            ws = rng.integers(-3, 4, len(ins)).tolist()
            lo = sum(w for w in ws if w < 0)
            hi = sum(w for w in ws if w > 0)
            node = b.THR(ins, ws, int(rng.integers(lo, hi + 2)))
        else:
            node = b.gate(kind, ins)
        read.update(ins)
        lvl = 1 + max(level[v] for v in ins)
        level.append(lvl)
        by_level.setdefault(lvl, []).append(node)
        nodes.append(node)
    sinks = [v for v in range(num_inputs, len(nodes)) if v not in read] or [nodes[-1]]
    if num_outputs is not None:
        sinks = sinks[-num_outputs:]
    for i, v in enumerate(sinks):
        b.output(f"y{i}", v)
    return b.build()


def _distinct(rng: np.random.Generator, n: int, count: int, skip: int | None) -> list[int]:
    """Up to ``count`` distinct draws from 0..n-1 other than ``skip``, in draw order."""
    avail = n - (skip is not None and 0 <= skip < n)
    count = min(count, avail)
    got: list[int] = []
    while len(got) < count:
        v = int(rng.integers(n))
        if v != skip and v not in got:
            got.append(v)
    return got


#: name -> generator, for the CLI and the demo.
FAMILIES: dict[str, Callable[..., Circuit]] = {
    "parity": parity,
    "majority": majority,
    "iterated_addition": iterated_addition,
    "comparison": comparison,
    "addition_mod_p": addition_mod_p,
    "s5_word_problem": s5_word_problem,
    "iterated_squaring": iterated_squaring,
    "random_circuit": random_circuit,
}

__all__ = ["FAMILIES", "parity", "majority", "iterated_addition", "comparison",
           "addition_mod_p", "s5_word_problem", "permutation_bits", "iterated_squaring",
           "random_circuit"]
