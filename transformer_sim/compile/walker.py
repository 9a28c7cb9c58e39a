"""The forward pass, walked once at compile time over bundles instead of numbers.

It follows DESIGN.md's "Exact evaluation order" step by step (the same order as
``transformer_sim.forward``), with every number replaced by a bundle of bits:

1. h_i = [TE[x_i] + PE[i]]: a table of the token bits at position i.
2. Per layer and head: q, k, v are inner products with constant weights: each product
   [W[r, c] h[c]] is a one-operand expression, fused into the sum's tables. Scores
   s_ij = sum_c [q_i[c] k_j[c]] fuse the two-operand products. e_ij = [exp(s_ij)] is fused
   into Z_i = sum_j e_ij; a_ij = [[exp(s_ij)] / Z_i] is one table of (s_ij, Z_i);
   o_i = sum_j [a_ij v_j]; u_i = Wo (x) o_i; attn_i = sum over heads; h_i <- [h_i + attn_i].
   A stable-softmax model first takes the row maximum m_i and sums [exp([s_ij - m_i])]
   instead (``softmax_max.stable_row``).
3. MLP: z = W1 (x) h; r = [max([z + b1], 0)] (one table); m = W2 (x) r;
   h <- [h + [m + b2]] (one table of (h, m)).
4. Logits [Wout (x) h + bout] at the last position, fused into the comparisons of the
   argmax, whose lowest-id tie rule is built in.

Sums over the n positions (Z_i and o_i) use the sum mode's construction: the exact
adder, or the iterative construction ``ctx.iterative`` names (``tree``, ``tc0``, ``ac0``);
sums over dimensions and heads (a constant number of terms) use the exact threshold sum
in exact mode and the plain chain in iterative mode. In the last layer only position
n-1 goes past the softmax sums: the other positions' Z_i still count, for the
``undefined`` bit, which is the OR of [Z_i = 0] over every layer, head and position.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..model import Model
from .bundles import Bundle, Expr, Term, as_expr
from .context import Ctx
from .fixed_arith import allowed, fixed_add, fixed_ge, fixed_mul, fixed_softmax
from .sums import chain_sum, exact_sum, tree_sum
from .softmax_max import stable_row, z_floor
from .tables import literals, table, table_bits


#: a two-operand operation on values of at most this many positions stays a table
#: under arith="auto" (layer 0's scores: q_i k_j); others are arithmetic
LOCAL_TOKENS = 2


def iterative_sum(construction: str):
    """The iterative sum over positions of a construction (``budget.ITERATIVE``)."""
    if construction == "tc0":
        from .sums_tc0 import tc0_sum
        return tc0_sum
    if construction == "ac0":
        from .sums_ac0 import ac0_sum
        return ac0_sum
    return tree_sum


def token_bits(vocab: int) -> int:
    """Bits per token id: max(1, ceil(log2 V))."""
    return max(1, int(vocab - 1).bit_length())


def token_bundle(bits: Sequence[int], vocab: int) -> Bundle:
    ids = np.arange(vocab)
    return Bundle(tuple(bits), ids.astype(np.float64), ids)


class Walker:
    """Builds one forward pass (one prompt length) into ``ctx``'s builder."""

    def __init__(self, ctx: Ctx, model: Model, sum_mode: str, bar=None):
        self.ctx = ctx
        self.bar = bar  # a transformer_sim.progress bar, advanced once per (head, position)
        self.model = model
        self.fmt = model.fmt
        self.exact = sum_mode == "exact"
        self._iterative = iterative_sum(ctx.iterative)
        # Values of earlier positions, kept across runs (a CoT chain runs once per step,
        # appending one token): by causality, what position i computes depends on tokens
        # 0..i only, so it is valid while the tokens extend the ones it was built on.
        self._memo: dict[tuple, object] = {}
        self._prefix: list[Bundle] = []
        # the token positions a value is a function of (absent: unknown, many), and the
        # values it is recorded for (kept alive, so that their ids stay theirs)
        self.support: dict[int, frozenset[int]] = {}
        self._held: list[Bundle] = []

    # -- token support: which positions a value depends on ------------------------------
    def tokens_of(self, operands: Sequence[Bundle]) -> frozenset[int] | None:
        """The positions the operands depend on together (None: unknown)."""
        out: frozenset[int] = frozenset()
        for op in operands:
            if op.is_const:
                continue
            sup = self.support.get(id(op))
            if sup is None:
                return None
            out |= sup
        return out

    def mark(self, out: Bundle, sup: frozenset[int] | None) -> Bundle:
        if sup is not None and not out.is_const and id(out) not in self.support:
            self.support[id(out)] = sup
            self._held.append(out)
        return out

    def local(self, terms: Sequence[Term]) -> bool:
        """Whether the terms depend on at most ``LOCAL_TOKENS`` positions together: a
        table over them then has at most V^(2 LOCAL_TOKENS) rows, whatever n and s."""
        sup = self.tokens_of([op for t in terms for op in as_expr(t).operands])
        return sup is not None and len(sup) <= LOCAL_TOKENS

    def arith(self, terms: Sequence[Term]) -> bool:
        """Whether an operation on ``terms`` takes the arithmetic route
        (``fixed_arith.allowed``; "auto": when they are not local)."""
        return allowed(self.ctx, [op for t in terms for op in as_expr(t).operands],
                       self.local(terms))

    def _keep_memo(self, tokens: Sequence[Bundle]) -> None:
        """Clear the memo unless ``tokens`` extend (by identity) the last run's tokens."""
        p = self._prefix
        if len(tokens) < len(p) or any(a is not b for a, b in zip(p, tokens)):
            self._memo.clear()
        self._prefix = list(tokens)

    def _memo_of(self, key: tuple, make):
        """The memo's value for ``key``, made (and kept) on the first call."""
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = make()
        return hit

    # -- the gate-building steps (``dry.DryWalker`` counts them instead) ---------------
    def table(self, term: Term) -> Bundle:
        return self.mark(table(self.ctx, term), self.tokens_of(as_expr(term).operands))

    def table_bits(self, operands: Sequence[Bundle], matrix: np.ndarray) -> list[int]:
        return table_bits(self.ctx, operands, matrix)

    def zero_node(self, Z: Bundle) -> int | None:
        """[Z = 0] (None when 0 is not in Z's domain)."""
        zero = np.flatnonzero(Z.values == 0.0)
        if not len(zero):
            return None
        lits = literals(self.ctx, Z)[int(zero[0])]
        return self.ctx.b.AND(*lits) if lits else self.ctx.b.const(1)

    # -- two-operand operations: a table, or arithmetic on the bits (``fixed_arith``) --
    def product(self, x: Bundle, y: Bundle) -> Term:
        """[x y]: a bundle by arithmetic where that is smaller than its table, else the
        expression (its consumer fuses it into its own table)."""
        if self.arith((x, y)):
            return self.mark(fixed_mul(self.ctx, x, y), self.tokens_of((x, y)))
        fmt = self.fmt
        return Expr(lambda a, b: fmt.mul(a, b), (x, y))

    def add2(self, x: Bundle, y: Bundle) -> Bundle:
        """[x + y]: arithmetic where that is smaller than its table."""
        if self.arith((x, y)):
            return self.mark(fixed_add(self.ctx, x, y), self.tokens_of((x, y)))
        fmt = self.fmt
        return self.table(Expr(lambda a, b: fmt.add(a, b), (x, y)))

    def softmax_weights(self, s: list[Bundle], Z: Bundle, i: int) -> list[Bundle]:
        """a_ij = [[exp(s_ij)] / Z_i] for j <= i: one table of (s_ij, Z_i) each, or by
        thresholds on the terms e_ik = [exp(s_ik)] of Z_i (``fixed_softmax``), which
        read Z_i = min(B, sum_k e_ik) through its terms: the same gates whether or not
        Z_i folds to a constant (it saturates at B on every prompt at some n and not at
        others), so the route, the depth and a's support are the same at every n."""
        sup = self.tokens_of(s)
        sup = None if sup is None else sup | frozenset(range(i + 1))
        ctx = self.ctx
        if ctx.arith != "tables" and ctx.fmt.is_fixed_point and not all(
                x.is_const for x in s) and (
                ctx.arith == "always" or sup is None or len(sup) > LOCAL_TOKENS):
            e = [self.table(Expr(self.fmt.exp, (sj,))) for sj in s]
            return [self.mark(fixed_softmax(ctx, j, e, Z), sup) for j in range(len(e))]
        return [self.mark(self.table(Expr(self._softmax_entry, (sj, Z))), sup) for sj in s]

    # -- sums -----------------------------------------------------------------------
    def dims_sum(self, terms: Sequence[Term]) -> Bundle:
        out = exact_sum(self.ctx, terms) if self.exact else chain_sum(
            self.ctx, terms, self.table, arith=self.arith(terms))
        return self.mark(out, self.tokens_of([op for t in terms for op in as_expr(t).operands]))

    def pos_sum(self, terms: Sequence[Term]) -> Bundle:
        """A sum over positions: by the exact adder, or by the iterative construction
        ``ctx.iterative`` names (``tree``, ``tc0`` or ``ac0``)."""
        out = exact_sum(self.ctx, terms) if self.exact else self._iterative(self.ctx, terms)
        return self.mark(out, self.tokens_of([op for t in terms for op in as_expr(t).operands]))

    def dot(self, w: np.ndarray, xs: Sequence[Bundle]) -> Bundle:
        """sum_c [w[c] * x[c]] with constant weights. Zero weights are skipped, as in
        ``forward._matvec``: paper formats have no -0, inf or NaN, so an exact zero term
        changes no partial sum (and its table would fold away); skipping it saves the
        Python work of enumerating it (most weights of a construction are 0)."""
        fmt = self.fmt
        return self.dims_sum([Expr(lambda x, c=float(c): fmt.mul(c, x), (x,))
                              for c, x in zip(w.tolist(), xs) if c != 0.0])

    def matvec(self, W: np.ndarray, xs: Sequence[Bundle]) -> list[Bundle]:
        return [self.dot(row, xs) for row in W]

    # -- the pass ---------------------------------------------------------------------
    def run(self, tokens: Sequence[Bundle]) -> tuple[list[int], int]:
        """Returns the raw next-token bits (LSB first) and the ``undefined`` node."""
        ctx, fmt, model = self.ctx, self.fmt, self.model
        n = len(tokens)
        self._keep_memo(tokens)
        for i, tok in enumerate(tokens):
            self.mark(tok, frozenset([i]))
        with ctx.tag("embed"):
            h = [list(self._memo_of(("h", 0, i), lambda i=i, tok=tok: tuple(
                self.table(Expr(lambda t, i=i, c=c: fmt.add(model.TE[t.astype(np.int64), c],
                                                            model.PE[i, c]), (tok,)))
                for c in range(model.d_model)))) for i, tok in enumerate(tokens)]
        zeros: list[int] = []
        L = model.n_layers
        for l, layer in enumerate(model.layers):
            out_pos = [n - 1] if l == L - 1 else list(range(n))
            U = []
            for hd in range(model.heads):
                U.append(self.head(l, hd, layer, h, out_pos, zeros))
            for i in out_pos:
                key = ("h", l + 1, i)
                if l < L - 1 and key in self._memo:
                    h[i] = list(self._memo[key])
                    continue
                with ctx.tag(f"layer{l}/attn/out"):
                    for r in range(model.d_model):
                        attn = self.dims_sum([U[hd][i][r] for hd in range(model.heads)])
                        h[i][r] = self.add2(h[i][r], attn)
                with ctx.tag(f"layer{l}/mlp"):
                    h[i] = self.mlp(layer, h[i])
                if l < L - 1:
                    self._memo[key] = tuple(h[i])
        with ctx.tag("readout"):
            sums = self.matvec(model.Wout, h[n - 1])
        with ctx.tag("argmax"):
            return self.argmax(sums), (ctx.b.OR(*zeros) if zeros else ctx.b.const(0))

    def head(self, l: int, hd: int, layer, h, out_pos: list[int], zeros: list[int]):
        ctx, fmt = self.ctx, self.fmt
        n = len(h)
        pre = f"layer{l}/attn/head{hd}"
        memo = self._memo_of
        last = l == self.model.n_layers - 1
        with ctx.tag(f"{pre}/qkv"):
            Q = [memo(("q", l, hd, i), lambda i=i: self.matvec(layer.Wq[hd], h[i]))
                 for i in range(n)]
            K = [memo(("k", l, hd, i), lambda i=i: self.matvec(layer.Wk[hd], h[i]))
                 for i in range(n)]
            V = [memo(("v", l, hd, i), lambda i=i: self.matvec(layer.Wv[hd], h[i]))
                 for i in range(max(out_pos) + 1)]
        U = {}
        stable = self.model.softmax == "stable"
        for i in range(n):
            if self.bar is not None:
                self.bar.update(1)
            if stable and i not in out_pos and z_floor(fmt) > 0:
                continue  # Z_i >= [exp(0)] > 0: this row feeds nothing (softmax_max)
            weights = stable and i in out_pos  # stable_row builds the a_ij with Z_i
            s, Z, zero_node, a = memo(
                ("sz", l, hd, i, weights),
                lambda i=i, w=weights: self._scores(pre, Q[i], K[:i + 1], w))
            if zero_node is not None:
                zeros.append(zero_node)
            if i not in out_pos:
                continue
            if not last and ("u", l, hd, i) in self._memo:
                U[i] = self._memo[("u", l, hd, i)]
                continue
            if a is None:
                with ctx.tag(f"{pre}/softmax"):
                    a = self.softmax_weights(s, Z, i)
            with ctx.tag(f"{pre}/mix"):
                o = [self.pos_sum([self.product(a[j], V[j][c]) for j in range(i + 1)])
                     for c in range(len(V[0]))]
            with ctx.tag(f"layer{l}/attn/out"):
                U[i] = self.matvec(layer.Wo[hd], o)
            if not last:
                self._memo[("u", l, hd, i)] = U[i]
        return U

    def _scores(self, pre: str, q: list[Bundle], K: list[list[Bundle]], weights: bool):
        """Position i's scores s_ij (j <= i), Z_i, the node [Z_i = 0] (None when Z_i
        cannot be 0), and for the stable softmax with ``weights`` the a_ij (else None:
        the caller builds the paper's a_ij from s and Z)."""
        ctx, fmt = self.ctx, self.fmt
        with ctx.tag(f"{pre}/score"):
            s = [self.dims_sum([self.product(q[c], k[c]) for c in range(len(q))])
                 for k in K]
        with ctx.tag(f"{pre}/softmax"):
            a = None
            if self.model.softmax == "stable":
                Z, a = stable_row(ctx, s, self.pos_sum, weights)
                a = a if weights else None
            else:
                Z = self.pos_sum([Expr(fmt.exp, (sj,)) for sj in s])
            node = self.zero_node(Z)
        return s, Z, node, a

    def _softmax_entry(self, s: np.ndarray, z: np.ndarray) -> np.ndarray:
        """[[exp(s)] / Z]; 0 where Z = 0 (the pass is undefined there anyway)."""
        fmt = self.fmt
        e = fmt.exp(s)
        q = fmt.div(e, np.where(z == 0.0, 1.0, z))
        return np.where(z == 0.0, 0.0, q)

    def mlp(self, layer, h: list[Bundle]) -> list[Bundle]:
        fmt = self.fmt
        z = self.matvec(layer.W1, h)
        r = [self.table(Expr(lambda x, b=float(b): fmt.relu(fmt.add(x, b)), (zr,)))
             for zr, b in zip(z, layer.b1.tolist())]
        m = self.matvec(layer.W2, r)
        out = []
        for hc, mc, b in zip(h, m, layer.b2.tolist()):
            if self.arith((hc, mc)):  # [h + [m + b2]]: [m + b2] by a table
                out.append(self.add2(hc, self.table(Expr(lambda y, b=b: fmt.add(y, b),
                                                         (mc,)))))
            else:
                out.append(self.table(Expr(lambda x, y, b=b: fmt.add(x, fmt.add(y, b)),
                                           (hc, mc))))
        return out

    def argmax(self, sums: list[Bundle]) -> list[int]:
        """Bits of the first index of the greatest logit [sums[v] + bout[v]]."""
        fmt, b = self.fmt, self.ctx.b
        bout = self.model.bout.tolist()
        V = len(sums)
        ge: dict[tuple[int, int], int] = {}  # (u, v) -> [l_u >= l_v]
        for u in range(V):
            for v in range(u + 1, V):
                ops = (sums[u], sums[v])
                if self.arith(ops):  # the logits by tables, then one THR
                    lu, lv = (self.table(Expr(lambda x, c=c: fmt.add(x, c), (op,)))
                              for op, c in ((ops[0], bout[u]), (ops[1], bout[v])))
                    ge[u, v] = fixed_ge(self.ctx, lu, lv)
                    ge[v, u] = b.NOT(ge[u, v])
                    continue
                lu = fmt.add(ops[0].values, bout[u])
                lv = fmt.add(ops[1].values, bout[v])
                rows = np.indices((len(lu), len(lv))).reshape(2, -1)
                x, y = lu[rows[0]], lv[rows[1]]
                ge_uv, lt_uv = self.table_bits(ops, np.stack([x >= y, x < y], axis=1))
                ge[u, v], ge[v, u] = ge_uv, lt_uv  # [l_v > l_u] = [l_u < l_v]
        wins = []
        for v in range(V):
            # v wins: strictly above every lower id, at least every higher id
            conds = [ge[v, u] for u in range(V) if u != v]
            wins.append(b.AND(*conds) if conds else b.const(1))
        out = []
        for j in range(token_bits(V)):
            hits = [wins[v] for v in range(V) if (v >> j) & 1]
            out.append(b.OR(*hits) if hits else b.const(0))
        return out
