"""A plain-Python forward pass for both softmaxes, for the compiler's stable-softmax tests.

DESIGN.md's "Exact evaluation order" written out as loops over scalars, one rounding per
operation through ``FloatFormat``'s scalar operations (add, sub, mul, div, exp; ``sum``
for exact sums). It shares no code with the Numba kernels of ``transformer_sim.forward``
nor with the compiler's walker, and it is held against ``forward.next_token`` on paper-
softmax models (tests/test_compile_stable.py), so that its order is checked too.
"""
from __future__ import annotations

import numpy as np

from transformer_sim.model import Model


class Undefined(Exception):
    """Some Z_i = 0."""


def next_token(model: Model, tokens) -> int:
    """The argmax of the last position's logits (lowest id on ties); raises Undefined."""
    F = model.fmt

    def r1(op, *xs) -> float:
        return float(op(*[np.array([x]) for x in xs])[0])

    def add(a, b):
        return r1(F.add, a, b)

    def mul(a, b):
        return r1(F.mul, a, b)

    def S(terms: list[float]) -> float:
        if model.sum_mode == "exact":
            return float(F.sum(np.array(terms), "exact"))
        acc = terms[0]
        for t in terms[1:]:
            acc = add(acc, t)
        return acc

    def matvec(W, x):
        return [S([mul(W[r][c], x[c]) for c in range(len(x))]) for r in range(len(W))]

    toks = [int(t) for t in tokens]
    n, d = len(toks), model.d_model
    h = [[add(model.TE[t][c], model.PE[i][c]) for c in range(d)] for i, t in enumerate(toks)]
    for layer in model.layers:
        attn = [[[] for _ in range(d)] for _ in range(n)]
        for hd in range(model.heads):
            q = [matvec(layer.Wq[hd], h[i]) for i in range(n)]
            k = [matvec(layer.Wk[hd], h[i]) for i in range(n)]
            v = [matvec(layer.Wv[hd], h[i]) for i in range(n)]
            for i in range(n):
                s = [S([mul(q[i][c], k[j][c]) for c in range(len(q[i]))])
                     for j in range(i + 1)]
                if model.softmax == "stable":
                    m = max(s)
                    e = [r1(F.exp, r1(F.sub, sj, m)) for sj in s]
                else:
                    e = [r1(F.exp, sj) for sj in s]
                Z = S(e)
                if Z == 0.0:
                    raise Undefined
                a = [r1(F.div, ej, Z) for ej in e]
                o = [S([mul(a[j], v[j][c]) for j in range(i + 1)]) for c in range(len(v[0]))]
                u = matvec(layer.Wo[hd], o)
                for r in range(d):
                    attn[i][r].append(u[r])
        for i in range(n):
            h[i] = [add(h[i][r], S(attn[i][r])) for r in range(d)]
            z = [add(x, b) for x, b in zip(matvec(layer.W1, h[i]), layer.b1)]
            rr = [max(x, 0.0) for x in z]
            mm = [add(x, b) for x, b in zip(matvec(layer.W2, rr), layer.b2)]
            h[i] = [add(h[i][r], mm[r]) for r in range(d)]
    logits = [add(x, b) for x, b in zip(matvec(model.Wout, h[n - 1]), model.bout)]
    return int(np.argmax(logits))


def tokens_or_undefined(model: Model, prompts) -> np.ndarray:
    """Per prompt, the next token, or -1 where the pass is undefined."""
    out = []
    for p in prompts:
        try:
            out.append(next_token(model, p))
        except Undefined:
            out.append(-1)
    return np.array(out, dtype=np.int64)
