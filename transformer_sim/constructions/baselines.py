"""No-CoT baselines: transformers that count ones by uniform attention, and where finite
precision breaks them.

The prompt is the n input bits x_1 .. x_n (tokens 0 and 1, no BOS). The one attention head
has Wq = Wk = 0, so every score is 0, every e_ij = [exp(0)] = 1, and at the last position

    Z_n = the sum of n ones,  a = [1 / Z_n],  o = sum_j [a * x_j] = S_c,

where c is the number of ones and S_c is the c-fold sum a + a + ... + a in the model's sum
mode (a zero term changes no partial sum, so o depends on c only). The construction
computes Z_n, a and S_0 .. S_n in the format, exactly as the forward pass will, and
decodes o with them:

- ``majority`` (x has more ones than zeros, 2c > n): no MLP; the read-out gives token 1
  the logit o and token 0 the constant S_floor(n/2). A tie goes to token 0. Correct for
  every input iff S_{k+1} > S_k at k = floor(n/2).
- ``count`` (the token id is c): MLP units relu([o - S_k]) and relu([S_k - o]) for every
  count value k = 0..n write D_k = -|o - S_k| (one of the two is 0, so D_k is exact up to
  the rounding of o - S_k, which is 0 iff o = S_k). The read-out is logit_k = D_k: 0 at
  k = c, < 0 elsewhere, unless S_k = S_c for some k != c (then the lowest id wins).
- ``parity`` (two layers): layer 1 is count's; layer 2 (no attention) turns each D_k into
  relu([D_k + delta]) in {0, delta}, delta = the smallest nonzero |[S_c - S_k]|, and sums the
  odd and the even ones into the logits of tokens 1 and 0.

So each task is exact exactly while the S_k it needs are distinct. When is that lost?
`uniform_attention_limit`: the sum of n ones in the format is n until the first integer
N the format cannot represent: Z_N = [Z_{N-1} + 1] = [N] != N. For a binary format with p
significant bits, N = 2^p + 1 (2^p + 1 is halfway between 2^p and 2^p + 2 and rounds to
2^p), unless B is smaller, then N = floor(B) + 1. bfloat16 (p = 8): N = 257 -- uniform
attention is exact over at most 256 tokens. From N on, Z is stuck at 2^p, a = 2^-p,
S_c = c 2^-p up to S_{2^p} = 1 and S_{2^p + 1} = [1 + 2^-p] = 1: the counts 2^p and 2^p + 1
collide, so ``count`` and ``parity`` fail for every n >= N (IEEE formats). ``majority``
lasts longer (to n = 2^(p+1) - 1): it only needs the counts around n/2 apart. In a
fixed-point format Z clips at B, but a = [1/B] keeps S_c = c a exact until c a > B.
`first_failure` finds the first failing n by running the generic forward pass.

With O(log n) precision the tasks are exact: `log_precision_format(n)` gives an IEEE format
with ceil(log2(n + 1)) stored mantissa bits (p >= log2(n + 1) + 1 > log2 n, so N > n).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..floatformat import FloatFormat
from ..forward import forward_full
from ..model import Layer, Model

TASKS = ("count", "parity", "majority")


class BaselineError(ModelError):
    """Bad input to a baseline (unknown task, bad length, unusable format)."""


def task_answer(task: str, bits: Sequence[int]) -> int:
    """The right answer (a token id) of ``task`` on ``bits``."""
    c, n = int(sum(bits)), len(bits)
    if task == "count":
        return c
    if task == "parity":
        return c % 2
    if task == "majority":
        return int(2 * c > n)
    raise BaselineError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")


def uniform_attention_limit(fmt: FloatFormat | str) -> int:
    """The number of tokens N at which uniform attention first breaks in ``fmt``: the sum
    of n ones, [exp(0)] each, is n for every n < N and not for n = N (Z stops counting).

    This is the smallest positive integer the format cannot represent: while Z_{n-1} = n-1,
    Z_n = [n - 1 + 1] = [n] (in both sum modes). In binary formats it is 2^k + 1 for the
    first k where the spacing of the binade [2^k, 2^(k+1)) exceeds 1, or floor(B) + 1
    (clipping), whichever is smaller; both candidates are checked in the format itself.
    bfloat16: 257. float16: 2049. float64: 2^53 + 1.
    """
    fmt = fmt if isinstance(fmt, FloatFormat) else FloatFormat.parse(fmt)
    if fmt.family == "float64":
        return 2 ** 53 + 1  # 53 significant bits; the candidates below need float64 spares
    B = float(fmt.max_value)
    cands = {2.0 ** k + 1 for k in range(53)}  # exact in float64; formats have p <= 52
    if B < 2.0 ** 53:
        cands.add(float(math.floor(B) + 1))
    arr = np.array(sorted(cands))
    bad = fmt.round(arr) != arr
    if not bad.any():
        raise BaselineError(f"format {fmt.spec}: every integer up to 2^52 + 1 is exact")
    return int(arr[np.argmax(bad)])


def attention_sums(fmt: FloatFormat, n: int,
                   sum_mode: str = "iterative") -> tuple[float, float, np.ndarray]:
    """(Z_n, a, S) as the forward pass computes them at the last of n positions:
    Z_n = sum of n [exp(0)], a = [1 / Z_n], S[c] = the sum of c copies of a."""
    one = float(fmt.exp(np.array([0.0]))[0])
    if one != 1.0:
        raise BaselineError(f"format {fmt.spec}: [exp(0)] = {one:g}, not 1")
    Z = fmt.sum(np.ones(n), sum_mode)
    a = float(fmt.div(1.0, Z))
    S = np.zeros(n + 1)
    if sum_mode == "iterative":
        for c in range(1, n + 1):
            S[c] = float(fmt.add(S[c - 1], a))
    else:
        S[1:] = [fmt.sum(np.full(c, a), "exact") for c in range(1, n + 1)]
    return Z, a, S


@dataclass(frozen=True)
class Baseline:
    """A no-CoT baseline for ``task`` on n bits: its model, and the constants it uses."""
    task: str
    n: int
    model: Model
    Z: float
    a: float
    S: np.ndarray

    def answer(self, bits: Sequence[int]) -> int:
        """The model's answer: the argmax token of one generic forward pass."""
        if len(bits) != self.n:
            raise BaselineError(f"this baseline reads {self.n} bits, got {len(bits)}")
        return forward_full(self.model, list(bits)).token


def build_baseline(task: str, n: int, fmt: FloatFormat | str,
                   sum_mode: str = "iterative") -> Baseline:
    """The uniform-attention baseline of ``task`` (count, parity, majority) on n bits."""
    if task not in TASKS:
        raise BaselineError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise BaselineError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    fmt = fmt if isinstance(fmt, FloatFormat) else FloatFormat.parse(fmt)
    Z, a, S = attention_sums(fmt, n, sum_mode)
    X, M = 0, 1  # the token's bit, the attention's mean
    if task == "majority":
        d, V, f = 2, 2, 1
        TE, PE = np.zeros((2, d)), np.zeros((n, d))
        TE[1, X] = 1.0
        layer = _uniform_layer(d, f, X, M)
        Wout = np.zeros((V, d))
        Wout[1, M] = 1.0
        bout = np.array([S[n // 2], 0.0])
        layers = (layer,)
    else:
        D = 2  # D_k at D + k
        P = D + n + 1  # parity logits at P, P + 1
        d = P + (2 if task == "parity" else 0)
        f = 2 * (n + 1)
        TE, PE = np.zeros((2, d)), np.zeros((n, d))
        TE[1, X] = 1.0
        first = _uniform_layer(d, f, X, M)
        W1, b1, W2 = first.W1.copy(), first.b1.copy(), first.W2.copy()
        for k in range(n + 1):
            W1[2 * k, M], b1[2 * k] = 1.0, -S[k]  # [o - S_k]
            W1[2 * k + 1, M], b1[2 * k + 1] = -1.0, S[k]  # [S_k - o]
            W2[D + k, 2 * k] = W2[D + k, 2 * k + 1] = -1.0
        first = Layer(Wq=first.Wq, Wk=first.Wk, Wv=first.Wv, Wo=first.Wo, W1=W1, b1=b1,
                      W2=W2, b2=first.b2)
        if task == "count":
            V = n + 1
            TE = np.zeros((V, d))
            TE[1, X] = 1.0
            Wout = np.zeros((V, d))
            Wout[np.arange(V), D + np.arange(V)] = 1.0
            layers = (first,)
        else:
            delta = _min_gap(fmt, S)
            V = 2
            W1 = np.zeros((f, d))
            b1 = np.zeros(f)
            W2 = np.zeros((d, f))
            for k in range(n + 1):
                W1[k, D + k], b1[k] = 1.0, delta  # relu([D_k + delta]): delta iff D_k = 0
                W2[P + k % 2, k] = 1.0
            z = np.zeros((1, 1, d))
            second = Layer(Wq=z, Wk=z, Wv=z, Wo=np.zeros((1, d, 1)), W1=W1, b1=b1, W2=W2,
                           b2=np.zeros(d))
            Wout = np.zeros((V, d))
            Wout[0, P], Wout[1, P + 1] = 1.0, 1.0
            layers = (first, second)
        bout = np.zeros(V)
    model = Model(fmt=fmt, sum_mode=sum_mode, TE=TE, PE=PE, Wout=Wout, bout=bout,
                  layers=layers)
    return Baseline(task=task, n=n, model=model, Z=Z, a=a, S=S)


def _uniform_layer(d: int, f: int, X: int, M: int) -> Layer:
    """Attention with all scores 0 copying the mean of the bits into M; an idle MLP."""
    Wv = np.zeros((1, 1, d))
    Wv[0, 0, X] = 1.0
    Wo = np.zeros((1, d, 1))
    Wo[0, M, 0] = 1.0
    return Layer(Wq=np.zeros((1, 1, d)), Wk=np.zeros((1, 1, d)), Wv=Wv, Wo=Wo,
                 W1=np.zeros((f, d)), b1=np.zeros(f), W2=np.zeros((d, f)), b2=np.zeros(d))


def _min_gap(fmt: FloatFormat, S: np.ndarray) -> float:
    """The smallest nonzero |[S_c - S_k]| (at least one format value when all S agree)."""
    diff = np.abs(fmt.sub(S[:, None], S[None, :]))
    nz = diff[diff > 0]
    return float(nz.min()) if nz.size else float(fmt.min_positive)


def log_precision_format(n: int) -> FloatFormat:
    """An IEEE format with O(log n) bits under which the baselines are exact on n bits:
    m = ceil(log2(n + 1)) stored mantissa bits (so 2^(m+1) + 1 > n), and enough exponent
    bits that n and 1/n are normal."""
    m = max(1, math.ceil(math.log2(n + 1)))
    e = max(2, math.ceil(math.log2(m + 3)) + 1)
    return FloatFormat.ieee(e, m)


@dataclass(frozen=True)
class Failure:
    """A wrong answer of a baseline, found by running its forward pass."""
    task: str
    n: int
    bits: tuple[int, ...]
    got: int
    want: int


def check_baseline(base: Baseline, counts: Sequence[int] | None = None,
                   seed: int = 0) -> Failure | None:
    """Run the forward pass on one input per count c (``counts``, default all 0..n, most
    ones first), the c ones at seeded random places; return the first wrong answer."""
    n = base.n
    rng = np.random.default_rng(seed + n)
    for c in (range(n, -1, -1) if counts is None else counts):
        bits = np.zeros(n, dtype=np.int64)
        bits[rng.permutation(n)[:c]] = 1
        got, want = base.answer(bits.tolist()), task_answer(base.task, bits.tolist())
        if got != want:
            return Failure(base.task, n, tuple(int(b) for b in bits), got, want)
    return None


def first_failure(fmt: FloatFormat | str, task: str, start: int = 1, stop: int | None = None,
                  sum_mode: str = "iterative") -> Failure | None:
    """The first n >= ``start`` (up to ``stop``) at which the baseline of ``task`` gives a
    wrong answer on some input, with that input: each n is built and run through the
    generic forward pass on one input per count.

    The default ``stop`` is a bound that holds: o is a value >= 0 of the format and S_c
    only grows until it sticks (iterative sums), so with V values >= 0 the counts collide
    for n >= V, and majority (which needs S_{n/2 + 1} > S_{n/2}) fails for n >= 2V. For
    formats too big to enumerate it is 4 * the uniform-attention limit."""
    fmt = fmt if isinstance(fmt, FloatFormat) else FloatFormat.parse(fmt)
    if stop is None:
        stop = fmt.num_values + 2 if fmt.num_values <= 1 << 16 else \
            4 * uniform_attention_limit(fmt)
    for n in range(max(1, start), stop + 1):
        fail = check_baseline(build_baseline(task, n, fmt, sum_mode))
        if fail is not None:
            return fail
    return None


def limits_table(formats: Sequence[str], tasks: Sequence[str] = TASKS,
                 max_n: int = 64) -> list[dict]:
    """One row per format: the uniform-attention limit, and each task's first failing n by
    `first_failure` (None when it is beyond ``max_n``, which is not searched)."""
    rows = []
    for spec in formats:
        fmt = FloatFormat.parse(spec)
        row = {"format": fmt.spec, "limit": uniform_attention_limit(fmt)}
        for task in tasks:
            fail = first_failure(fmt, task, stop=max_n)
            row[task] = None if fail is None else fail.n
        rows.append(row)
    return rows
