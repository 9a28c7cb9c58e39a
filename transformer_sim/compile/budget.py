"""How big a compiled circuit will be, estimated before any gate is built.

The estimate walks the same structure as the compiler, with each value's domain bounded
from above: |F| (the format's number of values) in general, and min(|F|, V) for the
per-position values of layer 0 before attention (functions of one token). Each table
costs its rows (one minterm each) plus one OR per output bit; an exact sum of N terms
costs its tables plus one fixed-point bit per unit of width, one THR per value of F and
one per output bit; an iterative tree also costs N map leaves (|F| w ORs each) and
N - 1 compositions (|F| (|F| + 1) w gates each). Wide formats blow these up through
|F|^2: float16 has |F| = 63487. ``check`` refuses up front when the estimate exceeds
the budget, so a compilation never runs out of memory; the compiler's running guard
(``Ctx.reserve``) stops it too, should the estimate ever fall short.
"""
from __future__ import annotations

import math

from circuits.errors import CircuitTooLarge

from ..model import Model

DEFAULT_BUDGET = 2_000_000
#: exact sums need every value / min_positive below this (see sums.MAX_FIXED_POINT)
MAX_FIXED_POINT = 1 << 40


def fixed_point_bits(fmt) -> float:
    """log2(max / min_positive): the width of a value in units of the smallest step."""
    return math.log2(fmt.max_value) - math.log2(fmt.min_positive)


def estimate(model: Model, seq_len: int, sum_mode: str) -> dict[str, int]:
    """Estimated gate count per part, and the ``total``."""
    fmt = model.fmt
    F = fmt.num_values
    w = fmt.bit_width
    n, V, H, d, k, f = (seq_len, model.vocab, model.heads, model.d_model, model.d_head,
                        model.d_ff)
    wfix = 2 + int(min(fixed_point_bits(fmt), 62))
    exact = sum_mode == "exact"

    def dims(N: int, g: float) -> float:  # a sum over a constant number of terms
        if exact:
            return g + w if N == 1 else N * (g + wfix) + F + w
        return N * (F * g + w)

    def pos(count: float, N: float, g: float) -> float:  # count sums, N terms in all
        if exact:
            return N * (g + wfix) + count * (F + w)
        return N * (g + F * w) + N * F * (F + 1) * w

    parts: dict[str, float] = {"embed": n * d * (V + w)}
    dx = min(F, V)
    for l in range(model.n_layers):
        P = n if l < model.n_layers - 1 else 1
        out_terms = n * (n + 1) / 2 if P == n else n  # sum over out positions of (i+1)
        ds = min(F, dx * dx) if l == 0 else F
        part = 3 * n * H * k * dims(d, dx)                                   # q, k, v
        part += H * n * (n + 1) / 2 * dims(k, min(F, dx) ** 2)               # scores
        part += H * pos(n, n * (n + 1) / 2, ds)                              # Z
        part += H * out_terms * (ds * F + w)                                 # a
        part += H * pos(P * k, k * out_terms, F * dx)                        # o
        part += H * P * d * dims(k, F)                                       # Wo
        part += P * d * (dims(H, F) + dx * F + w)                            # + attn
        part += P * (f * (dims(d, F) + F + w) + d * (dims(f, F) + F * F + w))  # MLP
        parts[f"layer{l}"] = part
        dx = F
    parts["readout"] = V * dims(d, F)
    parts["argmax"] = V * (V - 1) / 2 * (F * F + 2) + 2 * V
    total = sum(parts.values())
    parts["nots"] = 0.1 * total  # negated literals: at most w per bundle
    out = {name: int(min(v, 2.0 ** 62)) for name, v in parts.items()}
    out["total"] = int(min(sum(parts.values()), 2.0 ** 62))
    return out


def check(model: Model, seq_len: int, sum_mode: str, budget: int) -> int:
    """The estimated size; raises CircuitTooLarge (one line) when it is over ``budget``
    or when exact sums would leave the fixed-point range."""
    fmt = model.fmt
    if sum_mode == "exact" and fixed_point_bits(fmt) >= math.log2(MAX_FIXED_POINT):
        raise CircuitTooLarge(
            f"format {fmt.spec}: exact sums need max/min_positive below 2^40 (a "
            f"fixed-point range), it is 2^{fixed_point_bits(fmt):.1f}; use a narrower format (e.g. "
            f"paper:e=1,s=1) or --sum iterative")
    est = estimate(model, seq_len, sum_mode)["total"]
    if est > budget:
        raise CircuitTooLarge(
            f"estimated size {est:.3g} gates exceeds the budget of {budget} gates "
            f"(format {fmt.spec} has {fmt.num_values} values, n = {seq_len}, "
            f"{sum_mode} sums); use a narrower format (e.g. paper:e=1,s=1), a shorter "
            f"sequence, or a larger --budget")
    return est
