"""The simulator's exact architecture in JAX, for training (float32).

Same parameters under the same names and shapes as the `.npz` layout (DESIGN.md):
TE (V, d), PE (N, d), Wout (V, d), bout (V); per layer l: ``layers.l.Wq``, ``Wk``,
``Wv`` (H, k, d), ``Wo`` (H, d, k), ``W1`` (f, d), ``b1`` (f), ``W2`` (d, f), ``b2`` (d).
The function is the simulator's (DESIGN.md, "Exact evaluation order"): h_i = TE[x_i] +
PE[i]; per layer h += sum_h Wo_h softmax_causal((Wq_h h)(Wk_h h)^T) (Wv_h h), with no
1/sqrt(d) scaling; h += W2 relu(W1 h + b1) + b2; no layer norm; logits Wout h + bout at
every position. Only the arithmetic differs: float32 with XLA's summation order, and the
softmax subtracts the row maximum (the same function in exact arithmetic; it keeps
training finite). `save` writes a `.npz` with format ``float32`` that
`transformer_sim.npz.load` reads unchanged.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from transformer_sim.model import LAYER_ARRAYS, Layer, Model

Params = dict[str, Any]


@dataclass(frozen=True)
class Shape:
    """The hyper-parameters that fix the parameter shapes."""

    vocab: int
    d_model: int
    heads: int
    d_head: int
    d_ff: int
    layers: int
    max_len: int

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter name -> shape, in the `.npz` layout order."""
        V, d, H, k, f = self.vocab, self.d_model, self.heads, self.d_head, self.d_ff
        out: dict[str, tuple[int, ...]] = {"TE": (V, d), "PE": (self.max_len, d),
                                           "Wout": (V, d), "bout": (V,)}
        per = {"Wq": (H, k, d), "Wk": (H, k, d), "Wv": (H, k, d), "Wo": (H, d, k),
               "W1": (f, d), "b1": (f,), "W2": (d, f), "b2": (d,)}
        for i in range(self.layers):
            for name in LAYER_ARRAYS:
                out[f"layers.{i}.{name}"] = per[name]
        return out


def init_params(key: jax.Array, shape: Shape, scale: float = 0.1) -> Params:
    """Every matrix and embedding N(0, scale^2), every bias 0 (float32).

    The scale matters: with 0.02 a one-layer S5 CoT model sits at the loss
    (n-1)/n ln 120 for thousands of steps (only c_1 = g_1 is learnt); with 0.1 it
    trains (docs/experiments.md)."""
    names = list(shape.shapes().items())
    keys = jax.random.split(key, len(names))
    params: Params = {}
    for k, (name, shp) in zip(keys, names):
        if name == "bout" or name.endswith((".b1", ".b2")):
            params[name] = jnp.zeros(shp, jnp.float32)
        else:
            params[name] = scale * jax.random.normal(k, shp, jnp.float32)
    return params


def forward(params: Params, tokens: jax.Array) -> jax.Array:
    """Logits (B, T, V) at every position of ``tokens`` (B, T), causal."""
    return _run(params, tokens)[0]


def score_extremes(params: Params, tokens: jax.Array) -> jax.Array:
    """(L, 2) per layer, over heads, prompts and positions of ``tokens`` (B, T): the
    largest attention score max s_ij, and the smallest row maximum min_i max_j s_ij.

    Without the row maximum subtracted (the simulator, DESIGN.md), a format whose largest
    value is B overflows where the first exceeds ln B ([exp(s)] = inf, a_ij = NaN), and
    a row has Z_i = 0 (undefined) where even its maximum has [exp(s)] = 0, i.e. where the
    second is below about ln of the smallest positive value."""
    scores = _run(params, tokens)[1]
    neg = -jnp.inf
    out = []
    for s in scores:
        out.append(jnp.stack([jnp.max(jnp.where(jnp.isfinite(s), s, neg)),
                              jnp.min(jnp.max(s, axis=-1))]))
    return jnp.stack(out)


def _run(params: Params, tokens: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    """Logits (B, T, V) and each layer's scores (B, H, T, T), -inf above the diagonal."""
    T = tokens.shape[-1]
    h = params["TE"][tokens] + params["PE"][:T]
    causal = jnp.tril(jnp.ones((T, T), dtype=bool))
    layers = sum(1 for name in params if name.endswith(".Wq"))
    scores = []
    for l in range(layers):
        p = lambda n: params[f"layers.{l}.{n}"]  # noqa: E731
        q = jnp.einsum("hkd,btd->bhtk", p("Wq"), h)
        k = jnp.einsum("hkd,btd->bhtk", p("Wk"), h)
        v = jnp.einsum("hkd,btd->bhtk", p("Wv"), h)
        s = jnp.einsum("bhik,bhjk->bhij", q, k)  # no 1/sqrt(d) scaling
        s = jnp.where(causal, s, -jnp.inf)
        scores.append(s)
        a = jax.nn.softmax(s, axis=-1)  # subtracts the row max: same function
        o = jnp.einsum("bhij,bhjk->bhik", a, v)
        h = h + jnp.einsum("hdk,bhtk->btd", p("Wo"), o)
        z = jax.nn.relu(jnp.einsum("fd,btd->btf", p("W1"), h) + p("b1"))
        h = h + jnp.einsum("df,btf->btd", p("W2"), z) + p("b2")
    return jnp.einsum("vd,btd->btv", params["Wout"], h) + params["bout"], scores


def greedy_chain(params: Params, prompts: jax.Array, steps: int) -> jax.Array:
    """The model's own chain: ``steps`` argmax tokens after ``prompts`` (B, p), each fed
    back (full recompute per step; the causal mask makes the not-yet-written positions
    irrelevant). Returns (B, steps). Ties go to the lowest id, as in the simulator."""
    B, p = prompts.shape
    seq = jnp.concatenate([prompts, jnp.zeros((B, steps - 1), prompts.dtype)], axis=1)

    def body(s, carry):
        seq, out = carry
        logits = forward(params, seq)
        tok = jnp.argmax(jax.lax.dynamic_index_in_dim(logits, p - 1 + s, axis=1,
                                                      keepdims=False), axis=-1)
        tok = tok.astype(prompts.dtype)
        out = out.at[:, s].set(tok)
        seq = jax.lax.cond(s + 1 < steps,
                           lambda q: jax.lax.dynamic_update_index_in_dim(q, tok, p + s, 1),
                           lambda q: q, seq)
        return seq, out

    _, out = jax.lax.fori_loop(0, steps, body,
                               (seq, jnp.zeros((B, steps), prompts.dtype)))
    return out


def to_model(params: Params) -> Model:
    """The trained parameters as a simulator `Model` in format float32 (``ieee:e=8,m=23``,
    iterative sums, the stable softmax that ``jax.nn.softmax`` computes): float32
    values, stored as float64 as the layout requires."""
    from transformer_sim.floatformat import FloatFormat

    arr = {name: np.asarray(v, dtype=np.float32).astype(np.float64)
           for name, v in params.items()}
    layers = sum(1 for name in arr if name.endswith(".Wq"))
    return Model(fmt=FloatFormat.ieee(8, 23), sum_mode="iterative", softmax="stable",
                 TE=arr["TE"],
                 PE=arr["PE"], Wout=arr["Wout"], bout=arr["bout"],
                 layers=tuple(Layer(**{n: arr[f"layers.{i}.{n}"] for n in LAYER_ARRAYS})
                              for i in range(layers)))


def from_model(model: Model) -> Params:
    """A simulator model's weights as JAX float32 parameters."""
    return {name: jnp.asarray(a, dtype=jnp.float32) for name, a in model.named_arrays().items()}


def save(params: Params, path: str | os.PathLike) -> None:
    """Write the parameters as a DESIGN-layout `.npz` (format float32), atomically."""
    from transformer_sim.npz import save as save_model

    save_model(to_model(params), path, overwrite=True)


def n_params(params: Params) -> int:
    return int(sum(math.prod(v.shape) for v in params.values()))
