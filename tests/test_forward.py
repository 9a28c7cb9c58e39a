"""The forward pass against two independent oracles, and the KV cache against the full
recompute.

- `exact_reference`: DESIGN.md's evaluation order re-implemented in plain Python with
  exact rational arithmetic (fractions.Fraction), rounded once per operation through
  `FloatFormat.round` (via round-to-odd float64, so there is no double rounding). It
  shares no code with the Numba kernels. Compared bit for bit in every format.
- `numpy_reference`: the textbook transformer in vectorised float64 NumPy; the float64
  mode must agree with it to 1e-12.
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_sim.errors import ModelError, ModelUndefined
from transformer_sim.floatformat import FloatFormat
from transformer_sim.forward import Decoder, forward_full, next_token
from transformer_sim.model import Layer, Model

FORMATS = ["float64", "paper:e=0,s=2", "paper:e=1,s=2", "float16", "bfloat16", "e5m2"]
SUMS = ["iterative", "exact"]


# --- test models: drawn here, independently of transformer_sim.random_model ------------
def make_model(fmt: str, sum_mode: str, seed: int, V=5, L=2, H=2, d=6, k=3, f=5, N=12,
               qk=1.0, scale=1.0) -> Model:
    """Normal weights of std ``scale`` / sqrt(fan-in) (``qk`` times that for Wq, Wk),
    rounded to the format."""
    F = FloatFormat.parse(fmt)
    rng = np.random.default_rng(seed)

    def w(shape, fan_in=1, gain=1.0):
        return F.round(rng.standard_normal(shape) * scale * gain / math.sqrt(fan_in))

    layers = tuple(Layer(Wq=w((H, k, d), d, qk), Wk=w((H, k, d), d, qk), Wv=w((H, k, d), d),
                         Wo=w((H, d, k), k * H), W1=w((f, d), d), b1=w((f,), 4),
                         W2=w((d, f), f), b2=w((d,), 4)) for _ in range(L))
    return Model(fmt=F, sum_mode=sum_mode, TE=w((V, d)), PE=w((N, d), 2), Wout=w((V, d), d),
                 bout=w((V,), 4), layers=layers)


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
    formats overflow to inf): IEEE float64 semantics, then rounded."""
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
                e = [exp(dot(Q[i], K[j])) for j in range(i + 1)]
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
            E = np.where(mask, np.exp(Q @ K.T), 0.0)  # no max subtraction, no scaling
            A = E / E.sum(axis=1, keepdims=True)
            att[-1].append(A)
            heads += (A @ V) @ lay.Wo[h].T
        X = X + heads
        X = X + np.maximum(X @ lay.W1.T + lay.b1, 0.0) @ lay.W2.T + lay.b2
    return X[-1] @ model.Wout.T + model.bout, np.array(att)


def incremental(model: Model, tokens) -> tuple[np.ndarray, int]:
    dec = Decoder(model)
    tok = dec.extend(tokens)
    return dec.logits, tok


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# --- tests ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sum_mode", SUMS)
def test_kernels_match_exact_reference_bit_for_bit(fmt, sum_mode):
    undefined = 0
    for seed in range(6):
        qk = 3.0 if fmt.startswith("paper") else 1.0  # large scores: some Z_i = 0
        model = make_model(fmt, sum_mode, seed, V=4, L=2, H=2, d=4, k=2, f=3, N=6, qk=qk)
        tokens = list(np.random.default_rng(seed).integers(0, 4, size=4 + seed % 3))
        try:
            want = exact_reference(model, tokens)
        except Undefined:
            undefined += 1
            with pytest.raises(ModelUndefined):
                forward_full(model, tokens)
            with pytest.raises(ModelUndefined):
                incremental(model, tokens)
            continue
        got = forward_full(model, tokens)
        np.testing.assert_array_equal(got.logits, want)  # NaN == NaN here; 0.0 == -0.0
        assert got.token == int(np.argmax(want))
        logits, tok = incremental(model, tokens)
        assert _same_bits(logits, got.logits) and tok == got.token
    assert undefined < 6  # the comparison above ran on defined prompts


@pytest.mark.parametrize("sum_mode", SUMS)
def test_float64_matches_numpy(sum_mode):
    for seed in range(5):
        model = make_model("float64", sum_mode, seed, V=7, L=3, H=2, d=8, k=4, f=10, N=20)
        tokens = np.random.default_rng(seed).integers(0, 7, size=20)
        want, att = numpy_reference(model, tokens)
        got = forward_full(model, tokens, record_attention=True)
        np.testing.assert_allclose(got.logits, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got.attention, att, rtol=1e-12, atol=1e-12)
        assert got.token == int(np.argmax(want))


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), fmt=st.sampled_from(FORMATS),
       sum_mode=st.sampled_from(SUMS), L=st.integers(1, 3), H=st.integers(1, 3),
       d=st.integers(1, 6), k=st.integers(1, 4), f=st.integers(1, 6), n=st.integers(1, 14),
       qk=st.sampled_from([0.5, 1.0, 4.0]))
def test_incremental_equals_full_recompute(seed, fmt, sum_mode, L, H, d, k, f, n, qk):
    model = make_model(fmt, sum_mode, seed, V=6, L=L, H=H, d=d, k=k, f=f, N=16, qk=qk)
    tokens = np.random.default_rng(seed).integers(0, 6, size=n)
    dec = Decoder(model)
    for t in range(n):  # every prefix: the decoder's state after t+1 pushes
        try:
            tok = dec.push(int(tokens[t]))
        except ModelUndefined as e:
            with pytest.raises(ModelUndefined) as full_err:
                forward_full(model, tokens[:t + 1])
            assert str(full_err.value) == str(e)  # same first (position, layer, head)
            for u in range(t + 1, n):  # longer prompts contain the undefined position
                with pytest.raises(ModelUndefined):
                    forward_full(model, tokens[:u + 1])
            return
        full = forward_full(model, tokens[:t + 1], record_attention=True)
        assert _same_bits(dec.logits, full.logits) and tok == full.token
        assert _same_bits(dec.attention, np.ascontiguousarray(full.attention[:, :, t, :t + 1]))


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), sum_mode=st.sampled_from(SUMS),
       n=st.integers(1, 10), L=st.integers(1, 2), H=st.integers(1, 3))
def test_float64_matches_numpy_hypothesis(seed, sum_mode, n, L, H):
    model = make_model("float64", sum_mode, seed, V=5, L=L, H=H, d=5, k=3, f=4, N=10)
    tokens = np.random.default_rng(seed + 1).integers(0, 5, size=n)
    want, _ = numpy_reference(model, tokens)
    logits, _ = incremental(model, tokens)
    np.testing.assert_allclose(logits, want, rtol=1e-12, atol=1e-12)


def _one_dim_model(q: float, fmt="paper:e=1,s=2") -> Model:
    """d = k = 1, one head: h_0 = 1, so s_00 = [q * 1] * [1 * 1] = q."""
    F = FloatFormat.parse(fmt)
    one = np.ones((1, 1, 1))
    layer = Layer(Wq=q * one, Wk=one, Wv=one, Wo=one, W1=np.zeros((1, 1)), b1=np.zeros(1),
                  W2=np.zeros((1, 1)), b2=np.zeros(1))
    return Model(fmt=F, sum_mode="iterative", TE=np.ones((2, 1)), PE=np.zeros((4, 1)),
                 Wout=np.array([[0.0], [1.0]]), bout=np.zeros(2), layers=(layer,))


def test_undefined_when_exp_underflows():
    # paper:e=1,s=2: smallest positive value 1/8, so [exp(-3.75)] = [0.0235] = 0 = Z_0.
    model = _one_dim_model(-3.75)
    assert model.fmt.round(np.array([math.exp(-3.75)]))[0] == 0.0
    with pytest.raises(ModelUndefined, match="position 0, layer 0, head 0"):
        next_token(model, [0])
    with pytest.raises(Undefined):
        exact_reference(model, [0])
    with pytest.raises(ModelUndefined):
        Decoder(model).push(0)
    # A score of -1 gives [exp(-1)] = 3/8 > 0: defined, and the read-out prefers token 1.
    assert next_token(_one_dim_model(-1.0), [0, 1]) == 1


def test_decoder_stays_undefined():
    dec = Decoder(_one_dim_model(-3.75))
    for _ in range(2):
        with pytest.raises(ModelUndefined):
            dec.push(0)


def test_argmax_ties_go_to_the_lowest_id():
    F = FloatFormat.parse("paper:e=1,s=2")
    layer = Layer(Wq=np.zeros((1, 1, 2)), Wk=np.zeros((1, 1, 2)), Wv=np.zeros((1, 1, 2)),
                  Wo=np.zeros((1, 2, 1)), W1=np.zeros((1, 2)), b1=np.zeros(1),
                  W2=np.zeros((2, 1)), b2=np.zeros(2))
    # logits = [Wout h + bout] = bout: ids 1 and 3 tie for the maximum.
    model = Model(fmt=F, sum_mode="exact", TE=np.ones((4, 2)), PE=np.zeros((3, 2)),
                  Wout=np.zeros((4, 2)), bout=np.array([0.5, 1.5, -1.0, 1.5]), layers=(layer,))
    assert next_token(model, [2, 0]) == 1
    assert Decoder(model).extend([2, 0]) == 1


def test_bad_tokens_are_rejected_before_the_kernels():
    model = make_model("float16", "iterative", 0, V=5, N=6)
    with pytest.raises(ModelError, match="token 5 at position 1 is outside the vocabulary 0..4"):
        forward_full(model, [0, 5])
    with pytest.raises(ModelError, match="longer than max_len 6"):
        forward_full(model, [0] * 7)
    with pytest.raises(ModelError, match="empty"):
        forward_full(model, [])
    dec = Decoder(model)
    with pytest.raises(ModelError, match="outside the vocabulary"):
        dec.push(-1)
    for _ in range(6):
        dec.push(1)
    with pytest.raises(ModelError, match="longer than max_len 6"):
        dec.push(1)
