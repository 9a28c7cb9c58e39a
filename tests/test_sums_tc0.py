"""The TC0 iterative sum in fixed point (the paper's Theorem 3.2, ``sums_tc0``).

The closed form (the two-sided Skorokhod map as thresholds on suffix sums) against the
sequential clamped walk; the circuit against ``FloatFormat.add`` applied left to right
(iterative rounding), on every input where there are few and on random and adversarial
walks otherwise; its depth (measured) against the n-free bound; the refusals."""
from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits
from circuits.analysis import depth
from circuits.builder import CircuitBuilder
from circuits.errors import CircuitTooLarge, CotsimInputError
from transformer_sim.compile.bundles import Bundle, Expr
from transformer_sim.compile.context import Ctx
from transformer_sim.compile.sums import exact_sum
from transformer_sim.compile.sums_tc0 import (TC0_SUM_DEPTH, clamped_walk_ge, tc0_gates,
                                              tc0_sum, walls)
from transformer_sim.floatformat import FloatFormat

FIXED = ("paper:e=0,s=1", "paper:e=0,s=2", "paper:e=0,s=3")


# -- the closed form against the sequential walk ----------------------------------------

def clamped_walk(a, B: int) -> int:
    """The oracle: x_0 = 0, x_k = clamp(x_(k-1) + a_k, -B, B)."""
    x = 0
    for t in a:
        x = max(-B, min(B, x + t))
    return x


def assert_closed_form(a, B: int) -> None:
    x = clamped_walk(a, B)
    for v in range(-2 * B - 2, 2 * B + 3):  # every v that can matter, and beyond
        assert clamped_walk_ge(a, B, v) == (x >= v), (a, B, v, x)


@st.composite
def adversarial_walks(draw, B: int, max_len: int = 40) -> list[int]:
    """Walks that are hard for the formula: long alternations that never saturate, walks
    that touch a wall without clipping, runs into both walls, and plain random ones;
    the first term (the walk's start) takes every value in [-B, B]."""
    start = draw(st.integers(-B, B))
    kind = draw(st.sampled_from(["alternate", "inside", "walls", "runs", "random"]))
    n = draw(st.integers(0, max_len))
    if kind == "alternate":  # x0, x0 + c, x0, x0 + c, ...: never clipped
        c = draw(st.integers(max(-B, -B - start), min(B, B - start)))
        return [start] + [c if k % 2 == 0 else -c for k in range(n)]
    if kind == "inside":  # any path inside [-B, B], walls touched but never crossed
        a, x = [start], start
        for _ in range(n):
            y = draw(st.integers(max(-B, x - B), min(B, x + B)))
            a.append(y - x)
            x = y
        return a
    if kind == "walls":  # runs of +-B (and near it) into both walls, again and again
        steps = st.integers(max(1, B - 1), B)
        runs = draw(st.lists(st.tuples(st.booleans(), steps, st.integers(1, 4)), max_size=12))
        return [start] + [(s if up else -s) for up, s, k in runs for _ in range(k)]
    if kind == "runs":  # runs of one step: drifts that saturate, then come back
        runs = draw(st.lists(st.tuples(st.integers(-B, B), st.integers(1, 2 * B + 2)),
                             max_size=8))
        return [start] + [s for s, k in runs for _ in range(k)]
    return [start] + draw(st.lists(st.integers(-B, B), max_size=n, min_size=n))


@given(st.integers(1, 15).flatmap(lambda B: st.tuples(st.just(B), st.lists(
    st.integers(-B, B), min_size=1, max_size=40))))
def test_closed_form_random_walks(case):
    B, a = case
    assert_closed_form(a, B)


@settings(max_examples=300)
@given(st.integers(1, 15).flatmap(lambda B: st.tuples(st.just(B), adversarial_walks(B))))
def test_closed_form_adversarial_walks(case):
    B, a = case
    assert_closed_form(a, B)


@pytest.mark.parametrize("B,n", [(1, 7), (2, 5), (3, 4)])
def test_closed_form_every_short_walk(B, n):
    for k in range(1, n + 1):
        for a in itertools.product(range(-B, B + 1), repeat=k):
            assert_closed_form(a, B)


def test_closed_form_long_walks_between_the_walls():
    """100 steps of +-B, wall to wall, clipped at (nearly) every step, and of +-(B - 1)
    in pairs, never clipped once away from the start, from every start."""
    for B in (1, 2, 4):
        for start in range(-B, B + 1):
            assert_closed_form([start] + [B if k % 2 == 0 else -B for k in range(100)], B)
            c = B - 1 if start <= 0 else -(B - 1)
            assert_closed_form([start] + [c if k % 2 == 0 else -c for k in range(100)], B)


# -- the circuit against FloatFormat.add, left to right ---------------------------------

def _bits(codes: np.ndarray, width: int) -> np.ndarray:
    return ((np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(width)) & 1).astype(bool)


@functools.lru_cache(maxsize=None)
def sum_circuit(spec: str, domains: tuple[tuple[float, ...], ...], products: bool,
                fold: bool = True):
    """One tc0_sum over input bundles with the given domains (the whole format where a
    domain is empty); with ``products``, the terms are [x_(2k) * x_(2k+1)] (Expr terms).
    Returns the circuit and the output bundle."""
    fmt = FloatFormat.parse(spec)
    b = CircuitBuilder(strash=fold, fold=fold)
    ctx = Ctx(fmt, b, 10 ** 7)
    ops = []
    for i, dom in enumerate(domains):
        vals = np.array(dom) if dom else fmt.values()
        bits = b.inputs([f"x{i}_{j}" for j in range(fmt.bit_width)])
        ops.append(Bundle(tuple(bits), vals, fmt.encode(vals).astype(np.int64)))
    terms = ([Expr(lambda x, y: fmt.mul(x, y), (ops[k], ops[k + 1]))
              for k in range(0, len(ops), 2)] if products else ops)
    out = tc0_sum(ctx, terms)
    for j, bit in enumerate(out.bits):
        b.output(f"s{j}", bit)
    return b.build(), out


def iterative_oracle(fmt: FloatFormat, picks: np.ndarray, products: bool) -> np.ndarray:
    """((p0 + p1) + p2) + ... by FloatFormat.add, rounding after every addition."""
    terms = fmt.mul(picks[:, 0::2], picks[:, 1::2]) if products else picks
    acc = terms[:, 0]
    for k in range(1, terms.shape[1]):
        acc = fmt.add(acc, terms[:, k])
    return acc


def check_sum(spec: str, domains, picks: np.ndarray, products: bool = False,
              fold: bool = True) -> None:
    """The circuit's output on each row of ``picks`` (one value per operand) decodes to
    the iterative sum; its depth is within the bound."""
    fmt = FloatFormat.parse(spec)
    key = tuple(tuple(np.asarray(d, dtype=float).tolist()) for d in domains)
    c, out = sum_circuit(spec, key, products, fold)
    X = np.concatenate([_bits(fmt.encode(picks[:, i]), fmt.bit_width)
                        for i in range(picks.shape[1])], axis=1)
    Y = circuits.evaluate(c, X)
    got = (Y.astype(np.int64) << np.arange(Y.shape[1])).sum(axis=1)
    want = iterative_oracle(fmt, picks, products)
    assert set(want.tolist()) <= set(out.values.tolist())
    assert np.array_equal(got, fmt.encode(want).astype(np.int64)), spec
    assert depth(c) <= TC0_SUM_DEPTH


def full(fmt: FloatFormat, n: int) -> tuple[tuple[float, ...], ...]:
    return ((),) * n  # every operand over the whole format


@pytest.mark.parametrize("spec,n", [("paper:e=0,s=1", n) for n in range(1, 7)]
                         + [("paper:e=0,s=2", n) for n in (1, 2, 3)])
def test_circuit_every_input(spec, n):
    fmt = FloatFormat.parse(spec)
    picks = np.array(list(itertools.product(fmt.values(), repeat=n)))
    check_sum(spec, full(fmt, n), picks)


@pytest.mark.parametrize("spec", FIXED)
@pytest.mark.parametrize("n", [4, 7, 12])
def test_circuit_adversarial_walks(spec, n):
    """Walks of n terms that alternate without saturating, touch the walls, run into
    both walls, or are random, from every start."""
    fmt = FloatFormat.parse(spec)
    B = walls(fmt)
    q = fmt.min_positive
    rng = np.random.default_rng(n)
    rows = []
    for start in range(-B, B + 1):
        c = int(rng.integers(max(-B, -B - start), min(B, B - start) + 1))
        rows.append([start] + [c if k % 2 == 0 else -c for k in range(n - 1)])
        x, a = start, [start]
        for _ in range(n - 1):  # inside the walls, touching them
            y = int(rng.choice([-B, B, int(rng.integers(max(-B, x - B), min(B, x + B) + 1))]))
            y = max(x - B, min(x + B, y))
            a.append(y - x)
            x = y
        rows.append(a)
        k = int(rng.integers(1, n))
        rows.append([start] + [B] * (k - 1) + [-B] * (n - k))
        rows.append([start] + [-B + 1 if k % 3 else B - 1 for k in range(n - 1)])
    rows += rng.integers(-B, B + 1, size=(2000, n)).tolist()
    rows += (rng.integers(-1, 2, size=(2000, n)) * rng.integers(0, B + 1, size=(2000, 1))).tolist()
    check_sum(spec, full(fmt, n), np.array(rows, dtype=np.float64) * q)


@settings(max_examples=40)
@given(st.sampled_from([(spec, n) for spec in FIXED for n in (5, 9)]).flatmap(
    lambda sn: st.tuples(st.just(sn), st.lists(adversarial_walks(
        walls(FloatFormat.parse(sn[0])), max_len=sn[1] - 1), min_size=1, max_size=20))))
def test_circuit_hypothesis_walks(case):
    """Hypothesis' adversarial walks (cut or padded with zeros to n terms) on one circuit
    per format and length."""
    (spec, n), walks = case
    fmt = FloatFormat.parse(spec)
    rows = np.array([(a + [0] * n)[:n] for a in walks], dtype=np.float64)
    check_sum(spec, full(fmt, n), rows * fmt.min_positive)


@settings(max_examples=40)
@given(st.sampled_from(FIXED), st.integers(1, 12), st.sampled_from([None, 0, -1, 1]),
       st.integers(0, 2 ** 16))
def test_circuit_random_domains(spec, n, least, seed):
    """Terms with few values each (range analysis folds atoms): from the whole format, or
    all >= 0 (the softmax denominator), all >= -q (nearly monotone: not the same walk),
    all <= q."""
    fmt = FloatFormat.parse(spec)
    rng = np.random.default_rng(seed)
    vals = fmt.values()
    q = fmt.min_positive
    pool = (vals if least is None else vals[vals >= least * q] if least <= 0
            else vals[vals <= q])
    domains = [np.unique(rng.choice(pool, size=int(rng.integers(1, 5)))) for _ in range(n)]
    picks = np.stack([rng.choice(d, size=500) for d in domains], axis=1)
    check_sum(spec, domains, picks)


@settings(max_examples=25)
@given(st.sampled_from(FIXED), st.integers(1, 8), st.integers(0, 2 ** 16))
def test_circuit_product_terms(spec, n, seed):
    """Expr terms: [a * b] of two bundles each, fused into the terms' tables."""
    fmt = FloatFormat.parse(spec)
    rng = np.random.default_rng(seed)
    vals = fmt.values()
    domains = [np.unique(rng.choice(vals, size=int(rng.integers(1, 6)))) for _ in range(2 * n)]
    picks = np.stack([rng.choice(d, size=500) for d in domains], axis=1)
    check_sum(spec, domains, picks, products=True)


@pytest.mark.parametrize("spec", FIXED)
def test_circuit_without_folding(spec):
    """The construction does not lean on the builder's folding or hashing."""
    fmt = FloatFormat.parse(spec)
    rng = np.random.default_rng(3)
    B = walls(fmt)
    rows = rng.integers(-B, B + 1, size=(3000, 6)) * rng.integers(0, 2, size=(3000, 6))
    check_sum(spec, full(fmt, 6), rows * fmt.min_positive, fold=False)


@pytest.mark.parametrize("spec", FIXED)
def test_nonnegative_terms_are_the_exact_thermometer(spec):
    """All terms >= 0 (a softmax denominator): min(B, plain sum), the same gates as
    sums.exact_sum's thermometer builds (the exact sum rounded once), and the same
    outputs."""
    fmt = FloatFormat.parse(spec)
    vals = fmt.values()
    nonneg = vals[vals >= 0]
    rng = np.random.default_rng(1)
    n = 6
    circs = []
    for build in (tc0_sum, exact_sum):
        b = CircuitBuilder()
        ctx = Ctx(fmt, b, 10 ** 7)
        terms = [Bundle(tuple(b.inputs([f"x{i}_{j}" for j in range(fmt.bit_width)])), nonneg,
                        fmt.encode(nonneg).astype(np.int64)) for i in range(n)]
        out = build(ctx, terms)
        for j, bit in enumerate(out.bits):
            b.output(f"s{j}", bit)
        circs.append(b.build())
    assert circs[0].size == circs[1].size
    picks = rng.choice(nonneg, size=(3000, n))
    X = np.concatenate([_bits(fmt.encode(picks[:, i]), fmt.bit_width) for i in range(n)], axis=1)
    assert np.array_equal(circuits.evaluate(circs[0], X), circuits.evaluate(circs[1], X))
    check_sum(spec, [nonneg] * n, picks)


# -- depth, size and refusals -------------------------------------------------------------

@pytest.mark.parametrize("spec,products", [("paper:e=0,s=1", False), ("paper:e=0,s=2", False),
                                           ("paper:e=0,s=1", True)])
def test_depth_does_not_grow_with_n(spec, products):
    fmt = FloatFormat.parse(spec)
    depths = []
    for n in (8, 16, 32):
        c, _ = sum_circuit(spec, full(fmt, 2 * n if products else n), products)
        depths.append(depth(c))
    assert depths[0] == depths[1] == depths[2] <= TC0_SUM_DEPTH, depths


@pytest.mark.parametrize("spec", FIXED)
@pytest.mark.parametrize("n", [2, 5, 12])
def test_size_within_the_estimate(spec, n):
    """The built gates beyond the operands' minterms and literals stay within
    tc0_gates (what the up-front budget refusal counts)."""
    fmt = FloatFormat.parse(spec)
    c, _ = sum_circuit(spec, full(fmt, n), False)
    term_bits = (2 * walls(fmt)).bit_length()
    tables = n * (fmt.num_values + fmt.bit_width)  # minterms and NOT literals per term
    assert c.size <= tables + tc0_gates(n, fmt, term_bits)


def test_budget_guard_stops_the_build():
    fmt = FloatFormat.parse("paper:e=0,s=2")
    b = CircuitBuilder()
    ctx = Ctx(fmt, b, 400)
    vals = fmt.values()
    terms = [Bundle(tuple(b.inputs([f"x{i}_{j}" for j in range(fmt.bit_width)])), vals,
                    fmt.encode(vals).astype(np.int64)) for i in range(8)]
    with pytest.raises(CircuitTooLarge):
        tc0_sum(ctx, terms)


@pytest.mark.parametrize("spec", ["paper:e=1,s=1", "e5m2"])
def test_refuses_formats_with_exponent_bits(spec):
    fmt = FloatFormat.parse(spec)
    b = CircuitBuilder()
    ctx = Ctx(fmt, b, 10 ** 6)
    x = Bundle(tuple(b.inputs([f"x{j}" for j in range(fmt.bit_width)])), np.array([0.0, 1.0]),
               fmt.encode(np.array([0.0, 1.0])).astype(np.int64))
    for call in (lambda: tc0_sum(ctx, [x, x, x]), lambda: tc0_gates(4, fmt, 3)):
        with pytest.raises(CotsimInputError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg and "fixed point" in msg and fmt.spec in msg
