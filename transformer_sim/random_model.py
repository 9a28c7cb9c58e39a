"""Random models whose weights are values of the format and on which most prompts are
defined.

Policy (``random_model``):

1. Draw, with ``numpy.random.default_rng(seed)``, one standard normal array per weight,
   in the `.npz` layout order (TE, PE, then per layer Wq, Wk, Wv, Wo, W1, b1, W2, b2,
   then Wout, bout).
2. Scale each array so that the residual stream stays of order 1: embeddings by 0.5,
   a matrix by 1/sqrt(fan-in) (Wo by 1/sqrt(H*k)), biases by 0.1. Wq and Wk are scaled
   by g/sqrt(d) with g = k^(-1/4), so that a score s_ij = q_i . k_j has a standard
   deviation of about 0.5: then [exp(s_ij)] is near 1, far from 0, and far from the
   overflow of narrow IEEE formats.
3. Round every array to the format (so every weight is a value of it; weights smaller
   than half the format's smallest step become 0).
4. Check: run ``check_prompts`` random prompts of length min(max_len, ``check_len``)
   through the incremental pass (which checks every prefix). If some prefix is undefined
   (some Z_i = 0) or has a NaN logit, halve g and repeat from 3 (same normal draws), at
   most 4 times; the last resort is g = 0, where every score is 0 and every e_ij =
   [exp(0)] = [1] > 0 in every format with a positive value below 2, so every prompt is
   defined.

The same arguments give the same model, bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import ModelError, ModelUndefined
from .floatformat import FloatFormat
from .model import LAYER_ARRAYS, SOFTMAXES, SUM_MODES, Layer, Model

QK_HALVINGS = 4
#: the most scalar operations the definedness check may take (step 4, one attempt): at
#: about 2 million a second on a busy core (docs/performance.md) this is minutes; the
#: weight count alone does not bound it (a million heads of width 1 are few weights)
MAX_CHECK_WORK = 1_000_000_000


def check_work(vocab: int, layers: int, heads: int, d_model: int, d_ff: int, d_head: int,
               n: int, prompts: int) -> int:
    """Scalar operations of the check: ``prompts`` prompts of ``n`` positions, each
    position projecting q, k, v, o and attending to up to n keys in every head, the MLP,
    and the logits."""
    per_position = (layers * (heads * (4 * d_head * d_model + 2 * n * d_head)
                              + 2 * d_model * d_ff) + vocab * d_model)
    return prompts * n * per_position


def _draw(rng: np.random.Generator, vocab: int, layers: int, heads: int, d_model: int,
          d_ff: int, max_len: int, d_head: int) -> tuple[dict, list[dict]]:
    V, L, H, d, f, N, k = vocab, layers, heads, d_model, d_ff, max_len, d_head
    top = {"TE": rng.standard_normal((V, d)), "PE": rng.standard_normal((N, d))}
    shapes = {"Wq": (H, k, d), "Wk": (H, k, d), "Wv": (H, k, d), "Wo": (H, d, k),
              "W1": (f, d), "b1": (f,), "W2": (d, f), "b2": (d,)}
    per_layer = [{name: rng.standard_normal(shapes[name]) for name in LAYER_ARRAYS}
                 for _ in range(L)]
    top["Wout"] = rng.standard_normal((V, d))
    top["bout"] = rng.standard_normal(V)
    return top, per_layer


def _build(fmt: FloatFormat, sum_mode: str, softmax: str, top: dict, per_layer: list[dict], g: float,
           d: int, k: int, H: int, f: int) -> Model:
    r = fmt.round
    scale = {"Wq": g / math.sqrt(d), "Wk": g / math.sqrt(d), "Wv": 1 / math.sqrt(d),
             "Wo": 1 / math.sqrt(H * k), "W1": 1 / math.sqrt(d), "b1": 0.1,
             "W2": 1 / math.sqrt(f), "b2": 0.1}
    layers = tuple(Layer(**{n: r(raw[n] * scale[n]) for n in LAYER_ARRAYS})
                   for raw in per_layer)
    return Model(fmt=fmt, sum_mode=sum_mode, softmax=softmax,
                 TE=r(0.5 * top["TE"]), PE=r(0.5 * top["PE"]),
                 Wout=r(top["Wout"] / math.sqrt(d)), bout=r(0.1 * top["bout"]),
                 layers=layers)


def defined_fraction(model: Model, n_prompts: int = 32, length: int = 48,
                     seed: int = 0) -> float:
    """Fraction of ``n_prompts`` uniform random prompts of length min(max_len, length)
    on which every prefix is defined and has no NaN logit."""
    from .forward import Decoder

    rng = np.random.default_rng([seed, 0x636f74])
    n = min(model.max_len, length)
    good = 0
    for _ in range(n_prompts):
        dec = Decoder(model, capacity=n)
        try:
            for tok in rng.integers(0, model.vocab, size=n):
                dec.push(int(tok))
                if np.isnan(dec.logits).any():
                    break
            else:
                good += 1
        except ModelUndefined:
            pass
    return good / n_prompts if n_prompts else 1.0


def random_model(vocab: int, layers: int, heads: int, d_model: int, d_ff: int,
                 max_len: int, fmt: FloatFormat | str, sum_mode: str = "iterative",
                 seed: int = 0, d_head: int | None = None, check_prompts: int = 32,
                 check_len: int = 48, softmax: str = "paper") -> Model:
    """A random model (see the module docstring for the policy). ``d_head`` defaults to
    max(1, d_model // heads). ``check_prompts=0`` skips the check (no Numba needed)."""
    if isinstance(fmt, str):
        fmt = FloatFormat.parse(fmt)
    if sum_mode not in SUM_MODES:
        raise ModelError(f"sum mode {sum_mode!r}: expected one of {', '.join(SUM_MODES)}")
    if softmax not in SOFTMAXES:
        raise ModelError(f"softmax {softmax!r}: expected one of {', '.join(SOFTMAXES)}")
    for name, v in (("vocab", vocab), ("layers", layers), ("heads", heads),
                    ("d_model", d_model), ("d_ff", d_ff), ("max_len", max_len)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ModelError(f"{name} must be an integer >= 1, got {v!r}")
    k = max(1, d_model // heads) if d_head is None else d_head
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ModelError(f"d_head must be an integer >= 1, got {d_head!r}")
    if not fmt.max_value > 0:
        raise ModelError(f"format {fmt.spec} has no positive value")
    from .npz import check_size  # refuse an oversized model before drawing any weight

    check_size({"vocab": vocab, "d_model": d_model, "heads": heads, "d_head": k,
                "d_ff": d_ff, "layers": layers, "max_len": max_len})
    n = min(max_len, check_len)
    work = check_work(vocab, layers, heads, d_model, d_ff, k, n, max(check_prompts, 0))
    if work > MAX_CHECK_WORK:
        raise ModelError(f"checking this model takes about {work:.2g} operations "
                         f"({check_prompts} prompts of {n} tokens through {layers} layer(s) "
                         f"of {heads} head(s)), over the limit of {MAX_CHECK_WORK:.0e}; "
                         "use fewer or narrower heads or layers")
    rng = np.random.default_rng(seed)
    top, per_layer = _draw(rng, vocab, layers, heads, d_model, d_ff, max_len, k)
    g = k ** -0.25
    for attempt in range(QK_HALVINGS + 1):
        gain = 0.0 if attempt == QK_HALVINGS else g / 2 ** attempt
        model = _build(fmt, sum_mode, softmax, top, per_layer, gain, d_model, k, heads, d_ff)
        if check_prompts <= 0 or defined_fraction(model, check_prompts, check_len,
                                                  seed) == 1.0:
            break
    return model
