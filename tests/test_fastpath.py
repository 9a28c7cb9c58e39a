"""The fast paths against the general paths, bit for bit.

- fparith: the fixed-point branch of ``_round2`` (on by default) against the general
  route (``fparith.general_params``), exhaustively over all pairs of values for
  paper:e=0,s=1..4, on random values and on arbitrary float64 inputs for wider s.
- fparith's k-space kernels (fx_*) against the general scalar kernels on members.
- forward: the fixed-point k-space decoder and the general decoder with zero-term skips
  against the general decoder without skips (fast=False, skips=False), on sparse random
  models (with -0.0 weights and overflow to inf in the IEEE formats) and on the circuit
  construction, in every format of test_forward and both sum modes: logits, tokens and
  attention bit for bit, and the same undefined positions.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import BENCHMARKS, needs_benchmarks
from oracles.forward import FORMATS, SUMS, make_model
from oracles.rounding import log_uniform, same_bits

from circuits import load
from circuits.families import random_circuit
from transformer_sim import FloatFormat
from transformer_sim import fparith as fa
from transformer_sim.constructions.circuit_cot import build_circuit_cot
from transformer_sim.errors import ModelUndefined
from transformer_sim.forward import Decoder, lane_params_of
from transformer_sim.model import LAYER_ARRAYS, Model

F = FloatFormat


def _fast_and_general(fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    P = np.ascontiguousarray(fmt.params, dtype=np.float64)
    return P, fa.general_params(P)


def _pairs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(v, v, indexing="ij")
    return a.ravel().copy(), b.ravel().copy()


def _binary(op: int, a: np.ndarray, b: np.ndarray, P: np.ndarray) -> np.ndarray:
    out = np.empty_like(a)
    fa.binary_array(op, a, b, P, out)
    return out


def _unary(op: int, x: np.ndarray, P: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    fa.unary_array(op, x, P, out)
    return out


def _round(x: np.ndarray, P: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    fa.round_array_scalar(x, P, out)
    return out


# --- fparith: fixed-point branch of the scalar kernels ----------------------------------
@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_fixed_point_ops_exhaustive(s):
    P, G = _fast_and_general(F.paper(0, s))
    assert fa.fixed_point_s(P) == s
    a, b = _pairs(F.paper(0, s).values())
    for op in (fa.OP_ADD, fa.OP_SUB, fa.OP_MUL):
        assert same_bits(_binary(op, a, b, P), _binary(op, a, b, G)).all()
    nz = b != 0
    assert same_bits(_binary(fa.OP_DIV, a[nz], b[nz], P), _binary(fa.OP_DIV, a[nz], b[nz], G)).all()
    v = F.paper(0, s).values()
    for op in (fa.OP_EXP, fa.OP_RELU):
        assert same_bits(_unary(op, v, P), _unary(op, v, G)).all()


def _awkward(rng: np.random.Generator, fmt: FloatFormat, n: int) -> np.ndarray:
    """Arbitrary float64s: ties and near-ties of the grid, +-(K +- 1/2) u, the clip
    region, tiny, huge, subnormal, +-0, inf and NaN."""
    u, K = fmt.min_positive, 4 ** fmt.s - 1
    k = rng.integers(-K - 2, K + 3, n).astype(np.float64)
    ties = (k + 0.5) * u
    near = np.nextafter(ties, np.where(rng.random(n) < 0.5, -np.inf, np.inf))
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-300, 1e300,
                         (K + 0.5) * u, -(K + 0.5) * u, K * u, (K + 1) * u, u / 2, -u / 2])
    return np.concatenate([ties, near, k * u, log_uniform(rng, n, -40, 40), specials])


@pytest.mark.parametrize("s", [1, 2, 3, 5, 8, 13, 20, 25])
def test_fixed_point_rounding_of_arbitrary_floats(s):
    fmt = F.paper(0, s)
    P, G = _fast_and_general(fmt)
    x = _awkward(np.random.default_rng(s), fmt, 4000)
    assert same_bits(_round(x, P), _round(x, G)).all()


@pytest.mark.parametrize("s", [5, 7, 10, 13, 18, 25])
def test_fixed_point_ops_random(s):
    fmt = F.paper(0, s)
    P, G = _fast_and_general(fmt)
    rng = np.random.default_rng(100 + s)
    K = 4 ** s - 1
    n = 20000
    # members (small and large k), then arbitrary float64 operands
    k = np.where(rng.random(n) < 0.5, rng.integers(-K, K + 1, n), rng.integers(-64, 65, n))
    a = k * fmt.min_positive
    b = rng.permutation(a)
    x, y = _awkward(rng, fmt, 2000), _awkward(rng, fmt, 2000)
    for lhs, rhs in ((a, b), (x, rng.permutation(x)), (x, y)):
        for op in (fa.OP_ADD, fa.OP_SUB, fa.OP_MUL, fa.OP_DIV):
            ok = rhs != 0 if op == fa.OP_DIV else np.ones(lhs.size, bool)
            assert same_bits(_binary(op, lhs[ok], rhs[ok], P),
                             _binary(op, lhs[ok], rhs[ok], G)).all()
        assert same_bits(_unary(fa.OP_EXP, lhs, P), _unary(fa.OP_EXP, lhs, G)).all()


def test_general_flag_leaves_other_families_alone():
    for spec in ("paper:e=1,s=2", "float16", "bfloat16", "e5m2"):
        P, G = _fast_and_general(F.parse(spec))
        assert fa.fixed_point_s(P) == 0
        v = F.parse(spec).values()
        v = np.random.default_rng(1).choice(v[np.isfinite(v)], 300)
        a, b = _pairs(v)
        assert same_bits(_binary(fa.OP_MUL, a, b, P), _binary(fa.OP_MUL, a, b, G)).all()


# --- fparith: k-space kernels ------------------------------------------------------------
def _kspace_check(s: int, ka: np.ndarray, kb: np.ndarray) -> None:
    fmt = F.paper(0, s)
    G = fa.general_params(fmt.params)
    u, K, D = fmt.min_positive, float(4 ** s - 1), 2.0 ** (s + 1)
    want = {op: _binary(op, ka * u, kb * u, G) for op in (fa.OP_ADD, fa.OP_MUL)}
    for i in range(ka.size):
        a, b = float(ka[i]), float(kb[i])
        m = fa.fx_mul(a, b, u, K)
        assert same_bits(m * u, want[fa.OP_MUL][i]), (s, a, b)
        assert same_bits(fa.fx_add(a, b, K) * u, want[fa.OP_ADD][i]), (s, a, b)
        if b != 0:
            q = fa.fx_div(a, b, D, K)
            assert same_bits(q * u, fa.div(a * u, b * u, G)), (s, a, b)


@pytest.mark.parametrize("s", [1, 2, 3])
def test_kspace_kernels_exhaustive(s):
    K = 4 ** s - 1
    ka, kb = _pairs(np.arange(-K, K + 1, dtype=np.float64))
    _kspace_check(s, ka, kb)


@pytest.mark.parametrize("s", [4, 6, 9, 13])
def test_kspace_kernels_random(s):
    rng = np.random.default_rng(s)
    K = 4 ** s - 1
    n = 3000
    ka = np.concatenate([rng.integers(-K, K + 1, n), rng.integers(-40, 41, n), [K, -K, 0]])
    kb = np.concatenate([rng.integers(-K, K + 1, n), rng.integers(-40, 41, n), [K, K, -K]])
    _kspace_check(s, ka.astype(np.float64), kb.astype(np.float64))


@pytest.mark.parametrize("s", [1, 2, 3, 4, 6])
def test_exp_table_is_exp_of_the_general_kernel(s):
    fmt = F.paper(0, s)
    K = 4 ** s - 1
    tab = fa.fx_exp_table(fmt.params)
    k = np.arange(-K, K + 1, dtype=np.float64)
    want = _unary(fa.OP_EXP, k * fmt.min_positive, fa.general_params(fmt.params))
    assert same_bits(tab * fmt.min_positive, want).all()
    assert (tab >= 0).all()


# --- the forward pass ----------------------------------------------------------------------
def _sparsify(model: Model, seed: int, density: float) -> Model:
    """Zero a random share of every array (as -0.0 where the format has it)."""
    rng = np.random.default_rng(seed)
    neg0 = model.fmt.family != "paper"

    def cut(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        drop = rng.random(a.shape) > density
        a[drop] = np.where(neg0 & (rng.random(a.shape) < 0.5), -0.0, 0.0)[drop]
        return a

    layers = tuple({n: cut(getattr(lay, n)) for n in LAYER_ARRAYS} for lay in model.layers)
    return Model(fmt=model.fmt, sum_mode=model.sum_mode, softmax=model.softmax,
                 TE=cut(model.TE), PE=cut(model.PE),
                 Wout=cut(model.Wout), bout=cut(model.bout), layers=layers)


def _trace(model: Model, tokens, **kw) -> tuple[list, str]:
    """Per position: logits bits, attention bits; or the undefined message, then stop."""
    dec = Decoder(model, **kw)
    out = []
    for tok in tokens:
        try:
            dec.push(int(tok))
        except ModelUndefined as e:
            out.append(("undefined", str(e)))
            break
        out.append((dec.logits.view(np.uint64).tolist(), dec.token,
                    dec.attention.view(np.uint64).tolist()))
    return out, dec.kernel


def _greedy(model: Model, prompt, steps: int, **kw) -> list[int]:
    """Tokens: the prompt, then greedy tokens from the given kernel."""
    dec = Decoder(model, **kw)
    seq = list(prompt)
    try:
        tok = dec.extend(seq)
        for _ in range(steps):
            seq.append(tok)
            tok = dec.push(tok)
    except ModelUndefined:
        pass
    return seq


FIXED = ["paper:e=0,s=1", "paper:e=0,s=3", "paper:e=0,s=4", "paper:e=0,s=10"]


@settings(max_examples=60)
@given(seed=st.integers(0, 10_000), fmt=st.sampled_from(FORMATS + FIXED),
       sum_mode=st.sampled_from(SUMS), density=st.sampled_from([0.3, 0.7, 1.0]),
       scale=st.sampled_from([1.0, 4.0]), qk=st.sampled_from([1.0, 4.0]),
       softmax=st.sampled_from(["paper", "stable"]))
def test_fast_kernels_equal_general_on_random_models(seed, fmt, sum_mode, density, scale, qk,
                                                     softmax):
    model = _sparsify(make_model(fmt, sum_mode, seed, N=14, qk=qk, scale=scale,
                                 softmax=softmax), seed, density)
    tokens = np.random.default_rng(seed).integers(0, model.vocab, 14)
    ref, kind = _trace(model, tokens, fast=False, skips=False)
    assert kind == "general"
    fixed = fa.fixed_point_s(model.fmt.params) > 0
    lanes = lane_params_of(model) is not None
    for kw, want_kind in (({"fast": False, "skips": True}, "general+skips"),
                          ({"fast": True, "skips": False, "lanes": False},
                           "fixed-point" if fixed else "general"),
                          ({"fast": True}, "fixed-point" if fixed else
                           "lanes" if lanes else "general+skips")):
        got, kind = _trace(model, tokens, **kw)
        assert kind == want_kind
        assert got == ref


def test_signed_zeros_survive_the_skips():
    """IEEE: products of zero weights are -0 or +0; a sum of them is -0 only if every
    term is -0 (x + -0 keeps x, -0 + +0 = +0). Force all-zero rows and all-negative-zero
    rows and check logits bit for bit, -0 included."""
    seen_neg0 = False
    for seed in range(12):
        for fmt in ("float16", "bfloat16", "e5m2", "float64"):
            for sum_mode in SUMS:
                model = _sparsify(make_model(fmt, sum_mode, seed, N=6), seed, 0.15)
                tokens = np.random.default_rng(seed).integers(0, model.vocab, 6)
                ref, _ = _trace(model, tokens, fast=False, skips=False)
                got, _ = _trace(model, tokens, fast=False, skips=True)
                assert got == ref
                for row in ref:
                    if row[0] != "undefined":
                        seen_neg0 |= any(b == 1 << 63 for b in row[0])
    assert seen_neg0  # the case this test is about did occur


CIRCUITS = [
    pytest.param("c17", lambda: load(BENCHMARKS / "iscas85" / "c17.bench"), id="c17",
                 marks=needs_benchmarks),
    pytest.param("random40", lambda: random_circuit(6, 40, basis="general", seed=3),
                 id="random40"),
    pytest.param("random90", lambda: random_circuit(9, 90, max_fanin=3, basis="general",
                                                    seed=8), id="random90")]


@pytest.mark.parametrize("name,make", CIRCUITS)
@pytest.mark.parametrize("fmt", ["paper:e=0,s=3", "paper:e=0,s=4", "paper:e=1,s=3"])
@pytest.mark.parametrize("sum_mode", SUMS)
def test_fast_kernels_equal_general_on_the_circuit_construction(name, make, fmt, sum_mode):
    circuit = make()
    cc = build_circuit_cot(circuit, fmt=fmt, sum_mode=sum_mode)
    x = np.random.default_rng(len(name)).integers(0, 2, circuit.num_inputs)
    prompt = cc.prompt(x)
    seq = _greedy(cc.model, prompt, cc.cot_steps - 1, fast=False, skips=False)
    for kw in ({"fast": True}, {"fast": False, "skips": True}):
        assert _greedy(cc.model, prompt, cc.cot_steps - 1, **kw) == seq
    # every position's logits and attention, on the common sequence
    ref, _ = _trace(cc.model, seq, fast=False, skips=False)
    got, kind = _trace(cc.model, seq, fast=True)
    assert kind == ("fixed-point" if fmt.startswith("paper:e=0") else
                    "lanes" if sum_mode == "iterative" else "general+skips")
    assert got == ref
    if kind == "lanes":
        assert _trace(cc.model, seq, fast=True, lanes=False)[0] == ref
