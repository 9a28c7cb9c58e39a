"""The finite-precision forward pass, in Numba kernels, with a KV cache.

The evaluation order is DESIGN.md's "Exact evaluation order", step by step; [.] is a
rounding to the model's format (the scalar kernels of `fparith` round every result):

1. h_i = [TE[x_i] + PE[i]].
2. Per layer, per head: q_i = Wq (x) h_i, k_j, v_j likewise; s_ij = sum_c [q_i[c] k_j[c]];
   e_ij = [exp(s_ij)] (the paper's softmax) or, for a ``"stable"`` model,
   e_ij = [exp([s_ij - m_i])] with m_i = max over j <= i of s_ij (exact; NaN if some
   score is NaN, as np.max); Z_i = sum_j e_ij; a_ij = [e_ij / Z_i]; o_i = sum_j [a_ij v_j];
   u_i = Wo (x) o_i. Then attn_i = sum over heads of u_i, and h_i <- [h_i + attn_i].
3. z = [W1 (x) h_i + b1], r = max(z, 0), m = [W2 (x) r + b2], h_i <- [h_i + m].
4. logits = [Wout (x) h_last + bout]; the token is the first index of the maximum
   (NumPy's argmax: lowest id on ties; a NaN logit, possible only in IEEE formats with
   infinities, wins like in ``np.argmax``).

Every sum runs over its index in increasing order, in the model's sum mode. The pass is
undefined when some Z_i = 0 (any layer, head, position): Python raises `ModelUndefined`.

Three kernels compute the same thing in different orders of work:
- `_step`: one position t, given the K/V cache of positions < t; appends position t's
  keys and values. O(t*d + d^2) per step (times layers).
- `_full`: layer-major over all positions at once, no cache: the full recompute.
- `_fx_step`: `_step` for fixed-point formats, in k-space (see the section "fixed point").
`Decoder` runs `_fx_step` where it applies, else `_step` with zero-term skips (see
`_matvec`); `Decoder(model, fast=False, skips=False)` runs the plain `_step`.
Tests check that they agree bit for bit in every format and sum mode (test_forward.py,
test_fastpath.py).

The kernels take the weights as two objects, each built by one function: `Weights`
(the dense arrays, `dense_weights`) and `WeightLayout` (the nonzero weights of every
matrix as one CSR, with the first row of each matrix, `weight_layout`). Inside the
kernels every field is read by name. Both are NamedTuples, but they cross into Numba
as plain tuples of arrays (``tuple(w)``, `layout_arg`) and are rebuilt inside the kernel
(``Weights(*w)``, `_layout`): a decoding step costs microseconds, and Numba types a
NamedTuple argument in Python (about 6 us a call), a tuple of arrays in C.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
from numba import njit

from . import fparith
from .errors import ModelError, ModelUndefined
from .fparith import (_MAX_PARTIALS, _dot, _fast, _rnd_fast, add, div, dot, exact_finish, exact_push, exp_,
                      fx_add, fx_clip, fx_div, fx_exp, fx_mul, matvec, mul, relu, sub,
                      sum_exact, sum_iterative)
from .model import Model
from .rowmax import row_max as _row_max
from .params import FAMILY, KPAPER, MINPOS, PAPER

assert fparith.SUM_ITERATIVE == 0 and fparith.SUM_EXACT == 1  # Model.sum_code relies on it


class Weights(NamedTuple):
    """The dense weights as the kernels read them: per-layer arrays stacked along a
    first axis L (`Model.stacked`). Shapes: TE (V, d), PE (N, d), Wq/Wk/Wv (L, H, k, d),
    Wo (L, H, d, k), W1 (L, f, d), b1 (L, f), W2 (L, d, f), b2 (L, d), Wout (V, d),
    bout (V). Built by `dense_weights`; pass ``tuple(w)`` to a kernel."""

    TE: np.ndarray
    PE: np.ndarray
    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    Wo: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    Wout: np.ndarray
    bout: np.ndarray


class WeightLayout(NamedTuple):
    """The nonzero weights of every matrix, as one CSR over all their rows, and where
    each matrix's rows start. Row r of matrix ``M`` is CSR row ``<M's field> + r``,
    with the matrix reshaped to rows of its last axis: Wq[l, h, c] is row
    ``q + (l * H + h) * k + c``, Wo[l, h, c] is ``o + (l * H + h) * d + c``, W1[l, r]
    is ``w1 + l * f + r``, Wout[v] is ``out + v``. Each row keeps its columns in
    increasing order, the order of its sum. Built by `weight_layout`, the only place
    that knows the stacking order (`_BLOCKS`); pass `layout_arg(lay)` to a kernel."""

    ptr: np.ndarray  # int64, rows + 1
    idx: np.ndarray  # int64, column of each nonzero entry
    val: np.ndarray  # float64, its value
    q: int
    k: int
    v: int
    o: int
    w1: int
    w2: int
    out: int


def layout_arg(lay: WeightLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``lay`` as a kernel takes it: (ptr, idx, val, first rows as one int64 array, in
    field order); the kernel rebuilds it with `_layout`. (Python ints in the tuple would
    cost about 0.4 us a call to type.)"""
    return lay.ptr, lay.idx, lay.val, np.array(lay[3:], dtype=np.int64)


#: (WeightLayout field, Weights field) of each block of rows, in stacking order
_BLOCKS = (("q", "Wq"), ("k", "Wk"), ("v", "Wv"), ("o", "Wo"), ("w1", "W1"), ("w2", "W2"),
           ("out", "Wout"))


def dense_weights(model: Model) -> Weights:
    """The model's weights in the kernels' layout (no copy of the stacked arrays)."""
    s = model.stacked
    return Weights(TE=model.TE, PE=model.PE, Wq=s["Wq"], Wk=s["Wk"], Wv=s["Wv"],
                   Wo=s["Wo"], W1=s["W1"], b1=s["b1"], W2=s["W2"], b2=s["b2"],
                   Wout=model.Wout, bout=model.bout)


def weight_layout(w: Weights, scale: float = 1.0) -> WeightLayout:
    """The CSR of the nonzero entries of w's matrices (`_BLOCKS` order), row-major,
    values times ``scale`` (a power of two: exact)."""
    counts, idx, val, start = [], [], [], {}
    rows = 0
    for field, name in _BLOCKS:
        mat = getattr(w, name)
        flat = mat.reshape(-1, mat.shape[-1])
        start[field] = rows
        rows += flat.shape[0]
        mask = flat != 0.0
        counts.append(mask.sum(axis=1))
        idx.append(np.nonzero(mask)[1])
        val.append(flat[mask])
    ptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=ptr[1:])
    return WeightLayout(ptr=ptr, idx=np.concatenate(idx).astype(np.int64),
                        val=np.ascontiguousarray(np.concatenate(val) * scale,
                                                 dtype=np.float64), **start)


class FxWeights(NamedTuple):
    """What the fixed-point kernel reads besides the `WeightLayout`: the embeddings and
    biases in k-space (times 2^(s+1)), and the table of [exp] (empty: compute it)."""

    TE: np.ndarray
    PE: np.ndarray
    b1: np.ndarray
    b2: np.ndarray
    bout: np.ndarray
    exp_table: np.ndarray


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
def _softmax_numerators(e, n, stable, P):
    """e[:n] holds the scores s_j; replace them by [exp(s_j)] (the paper's softmax) or
    by [exp([s_j - m])], m = `_row_max` (the stable one). A zero score's sign changes
    neither: exp(-0) = exp(+0), and s - (+-0) = s for s != 0."""
    if stable:
        m = _row_max(e, n)
        for j in range(n):
            e[j] = exp_(sub(e[j], m, P), P)
    else:
        for j in range(n):
            e[j] = exp_(e[j], P)


@njit(cache=True)
def _embed(tok, t, TE, PE, P, h):
    for c in range(h.shape[0]):
        h[c] = add(TE[tok, c], PE[t, c], P)


@njit(cache=True)
def _layout(arg):
    """The `WeightLayout` of `layout_arg`'s tuple (its first rows in field order)."""
    ptr, idx, val, first = arg
    return WeightLayout(ptr, idx, val, first[0], first[1], first[2], first[3], first[4],
                        first[5], first[6])


# `_layout` and `weight_layout` rely on it: one first row per block, in `_BLOCKS` order
assert WeightLayout._fields[3:] == tuple(field for field, _ in _BLOCKS)


@njit(cache=True)
def _dot_csr(lay, r, x, mode, P, parts):
    """sum over the nonzero entries (c, w) of CSR row r, c increasing, of [w * x[c]]."""
    ptr, idx, val = lay.ptr, lay.idx, lay.val
    lo, hi = ptr[r], ptr[r + 1]
    if mode == 0:
        if hi == lo:
            return 0.0
        if _fast(P):  # add and mul on fparith's fast route, inlined
            acc = _rnd_fast(val[lo] * x[idx[lo]], P)
            for e in range(lo + 1, hi):
                acc = _rnd_fast(acc + _rnd_fast(val[e] * x[idx[e]], P), P)
            return acc
        acc = mul(val[lo], x[idx[lo]], P)
        for e in range(lo + 1, hi):
            acc = add(acc, mul(val[e], x[idx[e]], P), P)
        return acc
    m = 0
    plain = 0.0
    finite = True
    for e in range(lo, hi):
        m, plain, finite = exact_push(parts, m, plain, finite, mul(val[e], x[idx[e]], P))
    return exact_finish(parts, m, plain, finite, P)


@njit(cache=True)
def _all_finite(x):
    for c in range(x.shape[0]):
        if not math.isfinite(x[c]):
            return False
    return True


@njit(cache=True)
def _matvec(W, x, mode, P, out, parts, skips, lay, row0):
    """out[r] = W[r] (x) x. With ``skips``, over the nonzero weights only (CSR rows
    row0 + r of ``lay``). Exact zero terms change no partial sum's value, so the results
    agree except perhaps in the sign of a zero; and a skipped 0 * inf would be NaN.
    Hence: x must be finite, and outside the paper family (which has no -0, inf or NaN)
    a result that is 0 or NaN is recomputed with every term. On fparith's fast route
    (iterative sums) every term, dense: the rounding dominates, not the zero terms."""
    if mode == 0 and _fast(P):
        for r in range(out.shape[0]):
            out[r] = _dot(W[r], x, mode, P, parts)
        return
    if skips and (int(P[FAMILY]) == PAPER or _all_finite(x)):
        check = int(P[FAMILY]) != PAPER
        for r in range(out.shape[0]):
            v = _dot_csr(lay, row0 + r, x, mode, P, parts)
            if check and (v == 0.0 or v != v):
                v = _dot(W[r], x, mode, P, parts)
            out[r] = v
    else:
        for r in range(out.shape[0]):
            out[r] = _dot(W[r], x, mode, P, parts)


@njit(cache=True)
def _dot_sel(w, x, sel, n, mode, P, parts):
    """sum over c in sel[:n] (increasing) of [w[c] * x[c]]."""
    if mode == 0:
        if n == 0:
            return 0.0
        if _fast(P):
            acc = _rnd_fast(w[sel[0]] * x[sel[0]], P)
            for i in range(1, n):
                acc = _rnd_fast(acc + _rnd_fast(w[sel[i]] * x[sel[i]], P), P)
            return acc
        acc = mul(w[sel[0]], x[sel[0]], P)
        for i in range(1, n):
            acc = add(acc, mul(w[sel[i]], x[sel[i]], P), P)
        return acc
    m = 0
    plain = 0.0
    finite = True
    for i in range(n):
        m, plain, finite = exact_push(parts, m, plain, finite, mul(w[sel[i]], x[sel[i]], P))
    return exact_finish(parts, m, plain, finite, P)


@njit(cache=True)
def _mlp(l, h, w, mode, P, z, m, parts, skips, lay):
    """h <- [h + [W2 (x) max([W1 (x) h + b1], 0) + b2]] in place."""
    f = z.shape[0]
    d = h.shape[0]
    _matvec(w.W1[l], h, mode, P, z, parts, skips, lay, lay.w1 + l * f)
    for r in range(z.shape[0]):
        z[r] = relu(add(z[r], w.b1[l, r], P), P)
    _matvec(w.W2[l], z, mode, P, m, parts, skips, lay, lay.w2 + l * d)
    for c in range(h.shape[0]):
        h[c] = add(h[c], add(m[c], w.b2[l, c], P), P)


@njit(cache=True)
def _add_heads(h, U, mode, P, hs):
    """h <- [h + sum over heads of U[head]], per coordinate, heads in order."""
    for c in range(h.shape[0]):
        for hd in range(U.shape[0]):
            hs[hd] = U[hd, c]
        h[c] = add(h[c], _sum(hs, mode, P), P)


@njit(cache=True)
def _readout(h, w, mode, P, logits, parts, skips, lay):
    _matvec(w.Wout, h, mode, P, logits, parts, skips, lay, lay.out)
    for v in range(logits.shape[0]):
        logits[v] = add(logits[v], w.bout[v], P)


@njit(cache=True)
def _step(tok, t, weights, layout, mode, stable, P, K, Vt, A, fin, logits, skips, parts,
          sel):
    """Process position t (token ``tok``) given the cache of positions 0..t-1.

    ``weights`` and ``layout`` are `Weights` and `WeightLayout` as plain tuples;
    ``stable`` selects the stable softmax (`_softmax_numerators`).
    K (L, H, N, k) and Vt (L, H, k, N) hold keys and (transposed) values; this writes
    column t. A (L, H, N) receives a_tj for j <= t. On success fills ``logits`` and
    returns 0; if some Z_t = 0, returns 1 + layer * H + head (the first in order).

    With ``skips``, sums leave out exact-zero terms (see `_matvec`): zero weights (the
    CSR of ``layout``), zero query entries in a score, zero a_tj in the mix. fin
    (L, H, 2, N) records whether key / value j is all finite: a skipped term needs a
    finite factor. A score only feeds [exp], and exp(-0) = exp(+0), so its zero sign is
    free; a NaN score is recomputed. ``parts`` is the exact-sum scratch and ``sel``
    (N + k) holds the selected indices.
    """
    w = Weights(*weights)
    lay = _layout(layout)
    L, H, k, d = w.Wq.shape
    f = w.W1.shape[1]
    h = np.empty(d)
    q = np.empty(k)
    v = np.empty(k)
    o = np.empty(k)
    e = np.empty(t + 1)
    U = np.empty((H, d))
    hs = np.empty(H)
    z = np.empty(f)
    m = np.empty(d)
    paper = int(P[FAMILY]) == PAPER
    _embed(tok, t, w.TE, w.PE, P, h)
    for l in range(L):
        for hd in range(H):
            r0 = (l * H + hd) * k
            _matvec(w.Wq[l, hd], h, mode, P, q, parts, skips, lay, lay.q + r0)
            _matvec(w.Wk[l, hd], h, mode, P, K[l, hd, t], parts, skips, lay, lay.k + r0)
            _matvec(w.Wv[l, hd], h, mode, P, v, parts, skips, lay, lay.v + r0)
            for c in range(k):
                Vt[l, hd, c, t] = v[c]
            fin[l, hd, 0, t] = _all_finite(K[l, hd, t])
            fin[l, hd, 1, t] = _all_finite(v)
            nq = 0
            if skips:
                for c in range(k):
                    if q[c] != 0.0:
                        sel[nq] = c
                        nq += 1
            for j in range(t + 1):
                if skips and (paper or fin[l, hd, 0, j]):
                    s = _dot_sel(q, K[l, hd, j], sel, nq, mode, P, parts)
                    if s != s:
                        s = _dot(q, K[l, hd, j], mode, P, parts)
                else:
                    s = _dot(q, K[l, hd, j], mode, P, parts)
                e[j] = s
            _softmax_numerators(e, t + 1, stable, P)
            Z = _sum(e, mode, P)
            if Z == 0.0:
                return 1 + l * H + hd
            na = 0
            vfin = True
            for j in range(t + 1):
                e[j] = div(e[j], Z, P)
                A[l, hd, j] = e[j]
                if e[j] != 0.0:
                    sel[na] = j
                    na += 1
                elif not fin[l, hd, 1, j]:
                    vfin = False
            for c in range(k):
                if skips and (paper or vfin):
                    r = _dot_sel(e, Vt[l, hd, c, :t + 1], sel, na, mode, P, parts)
                    if not paper and (r == 0.0 or r != r):
                        r = _dot(e, Vt[l, hd, c, :t + 1], mode, P, parts)
                    o[c] = r
                else:
                    o[c] = _dot(e, Vt[l, hd, c, :t + 1], mode, P, parts)
            _matvec(w.Wo[l, hd], o, mode, P, U[hd], parts, skips, lay,
                    lay.o + (l * H + hd) * d)
        _add_heads(h, U, mode, P, hs)
        _mlp(l, h, w, mode, P, z, m, parts, skips, lay)
    _readout(h, w, mode, P, logits, parts, skips, lay)
    return 0


@njit(cache=True)
def _full(tokens, weights, mode, stable, P, record, A, logits):
    """Full recompute, layer by layer over all positions, without a cache.

    ``weights`` is `Weights` as a plain tuple. Returns 0 when defined, else
    1 + position * L * H + layer * H + head for the first (position, layer, head), in
    that order, with Z = 0: the same location the step kernel meets first. When
    ``record``, A (L, H, n, n) receives a_ij for j <= i.
    """
    w = Weights(*weights)
    L, H, k, d = w.Wq.shape
    n = tokens.shape[0]
    X = np.empty((n, d))
    Q = np.empty((n, k))
    Kx = np.empty((n, k))
    Vt = np.empty((k, n))
    U = np.empty((H, n, d))
    hs = np.empty(H)
    o = np.empty(k)
    v = np.empty(k)
    z = np.empty(w.W1.shape[1])
    m = np.empty(d)
    ew = np.empty(n)
    parts = np.empty(_MAX_PARTIALS + 2)
    noi = np.zeros(1, dtype=np.int64)
    # no skips here: an empty layout, never read
    lay = WeightLayout(noi, noi, np.zeros(0), 0, 0, 0, 0, 0, 0, 0)
    first = 0
    for i in range(n):
        _embed(tokens[i], i, w.TE, w.PE, P, X[i])
    for l in range(L):
        for hd in range(H):
            for i in range(n):
                matvec(w.Wq[l, hd], X[i], mode, P, Q[i])
                matvec(w.Wk[l, hd], X[i], mode, P, Kx[i])
                matvec(w.Wv[l, hd], X[i], mode, P, v)
                for c in range(k):
                    Vt[c, i] = v[c]
            for i in range(n):
                e = ew[:i + 1]
                for j in range(i + 1):
                    e[j] = dot(Q[i], Kx[j], mode, P)
                _softmax_numerators(e, i + 1, stable, P)
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
                matvec(w.Wo[l, hd], o, mode, P, U[hd, i])
        for i in range(n):
            _add_heads(X[i], U[:, i, :], mode, P, hs)
            _mlp(l, X[i], w, mode, P, z, m, parts, False, lay)
    if first == 0:
        _readout(X[n - 1], w, mode, P, logits, parts, False, lay)
    return first


# ------------------------------------------------------------- fixed point
#
# Fixed-point formats (paper, e = 0, s <= fparith.FX_MAX_S) run the same evaluation order
# in k-space (fparith's fx_* kernels: each value k u is held as the integer k in a
# float64, all exact). Bit for bit the same results as `_step` (tests/test_fastpath.py);
# what makes it fast, besides the cheap rounding:
# - a sum skips terms that are exact zeros: adding k = 0 to a partial sum |acc| <= K
#   leaves it unchanged, iterative or exact, and there is no -0 to track. The weights go
#   in CSR form (their nonzero entries, in column order) and a score skips the zero
#   entries of the query; the mix o = sum_j [a_j v_j] runs over the j with a_j != 0.
# - the scores of all keys run column by column over contiguous rows of the cache.
# - Z: every [exp] is >= 0 (checked on the table), so the iterative sum and the exact
#   sum are both min(exact sum, K): once clipped at K it stays there.


@njit(cache=True)
def _fx_matvec(lay, row0, x, mode, inv_d, K, out):
    """out[r] = sum_c [W[row0 + r, c] * x[c]] over the nonzero W entries (k-space)."""
    ptr, idx, val = lay.ptr, lay.idx, lay.val
    for r in range(out.shape[0]):
        acc = 0.0
        for e in range(ptr[row0 + r], ptr[row0 + r + 1]):
            p = fx_mul(val[e], x[idx[e]], inv_d, K)
            acc = fx_add(acc, p, K) if mode == 0 else acc + p
        out[r] = acc if mode == 0 else fx_clip(acc, K)


@njit(cache=True)
def _fx_step(tok, t, fxw, layout, mode, stable, P, Kc, Vc, A, S, NZj, NZa, qi, logits):
    """`_step` in k-space for a fixed-point format; same return codes. ``fxw`` and
    ``layout`` are `FxWeights` and `WeightLayout` (values in k-space) as plain tuples.
    Kc, Vc are (L, H, k, N): keys and values by coordinate, so that a score runs over
    contiguous rows. S, NZj, NZa (N) and qi (k) are scratch."""
    w = FxWeights(*fxw)
    lay = _layout(layout)
    L, H, k = Kc.shape[0], Kc.shape[1], Kc.shape[2]
    d, V, f = w.TE.shape[1], w.bout.shape[0], w.b1.shape[1]
    tab = w.exp_table
    K = P[KPAPER]
    u = P[MINPOS]
    D = 1.0 / u
    Ki = int(K)
    h = np.empty(d)
    q = np.empty(k)
    kv = np.empty(k)
    o = np.empty(k)
    U = np.empty((H, d))
    z = np.empty(f)
    m = np.empty(d)
    lk = np.empty(V)
    for c in range(d):
        h[c] = fx_add(w.TE[tok, c], w.PE[t, c], K)
    n = t + 1
    for l in range(L):
        for hd in range(H):
            r0 = (l * H + hd) * k
            _fx_matvec(lay, lay.q + r0, h, mode, u, K, q)
            _fx_matvec(lay, lay.k + r0, h, mode, u, K, kv)
            for c in range(k):
                Kc[l, hd, c, t] = kv[c]
            _fx_matvec(lay, lay.v + r0, h, mode, u, K, kv)
            for c in range(k):
                Vc[l, hd, c, t] = kv[c]
            # scores s_j = sum_c [q[c] k_j[c]], one query coordinate at a time
            nq = 0
            for c in range(k):
                if q[c] != 0.0:
                    qi[nq] = c
                    nq += 1
            s = S[:n]
            if nq == 0:
                s[:] = 0.0
            else:
                qc = q[qi[0]]
                row = Kc[l, hd, qi[0], :n]
                for j in range(n):
                    s[j] = fx_mul(qc, row[j], u, K)
                for ii in range(1, nq):
                    qc = q[qi[ii]]
                    row = Kc[l, hd, qi[ii], :n]
                    if mode == 0:
                        for j in range(n):
                            s[j] = fx_add(s[j], fx_mul(qc, row[j], u, K), K)
                    else:
                        for j in range(n):
                            s[j] += fx_mul(qc, row[j], u, K)
                if mode != 0:
                    for j in range(n):
                        s[j] = fx_clip(s[j], K)
            # stable: s_j <- [s_j - m], exact in k-space up to the clip at -K
            if stable:
                mx = _row_max(s, n)
                for j in range(n):
                    s[j] = fx_add(s[j], -mx, K)
            # e_j = [exp(s_j)] (overwrites s), Z = min(sum e, K)
            Zs = 0.0
            if tab.shape[0] > 0:
                for j in range(n):
                    e = tab[int(s[j]) + Ki]
                    s[j] = e
                    Zs += e
            else:
                for j in range(n):
                    e = fx_exp(s[j], P, D)
                    s[j] = e
                    Zs += e
            Z = min(Zs, K)
            if Z == 0.0:
                return 1 + l * H + hd
            # a_j = [e_j / Z]; keep the nonzero ones
            nnz = 0
            Arow = A[l, hd]
            for j in range(n):
                e = s[j]
                if e != 0.0:
                    a = fx_div(e, Z, D, K)
                    Arow[j] = a * u
                    if a != 0.0:
                        NZj[nnz] = j
                        NZa[nnz] = a
                        nnz += 1
                else:
                    Arow[j] = 0.0
            # o[c] = sum_j [a_j v_j[c]] over the nonzero a_j
            for c in range(k):
                row = Vc[l, hd, c]
                acc = 0.0
                for ii in range(nnz):
                    p = fx_mul(NZa[ii], row[NZj[ii]], u, K)
                    acc = fx_add(acc, p, K) if mode == 0 else acc + p
                o[c] = acc if mode == 0 else fx_clip(acc, K)
            _fx_matvec(lay, lay.o + (l * H + hd) * d, o, mode, u, K, U[hd])
        for c in range(d):
            if mode == 0:
                acc = U[0, c]
                for hd in range(1, H):
                    acc = fx_add(acc, U[hd, c], K)
            else:
                acc = 0.0
                for hd in range(H):
                    acc += U[hd, c]
                acc = fx_clip(acc, K)
            h[c] = fx_add(h[c], acc, K)
        _fx_matvec(lay, lay.w1 + l * f, h, mode, u, K, z)
        for r in range(f):
            z[r] = max(fx_add(z[r], w.b1[l, r], K), 0.0)
        _fx_matvec(lay, lay.w2 + l * d, z, mode, u, K, m)
        for c in range(d):
            h[c] = fx_add(h[c], fx_add(m[c], w.b2[l, c], K), K)
    _fx_matvec(lay, lay.out, h, mode, u, K, lk)
    for v in range(V):
        logits[v] = fx_add(lk[v], w.bout[v], K) * u
    return 0


_EXP_TABLES: dict[str, np.ndarray] = {}


def fixed_point_weights(model: Model) -> tuple[FxWeights, WeightLayout] | None:
    """The k-space weights of `_fx_step`, or None when the format has no fast path."""
    P = np.ascontiguousarray(model.fmt.params, dtype=np.float64)
    s = fparith.fixed_point_s(P)
    if not s:
        return None
    D = 2.0 ** (s + 1)
    if s <= fparith.FX_TABLE_MAX_S:
        tab = _EXP_TABLES.get(model.fmt.spec)
        if tab is None:
            tab = fparith.fx_exp_table(P)
            _EXP_TABLES[model.fmt.spec] = tab
    else:
        tab = np.empty(0)
    if tab.size and tab.min() < 0.0:
        return None  # Z = min(sum, K) needs [exp] >= 0
    w = dense_weights(model)
    fxw = FxWeights(TE=w.TE * D, PE=w.PE * D, b1=w.b1 * D, b2=w.b2 * D, bout=w.bout * D,
                    exp_table=tab)
    return fxw, weight_layout(w, D)


def _params(model: Model) -> np.ndarray:
    return np.ascontiguousarray(model.fmt.params, dtype=np.float64)


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
    code = _full(toks, tuple(dense_weights(model)), model.sum_code, model.softmax_code == 1,
                 _params(model),
                 record_attention, A, logits)
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


class _GeneralKernel:
    """`_step` and its cache: K (L, H, N, k), key rows by position, since a score is one
    row against the query. ``args`` are `_step`'s arguments after (tok, t), built once:
    a decoding step costs microseconds, so `Decoder.push` passes them as one tuple."""

    run = staticmethod(_step)

    def __init__(self, model: Model, cap: int, skips: bool, A: np.ndarray,
                 logits: np.ndarray):
        L, H, k = model.n_layers, model.heads, model.d_head
        w = dense_weights(model)
        self.skips = skips
        K = np.zeros((L, H, cap, k))
        Vt = np.zeros((L, H, k, cap))
        fin = np.zeros((L, H, 2, cap), dtype=np.bool_)
        parts = np.empty(_MAX_PARTIALS + 2)
        sel = np.empty(cap + k, dtype=np.int64)
        self.args = (tuple(w), layout_arg(weight_layout(w)), model.sum_code,
                     model.softmax_code == 1, _params(model), K, Vt, A, fin, logits, skips,
                     parts, sel)


class _FixedPointKernel:
    """`_fx_step` and its cache: keys and values both (L, H, k, N), by coordinate, since
    the scores of all keys run one query coordinate at a time. ``args`` as in
    `_GeneralKernel`."""

    run = staticmethod(_fx_step)

    def __init__(self, model: Model, cap: int, fx: tuple[FxWeights, WeightLayout],
                 A: np.ndarray, logits: np.ndarray):
        L, H, k = model.n_layers, model.heads, model.d_head
        Kc = np.zeros((L, H, k, cap))
        Vc = np.zeros((L, H, k, cap))
        S, NZj, NZa = np.empty(cap), np.empty(cap, dtype=np.int64), np.empty(cap)
        qi = np.empty(k, dtype=np.int64)
        self.args = (tuple(fx[0]), layout_arg(fx[1]), model.sum_code,
                     model.softmax_code == 1, _params(model), Kc, Vc, A, S, NZj, NZa, qi,
                     logits)


class _LaneKernel:
    """`lanes.lane_step` (through `lanes.lane_push`) and its cache, for iterative sums in
    a format on fparith's fast rounding route; ``args`` as in `_GeneralKernel`."""

    def __init__(self, model: Model, cap: int, R: np.ndarray, A: np.ndarray,
                 logits: np.ndarray):
        from . import lanes  # lanes imports this module

        self.run = lanes.lane_push
        dt = lanes.lane_dtype(R)
        L, H, k = model.n_layers, model.heads, model.d_head
        cache = lanes.lane_cache(L, H, k, model.d_model, model.d_ff, model.vocab, cap,
                                 np.zeros(1, dtype=dt))
        self.args = (tuple(dense_weights(model)), tuple(lanes.lane_weights(model, dt)),
                     tuple(cache), model.softmax_code == 1,
                     fparith.fast_params(_params(model)), R, A, logits)


def lane_params_of(model: Model) -> np.ndarray | None:
    """The lane kernel's parameters (`lanes.lane_params`) where it applies to the model:
    iterative sums in a format on fparith's fast rounding route; else None."""
    if model.sum_code != fparith.SUM_ITERATIVE:
        return None
    from .lanes import lane_params

    return lane_params(fparith.fast_params(_params(model)))


class Decoder:
    """Incremental decoding with a KV cache: `push` one token at a time.

    After each `push`, `logits` and `token` describe the next-token prediction of the
    sequence so far, and `attention` is (L, H, t+1): the last position's a_tj. Once the
    pass is undefined the decoder stays undefined (every longer prompt contains the
    undefined position) and `push` raises `ModelUndefined` again.

    ``fast``, ``lanes`` and ``skips`` choose the kernel: ``fast``, the fixed-point
    k-space kernel where the format allows it, and with ``lanes`` the lane kernel of
    `lanes` (iterative sums, a format on fparith's fast rounding route: float32 in
    float32, the IEEE and paper formats of <= 25 bits); otherwise the general kernel,
    with zero-term skips when ``skips``. They change the speed, never a result
    (tests/test_fastpath.py, tests/test_lanes.py); all off give the plain route, the
    reference of those tests. ``lanes=False`` is the Decoder as it was before the lane
    kernel (benchmarks/forward_throughput.py times it).
    """

    def __init__(self, model: Model, capacity: int | None = None, fast: bool = True,
                 skips: bool = True, lanes: bool = True):
        self.model = model
        cap = model.max_len if capacity is None else min(int(capacity), model.max_len)
        self._A = np.zeros((model.n_layers, model.heads, cap))
        self._logits = np.empty(model.vocab)
        R = lane_params_of(model) if fast and lanes else None
        fx = fixed_point_weights(model) if fast and R is None else None
        self._kernel: _GeneralKernel | _FixedPointKernel | _LaneKernel = (
            _LaneKernel(model, cap, R, self._A, self._logits) if R is not None
            else _FixedPointKernel(model, cap, fx, self._A, self._logits) if fx is not None
            else _GeneralKernel(model, cap, bool(skips), self._A, self._logits))
        self._run, self._args = self._kernel.run, self._kernel.args
        self._capacity, self._vocab = cap, model.vocab  # read on every push
        self.position = 0  # number of tokens pushed so far
        self.undefined: ModelUndefined | None = None

    @property
    def kernel(self) -> str:
        """Which kernel runs: "lanes", "fixed-point", "general+skips" or "general"."""
        if isinstance(self._kernel, _LaneKernel):
            return "lanes"
        if isinstance(self._kernel, _FixedPointKernel):
            return "fixed-point"
        return "general+skips" if self._kernel.skips else "general"

    @property
    def capacity(self) -> int:
        return self._capacity

    def push(self, token: int) -> int:
        """Append ``token`` at the next position; return the greedy next token."""
        if self.undefined is not None:
            raise self.undefined
        t = self.position
        if t >= self._capacity:
            if t >= self.model.max_len:
                raise ModelError(f"sequence of {t + 1} tokens is longer than max_len "
                                 f"{self.model.max_len}")
            raise ValueError(f"decoder capacity {self.capacity} exceeded")
        tok = int(token)
        if not 0 <= tok < self._vocab:
            self.model.check_tokens([tok])  # raises ModelError with the message
        code = self._run(tok, t, *self._args)
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
