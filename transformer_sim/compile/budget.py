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

Exact sums have two adders (``ADDERS``): the thermometer (``sums.exact_sum``: F + w gates
per sum, but THR weights up to 2^W for a W-bit fixed-point range, so only for ranges
below 2^40) and the block-wise adder (``blockadd``: poly(N, W) gates, weights below
2^b). ``resolve_adder`` picks, for "auto", the thermometer where it is allowed and its
estimate is no larger, the block-wise adder otherwise.
"""
from __future__ import annotations

import math

from circuits.errors import CircuitTooLarge, CotsimInputError

from ..model import Model
from .blockadd import BLOCKWISE_SUM_DEPTH, blockwise_gates
from .softmax_max import STABLE_EXTRA_DEPTH, max_gates

DEFAULT_BUDGET = 2_000_000
ADDERS = ("auto", "thermometer", "blockwise")
#: iterative sums over positions: "auto" resolves by ``resolve_iterative``
ITERATIVE = ("auto", "tree", "tc0", "ac0")
#: exact sums need every value / min_positive below this (see sums.MAX_FIXED_POINT)
MAX_FIXED_POINT = 1 << 40


def fixed_point_bits(fmt) -> float:
    """log2(max / min_positive): the width of a value in units of the smallest step."""
    return math.log2(fmt.max_value) - math.log2(fmt.min_positive)


def thermometer_allowed(fmt) -> bool:
    """The thermometer's weights 2^j must stay inside the evaluator's counters."""
    return fixed_point_bits(fmt) < math.log2(MAX_FIXED_POINT)


def estimate(model: Model, seq_len: int, sum_mode: str, adder: str = "auto",
             sum_tables: bool = True, iterative: str = "tree") -> dict[str, int]:
    """Estimated gate count per part, and the ``total`` (exact sums by ``adder``;
    "auto" resolves as ``resolve_adder`` does; iterative sums over positions by the
    construction ``iterative``, "tree", "tc0" or "ac0"). ``sum_tables=False`` leaves out
    the block-wise route's one-table sums (to compare the two adders alone)."""
    if sum_mode == "exact" and adder == "auto":
        adder = resolve_adder(model, seq_len, sum_mode, adder)
    fmt = model.fmt
    F = fmt.num_values
    w = fmt.bit_width
    n, V, H, d, k, f = (seq_len, model.vocab, model.heads, model.d_model, model.d_head,
                        model.d_ff)
    wfix = 2 + int(fixed_point_bits(fmt))
    exact = sum_mode == "exact"
    blockwise = adder == "blockwise"

    def add(N: int) -> float:  # one exact sum's adder and rounding, up to N terms
        return blockwise_gates(N, wfix, fmt.mantissa_bits, w) if blockwise else F + w

    def dims(N: int, g: float) -> float:  # a sum over a constant number of terms
        if exact:
            if N == 1:
                return g + w
            if blockwise and sum_tables:  # one table when the operands' grid is smaller
                return min(g ** N + w, N * (g + wfix) + add(N))
            return N * (g + wfix) + add(N)
        return N * (F * g + w)

    def pos(lengths: list[int], g: float) -> float:  # one sum of N terms per N listed
        N = sum(lengths)
        if exact:
            return N * (g + wfix) + len(lengths) * add(n)
        if iterative == "tc0":
            from .sums_tc0 import tc0_gates
            return N * (g + wfix) + sum(tc0_gates(m, fmt, wfix) for m in lengths)
        if iterative == "ac0":
            from .sums_ac0 import ac0_gates
            return N * (g + F) + sum(ac0_gates(m, fmt) for m in lengths)
        return N * (g + F * w) + N * F * (F + 1) * w

    parts: dict[str, float] = {"embed": n * d * (V + w)}
    dx = min(F, V)
    for l in range(model.n_layers):
        P = n if l < model.n_layers - 1 else 1
        out_terms = n * (n + 1) / 2 if P == n else n  # sum over out positions of (i+1)
        z_lengths = list(range(1, n + 1))                  # Z_i has i + 1 terms
        o_lengths = (z_lengths if P == n else [n]) * k     # o_i: k sums of i + 1 terms
        ds = min(F, dx * dx) if l == 0 else F
        part = 3 * n * H * k * dims(d, dx)                                   # q, k, v
        part += H * n * (n + 1) / 2 * dims(k, min(F, dx) ** 2)               # scores
        if model.softmax == "stable":  # the row maxima; terms and weights over (s, m)
            part += H * (max_gates(z_lengths, ds, fmt) + pos(z_lengths, ds * ds)
                         + out_terms * (F * F + 2 * w))
        else:
            part += H * pos(z_lengths, ds)                                   # Z
            part += H * out_terms * (ds * F + w)                             # a
        part += H * pos(o_lengths, F * dx)                                   # o
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


def resolve_adder(model: Model, seq_len: int, sum_mode: str, adder: str = "auto") -> str:
    """The exact sums' adder: ``adder`` itself, or for "auto" the thermometer when its
    weights fit and its estimate is no larger than the block-wise one. Iterative sums
    use neither ("none")."""
    if adder not in ADDERS:
        raise CotsimInputError(f"exact adder {adder!r}: expected one of {', '.join(ADDERS)}")
    if sum_mode != "exact":
        return "none"
    if adder != "auto":
        return adder
    if not thermometer_allowed(model.fmt):
        return "blockwise"
    thermo = estimate(model, seq_len, sum_mode, "thermometer")["total"]
    block = estimate(model, seq_len, sum_mode, "blockwise", sum_tables=False)["total"]
    return "thermometer" if thermo <= block else "blockwise"


def check(model: Model, seq_len: int, sum_mode: str, budget: int,
          adder: str = "thermometer", iterative: str = "tree") -> int:
    """The estimated size; raises CircuitTooLarge (one line) when it is over ``budget``
    or when the thermometer's weights would leave the fixed-point range."""
    fmt = model.fmt
    if sum_mode == "exact" and adder == "thermometer" and not thermometer_allowed(fmt):
        raise CircuitTooLarge(
            f"format {fmt.spec}: the thermometer adder needs max/min_positive below 2^40 "
            f"(a fixed-point range for its THR weights), it is "
            f"2^{fixed_point_bits(fmt):.1f}; use the block-wise adder (exact_adder="
            f"'blockwise' or 'auto'), a narrower format (e.g. paper:e=1,s=1) or --sum "
            f"iterative")
    est = estimate(model, seq_len, sum_mode, adder, iterative=iterative)["total"]
    if est > budget:
        how = f"{sum_mode} sums" + (f", {adder} adder" if sum_mode == "exact"
                                    else f", {iterative} construction")
        narrower = ("a narrower format (e.g. paper:e=1,s=1)" if fmt.num_values > 11
                    else "a narrower format")
        other = {"ac0": ", another construction (--iterative tc0 or tree)",
                 "tc0": ", the tree (--iterative tree)"}.get(iterative, "")
        raise CircuitTooLarge(
            f"estimated size {est:.3g} gates exceeds the budget of {budget} gates "
            f"(format {fmt.spec} has {fmt.num_values} values, n = {seq_len}, "
            f"{how}); use {narrower}{other if sum_mode != 'exact' else ''}, a shorter "
            f"sequence, or a larger --budget")
    return est


def resolve_iterative(model: Model, seq_len: int, sum_mode: str, iterative: str = "auto",
                      budget: int = DEFAULT_BUDGET) -> str:
    """The construction of the iterative sums over positions ("none" in exact mode).

    "auto" picks the constant-depth construction that applies to the format: ``ac0``
    (Theorem 3.1) where the format's rounded-addition monoid is small enough and the
    estimate fits ``budget``, else ``tc0`` (Theorem 3.2) for fixed point, else the
    log-depth ``tree``. An explicit choice that cannot be built is refused, one line."""
    if iterative not in ITERATIVE:
        raise CotsimInputError(f"iterative construction {iterative!r}: expected one of "
                               f"{', '.join(ITERATIVE)}")
    if sum_mode == "exact":
        return "none"
    fmt = model.fmt
    if iterative == "tc0" and not fmt.is_fixed_point:
        raise CotsimInputError(
            f"format {fmt.spec}: --iterative tc0 (Theorem 3.2) needs a fixed-point format "
            "(paper:e=0,s=S); with exponent bits the paper leaves TC0 open. Use ac0 (small "
            "formats) or tree")
    if iterative in ("ac0", "auto"):
        from .monoid import MAX_STATES, MONOID_LIMIT
        from .sums_ac0 import ac0_feasible

        feasible = ac0_feasible(fmt)
        if iterative == "ac0" and not feasible:
            raise CotsimInputError(
                f"format {fmt.spec}: --iterative ac0 (Theorem 3.1) needs the format's "
                f"rounded-addition monoid, and it is out of reach (a paper format of at most "
                f"{MAX_STATES} values whose monoid has at most {MONOID_LIMIT} elements); use "
                "tc0 (fixed point) or tree")
        if iterative == "auto":
            if feasible and estimate(model, seq_len, sum_mode,
                                     iterative="ac0")["total"] <= budget:
                return "ac0"
            return "tc0" if fmt.is_fixed_point else "tree"
    return iterative


#: depth of a lookup table (NOT, AND, OR) and of an exact threshold sum (table + 2 THR)
TABLE_DEPTH, EXACT_SUM_DEPTH = 3, 5


def depth_bound(model: Model, seq_len: int, sum_mode: str, adder: str = "auto",
                iterative: str = "tree") -> int:
    """An upper bound on the compiled circuit's depth, stage by stage, before any
    folding. It does not depend on ``seq_len`` in exact mode (for a given adder; "auto"
    resolves as ``compile_model`` does) nor for the ``tc0`` and ``ac0`` iterative
    constructions; for ``tree`` it grows as 6 ceil(log2 n) per layer (the two sums over
    positions, Z and o). The stable softmax adds ``STABLE_EXTRA_DEPTH`` per layer."""
    T = TABLE_DEPTH
    if sum_mode == "exact":
        adder = resolve_adder(model, seq_len, sum_mode, adder)
        S = BLOCKWISE_SUM_DEPTH if adder == "blockwise" else EXACT_SUM_DEPTH

        def dims(N: int) -> int:
            return S

        def pos(N: int) -> int:
            return S
    else:
        def dims(N: int) -> int:
            return T * N

        if iterative == "tc0":
            from .sums_tc0 import TC0_SUM_DEPTH

            def pos(N: int) -> int:
                return TC0_SUM_DEPTH
        elif iterative == "ac0":
            from .sums_ac0 import ac0_depth_bound
            A = ac0_depth_bound(model.fmt)

            def pos(N: int) -> int:
                return A
        else:
            def pos(N: int) -> int:
                return T * N if N <= 2 else T + T * math.ceil(math.log2(N))
    n, d, k, f, H = seq_len, model.d_model, model.d_head, model.d_ff, model.heads
    layer = (dims(d) + dims(k) + pos(n) + T + pos(n) + dims(k)
             + (dims(H) if H > 1 else 0) + T + dims(d) + T + dims(f) + T)
    if model.softmax == "stable":  # the row maximum before Z's terms (softmax_max)
        layer += STABLE_EXTRA_DEPTH
    argmax = T + 3  # comparisons, AND, OR, the AND with NOT(undefined)
    return T + model.n_layers * layer + dims(d) + argmax
