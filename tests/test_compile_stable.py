"""The stable softmax in the compiler (``softmax_max``): the row maximum on its own, then
whole stable-softmax models compiled by every sum construction (tc0, ac0, tree, exact)
against the independent exact-rational forward pass (tests/oracles/forward.py) on
every prompt, their depth against the n-free bound, ABC's ``cec``, the CoT chain and the
command line.

Each model's next token varies over the prompts, and on some prompt the paper's softmax
gives another token than the stable one (both asserted), so the tests see the softmax."""
from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits
from circuits.analysis import basis, depth, levels
from circuits.builder import CircuitBuilder
from circuits.io import load, save
from circuits.ir import Kind
from conftest import needs_abc, run_cli
from oracles.equivalence import abc_cec
from oracles.forward import tokens_or_undefined
from transformer_sim.compile import compile_model
from transformer_sim.compile.budget import depth_bound
from transformer_sim.compile.bundles import Bundle
from transformer_sim.compile.chain import compile_chain
from transformer_sim.compile.context import Ctx
from transformer_sim.compile.driver import input_bits
from transformer_sim.compile.softmax_max import MAX_DEPTH, STABLE_EXTRA_DEPTH, row_max
from transformer_sim.compile.verify import decode_outputs, expected, verify
from transformer_sim.floatformat import FloatFormat
from transformer_sim.npz import load as load_model
from transformer_sim.random_model import random_model

SMALL = ("paper:e=0,s=1", "paper:e=1,s=1", "paper:e=0,s=2", "paper:e=1,s=2")


# -- the row maximum alone -------------------------------------------------------------

def max_circuit(spec: str, domains: list[list[float]], fold: bool = True):
    """row_max over input bundles with the given domains; outputs: m's code bits, then
    the one-hot [m = v] per candidate v. Returns the circuit and m."""
    fmt = FloatFormat.parse(spec)
    b = CircuitBuilder(strash=fold, fold=fold)
    ctx = Ctx(fmt, b, 10 ** 7)
    ops = []
    for i, dom in enumerate(domains):
        vals = np.array(sorted(set(dom)))
        bits = b.inputs([f"x{i}_{j}" for j in range(fmt.bit_width)])
        ops.append(Bundle(tuple(bits), vals, fmt.encode(vals).astype(np.int64)))
    m = row_max(ctx, ops)
    for j, bit in enumerate(m.bits):
        b.output(f"m{j}", bit)
    for k, lits in enumerate(m._lits or []):
        b.output(f"eq{k}", lits[0])
    return b.build(), m


@st.composite
def score_domains(draw):
    spec = draw(st.sampled_from(SMALL))
    vals = FloatFormat.parse(spec).values().tolist()
    n = draw(st.integers(1, 6))
    doms = [draw(st.lists(st.sampled_from(vals), min_size=1, max_size=6, unique=True))
            for _ in range(n)]
    return spec, doms, draw(st.booleans())


@given(score_domains(), st.integers(0, 2 ** 32 - 1))
def test_row_max_is_the_exact_maximum_in_constant_depth(case, seed):
    spec, doms, fold = case
    fmt = FloatFormat.parse(spec)
    c, m = max_circuit(spec, doms, fold)
    combos = list(itertools.product(*doms))
    if len(combos) > 4000:
        rng = np.random.default_rng(seed)
        combos = [tuple(rng.choice(d) for d in doms) for _ in range(4000)]
    picks = np.array(combos, dtype=np.float64)
    codes = fmt.encode(picks).astype(np.int64)
    X = ((codes[:, :, None] >> np.arange(fmt.bit_width)) & 1).reshape(len(picks), -1)
    out = circuits.evaluate(c, X.astype(bool)).astype(np.int64)
    w = fmt.bit_width
    want = picks.max(axis=1)
    got = (out[:, :w] << np.arange(w)).sum(axis=1)
    assert np.array_equal(got, fmt.encode(want).astype(np.int64))
    if m.size > 1:  # the one-hot decoder: exactly the candidate equal to the maximum
        assert np.array_equal(out[:, w:].astype(bool), want[:, None] == m.values[None, :])
        lv = levels(c)
        assert lv[c.output_ids[w:]].max() <= MAX_DEPTH  # whatever the number of scores
    assert basis(c) in ("AC0", "fanin2")


def test_row_max_depth_is_reached_and_free_of_n():
    """Scores over the whole format: the decoder is exactly MAX_DEPTH deep at every n."""
    fmt = FloatFormat.parse("paper:e=1,s=1")
    for n in (2, 4, 8, 16):
        c, m = max_circuit(fmt.spec, [fmt.values().tolist()] * n)
        assert m.size == fmt.num_values
        assert levels(c)[c.output_ids[fmt.bit_width:]].max() == MAX_DEPTH, n


# -- whole models against the exact-rational forward pass ---------------------------------

def stable_model(fmt: str, mode: str, seed: int, vocab: int = 3, layers: int = 1,
                 heads: int = 1, max_len: int = 16):
    return random_model(vocab, layers, heads, 2, 2, max_len, fmt, mode, seed=seed,
                        check_prompts=0, softmax="stable")


def all_prompts(vocab: int, n: int) -> np.ndarray:
    return np.array(list(itertools.product(range(vocab), repeat=n)), dtype=np.int64)


def circuit_tokens(cm, prompts: np.ndarray) -> np.ndarray:
    return decode_outputs(circuits.evaluate(cm.circuit, input_bits(prompts, cm.model.vocab)),
                          cm.token_bits)


def undefined_is_constant_zero(circuit) -> bool:
    return int(circuit.kinds[circuit.output_ids[-1]]) == Kind.CONST0


def compile_case(m, n: int, it: str, **kw):
    if it in ("none", "blockwise"):
        return compile_model(m, n, exact_adder="blockwise" if it == "blockwise" else "auto",
                             budget=10 ** 7, **kw)
    return compile_model(m, n, iterative=it, budget=10 ** 7, **kw)


# (format, sum mode, construction, n, seed, vocab, layers, heads): seeds picked so that
# the stable and paper softmaxes differ on some prompt (asserted below); the construction
# of exact sums is "none" (the adder "auto" picks) or "blockwise" (that adder)
CASES = [("paper:e=0,s=2", "iterative", "tc0", 5, 2, 3, 1, 1),
         ("paper:e=0,s=2", "iterative", "tc0", 3, 4, 2, 2, 2),
         ("paper:e=1,s=1", "iterative", "ac0", 3, 3, 3, 1, 1),
         ("paper:e=1,s=1", "iterative", "tree", 4, 0, 3, 1, 1),
         ("paper:e=0,s=2", "iterative", "tree", 3, 4, 2, 2, 2),
         ("paper:e=1,s=2", "exact", "none", 3, 8, 3, 1, 1),
         ("paper:e=1,s=2", "exact", "blockwise", 3, 8, 3, 1, 1),
         ("paper:e=0,s=2", "exact", "none", 3, 4, 2, 2, 2)]


@pytest.mark.parametrize("fmt,mode,it,n,seed,vocab,layers,heads", CASES)
def test_every_prompt_agrees_with_the_oracle(fmt, mode, it, n, seed, vocab, layers, heads):
    m = stable_model(fmt, mode, seed, vocab, layers, heads)
    cm = compile_case(m, n, it)
    assert cm.iterative == it or (cm.iterative == "none" and cm.adder != "none")
    assert it != "blockwise" or cm.adder == "blockwise"
    P = all_prompts(vocab, n)
    want = tokens_or_undefined(m, P)
    paper = tokens_or_undefined(replace(m, softmax="paper"), P)
    assert len(set(want.tolist())) > 1, "the next token must vary over the prompts"
    assert (want != paper).any(), "the softmax must matter on some prompt"
    assert (want >= 0).all()  # Z_i >= [exp(0)] > 0: never undefined
    assert np.array_equal(circuit_tokens(cm, P)[:, 0], want)
    v = verify(cm)  # and against the simulator's forward pass (its stable kernels)
    assert v.exhaustive and v.agrees and v.checked == len(P), v.mismatches
    assert undefined_is_constant_zero(cm.circuit)
    f = cm.figures()
    assert f["depth"] <= cm.depth_bound and f["size"] <= cm.estimate
    if it == "ac0":
        assert f["basis"] in ("AC0", "fanin2")  # the maximum adds no threshold gate
    # the same weights with the paper's softmax: its own circuit, its own tokens
    cp = compile_case(replace(m, softmax="paper"), n, it)
    assert np.array_equal(circuit_tokens(cp, P)[:, 0], paper)


@pytest.mark.parametrize("softmax", ["paper", "stable"])
def test_oracle_is_the_simulator(softmax):
    """The exact-rational oracle's order is the forward pass's (both softmaxes, both sums)."""
    varies = 0
    for fmt, mode, _, n, seed, vocab, layers, heads in CASES:
        m = replace(stable_model(fmt, mode, seed, vocab, layers, heads), softmax=softmax)
        P = all_prompts(vocab, n)
        want = expected(m, P)[:, 0]
        varies += len(set(want.tolist())) > 1
        assert np.array_equal(tokens_or_undefined(m, P), want)
    assert varies >= 3, varies


def test_chain_agrees_with_the_oracle_cot():
    m = stable_model("paper:e=1,s=1", "iterative", 1)
    cc = compile_chain(m, 2, 3, iterative="tree")
    P = all_prompts(3, 2)
    toks = P.copy()
    for _ in range(3):
        toks = np.concatenate([toks, tokens_or_undefined(m, toks)[:, None]], axis=1)
    assert len({tuple(r) for r in toks[:, 2:].tolist()}) > 1
    assert np.array_equal(circuit_tokens(cc, P), toks[:, 2:])


# -- depth ------------------------------------------------------------------------------

def test_bounds_are_free_of_n_and_count_the_maximum():
    for fmt, mode, it in (("paper:e=0,s=2", "iterative", "tc0"),
                          ("paper:e=0,s=1", "iterative", "ac0"),
                          ("paper:e=1,s=2", "exact", "auto")):
        m = stable_model(fmt, mode, 0, layers=2, max_len=128)
        bounds = {depth_bound(m, n, mode, iterative=it) for n in (4, 16, 64, 128)}
        assert len(bounds) == 1, (fmt, it, bounds)
        paper = depth_bound(replace(m, softmax="paper"), 4, mode, iterative=it)
        assert bounds.pop() == paper + 2 * STABLE_EXTRA_DEPTH
    m = stable_model("paper:e=0,s=2", "iterative", 0, max_len=128)
    assert depth_bound(m, 128, "iterative", iterative="tree") > \
        depth_bound(m, 4, "iterative", iterative="tree")


@pytest.mark.parametrize("fmt,mode,it,ns", [
    ("paper:e=0,s=2", "iterative", "tc0", (4, 8, 16, 32)),
    ("paper:e=0,s=1", "iterative", "ac0", (4, 8, 16)),
    ("paper:e=1,s=2", "exact", "auto", (4, 8, 16, 32))])
def test_depth_stays_under_the_bound_on_an_n_ladder(fmt, mode, it, ns):
    m = stable_model(fmt, mode, 1, vocab=2, max_len=64)
    bound = depth_bound(m, ns[-1], mode, iterative=it)
    depths = {}
    for n in ns:
        cm = compile_model(m, n, iterative=it, budget=10 ** 7)
        assert cm.depth_bound == bound
        depths[n] = cm.figures()["depth"]
        assert undefined_is_constant_zero(cm.circuit)
    assert min(depths.values()) > 0, depths  # the circuits are not constant
    assert max(depths.values()) <= bound, depths


# -- ABC -------------------------------------------------------------------------------

@needs_abc
@pytest.mark.parametrize("fmt,n,seed", [("paper:e=0,s=1", 4, 1), ("paper:e=1,s=1", 3, 3)])
def test_ac0_equals_tree_by_abc(fmt, n, seed, tmp_path):
    """The AND/OR/NOT circuits of two constructions, with the maximum in both."""
    m = stable_model(fmt, "iterative", seed)
    a = compile_model(m, n, iterative="ac0", budget=10 ** 7)
    t = compile_model(m, n, iterative="tree", budget=10 ** 7)
    assert basis(a.circuit) in ("AC0", "fanin2") and basis(t.circuit) in ("AC0", "fanin2")
    assert len(set(circuit_tokens(t, all_prompts(3, n))[:, 0].tolist())) > 1
    save(a.circuit, tmp_path / "ac0.aig")
    save(t.circuit, tmp_path / "tree.aig")
    assert "Networks are equivalent" in abc_cec(tmp_path / "ac0.aig", tmp_path / "tree.aig")


@needs_abc
def test_folding_preserves_function_by_abc(tmp_path):
    """The raw build (no hashing, no folding) equals the optimised one; a stable and a
    paper circuit that differ on some prompt are told apart (the check can fail)."""
    m = stable_model("paper:e=1,s=1", "iterative", 0)
    raw = compile_model(m, 4, iterative="tree", optimise=False)
    opt = compile_model(m, 4, iterative="tree")
    assert raw.circuit.size > opt.circuit.size
    save(raw.circuit, tmp_path / "raw.aig")
    save(opt.circuit, tmp_path / "opt.aig")
    assert "Networks are equivalent" in abc_cec(tmp_path / "raw.aig", tmp_path / "opt.aig")
    paper = compile_model(replace(m, softmax="paper"), 4, iterative="tree")
    save(paper.circuit, tmp_path / "paper.aig")
    assert "NOT EQUIVALENT" in abc_cec(tmp_path / "opt.aig", tmp_path / "paper.aig")


# -- the command line ----------------------------------------------------------------------

def test_cli_compiles_a_random_stable_model(tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, _, err = run_cli(capsys, "model", "random", "--vocab", "3", "--layers", "1",
                           "--heads", "1", "--d-model", "2", "--d-ff", "2", "--max-len", "8",
                           "--format", "paper:e=0,s=2", "--seed", "2", "--softmax", "stable",
                           "-o", model)
    assert code == 0, err
    for it, want in (("tc0", "TC0"), ("tree", "AC0")):
        code, out, err = run_cli(capsys, "compile", model, "--seq-len", "4", "--iterative",
                                 it, "-o", tmp_path / f"{it}.json", "--verify", "--json")
        assert code == 0, err
        figs = json.loads(out)
        assert figs["verify"]["agrees"] and figs["verify"]["exhaustive"]
        assert figs["softmax"] == "stable" and figs["iterative"] == it
        assert figs["basis"] in (want, "fanin2") and figs["depth"] <= figs["depth_bound"]
        c = load(tmp_path / f"{it}.json")
        assert depth(c) == figs["depth"]
        P = all_prompts(3, 4)
        want_toks = tokens_or_undefined(load_model(model), P)
        got = decode_outputs(circuits.evaluate(c, input_bits(P, 3)), 2)[:, 0]
        assert len(set(want_toks.tolist())) > 1 and np.array_equal(got, want_toks)

