"""AC0 against TC0: counting without CoT needs precision that grows with n.

The no-CoT baselines (`transformer_sim.constructions.baselines`) count the ones of their
n input bits by uniform attention (all scores 0): at the last position
Z = [1 + 1 + ... + 1], a = [1/Z], and the head's output is S_c, the sum of c copies of a,
where c is the number of ones. ``count`` and ``parity`` decode c from S_c, so they are
exact exactly while the values S_0 .. S_n the format produces are distinct (parity: while
no two counts of different parity collide); ``majority`` needs S_(k+1) > S_k at
k = floor(n/2).

The check:

1. O(log n) precision: at each n of a ladder, the baselines in `log_precision_format(n)`
   (ceil(log2(n + 1)) mantissa bits) answer every count correctly (one input per count,
   which covers every input, as S_c depends on c only).
2. Constant precision: for each fixed format and task, n* is computed from the format
   alone (the first n whose constants S collide, by the format's own arithmetic); the
   generic forward pass, run at every n = 1 .. n*, must be exact below n* and wrong at
   n*, and the failing input is shown. For IEEE formats the count/parity threshold must
   equal the uniform-attention limit N (the first integer the format cannot hold,
   2^p + 1 for p significant bits).
3. bfloat16: N derived from the format (`uniform_attention_limit`) must equal the first n
   at which an independent bfloat16 summation (ml_dtypes) of n ones is not n, and the
   count baseline must be exact on the all-ones input at n = N - 1 and wrong at n = N.
   (N = 257: uniform attention in bfloat16 is exact over at most 256 tokens.) The paper
   remarks on bfloat16 with 257 elements; this sharper figure for uniform attention
   under iterative sums (exact at every n <= 256, count and parity wrong from n = 257 on)
   is cotsim's own result, derived from the format, not taken from the paper.

Beside it, each row shows how many positions a softmax in its format can weigh above zero
at all: floor(min(1, B) / smallest positive), after Li and Cotterell (2025)
(`FloatFormat.softmax_positions`): bfloat16 2^133, far beyond its 256-token counting
limit; float8_e4m3fn 512; float4_e2m1fn 2. A note lists it for every named format.

A constant-precision format has finitely many values, so any such counter breaks at some
n: the finite-precision reason why parity and counting are outside what these
transformers compute without CoT (AC0), while O(log n) bits reach TC0. A finite
experiment, not a proof.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .base import FAILS, HOLDS, CheckResult, Table, draw_figures, progress

NAME = "precision_limits"
CLAIM = ("AC0 vs TC0 (precision): the no-CoT uniform-attention count/parity transformers are "
         "exact at O(log n) precision for every n tried, and fail at constant precision "
         "exactly at the threshold n* computed from the format (shown on the first failing "
         "n); in bfloat16 uniform attention breaks at N = 257 tokens (cotsim's own figure under "
         "iterative sums; the paper remarks on 257 elements), derived from the "
         "format and confirmed by ml_dtypes and the forward pass.")

QUICK_LOG_NS = (8, 16, 32)
FULL_LOG_NS = (8, 16, 32, 64, 100)
QUICK_FORMATS = ("e5m2", "ieee:e=4,m=3", "paper:e=0,s=3")
FULL_FORMATS = ("e5m2", "ieee:e=4,m=3", "paper:e=0,s=3", "paper:e=1,s=2", "paper:e=0,s=4")
TASKS = ("count", "parity", "majority")
#: how far `collision_threshold` looks
MAX_SEARCH = 4096
BIG = "bfloat16"


# -- the threshold, from the format alone ---------------------------------------------------
def collides(task: str, S: np.ndarray, n: int) -> bool:
    """Whether the decoding constants S_0 .. S_n of the n-bit baseline of ``task`` fail
    to tell apart the answers."""
    if task == "count":
        return len(np.unique(S)) < len(S)
    if task == "parity":
        even, odd = set(S[0::2].tolist()), set(S[1::2].tolist())
        return bool(even & odd)
    if task == "majority":
        k = n // 2
        return not S[k + 1] > S[k]
    raise ValueError(f"unknown task {task!r}")


def collision_threshold(fmt, task: str, stop: int = MAX_SEARCH) -> int | None:
    """n* for ``task`` in ``fmt``: the first n whose constants (Z_n, a = [1/Z_n], S_c,
    computed in the format's arithmetic, as the forward pass will) collide; None when
    there is none up to ``stop``."""
    from transformer_sim.constructions.baselines import attention_sums

    for n in range(1, stop + 1):
        _, _, S = attention_sums(fmt, n)
        if collides(task, S, n):
            return n
    return None


def bf16_limit_ml_dtypes(cap: int = 1 << 20) -> int:
    """The first n at which adding n ones in bfloat16, rounding after every addition, is
    not n: computed with ml_dtypes, independently of FloatFormat."""
    import ml_dtypes

    bf = ml_dtypes.bfloat16
    z = bf(0)
    for n in range(1, cap + 1):
        z = bf(np.float32(z) + np.float32(1))
        if float(z) != n:
            return n
    raise AssertionError(f"bfloat16 counted past {cap}")


@dataclass(frozen=True)
class Found:
    n: int | None
    bits: tuple[int, ...] | None
    got: int | None
    want: int | None


def _search(fmt, task: str, stop: int) -> Found:
    from transformer_sim.constructions.baselines import first_failure

    f = first_failure(fmt, task, start=1, stop=stop)
    return Found(None, None, None, None) if f is None else Found(f.n, f.bits, f.got, f.want)


def positions_text(fmt) -> str:
    """`FloatFormat.softmax_positions`, as 2^k when it is a large power of two."""
    n = fmt.softmax_positions()
    return f"2^{n.bit_length() - 1}" if n > 4096 and n & (n - 1) == 0 else str(n)


def named_positions_note() -> str:
    """One line: the softmax width of every named format (NAMES)."""
    from transformer_sim import FloatFormat
    from transformer_sim.floatformat import NAMES

    items = ", ".join(f"{name} {positions_text(FloatFormat.parse(name))}" for name in NAMES)
    return ("Softmax width, after Li and Cotterell (2025): a softmax can weigh at most "
            "floor(min(1, B) / smallest positive) positions above zero (each weight is at "
            "least the smallest positive value, and they sum to about 1, or at most B when "
            f"B < 1): {items}.")


def _bits_text(bits: Sequence[int]) -> str:
    c = int(sum(bits))
    s = "".join(map(str, bits))
    return s if len(s) <= 24 else f"{c} ones of {len(bits)}"


def run(quick: bool = True, log_ns: Sequence[int] | None = None,
        formats: Sequence[str] | None = None, tasks: Sequence[str] = TASKS,
        predict: Callable | None = None, log_format: Callable | None = None,
        big: str | None = BIG) -> CheckResult:
    """Options for tests: ``predict(fmt, task) -> n*`` replaces the threshold claimed
    from the format, ``log_format(n) -> FloatFormat`` the O(log n) format, ``formats`` the
    constant formats searched, ``big`` the format of step 3 (None skips it)."""
    from transformer_sim import FloatFormat
    from transformer_sim.constructions.baselines import (build_baseline, check_baseline,
                                                         log_precision_format,
                                                         uniform_attention_limit)

    log_ns = list(log_ns or (QUICK_LOG_NS if quick else FULL_LOG_NS))
    formats = list(formats or (QUICK_FORMATS if quick else FULL_FORMATS))
    predict = predict or collision_threshold
    log_format = log_format or log_precision_format
    rows, problems, curves = [], [], []

    # 1. O(log n) precision
    for n in log_ns:
        fmt = log_format(n)
        fmt = fmt if isinstance(fmt, FloatFormat) else FloatFormat.parse(fmt)
        N = uniform_attention_limit(fmt)
        for task in ("count", "parity"):
            progress(f"{NAME}: {task} at n = {n} in {fmt.spec} (O(log n) precision)")
            fail = check_baseline(build_baseline(task, n, fmt))
            rows.append(("O(log n)", fmt.spec, task, n, fmt.mantissa_bits, N, f"> {n}",
                         "none" if fail is None else fail.n, "-" if fail is None else
                         _bits_text(fail.bits), fail is None, positions_text(fmt)))
            if fail is not None:
                problems.append(f"O(log n) precision: {task} at n = {n} in {fmt.spec} answers "
                                f"{fail.got} (right: {fail.want}) on {_bits_text(fail.bits)}")

    # 2. constant precision: the forward pass fails exactly at the format's n*
    for spec in formats:
        fmt = FloatFormat.parse(spec)
        N = uniform_attention_limit(fmt)
        for task in tasks:
            claim = predict(fmt, task)
            if claim is None:
                rows.append(("constant", fmt.spec, task, "-", fmt.mantissa_bits, N,
                             f"> {MAX_SEARCH}", "not searched", "-", True,
                             positions_text(fmt)))
                continue
            progress(f"{NAME}: {task} in {fmt.spec}, n = 1 .. {claim}")
            found = _search(fmt, task, claim)
            ok = found.n == claim
            rows.append(("constant", fmt.spec, task, claim, fmt.mantissa_bits, N, claim,
                         found.n if found.n is not None else f"none up to {claim}",
                         _bits_text(found.bits) + f" -> {found.got} (right {found.want})"
                         if found.bits else "-", ok, positions_text(fmt)))
            curves.append((fmt.spec, task, claim))
            if found.n is None:
                problems.append(f"{fmt.spec} {task}: the format predicts the first failure at "
                                f"n* = {claim}, but the forward pass is exact for every "
                                f"n <= {claim}")
            elif found.n != claim:
                problems.append(f"{fmt.spec} {task}: the forward pass first fails at n = "
                                f"{found.n} (on {_bits_text(found.bits)}: {found.got}, right "
                                f"{found.want}), the format predicts n* = {claim}")
            if fmt.family == "ieee" and task in ("count", "parity") and claim != N:
                problems.append(f"{fmt.spec} {task}: threshold {claim} differs from the "
                                f"uniform-attention limit N = {N}")

    # 3. bfloat16
    notes = []
    if big:
        fmt = FloatFormat.parse(big)
        N = uniform_attention_limit(fmt)
        p = fmt.mantissa_bits + 1
        progress(f"{NAME}: {fmt.spec}: ml_dtypes summation, forward passes at n = {N - 1}, {N}")
        is_bf16 = (fmt.family, fmt.e, fmt.m) == ("ieee", 8, 7)
        indep = bf16_limit_ml_dtypes() if is_bf16 else None
        label = f"bfloat16 ({fmt.spec})" if is_bf16 else fmt.spec
        below = build_baseline("count", N - 1, fmt).answer([1] * (N - 1))
        at = build_baseline("count", N, fmt).answer([1] * N)
        ok = (indep in (None, N)) and below == N - 1 and at != N
        rows.append(("constant", label, "count", N, fmt.mantissa_bits, N, N,
                     N if at != N else f"none at {N}",
                     f"{N} ones -> {at} (right {N}); {N - 1} ones -> {below}", ok,
                     positions_text(fmt)))
        seen = indep if indep is not None else "(not run)"
        notes.append(f"{label}: p = {p} significant bits, so 2^p + 1 = {2 ** p + 1}; "
                     f"uniform_attention_limit = {N}; ml_dtypes summation of ones first "
                     f"misses at n = {seen}; the count baseline answers {below} on "
                     f"{N - 1} ones and {at} on {N} ones.")
        if indep is not None and indep != N:
            problems.append(f"{label}: the format gives N = {N}, an independent "
                            f"ml_dtypes summation gives {indep}")
        if below != N - 1:
            problems.append(f"{label}: the count baseline is wrong below the limit: "
                            f"{below} on {N - 1} ones")
        if at == N:
            problems.append(f"{label}: the count baseline is still right at n = N = {N}")
    table = Table(("precision", "format", "task", "n", "mantissa bits (paper: 2s)",
                   "uniform-attention "
                   "limit N", "predicted first failure n*", "first failing n (forward pass)",
                   "failing input -> answer", "as predicted",
                   "softmax positions (Li and Cotterell)"), rows)
    notes += ["Each n is run through the generic forward pass on one input per count c "
              "(the c ones at seeded random places); as the attention output depends on c "
              "only, that covers every input of length n.",
              "n* is computed from the format alone: the first n at which the constants "
              "S_0 .. S_n of the baseline (Z_n = the sum of n ones, a = [1/Z_n], S_c = the "
              "sum of c copies of a, all rounded as the forward pass rounds) collide for "
              "the task. In IEEE formats it is N = 2^p + 1 for count and parity (Z stops "
              "at 2^p); in fixed point Z clips early but S_c = c [1/B] stays exact until it "
              "reaches B, so the counts fail later than N.",
              "O(log n) rows: log_precision_format(n) has ceil(log2(n + 1)) stored mantissa "
              "bits, so N = 2^(m+1) + 1 > n.",
              named_positions_note()]
    figures, captions = draw_figures(_figures, curves, notes=notes)
    if problems:
        return CheckResult(NAME, CLAIM, FAILS, "; ".join(problems), table, figures, captions,
                           tuple(notes), quick)
    reason = (f"O(log n) precision: count and parity exact at n = {', '.join(map(str, log_ns))}; "
              f"constant precision: the forward pass first fails exactly at the n* computed "
              f"from each of {len(formats)} formats"
              + (f"; {label}: uniform attention breaks at N = {N} (the format"
                 + (", ml_dtypes" if indep is not None else "")
                 + " and the forward pass agree)" if big else ""))
    return CheckResult(NAME, CLAIM, HOLDS, reason, table, figures, captions, tuple(notes),
                       quick)


def _figures(curves: list[tuple[str, str, int]]) -> tuple[dict, dict]:
    """Distinct decodable counts against n for the count task of each format searched."""
    from transformer_sim import FloatFormat
    from transformer_sim.constructions.baselines import attention_sums

    from .svg import line_chart

    series = []
    top = max((c for _, t, c in curves if t == "count"), default=0)
    if not top:
        return {}, {}
    ns = list(range(1, int(top * 1.5) + 2))
    for spec, task, _ in curves:
        if task != "count":
            continue
        fmt = FloatFormat.parse(spec)
        series.append((spec, ns, [len(np.unique(attention_sums(fmt, n)[2])) for n in ns]))
    series.append(("n + 1 (all counts)", ns, [n + 1 for n in ns], "dashed"))
    name = "distinct_counts_vs_n.svg"
    svg = line_chart(series, "Counts a uniform-attention head can tell apart", "n (bits)",
                     "distinct values S_0..S_n")
    return {name: svg}, {name: "Distinct attention outputs S_c (c = 0..n) at the last "
                         "position, per constant format. Counting is exact while the curve "
                         "follows n + 1; it leaves that line at the format's n*, and "
                         "then stays bounded, since the format has finitely many values."}


if __name__ == "__main__":
    import sys

    from .base import main
    sys.exit(main(NAME))
