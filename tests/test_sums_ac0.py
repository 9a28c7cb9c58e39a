"""The constant-depth AND/OR/NOT iterative sum (transformer_sim/compile/sums_ac0.py).

Oracle: the sequential iterative sum, ``fmt.add`` left to right (the paper's Definition
3.3), on every word where there are few, on Hypothesis words (random, long alternations
that never saturate, words that walk down every J-level) where there are many; and ABC's
``cec`` against the log-depth ``tree_sum`` circuit."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuits import evaluate, save
from circuits.analysis import basis, depth
from circuits.builder import CircuitBuilder
from circuits.errors import CircuitTooLarge
from conftest import needs_abc
from oracles.equivalence import abc_cec
from transformer_sim import FloatFormat
from transformer_sim.compile.bundles import Bundle, Expr
from transformer_sim.compile.context import Ctx
from transformer_sim.compile.monoid import MonoidTooLarge, monoid_of
from transformer_sim.compile.sums_ac0 import (ac0_depth_bound, ac0_feasible, ac0_gates,
                                              ac0_sum, class_depths, word_sum_circuit)

SMALL = "paper:e=0,s=1"


def fmt(spec: str) -> FloatFormat:
    return FloatFormat.parse(spec)


def zero_first(f: FloatFormat) -> np.ndarray:
    """The format's values, 0 first: with 7 values on 3 bits, tokens 0 and 7 both mean
    0, so the identity letter's decoder is an OR (the deepest decoder)."""
    v = f.values()
    return np.concatenate([[0.0], v[v != 0]])


@lru_cache(maxsize=None)
def circuit(spec: str, n: int, letters: tuple[float, ...], construction: str = "ac0"):
    return word_sum_circuit(fmt(spec), n, letters, construction)


def width(letters) -> int:
    return max(1, (len(letters) - 1).bit_length())


def run(spec: str, letters, words: np.ndarray, construction: str = "ac0") -> np.ndarray:
    """The circuit's sums of ``words`` (rows of token ids)."""
    words = np.asarray(words, dtype=np.int64)
    c = circuit(spec, words.shape[1], tuple(letters), construction)
    w = width(letters)
    X = ((words[:, :, None] >> np.arange(w)) & 1).reshape(len(words), -1).astype(bool)
    Y = evaluate(c, X)
    return fmt(spec).decode((Y.astype(np.int64) << np.arange(Y.shape[1])).sum(axis=1))


def oracle(spec: str, letters, words: np.ndarray) -> np.ndarray:
    f, L = fmt(spec), np.asarray(letters, dtype=np.float64)
    words = np.asarray(words, dtype=np.int64) % len(L)
    acc = L[words[:, 0]]
    for k in range(1, words.shape[1]):
        acc = f.add(acc, L[words[:, k]])
    return acc


def all_words(K: int, n: int) -> np.ndarray:
    return np.indices((K,) * n).reshape(n, -1).T


# -- exhaustive -------------------------------------------------------------------------

@pytest.mark.parametrize("n", range(1, 7))
def test_every_word_over_four_letters(n):
    letters = (-0.5, -0.25, 0.25, 0.75)
    words = all_words(4, n)
    assert np.array_equal(run(SMALL, letters, words), oracle(SMALL, letters, words))


@pytest.mark.parametrize("n", range(1, 5))
def test_every_word_over_every_value(n):
    """All 8 tokens on 3 bits (two of them mean 0): every input of the circuit."""
    letters = tuple(zero_first(fmt(SMALL)))
    words = all_words(8, n)
    assert np.array_equal(run(SMALL, letters, words), oracle(SMALL, letters, words))


@pytest.mark.parametrize("spec,letters", [
    ("paper:e=1,s=1", (-1.5, -0.25, 0.75, 1.0)),
    ("paper:e=1,s=1", (0.0, 0.25, -0.5, 1.5)),
    ("paper:e=0,s=2", (-1.875, -0.125, 0.625, 1.0)),
    ("paper:e=0,s=2", (0.125, 0.375, -0.875, 1.875)),
])
@pytest.mark.parametrize("n", [4, 6])
def test_wider_formats_every_word(spec, letters, n):
    words = all_words(4, n)
    assert np.array_equal(run(spec, letters, words), oracle(spec, letters, words))


WIDER = [("paper:e=1,s=1", (-1.5, -0.25, 0.75, 1.0)),
         ("paper:e=0,s=2", (-1.875, -0.125, 0.625, 1.0))]


@pytest.mark.parametrize("spec,letters", WIDER)
@given(words=st.lists(st.lists(st.integers(0, 3), min_size=8, max_size=8), min_size=1,
                      max_size=64))
def test_wider_formats_at_eight(spec, letters, words):
    words = np.array(words)
    assert np.array_equal(run(spec, letters, words), oracle(spec, letters, words))


# -- Hypothesis ---------------------------------------------------------------------------

LETTERS16 = tuple(zero_first(fmt(SMALL)))
N16 = 16


@lru_cache(maxsize=None)
def descent_words() -> list[list[int]]:
    """Per J-class of paper:e=0,s=1's monoid, a shortest word (token ids into LETTERS16)
    that evaluates into it: the deepest ones walk down every J-level."""
    mon = monoid_of(fmt(SMALL))
    token = {v: i for i, v in enumerate(LETTERS16)}
    parent = {mon.identity: None}
    frontier = [mon.identity]
    while frontier:
        nxt = []
        for m in frontier:
            for a in range(len(mon.letters)):
                p = int(mon.right[m, a])
                if p not in parent:
                    parent[p] = (m, token[float(mon.letters[a])])
                    nxt.append(p)
        frontier = nxt
    best: dict[int, list[int]] = {}
    for m in parent:
        word, x = [], m
        while parent[x] is not None:
            x, t = parent[x]
            word.append(t)
        word.reverse()
        J = int(mon.j_class[m])
        if J not in best or len(word) < len(best[J]):
            best[J] = word
    return [best[J] for J in sorted(best, key=lambda J: mon.j_level[J])]


tokens = st.integers(0, 7)
random_words = st.lists(tokens, min_size=N16, max_size=N16)
# alternations: a short pattern repeated, e.g. +1, -1 units, which never saturates
alternations = st.lists(tokens, min_size=1, max_size=4).map(
    lambda p: (p * N16)[:N16])


@st.composite
def descents(draw):
    """A word that reaches a chosen J-class, inside random context."""
    word = draw(st.sampled_from(descent_words()))
    pre = draw(st.lists(tokens, max_size=N16 - len(word)))
    post = draw(st.lists(tokens, min_size=N16 - len(word) - len(pre),
                         max_size=N16 - len(word) - len(pre)))
    return pre + word + post


@given(st.lists(st.one_of(random_words, alternations, descents()), min_size=1, max_size=8))
def test_words_of_sixteen(words):
    words = np.array(words)
    assert np.array_equal(run(SMALL, LETTERS16, words), oracle(SMALL, LETTERS16, words))


def test_descent_words_reach_the_bottom():
    """The strategy's words do walk down: the last one ends in the deepest J-class."""
    mon = monoid_of(fmt(SMALL))
    assert len(descent_words()) == mon.n_j
    assert max(len(w) for w in descent_words()) <= N16
    alternating = np.array([[1, 5] * (N16 // 2)])            # -0.75, +0.5 ... never clips
    assert np.array_equal(run(SMALL, LETTERS16, alternating),
                          oracle(SMALL, LETTERS16, alternating))


# -- terms of every kind ------------------------------------------------------------------

def test_mixed_terms_constants_and_two_operand_tables():
    """Per-position alphabets differ: a product of two inputs, a constant, a plain bundle."""
    f = fmt("paper:e=1,s=1")
    b = CircuitBuilder()
    ctx = Ctx(f, b, 10 ** 7)
    ids = np.arange(4)
    xs = [Bundle(tuple(b.inputs([f"x{i}_0", f"x{i}_1"])), ids.astype(float), ids)
          for i in range(4)]
    A = np.array([-1.0, -0.25, 0.5, 1.5])
    terms = [Expr(lambda x, y: f.mul(A[x.astype(int)], A[y.astype(int)]), (xs[0], xs[1])),
             ctx.const(0.75),
             Bundle(xs[2].bits, A, ids),
             Expr(lambda x: f.round(A[x.astype(int)] * 0.5), (xs[3],)),
             ctx.const(-0.25)]
    out = ac0_sum(ctx, terms)
    for j, bit in enumerate(out.bits):
        b.output(f"s{j}", bit)
    c = b.build()
    words = all_words(4, 4)
    X = ((words[:, :, None] >> np.arange(2)) & 1).reshape(len(words), -1).astype(bool)
    Y = evaluate(c, X)
    got = f.decode((Y.astype(np.int64) << np.arange(Y.shape[1])).sum(axis=1))
    p = [f.mul(A[words[:, 0]], A[words[:, 1]]), np.full(len(words), 0.75), A[words[:, 2]],
         f.round(A[words[:, 3]] * 0.5), np.full(len(words), -0.25)]
    want = p[0]
    for t in p[1:]:
        want = f.add(want, t)
    assert np.array_equal(got, want)
    assert set(out.values.tolist()) >= set(np.unique(want).tolist())
    assert basis(c) == "AC0"


def test_no_terms_and_constant_terms():
    f = fmt(SMALL)
    ctx = Ctx(f, CircuitBuilder(), 1000)
    assert ac0_sum(ctx, []).values.tolist() == [0.0]
    out = ac0_sum(ctx, [ctx.const(0.5), ctx.const(0.5), ctx.const(-0.25)])
    assert out.values.tolist() == [0.5]                  # [[0.5 + 0.5] - 0.25] = 0.75 - 0.25


# -- depth, basis, size --------------------------------------------------------------------

@pytest.mark.parametrize("spec,n,letters", [
    (SMALL, 8, LETTERS16), (SMALL, 16, LETTERS16),
    ("paper:e=1,s=1", 8, WIDER[0][1]), ("paper:e=0,s=2", 8, WIDER[1][1]),
])
def test_basis_and_depth_bound(spec, n, letters):
    c = circuit(spec, n, letters)
    assert basis(c) == "AC0"
    bound = ac0_depth_bound(fmt(spec))
    assert depth(c) <= bound
    mon = monoid_of(fmt(spec))
    assert bound <= 3 + 1 + 5 * mon.j_height + 1             # the per-level form


def test_depth_is_flat_and_reaches_the_bound():
    """paper:e=0,s=1: the same depth at n = 14 and 16, equal to the n-free bound
    (n = 16 against 24 and 32 is in benchmarks/ac0_sum.py)."""
    d = [depth(circuit(SMALL, n, LETTERS16)) for n in (14, 16)]
    assert d[0] == d[1] == ac0_depth_bound(fmt(SMALL))
    assert depth(circuit(SMALL, 8, LETTERS16)) < d[0]        # short words stay shallower


def test_class_depths_descend():
    mon = monoid_of(fmt("paper:e=1,s=1"))
    d = class_depths(mon)
    leq = mon.j_leq & ~np.eye(mon.n_j, dtype=bool)           # x strictly below y
    xs, ys = np.nonzero(leq)
    assert (d[xs] >= d[ys]).all()
    assert d.max() <= 3 + 1 + 5 * mon.j_height


@pytest.mark.parametrize("spec,n", [(SMALL, 4), (SMALL, 8), ("paper:e=1,s=1", 3)])
def test_gate_estimate_is_an_upper_bound(spec, n):
    f = fmt(spec)
    c = circuit(spec, n, tuple(f.values()))
    assert c.size <= ac0_gates(n, f)


def test_feasibility_and_refusals():
    assert ac0_feasible(fmt(SMALL)) and ac0_feasible(fmt("paper:e=1,s=1"))
    assert not ac0_feasible(fmt("float16"))                 # by its 63,487 values
    assert not ac0_feasible(fmt("paper:e=1,s=2"))           # |M| over the cap
    assert not ac0_feasible(fmt("paper:e=1,s=1"), limit=1000)
    assert ac0_gates(8, fmt("float16")) == float("inf")
    ctx = Ctx(fmt("bfloat16"), CircuitBuilder(), 10 ** 6)
    with pytest.raises(MonoidTooLarge):
        ac0_sum(ctx, [ctx.const(1.0), ctx.const(2.0)])


def test_budget_stops_the_build():
    f = fmt(SMALL)
    b = CircuitBuilder()
    ctx = Ctx(f, b, 2000)
    ids = np.arange(8)
    terms = [Bundle(tuple(b.inputs([f"x{i}_{j}" for j in range(3)])), zero_first(f)[ids % 7],
                    ids) for i in range(8)]
    with pytest.raises(CircuitTooLarge, match="budget of 2000 gates"):
        ac0_sum(ctx, terms)
    assert b.num_nodes <= 2000


# -- equivalence with the log-depth tree ----------------------------------------------------

@needs_abc
@pytest.mark.parametrize("spec,n,letters", [
    (SMALL, 3, LETTERS16), (SMALL, 4, LETTERS16),        # n = 5 takes ABC half a minute
    ("paper:e=1,s=1", 4, (-1.5, -0.25, 0.75, 1.0)),
    ("paper:e=0,s=2", 3, (-1.875, -0.125, 0.625, 1.0)),
])
def test_equivalent_to_tree_sum_by_abc(spec, n, letters, tmp_path):
    a, t = tmp_path / "ac0.aig", tmp_path / "tree.aig"
    save(circuit(spec, n, letters), a)
    save(circuit(spec, n, letters, "tree"), t)
    assert "Networks are equivalent" in abc_cec(a, t)


@needs_abc
def test_abc_sees_a_wrong_circuit(tmp_path):
    """The check can fail: a different letter set gives a different function."""
    a, t = tmp_path / "ac0.aig", tmp_path / "tree.aig"
    save(circuit(SMALL, 4, LETTERS16), a)
    save(circuit(SMALL, 4, LETTERS16[::-1], "tree"), t)
    assert "NOT EQUIVALENT" in abc_cec(a, t)
