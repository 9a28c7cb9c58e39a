"""Two independent oracles of the forward pass, and the test models they run on.

- `exact_reference`: DESIGN.md's evaluation order re-implemented in plain Python with
  exact rational arithmetic (fractions.Fraction), rounded once per operation through
  `FloatFormat.round` (via round-to-odd float64, so there is no double rounding). It
  shares no code with the Numba kernels.
- `numpy_reference`: the textbook transformer in vectorised float64 NumPy.
- `make_model`: random test models, drawn independently of transformer_sim.random_model;
  `undefined_at_position_one`: a model whose pass is undefined from position 1 on;
  `undefined_model`: one undefined exactly on the prompts that start with 1.
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np

from transformer_sim.floatformat import FloatFormat
from transformer_sim.model import Layer, Model

FORMATS = ["float64", "paper:e=0,s=2", "paper:e=1,s=2", "float16", "bfloat16", "e5m2",
           "float8_e4m3fn", "float6_e2m3fn", "float4_e2m1fn"]
SUMS = ["iterative", "exact"]


# --- test models: drawn here, independently of transformer_sim.random_model ------------
def make_model(fmt: str, sum_mode: str, seed: int, V=5, L=2, H=2, d=6, k=3, f=5, N=12,
               qk=1.0, scale=1.0, softmax="paper") -> Model:
    """Normal weights of std ``scale`` / sqrt(fan-in) (``qk`` times that for Wq, Wk),
    rounded to the format."""
    F = FloatFormat.parse(fmt)
    rng = np.random.default_rng(seed)

    def w(shape, fan_in=1, gain=1.0):
        return F.round(rng.standard_normal(shape) * scale * gain / math.sqrt(fan_in))

    layers = tuple(Layer(Wq=w((H, k, d), d, qk), Wk=w((H, k, d), d, qk), Wv=w((H, k, d), d),
                         Wo=w((H, d, k), k * H), W1=w((f, d), d), b1=w((f,), 4),
                         W2=w((d, f), f), b2=w((d,), 4)) for _ in range(L))
    return Model(fmt=F, sum_mode=sum_mode, softmax=softmax, TE=w((V, d)), PE=w((N, d), 2),
                 Wout=w((V, d), d), bout=w((V,), 4), layers=layers)


def undefined_at_position_one() -> Model:
    """h_i = (1, [i >= 1]); k = 1 everywhere; q_i = -3.75 [i >= 1]. Position 0 scores 0,
    position 1 scores -3.75 against both keys, and [exp(-3.75)] = 0 in paper:e=1,s=2."""
    F = FloatFormat.parse("paper:e=1,s=2")
    layer = Layer(Wq=np.array([[[0.0, -3.75]]]), Wk=np.array([[[1.0, 0.0]]]),
                  Wv=np.zeros((1, 1, 2)), Wo=np.zeros((1, 2, 1)), W1=np.zeros((1, 2)),
                  b1=np.zeros(1), W2=np.zeros((2, 1)), b2=np.zeros(2))
    PE = np.array([[0.0, 0.0]] + [[0.0, 1.0]] * 5)
    return Model(fmt=F, sum_mode="iterative", TE=np.array([[1.0, 0.0], [1.0, 0.0]]), PE=PE,
                 Wout=np.zeros((2, 2)), bout=np.array([0.0, 1.0]), layers=(layer,))


def undefined_model(mode: str) -> Model:
    """Scores s = -2 * 2 (clipped to -3.75) between two 1-tokens, 0 otherwise;
    [exp(-3.75)] = 0 in paper:e=1,s=2. So Z_i = 0 iff x_0 .. x_i are all 1: the pass is
    undefined exactly on the prompts that start with 1."""
    z = np.zeros
    layer = Layer(Wq=np.array([[[0.0, -2.0]]]), Wk=np.array([[[0.0, 2.0]]]),
                  Wv=np.array([[[1.0, 0.0]]]), Wo=np.array([[[1.0], [0.0]]]),
                  W1=z((1, 2)), b1=z(1), W2=z((2, 1)), b2=z(2))
    return Model(fmt=FloatFormat.parse("paper:e=1,s=2"), sum_mode=mode,
                 TE=np.array([[0.5, 0.0], [-0.5, 1.0]]), PE=z((8, 2)),
                 Wout=np.array([[1.0, 0.0], [-1.0, 0.0]]), bout=z(2), layers=(layer,))


# --- oracle 1: exact rationals, one rounding per operation ------------------------------
def _to_odd(q: Fraction) -> float:
    """q rounded to float64 with round-to-odd: rounding that to any format with at least
    two fewer significand bits equals rounding q directly."""
    f = float(q)
    if Fraction(f) == q:
        return f
    lo, hi = (f, math.nextafter(f, math.inf)) if Fraction(f) < q else \
        (math.nextafter(f, -math.inf), f)
    return lo if struct.unpack("<Q", struct.pack("<d", lo))[0] & 1 else hi


class Undefined(Exception):
    pass


def exact_reference(model: Model, tokens) -> list[float]:
    """Logits at the last position, by DESIGN.md's evaluation order; raises Undefined.

    Finite operands: exact rationals, rounded once. Infinite or NaN operands (IEEE
    formats overflow to inf): IEEE float64 semantics, then rounded. The stable softmax:
    m = the largest score (NaN if one is NaN), e_j = [exp([s_j - m])]."""
    fmt, exact = model.fmt, model.sum_mode == "exact"
    f64 = fmt.spec == "float64"
    Fr = Fraction

    def R(q) -> float:
        if isinstance(q, Fraction):
            q = float(q) if f64 else _to_odd(q)
        return float(fmt.round(np.array([q]))[0])

    def op(a: float, b: float, f) -> float:
        a, b = float(a), float(b)
        if math.isfinite(a) and math.isfinite(b):
            return R(f(Fr(a), Fr(b)))
        with np.errstate(all="ignore"):
            return R(float(f(np.float64(a), np.float64(b))))

    def add(a, b):
        return op(a, b, lambda x, y: x + y)

    def mul(a, b):
        return op(a, b, lambda x, y: x * y)

    def S(terms):  # a sum of already rounded values, index order
        if not exact:
            acc = terms[0]
            for t in terms[1:]:
                acc = add(acc, t)
            return acc
        if all(math.isfinite(t) for t in terms):
            return R(sum((Fr(t) for t in terms), Fr(0)))
        return R(float(np.sum(terms)))

    def dot(w, x):
        return S([mul(a, b) for a, b in zip(w, x)])

    def mv(W, x):
        return [dot(row, x) for row in W]

    def exp(x):  # libm's exp, like the kernels' math.exp (NumPy's SIMD exp may differ)
        try:
            return R(math.exp(x))
        except OverflowError:
            return R(math.inf)

    n = len(tokens)
    X = [[add(model.TE[t, c], model.PE[i, c]) for c in range(model.d_model)]
         for i, t in enumerate(tokens)]
    for lay in model.layers:
        U = []
        for h in range(model.heads):
            Q = [mv(lay.Wq[h], X[i]) for i in range(n)]
            K = [mv(lay.Wk[h], X[i]) for i in range(n)]
            Vv = [mv(lay.Wv[h], X[i]) for i in range(n)]
            Uh = []
            for i in range(n):
                s = [dot(Q[i], K[j]) for j in range(i + 1)]
                if model.softmax == "stable":
                    m = math.nan if any(x != x for x in s) else max(s)
                    s = [op(x, m, lambda u, v: u - v) for x in s]
                e = [exp(x) for x in s]
                Z = S(e)
                if Z == 0:
                    raise Undefined
                a = [op(x, Z, lambda u, v: u / v) for x in e]
                o = [S([mul(a[j], Vv[j][c]) for j in range(i + 1)])
                     for c in range(model.d_head)]
                Uh.append(mv(lay.Wo[h], o))
            U.append(Uh)
        for i in range(n):
            X[i] = [add(X[i][c], S([U[h][i][c] for h in range(model.heads)]))
                    for c in range(model.d_model)]
            z = [add(dot(lay.W1[r], X[i]), lay.b1[r]) for r in range(model.d_ff)]
            z = [t if t != t else max(t, 0.0) for t in z]  # ReLU; NaN stays NaN
            m = [add(dot(lay.W2[c], z), lay.b2[c]) for c in range(model.d_model)]
            X[i] = [add(X[i][c], m[c]) for c in range(model.d_model)]
    return [add(dot(model.Wout[v], X[-1]), model.bout[v]) for v in range(model.vocab)]


def tokens_or_undefined(model: Model, prompts) -> np.ndarray:
    """Per prompt, the next token by `exact_reference` (the first maximum, lowest id on
    ties), or -1 where the pass is undefined."""
    out = []
    for p in prompts:
        try:
            out.append(int(np.argmax(exact_reference(model, [int(t) for t in p]))))
        except Undefined:
            out.append(-1)
    return np.array(out, dtype=np.int64)


# --- oracle 2: the textbook transformer in float64 NumPy ----------------------------------
def numpy_reference(model: Model, tokens) -> tuple[np.ndarray, np.ndarray]:
    """(logits at the last position, attention (L, H, n, n))."""
    tokens = np.asarray(tokens)
    n = tokens.size
    X = model.TE[tokens] + model.PE[:n]
    mask = np.tril(np.ones((n, n), dtype=bool))
    att = []
    for lay in model.layers:
        heads = np.zeros_like(X)
        att.append([])
        for h in range(model.heads):
            Q, K, V = X @ lay.Wq[h].T, X @ lay.Wk[h].T, X @ lay.Wv[h].T
            S = Q @ K.T
            if model.softmax == "stable":  # the same function, computed as trained models do
                S = S - np.where(mask, S, -np.inf).max(axis=1, keepdims=True)
            E = np.where(mask, np.exp(S), 0.0)  # no 1/sqrt(d) scaling
            A = E / E.sum(axis=1, keepdims=True)
            att[-1].append(A)
            heads += (A @ V) @ lay.Wo[h].T
        X = X + heads
        X = X + np.maximum(X @ lay.W1.T + lay.b1, 0.0) @ lay.W2.T + lay.b2
    return X[-1] @ model.Wout.T + model.bout, np.array(att)
