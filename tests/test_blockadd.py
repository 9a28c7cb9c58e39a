"""The block-wise iterated addition (wide formats): the adder against Python integers,
block-wise exact sums against FloatFormat, compiled wide-format models against the
simulator, the thermometer and the block-wise adder against each other (ABC cec), and
depth that does not grow with n."""
from __future__ import annotations

import itertools
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits
from circuits.analysis import depth
from circuits.builder import CircuitBuilder
from circuits.errors import CircuitTooLarge, CotsimInputError
from circuits.io import save
from conftest import ABC, needs_abc
from transformer_sim.compile import compile_model, estimate, input_bits, resolve_adder
from transformer_sim.compile.blockadd import (BLOCKWISE_SUM_DEPTH, blockwise_sum,
                                              carry_lookahead, iterated_add)
from transformer_sim.compile.units import round_units, to_units
from transformer_sim.compile.bundles import Bundle
from transformer_sim.compile.budget import depth_bound
from transformer_sim.compile.context import Ctx
from transformer_sim.compile.examples import majority_model
from transformer_sim.compile.sums import exact_sum
from transformer_sim.compile.verify import verify
from transformer_sim.floatformat import FloatFormat
from transformer_sim.random_model import random_model

WIDE = ("paper:e=2,s=3", "paper:e=3,s=2", "paper:e=6,s=1", "paper:e=7,s=1")


def _bits(x: np.ndarray, width: int) -> np.ndarray:
    return (np.asarray(x, dtype=np.int64)[:, None] >> np.arange(width)) & 1


def _value(out: np.ndarray) -> np.ndarray:
    return (out.astype(np.int64) << np.arange(out.shape[1])).sum(axis=1)


# -- the adder alone, against Python integers -------------------------------------------

@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 4)), min_size=1, max_size=40),
       st.integers(0, 2 ** 12), st.integers(0, 2 ** 16))
def test_iterated_add_against_python_ints(shapes, const, seed):
    """sum of N numbers (each `width` bits, shifted left by `shift`) plus a constant,
    modulo 2^W, for all inputs when there are few, else 512 random ones."""
    b = CircuitBuilder()
    width = max(w + s for w, s in shapes) + len(shapes).bit_length() + 1
    heap = [[] for _ in range(width)]
    ins = []
    for i, (w, s) in enumerate(shapes):
        xs = b.inputs([f"a{i}_{j}" for j in range(w)])
        ins.append(xs)
        for j, x in enumerate(xs):
            heap[j + s].append(x)
    for j, bit in enumerate(iterated_add(b, heap, const)):
        b.output(f"s{j}", bit)
    c = b.build()
    k = c.num_inputs
    if k <= 12:
        X = _bits(np.arange(2 ** k), k).astype(bool)
    else:
        X = np.random.default_rng(seed).integers(0, 2, size=(512, k)).astype(bool)
    want = np.full(len(X), const, dtype=np.int64)
    col = 0
    for (w, s), xs in zip(shapes, ins):
        want += _value(X[:, col:col + w]) << s
        col += w
    got = _value(circuits.evaluate(c, X))
    assert np.array_equal(got, want % (1 << width))
    assert depth(c) <= 2 + 2 + 4  # stage A, stage B, carry-lookahead and the sum XOR
    assert circuits.analysis.max_abs_weight(c) < 2 * len(shapes).bit_length() + 8


@needs_abc
def test_abc_carry_lookahead_equals_ripple_carry(tmp_path):
    """The AND/OR/XOR part: the constant-depth carry-lookahead adder against a
    ripple-carry adder, proved equal by ABC (and a broken one told apart)."""
    W = 12
    for broken in (False, True):
        b = CircuitBuilder()
        x, y = b.inputs([f"x{i}" for i in range(W)]), b.inputs([f"y{i}" for i in range(W)])
        p, cs = carry_lookahead(b, [[xi, yi] for xi, yi in zip(x, y)])
        for i in range(W):
            b.output(f"s{i}", b.XOR(p[i], cs[i]))
        fast = b.build()
        r = CircuitBuilder()
        x, y = r.inputs([f"x{i}" for i in range(W)]), r.inputs([f"y{i}" for i in range(W)])
        carry = r.const(0)
        for i in range(W):
            r.output(f"s{i}", r.XOR(x[i], y[i], carry))
            maj = r.OR(r.AND(x[i], y[i]), r.AND(carry, r.OR(x[i], y[i])))
            carry = r.OR(maj, x[0]) if broken and i == W - 2 else maj
        save(fast, tmp_path / "cla.blif")
        save(r.build(), tmp_path / "ripple.blif")
        res = subprocess.run([ABC, "-c", f"cec -n {tmp_path / 'cla.blif'} "
                              f"{tmp_path / 'ripple.blif'}"], capture_output=True, text=True,
                             timeout=120)
        assert ("NOT EQUIVALENT" if broken else "Networks are equivalent") in res.stdout
        assert depth(fast) <= 4


# -- block-wise exact sums against FloatFormat ---------------------------------------------

def _sum_circuit(fmt, domains, adder):
    b = CircuitBuilder()
    ctx = Ctx(fmt, b, 10 ** 7)
    terms = []
    for i, dom in enumerate(domains):
        bits = b.inputs([f"t{i}_{j}" for j in range(fmt.bit_width)])
        terms.append(Bundle(tuple(bits), dom, fmt.encode(dom).astype(np.int64)))
    out = blockwise_sum(ctx, terms, one_table=False) if adder == "blockwise" else \
        exact_sum(ctx, terms)
    for j, bit in enumerate(out.bits):
        b.output(f"s{j}", bit)
    return b.build(), out


def _check_sum(fmt, domains, picks):
    c, out = _sum_circuit(fmt, domains, "blockwise")
    X = np.concatenate([_bits(fmt.encode(picks[:, i]), fmt.bit_width)
                        for i in range(len(domains))], axis=1).astype(bool)
    got = _value(circuits.evaluate(c, X))
    want = np.array([fmt.sum(row, "exact") for row in picks])
    assert np.array_equal(got, fmt.encode(want).astype(np.int64))
    assert set(want.tolist()) <= set(out.values.tolist())
    assert depth(c) <= BLOCKWISE_SUM_DEPTH


@pytest.mark.parametrize("spec,N", [("paper:e=0,s=2", 3), ("paper:e=1,s=1", 3),
                                    ("paper:e=2,s=1", 3), ("paper:e=6,s=1", 2)])
def test_blockwise_sum_exhaustive(spec, N):
    """Every combination of N values of the whole format (ties, clipping, signs)."""
    fmt = FloatFormat.parse(spec)
    vals = fmt.values()
    picks = np.array(list(itertools.product(vals, repeat=N)))
    _check_sum(fmt, [vals] * N, picks)


@settings(max_examples=25)
@given(st.sampled_from(WIDE + ("paper:e=1,s=2",)), st.integers(2, 24), st.integers(0, 2 ** 16))
def test_blockwise_sum_random(spec, N, seed):
    fmt = FloatFormat.parse(spec)
    rng = np.random.default_rng(seed)
    vals = fmt.values()
    domains = [np.unique(rng.choice(vals, size=int(rng.integers(1, 6)))) for _ in range(N)]
    picks = np.stack([rng.choice(dom, size=300) for dom in domains], axis=1)
    _check_sum(fmt, domains, picks)


def test_units_and_rounding_beyond_float64_integers():
    """paper:e=8,s=1 spans 2^257 units: exact integers, rounded by the simulator."""
    fmt = FloatFormat.parse("paper:e=8,s=1")
    vals = fmt.values()
    u = to_units(fmt, vals).tolist()
    assert max(u) > 2 ** 200 and [int(x) for x in u] == u
    assert np.array_equal(round_units(fmt, u), vals)  # the values round to themselves
    big = max(u)
    half = big // 3  # 3 * 2^k = B: B / 3 = 2^k, a power of two
    for extra in (1, -1, 7):  # 2^k + extra units, against the simulator's exact sum
        want = fmt.sum(np.array([vals[-1] / 3, extra * fmt.min_positive]), "exact")
        assert round_units(fmt, [half + extra])[0] == want


# -- compiled models in wide formats -------------------------------------------------------

def test_wide_format_compiles_and_agrees():
    """paper:e=6,s=1 (a 2^65 fixed-point range): refused by the thermometer, compiled
    by the block-wise adder, and equal to the simulator on every prompt."""
    model = random_model(2, 1, 1, 2, 2, 8, "paper:e=6,s=1", "exact", seed=6, check_prompts=4)
    with pytest.raises(CircuitTooLarge, match="fixed-point"):
        compile_model(model, 3, exact_adder="thermometer")
    for n in (1, 2, 3, 4, 5):
        cm = compile_model(model, n)
        assert cm.adder == "blockwise"
        v = verify(cm)
        assert v.agrees and v.exhaustive, v.mismatches
        assert cm.estimate >= cm.circuit.size / 2
        assert depth(cm.circuit) <= depth_bound(model, n, "exact")


@pytest.mark.parametrize("spec", ["paper:e=3,s=2", "paper:e=2,s=3"])
def test_thermometer_and_blockwise_agree_everywhere(spec, tmp_path):
    model = random_model(2, 1, 1, 2, 2, 8, spec, "exact", seed=1, check_prompts=4)
    n = 6
    a = compile_model(model, n, exact_adder="thermometer")
    b = compile_model(model, n, exact_adder="blockwise")
    assert (a.adder, b.adder) == ("thermometer", "blockwise")
    toks = np.array(list(itertools.product(range(2), repeat=n)))
    X = input_bits(toks, 2)
    assert np.array_equal(circuits.evaluate(a.circuit, X), circuits.evaluate(b.circuit, X))
    assert verify(b).agrees
    if ABC is not None:  # THR gates are lowered by the BLIF writer
        save(a.circuit, tmp_path / "a.blif")
        save(b.circuit, tmp_path / "b.blif")
        res = subprocess.run([ABC, "-c", f"cec -n {tmp_path / 'a.blif'} {tmp_path / 'b.blif'}"],
                             capture_output=True, text=True, timeout=300)
        assert "Networks are equivalent" in res.stdout


@pytest.mark.parametrize("spec,adder", [("paper:e=3,s=2", "blockwise"),
                                        ("paper:e=6,s=1", "auto")])
def test_blockwise_depth_does_not_grow_with_n(spec, adder):
    model = majority_model(64, spec, "exact")
    depths = {}
    for n in (4, 8, 16, 32, 64):
        cm = compile_model(model, n, exact_adder=adder, budget=10 ** 8)
        assert cm.adder == "blockwise"
        v = verify(cm, max_exhaustive=1 << 8, samples=100)
        assert v.agrees, v.mismatches
        depths[n] = depth(cm.circuit)
        if n == 64:  # the carry-lookahead's XOR gates: the block-wise route was taken
            assert np.any(cm.circuit.kinds == circuits.Kind.XOR)
    bound = depth_bound(model, 4, "exact", "blockwise")
    assert bound == depth_bound(model, 64, "exact", "blockwise")
    # short sums over few operand values are single tables (shallower) for small n;
    # from there on the depth stays put
    assert max(depths.values()) <= bound and depths[16] == depths[32] == depths[64], depths


def test_random_prompts_larger_n_wide():
    model = random_model(2, 1, 1, 2, 2, 16, "paper:e=6,s=1", "exact", seed=2, check_prompts=4)
    cm = compile_model(model, 12)
    v = verify(cm, max_exhaustive=0, samples=200)
    assert cm.adder == "blockwise" and v.agrees, v.mismatches


# -- the choice and the budget ---------------------------------------------------------------

def test_auto_choice_and_refusals(monkeypatch):
    narrow = random_model(2, 1, 1, 2, 2, 8, "paper:e=1,s=1", "exact", seed=3, check_prompts=4)
    assert resolve_adder(narrow, 8, "exact") == "thermometer"
    assert resolve_adder(narrow, 8, "iterative") == "none"
    wide = random_model(2, 1, 1, 2, 2, 8, "paper:e=6,s=1", "exact", seed=3, check_prompts=0)
    assert resolve_adder(wide, 8, "exact") == "blockwise"
    assert estimate(wide, 8, "exact")["total"] == estimate(wide, 8, "exact", "blockwise")["total"]
    with pytest.raises(CotsimInputError, match="exact adder 'ripple'"):
        compile_model(narrow, 2, exact_adder="ripple")
    # formats that still explode are refused up front, with the estimate and a suggestion
    huge = random_model(2, 1, 1, 2, 2, 8, "paper:e=9,s=1", "exact", seed=3, check_prompts=0)
    monkeypatch.setattr("transformer_sim.compile.driver.new_context",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("built")))
    with pytest.raises(CircuitTooLarge) as err:
        compile_model(huge, 8, budget=10 ** 4)
    msg = str(err.value)
    assert "\n" not in msg and "estimated size" in msg and "blockwise adder" in msg
    assert "budget of 10000" in msg and "a larger" in msg and "narrower format" not in msg
