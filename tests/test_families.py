"""Problem families against plain-Python answers: popcount, int sums, pow, list composition.

Every circuit is run by the reference evaluator (tests/reference.py) and, where the
Numba simulator is present, by ``circuits.evaluate`` too; the two must agree.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuits import CotsimInputError
from circuits import families as F
from circuits.analysis import basis, depth, max_fanin
from circuits.ir import Circuit
from circuits.simulate import evaluate
from oracles.gates import reference_evaluate


PERMS = list(itertools.permutations(range(5)))


def run(c: Circuit, rows) -> np.ndarray:
    X = np.asarray(rows, dtype=bool).reshape(len(rows), c.num_inputs)
    ref = reference_evaluate(c, X)
    assert np.array_equal(evaluate(c, X), ref)
    return ref


def bits(v: int, w: int) -> list[int]:
    return [(v >> j) & 1 for j in range(w)]


def value(row) -> int:
    return sum(int(b) << j for j, b in enumerate(row))


ORDER = ["fanin2", "AC0", "TC0", "general"]


def within(c: Circuit, b: str) -> bool:
    """The circuit's smallest basis (analysis.basis) is ``b`` or a smaller one."""
    return ORDER.index(basis(c)) <= ORDER.index(b)


def all_live(c: Circuit) -> bool:
    """Every gate feeds some output (the generators drop dead gates)."""
    live = set(int(o) for o in c.output_ids)
    for v in range(c.num_nodes - 1, c.num_inputs - 1, -1):
        if v in live:
            live.update(int(f) for f in c.fanins(v))
    return all(v in live for v in range(c.num_inputs, c.num_nodes))


# -- parity ------------------------------------------------------------------------------
PARITY_BASES = {"xor": "general", "xor2": "general", "fanin2": "fanin2", "AC0": "AC0",
                "TC0": "TC0"}


@pytest.mark.parametrize("kind", list(PARITY_BASES))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9])
def test_parity_exhaustive(kind, n):
    c = F.parity(n, kind)
    rows = list(itertools.product((0, 1), repeat=n))
    got = run(c, rows)[:, 0]
    assert [int(g) for g in got] == [sum(r) % 2 for r in rows]
    assert c.input_names == tuple(f"x{i}" for i in range(n))
    assert c.output_names == ("parity",)
    assert all_live(c)
    assert within(c, PARITY_BASES[kind])
    if n >= 5:  # blocks of 3 or more: wide gates appear
        assert basis(c) == PARITY_BASES[kind]


@given(n=st.integers(1, 40), kind=st.sampled_from(list(PARITY_BASES)), data=st.data())
def test_parity_random(n, kind, data):
    c = F.parity(n, kind)
    rows = data.draw(st.lists(st.lists(st.integers(0, 1), min_size=n, max_size=n),
                              min_size=1, max_size=6))
    assert [int(g) for g in run(c, rows)[:, 0]] == [sum(r) % 2 for r in rows]


@pytest.mark.parametrize("n", [2, 7, 16, 33, 64])
def test_parity_sizes_and_depths(n):
    log = math.ceil(math.log2(n))
    assert depth(F.parity(n, "xor")) == 1
    assert depth(F.parity(n, "TC0")) == 2 and F.parity(n, "TC0").size == n + 1
    tree = F.parity(n, "xor2")
    assert tree.size == n - 1 and depth(tree) == log and max_fanin(tree) == 2
    assert depth(F.parity(n, "fanin2")) <= 3 * log and F.parity(n, "fanin2").size <= 5 * (n - 1)
    g = max(2, log)
    levels = math.ceil(math.log(n) / math.log(g) - 1e-9)
    assert depth(F.parity(n, "AC0")) <= 1 + 2 * levels


# -- majority ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind,expect", [("TC0", "TC0"), ("fanin2", "fanin2"),
                                         ("general", "general")])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 9])
def test_majority_exhaustive(kind, expect, n):
    c = F.majority(n, kind)
    rows = list(itertools.product((0, 1), repeat=n))
    got = run(c, rows)[:, 0]
    assert [int(g) for g in got] == [int(2 * sum(r) >= n) for r in rows]  # ties give 1
    assert c.output_names == ("maj",)
    assert all_live(c)
    assert within(c, expect)
    if n >= 4:
        assert basis(c) == expect


@given(n=st.integers(1, 30), kind=st.sampled_from(["TC0", "fanin2", "general"]),
       data=st.data())
def test_majority_random(n, kind, data):
    c = F.majority(n, kind)
    rows = data.draw(st.lists(st.lists(st.integers(0, 1), min_size=n, max_size=n),
                              min_size=1, max_size=6))
    assert [int(g) for g in run(c, rows)[:, 0]] == [int(sum(r) >= (n + 1) // 2) for r in rows]


# -- iterated addition -------------------------------------------------------------------
@given(n=st.integers(1, 9), k=st.integers(1, 6),
       kind=st.sampled_from(["general", "fanin2", "TC0"]), data=st.data())
def test_iterated_addition(n, k, kind, data):
    c = F.iterated_addition(n, k, kind)
    width = k + math.ceil(math.log2(n))
    assert c.num_outputs == width
    assert c.input_names == tuple(f"x{i}_{j}" for i in range(n) for j in range(k))
    num = st.integers(0, 2 ** k - 1)
    cases = data.draw(st.lists(st.lists(num, min_size=n, max_size=n), min_size=1, max_size=5))
    cases += [[2 ** k - 1] * n, [0] * n]  # the largest sum fills every output bit
    got = run(c, [sum((bits(v, k) for v in xs), []) for xs in cases])
    assert [value(r) for r in got] == [sum(xs) for xs in cases]


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_iterated_addition_tc0_depth_is_constant(n):
    c = F.iterated_addition(n, 3, "TC0")
    assert depth(c) == 2 and basis(c) == "TC0"
    assert all_live(c)
    # The AND/OR/XOR tree's depth grows instead.
    assert depth(F.iterated_addition(2 * n, 3)) > depth(F.iterated_addition(n // 2 or 1, 3))


# -- comparison --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["AC0", "fanin2", "TC0"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_comparison_exhaustive(kind, k):
    c = F.comparison(k, kind)
    pairs = list(itertools.product(range(2 ** k), repeat=2))
    got = run(c, [bits(a, k) + bits(b, k) for a, b in pairs])[:, 0]
    assert [bool(g) for g in got] == [a < b for a, b in pairs]
    assert c.input_names == tuple([f"a{j}" for j in range(k)] + [f"b{j}" for j in range(k)])
    assert c.output_names == ("lt",)


@given(k=st.integers(1, 24), kind=st.sampled_from(["AC0", "fanin2", "TC0"]), data=st.data())
def test_comparison_random(k, kind, data):
    c = F.comparison(k, kind)
    num = st.integers(0, 2 ** k - 1)
    pairs = data.draw(st.lists(st.tuples(num, num), min_size=1, max_size=6))
    pairs += [(a, a) for a, _ in pairs[:2]]  # equal operands: not less
    got = run(c, [bits(a, k) + bits(b, k) for a, b in pairs])[:, 0]
    assert [bool(g) for g in got] == [a < b for a, b in pairs]


def test_comparison_shapes():
    for k in (4, 16, 32):
        assert depth(F.comparison(k, "AC0")) <= 5
        assert basis(F.comparison(k, "fanin2")) == "fanin2"
        assert depth(F.comparison(k, "fanin2")) <= 4 * math.ceil(math.log2(k)) + 4
        assert F.comparison(k, "TC0").size == 1


# -- addition mod p ----------------------------------------------------------------------
@given(n=st.integers(1, 7), p=st.integers(2, 40), kind=st.sampled_from(["general", "fanin2"]),
       data=st.data())
def test_addition_mod_p(n, p, kind, data):
    c = F.addition_mod_p(n, p, kind)
    w = max(1, math.ceil(math.log2(p)))
    assert c.num_inputs == n * w and c.num_outputs == w
    # Any w-bit pattern, including those >= p, counts as the integer it writes.
    num = st.integers(0, 2 ** w - 1)
    cases = data.draw(st.lists(st.lists(num, min_size=n, max_size=n), min_size=1, max_size=5))
    cases += [[2 ** w - 1] * n, [p - 1] * n]
    got = run(c, [sum((bits(v, w) for v in xs), []) for xs in cases])
    assert [value(r) for r in got] == [sum(xs) % p for xs in cases]


def test_addition_mod_p_exhaustive_small():
    for n, p in [(2, 3), (3, 5), (2, 4)]:
        c = F.addition_mod_p(n, p)
        w = max(1, math.ceil(math.log2(p)))
        cases = list(itertools.product(range(2 ** w), repeat=n))
        got = run(c, [sum((bits(v, w) for v in xs), []) for xs in cases])
        assert [value(r) for r in got] == [sum(xs) % p for xs in cases]
        assert all_live(c)


# -- the S5 word problem -----------------------------------------------------------------
def s5_states(word: list[tuple[int, ...]]) -> list[int]:
    """DESIGN.md's automaton: start 01234; reading g maps q to x -> g[q[x]]."""
    q = list(range(5))
    for g in word:
        q = [g[q[x]] for x in range(5)]
    return q


def test_s5_oracle_follows_the_contract():
    # Swap 0,1 (10234), then swap 1,2 (02134): 0 -> 1 -> 2, 1 -> 0 -> 0, 2 -> 2 -> 1.
    assert s5_states([(1, 0, 2, 3, 4), (0, 2, 1, 3, 4)]) == [2, 0, 1, 3, 4]


@given(n=st.integers(1, 9), kind=st.sampled_from(["AC0", "fanin2"]),
       words=st.lists(st.lists(st.sampled_from(PERMS), min_size=9, max_size=9),
                      min_size=1, max_size=5))
def test_s5_word_problem(n, kind, words):
    c = F.s5_word_problem(n, kind)
    assert c.num_inputs == 15 * n and c.num_outputs == 15
    words = [w[:n] for w in words]
    rows = [[(g[x] >> b) & 1 for g in w for x in range(5) for b in range(3)] for w in words]
    got = run(c, rows)
    assert [[value(r[3 * x:3 * x + 3]) for x in range(5)] for r in got] == \
        [s5_states(w) for w in words]


def test_s5_encoding_and_shape():
    c = F.s5_word_problem(4)
    assert c.input_names[:4] == ("g0_0_0", "g0_0_1", "g0_0_2", "g0_1_0")
    assert c.output_names[:3] == ("q0_0", "q0_1", "q0_2")
    assert F.permutation_bits((1, 0, 2, 3, 4))[:6] == [1, 0, 0, 0, 0, 0]
    with pytest.raises(CotsimInputError):
        F.permutation_bits((0, 0, 1, 2, 3))
    for n in (2, 4, 8, 16):
        c = F.s5_word_problem(n)
        assert basis(c) == "AC0" and depth(c) <= 3 * math.ceil(math.log2(n))
        assert all_live(c)
        assert basis(F.s5_word_problem(n, "fanin2")) == "fanin2"


# -- iterated squaring -------------------------------------------------------------------
@pytest.mark.parametrize("k,p,r_bits", [(0, 2, None), (0, 7, 5), (1, 7, None), (3, 13, None),
                                        (2, 11, 6), (2, 16, None), (1, 2, 3), (5, 5, None)])
@pytest.mark.parametrize("kind", ["general", "fanin2"])
def test_iterated_squaring_exhaustive(k, p, r_bits, kind):
    c = F.iterated_squaring(k, p, r_bits, kind)
    w = max(1, math.ceil(math.log2(p)))
    rb = r_bits or w
    assert c.input_names == tuple(f"r{j}" for j in range(rb))
    assert c.output_names == tuple(f"y{j}" for j in range(w))
    rs = list(range(2 ** rb))
    got = run(c, [bits(r, rb) for r in rs])
    assert [value(row) for row in got] == [pow(r, 2 ** k, p) for r in rs]


@given(k=st.integers(0, 4), p=st.integers(2, 130), data=st.data())
def test_iterated_squaring_random(k, p, data):
    c = F.iterated_squaring(k, p)
    w = max(1, math.ceil(math.log2(p)))
    rs = data.draw(st.lists(st.integers(0, 2 ** w - 1), min_size=1, max_size=4))
    got = run(c, [bits(r, w) for r in rs])
    assert [value(row) for row in got] == [pow(r, 2 ** k, p) for r in rs]


def test_iterated_squaring_depth_grows_with_k():
    ds = [depth(F.iterated_squaring(k, 13)) for k in (1, 2, 4)]
    assert ds[0] < ds[1] < ds[2]


# -- random circuits (circuit value problem) ---------------------------------------------
@given(num_inputs=st.integers(1, 8), size=st.integers(0, 60), fanin=st.integers(1, 5),
       kind=st.sampled_from(["fanin2", "AC0", "TC0", "general"]), seed=st.integers(0, 2 ** 32),
       data=st.data())
def test_random_circuit_constraints(num_inputs, size, fanin, kind, seed, data):
    if kind == "fanin2":
        fanin = min(fanin, 2)
    d = data.draw(st.none() | st.integers(1, max(size, 1))) if size else None
    c = F.random_circuit(num_inputs, size, fanin, depth=d, basis=kind, seed=seed)
    assert c.num_inputs == num_inputs and c.size == size
    assert max_fanin(c) <= fanin
    assert within(c, kind)
    if d is not None:
        assert depth(c) == d
    # The outputs are the sinks: no output feeds a gate, and every gate is read or output.
    read = set(int(f) for f in c.fanin)
    outs = set(int(o) for o in c.output_ids)
    if size:
        assert not outs & read and all(v in read | outs for v in range(num_inputs, c.num_nodes))
    # And it evaluates the same under both evaluators.
    run(c, np.random.default_rng(seed).integers(0, 2, (3, num_inputs)).tolist())


def test_random_circuit_is_deterministic_per_seed():
    a = F.random_circuit(6, 80, 3, depth=7, basis="general", seed=5)
    assert a == F.random_circuit(6, 80, 3, depth=7, basis="general", seed=5)
    assert a != F.random_circuit(6, 80, 3, depth=7, basis="general", seed=6)
    assert F.random_circuit(6, 80, 2, seed=1, num_outputs=2).num_outputs == 2


# -- registry and bad parameters ---------------------------------------------------------
def test_registry_builds_every_family():
    args = {"parity": (5,), "majority": (5,), "iterated_addition": (3, 2),
            "comparison": (3,), "addition_mod_p": (3, 5), "s5_word_problem": (3,),
            "iterated_squaring": (2, 7), "random_circuit": (4, 10)}
    assert set(F.FAMILIES) == set(args)
    for name, fn in F.FAMILIES.items():
        c = fn(*args[name])
        assert isinstance(c, Circuit) and c.num_outputs >= 1


@pytest.mark.parametrize("call", [
    lambda: F.parity(0), lambda: F.parity(4, "TC1"), lambda: F.parity(8, "AC0", group=40),
    lambda: F.majority(3, "AC0"), lambda: F.iterated_addition(0, 3),
    lambda: F.comparison(0), lambda: F.addition_mod_p(3, 1), lambda: F.s5_word_problem(0),
    lambda: F.iterated_squaring(-1, 5), lambda: F.iterated_squaring(2, 1),
    lambda: F.random_circuit(3, 10, 3, basis="fanin2"),
    lambda: F.random_circuit(3, 4, 2, depth=5), lambda: F.random_circuit(0, 4),
])
def test_bad_parameters_are_one_line_errors(call):
    with pytest.raises(CotsimInputError) as err:
        call()
    assert "\n" not in str(err.value)
