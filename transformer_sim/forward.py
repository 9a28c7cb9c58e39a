"""The finite-precision forward pass, in Numba kernels, with a KV cache.

The evaluation order is DESIGN.md's "Exact evaluation order", step by step; [.] is a
rounding to the model's format (the scalar kernels of `fparith` round every result):

1. h_i = [TE[x_i] + PE[i]].
2. Per layer, per head: q_i = Wq (x) h_i, k_j, v_j likewise; s_ij = sum_c [q_i[c] k_j[c]];
   e_ij = [exp(s_ij)]; Z_i = sum_j e_ij; a_ij = [e_ij / Z_i]; o_i = sum_j [a_ij v_j];
   u_i = Wo (x) o_i. Then attn_i = sum over heads of u_i, and h_i <- [h_i + attn_i].
3. z = [W1 (x) h_i + b1], r = max(z, 0), m = [W2 (x) r + b2], h_i <- [h_i + m].
4. logits = [Wout (x) h_last + bout]; the token is the first index of the maximum
   (NumPy's argmax: lowest id on ties; a NaN logit, possible only in IEEE formats with
   infinities, wins like in ``np.argmax``).

Every sum runs over its index in increasing order, in the model's sum mode. The pass is
undefined when some Z_i = 0 (any layer, head, position): Python raises `ModelUndefined`.

Two kernels compute the same thing in different orders of work:
- `_step`: one position t, given the K/V cache of positions < t; appends position t's
  keys and values. O(t*d + d^2) per step (times layers).
- `_full`: layer-major over all positions at once, no cache: the full recompute.
Tests check that they agree bit for bit in every format and sum mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from numba import njit

from . import fparith
from .errors import ModelError, ModelUndefined
from .fparith import add, div, dot, exp_, matvec, relu, sum_exact, sum_iterative
from .model import Model

assert fparith.SUM_ITERATIVE == 0 and fparith.SUM_EXACT == 1  # Model.sum_code relies on it


@njit(cache=True)
def _sum(v, mode, P):
    if mode == 0:
        return sum_iterative(v, P)
    return sum_exact(v, P)


@njit(cache=True)
def _argmax(x):
    """First index of the maximum; the first NaN if there is one (as np.argmax)."""
    best = 0
    for i in range(x.shape[0]):
        if np.isnan(x[i]):
            return i
        if x[i] > x[best]:
            best = i
    return best


@njit(cache=True)
def _embed(tok, t, TE, PE, P, h):
    for c in range(h.shape[0]):
        h[c] = add(TE[tok, c], PE[t, c], P)


@njit(cache=True)
def _mlp(l, h, W1, b1, W2, b2, mode, P, z, m):
    """h <- [h + [W2 (x) max([W1 (x) h + b1], 0) + b2]] in place."""
    matvec(W1[l], h, mode, P, z)
    for r in range(z.shape[0]):
        z[r] = relu(add(z[r], b1[l, r], P), P)
    matvec(W2[l], z, mode, P, m)
    for c in range(h.shape[0]):
        h[c] = add(h[c], add(m[c], b2[l, c], P), P)


@njit(cache=True)
def _add_heads(h, U, mode, P, hs):
    """h <- [h + sum over heads of U[head]], per coordinate, heads in order."""
    for c in range(h.shape[0]):
        for hd in range(U.shape[0]):
            hs[hd] = U[hd, c]
        h[c] = add(h[c], _sum(hs, mode, P), P)


@njit(cache=True)
def _readout(h, Wout, bout, mode, P, logits):
    matvec(Wout, h, mode, P, logits)
    for v in range(logits.shape[0]):
        logits[v] = add(logits[v], bout[v], P)


@njit(cache=True)
def _step(tok, t, TE, PE, Wq, Wk, Wv, Wo, W1, b1, W2, b2, Wout, bout, mode, P,
          K, Vt, A, logits):
    """Process position t (token ``tok``) given the cache of positions 0..t-1.

    K (L, H, N, k) and Vt (L, H, k, N) hold keys and (transposed) values; this writes
    column t. A (L, H, N) receives a_tj for j <= t. On success fills ``logits`` and
    returns 0; if some Z_t = 0, returns 1 + layer * H + head (the first in order).
    """
    L, H, k, d = Wq.shape
    h = np.empty(d)
    q = np.empty(k)
    v = np.empty(k)
    o = np.empty(k)
    e = np.empty(t + 1)
    U = np.empty((H, d))
    hs = np.empty(H)
    z = np.empty(W1.shape[1])
    m = np.empty(d)
    _embed(tok, t, TE, PE, P, h)
    for l in range(L):
        for hd in range(H):
            matvec(Wq[l, hd], h, mode, P, q)
            matvec(Wk[l, hd], h, mode, P, K[l, hd, t])
            matvec(Wv[l, hd], h, mode, P, v)
            for c in range(k):
                Vt[l, hd, c, t] = v[c]
            for j in range(t + 1):
                e[j] = exp_(dot(q, K[l, hd, j], mode, P), P)
            Z = _sum(e, mode, P)
            if Z == 0.0:
                return 1 + l * H + hd
            for j in range(t + 1):
                e[j] = div(e[j], Z, P)
                A[l, hd, j] = e[j]
            for c in range(k):
                o[c] = dot(e, Vt[l, hd, c, :t + 1], mode, P)
            matvec(Wo[l, hd], o, mode, P, U[hd])
        _add_heads(h, U, mode, P, hs)
        _mlp(l, h, W1, b1, W2, b2, mode, P, z, m)
    _readout(h, Wout, bout, mode, P, logits)
    return 0


@njit(cache=True)
def _full(tokens, TE, PE, Wq, Wk, Wv, Wo, W1, b1, W2, b2, Wout, bout, mode, P,
          record, A, logits):
    """Full recompute, layer by layer over all positions, without a cache.

    Returns 0 when defined, else 1 + position * L * H + layer * H + head for the first
    (position, layer, head), in that order, with Z = 0: the same location the step
    kernel meets first. When ``record``, A (L, H, n, n) receives a_ij for j <= i.
    """
    L, H, k, d = Wq.shape
    n = tokens.shape[0]
    X = np.empty((n, d))
    Q = np.empty((n, k))
    Kx = np.empty((n, k))
    Vt = np.empty((k, n))
    U = np.empty((H, n, d))
    hs = np.empty(H)
    o = np.empty(k)
    v = np.empty(k)
    z = np.empty(W1.shape[1])
    m = np.empty(d)
    ew = np.empty(n)
    first = 0
    for i in range(n):
        _embed(tokens[i], i, TE, PE, P, X[i])
    for l in range(L):
        for hd in range(H):
            for i in range(n):
                matvec(Wq[l, hd], X[i], mode, P, Q[i])
                matvec(Wk[l, hd], X[i], mode, P, Kx[i])
                matvec(Wv[l, hd], X[i], mode, P, v)
                for c in range(k):
                    Vt[c, i] = v[c]
            for i in range(n):
                e = ew[:i + 1]
                for j in range(i + 1):
                    e[j] = exp_(dot(Q[i], Kx[j], mode, P), P)
                Z = _sum(e, mode, P)
                if Z == 0.0:
                    # Later values only feed locations after this one; keep going so the
                    # first location in (position, layer, head) order is found.
                    code = 1 + i * L * H + l * H + hd
                    if first == 0 or code < first:
                        first = code
                    e[:] = 0.0
                else:
                    for j in range(i + 1):
                        e[j] = div(e[j], Z, P)
                if record:
                    for j in range(i + 1):
                        A[l, hd, i, j] = e[j]
                for c in range(k):
                    o[c] = dot(e, Vt[c, :i + 1], mode, P)
                matvec(Wo[l, hd], o, mode, P, U[hd, i])
        for i in range(n):
            _add_heads(X[i], U[:, i, :], mode, P, hs)
            _mlp(l, X[i], W1, b1, W2, b2, mode, P, z, m)
    if first == 0:
        _readout(X[n - 1], Wout, bout, mode, P, logits)
    return first


def _weights(model: Model) -> tuple:
    s = model.stacked
    return (model.TE, model.PE, s["Wq"], s["Wk"], s["Wv"], s["Wo"], s["W1"], s["b1"],
            s["W2"], s["b2"], model.Wout, model.bout, model.sum_code,
            np.ascontiguousarray(model.fmt.params, dtype=np.float64))


def _undefined(model: Model, position: int, layer: int, head: int) -> ModelUndefined:
    return ModelUndefined(f"the forward pass is undefined: Z_i = 0 at position {position}, "
                          f"layer {layer}, head {head}")


@dataclass(frozen=True)
class Forward:
    """The result of a forward pass on a prompt: logits at the last position and the
    argmax token. ``attention`` is (L, H, n, n), a_ij for j <= i and 0 above the
    diagonal, when it was asked for."""

    logits: np.ndarray
    token: int
    attention: np.ndarray | None = None


def forward_full(model: Model, tokens: Sequence[int] | np.ndarray,
                 record_attention: bool = False) -> Forward:
    """Full recompute on a prompt; raises `ModelUndefined` when some Z_i = 0."""
    toks = model.check_tokens(tokens)
    n = toks.size
    L, H = model.n_layers, model.heads
    A = np.zeros((L, H, n, n) if record_attention else (1, 1, 1, 1))
    logits = np.empty(model.vocab)
    code = _full(toks, *_weights(model), record_attention, A, logits)
    if code:
        c = code - 1
        raise _undefined(model, c // (L * H), (c // H) % L, c % H)
    logits.setflags(write=False)
    return Forward(logits, int(_argmax(logits)), A if record_attention else None)


def logits(model: Model, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
    """The logits at the last position of ``tokens`` (full recompute)."""
    return forward_full(model, tokens).logits


def next_token(model: Model, tokens: Sequence[int] | np.ndarray) -> int:
    """The greedy next token after ``tokens``; raises `ModelUndefined`."""
    return forward_full(model, tokens).token


class Decoder:
    """Incremental decoding with a KV cache: `push` one token at a time.

    After each `push`, `logits` and `token` describe the next-token prediction of the
    sequence so far, and `attention` is (L, H, t+1): the last position's a_tj. Once the
    pass is undefined the decoder stays undefined (every longer prompt contains the
    undefined position) and `push` raises `ModelUndefined` again.
    """

    def __init__(self, model: Model, capacity: int | None = None):
        self.model = model
        cap = model.max_len if capacity is None else min(int(capacity), model.max_len)
        L, H, k = model.n_layers, model.heads, model.d_head
        self._args = _weights(model)
        self._K = np.zeros((L, H, cap, k))
        self._Vt = np.zeros((L, H, k, cap))
        self._A = np.zeros((L, H, cap))
        self._logits = np.empty(model.vocab)
        self.position = 0  # number of tokens pushed so far
        self.undefined: ModelUndefined | None = None

    @property
    def capacity(self) -> int:
        return self._K.shape[2]

    def push(self, token: int) -> int:
        """Append ``token`` at the next position; return the greedy next token."""
        if self.undefined is not None:
            raise self.undefined
        t = self.position
        if t >= self.capacity:
            if t >= self.model.max_len:
                raise ModelError(f"sequence of {t + 1} tokens is longer than max_len "
                                 f"{self.model.max_len}")
            raise ValueError(f"decoder capacity {self.capacity} exceeded")
        tok = int(token)
        if not 0 <= tok < self.model.vocab:
            self.model.check_tokens([tok])  # raises ModelError with the message
        code = _step(tok, t, *self._args, self._K, self._Vt, self._A, self._logits)
        self.position = t + 1
        if code:
            H = self.model.heads
            self.undefined = _undefined(self.model, t, (code - 1) // H, (code - 1) % H)
            raise self.undefined
        return int(_argmax(self._logits))

    def extend(self, tokens: Sequence[int] | np.ndarray) -> int:
        """Push every token of ``tokens``; return the greedy next token after the last."""
        token = -1
        for tok in tokens:
            token = self.push(tok)
        if token < 0:
            raise ValueError("extend: no tokens")
        return token

    @property
    def logits(self) -> np.ndarray:
        return self._logits.copy()

    @property
    def token(self) -> int:
        return int(_argmax(self._logits))

    @property
    def attention(self) -> np.ndarray:
        """(L, H, t+1): a_tj of the last pushed position t."""
        return self._A[:, :, :self.position].copy()


def kernel_args(model: Model) -> tuple[Any, ...]:
    """The weight arguments of the kernels, for callers that drive them directly."""
    return _weights(model)
