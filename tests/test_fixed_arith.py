"""Arithmetic on the bits of fixed-point values (``compile.fixed_arith``): the product,
sum, quotient and comparison circuits against ``FloatFormat``'s own rounding (fparith),
on every operand pair of small formats and on Hypothesis-drawn pairs of wider ones; their
depth against the s-free constants the depth bound uses."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, strategies as st

from circuits import evaluate
from circuits.analysis import basis, depth
from circuits.builder import CircuitBuilder
from circuits.normalize import sweep
from transformer_sim import FloatFormat
from transformer_sim.compile import fixed_arith as fa

BUILD = {"mul": lambda b, s, x, y: fa.mul_bits(b, s, x, y),
         "add": lambda b, s, x, y: fa.add_bits(b, s, x, y),
         "ge": lambda b, s, x, y: [fa.ge_bits(b, x, y)],
         # the softmax weight of x among the terms x, y: [x / [x + y]]
         "quot": lambda b, s, x, y: fa.softmax_ge(b, s, 0, [x, y],
                                                   range(1, min(2 ** (s + 1), 4 ** s - 1) + 1))}
DEPTH = {"mul": fa.MUL_DEPTH, "add": fa.ADD_DEPTH, "ge": fa.GE_DEPTH,
         "quot": fa.QUOTIENT_DEPTH - 1}  # the thresholds; the code's THR is one more


@lru_cache(maxsize=None)
def circuit(op: str, s: int):
    fmt = FloatFormat.paper(0, s)
    w = fmt.bit_width
    b = CircuitBuilder()
    x, y = b.inputs([f"x{i}" for i in range(w)]), b.inputs([f"y{i}" for i in range(w)])
    for i, o in enumerate(BUILD[op](b, s, x, y)):
        b.output(f"o{i}", o)
    return sweep(b.build())


def run(op: str, s: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The circuit's output on value pairs: a code (mul, add), a bit (ge), or the
    quotient in units of q (quot: the count of thresholds met)."""
    fmt = FloatFormat.paper(0, s)
    w = fmt.bit_width
    cx, cy = (fmt.encode(v).astype(np.int64) for v in (xs, ys))
    bits = np.concatenate([(cx[:, None] >> np.arange(w)) & 1,
                           (cy[:, None] >> np.arange(w)) & 1], axis=1).astype(bool)
    out = evaluate(circuit(op, s), bits).astype(np.int64)
    if op == "quot":
        return out.sum(axis=1)
    return (out << np.arange(out.shape[1])).sum(axis=1)


def want(op: str, s: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    fmt = FloatFormat.paper(0, s)
    if op == "ge":
        return (xs >= ys).astype(np.int64)
    if op == "quot":  # x's weight among x, y: [x / Z], Z = [x + y] (iterative: a clip)
        z = fmt.add(xs, ys)
        q = fmt.div(xs, np.where(z == 0, 1.0, z))
        return np.where(z == 0, 0, np.rint(q / fmt.min_positive)).astype(np.int64)
    return fmt.encode(getattr(fmt, op)(xs, ys)).astype(np.int64)


def pairs(s: int, op: str) -> tuple[np.ndarray, np.ndarray]:
    v = FloatFormat.paper(0, s).values()
    xs, ys = (a.ravel() for a in np.meshgrid(v, v, indexing="ij"))
    if op == "quot":  # the softmax's terms: e >= 0
        keep = (xs >= 0) & (ys >= 0)
        xs, ys = xs[keep], ys[keep]
    return xs, ys


@pytest.mark.parametrize("op", ["mul", "add", "ge", "quot"])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_every_operand_pair(op, s):
    xs, ys = pairs(s, op)
    got, exp = run(op, s, xs, ys), want(op, s, xs, ys)
    bad = np.flatnonzero(got != exp)
    assert not len(bad), [(xs[i], ys[i], got[i], exp[i]) for i in bad[:5]]
    # the pairs exercise the rounding: ties, round-ups and clipping all occur
    if op == "mul" and s >= 2:
        fmt = FloatFormat.paper(0, s)
        exact = xs * ys
        r = fmt.mul(xs, ys)
        assert np.any(np.abs(r) == fmt.max_value) and np.any(np.abs(exact) > fmt.max_value)
        half = np.abs(exact / fmt.min_positive) % 1 == 0.5
        assert half.any() and np.any(np.abs(r) > np.abs(exact))  # ties down, others up


@pytest.mark.parametrize("op", ["mul", "add", "ge"])
@pytest.mark.parametrize("s", [4, 5, 6])
@given(data=st.data())
def test_wider_formats_on_drawn_pairs(op, s, data):
    fmt = FloatFormat.paper(0, s)
    K = 4 ** s - 1
    ints = st.integers(-K, K)
    X = np.array(data.draw(st.lists(ints, min_size=1, max_size=32)))
    Y = np.array(data.draw(st.lists(ints, min_size=len(X), max_size=len(X))))
    xs, ys = X * fmt.min_positive, Y * fmt.min_positive
    np.testing.assert_array_equal(run(op, s, xs, ys), want(op, s, xs, ys))


@pytest.mark.parametrize("s", [2, 4, 5])
@given(data=st.data())
def test_softmax_weight_among_drawn_terms(s, data):
    """[e_j / Z] with Z the iterative sum of 1 to 6 drawn terms e_k >= 0 (a clip at B)."""
    fmt = FloatFormat.paper(0, s)
    K = 4 ** s - 1
    E = data.draw(st.lists(st.integers(0, K), min_size=1, max_size=6))
    j = data.draw(st.integers(0, len(E) - 1))
    w = fmt.bit_width
    b = CircuitBuilder()
    es = [b.inputs([f"e{k}_{i}" for i in range(w)]) for k in range(len(E))]
    top = min(2 ** (s + 1), K)
    for i, o in enumerate(fa.softmax_ge(b, s, j, es, range(1, top + 1))):
        b.output(f"o{i}", o)
    c = sweep(b.build())
    bits = np.array([[(x >> i) & 1 for x in E for i in range(w)]], dtype=bool)
    got = int(evaluate(c, bits).sum()) if c.num_outputs else 0
    vals = np.array(E) * fmt.min_positive
    z = fmt.sum(vals, "iterative")
    exp = 0 if z == 0 else int(np.rint(fmt.div(vals[j], z) / fmt.min_positive))
    assert got == exp, (E, j)


@pytest.mark.parametrize("op", ["mul", "add", "ge", "quot"])
def test_depth_does_not_depend_on_s(op):
    """The constants the depth bound uses hold at every s tried (and the product and
    sum reach them: the bound is not loose by accident)."""
    depths = {s: depth(circuit(op, s)) for s in range(1, 10)}
    assert {basis(circuit(op, s)) for s in range(1, 10)} <= {"TC0", "AC0"}  # no XOR
    assert max(depths.values()) <= DEPTH[op], depths
    if op in ("mul", "add"):
        assert max(depths.values()) == DEPTH[op], depths


def test_gates_grow_polynomially_in_s():
    """The product's gates grow about as s^2 (partial products), far below a table's
    |F|^2 = (2^(2s+1) - 1)^2 rows."""
    g = {s: fa.arith_gates(f"paper:e=0,s={s}", "mul") for s in (4, 8)}
    assert g[8] < 8 * g[4], g
    assert g[8] < (2 ** 17) ** 2 / 10 ** 6
