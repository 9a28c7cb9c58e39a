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
#: gates the compiler (and the dry run) may make, dead ones included, per gate of budget:
#: the budget bounds the swept circuit
GUARD_SLACK = 4
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


def measured(model: Model, seq_len: int, sum_mode: str, adder: str, iterative: str,
             cap: float, arith: str = "tables") -> tuple[int, bool]:
    """The size estimate the budget uses: the dry run over the model's value domains
    (``dry.dry_estimate``: within 2x of the real size on the benchmarks and on held-out
    random models), stopped past ``cap`` (then False: the count is a lower bound). The
    structural bound ``estimate`` stands in where the dry run does not apply (a stable
    softmax) and, when it is already within ``cap``, for a quick yes."""
    if getattr(model, "softmax", "paper") != "paper":
        est = estimate(model, seq_len, sum_mode, adder, iterative=iterative)["total"]
        return est, True
    from .dry import dry_estimate

    return dry_estimate(model, seq_len, sum_mode, adder, iterative, cap, arith=arith)


def check(model: Model, seq_len: int, sum_mode: str, budget: int,
          adder: str = "thermometer", iterative: str = "tree", arith: str = "tables") -> int:
    """The estimated size (``measured``); raises CircuitTooLarge (one line) when it is
    over ``budget`` or when the thermometer's weights would leave the fixed-point range.
    The advice names only what would be accepted (``advice``)."""
    fmt = model.fmt
    if sum_mode == "exact" and adder == "thermometer" and not thermometer_allowed(fmt):
        raise CircuitTooLarge(
            f"format {fmt.spec}: the thermometer adder needs max/min_positive below 2^40 "
            f"(a fixed-point range for its THR weights), it is "
            f"2^{fixed_point_bits(fmt):.1f}; use the block-wise adder (exact_adder="
            f"'blockwise' or 'auto')")
    est, complete = measured(model, seq_len, sum_mode, adder, iterative, GUARD_SLACK * budget,
                             arith)
    if est > budget:
        how = f"{sum_mode} sums" + (f", {adder} adder" if sum_mode == "exact"
                                    else f", {iterative} construction")
        size = f"{est:.3g}" if complete else f"over {est:.3g}"
        tips = [text for text, _ in advice(model, seq_len, sum_mode, budget, adder,
                                            iterative, est if complete else None, arith)]
        raise CircuitTooLarge(
            f"estimated size {size} gates exceeds the budget of {budget} gates (format "
            f"{fmt.spec} has {fmt.num_values} values, n = {seq_len}, {how}); use "
            + ", or ".join(tips))
    return est


def advice(model: Model, seq_len: int, sum_mode: str, budget: int, adder: str,
           iterative: str, est: int | None, arith: str = "tables") -> list[tuple[str, dict]]:
    """What would be accepted instead, each as (text, the compile options it changes):
    another construction or adder the format allows whose estimate fits, the longest
    shorter sequence that fits, and a budget that covers the estimate (``est``; None
    when the dry run stopped early, then no number is named)."""
    out: list[tuple[str, dict]] = []
    def fits(n: int, a: str, it: str) -> bool:
        return measured(model, n, sum_mode, a, it, GUARD_SLACK * budget, arith)[0] <= budget

    if sum_mode == "exact":
        for other in ("thermometer", "blockwise"):
            if other != adder and (other == "blockwise" or thermometer_allowed(model.fmt)) \
                    and fits(seq_len, other, iterative):
                out.append((f"the {other} adder (--adder {other})", {"adder": other}))
    else:
        for other in ("tree", "tc0", "ac0"):
            if other != iterative and _allowed(model.fmt, other) and fits(seq_len, adder, other):
                out.append((f"--iterative {other}", {"iterative": other}))
    lo, hi = 0, seq_len  # the longest n < seq_len that fits (estimates grow with n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid, adder, iterative) else (lo, mid)
    if lo >= 1:
        out.append((f"a shorter sequence (--seq-len {lo})", {"seq_len": lo}))
    out.append((f"a larger budget (--budget {est})", {"budget": est}) if est is not None
               else ("a larger --budget", {}))
    return out


def _allowed(fmt, construction: str) -> bool:
    """Whether the format admits the iterative construction at all."""
    if construction == "tc0":
        return fmt.is_fixed_point
    if construction == "ac0":
        from .sums_ac0 import ac0_feasible
        return ac0_feasible(fmt)
    return True


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
    others = " or ".join(c for c in ("ac0", "tree") if _allowed(fmt, c))
    if iterative == "tc0" and not fmt.is_fixed_point:
        raise CotsimInputError(
            f"format {fmt.spec}: --iterative tc0 (Theorem 3.2) needs a fixed-point format "
            f"(paper:e=0,s=S); with exponent bits the paper leaves TC0 open. Use {others}")
    if iterative in ("ac0", "auto"):
        from .monoid import MAX_STATES, MONOID_LIMIT
        from .sums_ac0 import ac0_feasible

        feasible = ac0_feasible(fmt)
        if iterative == "ac0" and not feasible:
            raise CotsimInputError(
                f"format {fmt.spec}: --iterative ac0 (Theorem 3.1) needs the format's "
                f"rounded-addition monoid, and it is out of reach (a paper format of at most "
                f"{MAX_STATES} values whose monoid has at most {MONOID_LIMIT} elements); use "
                + " or ".join(c for c in ("tc0", "tree") if _allowed(fmt, c)))
        if iterative == "auto":
            if feasible and measured(model, seq_len, sum_mode, "none", "ac0",
                                     GUARD_SLACK * budget)[0] <= budget:
                return "ac0"
            return "tc0" if fmt.is_fixed_point else "tree"
    return iterative


#: depth of a lookup table (NOT, AND, OR) and of an exact threshold sum (table + 2 THR)
TABLE_DEPTH, EXACT_SUM_DEPTH = 3, 5


def depth_bound(model: Model, seq_len: int, sum_mode: str, adder: str = "auto",
                iterative: str = "tree", arith: str = "tables") -> int:
    """An upper bound on the compiled circuit's depth, stage by stage, before any
    folding. It does not depend on ``seq_len`` in exact mode (for a given adder; "auto"
    resolves as ``compile_model`` does) nor for the ``tc0`` and ``ac0`` iterative
    constructions; for ``tree`` it grows as 6 ceil(log2 n) per layer (the two sums over
    positions, Z and o). The stable softmax adds ``STABLE_EXTRA_DEPTH`` per layer.
    With ``arith`` = "auto" every table stage may be a univariate table followed by one
    arithmetic operation (``fixed_arith.ARITH_DEPTH``, free of s), and a sum over
    positions may read arithmetic products: both grow by ARITH_DEPTH."""
    T = TABLE_DEPTH
    extra = 0
    if arith != "tables":
        from .fixed_arith import ARITH_DEPTH
        extra = ARITH_DEPTH
        T += extra
    if sum_mode == "exact":
        adder = resolve_adder(model, seq_len, sum_mode, adder)
        S = BLOCKWISE_SUM_DEPTH if adder == "blockwise" else EXACT_SUM_DEPTH

        def dims(N: int) -> int:
            return S + extra  # a product term's arithmetic before the sum

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
    P = pos(n) + extra  # a product term's arithmetic before the sum
    layer = (dims(d) + dims(k) + P + T + P + dims(k)
             + (dims(H) if H > 1 else 0) + T + dims(d) + T + dims(f) + T)
    if model.softmax == "stable":  # the row maximum before Z's terms (softmax_max)
        layer += STABLE_EXTRA_DEPTH
    argmax = T + 3  # comparisons, AND, OR, the AND with NOT(undefined)
    return T + model.n_layers * layer + dims(d) + argmax
