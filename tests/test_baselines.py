"""No-CoT baselines: uniform attention counts exactly below the format's limit, and the
generic forward pass demonstrably fails just beyond it."""
from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from circuits.errors import CotsimInputError
from transformer_sim.constructions.baselines import TASKS, build_baseline, check_baseline, \
    first_failure, log_precision_format, task_answer, uniform_attention_limit
from transformer_sim.cot import run_cot
from transformer_sim.floatformat import FloatFormat



def first_stuck_sum(dtype) -> int:
    """Independent oracle: add ones in ``dtype`` (NumPy / ml_dtypes arithmetic) until the
    running sum is no longer the number of terms."""
    one, z = dtype(1), dtype(0)
    n = 0
    while True:
        n += 1
        z = dtype(z + one)
        if float(z) != n:
            return n


@pytest.mark.parametrize("spec, dtype", [
    ("bfloat16", ml_dtypes.bfloat16), ("float16", np.float16), ("e5m2", ml_dtypes.float8_e5m2),
    ("ieee:e=4,m=3", ml_dtypes.float8_e4m3fn), ("ieee:e=8,m=10", np.float16),
])
def test_limit_matches_ml_dtypes_summation(spec, dtype):
    if spec == "ieee:e=8,m=10":  # same significand as float16: the exponent does not matter
        assert uniform_attention_limit(spec) == first_stuck_sum(np.float16)
        return
    assert uniform_attention_limit(spec) == first_stuck_sum(dtype)


def test_bfloat16_limit_is_257():
    assert uniform_attention_limit(FloatFormat.parse("bfloat16")) == 257
    # 256 + 1 is a tie between 256 and 258 and goes to the even significand
    b = ml_dtypes.bfloat16
    assert float(b(256) + b(1)) == 256.0


@pytest.mark.parametrize("spec", ["paper:e=0,s=1", "paper:e=0,s=3", "paper:e=0,s=4",
                                  "paper:e=1,s=2", "paper:e=2,s=1", "paper:e=3,s=1",
                                  "paper:e=3,s=2"])
def test_limit_of_paper_formats(spec):
    """Oracles: the smallest positive integer missing from the enumerated values, and the
    iterative sum of ones computed by the format's own addition."""
    F = FloatFormat.parse(spec)
    values = set(F.values().tolist())
    missing = next(k for k in range(1, 10**6) if float(k) not in values)
    assert uniform_attention_limit(F) == missing
    z, n = 0.0, 0
    while True:
        n += 1
        z = float(F.add(z, 1.0))
        if z != n:
            break
    assert n == missing


def test_limit_of_float64():
    assert uniform_attention_limit("float64") == 2**53 + 1
    assert float(2**53) + 1.0 == float(2**53)


def test_forward_pass_attention_weight_beyond_the_limit():
    """In bfloat16 the last position's weights over 300 tokens are 1/256, not [1/300]."""
    base = build_baseline("majority", 300, "bfloat16")
    trace = run_cot(base.model, [1, 0] * 150, 1, record_attention=True)
    a = trace.attention[-1][0, 0]
    assert np.all(a == 2.0**-8)
    assert float(ml_dtypes.bfloat16(1 / 300)) != 2.0**-8
    assert base.Z == 256.0


@pytest.mark.parametrize("spec", ["e5m2", "ieee:e=4,m=3"])
def test_count_and_parity_exact_below_limit_and_fail_at_it(spec):
    """first_failure scans n = 1, 2, ... with one input per count through the forward pass:
    every n below the limit is exact, and the limit fails (IEEE formats)."""
    N = uniform_attention_limit(spec)
    for task in ("count", "parity"):
        fail = first_failure(spec, task)
        assert fail is not None and fail.n == N
        assert fail.want == task_answer(task, fail.bits) != fail.got
        assert sum(fail.bits) == N  # the all-ones input: N ones look like N - 1


@pytest.mark.parametrize("spec", ["e5m2", "ieee:e=4,m=3"])
def test_majority_lasts_to_twice_the_exact_sum(spec):
    N = uniform_attention_limit(spec)
    fail = first_failure(spec, "majority")
    assert fail is not None and fail.n == 2 * (N - 1)
    # from N ones on, the sum is stuck at the threshold S_{N-1}: a majority read as a tie
    assert sum(fail.bits) >= N and (fail.got, fail.want) == (0, 1)
    assert check_baseline(build_baseline("majority", fail.n, spec), counts=[N - 1]) is None


def fixed_point_count_failure(s: int) -> int:
    """Independent oracle for paper:e=0,s in exact rationals: values k q, q = 2^-(s+1),
    |k| <= 2^(2s) - 1, ties to the smaller magnitude, clipping at B."""
    q = Fraction(1, 2 ** (s + 1))
    B = (2 ** (2 * s) - 1) * q

    def rnd(x: Fraction) -> Fraction:
        if x >= B:
            return B
        k, r = divmod(x, q)
        return (k + (1 if r > q / 2 else 0)) * q

    n = 0
    while True:
        n += 1
        Z = Fraction(0)
        for _ in range(n):
            Z = rnd(Z + 1)
        a = rnd(1 / Z)
        S = [Fraction(0)]
        for _ in range(n):
            S.append(rnd(S[-1] + a))
        if len(set(S)) < len(S):
            return n


def test_fixed_point_count_failure_matches_rational_oracle():
    fail = first_failure("paper:e=0,s=3", "count")
    assert fail.n == fixed_point_count_failure(3) == 17
    assert uniform_attention_limit("paper:e=0,s=3") == 4  # Z clips early; a = [1/B] rescales


@pytest.mark.parametrize("task", TASKS)
def test_order_of_the_ones_does_not_matter(task):
    """The answer depends only on the count (so one input per count covers all inputs)."""
    base = build_baseline(task, 11, "e5m2")  # beyond e5m2's limit: answers may be wrong
    rng = np.random.default_rng(5)
    for c in range(12):
        answers = set()
        for _ in range(4):
            bits = np.zeros(11, dtype=int)
            bits[rng.permutation(11)[:c]] = 1
            answers.add(base.answer(bits.tolist()))
        assert len(answers) == 1


@pytest.mark.parametrize("n", [5, 24, 40])
def test_log_precision_is_exact(n):
    """O(log n) significand bits: every count of n bits is decoded, while the constant e5m2
    has failed long before."""
    fmt = log_precision_format(n)
    assert fmt.m == int(np.ceil(np.log2(n + 1)))
    assert uniform_attention_limit(fmt) > n
    for task in ("count", "parity"):
        assert check_baseline(build_baseline(task, n, fmt)) is None
    if n > 8:
        assert check_baseline(build_baseline("count", n, "e5m2")) is not None


def test_log_precision_majority_long():
    n = 600
    fmt = log_precision_format(n)
    base = build_baseline("majority", n, fmt)
    assert check_baseline(base, counts=[0, 1, 299, 300, 301, 302, 599, 600]) is None
    # bfloat16 (8 bits) fails here: 301 ones read like 300
    bad = check_baseline(build_baseline("majority", n, "bfloat16"), counts=[300, 301])
    assert bad is not None and sum(bad.bits) == 301 and bad.got == 0


def test_bfloat16_majority_boundary():
    ok = build_baseline("majority", 511, "bfloat16")
    assert check_baseline(ok, counts=[0, 255, 256, 257, 511]) is None
    fail = check_baseline(build_baseline("majority", 512, "bfloat16"), counts=[256, 257])
    assert fail is not None and sum(fail.bits) == 257 and (fail.got, fail.want) == (0, 1)


def test_bfloat16_count_boundary():
    """256 bits are counted; at 257 the all-ones input reads as 256 (seconds per pass)."""
    ok = build_baseline("count", 256, "bfloat16")
    assert check_baseline(ok, counts=[256, 255, 129, 0]) is None
    fail = check_baseline(build_baseline("count", 257, "bfloat16"), counts=[257])
    assert fail is not None and (fail.got, fail.want) == (256, 257)


def test_exact_sum_mode_below_limit():
    assert check_baseline(build_baseline("count", 8, "e5m2", sum_mode="exact")) is None


@pytest.mark.parametrize("args, match", [
    (("mode", 3, "e5m2"), "unknown task"), (("count", 0, "e5m2"), "positive integer"),
    (("count", 3, "nope"), "unknown format"),
])
def test_bad_input(args, match):
    with pytest.raises(CotsimInputError, match=match):
        build_baseline(*args)
